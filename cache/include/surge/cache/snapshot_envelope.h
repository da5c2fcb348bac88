// SnapshotEnvelope: the signed binary wrapper every snapshot travels in (origin -> memcached ->
// edge). memcached has no authentication, so an edge serves a body only after its HMAC verifies.
//
// Wire format, format version 1. Integers are big-endian. Offsets in bytes.
//
//   off  size  field
//     0     4  magic "SRGS"
//     4     1  format version (1)
//     5     1  body encoding: 0 = identity, 1 = zstd (one frame, declared size, window <= 8 MiB)
//     6     1  K = key id length (1..32)
//     7     1  C = content type length (1..127)
//     8     1  E = ETag length (0..127; the opaque tag, without quotes)
//     9     3  reserved, zero
//    12     8  snapshot version (monotonic per snapshot name)
//    20     8  created, Unix time in milliseconds (signed)
//    28     4  max-age in seconds
//    32     4  B = body length as stored (after encoding)
//    36     4  R = body length after decoding (equals B for identity)
//    40     K  key id (ASCII)
//           C  content type (ASCII)
//           E  ETag (ASCII)
//           B  body
//   end    32  HMAC-SHA256 under the key named by key id, over every byte before it
//
// The envelope is exactly 40 + K + C + E + B + 32 bytes: trailing bytes are an error. Opening
// checks framing, then the MAC, and decompresses nothing before the MAC verifies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "surge/base/result.h"
#include "surge/cache/keyring.h"

namespace surge::cache {

inline constexpr char kEnvelopeMagic[4] = {'S', 'R', 'G', 'S'};
inline constexpr uint8_t kEnvelopeFormatVersion = 1;
inline constexpr size_t kEnvelopeHeaderSize = 40;
inline constexpr size_t kMaxContentTypeLength = 127;
inline constexpr size_t kMaxEtagLength = 127;

enum class BodyEncoding : uint8_t { kIdentity = 0, kZstd = 1 };

enum class EnvelopeError {
  kTruncated,           // shorter than its own framing says
  kBadMagic,            // not an envelope
  kUnsupportedVersion,  // a format version this build does not know
  kMalformed,           // reserved bits, unknown encoding, bad lengths, trailing bytes
  kOversized,           // over the configured size limits
  kUnknownKeyId,        // signed with a key this node does not list
  kBadMac,              // tampered with, or signed with another secret under the same id
  kDecompression,       // MAC verified but the body does not decode (a bug at the signer)
};

// A short, stable reason (also used as a metric label).
const char* envelopeErrorName(EnvelopeError error);

struct EnvelopeLimits {
  size_t max_envelope_bytes = 8u << 20;  // stored size
  size_t max_body_bytes = 8u << 20;      // decoded body size
};

// The content type of a tombstone: a snapshot its owner removed (`surgectl snapshot rm`). Edges
// answer 404 for it and drop what they held. It is sealed like any snapshot, so only a holder of
// the key can remove one; an envelope deleted from memcached by anyone else is only a miss, and
// edges keep serving the last good copy while it is within stale-if-error.
inline constexpr std::string_view kRemovedContentType = "application/vnd.surge.removed";

// What a snapshot says about itself besides its body.
struct SnapshotFields {
  uint64_t version = 0;
  int64_t created_unix_ms = 0;
  uint32_t max_age_s = 0;
  std::string content_type = "application/json";
  std::string etag;  // empty: "v<version>"
};

// An opened envelope. Views point into the bytes that were opened: the caller keeps them alive.
struct SnapshotEnvelope {
  std::string_view key_id;
  uint64_t version = 0;
  int64_t created_unix_ms = 0;
  uint32_t max_age_s = 0;
  std::string_view content_type;
  std::string_view etag;
  BodyEncoding encoding = BodyEncoding::kIdentity;
  std::string_view body;  // as stored (zstd bytes when encoding == kZstd)
  uint32_t decoded_size = 0;
};

// Compresses `body` (when `encoding` is zstd, at `zstd_level`) and signs with the keyring's newest
// key. Fails on an empty keyring, fields out of range or a body over the limits.
base::Result<std::string, std::string> sealSnapshot(const Keyring& keyring,
                                                    const SnapshotFields& fields,
                                                    std::string_view body, BodyEncoding encoding,
                                                    const EnvelopeLimits& limits = {},
                                                    int zstd_level = 6);

// Checks framing and the MAC. Never trusts a length field before checking it against the bytes.
base::Result<SnapshotEnvelope, EnvelopeError> openSnapshot(const Keyring& keyring,
                                                           std::string_view bytes,
                                                           const EnvelopeLimits& limits = {});

// The decoded body of an opened envelope (a copy for identity, a decompression for zstd).
base::Result<std::string, EnvelopeError> decodeSnapshotBody(const SnapshotEnvelope& envelope);

}  // namespace surge::cache
