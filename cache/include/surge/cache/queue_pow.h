// Proof of work for the waiting room's "under attack" mode (issue 21): a ticket costs a client
// about 2^bits SHA-256 computations, and the edge one.
//
// Challenge (GET /api/v1/queue/challenge; base64url, no padding):
//   u8 format (1) | u8 key-id length | key id | u8 bits | i64 issued (unix s) | 16 random bytes
//   (its id) | 16 bytes client binding (queue.h) | HMAC-SHA256 with the queue key of all before
// Stateless like a ticket: any edge checks it with the queue keyring alone.
// Proof (X-Surge-Proof on POST /api/v1/queue/tickets): "<challenge>.<nonce>", nonce 1-20 decimal
// digits, such that SHA-256("<challenge>.<nonce>") begins with `bits` zero bits. A proof is good
// for kChallengeLifetime seconds, for the client it was made for, and once (the edge claims its
// id in memcached).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "surge/base/result.h"
#include "surge/cache/keyring.h"
#include "surge/cache/queue.h"

namespace surge::cache {

inline constexpr int64_t kChallengeLifetime = 120;
inline constexpr uint32_t kMaxProofBits = 32;
// memcached: an id claimed by the ticket it paid for (TTL: the challenge's lifetime and a margin).
inline constexpr std::string_view kProofUsedPrefix = "surge:queue:pow:";

struct Challenge {
  uint32_t bits = 0;
  int64_t issued_s = 0;
  std::array<uint8_t, 16> id{};
  ClientBinding client{};
};

// Signed with the keyring's newest key. False only without randomness.
base::Result<std::string, std::string> makeChallenge(const Keyring& keyring, uint32_t bits,
                                                     int64_t now_s, const ClientBinding& client);

enum class ProofError { kMalformed, kForged, kExpired, kOtherClient, kTooEasy, kWrong };
const char* proofErrorName(ProofError e);
// The challenge a proof answers, once everything but single use holds.
base::Result<Challenge, ProofError> checkProof(const Keyring& keyring, std::string_view proof,
                                               uint32_t min_bits, int64_t now_s,
                                               const ClientBinding& client);

// Leading zero bits of SHA-256(text).
uint32_t zeroBits(std::string_view text);
// The first nonce that answers `challenge` (for tests and the load generator; a page does it in a
// Web Worker).
uint64_t solveChallenge(std::string_view challenge, uint32_t bits);

}  // namespace surge::cache
