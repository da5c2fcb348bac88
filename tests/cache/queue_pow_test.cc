// Proofs of work for the attack mode: a solved challenge passes once everything about it holds,
// and nothing else does.
#include "surge/cache/queue_pow.h"

#include <gtest/gtest.h>

namespace surge::cache {
namespace {

const Keyring kKeys = Keyring::parse("queue-1 " + std::string(64, '4'), "t").value();
const ClientBinding kClient = clientBinding("client-aaaaaaaaaaaaaaaa");

std::string proofFor(const std::string& challenge, uint32_t bits) {
  return challenge + "." + std::to_string(solveChallenge(challenge, bits));
}

TEST(QueueProofTest, ASolvedChallengePassesForItsClientWhileFresh) {
  std::string c = makeChallenge(kKeys, 10, 1000, kClient).value();
  std::string proof = proofFor(c, 10);
  EXPECT_GE(zeroBits(proof), 10u);
  auto ok = checkProof(kKeys, proof, 10, 1010, kClient);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->bits, 10u);
  EXPECT_EQ(ok->issued_s, 1000);
  // Two challenges never share an id (the id is what single use claims).
  std::string other = makeChallenge(kKeys, 10, 1000, kClient).value();
  EXPECT_NE(checkProof(kKeys, proofFor(other, 10), 10, 1010, kClient)->id, ok->id);

  EXPECT_EQ(checkProof(kKeys, proof, 10, 1000 + kChallengeLifetime + 1, kClient).error(),
            ProofError::kExpired);
  EXPECT_EQ(checkProof(kKeys, proof, 10, 1010, clientBinding("client-bbbbbbbbbbbbbbbb")).error(),
            ProofError::kOtherClient);
  EXPECT_EQ(checkProof(kKeys, proof, 11, 1010, kClient).error(), ProofError::kTooEasy);
  Keyring other_keys = Keyring::parse("queue-1 " + std::string(64, '5'), "t").value();
  EXPECT_EQ(checkProof(other_keys, proof, 10, 1010, kClient).error(), ProofError::kForged);
}

TEST(QueueProofTest, AnythingButTheWorkIsRefused) {
  std::string c = makeChallenge(kKeys, 12, 1000, kClient).value();
  uint64_t nonce = solveChallenge(c, 12);
  // The nonce before the right one does not answer it (solveChallenge returns the first).
  if (nonce > 0) {
    EXPECT_EQ(checkProof(kKeys, c + "." + std::to_string(nonce - 1), 12, 1000, kClient).error(),
              ProofError::kWrong);
  }
  EXPECT_EQ(checkProof(kKeys, c, 12, 1000, kClient).error(), ProofError::kMalformed);
  EXPECT_EQ(checkProof(kKeys, c + ".", 12, 1000, kClient).error(), ProofError::kMalformed);
  EXPECT_EQ(checkProof(kKeys, c + ".12a", 12, 1000, kClient).error(), ProofError::kMalformed);
  EXPECT_EQ(checkProof(kKeys, c + "." + std::string(21, '1'), 12, 1000, kClient).error(),
            ProofError::kMalformed);
  // An easier challenge made up by the client: the MAC does not hold.
  std::string easier = c;
  easier[12] = easier[12] == 'A' ? 'B' : 'A';
  EXPECT_NE(checkProof(kKeys, proofFor(easier, 1), 1, 1000, kClient).error(), ProofError::kWrong);
  EXPECT_FALSE(checkProof(kKeys, "", 1, 1000, kClient).ok());
}

TEST(QueueProofTest, ZeroBitsCountsLeadingZeroBitsOfTheDigest) {
  // SHA-256("") = e3b0...: 1110 0011 -> no leading zero bits.
  EXPECT_EQ(zeroBits(""), 0u);
  uint32_t most = 0;
  for (int i = 0; i < 4096; ++i)
    most = std::max(most, zeroBits(std::to_string(i)));
  EXPECT_GE(most, 8u);  // 4,096 tries: about 12 bits at best, 8 at least almost surely
  EXPECT_LE(most, 24u);
}

}  // namespace
}  // namespace surge::cache
