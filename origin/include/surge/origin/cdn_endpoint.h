// A CDN that origin tells when snapshots change (issue 19): where it is, how it is asked to purge
// tags (each provider's documented request), and the limits it documents. Read from the file
// `surge-origin --cdn-purge FILE` names, one endpoint per line:
//
//   # provider  url                                                  options
//   varnish     http://10.0.0.5:6081/                                soft=off
//   fastly      https://api.fastly.com/service/SERVICE_ID/purge      token=@/etc/surge/fastly.key
//   soft=on cloudflare  https://api.cloudflare.com/client/v4/zones/ZONE_ID/purge_cache
//   token=@/etc/surge/cf.token akamai
//   https://akab-HOST.purge.akamaiapis.net/ccu/v3/invalidate/tag/production  (...)
//
// where (...) is, on the same line, client_token=akab-... access_token=akab-...
// client_secret=@/etc/surge/akamai.secret. Options: token=VALUE|@FILE,
// client_token, access_token, client_secret (Akamai EdgeGrid), ca_file=PATH (https: the CAs to
// trust instead of the system's), soft=on|off, tags_per_request=N,
// requests_per_second=R, request_burst=N, tags_per_minute=N, tag_burst=N. The limits default to
// each provider's documentation (2026):
//
//   provider    request                                       tags/request  requests        tags
//   fastly      POST {path}, Fastly-Key, {"surrogate_keys"}   256           (not documented: 20/s,
//   burst 40) cloudflare  POST {path}, Bearer, {"tags"}                 100           5/s, burst 25
//   (Pro) akamai      POST .../invalidate|delete/tag/NET, EdgeGrid   200 (50 KB)   50/s, burst 100
//   500/min, burst 5,000 varnish     PURGE {path}, xkey-purge|xkey-softpurge       100 100/s, burst
//   200
//
// Soft purge: Fastly's Fastly-Soft-Purge: 1; Akamai's invalidate (the url's /invalidate/, hard is
// /delete/); Varnish's xkey.softpurge through the VCL's xkey-softpurge header; Cloudflare has
// none (soft=on is refused for it).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "surge/base/result.h"

namespace surge::origin {

enum class CdnProvider { kFastly, kCloudflare, kAkamai, kVarnish };
const char* cdnProviderName(CdnProvider provider);

struct CdnEndpoint {
  CdnProvider provider = CdnProvider::kVarnish;
  std::string where;  // file:line, for messages and the metrics' label
  std::string name;   // "fastly:api.fastly.com" (metrics label)
  bool tls = false;
  std::string host;
  int port = 80;
  std::string path;  // as in the url, starting with '/'
  std::string token;
  std::string client_token, access_token, client_secret;  // Akamai EdgeGrid
  std::string ca_file;  // https: the CAs its certificate must chain to ("": the system's)
  bool soft = false;
  size_t tags_per_request = 100;
  double requests_per_second = 100, request_burst = 200;
  double tags_per_second = 0, tag_burst = 0;  // 0: no limit of tags apart from requests
  size_t body_limit = 0;                      // bytes (Akamai: 50,000); 0: none
};

// Parses the endpoints file's text; errors say file:line.
base::Result<std::vector<CdnEndpoint>, std::string> parseCdnEndpoints(std::string_view text,
                                                                      const std::string& file);
base::Result<std::vector<CdnEndpoint>, std::string> loadCdnEndpoints(const std::string& path);

// One purge request, as the provider documents it.
struct PurgeRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// The request that purges `tags` (no more than the endpoint's tags_per_request). `unix_time` and
// `nonce` sign an Akamai request (EdgeGrid: timestamp and nonce of its Authorization).
PurgeRequest purgeRequest(const CdnEndpoint& endpoint, const std::vector<std::string>& tags,
                          int64_t unix_time, const std::string& nonce);

// Akamai EdgeGrid's Authorization for a request (EG1-HMAC-SHA256), exposed for its test.
std::string edgeGridAuthorization(const CdnEndpoint& endpoint, const std::string& method,
                                  const std::string& target, const std::string& body,
                                  int64_t unix_time, const std::string& nonce);

}  // namespace surge::origin
