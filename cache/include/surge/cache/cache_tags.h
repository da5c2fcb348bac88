// The tags a CDN purges snapshots by, shared by the edge (which puts them on answers) and origin
// (which purges them when a snapshot changes), so both always agree.
//
//   snapshot        tags on its answers                          purged when
//   clinic/7        snap.clinic.7  clinic.7  region.11110         its version moves
//   region/11110    snap.region.11110  region.11110               its version moves
//   regions         snap.regions
//   named/notice    snap.named.notice
//
// One booking purges exactly what it changed: the snap.* tags of the snapshots that got a new
// version. clinic.* and region.* are for operators (`surgectl purge region.11110`: everything of
// a region). Tags are 1-128 characters of [A-Za-z0-9._-], which every provider takes (Akamai
// refuses ':' and '/' and allows 128 characters; Fastly and Cloudflare allow 1,024).
#pragma once

#include <string>
#include <string_view>

namespace surge::cache {

inline constexpr size_t kMaxCacheTagLength = 128;

inline bool isValidCacheTag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxCacheTagLength) return false;
  for (char c : tag) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// "clinic/7" -> "snap.clinic.7" (every '/' a '.').
inline std::string snapshotTag(std::string_view snapshot_name) {
  std::string tag = "snap.";
  for (char c : snapshot_name)
    tag += c == '/' ? '.' : c;
  return tag;
}

inline std::string clinicTag(std::string_view clinic_id) {
  return "clinic." + std::string(clinic_id);
}

inline std::string regionTag(std::string_view region_code) {
  return "region." + std::string(region_code);
}

}  // namespace surge::cache
