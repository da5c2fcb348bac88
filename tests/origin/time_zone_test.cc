#include "surge/origin/time_zone.h"

#include <gtest/gtest.h>

#include "surge/origin/calendar.h"

namespace surge::origin {
namespace {

TimeZone zone(const char* name) {
  auto z = TimeZone::load(name);
  EXPECT_TRUE(z.ok()) << (z.ok() ? "" : z.error());
  return z.ok() ? z.value() : TimeZone();
}

// Expected offsets from Python's zoneinfo over the same tzdata.
TEST(TimeZoneTest, SeoulIsNineHoursAheadAndWasTenInTheSummerOf1988) {
  TimeZone seoul = zone("Asia/Seoul");
  EXPECT_EQ(seoul.name(), "Asia/Seoul");
  EXPECT_EQ(seoul.offsetAt(1796472000), 9 * 3600);  // 2026-12-05
  EXPECT_EQ(seoul.offsetAt(581169600), 10 * 3600);  // 1988-06-01, KDT
  EXPECT_EQ(seoul.offsetAt(4102444800), 9 * 3600);  // 2100: the footer rule, "KST-9"
}

TEST(TimeZoneTest, DaylightSavingFollowsTheTableAndThenTheFooterRule) {
  TimeZone berlin = zone("Europe/Berlin");
  EXPECT_EQ(berlin.offsetAt(1774745940), 3600);  // 2026-03-29 00:59 UTC
  EXPECT_EQ(berlin.offsetAt(1774746000), 7200);  // 01:00 UTC: summer time
  // 2050 is past the file's last transition: "CET-1CEST,M3.5.0,M10.5.0/3".
  EXPECT_EQ(berlin.offsetAt(2531955540), 3600);
  EXPECT_EQ(berlin.offsetAt(2531955600), 7200);
  EXPECT_EQ(berlin.offsetAt(2550704340), 7200);
  EXPECT_EQ(berlin.offsetAt(2550704400), 3600);
  // The southern hemisphere: summer time spans the new year.
  TimeZone sydney = zone("Australia/Sydney");
  EXPECT_EQ(sydney.offsetAt(2525860800), 11 * 3600);  // 2050-01-15
  EXPECT_EQ(sydney.offsetAt(2541499200), 10 * 3600);  // 2050-07-15
  EXPECT_EQ(sydney.offsetAt(2532527940), 11 * 3600);  // 2050-04-02 15:59 UTC
  EXPECT_EQ(sydney.offsetAt(2532528000), 10 * 3600);
}

TEST(TimeZoneTest, LocalTimeCrossesMidnightAtLocalMidnight) {
  TimeZone seoul = zone("Asia/Seoul");
  // 2026-12-05 14:59:59.999 UTC is 23:59:59 in Seoul; a millisecond later it is the 6th.
  int64_t before =
      (static_cast<int64_t>(*parseDate("2026-12-05")) * 86400 + 14 * 3600 + 3599) * 1000 + 999;
  LocalTime a = seoul.localTime(before);
  EXPECT_EQ(formatDate(a.day), "2026-12-05");
  EXPECT_EQ(a.second, 86399);
  EXPECT_EQ(a.minute(), 23 * 60 + 59);
  LocalTime b = seoul.localTime(before + 1);
  EXPECT_EQ(formatDate(b.day), "2026-12-06");
  EXPECT_EQ(b.second, 0);
  // Before 1970 too.
  EXPECT_EQ(formatDate(TimeZone().localTime(-1).day), "1969-12-31");
}

TEST(TimeZoneTest, UtcAndFixedOffsetsNeedNoFile) {
  auto utc = TimeZone::load("UTC", "/nonexistent");
  ASSERT_TRUE(utc.ok());
  EXPECT_EQ(utc->offsetAt(0), 0);
  auto plus = TimeZone::load("+09:00", "/nonexistent");
  ASSERT_TRUE(plus.ok());
  EXPECT_EQ(plus->offsetAt(123), 9 * 3600);
  auto minus = TimeZone::load("-03:30", "/nonexistent");
  ASSERT_TRUE(minus.ok());
  EXPECT_EQ(minus->offsetAt(123), -(3 * 3600 + 1800));
}

TEST(TimeZoneTest, BadNamesAreRefusedWithTheReason) {
  for (const char* name :
       {"", "../../etc/passwd", "/etc/localtime", "Asia/Nowhere", "+9", "+15:00", "Asia Seoul"}) {
    auto z = TimeZone::load(name);
    EXPECT_FALSE(z.ok()) << name;
    if (!z.ok()) {
      EXPECT_NE(z.error().find("time zone"), std::string::npos) << z.error();
    }
  }
  EXPECT_FALSE(TimeZone::fromTzif("x", "TZif2 not really").ok());
  EXPECT_FALSE(TimeZone::fromTzif("x", "").ok());
}

TEST(TimeZoneTest, WeekdaysAndCivilDays) {
  EXPECT_EQ(weekday(*parseDate("2026-12-05")), 6);  // a Saturday
  EXPECT_EQ(weekday(0), 4);                         // 1970-01-01, a Thursday
  EXPECT_EQ(civilDay(2026, 12, 5), *parseDate("2026-12-05"));
  int y = 0, m = 0, d = 0;
  civilDate(*parseDate("2024-02-29"), y, m, d);
  EXPECT_EQ(y * 10000 + m * 100 + d, 20240229);
}

}  // namespace
}  // namespace surge::origin
