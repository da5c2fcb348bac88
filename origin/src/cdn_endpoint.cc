#include "surge/origin/cdn_endpoint.h"

#include <ctime>
#include <fstream>
#include <sstream>

#include "surge/base/base64.h"
#include "surge/base/file.h"
#include "surge/cache/hmac.h"
#include "surge/origin/json_text.h"

namespace surge::origin {

using base::fail;
using base::Result;

namespace {

struct ProviderDefaults {
  const char* name;
  CdnProvider provider;
  size_t tags_per_request;
  double requests_per_second, request_burst, tags_per_minute, tag_burst;
  size_t body_limit;
};

// The limits each provider documents (see the header); Fastly documents none for purges.
constexpr ProviderDefaults kProviders[] = {
    {"fastly", CdnProvider::kFastly, 256, 20, 40, 0, 0, 0},
    {"cloudflare", CdnProvider::kCloudflare, 100, 5, 25, 0, 0, 0},
    {"akamai", CdnProvider::kAkamai, 200, 50, 100, 500, 5000, 50000},
    {"varnish", CdnProvider::kVarnish, 100, 100, 200, 0, 0, 0},
};

std::vector<std::string> words(std::string_view line) {
  std::vector<std::string> out;
  std::istringstream in{std::string(line)};
  std::string w;
  while (in >> w)
    out.push_back(w);
  return out;
}

std::string base64Of(const std::array<uint8_t, 32>& digest) {
  return base::base64Encode(
      std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string jsonList(std::string_view field, const std::vector<std::string>& tags) {
  std::string body = "{\"";
  body += field;
  body += "\":[";
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i) body += ',';
    appendJsonString(body, tags[i]);
  }
  body += "]}";
  return body;
}

std::string joined(const std::vector<std::string>& tags, char separator) {
  std::string out;
  for (const std::string& t : tags) {
    if (!out.empty()) out += separator;
    out += t;
  }
  return out;
}

}  // namespace

const char* cdnProviderName(CdnProvider provider) {
  for (const ProviderDefaults& p : kProviders) {
    if (p.provider == provider) return p.name;
  }
  return "unknown";
}

Result<std::vector<CdnEndpoint>, std::string> parseCdnEndpoints(std::string_view text,
                                                                const std::string& file) {
  std::vector<CdnEndpoint> out;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::vector<std::string> w = words(line);
    if (w.empty()) continue;
    const std::string where = file + ":" + std::to_string(line_no);
    auto bad = [&](const std::string& what) { return fail(where + ": " + what); };
    const ProviderDefaults* p = nullptr;
    for (const ProviderDefaults& d : kProviders) {
      if (w[0] == d.name) p = &d;
    }
    if (p == nullptr) {
      return bad("unknown provider \"" + w[0] + "\" (fastly, cloudflare, akamai, varnish)");
    }
    if (w.size() < 2) return bad("a url follows the provider");
    CdnEndpoint e;
    e.provider = p->provider;
    e.where = where;
    e.tags_per_request = p->tags_per_request;
    e.requests_per_second = p->requests_per_second;
    e.request_burst = p->request_burst;
    e.tags_per_second = p->tags_per_minute / 60.0;
    e.tag_burst = p->tag_burst;
    e.body_limit = p->body_limit;
    std::string_view url = w[1];
    if (url.starts_with("https://")) {
      e.tls = true;
      e.port = 443;
      url.remove_prefix(8);
    } else if (url.starts_with("http://")) {
      url.remove_prefix(7);
    } else {
      return bad("the url is http:// or https://, not \"" + w[1] + "\"");
    }
    size_t slash = url.find('/');
    std::string_view authority = url.substr(0, slash);
    e.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
    size_t colon = authority.rfind(':');
    e.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      e.port = std::atoi(std::string(authority.substr(colon + 1)).c_str());
      if (e.port <= 0 || e.port > 65535) return bad("bad port in \"" + w[1] + "\"");
    }
    if (e.host.empty()) return bad("no host in \"" + w[1] + "\"");
    e.name = std::string(p->name) + ":" + e.host;
    for (size_t i = 2; i < w.size(); ++i) {
      size_t eq = w[i].find('=');
      if (eq == std::string::npos) return bad("an option is NAME=VALUE, not \"" + w[i] + "\"");
      std::string key = w[i].substr(0, eq), value = w[i].substr(eq + 1);
      if (!value.empty() && value[0] == '@') {  // a secret kept in its own file
        std::ifstream in(value.substr(1), std::ios::binary);
        if (!in) return bad("cannot read " + value.substr(1));
        std::getline(in, value);
        while (!value.empty() && (value.back() == '\r' || value.back() == ' '))
          value.pop_back();
      }
      auto number = [&](double& out, double min) {
        char* end = nullptr;
        out = std::strtod(value.c_str(), &end);
        return end != value.c_str() && *end == '\0' && out >= min;
      };
      double n = 0;
      if (key == "token") {
        e.token = value;
      } else if (key == "client_token") {
        e.client_token = value;
      } else if (key == "access_token") {
        e.access_token = value;
      } else if (key == "client_secret") {
        e.client_secret = value;
      } else if (key == "ca_file") {
        if (!std::ifstream(value)) return bad("cannot read " + value);
        e.ca_file = value;
      } else if (key == "soft") {
        if (value != "on" && value != "off") return bad("soft=on or soft=off");
        e.soft = value == "on";
      } else if (key == "tags_per_request" && number(n, 1) && n <= p->tags_per_request) {
        e.tags_per_request = static_cast<size_t>(n);
      } else if (key == "requests_per_second" && number(n, 0.001)) {
        e.requests_per_second = n;
      } else if (key == "request_burst" && number(n, 1)) {
        e.request_burst = n;
      } else if (key == "tags_per_minute" && number(n, 1)) {
        e.tags_per_second = n / 60.0;
      } else if (key == "tag_burst" && number(n, 1)) {
        e.tag_burst = n;
      } else {
        return bad("bad option \"" + w[i] + "\"" +
                   (key == "tags_per_request"
                        ? " (1 to " + std::to_string(p->tags_per_request) + " for " + p->name + ")"
                        : ""));
      }
    }
    switch (e.provider) {
      case CdnProvider::kFastly:
        if (e.token.empty()) return bad("fastly needs token= (its Fastly-Key)");
        break;
      case CdnProvider::kCloudflare:
        if (e.token.empty()) return bad("cloudflare needs token= (an API token)");
        if (e.soft) return bad("cloudflare has no soft purge by tag");
        break;
      case CdnProvider::kAkamai:
        if (e.client_token.empty() || e.access_token.empty() || e.client_secret.empty()) {
          return bad("akamai needs client_token=, access_token= and client_secret= (EdgeGrid)");
        }
        if (e.path.find("/tag/") == std::string::npos) {
          return bad("akamai's url is Fast Purge v3 by tag: /ccu/v3/invalidate/tag/NETWORK");
        }
        if (e.soft != (e.path.find("/invalidate/") != std::string::npos)) {
          // Akamai's soft purge is the url's: invalidate (soft) or delete (hard).
          e.soft = e.path.find("/invalidate/") != std::string::npos;
        }
        break;
      case CdnProvider::kVarnish:
        break;
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<CdnEndpoint>, std::string> loadCdnEndpoints(const std::string& path) {
  std::optional<std::string> text = base::readFile(path);
  if (!text) return fail("cannot read " + path);
  return parseCdnEndpoints(*text, path);
}

std::string edgeGridAuthorization(const CdnEndpoint& e, const std::string& method,
                                  const std::string& target, const std::string& body,
                                  int64_t unix_time, const std::string& nonce) {
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H:%M:%S+0000", &tm);
  std::string auth = "EG1-HMAC-SHA256 client_token=" + e.client_token +
                     ";access_token=" + e.access_token + ";timestamp=" + stamp + ";nonce=" + nonce +
                     ";";
  std::string signing_key = base64Of(cache::hmacSha256(e.client_secret, {stamp}));
  std::string content_hash = body.empty() ? "" : base64Of(cache::sha256({body}));
  std::string host = e.host;
  if (e.port != (e.tls ? 443 : 80)) host += ":" + std::to_string(e.port);
  std::string data = method + "\t" + (e.tls ? "https" : "http") + "\t" + host + "\t" + target +
                     "\t\t" + content_hash + "\t" + auth;
  return auth + "signature=" + base64Of(cache::hmacSha256(signing_key, {data}));
}

PurgeRequest purgeRequest(const CdnEndpoint& e, const std::vector<std::string>& tags,
                          int64_t unix_time, const std::string& nonce) {
  PurgeRequest r;
  r.target = e.path;
  switch (e.provider) {
    case CdnProvider::kFastly:
      // Batch purge by surrogate key: POST /service/{id}/purge with the keys in a JSON body.
      r.method = "POST";
      r.headers = {{"Fastly-Key", e.token},
                   {"Accept", "application/json"},
                   {"Content-Type", "application/json"}};
      if (e.soft) r.headers.emplace_back("Fastly-Soft-Purge", "1");
      r.body = jsonList("surrogate_keys", tags);
      break;
    case CdnProvider::kCloudflare:
      r.method = "POST";
      r.headers = {{"Authorization", "Bearer " + e.token}, {"Content-Type", "application/json"}};
      r.body = jsonList("tags", tags);
      break;
    case CdnProvider::kAkamai:
      r.method = "POST";
      r.body = jsonList("objects", tags);
      r.headers = {{"Content-Type", "application/json"},
                   {"Authorization",
                    edgeGridAuthorization(e, r.method, r.target, r.body, unix_time, nonce)}};
      break;
    case CdnProvider::kVarnish:
      // The VCL shipped in cluster/varnish.vcl: xkey.purge or xkey.softpurge of the listed keys.
      r.method = "PURGE";
      r.headers = {{e.soft ? "xkey-softpurge" : "xkey-purge", joined(tags, ' ')}};
      break;
  }
  return r;
}

}  // namespace surge::origin
