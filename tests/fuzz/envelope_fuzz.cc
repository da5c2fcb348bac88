// libFuzzer target for the snapshot envelope decoder.
//
// Input byte 0 chooses the mode: even -> the rest is opened as it is (framing and MAC checks);
// odd -> the rest is re-signed first, so the fuzzer also reaches what lies behind the MAC (field
// checks and zstd decoding of a body that an attacker cannot actually sign).
#include <cstddef>
#include <cstdint>
#include <string>

#include "surge/cache/hmac.h"
#include "surge/cache/snapshot_envelope.h"

namespace {

const surge::cache::Keyring& fuzzKeyring() {
  static const surge::cache::Keyring ring = [] {
    surge::cache::Keyring r;
    (void)r.add("k1", std::string(32, 'a'));
    (void)r.add("k2", std::string(32, 'b'));
    return r;
  }();
  return ring;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  bool resign = data[0] & 1;
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (resign && bytes.size() >= surge::cache::kHmacSha256Size + surge::cache::kEnvelopeHeaderSize) {
    // Sign with the key the input names when it is one of ours, else with k1.
    size_t key_len = static_cast<uint8_t>(bytes[6]);
    std::string key_id = bytes.substr(surge::cache::kEnvelopeHeaderSize,
                                      std::min(key_len, bytes.size() - 72));
    const surge::cache::KeyringKey* key = fuzzKeyring().find(key_id);
    if (key == nullptr) key = &fuzzKeyring().keys().front();
    std::string signed_part = bytes.substr(0, bytes.size() - surge::cache::kHmacSha256Size);
    auto mac = surge::cache::hmacSha256(key->secret, {signed_part});
    bytes = signed_part + std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
  }
  surge::cache::EnvelopeLimits limits;
  limits.max_body_bytes = 1u << 20;
  auto opened = surge::cache::openSnapshot(fuzzKeyring(), bytes, limits);
  if (!opened.ok()) return 0;
  auto body = surge::cache::decodeSnapshotBody(*opened);
  if (body.ok() && body->size() != opened->decoded_size) __builtin_trap();
  return 0;
}
