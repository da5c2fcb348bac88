#include "surge/edge/cdn_headers.h"

#include <strings.h>

#include "surge/cache/cache_tags.h"
#include "surge/edge/static_files.h"

namespace surge::edge {
namespace {

struct TagHeaderName {
  const char* provider;
  const char* header;
  CdnSettings::TagHeader bit;
  char separator;  // as each provider documents its list
};

constexpr TagHeaderName kTagHeaders[] = {
    {"fastly", "Surrogate-Key", CdnSettings::kSurrogateKey, ' '},
    {"cloudflare", "Cache-Tag", CdnSettings::kCacheTag, ','},
    {"akamai", "Edge-Cache-Tag", CdnSettings::kEdgeCacheTag, ','},
    {"varnish", "xkey", CdnSettings::kXkey, ' '},
};

std::string lifetime(int64_t max_age_s, int64_t swr_s, int64_t sie_s) {
  std::string v = "max-age=" + std::to_string(max_age_s);
  if (swr_s > 0) v += ", stale-while-revalidate=" + std::to_string(swr_s);
  if (sie_s > 0) v += ", stale-if-error=" + std::to_string(sie_s);
  return v;
}

template <typename Line>
void forEachTagHeader(const CdnSettings& cdn, const std::vector<std::string>& extra, Line line) {
  if (cdn.tag_headers == 0 || (extra.empty() && cdn.tags.empty())) return;
  for (const TagHeaderName& h : kTagHeaders) {
    if (!(cdn.tag_headers & h.bit)) continue;
    std::string value;
    size_t n = 0;
    for (const auto* list : {&extra, &cdn.tags}) {
      for (const std::string& tag : *list) {
        if (n++ == kMaxCacheTagsPerAnswer) break;
        if (!value.empty()) value += h.separator;
        value += tag;
      }
    }
    line(h.header, value);
  }
}

}  // namespace

bool readCdnDirective(ConfigReader& r, const Directive& d, CdnSettings& out, bool& handled) {
  handled = true;
  if (d.name == "surge_cdn_max_age") {
    if (!r.args(d, 1, 1)) return false;
    if (d.args[0] == "off") {
      out.max_age_s = -1;
      return true;
    }
    std::chrono::seconds s{};
    if (!r.seconds(d, s)) return false;
    out.max_age_s = s.count();
  } else if (d.name == "surge_cache_tags") {
    if (!r.args(d, 1, 4)) return false;
    uint8_t bits = 0;
    for (const std::string& a : d.args) {
      if (a == "off" && d.args.size() == 1) break;
      bool known = false;
      for (const TagHeaderName& h : kTagHeaders) {
        if (strcasecmp(a.c_str(), h.provider) == 0 || strcasecmp(a.c_str(), h.header) == 0) {
          bits |= h.bit;
          known = true;
        }
      }
      if (!known) {
        return r.fail(d, "unknown tag header \"" + a +
                             "\" (fastly, cloudflare, akamai, varnish, their header names, or "
                             "off)");
      }
    }
    out.tag_headers = bits;
  } else if (d.name == "surge_cache_tag") {
    if (!r.args(d, 1, 8)) return false;
    std::vector<std::string> tags;
    for (const std::string& a : d.args) {
      if (!cache::isValidCacheTag(a)) {
        return r.fail(d, "invalid cache tag \"" + a +
                             "\" (1-128 characters of A-Z a-z 0-9 . _ -, which every CDN takes)");
      }
      tags.push_back(a);
    }
    out.tags = std::move(tags);
  } else {
    handled = false;
  }
  return true;
}

void appendCdnHeaders(std::string& headers, const CdnSettings& cdn,
                      const std::vector<std::string>& extra, int64_t max_age_s, int64_t swr_s,
                      int64_t sie_s) {
  if (cdn.max_age_s >= 0) {
    std::string v = lifetime(max_age_s, swr_s, sie_s);
    headers.append("CDN-Cache-Control: public, ").append(v).append("\r\n");
    headers.append("Surrogate-Control: ").append(v).append("\r\n");
  }
  forEachTagHeader(cdn, extra, [&](const char* name, const std::string& value) {
    headers.append(name).append(": ").append(value).append("\r\n");
  });
}

void appendCdnAddHeaders(const CdnSettings& cdn, int64_t swr_s, int64_t sie_s,
                         std::vector<AddHeader>& out) {
  if (cdn.max_age_s >= 0) {
    std::string v = lifetime(cdn.max_age_s, swr_s, sie_s);
    out.push_back(AddHeader{"CDN-Cache-Control", "public, " + v, false});
    out.push_back(AddHeader{"Surrogate-Control", v, false});
  }
  forEachTagHeader(cdn, {}, [&](const char* name, const std::string& value) {
    out.push_back(AddHeader{name, value, false});
  });
}

}  // namespace surge::edge
