// nginx's choice among an upstream's servers: smooth weighted round robin, max_fails within
// fail_timeout, backup servers, down, and a lone server that is never taken out.
#include "surge/edge/upstream_peers.h"

#include <gtest/gtest.h>

#include <map>

namespace surge::edge {
namespace {

using std::chrono::seconds;
using Clock = UpstreamPeers::Clock;

UpstreamServer server(int port, int weight = 1) {
  UpstreamServer s;
  s.host = "10.0.0.1";
  s.port = port;
  s.weight = weight;
  return s;
}

TEST(UpstreamPeersTest, WeightedRoundRobinIsSmoothAsNginx) {
  UpstreamPeers peers({server(1, 5), server(2, 1), server(3, 1)});
  const auto now = Clock::now();
  std::string order;
  for (int i = 0; i < 7; ++i)
    order += std::to_string(peers.server(*peers.pick(0, now)).port);
  // nginx's documented sequence for weights 5, 1, 1: interleaved, not five in a row.
  EXPECT_EQ(order, "1121311");
}

TEST(UpstreamPeersTest, MaxFailsTakesAServerOutForFailTimeoutThenOneRequestTriesIt) {
  UpstreamServer a = server(1), b = server(2);
  a.max_fails = 2;
  a.fail_timeout = seconds(10);
  UpstreamPeers peers({a, b});
  auto t = Clock::now();
  peers.failed(0, t);
  std::map<int, int> seen;
  for (int i = 0; i < 4; ++i)
    ++seen[peers.server(*peers.pick(0, t)).port];
  EXPECT_EQ(seen[1], 2) << "one failure of two allowed: still chosen";
  peers.failed(0, t);
  seen.clear();
  for (int i = 0; i < 4; ++i)
    ++seen[peers.server(*peers.pick(0, t + seconds(9))).port];
  EXPECT_EQ(seen[1], 0) << "two failures within fail_timeout: out";
  // After fail_timeout one request is let through; the others still see it out.
  seen.clear();
  for (int i = 0; i < 4; ++i)
    ++seen[peers.server(*peers.pick(0, t + seconds(11))).port];
  EXPECT_EQ(seen[1], 1);
  peers.succeeded(0);  // that one succeeded: back in
  seen.clear();
  for (int i = 0; i < 4; ++i)
    ++seen[peers.server(*peers.pick(0, t + seconds(11))).port];
  EXPECT_EQ(seen[1], 2);
}

TEST(UpstreamPeersTest, BackupOnlyWhenNoPrimaryIsLeftAndDownNever) {
  UpstreamServer a = server(1), b = server(2), backup = server(3), down = server(4);
  backup.backup = true;
  down.down = true;
  UpstreamPeers peers({a, b, backup, down});
  auto t = Clock::now();
  for (int i = 0; i < 6; ++i) {
    int port = peers.server(*peers.pick(0, t)).port;
    EXPECT_TRUE(port == 1 || port == 2) << port;
  }
  // The next server for a request that failed on both primaries: the backup, then none.
  EXPECT_EQ(peers.server(*peers.pick(0b11, t)).port, 3);
  EXPECT_FALSE(peers.pick(0b111, t).has_value());
  peers.failed(0, t);
  peers.failed(1, t);
  EXPECT_EQ(peers.server(*peers.pick(0, t)).port, 3);
  EXPECT_EQ(peers.server(*peers.pick(0, t)).port, 3);
}

TEST(UpstreamPeersTest, ALoneServerIsNeverTakenOut) {
  UpstreamPeers peers({server(1)});
  auto t = Clock::now();
  for (int i = 0; i < 5; ++i)
    peers.failed(0, t);
  ASSERT_TRUE(peers.pick(0, t).has_value());
  EXPECT_FALSE(peers.pick(0b1, t).has_value());  // but a request tries it once
}

TEST(UpstreamPeersTest, MaxFailsZeroNeverTakesOut) {
  UpstreamServer a = server(1), b = server(2);
  a.max_fails = 0;
  UpstreamPeers peers({a, b});
  auto t = Clock::now();
  for (int i = 0; i < 10; ++i)
    peers.failed(0, t);
  std::map<int, int> seen;
  for (int i = 0; i < 20; ++i)
    ++seen[peers.server(*peers.pick(0, t)).port];
  EXPECT_GT(seen[1], 0);
}

}  // namespace
}  // namespace surge::edge
