// Debian's Varnish with xkey as the CDN in front of two real surge-edges, a real origin telling it
// what changed (issue 19): from a booking's 201 to Varnish serving the new remaining count, no
// stale read once Varnish fetched again, stale-if-error with every edge down, and purges that wait
// out a failing purge endpoint without holding bookings up.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "../edge/edge_process.h"
#include "../edge/fault_proxy.h"
#include "../origin/purge_requests.h"
#include "surge/testing/reliability.h"
#include "surge/testing/temp_dir.h"
#include "varnish_process.h"

namespace surge::cdn::test {
namespace {

using edge::test::EdgeProcess;
using http::HttpClient;
using http::HttpResponse;
using nlohmann::json;
using origin::test::OriginProcess;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kCdnEdge = "  surge_cdn_max_age 1h;\n  surge_cache_tags varnish;\n";

// Seats left in clinic `id`'s snapshot at (date, time), as a reader of `port` sees it; -1 when
// the answer is not a snapshot. `cache` gets Varnish's X-Cache.
int remainingAt(int port, int64_t id, const std::string& date, const std::string& time,
                std::string* cache = nullptr) {
  HttpClient client("127.0.0.1", port, 5000ms);
  auto r = client.request("GET", "/api/v1/clinics/" + std::to_string(id));
  if (!r.ok() || r->status != 200) return -1;
  if (cache) *cache = r->header("x-cache");
  json body = json::parse(r->body, nullptr, false);
  if (!body.is_object()) return -1;
  for (const auto& d : body["dates"]) {
    if (d["date"] != date) continue;
    for (const auto& s : d["slots"]) {
      if (s["time"] == time) return s["remaining"].get<int>();
    }
  }
  return -1;
}

bool waitUntil(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  auto until = Clock::now() + timeout;
  while (Clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

TEST(VarnishCdnE2ETest, ABookingReachesTheCdnWithinASecondAndNoStaleReadFollows) {
  constexpr int kClinics = 20, kRounds = 10;  // 200 bookings
  testing::TempDir dir;
  const int varnish_port = testing::freeLoopbackPort();
  OriginProcess origin(origin::test::smallCatalog(kClinics, 1, 4, 50), 1,
                       {"--cdn-purge", origin::test::varnishPurgeConf(dir, varnish_port),
                        "--cdn-purge-delay-ms", "400"});
  EdgeProcess e1(origin, kCdnEdge), e2(origin, kCdnEdge);
  VarnishProcess varnish({e1.port(), e2.port()}, varnish_port);
  const std::string date = origin::test::kFirstDate;
  std::map<int64_t, int> seen;
  for (int64_t id = 100001; id < 100001 + kClinics; ++id) {
    ASSERT_TRUE(waitUntil(10s, [&] { return remainingAt(varnish.port(), id, date, "09:00") > 0; }))
        << id;
  }

  HttpClient booking("127.0.0.1", origin.port(), 10000ms);
  std::vector<double> latencies_ms;
  int stale_after_purge = 0, reads = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::map<int64_t, int> expected;
    std::map<int64_t, Clock::time_point> booked_at;
    for (int64_t id = 100001; id < 100001 + kClinics; ++id)
      expected[id] = remainingAt(varnish.port(), id, date, "09:00") - 1;
    for (int64_t id = 100001; id < 100001 + kClinics; ++id) {
      std::string who = "cdn-" + std::to_string(round) + "-" + std::to_string(id);
      HttpResponse r = origin::test::postBooking(
          booking, origin::test::bookingBody(id, date, "09:00", who), who);
      ASSERT_EQ(r.status, 201) << r.body;
      booked_at[id] = Clock::now();
    }
    std::map<int64_t, bool> updated;
    auto all = [&] {
      for (int64_t id = 100001; id < 100001 + kClinics; ++id) {
        std::string cache;
        int left = remainingAt(varnish.port(), id, date, "09:00", &cache);
        ++reads;
        if (left == expected[id] && !updated[id]) {
          updated[id] = true;
          latencies_ms.push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - booked_at[id]).count());
        } else if (left > expected[id] && (updated[id] || cache == "MISS")) {
          // Fetched from an edge after the purge (or seen new before) and still old: a purge
          // that came before the edges held the change.
          ++stale_after_purge;
        }
      }
      return static_cast<int>(std::count_if(updated.begin(), updated.end(),
                                            [](const auto& u) { return u.second; })) == kClinics;
    };
    ASSERT_TRUE(waitUntil(10s * SURGE_TEST_SLOWDOWN, all)) << "round " << round;
  }
  ASSERT_EQ(latencies_ms.size(), static_cast<size_t>(kClinics * kRounds));
  std::sort(latencies_ms.begin(), latencies_ms.end());
  double p50 = latencies_ms[latencies_ms.size() / 2];
  double p99 = latencies_ms[latencies_ms.size() * 99 / 100];
  std::printf(
      "201 -> Varnish serving the new count: %zu bookings, p50 %.0f ms, p99 %.0f ms, "
      "max %.0f ms; %d reads, %d stale after a purge\n",
      latencies_ms.size(), p50, p99, latencies_ms.back(), reads, stale_after_purge);
  EXPECT_EQ(stale_after_purge, 0);
  EXPECT_LE(p99, 1000.0 * SURGE_TEST_SLOWDOWN);
  testing::ReliabilityRow row("cdn", "a booking's 201 until Varnish (xkey) serves the new count");
  row.tried(static_cast<long>(latencies_ms.size()));
  row.count("seen later than 1 s", std::count_if(latencies_ms.begin(), latencies_ms.end(),
                                                 [](double l) { return l > 1000; }));
  row.count("stale reads after a purge", stale_after_purge);
  row.outcome("every change reached the CDN by a purge after the edges held it");
}

TEST(VarnishCdnE2ETest, WithEveryEdgeDownTheCdnServesWithinStaleIfError) {
  OriginProcess origin(origin::test::smallCatalog());
  const char* short_life = "  surge_cdn_max_age 2s;\n  surge_cache_tags varnish;\n";
  std::optional<EdgeProcess> e1(std::in_place, origin, short_life);
  std::optional<EdgeProcess> e2(std::in_place, origin, short_life);
  VarnishProcess varnish({e1->port(), e2->port()});
  const std::string date = origin::test::kFirstDate;
  ASSERT_TRUE(
      waitUntil(10s, [&] { return remainingAt(varnish.port(), 100001, date, "09:00") > 0; }));
  int held = remainingAt(varnish.port(), 100001, date, "09:00");
  // A browser that holds the waiting room's cookies still reads from the CDN's copy.
  HttpClient browser("127.0.0.1", varnish.port(), 5000ms);
  auto with_cookie = browser.request("GET", "/api/v1/clinics/100001",
                                     {{"Cookie", "surge_client=c1; surge_ticket=t1"}});
  ASSERT_TRUE(with_cookie.ok());
  EXPECT_EQ(with_cookie->header("x-cache"), "HIT");
  e1.reset();
  e2.reset();
  std::this_thread::sleep_for(3s);  // past the 2 s CDN life, and the probes have seen them go
  std::string cache;
  EXPECT_EQ(remainingAt(varnish.port(), 100001, date, "09:00", &cache), held);  // stale-if-error
  EXPECT_EQ(cache, "HIT");
  // What it never held it cannot serve.
  HttpClient client("127.0.0.1", varnish.port(), 5000ms);
  EXPECT_EQ(client.request("GET", "/api/v1/clinics/100002").value().status, 503);
}

TEST(VarnishCdnE2ETest, PurgesWaitOutAFailingPurgeEndpointAndBookingsGoOn) {
  testing::TempDir dir;
  const int varnish_port = testing::freeLoopbackPort();
  edge::test::FaultProxy purge_path(varnish_port);  // origin -> (this) -> Varnish
  purge_path.setMode(edge::test::FaultProxy::Mode::kFail500);
  OriginProcess origin(origin::test::smallCatalog(), 1,
                       {"--cdn-purge", origin::test::varnishPurgeConf(dir, purge_path.port()),
                        "--cdn-purge-delay-ms", "100"});
  EdgeProcess e1(origin, kCdnEdge), e2(origin, kCdnEdge);
  VarnishProcess varnish({e1.port(), e2.port()}, varnish_port);
  const std::string date = origin::test::kFirstDate;
  ASSERT_TRUE(
      waitUntil(10s, [&] { return remainingAt(varnish.port(), 100001, date, "09:00") > 0; }));
  const int before = remainingAt(varnish.port(), 100001, date, "09:00");

  HttpClient booking("127.0.0.1", origin.port(), 10000ms);
  for (int i = 0; i < 3; ++i) {
    auto t0 = Clock::now();
    HttpResponse r = origin::test::postBooking(
        booking, origin::test::bookingBody(100001, date, "09:00", "down-" + std::to_string(i)),
        "down-" + std::to_string(i));
    EXPECT_EQ(r.status, 201) << r.body;
    EXPECT_LT(Clock::now() - t0, 2s);  // never held up by the CDN
  }
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(remainingAt(varnish.port(), 100001, date, "09:00"), before);  // the purges failed
  EXPECT_GE(purge_path.requests(), 1u);
  // The edges have the new count all along (memcached): only the CDN waits for its purge.
  EXPECT_EQ(remainingAt(e1.port(), 100001, date, "09:00"), before - 3);

  purge_path.setMode(edge::test::FaultProxy::Mode::kPass);
  EXPECT_TRUE(waitUntil(40s, [&] {
    return remainingAt(varnish.port(), 100001, date, "09:00") == before - 3;
  })) << "the purge was not delivered once its endpoint came back";
}

}  // namespace
}  // namespace surge::cdn::test
