#include "surge/origin/calendar.h"

#include <gtest/gtest.h>

namespace surge::origin {
namespace {

TEST(CalendarTest, DatesRoundTrip) {
  auto day = parseDate("2026-12-01");
  ASSERT_TRUE(day.has_value());
  EXPECT_EQ(formatDate(*day), "2026-12-01");
  EXPECT_EQ(formatDate(*day + 31), "2027-01-01");
  EXPECT_FALSE(parseDate("1970-01-01").has_value()) << "epoch";
  EXPECT_EQ(formatDate(*parseDate("2028-02-29")), "2028-02-29");
}

TEST(CalendarTest, RefusesNonDates) {
  for (const char* bad : {"2026-02-29", "2026-13-01", "2026-00-10", "2026-1-01", "26-12-01",
                          "2026/12/01", "2026-12-01 ", "", "1999-12-31", "2026-04-31"}) {
    EXPECT_FALSE(parseDate(bad).has_value()) << bad;
  }
}

TEST(CalendarTest, Times) {
  EXPECT_EQ(*parseTime("09:30"), 570);
  EXPECT_EQ(formatTime(570), "09:30");
  EXPECT_EQ(formatTime(0), "00:00");
  for (const char* bad : {"24:00", "9:30", "09:60", "09-30", "0930", ""}) {
    EXPECT_FALSE(parseTime(bad).has_value()) << bad;
  }
}

TEST(CalendarTest, Timestamps) {
  EXPECT_EQ(formatTimestamp(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatTimestamp(1795737600000 + 9 * 3600000 + 5 * 60000 + 7000 + 42),
            "2026-11-27T09:05:07.042Z");
  EXPECT_EQ(formatTimestamp(1795823999999), "2026-11-27T23:59:59.999Z");
  EXPECT_EQ(formatTimestamp(1795824000000), "2026-11-28T00:00:00.000Z");
  EXPECT_EQ(formatTimestamp(951782400000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(formatTimestamp(-1), "1969-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace surge::origin
