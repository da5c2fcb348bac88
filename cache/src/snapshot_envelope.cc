#include "surge/cache/snapshot_envelope.h"

#include <cstring>

#include "surge/cache/hmac.h"
#include "surge/cache/zstd_codec.h"

namespace surge::cache {

using base::fail;
using base::Result;
namespace {

void putBigEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t getBigEndian(std::string_view in, size_t offset, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i)
    value = value << 8 | static_cast<uint8_t>(in[offset + i]);
  return value;
}

bool isPrintableAscii(std::string_view s) {
  for (char c : s) {
    if (c < 0x21 || c > 0x7e) {
      if (c != ' ') return false;
    }
  }
  return true;
}

}  // namespace

const char* envelopeErrorName(EnvelopeError error) {
  switch (error) {
    case EnvelopeError::kTruncated:
      return "truncated";
    case EnvelopeError::kBadMagic:
      return "bad_magic";
    case EnvelopeError::kUnsupportedVersion:
      return "unsupported_version";
    case EnvelopeError::kMalformed:
      return "malformed";
    case EnvelopeError::kOversized:
      return "oversized";
    case EnvelopeError::kUnknownKeyId:
      return "unknown_key_id";
    case EnvelopeError::kBadMac:
      return "bad_mac";
    case EnvelopeError::kDecompression:
      return "decompression";
  }
  return "unknown";
}

Result<std::string, std::string> sealSnapshot(const Keyring& keyring, const SnapshotFields& fields,
                                              std::string_view body, BodyEncoding encoding,
                                              const EnvelopeLimits& limits, int zstd_level) {
  if (keyring.empty()) return fail(std::string("cannot sign: the keyring is empty"));
  const KeyringKey& key = keyring.signingKey();
  std::string etag = fields.etag.empty() ? "v" + std::to_string(fields.version) : fields.etag;
  if (fields.content_type.empty() || fields.content_type.size() > kMaxContentTypeLength ||
      !isPrintableAscii(fields.content_type)) {
    return fail(std::string("content type must be 1-127 printable ASCII characters"));
  }
  if (etag.size() > kMaxEtagLength || !isPrintableAscii(etag) ||
      etag.find('"') != std::string::npos || etag.find(' ') != std::string::npos) {
    return fail(std::string("ETag must be at most 127 visible ASCII characters without quotes"));
  }
  if (body.size() > limits.max_body_bytes || body.size() > UINT32_MAX) {
    return fail("body of " + std::to_string(body.size()) + " bytes is over the limit of " +
                std::to_string(limits.max_body_bytes));
  }

  std::string compressed;
  std::string_view stored = body;
  if (encoding == BodyEncoding::kZstd) {
    auto z = zstdCompress(body, zstd_level);
    if (!z) return fail(z.error());
    compressed = std::move(z.value());
    stored = compressed;
  }

  std::string out;
  out.reserve(kEnvelopeHeaderSize + key.id.size() + fields.content_type.size() + etag.size() +
              stored.size() + kHmacSha256Size);
  out.append(kEnvelopeMagic, sizeof kEnvelopeMagic);
  out.push_back(static_cast<char>(kEnvelopeFormatVersion));
  out.push_back(static_cast<char>(encoding));
  out.push_back(static_cast<char>(key.id.size()));
  out.push_back(static_cast<char>(fields.content_type.size()));
  out.push_back(static_cast<char>(etag.size()));
  out.append(3, '\0');
  putBigEndian(out, fields.version, 8);
  putBigEndian(out, static_cast<uint64_t>(fields.created_unix_ms), 8);
  putBigEndian(out, fields.max_age_s, 4);
  putBigEndian(out, stored.size(), 4);
  putBigEndian(out, body.size(), 4);
  out += key.id;
  out += fields.content_type;
  out += etag;
  out += stored;
  HmacSha256Digest mac = hmacSha256(key.secret, {out});
  out.append(reinterpret_cast<const char*>(mac.data()), mac.size());
  if (out.size() > limits.max_envelope_bytes) {
    return fail("sealed snapshot of " + std::to_string(out.size()) +
                " bytes is over the envelope limit of " +
                std::to_string(limits.max_envelope_bytes));
  }
  return out;
}

Result<SnapshotEnvelope, EnvelopeError> openSnapshot(const Keyring& keyring, std::string_view bytes,
                                                     const EnvelopeLimits& limits) {
  // Magic first, so that a foreign value is named as such even when it is short.
  if (bytes.size() < sizeof kEnvelopeMagic) {
    return fail(std::memcmp(bytes.data(), kEnvelopeMagic, bytes.size()) == 0
                    ? EnvelopeError::kTruncated
                    : EnvelopeError::kBadMagic);
  }
  if (std::memcmp(bytes.data(), kEnvelopeMagic, sizeof kEnvelopeMagic) != 0) {
    return fail(EnvelopeError::kBadMagic);
  }
  if (bytes.size() < kEnvelopeHeaderSize + kHmacSha256Size) return fail(EnvelopeError::kTruncated);
  if (static_cast<uint8_t>(bytes[4]) != kEnvelopeFormatVersion) {
    return fail(EnvelopeError::kUnsupportedVersion);
  }
  if (bytes.size() > limits.max_envelope_bytes) return fail(EnvelopeError::kOversized);

  uint8_t encoding = static_cast<uint8_t>(bytes[5]);
  size_t key_len = static_cast<uint8_t>(bytes[6]);
  size_t type_len = static_cast<uint8_t>(bytes[7]);
  size_t etag_len = static_cast<uint8_t>(bytes[8]);
  if (bytes[9] != 0 || bytes[10] != 0 || bytes[11] != 0) return fail(EnvelopeError::kMalformed);
  if (encoding > static_cast<uint8_t>(BodyEncoding::kZstd)) return fail(EnvelopeError::kMalformed);
  if (key_len == 0 || key_len > kMaxKeyIdLength || type_len == 0 ||
      type_len > kMaxContentTypeLength || etag_len > kMaxEtagLength) {
    return fail(EnvelopeError::kMalformed);
  }

  SnapshotEnvelope env;
  env.version = getBigEndian(bytes, 12, 8);
  env.created_unix_ms = static_cast<int64_t>(getBigEndian(bytes, 20, 8));
  env.max_age_s = static_cast<uint32_t>(getBigEndian(bytes, 28, 4));
  uint64_t body_len = getBigEndian(bytes, 32, 4);
  uint64_t decoded_len = getBigEndian(bytes, 36, 4);
  env.encoding = static_cast<BodyEncoding>(encoding);
  env.decoded_size = static_cast<uint32_t>(decoded_len);
  if (decoded_len > limits.max_body_bytes) return fail(EnvelopeError::kOversized);
  if (env.encoding == BodyEncoding::kIdentity && decoded_len != body_len) {
    return fail(EnvelopeError::kMalformed);
  }

  // All lengths are below 2^32 and the sum is computed in 64 bits: it cannot wrap.
  uint64_t expected =
      kEnvelopeHeaderSize + key_len + type_len + etag_len + body_len + kHmacSha256Size;
  if (bytes.size() < expected) return fail(EnvelopeError::kTruncated);
  if (bytes.size() > expected) return fail(EnvelopeError::kMalformed);

  size_t offset = kEnvelopeHeaderSize;
  env.key_id = bytes.substr(offset, key_len);
  offset += key_len;
  env.content_type = bytes.substr(offset, type_len);
  offset += type_len;
  env.etag = bytes.substr(offset, etag_len);
  offset += etag_len;
  env.body = bytes.substr(offset, body_len);
  offset += body_len;

  const KeyringKey* key = keyring.find(env.key_id);
  if (key == nullptr) return fail(EnvelopeError::kUnknownKeyId);
  HmacSha256Digest mac = hmacSha256(key->secret, {bytes.substr(0, offset)});
  if (!digestEquals(mac, bytes.substr(offset))) return fail(EnvelopeError::kBadMac);

  // Signed, but still checked: a signer bug must not put a header-splitting byte on the wire.
  if (!isPrintableAscii(env.content_type) || !isPrintableAscii(env.etag) ||
      env.etag.find_first_of("\" ") != std::string_view::npos) {
    return fail(EnvelopeError::kMalformed);
  }
  return env;
}

Result<std::string, EnvelopeError> decodeSnapshotBody(const SnapshotEnvelope& envelope) {
  if (envelope.encoding == BodyEncoding::kIdentity) return std::string(envelope.body);
  auto raw = zstdDecompress(envelope.body, envelope.decoded_size);
  if (!raw) return fail(EnvelopeError::kDecompression);
  return std::move(raw.value());
}

}  // namespace surge::cache
