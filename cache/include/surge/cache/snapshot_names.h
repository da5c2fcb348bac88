// Snapshot names and where they live in memcached. Shared by the publisher (origin) and the
// refresher (edge), so both always agree.
//
//   regions            the 시/도 and 시/군/구 list              GET /api/v1/regions
//   region/{code}      clinics of a region with remaining seats  GET /api/v1/regions/{code}/clinics
//   clinic/{id}        one clinic's dates and slots               GET /api/v1/clinics/{id}
//   named/{name}       operator-pushed (notices, FAQ)             GET /api/v1/snapshots/{name}
//   catalog            every name above that exists (catalog_names.h; edges only)
#pragma once

#include <string>
#include <string_view>

namespace surge::cache {

inline constexpr std::string_view kSnapshotKeyPrefix = "surge:snap:";

inline std::string snapshotKey(std::string_view snapshot_name) {
  std::string key(kSnapshotKeyPrefix);
  key += snapshot_name;
  return key;
}

// Operator snapshot names: 1-64 characters of [a-z0-9._-], not starting with '.'.
inline bool isValidNamedSnapshot(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '.') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace surge::cache
