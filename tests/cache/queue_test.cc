// Waiting-room tickets and queue state: every alteration refused, the state text round-trips.
#include "surge/cache/queue.h"

#include "surge/base/crockford.h"
#include "surge/cache/snapshot_envelope.h"

#include <gtest/gtest.h>

#include <vector>

namespace surge::cache {
namespace {

Keyring keys(const std::string& line) {
  return Keyring::parse(line, "test").value();
}

TEST(QueueTicketTest, RoundTripsAndBindsTheClient) {
  Keyring k = keys("q-1 " + std::string(64, 'a'));
  QueueTicket t;
  t.number = 123456789;
  t.issued_s = 1796083200;
  t.epoch = 7;
  t.client = clientBinding("client-abc-0123456789");
  std::string text = encodeTicket(k, t);
  auto back = decodeTicket(k, text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->number, 123456789u);
  EXPECT_EQ(back->issued_s, 1796083200);
  EXPECT_EQ(back->epoch, 7u);
  EXPECT_EQ(back->key_id, "q-1");
  EXPECT_EQ(back->client, clientBinding("client-abc-0123456789"));
  EXPECT_NE(back->client, clientBinding("client-abd-0123456789"));
  // URL- and cookie-safe.
  EXPECT_EQ(
      text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
}

TEST(QueueTicketTest, EveryBitFlipAndTruncationIsRefused) {
  Keyring k = keys("q-1 " + std::string(64, 'a'));
  QueueTicket t;
  t.number = 42;
  std::string raw = base::base64UrlDecode(encodeTicket(k, t)).value();
  for (size_t i = 0; i < raw.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = raw;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      EXPECT_FALSE(decodeTicket(k, base::base64UrlEncode(bad)).ok()) << i << ":" << bit;
    }
  }
  for (size_t n = 0; n < raw.size(); ++n)
    EXPECT_FALSE(decodeTicket(k, base::base64UrlEncode(raw.substr(0, n))).ok()) << n;
  EXPECT_FALSE(decodeTicket(k, base::base64UrlEncode(raw + "x")).ok());
}

TEST(QueueTicketTest, KeysRotateAndUnknownKeysAreRefused) {
  Keyring old_only = keys("q-1 " + std::string(64, 'a'));
  Keyring both = keys("q-1 " + std::string(64, 'a') + "\nq-2 " + std::string(64, 'b'));
  Keyring other = keys("q-1 " + std::string(64, 'c'));
  QueueTicket t;
  t.number = 9;
  std::string by_old = encodeTicket(old_only, t);
  EXPECT_TRUE(decodeTicket(both, by_old).ok());  // still valid after a new key is added
  std::string by_new = encodeTicket(both, t);
  EXPECT_EQ(decodeTicket(both, by_new)->key_id, "q-2");
  EXPECT_EQ(decodeTicket(old_only, by_new).error(), TicketError::kUnknownKey);
  EXPECT_EQ(decodeTicket(other, by_old).error(), TicketError::kBadMac);
  EXPECT_EQ(decodeTicket(both, "").error(), TicketError::kMalformed);
  EXPECT_EQ(decodeTicket(both, "not base64!").error(), TicketError::kMalformed);
  EXPECT_EQ(decodeTicket(both, std::string(300, 'A')).error(), TicketError::kMalformed);
}

TEST(QueueTicketTest, Base64HasOneSpellingPerValue) {
  for (std::string s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    EXPECT_EQ(base::base64UrlDecode(base::base64UrlEncode(s)).value(), s);
  }
  EXPECT_EQ(base::base64UrlEncode("a"), "YQ");
  EXPECT_FALSE(base::base64UrlDecode("YR").has_value());  // same byte, non-zero spare bits
  EXPECT_FALSE(base::base64UrlDecode("Y").has_value());
  EXPECT_FALSE(base::base64UrlDecode("YQ==").has_value());  // no padding
}

TEST(QueueTicketTest, StandardBase64ForHttpBasic) {
  // RFC 4648 section 10 vectors.
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [raw, text] : vectors) {
    EXPECT_EQ(base::base64Encode(raw), text);
    EXPECT_EQ(base::base64Decode(text).value(), raw);
  }
  EXPECT_EQ(base::base64Encode("\xfb\xff"), "+/8=");
  EXPECT_FALSE(base::base64Decode("Zg=a").has_value());     // data after padding
  EXPECT_FALSE(base::base64Decode("Zg===").has_value());    // too much padding
  EXPECT_FALSE(base::base64Decode("Zm9v-_").has_value());   // the URL alphabet is not this one
  EXPECT_FALSE(base::base64UrlDecode("Zg==").has_value());  // and the URL form takes no padding
}

QueueState openState(uint32_t epoch, double rate, int64_t updated_ms) {
  QueueState s;
  s.open = true;
  s.epoch = epoch;
  s.admitted = 1000;
  s.rate = rate;
  s.issued = 5000;
  s.updated_ms = updated_ms;
  return s;
}

TEST(QueueStateTest, RoundTripsAndRefusesGarbage) {
  QueueState s = openState(3, 12.5, 1796083200123);
  std::string text = encodeQueueState(s);
  EXPECT_EQ(
      text,
      "surge-queue 1 open=1 epoch=3 admitted=1000 rate=12.500 issued=5000 "
      "updated=1796083200123 opening=0 pre=0 opened=0 shuffle=- seats=- sold=0 commit=- pow=0 "
      "here=0");
  auto back = decodeQueueState(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(back->open);
  EXPECT_EQ(back->epoch, 3u);
  EXPECT_EQ(back->admitted, 1000u);
  EXPECT_DOUBLE_EQ(back->rate, 12.5);
  EXPECT_EQ(back->issued, 5000u);
  EXPECT_EQ(back->seats, -1);
  EXPECT_FALSE(back->soldOut());
  EXPECT_TRUE(decodeQueueState(text + " future=1").has_value());  // fields may be added
  EXPECT_FALSE(decodeQueueState("surge-queue 2 open=1").has_value());
  EXPECT_FALSE(decodeQueueState("surge-queue 1 open=1 epoch=3").has_value());
  EXPECT_FALSE(decodeQueueState("surge-queue 1 open=2 epoch=3 admitted=1 rate=1 issued=1 "
                                "updated=1")
                   .has_value());
  EXPECT_FALSE(decodeQueueState("surge-queue 1 open=1 epoch=3 admitted=-1 rate=1 issued=1 "
                                "updated=1")
                   .has_value());
}

// Seats left and the moment the last one went travel with the state; a state from before they
// existed reads as "not counted, not sold out".
TEST(QueueStateTest, CarriesSeatsLeftAndWhenTheyRanOut) {
  QueueState s = openState(1, 5, 1796083200123);
  s.seats = 0;
  s.sold_out_ms = 1796083200456;
  auto back = decodeQueueState(encodeQueueState(s));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->seats, 0);
  EXPECT_TRUE(back->soldOut());
  EXPECT_EQ(back->sold_out_ms, 1796083200456);
  const std::string old = "surge-queue 1 open=1 epoch=3 admitted=1 rate=1 issued=1 updated=1";
  auto older = decodeQueueState(old);
  ASSERT_TRUE(older.has_value());
  EXPECT_EQ(older->seats, -1);
  EXPECT_FALSE(older->soldOut());
  EXPECT_FALSE(decodeQueueState(old + " seats=-3").has_value());
  // Found by ticket_fuzz: a commitment (or seed) that is not hex did not survive being written
  // back.
  EXPECT_FALSE(decodeQueueState(old + " commit=e3b0" + std::string(1, '\0') + "ff").has_value());
  EXPECT_FALSE(decodeQueueState(old + " shuffle=ABC").has_value());
  EXPECT_TRUE(decodeQueueState(old + " commit=e3b0 shuffle=-").has_value());
  EXPECT_FALSE(decodeQueueState(old + " sold=x").has_value());
  // The absence time pages keep up with (queue_presence.h).
  s.absent_after_s = 60;
  EXPECT_EQ(decodeQueueState(encodeQueueState(s))->absent_after_s, 60u);
  EXPECT_EQ(older->absent_after_s, 0u);
  EXPECT_FALSE(decodeQueueState(old + " here=86401").has_value());
  EXPECT_FALSE(decodeQueueState(old + " here=-1").has_value());
}

// Found by ticket_fuzz: a time past INT64_MAX was taken and then written back negative, and a
// duplicated field could stand in for a missing one.
TEST(QueueStateTest, RefusesWhatCouldNotBeWrittenBack) {
  const std::string base = "surge-queue 1 open=1 epoch=3 admitted=1 rate=1 issued=1 ";
  EXPECT_TRUE(decodeQueueState(base + "updated=9223372036854775807").has_value());
  EXPECT_FALSE(decodeQueueState(base + "updated=17900000000000000000").has_value());
  EXPECT_FALSE(decodeQueueState(base + "updated=1 opening=9223372036854775808").has_value());
  EXPECT_FALSE(decodeQueueState("surge-queue 1 open=1 open=1 admitted=1 rate=1 issued=1 "
                                "updated=1")
                   .has_value());  // epoch missing, open twice
  EXPECT_FALSE(decodeQueueState(base + "updated=1 updated=2").has_value());
  EXPECT_FALSE(decodeQueueState("surge-queue 1 open=1 epoch=3 admitted=1 rate=nan issued=1 "
                                "updated=1")
                   .has_value());
  EXPECT_FALSE(decodeQueueState("surge-queue 1 open=1 epoch=3 admitted=1 rate=inf issued=1 "
                                "updated=1")
                   .has_value());
}

TEST(QueueStateTest, SealedWithTheSnapshotKeyringAndNothingElse) {
  Keyring keys = Keyring::parse("snap-1 " + std::string(64, '5'), "t").value();
  Keyring other = Keyring::parse("snap-1 " + std::string(64, '6'), "t").value();
  QueueState s = openState(2, 50, 1790000000000);
  std::string sealed = sealQueueState(keys, s).value();
  auto back = openQueueState(keys, sealed);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->admitted, 1000u);
  EXPECT_FALSE(openQueueState(other, sealed).has_value());              // another secret
  EXPECT_FALSE(openQueueState(keys, encodeQueueState(s)).has_value());  // the bare text
  std::string altered = sealed;
  altered[altered.find("admitted=1000") + 9] = '9';  // admitted=9000: the MAC no longer fits
  EXPECT_FALSE(openQueueState(keys, altered).has_value());
  SnapshotFields f;
  f.content_type = "application/json";
  f.version = 1;
  std::string snapshot =
      sealSnapshot(keys, f, encodeQueueState(s), BodyEncoding::kIdentity).value();
  EXPECT_FALSE(openQueueState(keys, snapshot).has_value());  // a snapshot is not a queue state
}

TEST(QueueStateTest, OpeningFieldsRoundTrip) {
  QueueState s;
  s.opening_s = 1796083200;
  s.prequeue = 30;
  s.opened = true;
  s.shuffle = "00ab12cd34ef5678";
  auto back = decodeQueueState(encodeQueueState(s));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->opening_s, 1796083200);
  EXPECT_EQ(back->prequeue, 30u);
  EXPECT_TRUE(back->opened);
  EXPECT_EQ(back->shuffle, "00ab12cd34ef5678");
}

TEST(QueueShuffleTest, IsABijectionThatDependsOnTheSeed) {
  for (uint64_t n : {1u, 2u, 3u, 5u, 16u, 17u, 100u, 1000u, 4099u}) {
    std::vector<bool> seen(n + 1, false);
    for (uint64_t p = 1; p <= n; ++p) {
      uint64_t place = shufflePosition("seed-a", p, n);
      ASSERT_GE(place, 1u);
      ASSERT_LE(place, n);
      EXPECT_FALSE(seen[place]) << "n=" << n << " place " << place << " twice";
      seen[place] = true;
    }
  }
  int moved = 0, differ = 0;
  for (uint64_t p = 1; p <= 1000; ++p) {
    moved += shufflePosition("seed-a", p, 1000) != p;
    differ += shufflePosition("seed-a", p, 1000) != shufflePosition("seed-b", p, 1000);
  }
  EXPECT_GT(moved, 900);   // arrival order says almost nothing about the place
  EXPECT_GT(differ, 900);  // nor does one opening about the next
}

TEST(QueueShuffleTest, PlacesOfPreAndMainTickets) {
  QueueState s;
  QueueTicket pre;
  pre.prequeue = true;
  pre.number = 3;
  EXPECT_EQ(queuePosition(pre, s), 0u);  // before the opening: no place yet
  s.prequeue = 10;
  s.shuffle = "seed";
  EXPECT_EQ(queuePosition(pre, s), 0u);  // P known but the opening not published: still none
  s.opened = true;
  EXPECT_EQ(queuePosition(pre, s), shufflePosition("seed", 3, 10));
  QueueTicket main;
  main.number = 4;
  EXPECT_EQ(queuePosition(main, s), 14u);  // after every pre-queue place
  pre.number = 12;  // taken after P was fixed: no place (it would collide with main ticket 12)
  EXPECT_EQ(queuePosition(pre, s), 0u);
}

// Resume codes: 8 symbols and a check symbol, the place back under any key of the keyring, nothing
// for another epoch, and a typo told apart from a guess.
TEST(ResumeCodeTest, RoundTripsAndTellsTyposFromGuesses) {
  Keyring old_keys = Keyring::parse("queue-1 " + std::string(64, '1'), "t").value();
  Keyring keys =
      Keyring::parse("queue-1 " + std::string(64, '1') + "\nqueue-2 " + std::string(64, '2'), "t")
          .value();
  for (uint64_t number : {uint64_t{1}, uint64_t{77}, uint64_t{123456}, kResumeMaxNumber}) {
    for (bool pre : {false, true}) {
      auto code = resumeCode(keys, 3, number, pre);
      ASSERT_TRUE(code.has_value());
      ASSERT_EQ(code->size(), 11u);
      EXPECT_EQ((*code)[4], '-');
      EXPECT_EQ((*code)[9], '-');
      auto back = readResumeCode(keys, 3, *code);
      ASSERT_TRUE(back.ok()) << *code;
      EXPECT_EQ(back->number, number);
      EXPECT_EQ(back->prequeue, pre);
      EXPECT_FALSE(readResumeCode(keys, 4, *code).ok());  // a revoke ends every code
    }
  }
  EXPECT_FALSE(resumeCode(keys, 3, kResumeMaxNumber + 1, false).has_value());
  EXPECT_FALSE(resumeCode(keys, 3, 0, false).has_value());
  // Made before a key rotation, read after it.
  auto before = resumeCode(old_keys, 1, 42, false).value();
  EXPECT_EQ(readResumeCode(keys, 1, before)->number, 42u);
  // Read forgivingly: lower case, no hyphens, O for 0, L for 1.
  std::string code = resumeCode(keys, 1, 1000, false).value();
  std::string loose;
  for (char c : code) {
    if (c == '-') continue;
    loose += c == '0' ? 'o' : c == '1' ? 'l' : static_cast<char>(std::tolower(c));
  }
  EXPECT_EQ(readResumeCode(keys, 1, loose)->number, 1000u);
  // Every single wrong symbol, and every two neighbours exchanged, is a typo, not a guess.
  const std::string symbols = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  int typos = 0, tried = 0;
  for (size_t i = 0; i < code.size(); ++i) {
    if (code[i] == '-' || i == 10) continue;
    for (char c : symbols) {
      if (c == code[i]) continue;
      std::string wrong = code;
      wrong[i] = c;
      ++tried;
      auto r = readResumeCode(keys, 1, wrong);
      typos += !r.ok() && r.error() == ResumeError::kMistyped;
    }
  }
  EXPECT_EQ(typos, tried);
  for (size_t i = 0; i + 1 < 9; ++i) {
    std::string plain = code.substr(0, 4) + code.substr(5, 4) + code.substr(10);
    if (plain[i] == plain[i + 1]) continue;
    std::swap(plain[i], plain[i + 1]);
    auto r = readResumeCode(keys, 1, plain);
    EXPECT_TRUE(!r.ok() && r.error() == ResumeError::kMistyped) << plain;
  }
  EXPECT_EQ(readResumeCode(keys, 1, "").error(), ResumeError::kMistyped);
  EXPECT_EQ(readResumeCode(keys, 1, "ABCD-EFGH").error(), ResumeError::kMistyped);
  // Well formed with a right check symbol, but made by no key: a guess.
  uint64_t bits = uint64_t{12345} << 25 | 1000;
  std::string guess = base::crockfordEncode(bits, 8) + base::crockfordCheckSymbol(bits);
  auto r = readResumeCode(keys, 1, guess);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ResumeError::kUnknown);
}

}  // namespace
}  // namespace surge::cache
