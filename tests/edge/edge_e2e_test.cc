// End to end: real memcached + surge-origin + surge-edge processes on loopback ports. Each test
// starts its own set and stops them by PID.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "edge_process.h"
#include "surge/cache/queue.h"
#include "surge/cache/zstd_codec.h"
#include "surge/testing/reliability.h"

namespace surge::edge::test {
namespace {

TEST(EdgeE2ETest, StaticFilesWithSendfileRangesAndValidators) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin);
  std::string big;
  for (int i = 0; big.size() < (1u << 20); ++i)
    big += "line " + std::to_string(i) + "\n";
  big.resize(1u << 20);
  writeFile(edge.path("html/big.txt"), big);
  writeFile(edge.path("html/assets/app.3f9c2a1b.js"), "console.log(1);\n");
  writeFile(edge.path("html/assets/app.js"), "console.log(2);\n");

  HttpResponse r = edge.get("/big.txt");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, big);  // 1 MiB through sendfile
  EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r.header("cache-control"), "max-age=60");
  std::string etag = r.header("etag");
  ASSERT_FALSE(etag.empty());

  HttpResponse head = edge.get("/big.txt", {}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), std::to_string(big.size()));
  EXPECT_TRUE(head.body.empty());

  EXPECT_EQ(edge.get("/big.txt", {{"If-None-Match", etag}}).status, 304);
  EXPECT_EQ(edge.get("/big.txt", {{"If-Modified-Since", r.header("last-modified")}}).status, 304);

  HttpResponse part = edge.get("/big.txt", {{"Range", "bytes=1000-1999"}});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, big.substr(1000, 1000));
  EXPECT_EQ(part.header("content-range"), "bytes 1000-1999/1048576");
  HttpResponse tail = edge.get("/big.txt", {{"Range", "bytes=-5"}});
  EXPECT_EQ(tail.body, big.substr(big.size() - 5));
  HttpResponse multi = edge.get("/big.txt", {{"Range", "bytes=0-3,10-13"}});
  EXPECT_EQ(multi.status, 206);
  EXPECT_NE(multi.header("content-type").find("multipart/byteranges; boundary="),
            std::string::npos);
  EXPECT_NE(multi.body.find(big.substr(10, 4)), std::string::npos);
  EXPECT_EQ(edge.get("/big.txt", {{"Range", "bytes=2000000-"}}).status, 416);
  EXPECT_EQ(edge.get("/big.txt", {{"Range", "bytes=0-,0-"}}).status, 200);  // more than the file

  EXPECT_EQ(edge.get("/assets/app.3f9c2a1b.js").header("cache-control"),
            "public, max-age=31536000, immutable");
  EXPECT_EQ(edge.get("/assets/app.js").header("cache-control"), "");
  EXPECT_EQ(edge.get("/missing.txt").status, 404);
  EXPECT_EQ(edge.get("/%2e%2e/edge.conf").status, 400);
  EXPECT_EQ(edge.get("/assets/%2e%2e/%2e%2e/edge.conf").status, 400);
  EXPECT_EQ(edge.get("/%252e%252e/edge.conf").status, 404);  // decoded once: a literal name
  EXPECT_EQ(edge.get("/assets").status, 301);
  EXPECT_EQ(edge.post("/big.txt", "{}").status, 405);
}

TEST(EdgeE2ETest, PrecompressedSiblingsFollowAcceptEncoding) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin);
  writeFile(edge.path("html/app.css"), "body { color: red }\n");
  writeFile(edge.path("html/app.css.gz"), "GZIP-BYTES");
  writeFile(edge.path("html/app.css.zst"), "ZSTD-BYTES");
  HttpResponse plain = edge.get("/app.css");
  EXPECT_EQ(plain.body, "body { color: red }\n");
  EXPECT_EQ(plain.header("vary"), "Accept-Encoding");
  EXPECT_EQ(plain.header("content-encoding"), "");
  HttpResponse gz = edge.get("/app.css", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(gz.body, "GZIP-BYTES");
  EXPECT_EQ(gz.header("content-encoding"), "gzip");
  EXPECT_EQ(gz.header("content-type"), "text/css; charset=utf-8");
  HttpResponse zst = edge.get("/app.css", {{"Accept-Encoding", "gzip, zstd"}});
  EXPECT_EQ(zst.body, "ZSTD-BYTES");
  EXPECT_NE(zst.header("etag"), gz.header("etag"));
  EXPECT_EQ(edge.get("/app.css", {{"Accept-Encoding", "zstd;q=0, gzip;q=0.5"}}).body, "GZIP-BYTES");
}

TEST(EdgeE2ETest, SnapshotsFromL1WithValidatorsAndEncodings) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin);
  HttpResponse r = waitFor200(edge, "/api/v1/regions");
  ASSERT_EQ(r.status, 200) << r.body;
  auto json = nlohmann::json::parse(r.body);
  EXPECT_EQ(json["regions"].size(), 5u);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("etag"), "\"v" + std::to_string(json["version"].get<uint64_t>()) + "\"");
  EXPECT_EQ(r.header("vary"), "Accept-Encoding");
  EXPECT_NE(r.header("cache-control").find("max-age=2, s-maxage=2, stale-while-revalidate="),
            std::string::npos)
      << r.header("cache-control");
  EXPECT_FALSE(r.header("age").empty());
  EXPECT_EQ(edge.get("/api/v1/regions", {{"If-None-Match", r.header("etag")}}).status, 304);

  HttpResponse clinic = waitFor200(edge, "/api/v1/clinics/100001");
  ASSERT_EQ(clinic.status, 200);
  HttpResponse z = edge.get("/api/v1/clinics/100001", {{"Accept-Encoding", "zstd"}});
  ASSERT_EQ(z.header("content-encoding"), "zstd");
  EXPECT_EQ(cache::zstdDecompress(z.body, clinic.body.size()).value(), clinic.body);
  // gzip is made once a client that takes gzip but not zstd asks: that first client gets the
  // identity body, the next ones gzip from the refresher (asked at once, not at its next tick).
  HttpResponse first = edge.get("/api/v1/clinics/100001", {{"Accept-Encoding", "gzip"}});
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.header("content-encoding"), "");
  EXPECT_EQ(first.body, clinic.body);
  HttpResponse g;
  for (int i = 0; i < 100; ++i) {
    g = edge.get("/api/v1/clinics/100001", {{"Accept-Encoding", "gzip"}});
    if (!g.header("content-encoding").empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(g.header("content-encoding"), "gzip");
  EXPECT_EQ(gunzip(g.body), clinic.body);
  HttpResponse head = edge.get("/api/v1/clinics/100001", {}, "HEAD");
  EXPECT_EQ(head.header("content-length"), std::to_string(clinic.body.size()));
  EXPECT_TRUE(head.body.empty());

  EXPECT_EQ(waitFor200(edge, "/api/v1/regions/11/clinics").status, 200);
  HttpResponse unknown = edge.get("/api/v1/clinics/999999");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("unknown clinic"), std::string::npos);
  EXPECT_EQ(edge.get("/api/v1/regions/99/clinics").status, 404);
  EXPECT_EQ(edge.get("/api/v1/clinics/abc").status, 404);
  EXPECT_EQ(edge.post("/api/v1/regions", "{}").status, 405);
}

TEST(EdgeE2ETest, BookingThroughTheEdgeShowsInTheClinicSnapshot) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin);
  auto before = nlohmann::json::parse(waitFor200(edge, "/api/v1/clinics/100002").body);
  int remaining = before["dates"][0]["slots"][0]["remaining"];
  HttpResponse created = edge.post(
      "/api/v1/bookings", bookingBody(100002, origin::test::kFirstDate, "09:00", "edge-person-1"),
      {{"Idempotency-Key", "edge-key-1"}, {"X-Request-Id", "rid-7"}});
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.header("x-request-id"), "rid-7");
  auto booking = nlohmann::json::parse(created.body);
  // The same request again: origin's idempotent replay, through the edge's kept-alive pool.
  HttpResponse replay = edge.post(
      "/api/v1/bookings", bookingBody(100002, origin::test::kFirstDate, "09:00", "edge-person-1"),
      {{"Idempotency-Key", "edge-key-1"}});
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.header("idempotent-replayed"), "true");
  HttpResponse read =
      edge.get("/api/v1/bookings/" + booking["booking_id"].get<std::string>(),
               {{"Authorization", "Bearer " + booking["token"].get<std::string>()}});
  EXPECT_EQ(read.status, 200) << read.body;
  // HEAD through the proxy: origin's length, no body, and at once (not after the read timeout).
  auto t0 = std::chrono::steady_clock::now();
  HttpResponse head =
      edge.get("/api/v1/bookings/" + booking["booking_id"].get<std::string>(),
               {{"Authorization", "Bearer " + booking["token"].get<std::string>()}}, "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), std::to_string(read.body.size()));
  EXPECT_TRUE(head.body.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);

  // Published by origin (~20 ms coalescing), refreshed by the edge (200 ms interval).
  auto deadline = std::chrono::steady_clock::now() + 5s;
  int now_remaining = remaining;
  while (std::chrono::steady_clock::now() < deadline) {
    auto j = nlohmann::json::parse(edge.get("/api/v1/clinics/100002").body);
    now_remaining = j["dates"][0]["slots"][0]["remaining"];
    if (now_remaining == remaining - 1) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(now_remaining, remaining - 1);
  EXPECT_GE(metric(edge.metrics(), "surge_edge_origin_connections_reused_total"), 1);
}

TEST(EdgeE2ETest, MemcachedDownServesStaleThenRecovers) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin);
  HttpResponse fresh = waitFor200(edge, "/api/v1/clinics/100001");
  ASSERT_EQ(fresh.status, 200);
  origin.memcached().kill();
  std::this_thread::sleep_for(3500ms);  // past the snapshot's 2 s max-age
  HttpResponse stale = edge.get("/api/v1/clinics/100001");
  EXPECT_EQ(stale.status, 200);
  EXPECT_EQ(stale.body, fresh.body);
  EXPECT_GE(std::stoi(stale.header("age")), 3);
  EXPECT_NE(stale.header("warning").find("110"), std::string::npos);
  std::string m = edge.metrics();
  EXPECT_GE(metric(m, "surge_edge_l1_stale_total"), 1);
  EXPECT_GE(metric(m, "surge_edge_memcached_errors_total"), 1);
  // A snapshot never fetched cannot be served: a quick 503, not a hang.
  auto t0 = std::chrono::steady_clock::now();
  HttpResponse cold = edge.get("/api/v1/clinics/100004");
  EXPECT_EQ(cold.status, 503);
  EXPECT_EQ(cold.header("retry-after"), "1");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);

  origin.memcached().restart();  // empty; origin republishes everything within 2 s here
  auto deadline = std::chrono::steady_clock::now() + 10s;
  int age = 99;
  while (std::chrono::steady_clock::now() < deadline) {
    HttpResponse r = edge.get("/api/v1/clinics/100001");
    age = std::stoi(r.header("age"));
    if (r.status == 200 && age <= 1) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_LE(age, 1);
  EXPECT_EQ(waitFor200(edge, "/api/v1/clinics/100004").status, 200);
}

TEST(EdgeE2ETest, ARemovedNamedSnapshotIsA404AtOnceNotAStaleCopy) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin);
  ASSERT_EQ(
      origin.admin("PUT", "/admin/v1/snapshots/notice", "closed on Sunday", "text/plain").status,
      200);
  ASSERT_EQ(waitFor200(edge, "/api/v1/snapshots/notice").body, "closed on Sunday");
  ASSERT_EQ(origin.admin("DELETE", "/admin/v1/snapshots/notice").status, 204);
  // The tombstone is seen by the next refresh (200 ms here), not after stale-if-error (300 s).
  auto deadline = std::chrono::steady_clock::now() + 3s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline && status != 404) {
    status = edge.get("/api/v1/snapshots/notice").status;
    if (status != 404) std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(status, 404);
  EXPECT_EQ(origin.admin("DELETE", "/admin/v1/snapshots/notice").status, 404);
  // Pushed again: served again.
  ASSERT_EQ(origin.admin("PUT", "/admin/v1/snapshots/notice", "open again", "text/plain").status,
            200);
  EXPECT_EQ(waitFor200(edge, "/api/v1/snapshots/notice").body, "open again");
}

// Regression: a real clinic whose snapshot was not (yet) in memcached answered 404 "unknown
// clinic". Unknown is what origin's catalog does not list: a 404 at once, without asking
// memcached. A known snapshot memcached lacks is a 503 + Retry-After that no shared cache keeps,
// and origin, told of the gap, republishes it within a second.
TEST(EdgeE2ETest, OnlyOriginsCatalogMakesA404AKnownMissingSnapshotIsAGap) {
  OriginProcess origin(origin::test::smallCatalog(), 1, {"--full-publish-interval", "0"});
  EdgeProcess edge(origin);
  ASSERT_EQ(waitFor200(edge, "/readyz").status, 200);
  uint64_t gets_before = memcachedGets(origin.memcached().port());
  HttpResponse unknown = edge.get("/api/v1/clinics/999999");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("unknown clinic"), std::string::npos);
  EXPECT_EQ(unknown.header("cache-control"), "public, max-age=2, s-maxage=2");
  EXPECT_EQ(edge.get("/api/v1/regions/99999/clinics").status, 404);
  EXPECT_EQ(edge.get("/api/v1/snapshots/never-pushed").status, 404);
  // Junk names cost memcached nothing (the refresher's own reads are a few per 200 ms).
  EXPECT_LE(memcachedGets(origin.memcached().port()) - gets_before, 10u);

  // clinic/100003 lost from memcached (an eviction, a node gone), never read by this edge.
  cache::MemcachedOptions mo;
  mo.servers = {origin.memcached().address()};
  auto mc = std::move(cache::MemcachedClient::create(mo).value());
  ASSERT_TRUE(mc->remove(cache::snapshotKey("clinic/100003")).ok());
  HttpResponse gap = edge.get("/api/v1/clinics/100003");
  EXPECT_EQ(gap.status, 503) << gap.body;
  EXPECT_EQ(gap.header("retry-after"), "1");
  EXPECT_EQ(gap.header("cache-control"), "private, no-store");
  // Reported and republished: back well within a second, with no full publish to wait for.
  auto t0 = std::chrono::steady_clock::now();
  HttpResponse back = waitFor200(edge, "/api/v1/clinics/100003", SURGE_TEST_SLOWDOWN * 1000ms);
  EXPECT_EQ(back.status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, SURGE_TEST_SLOWDOWN * 1000ms);
  EXPECT_GE(metric(edge.metrics(), "surge_edge_gap_reports_total{outcome=\"accepted\"}"), 1);
}

// Regression: /readyz said ready while the first full publish was still running. The edge is
// ready only once it holds origin's catalog (written last in a full publish); origin only once
// that publish is done.
TEST(EdgeE2ETest, ReadyOnlyOnceEverythingTheCatalogListsIsPublished) {
  OriginProcess origin(origin::test::smallCatalog(), 1, {"--full-publish-interval", "0"});
  cache::MemcachedOptions mo;
  mo.servers = {origin.memcached().address()};
  auto mc = std::move(cache::MemcachedClient::create(mo).value());
  for (int i = 0; i < 100 && !mc->get(cache::snapshotKey("catalog"))->has_value(); ++i)
    std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(mc->remove(cache::snapshotKey("catalog")).ok());
  origin.suspend();  // nobody to republish it yet
  EdgeProcess edge(origin);
  std::this_thread::sleep_for(600ms);  // several refreshes
  HttpResponse not_ready = edge.get("/readyz");
  EXPECT_EQ(not_ready.status, 503) << not_ready.body;
  EXPECT_NE(not_ready.body.find("\"snapshots\":false"), std::string::npos) << not_ready.body;
  // A clinic it cannot judge yet is not a 404 either.
  EXPECT_EQ(edge.get("/api/v1/clinics/100001").status, 200) << "in memcached: served";
  EXPECT_NE(edge.get("/api/v1/clinics/999999").status, 404);
  origin.resume();  // the edge's gap report gets through: the catalog is republished
  EXPECT_EQ(waitFor200(edge, "/readyz", SURGE_TEST_SLOWDOWN * 3000ms).status, 200);
  EXPECT_EQ(edge.get("/api/v1/clinics/999999").status, 404);
}

// The whole answer to GET `target` with `headers` ("Name: value\r\n" each), sent from `source`
// (any 127.0.0.0/8 address is this host) to the edge on 127.0.0.1:`port`.
std::string getFrom(const std::string& source, int port, const std::string& target,
                    const std::string& headers = "") {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in from{}, to{};
  from.sin_family = to.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  to.sin_port = htons(static_cast<uint16_t>(port));
  std::string out;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0 &&
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) {
    std::string req =
        "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers + "Connection: close\r\n\r\n";
    (void)!::send(fd, req.data(), req.size(), 0);
    char buf[2048];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0)
      out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string statusFrom(const std::string& source, int port, const std::string& target) {
  std::string answer = getFrom(source, port, target);
  return answer.substr(0, answer.find("\r\n"));
}

// Regression: /metrics, /healthz and /readyz answered anyone on the public port. allow/deny as
// nginx has them; a `surge_status` location gives a status path rules of its own.
TEST(EdgeE2ETest, StatusEndpointsAndLocationsObeyAllowAndDeny) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin, "", R"(    deny 127.0.0.3;
    location = /metrics { surge_status; allow 127.0.0.1; deny all; }
    location /private/ { root html; allow 127.0.0.2; deny all; }
)");
  writeFile(edge.path("html/private/x.txt"), "private\n");
  EXPECT_EQ(statusFrom("127.0.0.1", edge.port(), "/metrics"), "HTTP/1.1 200 OK");
  EXPECT_EQ(statusFrom("127.0.0.2", edge.port(), "/metrics"), "HTTP/1.1 403 Forbidden");
  EXPECT_EQ(statusFrom("127.0.0.2", edge.port(), "/healthz"), "HTTP/1.1 200 OK");
  EXPECT_EQ(statusFrom("127.0.0.3", edge.port(), "/healthz"), "HTTP/1.1 403 Forbidden");
  EXPECT_EQ(statusFrom("127.0.0.3", edge.port(), "/api/v1/regions"), "HTTP/1.1 403 Forbidden");
  EXPECT_EQ(statusFrom("127.0.0.2", edge.port(), "/private/x.txt"), "HTTP/1.1 200 OK");
  EXPECT_EQ(statusFrom("127.0.0.1", edge.port(), "/private/x.txt"), "HTTP/1.1 403 Forbidden");
  HttpResponse refused = edge.get("/private/x.txt");
  EXPECT_EQ(refused.header("content-type"), "application/json");
  EXPECT_NE(refused.body.find("\"forbidden\""), std::string::npos);
}

// Lookups by booking code are limited per client at the edge (and per person at origin).
TEST(EdgeE2ETest, LookupsAreLimitedPerClient) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin, "  surge_lookup_limit 3 1m;\n");
  auto lookup = [&](const std::string& source, const std::string& person) {
    return getFrom(source, edge.port(), "/api/v1/bookings/lookup",
                   "Authorization: Basic " + base::base64Encode(person + ":ABCD-EFGH") + "\r\n");
  };
  for (int i = 0; i < 3; ++i) {
    std::string r = lookup("127.0.0.5", "person-" + std::to_string(i));
    EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 404") << r;
  }
  std::string limited = lookup("127.0.0.5", "person-9");
  EXPECT_EQ(limited.substr(0, 12), "HTTP/1.1 429") << limited;
  EXPECT_NE(limited.find("Retry-After: "), std::string::npos);
  EXPECT_NE(limited.find("\"too_many_attempts\""), std::string::npos);
  EXPECT_EQ(lookup("127.0.0.6", "person-9").substr(0, 12), "HTTP/1.1 404") << "another client";
}

// Regression: the same failure had two codes - http_413 from the edge's parser, body_too_large
// from origin.
TEST(EdgeE2ETest, ATooLargeBodyHasOneErrorCodeAtEdgeAndOrigin) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin);  // client_max_body_size 16k (the default); origin takes 4 KiB
  std::string at_origin =
      std::string(6000, ' ') + bookingBody(100001, origin::test::kFirstDate, "09:00", "big-body");
  HttpResponse from_origin = edge.post("/api/v1/bookings", at_origin, {{"Idempotency-Key", "b1"}});
  EXPECT_EQ(from_origin.status, 413);
  EXPECT_NE(from_origin.body.find("\"code\":\"body_too_large\""), std::string::npos)
      << from_origin.body;
  HttpClient client("127.0.0.1", edge.port());
  auto from_edge = client.request("POST", "/api/v1/bookings",
                                  {{"Content-Type", "application/json"}, {"Idempotency-Key", "b2"}},
                                  std::string(20000, ' '));
  ASSERT_TRUE(from_edge.ok()) << from_edge.error();
  EXPECT_EQ(from_edge->status, 413);
  EXPECT_NE(from_edge->body.find("\"code\":\"body_too_large\""), std::string::npos)
      << from_edge->body;
}

TEST(EdgeE2ETest, SnapshotFailingVerificationIsNeverServed) {
  // No periodic full publish: nothing rewrites memcached over the test's tampering.
  OriginProcess origin(origin::test::smallCatalog(), 1, {"--full-publish-interval", "0"});
  EdgeProcess edge(origin);
  // An operator's notice, pushed through origin (so its catalog lists it).
  ASSERT_EQ(origin.admin("PUT", "/admin/v1/snapshots/notice", "good notice", "text/plain").status,
            200);
  cache::MemcachedOptions mo;
  mo.servers = {origin.memcached().address()};
  auto mc = std::move(cache::MemcachedClient::create(mo).value());
  cache::Keyring keys = cache::Keyring::parse(origin::test::kSnapshotKeyLine, "test").value();
  cache::SnapshotFields f;
  f.max_age_s = 2;
  f.content_type = "text/plain";
  HttpResponse good = waitFor200(edge, "/api/v1/snapshots/notice");
  ASSERT_EQ(good.status, 200);
  EXPECT_EQ(good.body, "good notice");
  EXPECT_EQ(good.header("content-type"), "text/plain");

  f.version = 1u << 30;  // newer than anything origin stamped
  std::string forged =
      cache::sealSnapshot(keys, f, "forged notice", cache::BodyEncoding::kIdentity).value();
  forged[forged.size() - 40] ^= 1;  // one bit of the body: the MAC no longer matches
  ASSERT_TRUE(mc->set(cache::snapshotKey("named/notice"), forged).ok());
  std::this_thread::sleep_for(700ms);  // several refreshes
  EXPECT_EQ(edge.get("/api/v1/snapshots/notice").body, "good notice");
  cache::Keyring other = cache::Keyring::parse("snap-1 " + std::string(64, '6'), "x").value();
  auto wrong_key = cache::sealSnapshot(other, f, "wrong key", cache::BodyEncoding::kZstd);
  ASSERT_TRUE(mc->set(cache::snapshotKey("named/notice"), wrong_key.value()).ok());
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(edge.get("/api/v1/snapshots/notice").body, "good notice");
  EXPECT_GE(metric(edge.metrics(), "surge_edge_snapshot_verify_failures_total"), 2);
  EXPECT_NE(edge.log().find("snapshot named/notice refused"), std::string::npos) << edge.log();
  testing::ReliabilityRow row("tampering", "snapshot written to memcached without the key");
  row.tried(2);
  row.outcome("never served; the last good one stays; counter and log warning");
}

TEST(EdgeE2ETest, OriginDownGivesFast503sAndReadsContinue) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin);
  ASSERT_EQ(waitFor200(edge, "/api/v1/clinics/100001").status, 200);
  EXPECT_EQ(edge.get("/readyz").status, 200);
  origin.kill9();
  // Five refused connections open the circuit; the rest are shed without trying origin.
  for (int i = 0; i < 8; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    HttpResponse r =
        edge.post("/api/v1/bookings",
                  bookingBody(100001, origin::test::kFirstDate, "09:00", "p" + std::to_string(i)),
                  {{"Idempotency-Key", "down-" + std::to_string(i)}});
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_FALSE(r.header("retry-after").empty());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  }
  EXPECT_EQ(edge.get("/api/v1/clinics/100001").status, 200);  // reads unaffected
  // Still ready: it serves reads. Origin's state is in the body (a load balancer that pulled every
  // edge because their shared origin failed would take the reads down too).
  HttpResponse ready = edge.get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_NE(ready.body.find("\"origin\":false"), std::string::npos) << ready.body;
  EXPECT_GE(metric(edge.metrics(), "surge_edge_origin_shed_total"), 1);
}

TEST(EdgeE2ETest, InflightCapShedsAtOnceAndRetryAfterFollowsTheBacklog) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin, "  surge_origin_max_inflight 1;\n");
  ASSERT_EQ(
      edge.post("/api/v1/bookings", bookingBody(100001, origin::test::kFirstDate, "09:00", "cap-0"),
                {{"Idempotency-Key", "cap-0"}})
          .status,
      201);
  origin.suspend();  // the next booking stays in flight
  std::atomic<int> first_status{0};
  std::thread first([&] {
    first_status = edge.post("/api/v1/bookings",
                             bookingBody(100001, origin::test::kFirstDate, "09:30", "cap-1"),
                             {{"Idempotency-Key", "cap-1"}})
                       .status;
  });
  std::this_thread::sleep_for(300ms);
  auto t0 = std::chrono::steady_clock::now();
  HttpResponse shed =
      edge.post("/api/v1/bookings", bookingBody(100001, origin::test::kFirstDate, "10:00", "cap-2"),
                {{"Idempotency-Key", "cap-2"}});
  EXPECT_EQ(shed.status, 503);
  EXPECT_EQ(shed.header("retry-after"), "1");
  EXPECT_NE(shed.body.find("overloaded"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  // A second later the window turns at the first shed; four shed in it while origin answered
  // nothing: the next window's shed are told to come back when that backlog has drained
  // (1 + 4/1 s, up to half again), not in one second.
  std::this_thread::sleep_for(1100ms);
  for (int i = 3; i < 7; ++i) {
    std::string key = "cap-" + std::to_string(i);
    EXPECT_EQ(
        edge.post("/api/v1/bookings", bookingBody(100001, origin::test::kFirstDate, "10:00", key),
                  {{"Idempotency-Key", key}})
            .status,
        503);
  }
  std::this_thread::sleep_for(1100ms);
  HttpResponse later =
      edge.post("/api/v1/bookings", bookingBody(100001, origin::test::kFirstDate, "10:00", "cap-7"),
                {{"Idempotency-Key", "cap-7"}});
  EXPECT_EQ(later.status, 503);
  int retry_after = std::atoi(later.header("retry-after").c_str());
  EXPECT_GE(retry_after, 5) << later.header("retry-after");
  EXPECT_LE(retry_after, 7) << later.header("retry-after");
  EXPECT_EQ(metric(edge.metrics(), "surge_edge_origin_shed_retry_after_seconds"), 5);
  origin.resume();
  first.join();
  EXPECT_EQ(first_status.load(), 201);
}

TEST(EdgeE2ETest, MemcachedSeesHotKeysPerIntervalNotPerRequest) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin);
  const std::vector<std::string> hot = {"/api/v1/regions", "/api/v1/clinics/100001",
                                        "/api/v1/clinics/100002", "/api/v1/regions/11/clinics"};
  for (const auto& t : hot)
    ASSERT_EQ(waitFor200(edge, t).status, 200);
  uint64_t gets_before = memcachedGets(origin.memcached().port());
  double misses_before = metric(edge.metrics(), "surge_edge_l1_misses_total");
  auto start = std::chrono::steady_clock::now();
  std::atomic<int> served{0};
  std::vector<std::thread> clients;
  for (size_t c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      HttpClient client("127.0.0.1", edge.port(), 5000ms);
      while (std::chrono::steady_clock::now() - start < 2s) {
        auto r = client.request("GET", hot[c % hot.size()]);
        if (r.ok() && r->status == 200) ++served;
      }
    });
  }
  for (auto& t : clients)
    t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t gets = memcachedGets(origin.memcached().port()) - gets_before;
  double misses = metric(edge.metrics(), "surge_edge_l1_misses_total") - misses_before;
  // The refresher reads the in-use keys (and origin's catalog) once per 200 ms interval, whatever
  // the request rate.
  double bound = static_cast<double>(hot.size() + 1) * (seconds / 0.2 + 2) + misses;
  EXPECT_GT(served.load(), 200);
  EXPECT_LE(static_cast<double>(gets), bound) << served.load() << " requests";
}

TEST(EdgeE2ETest, MissesForOneSnapshotAreCoalesced) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin, "  surge_refresh_interval 30s;\n");
  ASSERT_EQ(waitFor200(edge, "/api/v1/regions").status, 200);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 40; ++i) {
    clients.emplace_back([&] {
      if (edge.get("/api/v1/clinics/100003").status == 200) ++ok;
    });
  }
  for (auto& t : clients)
    t.join();
  EXPECT_EQ(ok.load(), 40);
  std::string m = edge.metrics();
  double misses = metric(m, "surge_edge_l1_misses_total");
  double coalesced = metric(m, "surge_edge_l1_coalesced_total");
  // Every miss either asked for the fetch or joined one: far fewer fetches than requests.
  EXPECT_GE(misses, 1);
  EXPECT_LE(misses - coalesced, 10) << misses << " misses, " << coalesced << " coalesced";
}

TEST(EdgeE2ETest, ConfigCheckReportsFileAndLine) {
  auto dir =
      std::filesystem::temp_directory_path() / ("surge-edge-t-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string bad = (dir / "bad.conf").string();
  writeFile(bad, "http {\n  server {\n    listen 127.0.0.1:notaport;\n  }\n}\n");
  testing::ChildProcess check({SURGE_EDGE_BIN, "-t", "-c", bad}, (dir / "t.log").string());
  EXPECT_EQ(check.wait(5000ms), 1);
  std::string out = readFile((dir / "t.log").string());
  EXPECT_NE(out.find(bad + ":3: invalid value \"notaport\""), std::string::npos) << out;
  std::string good = (dir / "good.conf").string();
  writeFile(good,
            "http {\n  server {\n    listen 127.0.0.1:1;\n    root /tmp;\n"
            "    location / { }\n  }\n}\n");
  testing::ChildProcess ok({SURGE_EDGE_BIN, "-t", "-c", good}, (dir / "t2.log").string());
  EXPECT_EQ(ok.wait(5000ms), 0) << readFile((dir / "t2.log").string());
  std::filesystem::remove_all(dir);
}

TEST(EdgeE2ETest, SighupReloadsAndABadFileKeepsTheOldConfig) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin);
  writeFile(edge.path("other/x/hello.txt"), "from the new location\n");
  EXPECT_EQ(edge.get("/x/hello.txt").status, 404);
  edge.writeConfig("", "    location /x/ { root other; }\n");
  edge.signal(SIGHUP);
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (edge.get("/x/hello.txt").status != 200 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(edge.get("/x/hello.txt").body, "from the new location\n");

  writeFile(edge.path("edge.conf"), "http {\n  server {\n    bogus_directive on;\n");
  edge.signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(edge.get("/x/hello.txt").status, 200);  // the running configuration stays
  EXPECT_NE(edge.log().find("reload refused"), std::string::npos) << edge.log();
}

TEST(EdgeE2ETest, SigtermFinishesWhatIsInProgressThenExits) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin);
  HttpClient idle("127.0.0.1", edge.port(), 2000ms);
  ASSERT_TRUE(idle.request("GET", "/healthz").ok());  // a kept-alive idle connection
  origin.suspend();                                   // a booking stays in progress
  std::atomic<int> status{0};
  std::thread booking([&] {
    status = edge.post("/api/v1/bookings",
                       bookingBody(100001, origin::test::kFirstDate, "09:00", "drain"),
                       {{"Idempotency-Key", "drain-1"}})
                 .status;
  });
  std::this_thread::sleep_for(300ms);
  edge.signal(SIGTERM);
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(testing::waitForPort(edge.port(), 100ms));  // no longer accepting
  origin.resume();
  booking.join();
  EXPECT_EQ(status.load(), 201);  // answered, not cut off
  EXPECT_EQ(edge.wait(8000ms), 0);
  EXPECT_NE(edge.log().find("stopped"), std::string::npos);
}

TEST(EdgeE2ETest, AccessLogInCombinedFormat) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin);
  writeFile(edge.path("html/a.txt"), "abc");
  edge.get("/a.txt", {{"User-Agent", "tester \"quoted\""}, {"Referer", "http://r/"}});
  std::this_thread::sleep_for(400ms);  // the writer flushes every 100 ms
  std::string log = readFile(edge.path("access.log"));
  std::regex line(
      R"(127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET /a\.txt HTTP/1\.1" 200 3 "http://r/" "tester \\x22quoted\\x22")");
  EXPECT_TRUE(std::regex_search(log, line)) << log;
}

std::string base64(const std::string& in) {
  return base::base64Encode(in);
}

TEST(EdgeE2ETest, OperatorPagesNeedAnAdminKey) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin, "  surge_ops_keys " + origin.path("admin-keys.conf") + ";\n",
                   "    location /ops/ { surge_ops; }\n");
  writeFile(edge.path("html/ops/index.html"), "dashboard");
  HttpResponse anonymous = edge.get("/ops/");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.header("www-authenticate"), "Basic realm=\"surge ops\", charset=\"UTF-8\"");
  std::string good = "Basic " + base64("ops-1:" + std::string(64, '7'));
  std::string wrong = "Basic " + base64("ops-1:" + std::string(64, '8'));
  std::string unknown = "Basic " + base64("nobody:" + std::string(64, '7'));
  EXPECT_EQ(edge.get("/ops/", {{"Authorization", wrong}}).status, 401);
  EXPECT_EQ(edge.get("/ops/", {{"Authorization", unknown}}).status, 401);
  EXPECT_EQ(edge.get("/ops/", {{"Authorization", "Basic !!!"}}).status, 401);
  EXPECT_EQ(edge.get("/ops/", {{"Authorization", good}}).body, "dashboard");
  HttpResponse mine = edge.get("/ops/metrics/edge", {{"Authorization", good}});
  EXPECT_EQ(mine.status, 200);
  EXPECT_NE(mine.body.find("surge_edge_requests_total"), std::string::npos);
  HttpResponse theirs = edge.get("/ops/metrics/origin", {{"Authorization", good}});
  EXPECT_EQ(theirs.status, 200) << theirs.body;
  EXPECT_NE(theirs.body.find("surge_origin_requests_total"), std::string::npos);
  EXPECT_EQ(edge.get("/ops/metrics/origin").status, 401);
}

TEST(EdgeE2ETest, TheDashboardSeesTheOtherEdges) {
  OriginProcess origin(origin::test::smallCatalog());
  std::string keys = "  surge_ops_keys " + origin.path("admin-keys.conf") + ";\n";
  EdgeProcess b(origin, keys + "  surge_name b;\n", "    location /ops/ { surge_ops; }\n");
  EdgeProcess a(origin,
                keys + "  surge_name a;\n  surge_ops_peer b 127.0.0.1:" + std::to_string(b.port()) +
                    ";\n  surge_ops_peer gone 127.0.0.1:1;\n",
                "    location /ops/ { surge_ops; }\n");
  std::string good = "Basic " + base64("ops-1:" + std::string(64, '7'));
  HttpResponse peers = a.get("/ops/peers", {{"Authorization", good}});
  EXPECT_EQ(peers.body, "{\"self\":\"a\",\"peers\":[\"b\",\"gone\"]}");
  b.get("/healthz");
  HttpResponse theirs = a.get("/ops/metrics/peer/b", {{"Authorization", good}});
  EXPECT_EQ(theirs.status, 200);
  EXPECT_NE(theirs.body.find("surge_edge_requests_total{route=\"ops\",code=\"200\"} 1"),
            std::string::npos)
      << theirs.body.substr(0, 400);
  EXPECT_EQ(a.get("/ops/metrics/peer/gone", {{"Authorization", good}}).status, 503);
  EXPECT_EQ(a.get("/ops/metrics/peer/nobody", {{"Authorization", good}}).status, 404);
  EXPECT_EQ(a.get("/ops/metrics/peer/b").status, 401);
  // The peer's pool keeps its own counters: this edge's origin figures stay its own.
  EXPECT_EQ(metric(a.metrics(), "surge_edge_origin_shed_total"), 0);
}

TEST(EdgeE2ETest, SmugglingFramingIsRefusedAndTheConnectionClosed) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin);
  int fd = testing::connectLoopback(edge.port());
  ASSERT_GE(fd, 0);
  std::string req =
      "POST /api/v1/bookings HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  std::string got;
  char buf[4096];
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
  EXPECT_EQ(got.find("HTTP/1.1 200"), std::string::npos);  // the smuggled request never ran
}

}  // namespace
}  // namespace surge::edge::test
