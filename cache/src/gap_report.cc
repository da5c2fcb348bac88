#include "surge/cache/gap_report.h"

#include <charconv>

#include "surge/cache/hmac.h"

namespace surge::cache {
namespace {

constexpr std::string_view kLabel = "surge-snapshot-gaps\n";
constexpr int64_t kWindowS = 300;

std::string macHex(const KeyringKey& key, std::string_view timestamp, std::string_view body) {
  HmacSha256Digest mac = hmacSha256(key.secret, {kLabel, timestamp, "\n", body});
  return encodeHex(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

bool plausibleName(std::string_view name) {
  if (name.empty() || name.size() > 80) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '.' ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

SignedGapReport signGapReport(const KeyringKey& key, const std::vector<std::string>& names,
                              int64_t now_s) {
  SignedGapReport r;
  for (const std::string& name : names) {
    r.body += name;
    r.body += '\n';
  }
  r.key_id = key.id;
  r.timestamp = std::to_string(now_s);
  r.signature = macHex(key, r.timestamp, r.body);
  return r;
}

std::string verifyGapReport(const Keyring& keys, std::string_view key_id,
                            std::string_view timestamp, std::string_view signature,
                            std::string_view body, int64_t now_s) {
  const KeyringKey* key = keys.find(key_id);
  if (key == nullptr) return "unknown_key";
  int64_t at = 0;
  auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), at);
  if (ec != std::errc() || end != timestamp.data() + timestamp.size() || at < now_s - kWindowS ||
      at > now_s + kWindowS) {
    return "stale_timestamp";
  }
  auto given = decodeHex(signature);
  if (!given) return "bad_signature";
  HmacSha256Digest mac = hmacSha256(key->secret, {kLabel, timestamp, "\n", body});
  return digestEquals(mac, given.value()) ? "" : "bad_signature";
}

std::vector<std::string> gapNames(std::string_view body) {
  std::vector<std::string> names;
  while (!body.empty() && names.size() < kMaxGapReportNames) {
    size_t end = body.find('\n');
    std::string_view line = body.substr(0, end);
    if (plausibleName(line)) names.emplace_back(line);
    if (end == std::string_view::npos) break;
    body.remove_prefix(end + 1);
  }
  return names;
}

}  // namespace surge::cache
