#include "surge/origin/admin_auth.h"

#include <cstdlib>

#include "surge/cache/hmac.h"

namespace surge::origin {
namespace {

std::string canonical(std::string_view method, std::string_view path, std::string_view timestamp,
                      std::string_view nonce, std::string_view body) {
  cache::Sha256Digest body_digest = cache::sha256({body});
  std::string out;
  out.reserve(method.size() + path.size() + timestamp.size() + nonce.size() + 70);
  out.append(method).append("\n").append(path).append("\n").append(timestamp).append("\n");
  out.append(nonce).append("\n");
  out += cache::encodeHex(
      std::string_view(reinterpret_cast<const char*>(body_digest.data()), body_digest.size()));
  return out;
}

bool validNonce(std::string_view nonce) {
  if (nonce.size() < 16 || nonce.size() > 64) return false;
  for (char c : nonce) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

SignedHeaders signAdminRequest(const cache::KeyringKey& key, std::string_view method,
                               std::string_view path_and_query, std::string_view body,
                               int64_t unix_seconds, std::string nonce) {
  SignedHeaders h;
  h.key_id = key.id;
  h.timestamp = std::to_string(unix_seconds);
  h.nonce = std::move(nonce);
  auto mac = cache::hmacSha256(key.secret,
                               {canonical(method, path_and_query, h.timestamp, h.nonce, body)});
  h.signature =
      cache::encodeHex(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return h;
}

std::string AdminAuth::verify(std::string_view method, std::string_view path_and_query,
                              std::string_view body, const SignedHeaders& h, int64_t now) {
  if (h.key_id.empty() || h.timestamp.empty() || h.nonce.empty() || h.signature.empty()) {
    return "missing_signature";
  }
  const cache::KeyringKey* key = keyring_.find(h.key_id);
  if (key == nullptr) return "unknown_key";
  char* end = nullptr;
  long long ts = std::strtoll(h.timestamp.c_str(), &end, 10);
  if (*end != '\0' || h.timestamp.size() > 12) return "bad_timestamp";
  if (ts < now - kWindowSeconds || ts > now + kWindowSeconds) return "stale_timestamp";
  if (!validNonce(h.nonce)) return "bad_nonce";
  auto expected = cache::hmacSha256(
      key->secret, {canonical(method, path_and_query, h.timestamp, h.nonce, body)});
  auto given = cache::decodeHex(h.signature);
  if (!given || !cache::digestEquals(expected, given.value())) return "bad_signature";

  std::lock_guard lock(mutex_);
  if (now - last_prune_ >= 10) {
    for (auto it = nonces_.begin(); it != nonces_.end();) {
      it = it->second < now ? nonces_.erase(it) : std::next(it);
    }
    last_prune_ = now;
  }
  if (nonces_.count(h.nonce)) return "replayed_nonce";
  // A nonce must be remembered for as long as its timestamp is acceptable.
  if (nonces_.size() >= kMaxRememberedNonces) return "too_many_requests";
  nonces_.emplace(h.nonce, ts + kWindowSeconds + 1);
  return "";
}

}  // namespace surge::origin
