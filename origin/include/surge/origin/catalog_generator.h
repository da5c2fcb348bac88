// A deterministic generator of realistic catalogs: the shipped sample and larger ones for
// benchmarks. The same options give the same catalog, byte for byte, on every machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "surge/origin/catalog.h"

namespace surge::origin {

struct CatalogGeneratorOptions {
  uint64_t seed = 20261126;
  size_t clinics = 14000;  // spread over the 17 시/도 and their 시/군/구 by population
  std::string first_date = "2026-12-01";
  int days = 14;
  std::string first_time = "09:00";  // half-hour slots from first_time ...
  std::string last_time = "17:30";   // ... to last_time inclusive
  int min_capacity = 5;
  int max_capacity = 30;
};

// The first thing wrong with `options` (a bad date or time, an empty range, capacities outside
// 1..10000, more than kMaxCatalogSlots slots), or nullopt when generateCatalog can use them.
std::optional<std::string> checkGeneratorOptions(const CatalogGeneratorOptions& options);

// Prereq: checkGeneratorOptions(options) is nullopt; otherwise the catalog is empty.
CatalogData generateCatalog(const CatalogGeneratorOptions& options);

// The catalog in the CSV format of origin/CATALOG.md, which parseCatalog reads back exactly. A run
// of one clinic's slots that forms a regular grid with one capacity becomes one `slots` row.
std::string writeCatalogCsv(const CatalogData& catalog);

// '#' comment lines naming the generator and its options, to head a generated CSV file, so that
// `surgectl catalog generate` can recreate a shipped file byte for byte.
std::string generatedCatalogComment(const CatalogGeneratorOptions& options);

// The 17 시/도 and their 시/군/구 with administrative codes (the real ones).
const std::vector<Region>& koreanRegions();

// What the generator needs beyond a Region, one per koreanRegions() row in the same order: how many
// people live there (to spread clinics) and where its 시/도 lies (to place them). Coordinates in
// millionths of a degree so that generated catalogs do not depend on floating-point arithmetic.
struct RegionFacts {
  int32_t population_thousands = 0;  // about 2023; for a 시/도, the sum over its 시/군/구
  int32_t center_lat = 0;            // the 시/도's rough center ...
  int32_t center_lng = 0;
  int32_t spread_lat = 0;  // ... and how far from it, per axis, its clinics may lie
  int32_t spread_lng = 0;
};
const std::vector<RegionFacts>& koreanRegionFacts();

}  // namespace surge::origin
