// TimeZone: the catalog's local time. A slot's date and time are local to its clinics (calendar.h
// keeps them as days and minutes without a zone); whether a slot has passed, and when a new day
// begins, depends on the zone the catalog names (Asia/Seoul by default).
//
// Zones come from the system's tz database (Debian's tzdata, RFC 8536 TZif files under
// /usr/share/zoneinfo), read once when a catalog is loaded; instants past the file's last
// transition follow its POSIX TZ footer, so a zone with daylight saving keeps it in any year.
// "UTC" and fixed offsets ("+09:00", "-03:30") need no file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "surge/base/result.h"

namespace surge::origin {

inline constexpr std::string_view kDefaultTimeZone = "Asia/Seoul";

// A moment as the catalog's clocks show it.
struct LocalTime {
  int32_t day = 0;     // days since 1970-01-01, as Slot::day
  int32_t second = 0;  // seconds since local midnight, 0..86399
  // The minute of the day that is under way: a slot starting at or before it has begun.
  int16_t minute() const { return static_cast<int16_t>(second / 60); }
};

class TimeZone {
 public:
  // "Asia/Seoul" (a tz database name), "UTC", or a fixed offset "+HH:MM" / "-HH:MM".
  static base::Result<TimeZone, std::string> load(
      std::string_view name, const std::string& zoneinfo_dir = "/usr/share/zoneinfo");
  // From the bytes of a TZif file (tests, and load()).
  static base::Result<TimeZone, std::string> fromTzif(std::string_view name, std::string_view data);

  TimeZone();  // UTC

  const std::string& name() const { return name_; }
  // Seconds east of UTC at the instant `unix_s`.
  int32_t offsetAt(int64_t unix_s) const;
  LocalTime localTime(int64_t unix_ms) const;

  // A POSIX TZ rule ("KST-9", "CET-1CEST,M3.5.0,M10.5.0/3"): used after the last transition.
  struct Rule {
    int32_t std_offset = 0;  // seconds east of UTC
    bool has_dst = false;
    int32_t dst_offset = 0;
    // Mm.w.d/time: month 1-12, week 1-5 (5: last), weekday 0-6 (Sunday 0), local seconds.
    int start_month = 0, start_week = 0, start_weekday = 0;
    int32_t start_time = 7200;
    int end_month = 0, end_week = 0, end_weekday = 0;
    int32_t end_time = 7200;
  };

 private:
  int32_t ruleOffsetAt(int64_t unix_s) const;

  std::string name_;
  std::vector<int64_t> transitions_;  // Unix seconds, ascending
  std::vector<int32_t> offsets_;      // in effect from transitions_[i]
  int32_t initial_offset_ = 0;        // before the first transition
  bool has_rule_ = false;
  Rule rule_;
};

}  // namespace surge::origin
