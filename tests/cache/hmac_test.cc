// HMAC-SHA256 (surge/cache/hmac.h) against RFC 4231's test vectors, called as the hot paths call
// it: the same key many times on one thread (its pads are kept), keys alternating, and threads.
#include "surge/cache/hmac.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace surge::cache {
namespace {

std::string hex(const HmacSha256Digest& d) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : d) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

// RFC 4231, test cases 1, 2 and 6 (a key longer than SHA-256's block).
const std::string kKey1(20, '\x0b'), kKey2 = "Jefe", kKey6(131, '\xaa');
const std::string kData1 = "Hi There", kData2 = "what do ya want for nothing?",
                  kData6 = "Test Using Larger Than Block-Size Key - Hash Key First";
const std::string kMac1 = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
const std::string kMac2 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
const std::string kMac6 = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";

TEST(HmacTest, Rfc4231VectorsWithTheSameKeyAgainAndKeysAlternating) {
  for (int round = 0; round < 3; ++round) {  // the same key again reuses its pads
    EXPECT_EQ(hex(hmacSha256(kKey1, {kData1})), kMac1) << round;
  }
  for (int round = 0; round < 3; ++round) {  // another key each call
    EXPECT_EQ(hex(hmacSha256(kKey2, {kData2})), kMac2) << round;
    EXPECT_EQ(hex(hmacSha256(kKey6, {kData6})), kMac6) << round;
    EXPECT_EQ(hex(hmacSha256(kKey1, {"Hi ", "There"})), kMac1) << round;  // parts
  }
  // A key that is a prefix of the one held is another key.
  EXPECT_NE(hex(hmacSha256(kKey2.substr(0, 3), {kData2})), kMac2);
  EXPECT_EQ(hex(hmacSha256(kKey2, {kData2})), kMac2);
  // The empty key is a key (not "the same key as before").
  HmacSha256Digest empty = hmacSha256("", {kData2});
  EXPECT_NE(hex(empty), kMac2);
  EXPECT_EQ(hmacSha256(std::string_view(), {kData2}), empty);
}

TEST(HmacTest, EachThreadKeepsItsOwnKey) {
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        bool one = (i + t) % 3 != 0;
        std::string got = hex(one ? hmacSha256(kKey1, {kData1}) : hmacSha256(kKey2, {kData2}));
        if (got != (one ? kMac1 : kMac2)) ++wrong[static_cast<size_t>(t)];
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace surge::cache
