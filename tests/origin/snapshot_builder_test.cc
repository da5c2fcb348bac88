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

}  // namespace
}  // namespace surge::origin
