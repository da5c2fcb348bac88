#include "surge/cache/snapshot_envelope.h"

#include <gtest/gtest.h>

#include "surge/cache/hmac.h"

namespace surge::cache {
namespace {

Keyring ringWith(std::initializer_list<std::pair<std::string, char>> keys) {
  Keyring ring;
  for (const auto& [id, fill] : keys)
    EXPECT_TRUE(ring.add(id, std::string(32, fill)).ok());
  return ring;
}

SnapshotFields fields(uint64_t version) {
  SnapshotFields f;
  f.version = version;
  f.created_unix_ms = 1'790'000'000'123;
  f.max_age_s = 5;
  f.content_type = "application/json";
  return f;
}

std::string sampleBody() {
  std::string body = R"({"version":7,"regions":[)";
  for (int i = 0; i < 200; ++i)
    body += R"({"code":")" + std::to_string(11000 + i) + R"("},)";
  body += "{}]}";
  return body;
}

std::string seal(const Keyring& ring, std::string_view body, BodyEncoding encoding,
                 uint64_t version = 7) {
  auto sealed = sealSnapshot(ring, fields(version), body, encoding);
  EXPECT_TRUE(sealed.ok()) << (sealed.ok() ? "" : sealed.error());
  return sealed.ok() ? sealed.value() : std::string();
}

// Re-signs bytes[0, size-32) with `secret` so that a test can alter a field and still pass the MAC.
std::string resign(std::string bytes, const std::string& secret) {
  bytes.resize(bytes.size() - kHmacSha256Size);
  HmacSha256Digest mac = hmacSha256(secret, {bytes});
  bytes.append(reinterpret_cast<const char*>(mac.data()), mac.size());
  return bytes;
}

TEST(SnapshotEnvelopeTest, RoundTripsZstdBody) {
  Keyring ring = ringWith({{"k1", 'a'}});
  std::string body = sampleBody();
  std::string bytes = seal(ring, body, BodyEncoding::kZstd);
  auto opened = openSnapshot(ring, bytes);
  ASSERT_TRUE(opened.ok()) << envelopeErrorName(opened.error());
  EXPECT_EQ(opened->key_id, "k1");
  EXPECT_EQ(opened->version, 7u);
  EXPECT_EQ(opened->created_unix_ms, 1'790'000'000'123);
  EXPECT_EQ(opened->max_age_s, 5u);
  EXPECT_EQ(opened->content_type, "application/json");
  EXPECT_EQ(opened->etag, "v7");
  EXPECT_EQ(opened->encoding, BodyEncoding::kZstd);
  EXPECT_LT(opened->body.size(), body.size());
  EXPECT_EQ(opened->decoded_size, body.size());
  auto decoded = decodeSnapshotBody(*opened);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded.value(), body);
}

TEST(SnapshotEnvelopeTest, RoundTripsIdentityAndEmptyBodies) {
  Keyring ring = ringWith({{"k1", 'a'}});
  for (std::string body : {std::string(), std::string("hello"), sampleBody()}) {
    for (BodyEncoding enc : {BodyEncoding::kIdentity, BodyEncoding::kZstd}) {
      std::string bytes = seal(ring, body, enc);
      auto opened = openSnapshot(ring, bytes);
      ASSERT_TRUE(opened.ok()) << envelopeErrorName(opened.error());
      auto decoded = decodeSnapshotBody(*opened);
      ASSERT_TRUE(decoded.ok());
      EXPECT_EQ(decoded.value(), body);
    }
  }
}

TEST(SnapshotEnvelopeTest, KeepsExplicitEtagAndContentType) {
  Keyring ring = ringWith({{"k1", 'a'}});
  SnapshotFields f = fields(3);
  f.etag = "notice-3-abc";
  f.content_type = "text/plain; charset=utf-8";
  auto sealed = sealSnapshot(ring, f, "hi", BodyEncoding::kIdentity);
  ASSERT_TRUE(sealed.ok());
  auto opened = openSnapshot(ring, sealed.value());
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->etag, "notice-3-abc");
  EXPECT_EQ(opened->content_type, "text/plain; charset=utf-8");
}

TEST(SnapshotEnvelopeTest, ZstdFrameDeclaresSizeAndSmallWindow) {
  // Browsers decode `Content-Encoding: zstd` only with windows up to 8 MiB.
  Keyring ring = ringWith({{"k1", 'a'}});
  std::string body(3u << 20, 'x');
  for (size_t i = 0; i < body.size(); i += 7)
    body[i] = static_cast<char>('a' + i % 23);
  EnvelopeLimits limits;
  std::string bytes = seal(ring, body, BodyEncoding::kZstd);
  auto opened = openSnapshot(ring, bytes, limits);
  ASSERT_TRUE(opened.ok());
  // Frame header byte 4 onward: the decompressor in decodeSnapshotBody refuses windows over 8 MiB
  // and frames without a content size, so a successful decode proves both.
  auto decoded = decodeSnapshotBody(*opened);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->size(), body.size());
}

TEST(SnapshotEnvelopeTest, EveryTruncationIsRejected) {
  Keyring ring = ringWith({{"k1", 'a'}});
  std::string bytes = seal(ring, sampleBody(), BodyEncoding::kZstd);
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto opened = openSnapshot(ring, std::string_view(bytes).substr(0, len));
    ASSERT_FALSE(opened.ok()) << "prefix of " << len << " bytes accepted";
    EXPECT_EQ(opened.error(), EnvelopeError::kTruncated) << "at length " << len;
  }
}

TEST(SnapshotEnvelopeTest, EveryBitFlipIsRejected) {
  Keyring ring = ringWith({{"k1", 'a'}});
  std::string bytes = seal(ring, "{\"clinic\":42}", BodyEncoding::kZstd);
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string tampered = bytes;
      tampered[i] = static_cast<char>(tampered[i] ^ (1 << bit));
      EXPECT_FALSE(openSnapshot(ring, tampered).ok()) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(SnapshotEnvelopeTest, TamperedBodyFailsTheMac) {
  Keyring ring = ringWith({{"k1", 'a'}});
  std::string bytes = seal(ring, "{\"remaining\":5}", BodyEncoding::kIdentity);
  size_t pos = bytes.find("5}");
  ASSERT_NE(pos, std::string::npos);
  bytes[pos] = '9';
  auto opened = openSnapshot(ring, bytes);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error(), EnvelopeError::kBadMac);
}

TEST(SnapshotEnvelopeTest, NamesEachFramingFailure) {
  Keyring ring = ringWith({{"k1", 'a'}});
  const std::string secret(32, 'a');
  std::string good = seal(ring, "body", BodyEncoding::kIdentity);

  auto expect = [&](const std::string& bytes, EnvelopeError error, const char* what) {
    auto opened = openSnapshot(ring, bytes);
    ASSERT_FALSE(opened.ok()) << what;
    EXPECT_EQ(opened.error(), error) << what << ": got " << envelopeErrorName(opened.error());
  };

  std::string bad = good;
  bad[0] = 'X';
  expect(bad, EnvelopeError::kBadMagic, "magic");
  expect("GET / HTTP/1.1\r\n\r\n", EnvelopeError::kBadMagic, "foreign value");
  expect("", EnvelopeError::kTruncated, "empty");

  bad = good;
  bad[4] = 2;
  expect(resign(bad, secret), EnvelopeError::kUnsupportedVersion, "format version");

  bad = good;
  bad[5] = 9;
  expect(resign(bad, secret), EnvelopeError::kMalformed, "unknown encoding");

  bad = good;
  bad[10] = 1;
  expect(resign(bad, secret), EnvelopeError::kMalformed, "reserved byte");

  bad = good;
  bad[6] = 0;
  expect(resign(bad, secret), EnvelopeError::kMalformed, "zero key id length");

  bad = good;
  bad[39] = static_cast<char>(bad[39] + 1);  // decoded size != stored size for identity
  expect(resign(bad, secret), EnvelopeError::kMalformed, "identity size mismatch");

  bad = good;
  bad.insert(bad.size() - kHmacSha256Size, "x");
  expect(resign(bad, secret), EnvelopeError::kMalformed, "trailing byte");

  bad = good;
  bad[34] = static_cast<char>(bad[34] + 1);  // stored and decoded length 256 bytes beyond the end
  bad[38] = static_cast<char>(bad[38] + 1);
  expect(resign(bad, secret), EnvelopeError::kTruncated, "body length overruns");
}

TEST(SnapshotEnvelopeTest, OversizedIsRejectedBeforeTheMac) {
  Keyring ring = ringWith({{"k1", 'a'}});
  std::string bytes = seal(ring, std::string(10'000, 'z'), BodyEncoding::kZstd);
  EnvelopeLimits small;
  small.max_body_bytes = 9'999;
  auto opened = openSnapshot(ring, bytes, small);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error(), EnvelopeError::kOversized);

  EnvelopeLimits tiny_envelope;
  tiny_envelope.max_envelope_bytes = bytes.size() - 1;
  opened = openSnapshot(ring, bytes, tiny_envelope);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error(), EnvelopeError::kOversized);

  auto sealed =
      sealSnapshot(ring, fields(1), std::string(10'000, 'z'), BodyEncoding::kIdentity, small);
  ASSERT_FALSE(sealed.ok());
  EXPECT_NE(sealed.error().find("over the limit"), std::string::npos) << sealed.error();
}

TEST(SnapshotEnvelopeTest, SignedGarbageBodyIsADecompressionError) {
  Keyring ring = ringWith({{"k1", 'a'}});
  std::string good = seal(ring, sampleBody(), BodyEncoding::kZstd);
  std::string bad = good;
  bad[kEnvelopeHeaderSize + 2 + 16 + 2 + 8] ^= 0x55;  // inside the zstd frame
  auto opened = openSnapshot(ring, resign(bad, std::string(32, 'a')));
  ASSERT_TRUE(opened.ok()) << envelopeErrorName(opened.error());
  auto body = decodeSnapshotBody(*opened);
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.error(), EnvelopeError::kDecompression);
}

TEST(SnapshotEnvelopeTest, KeyRotationSignsWithNewestAndVerifiesWithAny) {
  Keyring old_ring = ringWith({{"2026-10", 'o'}});
  std::string old_bytes = seal(old_ring, "old", BodyEncoding::kIdentity);

  Keyring rotated = ringWith({{"2026-10", 'o'}, {"2026-11", 'n'}});
  std::string new_bytes = seal(rotated, "new", BodyEncoding::kIdentity);

  auto old_opened = openSnapshot(rotated, old_bytes);
  ASSERT_TRUE(old_opened.ok());
  EXPECT_EQ(old_opened->key_id, "2026-10");
  auto new_opened = openSnapshot(rotated, new_bytes);
  ASSERT_TRUE(new_opened.ok());
  EXPECT_EQ(new_opened->key_id, "2026-11");

  // A node that has not learnt the new key yet refuses it by name, not as tampering.
  auto unknown = openSnapshot(old_ring, new_bytes);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error(), EnvelopeError::kUnknownKeyId);

  // Once the old key is retired, what it signed is refused.
  Keyring retired = ringWith({{"2026-11", 'n'}});
  auto refused = openSnapshot(retired, old_bytes);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), EnvelopeError::kUnknownKeyId);
}

TEST(SnapshotEnvelopeTest, SameKeyIdWithAnotherSecretIsABadMac) {
  std::string forged = seal(ringWith({{"k1", 'x'}}), "forged", BodyEncoding::kIdentity);
  auto opened = openSnapshot(ringWith({{"k1", 'a'}}), forged);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error(), EnvelopeError::kBadMac);
}

TEST(SnapshotEnvelopeTest, SealRefusesBadFields) {
  Keyring ring = ringWith({{"k1", 'a'}});
  SnapshotFields f = fields(1);
  f.etag = "has\"quote";
  EXPECT_FALSE(sealSnapshot(ring, f, "x", BodyEncoding::kIdentity).ok());
  f = fields(1);
  f.content_type = "text/plain\r\nX-Injected: 1";
  EXPECT_FALSE(sealSnapshot(ring, f, "x", BodyEncoding::kIdentity).ok());
  EXPECT_FALSE(sealSnapshot(Keyring(), fields(1), "x", BodyEncoding::kIdentity).ok());
}

}  // namespace
}  // namespace surge::cache
