#include "surge/cache/keyring.h"

#include <gtest/gtest.h>

namespace surge::cache {
namespace {

const std::string kHex32(64, 'a');

TEST(KeyringTest, ParsesKeysNewestLast) {
  auto ring = Keyring::parse(
      "# keys\nold " + kHex32 + "\n\n  new\t" + std::string(64, 'b') + "  # rotated 2026-11\n",
      "keys.conf");
  ASSERT_TRUE(ring.ok()) << ring.error();
  EXPECT_EQ(ring->keys().size(), 2u);
  EXPECT_EQ(ring->signingKey().id, "new");
  ASSERT_NE(ring->find("old"), nullptr);
  EXPECT_EQ(ring->find("old")->secret, std::string(32, '\xaa'));
  EXPECT_EQ(ring->find("missing"), nullptr);
}

TEST(KeyringTest, ReportsFileAndLine) {
  auto short_key = Keyring::parse("a " + kHex32 + "\nb abcd\n", "keys.conf");
  ASSERT_FALSE(short_key.ok());
  EXPECT_EQ(short_key.error().rfind("keys.conf:2: ", 0), 0u) << short_key.error();

  auto bad_hex = Keyring::parse("a " + std::string(63, 'a') + "g\n", "k");
  ASSERT_FALSE(bad_hex.ok());
  EXPECT_NE(bad_hex.error().find("k:1:"), std::string::npos);

  auto dup = Keyring::parse("a " + kHex32 + "\na " + kHex32 + "\n", "k");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().find("k:2: duplicate"), std::string::npos) << dup.error();

  auto bad_id = Keyring::parse("no/slash " + kHex32 + "\n", "k");
  ASSERT_FALSE(bad_id.ok());
  EXPECT_NE(bad_id.error().find("invalid key id"), std::string::npos);

  EXPECT_FALSE(Keyring::parse("# nothing\n", "k").ok());
  EXPECT_FALSE(Keyring::parse("onlyid\n", "k").ok());
}

TEST(KeyringTest, HexRoundTrip) {
  std::string bytes("\x00\x01\xfe\xff", 4);
  EXPECT_EQ(encodeHex(bytes), "0001feff");
  auto back = decodeHex("0001FEff");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value(), bytes);
  EXPECT_FALSE(decodeHex("abc").ok());
}

}  // namespace
}  // namespace surge::cache
