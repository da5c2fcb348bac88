// CdnPurger against a recording HTTP endpoint (the Varnish and Akamai shapes): batching, the delay
// after a change, retries, a dead endpoint, the provider's limits, the metrics.
#include "surge/origin/cdn_purger.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>

#include "purge_requests.h"
#include "surge/testing/http_recorder.h"

namespace surge::origin {
namespace {

using namespace std::chrono_literals;

CdnEndpoint endpointAt(int port, const std::string& options = "") {
  return parseCdnEndpoints("varnish http://127.0.0.1:" + std::to_string(port) + "/ " + options,
                           "cdn.conf")
      .value()
      .at(0);
}

std::vector<std::string> tagsOf(const std::string& request) {
  return test::xkeyPurgeTags(request);
}

// Tags without a coarser one.
std::vector<CdnPurger::Tag> exact(const std::vector<std::string>& tags) {
  std::vector<CdnPurger::Tag> out;
  for (const std::string& t : tags)
    out.push_back({t, ""});
  return out;
}

std::string metric(base::MetricsRegistry& m, const std::string& line_start) {
  std::string text = m.render();
  size_t at = text.find("\n" + line_start);
  if (at == std::string::npos) return "";
  size_t end = text.find('\n', at + 1);
  return text.substr(at + 1 + line_start.size(), end - at - 1 - line_start.size());
}

TEST(CdnPurgerTest, WhatIsDueGoesOutBatchedAfterTheDelayEachTagOnce) {
  testing::HttpRecorder cdn;
  base::MetricsRegistry metrics;
  CdnPurger::Options o;
  o.delay = 300ms;
  CdnPurger purger({endpointAt(cdn.port())}, metrics, o);
  purger.start();
  std::vector<std::string> tags;
  for (int i = 0; i < 250; ++i)
    tags.push_back("snap.clinic." + std::to_string(100000 + i));
  purger.purge(exact(tags));
  EXPECT_EQ(cdn.count(), 0u);             // not before the edges can hold the new versions
  ASSERT_EQ(cdn.waitFor(3, 5000ms), 3u);  // 100 tags a request (Varnish's default)
  std::multiset<std::string> sent;
  for (const std::string& r : cdn.requests()) {
    EXPECT_EQ(r.substr(0, 16), "PURGE / HTTP/1.1") << r;
    for (const std::string& t : tagsOf(r))
      sent.insert(t);
  }
  EXPECT_EQ(sent, std::multiset<std::string>(tags.begin(), tags.end()));
  EXPECT_EQ(cdn.waitFor(4, 300ms), 3u);
  const std::string label = "{endpoint=\"varnish:127.0.0.1\"";
  EXPECT_EQ(metric(metrics, "surge_origin_purge_tags_total" + label + "} "), "250");
  EXPECT_EQ(metric(metrics, "surge_origin_purge_requests_total" + label + ",outcome=\"sent\"} "),
            "3");
  EXPECT_EQ(metric(metrics, "surge_origin_purge_queue" + label + "} "), "0");
}

TEST(CdnPurgerTest, ATagChangedAgainWhileWaitingIsPurgedAgainAfterThatChange) {
  testing::HttpRecorder cdn;
  base::MetricsRegistry metrics;
  CdnPurger::Options o;
  o.delay = 400ms;
  CdnPurger purger({endpointAt(cdn.port())}, metrics, o);
  purger.start();
  purger.purge(exact({"snap.clinic.7"}));
  std::this_thread::sleep_for(200ms);
  purger.purge(
      exact({"snap.clinic.7"}));  // the edges may not hold this version until 400 ms from now
  ASSERT_EQ(cdn.waitFor(2, 5000ms), 2u);
  for (const std::string& r : cdn.requests())
    EXPECT_EQ(tagsOf(r), std::vector<std::string>{"snap.clinic.7"});
}

TEST(CdnPurgerTest, AFailedPurgeIsSentAgainAndADeadEndpointHoldsNobodyUp) {
  testing::HttpRecorder cdn;
  cdn.script({503, 429});
  base::MetricsRegistry metrics;
  CdnPurger::Options o;
  o.delay = 0ms;
  o.backoff_min = 50ms;
  CdnPurger purger({endpointAt(cdn.port())}, metrics, o);
  purger.start();
  purger.purge(exact({"snap.regions"}));
  ASSERT_EQ(cdn.waitFor(3, 5000ms), 3u);  // 503, 429, then accepted
  EXPECT_EQ(tagsOf(cdn.requests()[2]), std::vector<std::string>{"snap.regions"});
  const std::string label = "{endpoint=\"varnish:127.0.0.1\"";
  EXPECT_EQ(metric(metrics, "surge_origin_purge_retries_total" + label + "} "), "2");

  cdn.stop();  // refuses connections now
  auto before = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i)
    purger.purge(exact({"snap.clinic." + std::to_string(i)}));
  EXPECT_LT(std::chrono::steady_clock::now() - before, 1s);  // returns at once, CDN or not
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(metric(metrics, "surge_origin_purge_queue" + label + "} "), "100");
  cdn.start();
  ASSERT_GE(cdn.waitFor(4, 10000ms), 4u);  // delivered once it is back
  std::set<std::string> delivered;
  for (size_t i = 3; i < cdn.requests().size(); ++i) {
    for (const std::string& t : tagsOf(cdn.requests()[i]))
      delivered.insert(t);
  }
  EXPECT_EQ(delivered.size(), 100u);
}

TEST(CdnPurgerTest, AnAnswerNoRetryFixesIsCountedAndNotSentAgain) {
  testing::HttpRecorder cdn;
  cdn.script({401});
  base::MetricsRegistry metrics;
  CdnPurger::Options o;
  o.delay = 0ms;
  o.backoff_min = 20ms;
  CdnPurger purger({endpointAt(cdn.port())}, metrics, o);
  purger.start();
  purger.purge(exact({"snap.regions"}));
  ASSERT_EQ(cdn.waitFor(1, 5000ms), 1u);
  EXPECT_EQ(cdn.waitFor(2, 500ms), 1u);
  EXPECT_EQ(metric(metrics,
                   "surge_origin_purge_requests_total{endpoint=\"varnish:127.0.0.1\","
                   "outcome=\"failed\"} "),
            "1");
}

TEST(CdnPurgerTest, TheProvidersLimitsAreKept) {
  testing::HttpRecorder cdn;
  base::MetricsRegistry metrics;
  CdnPurger::Options o;
  o.delay = 0ms;
  // Akamai's kind of limit: tags have a bucket of their own (3 now, then one a second).
  CdnEndpoint tags_limited = endpointAt(cdn.port(), "tags_per_minute=60 tag_burst=3");
  CdnPurger purger({tags_limited}, metrics, o);
  purger.start();
  purger.purgeNow({"a", "b", "c", "d", "e"});
  ASSERT_EQ(cdn.waitFor(1, 5000ms), 1u);
  EXPECT_EQ(tagsOf(cdn.requests()[0]).size(), 3u);  // the burst, not all five
  ASSERT_EQ(cdn.waitFor(2, 5000ms), 2u);
  EXPECT_EQ(tagsOf(cdn.requests()[1]).size(), 1u);  // then as the bucket refills

  // And requests: a burst of one, then two a second.
  testing::HttpRecorder slow;
  CdnPurger paced(
      {endpointAt(slow.port(), "tags_per_request=1 requests_per_second=2 request_burst=1")},
      metrics, o);
  paced.start();
  paced.purgeNow({"a", "b", "c", "d"});
  ASSERT_EQ(slow.waitFor(1, 5000ms), 1u);
  EXPECT_LE(slow.waitFor(4, 200ms), 2u);  // not all at once
  EXPECT_EQ(slow.waitFor(4, 5000ms), 4u);
}

// What each provider's API receives, byte for byte, as its documentation shows the request.
TEST(CdnPurgerTest, EachProvidersRequestArrivesAsDocumented) {
  testing::HttpRecorder api;
  const std::string at = "http://127.0.0.1:" + std::to_string(api.port());
  auto endpoints =
      parseCdnEndpoints("fastly " + at +
                            "/service/SVC1/purge token=FK soft=on\n"
                            "cloudflare " +
                            at +
                            "/client/v4/zones/Z9/purge_cache token=CF\n"
                            "akamai " +
                            at +
                            "/ccu/v3/delete/tag/production client_token=CT access_token=AT "
                            "client_secret=CS\n"
                            "varnish " +
                            at + "/\n",
                        "cdn.conf");
  ASSERT_TRUE(endpoints.ok()) << endpoints.error();
  base::MetricsRegistry metrics;
  CdnPurger purger(std::move(endpoints.value()), metrics, CdnPurger::Options{});
  purger.start();
  purger.purgeNow({"region.11", "snap.clinic.7"});
  ASSERT_EQ(api.waitFor(4, 5000ms), 4u);
  const std::string host = "Host: 127.0.0.1:" + std::to_string(api.port()) + "\r\n";
  std::map<std::string, std::string> got;
  for (const std::string& r : api.requests())
    got[r.substr(0, r.find(' ', r.find(' ') + 1))] = r;
  const std::string keys = R"({"surrogate_keys":["region.11","snap.clinic.7"]})";
  EXPECT_EQ(got["POST /service/SVC1/purge"],
            "POST /service/SVC1/purge HTTP/1.1\r\n" + host +
                "Fastly-Key: FK\r\nAccept: application/json\r\nContent-Type: application/json\r\n"
                "Fastly-Soft-Purge: 1\r\nContent-Length: " +
                std::to_string(keys.size()) + "\r\n\r\n" + keys);
  const std::string tags = R"({"tags":["region.11","snap.clinic.7"]})";
  EXPECT_EQ(got["POST /client/v4/zones/Z9/purge_cache"],
            "POST /client/v4/zones/Z9/purge_cache HTTP/1.1\r\n" + host +
                "Authorization: Bearer CF\r\nContent-Type: application/json\r\nContent-Length: " +
                std::to_string(tags.size()) + "\r\n\r\n" + tags);
  EXPECT_EQ(got["PURGE /"],
            "PURGE / HTTP/1.1\r\n" + host + "xkey-purge: region.11 snap.clinic.7\r\n\r\n");
  const std::string objects = R"({"objects":["region.11","snap.clinic.7"]})";
  const std::string& akamai = got["POST /ccu/v3/delete/tag/production"];
  EXPECT_TRUE(std::regex_match(
      akamai,
      std::regex("POST /ccu/v3/delete/tag/production HTTP/1\\.1\r\n" + host +
                 "Content-Type: application/json\r\n"
                 "Authorization: EG1-HMAC-SHA256 client_token=CT;access_token=AT;"
                 "timestamp=[0-9]{8}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\+0000;"
                 "nonce=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12};"
                 "signature=[A-Za-z0-9+/]{43}=\r\nContent-Length: " +
                 std::to_string(objects.size()) + "\r\n\r\n" +
                 std::regex_replace(objects, std::regex(R"([\[\]{}.])"), R"(\$&)"))))
      << akamai;
}

TEST(CdnPurgerTest, BehindItsLimitsAnEndpointGetsTheCoarserTags) {
  testing::HttpRecorder cdn;
  base::MetricsRegistry metrics;
  CdnPurger::Options o;
  o.delay = 0ms;
  // One tag a request, one request a second: 5 tags in the 5 s backlog.
  CdnPurger purger(
      {endpointAt(cdn.port(), "tags_per_request=1 requests_per_second=1 request_burst=1")}, metrics,
      o);
  auto clinics = [](int from) {
    std::vector<CdnPurger::Tag> out;
    for (int i = from; i < from + 10; ++i)
      out.push_back({"snap.clinic." + std::to_string(i), "region.11110"});
    return out;
  };
  purger.purge(clinics(0));   // not behind yet: each clinic's own tag
  purger.purge(clinics(10));  // 10 waiting > 5: the region's tag, once, for all ten
  const std::string label = "{endpoint=\"varnish:127.0.0.1\"} ";
  EXPECT_EQ(metric(metrics, "surge_origin_purge_coarsened_total" + label), "10");
  EXPECT_EQ(metric(metrics, "surge_origin_purge_queue" + label), "11");
  purger.start();
  ASSERT_GE(cdn.waitFor(1, 5000ms), 1u);
}

}  // namespace
}  // namespace surge::origin
