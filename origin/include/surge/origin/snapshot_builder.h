// The JSON bodies of the availability snapshots (shapes in DESIGN.md, "Public contract"). Built by
// hand: the publisher rebuilds thousands of them per second at peak.
//
// A snapshot is a header ({"version":N,"generated_at":"..."}) and a tail (the rest). The
// publisher compares tails to tell whether a snapshot changed, so that its version (and ETag)
// moves only when its content does; a tail depends on nothing but the catalog, the seats taken
// and the local time `now` in the catalog's zone.
//
// Time moves on: a slot that has begun at `now` (CatalogIndex::hasBegun) is left out, and so is
// a date with no slot left to begin: a region's dates start today (or tomorrow, once today's last
// slot has begun) and today's seats left count the slots still to come.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "surge/origin/catalog_index.h"

namespace surge::origin {

// ,"regions":[{"code","name","parent","clinics"}]}
std::string regionsSnapshotTail(const CatalogIndex& index);

// ,"region","dates":[..],"clinics":[{"id","name","address","lat","lng","remaining":[per date]}]}
// A 시/도 lists the clinics of all its 시/군/구.
std::string regionSnapshotTail(const CatalogIndex& index, const Region& region, LocalTime now);

// ,"id","name","address","region","dates":[{"date","slots":[{"time","capacity","remaining"}]}]}
std::string clinicSnapshotTail(const CatalogIndex& index, const Clinic& clinic, LocalTime now);

// {"version":N,"generated_at":"RFC 3339"` + tail.
std::string snapshotWithHeader(uint64_t version, int64_t generated_ms, std::string_view tail);

// Whole snapshots as of `now_ms` (in the index's zone), with `now_ms` as generated_at.
std::string buildRegionsSnapshot(const CatalogIndex& index, uint64_t version, int64_t now_ms);
std::string buildRegionSnapshot(const CatalogIndex& index, const Region& region, uint64_t version,
                                int64_t now_ms);
std::string buildClinicSnapshot(const CatalogIndex& index, const Clinic& clinic, uint64_t version,
                                int64_t now_ms);

}  // namespace surge::origin
