// Small catalogs for origin tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "surge/origin/calendar.h"
#include "surge/origin/catalog.h"
#include "surge/origin/time_zone.h"

namespace surge::origin::test {

// The days the test catalogs have: tomorrow and the day after in the catalogs' zone (Asia/Seoul),
// so that no slot of them has begun whenever the tests run (origin refuses slots in the past).
inline int32_t today() {
  return TimeZone::load(kDefaultTimeZone).value().localTime(unixNowMs()).day;
}
inline const std::string kFirstDate = formatDate(today() + 1);
inline const std::string kSecondDate = formatDate(today() + 2);

// Two 시/도, three 시/군/구, `clinics` clinics each with `days` days x `times` half-hour slots
// from 09:00, all of capacity `capacity`. Clinic ids start at 100001.
inline CatalogData smallCatalog(int clinics = 4, int days = 2, int times = 4, int capacity = 5) {
  CatalogData c;
  c.regions = {{"11", "서울특별시", ""},
               {"11110", "종로구", "11"},
               {"11140", "중구", "11"},
               {"26", "부산광역시", ""},
               {"26110", "중구", "26"}};
  const char* leaves[] = {"11110", "11140", "26110"};
  int32_t first_day = *parseDate(kFirstDate);
  for (int i = 0; i < clinics; ++i) {
    int64_t id = 100001 + i;
    c.clinics.push_back(Clinic{id, "테스트의원 " + std::to_string(i),
                               "서울 종로구 " + std::to_string(i), leaves[i % 3], 37.5 + i * 0.001,
                               126.9 + i * 0.001});
    for (int d = 0; d < days; ++d) {
      for (int t = 0; t < times; ++t) {
        c.slots.push_back(Slot{id, first_day + d, static_cast<int16_t>(9 * 60 + 30 * t), capacity});
      }
    }
  }
  return c;
}

// A store file of its own for the running test (`prefix`-PID-TEST.db), and its removal with the
// WAL and shared-memory files SQLite keeps beside it.
inline std::filesystem::path testStorePath(const std::string& prefix) {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  for (char& c : name)
    if (c == '/') c = '_';  // parameterized tests: Name/param
  return std::filesystem::temp_directory_path() /
         (prefix + "-" + std::to_string(::getpid()) + "-" + name + ".db");
}
inline void removeStoreFiles(const std::filesystem::path& path) {
  for (const char* suffix : {"", "-wal", "-shm", ".lock"})
    std::filesystem::remove(path.string() + suffix);
}

// Field-by-field equality with a message that names the first difference.
inline ::testing::AssertionResult sameCatalog(const CatalogData& a, const CatalogData& b) {
  if (a.regions.size() != b.regions.size() || a.clinics.size() != b.clinics.size() ||
      a.slots.size() != b.slots.size()) {
    return ::testing::AssertionFailure()
           << "sizes differ: " << a.regions.size() << "/" << a.clinics.size() << "/"
           << a.slots.size() << " vs " << b.regions.size() << "/" << b.clinics.size() << "/"
           << b.slots.size();
  }
  for (size_t i = 0; i < a.regions.size(); ++i) {
    const Region &x = a.regions[i], &y = b.regions[i];
    if (x.code != y.code || x.name != y.name || x.parent != y.parent) {
      return ::testing::AssertionFailure() << "region " << i << ": " << x.code << " vs " << y.code;
    }
  }
  for (size_t i = 0; i < a.clinics.size(); ++i) {
    const Clinic &x = a.clinics[i], &y = b.clinics[i];
    if (x.id != y.id || x.name != y.name || x.address != y.address || x.region != y.region ||
        x.lat != y.lat || x.lng != y.lng) {
      return ::testing::AssertionFailure() << "clinic " << i << ": " << x.id << " vs " << y.id;
    }
  }
  for (size_t i = 0; i < a.slots.size(); ++i) {
    const Slot &x = a.slots[i], &y = b.slots[i];
    if (x.clinic_id != y.clinic_id || x.day != y.day || x.minute != y.minute ||
        x.capacity != y.capacity) {
      return ::testing::AssertionFailure() << "slot " << i << " differs";
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace surge::origin::test
