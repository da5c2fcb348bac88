// CatalogNames: every snapshot name origin publishes (the regions list, each region and clinic,
// each operator snapshot), itself published as the snapshot "catalog".
//
// It is what lets an edge tell the two kinds of miss apart. A name memcached does not have is
// either unknown (not in the catalog: 404 at once, without asking memcached) or a gap (a known
// snapshot lost with a memcached node, evicted, or not written yet: 503 + Retry-After, and origin
// is told so it republishes it). A name is unknown only when origin says so, here or with a
// tombstone. Origin writes "catalog" last in each full publish, so an edge holding it knows that
// everything it lists was published at least once.
//
// Body: {"version":..,"generated_at":..,"regions":["11","11110",..],
//        "clinics":[[first,last],..],"named":["notice",..]} (clinic ids as inclusive ranges).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace surge::cache {

inline constexpr std::string_view kCatalogSnapshot = "catalog";

class CatalogNames {
 public:
  // Origin: the body after the snapshot header, ,"regions":[..],"clinics":[..],"named":[..]},
  // from every name (any order, duplicates allowed).
  static std::string tail(std::vector<std::string> regions, std::vector<int64_t> clinic_ids,
                          std::vector<std::string> named);

  // Edge: the decoded body of a "catalog" snapshot; nullopt when malformed.
  static std::optional<CatalogNames> parse(std::string_view body);

  // Is `snapshot_name` ("regions", "region/11", "clinic/7", "named/notice", "catalog") one
  // origin publishes?
  bool contains(std::string_view snapshot_name) const;
  size_t clinicCount() const;

 private:
  std::vector<std::string> regions_;                  // sorted
  std::vector<std::pair<int64_t, int64_t>> clinics_;  // inclusive id ranges, sorted
  std::vector<std::string> named_;                    // sorted
};

}  // namespace surge::cache
