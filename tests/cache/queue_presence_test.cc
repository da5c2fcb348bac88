// The waiting room's presence record (surge/cache/queue_presence.h) against a real memcached:
// what edges append is what the pacer reads, from any number of edges, by block and by bucket.
#include "surge/cache/queue_presence.h"

#include <gtest/gtest.h>

#include "surge/testing/memcached_server.h"

namespace surge::cache {
namespace {

constexpr int64_t kNowMs = 1796083200000;  // any moment: buckets are computed from it

MemcachedClientPtr connect(const testing::MemcachedServer& server) {
  MemcachedOptions options;
  options.servers = {server.address()};
  auto client = MemcachedClient::create(options);
  EXPECT_TRUE(client.ok());
  return std::move(client.value());
}

TEST(QueuePresenceTest, PlacesNotedByTwoEdgesAreReadBackByBlock) {
  testing::MemcachedServer server;
  auto memcached = connect(server);
  PresenceLog one, two;
  one.note(5);
  one.note(5);  // asked twice in a second: written once
  one.note(0);  // no place yet: nothing
  one.note(kPresenceBlock + 3);
  two.note(7);  // the same block from another edge: appended to the same value
  ASSERT_TRUE(one.flush(*memcached, 4, 30, kNowMs));
  ASSERT_TRUE(two.flush(*memcached, 4, 30, kNowMs));
  auto value = memcached->get(presenceKey(4, presenceBucket(kNowMs, 30), 0));
  ASSERT_TRUE(value.ok() && value->has_value());
  EXPECT_EQ(value->value(), std::string("\0\x05\0\x07", 4));

  PresenceView view;
  view.reset(4, 30);
  EXPECT_EQ(view.present(*memcached, 5, kNowMs), true);
  EXPECT_EQ(view.present(*memcached, 7, kNowMs), true);
  EXPECT_EQ(view.present(*memcached, 6, kNowMs), false);
  EXPECT_EQ(view.present(*memcached, kPresenceBlock + 3, kNowMs), true);
  EXPECT_EQ(view.countPresent(*memcached, 0, 2 * kPresenceBlock, kNowMs, 10), 3u);
  EXPECT_EQ(view.countPresent(*memcached, 5, 2 * kPresenceBlock, kNowMs, 10), 2u);  // (5, ...]
  EXPECT_EQ(view.countPresent(*memcached, 0, 6, kNowMs, 10), 1u);
  EXPECT_EQ(view.countPresent(*memcached, 0, 2 * kPresenceBlock, kNowMs, 1), 2u);  // one block

  // Another epoch's view sees none of it.
  PresenceView next_epoch;
  next_epoch.reset(5, 30);
  EXPECT_EQ(next_epoch.present(*memcached, 5, kNowMs), false);
}

// A place is there while it asked within the last absent_after at least (the current bucket and
// the two before it, each absent_after / 2 long), and not after 1.5 x absent_after.
TEST(QueuePresenceTest, APlaceIsThereForTheAbsenceTimeAndThenNot) {
  testing::MemcachedServer server;
  auto memcached = connect(server);
  PresenceLog log;
  log.note(42);
  ASSERT_TRUE(log.flush(*memcached, 1, 60, kNowMs));
  for (int64_t later_s : {0, 30, 59}) {
    PresenceView view;
    view.reset(1, 60);
    EXPECT_EQ(view.present(*memcached, 42, kNowMs + later_s * 1000), true) << later_s;
  }
  PresenceView view;
  view.reset(1, 60);
  EXPECT_EQ(view.present(*memcached, 42, kNowMs + 90 * 1000), false);
}

// memcached gone: nothing is known - the pacer passes nobody over on it.
TEST(QueuePresenceTest, NothingIsKnownWithoutMemcached) {
  testing::MemcachedServer server;
  auto memcached = connect(server);
  PresenceLog log;
  log.note(1);
  server.kill();
  EXPECT_FALSE(log.flush(*memcached, 1, 30, kNowMs));
  PresenceView view;
  view.reset(1, 30);
  EXPECT_EQ(view.present(*memcached, 1, kNowMs), std::nullopt);
  EXPECT_EQ(view.countPresent(*memcached, 0, 10, kNowMs, 10), 0u);
}

}  // namespace
}  // namespace surge::cache
