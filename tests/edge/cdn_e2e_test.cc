// A CDN in front of the edge (issue 19): what an edge tells it on each answer. Real memcached +
// surge-origin + surge-edge processes; the headers are read as a CDN would read them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "edge_process.h"

namespace surge::edge::test {
namespace {

using nlohmann::json;

constexpr const char* kEveryProvider =
    "  surge_cdn_max_age 1h;\n"
    "  surge_stale_while_revalidate 5s;\n"
    "  surge_cache_tags fastly cloudflare akamai varnish;\n";

TEST(CdnE2ETest, SnapshotsCarryTheCdnsLifetimeAndTheirTagsInEveryProvidersHeader) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin, kEveryProvider);

  HttpResponse clinic = edge.get("/api/v1/clinics/100001");
  ASSERT_EQ(clinic.status, 200) << clinic.body;
  std::string region = json::parse(clinic.body)["region"];
  // Browsers keep the short life the snapshot gives; the CDN gets the long one.
  EXPECT_EQ(clinic.header("cache-control"),
            "public, max-age=2, s-maxage=2, stale-while-revalidate=5, stale-if-error=300");
  EXPECT_EQ(clinic.header("cdn-cache-control"),
            "public, max-age=3600, stale-while-revalidate=5, stale-if-error=300");
  EXPECT_EQ(clinic.header("surrogate-control"),
            "max-age=3600, stale-while-revalidate=5, stale-if-error=300");
  const std::string tags[] = {"snap.clinic.100001", "clinic.100001", "region." + region};
  EXPECT_EQ(clinic.header("surrogate-key"), tags[0] + " " + tags[1] + " " + tags[2]);
  EXPECT_EQ(clinic.header("xkey"), tags[0] + " " + tags[1] + " " + tags[2]);
  EXPECT_EQ(clinic.header("cache-tag"), tags[0] + "," + tags[1] + "," + tags[2]);
  EXPECT_EQ(clinic.header("edge-cache-tag"), tags[0] + "," + tags[1] + "," + tags[2]);
  EXPECT_EQ(clinic.header("vary"), "Accept-Encoding");  // the body varies with it

  // A 304 carries them too: a CDN revalidating keeps its tags and lifetime.
  HttpResponse same =
      edge.get("/api/v1/clinics/100001", {{"If-None-Match", clinic.header("etag")}});
  EXPECT_EQ(same.status, 304);
  EXPECT_EQ(same.header("surrogate-key"), clinic.header("surrogate-key"));

  HttpResponse list = edge.get("/api/v1/regions/" + region + "/clinics");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.header("xkey"), "snap.region." + region + " region." + region);
  EXPECT_EQ(edge.get("/api/v1/regions").header("xkey"), "snap.regions");

  // Shaped by this request alone: never kept for others, no tags, no CDN life.
  HttpResponse bad = edge.get("/api/v1/clinics/0x12");
  EXPECT_EQ(bad.status, 404);
  EXPECT_EQ(bad.header("cache-control"), "private, no-store");
  EXPECT_EQ(bad.header("surrogate-key"), "");
  EXPECT_EQ(bad.header("cdn-cache-control"), "");
  HttpResponse wrong = edge.post("/api/v1/clinics/100001", "{}");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.header("cache-control"), "private, no-store");
}

TEST(CdnE2ETest, AStaticLocationCarriesItsDeployTagOnWhatItServesOnly) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin, "  surge_cache_tags fastly varnish;\n",
                   "    location /app/ { surge_cdn_max_age 1d; surge_cache_tag deploy-42 app; }\n");
  writeFile(edge.path("html/app/main.js"), "console.log(1);\n");
  writeFile(edge.path("html/other.txt"), "x\n");

  HttpResponse js = edge.get("/app/main.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_EQ(js.header("surrogate-key"), "deploy-42 app");
  EXPECT_EQ(js.header("xkey"), "deploy-42 app");
  EXPECT_EQ(js.header("cache-tag"), "");  // not asked for
  EXPECT_EQ(js.header("cdn-cache-control"), "public, max-age=86400");
  EXPECT_EQ(js.header("surrogate-control"), "max-age=86400");
  // Answers add_header would not decorate (nginx: 2xx and 3xx) get none.
  HttpResponse missing = edge.get("/app/none.js");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.header("surrogate-key"), "");
  // Other locations have no tag of their own and no CDN lifetime.
  HttpResponse other = edge.get("/other.txt");
  EXPECT_EQ(other.header("surrogate-key"), "");
  EXPECT_EQ(other.header("cdn-cache-control"), "");
}

TEST(CdnE2ETest, ATagNoProviderTakesOrAnUnknownHeaderIsRefusedWithItsLine) {
  OriginProcess origin(origin::test::smallCatalog());
  EdgeProcess edge(origin, "  surge_cache_tags fastly;\n");
  for (const char* line : {"surge_cache_tags fastly limelight;", "surge_cache_tag region:11;",
                           "surge_cache_tag a/b;", "surge_cdn_max_age soon;"}) {
    writeFile(edge.path("bad.conf"), std::string("http {\n  ") + line +
                                         "\n  server { listen 127.0.0.1:1; root html; } }\n");
    testing::ChildProcess check({SURGE_EDGE_BIN, "-t", "-c", edge.path("bad.conf")},
                                edge.path("check.log"));
    EXPECT_NE(check.wait(std::chrono::seconds(10)), 0) << line;
    std::string said = readFile(edge.path("check.log"));
    EXPECT_NE(said.find("bad.conf:2"), std::string::npos) << line << ": " << said;
  }
}

}  // namespace
}  // namespace surge::edge::test
