// Keyring: the HMAC keys a node signs and verifies with, by key id.
//
// Rotation: an operator appends a new key; every node verifies with any key listed and signs with
// the newest (the last one added). Old keys are removed once nothing signed with them is live.
//
// File format (one key per line, '#' starts a comment, blank lines ignored):
//     <key-id> <secret as hex, at least 32 bytes>
// A key id is 1-32 characters of [A-Za-z0-9._-]. The last line is the newest key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "surge/base/result.h"

namespace surge::cache {

inline constexpr size_t kMinKeySecretBytes = 32;
inline constexpr size_t kMaxKeyIdLength = 32;

struct KeyringKey {
  std::string id;
  std::string secret;  // raw bytes
};

class Keyring {
 public:
  // Parses the file format above. Errors name `source` and the line: "keys.conf:3: ...".
  static base::Result<Keyring, std::string> parse(std::string_view text, std::string_view source);
  static base::Result<Keyring, std::string> load(const std::string& path);

  // Adds a key as the newest. Fails on a bad id, a short secret or a duplicate id.
  base::Result<base::Done, std::string> add(std::string id, std::string secret);

  // The key new signatures use. Prereq: !empty().
  const KeyringKey& signingKey() const { return keys_.back(); }
  // nullptr when `id` is not listed.
  const KeyringKey* find(std::string_view id) const;
  bool empty() const { return keys_.empty(); }
  const std::vector<KeyringKey>& keys() const { return keys_; }

 private:
  std::vector<KeyringKey> keys_;  // oldest first
};

bool isValidKeyId(std::string_view id);
// Lower-case or upper-case hex to bytes; fails on odd length or a non-hex character.
base::Result<std::string, std::string> decodeHex(std::string_view hex);
std::string encodeHex(std::string_view bytes);

}  // namespace surge::cache
