// Catalog: what can be booked. Regions (시/도 -> 시/군/구), clinics, and slots (clinic, date, time,
// capacity). The catalog is the static part of the truth; how many seats of a slot are taken lives
// in the booking store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace surge::origin {

struct Region {
  std::string code;    // 2 digits for a 시/도 ("11"), 5 digits for a 시/군/구 ("11110")
  std::string name;    // "서울특별시", "종로구"
  std::string parent;  // "" for a 시/도, the 시/도 code for a 시/군/구
};

struct Clinic {
  int64_t id = 0;  // 1 .. 2^53 (exact in JSON numbers)
  std::string name;
  std::string address;
  std::string region;  // a 시/군/구 code
  double lat = 0;
  double lng = 0;
};

// Compact on purpose: the sample alone has 3.5 million slots.
struct Slot {
  int64_t clinic_id = 0;
  int32_t day = 0;       // days since 1970-01-01 (calendar.h converts to/from "YYYY-MM-DD")
  int16_t minute = 0;    // minutes since midnight (calendar.h converts to/from "HH:MM")
  int32_t capacity = 0;  // 1 .. 10000
};

// A catalog as read from a file or generated: plain rows, checked for consistency by
// validateCatalog (every clinic's region exists and is a 시/군/구, every slot's clinic exists, no
// duplicates).
struct CatalogData {
  // The zone the slots' dates and times are in (time_zone.h): a tz database name such as
  // "Asia/Seoul", "UTC" or "+09:00". Empty: as before (Asia/Seoul for a new store).
  std::string time_zone;
  std::vector<Region> regions;
  std::vector<Clinic> clinics;
  std::vector<Slot> slots;
};

}  // namespace surge::origin
