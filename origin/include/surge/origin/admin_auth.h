// AdminAuth: every admin request is signed by an operator key.
//
//   X-Surge-Key:        key id (from the admin keyring)
//   X-Surge-Timestamp:  Unix seconds; refused outside +-300 s of the server clock
//   X-Surge-Nonce:      16-64 characters of [A-Za-z0-9_-], never accepted twice
//   X-Surge-Signature:  hex HMAC-SHA256(secret, METHOD \n PATH?QUERY \n TIMESTAMP \n NONCE \n
//                                              hex SHA-256(body))
//
// A refusal names its reason (401 body); secrets and signatures are never logged.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "surge/cache/keyring.h"

namespace surge::origin {

struct SignedHeaders {
  std::string key_id;
  std::string timestamp;
  std::string nonce;
  std::string signature;
};

// What a client (surgectl) sends.
SignedHeaders signAdminRequest(const cache::KeyringKey& key, std::string_view method,
                               std::string_view path_and_query, std::string_view body,
                               int64_t unix_seconds, std::string nonce);

class AdminAuth {
 public:
  static constexpr int64_t kWindowSeconds = 300;
  static constexpr size_t kMaxRememberedNonces = 1'000'000;

  explicit AdminAuth(cache::Keyring keyring) : keyring_(std::move(keyring)) {}

  // "" when accepted, else the reason: missing_signature, unknown_key, bad_timestamp,
  // stale_timestamp, bad_nonce, bad_signature, replayed_nonce, too_many_requests.
  // Thread-safe: remembers accepted nonces until they fall out of the window.
  std::string verify(std::string_view method, std::string_view path_and_query,
                     std::string_view body, const SignedHeaders& headers, int64_t now_seconds);

 private:
  cache::Keyring keyring_;
  std::mutex mutex_;
  std::unordered_map<std::string, int64_t> nonces_;  // nonce -> when it may be forgotten
  int64_t last_prune_ = 0;
};

}  // namespace surge::origin
