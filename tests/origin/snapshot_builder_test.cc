// The snapshot bodies, byte for byte: edges and browsers parse them, and the builder is
// hand-written for speed, so the exact text is pinned here.
#include "surge/origin/snapshot_builder.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "surge/origin/calendar.h"

namespace surge::origin {
namespace {

CatalogIndex smallIndex() {
  std::vector<Region> regions = {{"11", "서울특별시", ""}, {"11110", "종로구", "11"}};
  std::vector<Clinic> clinics = {{7, "종로 \"1\" 보건소", "서울 종로구\t1", "11110", 37.5, 127.0}};
  int32_t d1 = *parseDate("2026-12-01"), d2 = *parseDate("2026-12-02");
  std::vector<StoredSlot> slots = {
      {1, {7, d1, 9 * 60, 5}, 2},         {2, {7, d1, 9 * 60 + 30, 10000}, 1},
      {3, {7, d2, 23 * 60 + 59, 12}, 12}, {4, {7, d2, 0, 30}, 0},
      {5, {7, d2, 10 * 60, 99}, 9},
  };
  return CatalogIndex(std::move(regions), std::move(clinics), std::move(slots));
}

TEST(SnapshotBuilderTest, ClinicSnapshotText) {
  CatalogIndex index = smallIndex();
  std::string body = buildClinicSnapshot(index, *index.clinic(7), 42, 1796083200123);
  EXPECT_EQ(
      body,
      "{\"version\":42,\"generated_at\":\"2026-12-01T00:00:00.123Z\",\"id\":7,"
      "\"name\":\"종로 \\\"1\\\" 보건소\",\"address\":\"서울 종로구\\t1\",\"region\":\"11110\","
      "\"dates\":[{\"date\":\"2026-12-01\",\"slots\":["
      "{\"time\":\"09:00\",\"capacity\":5,\"remaining\":3},"
      "{\"time\":\"09:30\",\"capacity\":10000,\"remaining\":9999}]},"
      "{\"date\":\"2026-12-02\",\"slots\":["
      "{\"time\":\"00:00\",\"capacity\":30,\"remaining\":30},"
      "{\"time\":\"10:00\",\"capacity\":99,\"remaining\":90},"
      "{\"time\":\"23:59\",\"capacity\":12,\"remaining\":0}]}]}");
  EXPECT_TRUE(nlohmann::json::accept(body));
}

TEST(SnapshotBuilderTest, ClinicWithoutSlotsHasNoDates) {
  std::vector<Region> regions = {{"11", "서울특별시", ""}, {"11110", "종로구", "11"}};
  std::vector<Clinic> clinics = {{8, "a", "b", "11110", 0, 0}};
  CatalogIndex index(std::move(regions), std::move(clinics), {});
  std::string body = buildClinicSnapshot(index, *index.clinic(8), 1, 0);
  EXPECT_EQ(body,
            "{\"version\":1,\"generated_at\":\"1970-01-01T00:00:00.000Z\",\"id\":8,\"name\":\"a\","
            "\"address\":\"b\",\"region\":\"11110\",\"dates\":[]}");
}

TEST(SnapshotBuilderTest, RegionSnapshotsCountRemainingPerDate) {
  CatalogIndex index = smallIndex();
  auto region =
      nlohmann::json::parse(buildRegionSnapshot(index, *index.region("11"), 5, 1796083200123));
  EXPECT_EQ(region["dates"], nlohmann::json::parse(R"(["2026-12-01","2026-12-02"])"));
  ASSERT_EQ(region["clinics"].size(), 1u);
  EXPECT_EQ(region["clinics"][0]["remaining"], nlohmann::json::parse("[10002,120]"));
  auto list = nlohmann::json::parse(buildRegionsSnapshot(index, 6, 0));
  EXPECT_EQ(list["regions"][1]["parent"], "11");
  EXPECT_EQ(list["regions"][1]["clinics"], 1);
}

// Time moves on: what has begun is left out, and so is a date with nothing left to begin.
TEST(SnapshotBuilderTest, SlotsThatHaveBegunAreLeftOut) {
  CatalogIndex index = smallIndex();  // zone UTC
  const int32_t d1 = *parseDate("2026-12-01"), d2 = d1 + 1;
  auto clinicAt = [&](int32_t day, int minute) {
    return nlohmann::json::parse(
        snapshotWithHeader(1, 0, clinicSnapshotTail(index, *index.clinic(7), {day, minute * 60})));
  };
  auto regionAt = [&](int32_t day, int minute) {
    return nlohmann::json::parse(snapshotWithHeader(
        1, 0, regionSnapshotTail(index, *index.region("11"), {day, minute * 60})));
  };
  // 09:00 sharp: the 09:00 slot has begun, 09:30 has not.
  auto at9 = clinicAt(d1, 9 * 60);
  ASSERT_EQ(at9["dates"].size(), 2u);
  EXPECT_EQ(at9["dates"][0]["date"], "2026-12-01");
  ASSERT_EQ(at9["dates"][0]["slots"].size(), 1u);
  EXPECT_EQ(at9["dates"][0]["slots"][0]["time"], "09:30");
  // Today's seats left count only what is still to begin: 9999 of the 09:30 slot, not 10002.
  auto region9 = regionAt(d1, 9 * 60 + 15);
  EXPECT_EQ(region9["dates"], nlohmann::json::parse(R"(["2026-12-01","2026-12-02"])"));
  EXPECT_EQ(region9["clinics"][0]["remaining"], nlohmann::json::parse("[9999,120]"));
  // 09:30: nothing is left today, so today is no longer listed anywhere.
  auto at930 = clinicAt(d1, 9 * 60 + 30);
  ASSERT_EQ(at930["dates"].size(), 1u);
  EXPECT_EQ(at930["dates"][0]["date"], "2026-12-02");
  auto region930 = regionAt(d1, 9 * 60 + 30);
  EXPECT_EQ(region930["dates"], nlohmann::json::parse(R"(["2026-12-02"])"));
  EXPECT_EQ(region930["clinics"][0]["remaining"], nlohmann::json::parse("[120]"));
  // The next day: yesterday is gone, and so are today's times before now.
  auto next = clinicAt(d2, 10 * 60);
  ASSERT_EQ(next["dates"].size(), 1u);
  EXPECT_EQ(next["dates"][0]["slots"].size(), 1u);  // 23:59 only
  EXPECT_EQ(regionAt(d2, 10 * 60)["clinics"][0]["remaining"], nlohmann::json::parse("[0]"));
  // After the last slot there is nothing to book at all.
  EXPECT_EQ(clinicAt(d2, 23 * 60 + 59)["dates"].size(), 0u);
  EXPECT_EQ(regionAt(d2 + 5, 0)["dates"].size(), 0u);
  EXPECT_EQ(regionAt(d2 + 5, 0)["clinics"][0]["remaining"].size(), 0u);
}

// The whole snapshot is built as of `now` in the catalog's zone, not UTC.
TEST(SnapshotBuilderTest, NowIsTheCatalogsLocalTime) {
  std::vector<Region> regions = {{"11", "서울특별시", ""}, {"11110", "종로구", "11"}};
  std::vector<Clinic> clinics = {{7, "a", "b", "11110", 0, 0}};
  const int32_t d1 = *parseDate("2026-12-01");
  std::vector<StoredSlot> slots = {{1, {7, d1, 9 * 60, 5}, 0}, {2, {7, d1 + 1, 9 * 60, 5}, 0}};
  CatalogIndex seoul(std::move(regions), std::move(clinics), std::move(slots),
                     TimeZone::load("Asia/Seoul").value());
  // 2026-12-01T01:00Z is 10:00 in Seoul: the 1st's 09:00 has begun there.
  int64_t utc_1am = (static_cast<int64_t>(d1) * 86400 + 3600) * 1000;
  auto body = nlohmann::json::parse(buildClinicSnapshot(seoul, *seoul.clinic(7), 3, utc_1am));
  ASSERT_EQ(body["dates"].size(), 1u);
  EXPECT_EQ(body["dates"][0]["date"], "2026-12-02");
  EXPECT_EQ(body["generated_at"], "2026-12-01T01:00:00.000Z");
}

}  // namespace
}  // namespace surge::origin
