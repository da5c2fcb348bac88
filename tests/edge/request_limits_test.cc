// limit_req's leaky bucket and limit_conn's counts, as nginx keeps them.
#include "surge/edge/request_limits.h"

#include <gtest/gtest.h>

namespace surge::edge {
namespace {

TEST(RequestRateZoneTest, BurstThenRefusedAndRefusalsAreNotCounted) {
  RequestRateZone zone("one", 2000, 100);  // 2 r/s
  const uint64_t nodelay = UINT64_MAX;
  EXPECT_EQ(zone.take("a", 1, nodelay), std::chrono::milliseconds(0));
  EXPECT_EQ(zone.take("a", 1, nodelay), std::chrono::milliseconds(0));  // the burst of 1
  EXPECT_EQ(zone.take("a", 1, nodelay), std::nullopt);                  // beyond it
  EXPECT_EQ(zone.take("b", 1, nodelay), std::chrono::milliseconds(0));  // another key
}

TEST(RequestRateZoneTest, WithoutNodelayTheBurstWaitsItsTurn) {
  RequestRateZone zone("long", 2000, 100);  // 2 r/s: one every 500 ms
  EXPECT_EQ(zone.take("a", 5, 0), std::chrono::milliseconds(0));
  auto second = zone.take("a", 5, 0);
  ASSERT_TRUE(second);
  EXPECT_GT(second->count(), 400);  // about 500 ms, less what passed since the first
  EXPECT_LE(second->count(), 500);
  RequestRateZone delayed("d", 2000, 100);
  EXPECT_EQ(delayed.take("a", 5, 2), std::chrono::milliseconds(0));
  EXPECT_EQ(delayed.take("a", 5, 2), std::chrono::milliseconds(0));  // within delay=2
}

TEST(RequestRateZoneTest, AFullZoneRefusesNewKeys) {
  RequestRateZone zone("tiny", 1, 2);  // a request every 1000 s: nothing drains in the test
  EXPECT_TRUE(zone.take("a", 0, UINT64_MAX));
  EXPECT_TRUE(zone.take("b", 0, UINT64_MAX));
  EXPECT_FALSE(zone.take("c", 0, UINT64_MAX));
}

TEST(ConnectionZoneTest, PlacesAreHeldUntilReleased) {
  auto zone = std::make_shared<ConnectionZone>("zone", 100);
  std::shared_ptr<void> first = zone->take("a", 1);
  ASSERT_TRUE(first);
  EXPECT_FALSE(zone->take("a", 1));
  EXPECT_TRUE(zone->take("b", 1));
  std::shared_ptr<void> copy = first;  // an async answer carries one
  first.reset();
  EXPECT_FALSE(zone->take("a", 1));
  copy.reset();
  EXPECT_TRUE(zone->take("a", 1));
}

}  // namespace
}  // namespace surge::edge
