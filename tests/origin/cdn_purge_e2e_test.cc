// A real surge-origin telling a CDN what changed (issue 19): a booking purges exactly the
// snapshots it changed, by their tags; an operator purges by hand (surgectl purge). The CDN is a
// recording endpoint of the Varnish shape (the Varnish run itself: tests/cdn/).
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "origin_process.h"
#include "purge_requests.h"
#include "surge/testing/http_recorder.h"
#include "surge/testing/temp_dir.h"
#include "test_catalog.h"

namespace surge::origin {
namespace {

using namespace std::chrono_literals;

std::set<std::string> purgedTags(testing::HttpRecorder& cdn) {
  std::set<std::string> out;
  for (const std::string& r : cdn.requests()) {
    for (std::string& t : test::xkeyPurgeTags(r))
      out.insert(std::move(t));
  }
  return out;
}

TEST(CdnPurgeE2ETest, ABookingPurgesTheSnapshotsItChangedAndAnOperatorPurgesByHand) {
  testing::HttpRecorder cdn;
  testing::TempDir dir;
  const std::string conf = test::varnishPurgeConf(dir, cdn.port());
  test::OriginProcess origin(test::smallCatalog(), 1,
                             {"--cdn-purge", conf, "--cdn-purge-delay-ms", "50"});
  // The first publish of a process is no change a CDN has seen: nothing is purged for it.
  EXPECT_EQ(cdn.waitFor(1, 500ms), 0u);

  HttpClient client("127.0.0.1", origin.port());
  HttpResponse booked = test::postBooking(
      client, test::bookingBody(100001, test::kFirstDate, "09:00", "purge-1"), "purge-k1");
  ASSERT_EQ(booked.status, 201) << booked.body;
  ASSERT_GE(cdn.waitFor(1, 5000ms), 1u);
  std::this_thread::sleep_for(300ms);  // the region snapshots may follow in their own pass
  std::set<std::string> tags = purgedTags(cdn);
  // Clinic 100001 is in 종로구 (11110) of 서울특별시 (11): its snapshot and both regions' lists.
  EXPECT_TRUE(tags.count("snap.clinic.100001")) << ::testing::PrintToString(tags);
  EXPECT_TRUE(tags.count("snap.region.11110")) << ::testing::PrintToString(tags);
  EXPECT_TRUE(tags.count("snap.region.11")) << ::testing::PrintToString(tags);
  EXPECT_FALSE(tags.count("snap.clinic.100002"));  // nothing that did not change
  EXPECT_FALSE(tags.count("snap.region.26110"));

  // By hand: at once, the tags as given.
  size_t before = cdn.count();
  HttpResponse purged = origin.admin(
      "POST", "/admin/v1/purge", R"({"tags":["region.11110","deploy-42"]})", "application/json");
  EXPECT_EQ(purged.status, 202) << purged.body;
  ASSERT_GE(cdn.waitFor(before + 1, 5000ms), before + 1);
  std::string last = cdn.last();
  EXPECT_TRUE(last.find("\r\nxkey-purge: region.11110 deploy-42\r\n") != std::string::npos ||
              last.find("\r\nxkey-purge: deploy-42 region.11110\r\n") != std::string::npos)
      << last;
  HttpResponse bad =
      origin.admin("POST", "/admin/v1/purge", R"({"tags":["a:b"]})", "application/json");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(origin.admin("POST", "/admin/v1/purge", R"({"tags":[]})", "application/json").status,
            400);

  HttpClient metrics("127.0.0.1", origin.port());
  std::string text = metrics.request("GET", "/metrics").value().body;
  EXPECT_NE(text.find("surge_origin_purge_requests_total{endpoint=\"varnish:127.0.0.1\","
                      "outcome=\"sent\"}"),
            std::string::npos);
}

TEST(CdnPurgeE2ETest, AChangeMemcachedCouldNotTakeIsPurgedOnceItIsWritten) {
  testing::HttpRecorder cdn;
  testing::TempDir dir;
  const std::string conf = test::varnishPurgeConf(dir, cdn.port());
  test::OriginProcess origin(test::smallCatalog(), 1,
                             {"--cdn-purge", conf, "--cdn-purge-delay-ms", "50"});
  origin.memcached().kill();  // the change below cannot be written
  HttpClient client("127.0.0.1", origin.port());
  HttpResponse booked = test::postBooking(
      client, test::bookingBody(100002, test::kFirstDate, "09:30", "later-1"), "later-k1");
  ASSERT_EQ(booked.status, 201) << booked.body;
  std::this_thread::sleep_for(1000ms);
  EXPECT_FALSE(purgedTags(cdn).count("snap.clinic.100002"));  // not written: nothing to purge yet
  origin.memcached().restart();
  // The publisher writes it again (same content, same version): the CDN is told then.
  auto until = std::chrono::steady_clock::now() + 15s;
  while (!purgedTags(cdn).count("snap.clinic.100002") && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(purgedTags(cdn).count("snap.clinic.100002"))
      << ::testing::PrintToString(purgedTags(cdn));
}

TEST(CdnPurgeE2ETest, WithoutEndpointsAPurgeIsRefusedAndSaysWhy) {
  test::OriginProcess origin(test::smallCatalog());
  HttpResponse r =
      origin.admin("POST", "/admin/v1/purge", R"({"tags":["region.11"]})", "application/json");
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("--cdn-purge"), std::string::npos) << r.body;
}

TEST(CdnPurgeE2ETest, ABadEndpointsFileStopsTheStartWithItsLine) {
  testing::TempDir dir;
  const std::string conf = dir.write("cdn.conf", "# ok\nfastly https://api.fastly.com/x\n");
  testing::ChildProcess origin(
      {SURGE_ORIGIN_BIN, "--snapshot-keys", conf, "--admin-keys", conf, "--cdn-purge", conf, "--db",
       dir.path() + "/o.db", "--listen", "127.0.0.1:1"},
      dir.path() + "/origin.log");
  EXPECT_EQ(origin.wait(10s), 2);
  std::ifstream in(dir.path() + "/origin.log");
  std::string log((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(log.find("cdn.conf:2: fastly needs token="), std::string::npos) << log;
}

}  // namespace
}  // namespace surge::origin
