// The JSON bodies of the availability snapshots (shapes in DESIGN.md, "Public contract"). Built by
// hand: the publisher rebuilds thousands of them per second at peak.
#pragma once

#include <cstdint>
#include <string>

#include "surge/origin/catalog_index.h"

namespace surge::origin {

// {"version","generated_at","regions":[{"code","name","parent","clinics"}]}
std::string buildRegionsSnapshot(const CatalogIndex& index, uint64_t version, int64_t now_ms);

// {"version","generated_at","region","dates":[..],"clinics":[{"id","name","address","lat","lng",
//  "remaining":[per date]}]}. A 시/도 lists the clinics of all its 시/군/구.
std::string buildRegionSnapshot(const CatalogIndex& index, const Region& region, uint64_t version,
                                int64_t now_ms);

// {"version","generated_at","id","name","address","region","dates":[{"date","slots":[{"time",
//  "capacity","remaining"}]}]}
std::string buildClinicSnapshot(const CatalogIndex& index, const Clinic& clinic, uint64_t version,
                                int64_t now_ms);

}  // namespace surge::origin
