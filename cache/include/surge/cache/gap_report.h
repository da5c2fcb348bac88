// A gap report: snapshot names an edge asked memcached for, did not find, and knows to exist
// (catalog_names.h) - lost with a memcached node, evicted, or not written yet. The edge sends them
// to origin (POST /internal/v1/snapshot-gaps through its origin pool), which republishes them at
// once instead of at its next full publish.
//
// Signed with the snapshot keyring both already share (HMAC-SHA256 over a label, the timestamp
// and the body): a report makes origin rebuild snapshots, so nobody without the key may ask.
// A replayed report only asks again for what was already asked; origin limits how often one
// name is republished, so a ±300 s window is enough.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "surge/cache/keyring.h"

namespace surge::cache {

inline constexpr std::string_view kGapReportPath = "/internal/v1/snapshot-gaps";
inline constexpr size_t kMaxGapReportNames = 100000;

struct SignedGapReport {
  std::string body;       // one snapshot name per line
  std::string key_id;     // X-Surge-Key
  std::string timestamp;  // X-Surge-Timestamp, Unix seconds
  std::string signature;  // X-Surge-Signature, hex
};

SignedGapReport signGapReport(const KeyringKey& key, const std::vector<std::string>& names,
                              int64_t now_s);

// "" when the report verifies; else why not (unknown_key, stale_timestamp, bad_signature).
std::string verifyGapReport(const Keyring& keys, std::string_view key_id,
                            std::string_view timestamp, std::string_view signature,
                            std::string_view body, int64_t now_s);

// The names of a verified body; lines that are not snapshot names are skipped.
std::vector<std::string> gapNames(std::string_view body);

}  // namespace surge::cache
