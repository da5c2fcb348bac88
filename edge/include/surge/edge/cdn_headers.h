// What a CDN in front of the edges reads on an answer (issue 19): its own lifetime, apart from the
// browsers' (RFC 9213 CDN-Cache-Control, and Surrogate-Control for Fastly and Akamai), and the
// tags it purges by, in each provider's header. Directives (http, server, location; a level that
// sets one replaces what it would inherit, as nginx merges):
//
//   surge_cdn_max_age 1h;                 CDN-Cache-Control and Surrogate-Control: max-age=3600,
//                                         with the location's stale-while-revalidate and
//                                         stale-if-error (off: neither header, the default)
//   surge_cache_tags fastly akamai;       the tag headers to send: fastly (Surrogate-Key),
//                                         cloudflare (Cache-Tag), akamai (Edge-Cache-Tag), varnish
//                                         (xkey), or the header names themselves; off: none
//   surge_cache_tag deploy-2026-12-07;    a tag of every answer here (a static location's deploy)
//
// Snapshot answers carry their snapshot's tags (cache_tags.h); files carry the surge_cache_tag
// ones. Browsers keep the short Cache-Control the snapshot's max-age gives: purges keep the CDN
// fresh, nothing keeps a browser fresh. A stale answer (memcached unreachable) gets the CDN
// lifetime of the snapshot's own max-age, so a CDN does not keep it long.
//
// Tags stay within every provider's documented limits: tags of 1-128 characters of
// [A-Za-z0-9._-], at most 16 on an answer (Akamai's limit is 128 tags an object; Fastly's and
// Cloudflare's 16 KB of header).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "surge/edge/config_reader.h"

namespace surge::edge {

struct AddHeader;

struct CdnSettings {
  enum TagHeader : uint8_t {
    kSurrogateKey = 1,  // Fastly
    kCacheTag = 2,      // Cloudflare
    kEdgeCacheTag = 4,  // Akamai
    kXkey = 8,          // Varnish with varnish-modules' xkey
  };
  int64_t max_age_s = -1;  // surge_cdn_max_age; -1: not sent
  uint8_t tag_headers = 0;
  std::vector<std::string> tags;  // surge_cache_tag
  bool any() const { return max_age_s >= 0 || (tag_headers != 0 && !tags.empty()); }
};

inline constexpr size_t kMaxCacheTagsPerAnswer = 16;

// surge_cdn_max_age, surge_cache_tags, surge_cache_tag into `out`; false in `handled` for any
// other directive.
bool readCdnDirective(ConfigReader& reader, const Directive& d, CdnSettings& out, bool& handled);

// Appends "CDN-Cache-Control: ...\r\nSurrogate-Control: ...\r\n" (when max_age_s is set) and one
// line per tag header (when there are tags) to `headers`. `extra` are the answer's own tags (a
// snapshot's), sent before the location's.
void appendCdnHeaders(std::string& headers, const CdnSettings& cdn,
                      const std::vector<std::string>& extra, int64_t max_age_s,
                      int64_t stale_while_revalidate_s, int64_t stale_if_error_s);

// The same lines as add_header entries (literal, without `always`): how a file location sends
// them, through the add_header path it already has.
void appendCdnAddHeaders(const CdnSettings& cdn, int64_t stale_while_revalidate_s,
                         int64_t stale_if_error_s, std::vector<AddHeader>& out);

}  // namespace surge::edge
