// The CDN endpoints file and each provider's purge request, byte for byte as its documentation
// shows it (issue 19). EdgeGrid's signature is checked against Python's hmac and hashlib
// computing the documented algorithm on their own.
#include "surge/origin/cdn_endpoint.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "surge/testing/temp_dir.h"

namespace surge::origin {
namespace {

std::string headerList(const PurgeRequest& r) {
  std::string out;
  for (const auto& [name, value] : r.headers)
    out += name + ": " + value + "\n";
  return out;
}

TEST(CdnEndpointTest, ReadsEveryProviderWithItsDocumentedDefaults) {
  testing::TempDir dir;
  dir.write("fastly.key", "fk-123\n");
  auto parsed = parseCdnEndpoints(
      "# CDNs in front of the edges\n"
      "varnish http://127.0.0.1:6081/ soft=on\n"
      "\n"
      "fastly https://api.fastly.com/service/SVC1/purge token=@" +
          dir.path() +
          "/fastly.key\n"
          "cloudflare https://api.cloudflare.com/client/v4/zones/Z9/purge_cache token=cf-tok  # "
          "pro\n"
          "akamai https://akab-h.purge.akamaiapis.net/ccu/v3/invalidate/tag/production "
          "client_token=ct access_token=at client_secret=cs requests_per_second=10\n",
      "cdn.conf");
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  const auto& e = parsed.value();
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].provider, CdnProvider::kVarnish);
  EXPECT_EQ(e[0].host, "127.0.0.1");
  EXPECT_EQ(e[0].port, 6081);
  EXPECT_TRUE(e[0].soft);
  EXPECT_EQ(e[0].where, "cdn.conf:2");
  EXPECT_EQ(e[1].token, "fk-123");  // from its own file
  EXPECT_TRUE(e[1].tls);
  EXPECT_EQ(e[1].port, 443);
  EXPECT_EQ(e[1].path, "/service/SVC1/purge");
  EXPECT_EQ(e[1].tags_per_request, 256u);
  EXPECT_EQ(e[2].tags_per_request, 100u);
  EXPECT_DOUBLE_EQ(e[2].requests_per_second, 5);
  EXPECT_DOUBLE_EQ(e[2].request_burst, 25);
  EXPECT_TRUE(e[3].soft);  // /invalidate/ is Akamai's soft purge
  EXPECT_DOUBLE_EQ(e[3].requests_per_second, 10);
  EXPECT_DOUBLE_EQ(e[3].tags_per_second * 60, 500);
  EXPECT_DOUBLE_EQ(e[3].tag_burst, 5000);
  EXPECT_EQ(e[3].body_limit, 50000u);
}

TEST(CdnEndpointTest, MistakesAreRefusedWithTheirLine) {
  const std::pair<const char*, const char*> bad[] = {
      {"limelight http://x/\n", "unknown provider"},
      {"varnish ftp://x/\n", "http:// or https://"},
      {"fastly https://api.fastly.com/service/S/purge\n", "needs token="},
      {"cloudflare https://api.cloudflare.com/x token=t soft=on\n", "no soft purge"},
      {"akamai https://h/ccu/v3/invalidate/url/production client_token=a access_token=b "
       "client_secret=c\n",
       "/tag/"},
      {"cloudflare https://h/x token=t tags_per_request=500\n", "1 to 100"},
      {"varnish http://x:0/\n", "bad port"},
      {"varnish http://x/ soft\n", "NAME=VALUE"},
  };
  for (const auto& [text, says] : bad) {
    auto parsed = parseCdnEndpoints(std::string("# first\n") + text, "cdn.conf");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_NE(parsed.error().find("cdn.conf:2: "), std::string::npos) << parsed.error();
    EXPECT_NE(parsed.error().find(says), std::string::npos) << parsed.error();
  }
}

TEST(CdnEndpointTest, EachProvidersPurgeRequestAsDocumented) {
  auto one = [](const std::string& line) { return parseCdnEndpoints(line, "f").value().at(0); };
  const std::vector<std::string> tags = {"snap.clinic.7", "snap.region.11110"};

  PurgeRequest fastly = purgeRequest(
      one("fastly https://api.fastly.com/service/SVC1/purge token=K soft=on"), tags, 0, "");
  EXPECT_EQ(fastly.method, "POST");
  EXPECT_EQ(fastly.target, "/service/SVC1/purge");
  EXPECT_EQ(headerList(fastly),
            "Fastly-Key: K\nAccept: application/json\nContent-Type: application/json\n"
            "Fastly-Soft-Purge: 1\n");
  EXPECT_EQ(fastly.body, R"({"surrogate_keys":["snap.clinic.7","snap.region.11110"]})");

  PurgeRequest cf = purgeRequest(
      one("cloudflare https://api.cloudflare.com/client/v4/zones/Z/purge_cache token=T"), tags, 0,
      "");
  EXPECT_EQ(cf.method, "POST");
  EXPECT_EQ(cf.target, "/client/v4/zones/Z/purge_cache");
  EXPECT_EQ(headerList(cf), "Authorization: Bearer T\nContent-Type: application/json\n");
  EXPECT_EQ(cf.body, R"({"tags":["snap.clinic.7","snap.region.11110"]})");

  PurgeRequest varnish = purgeRequest(one("varnish http://127.0.0.1:6081/"), tags, 0, "");
  EXPECT_EQ(varnish.method, "PURGE");
  EXPECT_EQ(varnish.target, "/");
  EXPECT_EQ(headerList(varnish), "xkey-purge: snap.clinic.7 snap.region.11110\n");
  EXPECT_TRUE(varnish.body.empty());
  EXPECT_EQ(headerList(purgeRequest(one("varnish http://v/ soft=on"), tags, 0, "")),
            "xkey-softpurge: snap.clinic.7 snap.region.11110\n");

  CdnEndpoint akamai =
      one("akamai https://akab-h.purge.akamaiapis.net/ccu/v3/delete/tag/production client_token=CT "
          "access_token=AT client_secret=SECRET");
  EXPECT_FALSE(akamai.soft);  // /delete/: a hard purge
  PurgeRequest ak = purgeRequest(akamai, tags, 1796601600, "nonce-1");
  EXPECT_EQ(ak.method, "POST");
  EXPECT_EQ(ak.target, "/ccu/v3/delete/tag/production");
  EXPECT_EQ(ak.body, R"({"objects":["snap.clinic.7","snap.region.11110"]})");
  ASSERT_EQ(ak.headers.size(), 2u);
  const std::string& auth = ak.headers[1].second;
  const std::string prefix =
      "EG1-HMAC-SHA256 client_token=CT;access_token=AT;timestamp=20261207T00:00:00+0000;"
      "nonce=nonce-1;signature=";
  ASSERT_EQ(auth.substr(0, prefix.size()), prefix) << auth;

  // The same signature, computed by Python from EdgeGrid's description: signing key =
  // base64(HMAC(secret, timestamp)); signed = method, scheme, host, path, headers (none), the
  // body's base64 SHA-256 and the header so far, tab-separated.
  std::string py =
      "python3 -c 'import hmac,hashlib,base64,sys\n"
      "ts=\"20261207T00:00:00+0000\"\n"
      "b=sys.argv[1].encode()\n"
      "auth=\"EG1-HMAC-SHA256 client_token=CT;access_token=AT;timestamp=\"+ts+\";nonce=nonce-1;\"\n"
      "key=base64.b64encode(hmac.new(b\"SECRET\",ts.encode(),hashlib.sha256).digest())\n"
      "h=base64.b64encode(hashlib.sha256(b).digest()).decode()\n"
      "data=\"\\t\".join([\"POST\",\"https\",\"akab-h.purge.akamaiapis.net\","
      "\"/ccu/v3/delete/tag/production\",\"\",h,auth])\n"
      "print(base64.b64encode(hmac.new(key,data.encode(),hashlib.sha256).digest()).decode())' '" +
      ak.body + "'";
  FILE* p = ::popen(py.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char out[128] = {};
  ASSERT_NE(std::fgets(out, sizeof out, p), nullptr);
  ::pclose(p);
  std::string expected(out);
  while (!expected.empty() && expected.back() == '\n')
    expected.pop_back();
  EXPECT_EQ(auth.substr(prefix.size()), expected);
}

}  // namespace
}  // namespace surge::origin
