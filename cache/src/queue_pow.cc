#include "surge/cache/queue_pow.h"

#include <openssl/rand.h>

#include <charconv>
#include <cstring>

#include "big_endian.h"
#include "surge/base/base64.h"
#include "surge/cache/hmac.h"

namespace surge::cache {
namespace {

constexpr uint8_t kChallengeFormat = 1;

}  // namespace

base::Result<std::string, std::string> makeChallenge(const Keyring& keyring, uint32_t bits,
                                                     int64_t now_s, const ClientBinding& client) {
  const KeyringKey& key = keyring.signingKey();
  unsigned char id[16];
  if (RAND_bytes(id, sizeof id) != 1) return base::fail(std::string("no randomness"));
  std::string raw;
  raw.push_back(static_cast<char>(kChallengeFormat));
  raw.push_back(static_cast<char>(key.id.size()));
  raw += key.id;
  raw.push_back(static_cast<char>(bits));
  putBigEndian(raw, static_cast<uint64_t>(now_s), 8);
  raw.append(reinterpret_cast<const char*>(id), sizeof id);
  raw.append(reinterpret_cast<const char*>(client.data()), client.size());
  HmacSha256Digest mac = hmacSha256(key.secret, {raw});
  raw.append(reinterpret_cast<const char*>(mac.data()), mac.size());
  return base::base64UrlEncode(raw);
}

const char* proofErrorName(ProofError e) {
  switch (e) {
    case ProofError::kMalformed:
      return "malformed";
    case ProofError::kForged:
      return "forged";
    case ProofError::kExpired:
      return "expired";
    case ProofError::kOtherClient:
      return "other_client";
    case ProofError::kTooEasy:
      return "too_easy";
    case ProofError::kWrong:
      return "wrong";
  }
  return "malformed";
}

uint32_t zeroBits(std::string_view text) {
  Sha256Digest d = sha256({text});
  uint32_t n = 0;
  for (uint8_t byte : d) {
    if (byte == 0) {
      n += 8;
      continue;
    }
    while (!(byte & 0x80)) {
      ++n;
      byte = static_cast<uint8_t>(byte << 1);
    }
    break;
  }
  return n;
}

base::Result<Challenge, ProofError> checkProof(const Keyring& keyring, std::string_view proof,
                                               uint32_t min_bits, int64_t now_s,
                                               const ClientBinding& client) {
  if (proof.size() > 256) return base::fail(ProofError::kMalformed);
  size_t dot = proof.rfind('.');
  if (dot == std::string_view::npos) return base::fail(ProofError::kMalformed);
  std::string_view text = proof.substr(0, dot), nonce = proof.substr(dot + 1);
  uint64_t ignored = 0;
  auto [ptr, ec] = std::from_chars(nonce.data(), nonce.data() + nonce.size(), ignored);
  if (nonce.empty() || nonce.size() > 20 || ec != std::errc() ||
      ptr != nonce.data() + nonce.size()) {
    return base::fail(ProofError::kMalformed);
  }
  auto raw = base::base64UrlDecode(text);
  if (!raw || raw->size() < 2) return base::fail(ProofError::kMalformed);
  const auto* p = reinterpret_cast<const uint8_t*>(raw->data());
  size_t id_len = p[1];
  size_t body = 2 + id_len + 1 + 8 + 16 + 16;
  if (p[0] != kChallengeFormat || raw->size() != body + kHmacSha256Size) {
    return base::fail(ProofError::kMalformed);
  }
  const KeyringKey* key = keyring.find(std::string_view(raw->data() + 2, id_len));
  if (key == nullptr) return base::fail(ProofError::kForged);
  HmacSha256Digest mac = hmacSha256(key->secret, {std::string_view(raw->data(), body)});
  if (!digestEquals(mac, std::string_view(raw->data() + body, kHmacSha256Size))) {
    return base::fail(ProofError::kForged);
  }
  const uint8_t* q = p + 2 + id_len;
  Challenge c;
  c.bits = q[0];
  c.issued_s = static_cast<int64_t>(getBigEndian(q + 1, 8));
  std::memcpy(c.id.data(), q + 9, c.id.size());
  std::memcpy(c.client.data(), q + 25, c.client.size());
  if (now_s < c.issued_s - 5 || now_s > c.issued_s + kChallengeLifetime) {
    return base::fail(ProofError::kExpired);
  }
  if (c.client != client) return base::fail(ProofError::kOtherClient);
  if (c.bits < min_bits) return base::fail(ProofError::kTooEasy);
  if (zeroBits(proof) < c.bits) return base::fail(ProofError::kWrong);
  return c;
}

uint64_t solveChallenge(std::string_view challenge, uint32_t bits) {
  std::string text = std::string(challenge) + ".";
  size_t base = text.size();
  for (uint64_t nonce = 0;; ++nonce) {
    text.resize(base);
    text += std::to_string(nonce);
    if (zeroBits(text) >= bits) return nonce;
  }
}

}  // namespace surge::cache
