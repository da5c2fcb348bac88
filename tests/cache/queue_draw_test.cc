// The pre-queue draw as anyone checks it: the seed against the commitment saved before the
// opening, and every ticket's place against the seed.
#include "surge/cache/queue_draw.h"

#include <gtest/gtest.h>

#include "surge/cache/queue.h"

namespace surge::cache {
namespace {

const std::string kSeed(64, 'a');

QueueDraw honest(uint64_t p) {
  QueueDraw d;
  d.seed = kSeed;
  d.commitment = seedCommitment(kSeed);
  d.prequeue = p;
  for (uint64_t n = 1; n <= p; ++n)
    d.entries.emplace_back(n, shufflePosition(kSeed, n, p));
  return d;
}

TEST(QueueDrawTest, TheCommitmentIsTheSha256OfTheSeedText) {
  // printf %s "" | sha256sum
  EXPECT_EQ(seedCommitment(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(seedCommitment(kSeed).size(), 64u);
}

TEST(QueueDrawTest, AnHonestDrawVerifies) {
  QueueDraw d = honest(500);
  EXPECT_TRUE(verifyQueueDraw(d).ok());
  EXPECT_TRUE(verifyQueueDraw(d, d.commitment).ok());
  EXPECT_TRUE(verifyQueueDraw(honest(1)).ok());
  EXPECT_TRUE(verifyQueueDraw(honest(0)).ok());
}

TEST(QueueDrawTest, OneChangedTicketOrSeedFails) {
  QueueDraw moved = honest(500);
  std::swap(moved.entries[10].second, moved.entries[20].second);  // two places exchanged
  auto r = verifyQueueDraw(moved);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("ticket 11"), std::string::npos) << r.error();

  QueueDraw twice = honest(500);
  twice.entries[7].first = 9;  // ticket 8 gone, ticket 9 listed twice
  EXPECT_FALSE(verifyQueueDraw(twice).ok());

  QueueDraw dropped = honest(500);
  dropped.entries.pop_back();
  EXPECT_FALSE(verifyQueueDraw(dropped).ok());

  QueueDraw other_seed = honest(500);
  other_seed.seed[0] = 'b';  // the order is no longer the seed's, nor the commitment
  EXPECT_FALSE(verifyQueueDraw(other_seed).ok());

  // A whole new draw, seed and commitment made to match: refused against the commitment saved
  // before the opening.
  std::string saved = seedCommitment(kSeed);
  QueueDraw replaced = honest(500);
  replaced.seed = std::string(64, 'c');
  replaced.commitment = seedCommitment(replaced.seed);
  for (auto& [n, place] : replaced.entries)
    place = shufflePosition(replaced.seed, n, 500);
  EXPECT_TRUE(verifyQueueDraw(replaced).ok());
  auto against_saved = verifyQueueDraw(replaced, saved);
  ASSERT_FALSE(against_saved.ok());
  EXPECT_NE(against_saved.error().find("saved before the opening"), std::string::npos);
}

TEST(QueueDrawTest, PagesAreTheEntriesInNumberOrder) {
  EXPECT_EQ(drawEntriesJson(kSeed, 3, 1, 1000),
            "[[1," + std::to_string(shufflePosition(kSeed, 1, 3)) + "],[2," +
                std::to_string(shufflePosition(kSeed, 2, 3)) + "],[3," +
                std::to_string(shufflePosition(kSeed, 3, 3)) + "]]");
  EXPECT_EQ(drawEntriesJson(kSeed, 3, 3, 1),
            "[[3," + std::to_string(shufflePosition(kSeed, 3, 3)) + "]]");
  EXPECT_EQ(drawEntriesJson(kSeed, 3, 4, 10), "[]");
  EXPECT_EQ(drawEntriesJson(kSeed, 0, 1, 10), "[]");
}

}  // namespace
}  // namespace surge::cache
