// HTTP/2 server push as nginx 1.22 does it (removed in 1.25.1, and browsers no longer take it;
// kept for configurations written for 1.22 and its tests):
//   http2_push URI | off;            (http, server, location; repeated) a path ("/…", variables
//                                    allowed; empty, "off" or relative after evaluation: none)
//                                    pushed with each answer of the level; a level with its own
//                                    replaces what it inherits, "off" pushes nothing
//   http2_push_preload on | off;     the answer's own `Link: <URI>; rel=preload` fields (not
//                                    `nopush`) are pushed too, an upstream's included
//   http2_max_concurrent_pushes N;   pushed streams open at once on a connection (default 10)
// The pushes go into http::Response::http2_pushes; the HTTP/2 session promises and dispatches
// them (h2_session.cc), over HTTP/1.1 nothing happens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "surge/edge/config_reader.h"
#include "surge/edge/variables.h"

namespace surge::edge {

struct Http2Push {
  std::vector<ComplexValue> uris;  // http2_push
  bool preload = false;            // http2_push_preload
  uint32_t max_concurrent = 10;    // http2_max_concurrent_pushes

  bool any() const { return !uris.empty() || preload; }
};

// The http2_push, http2_push_preload and http2_max_concurrent_pushes directives of one level's
// `block` into `level` (which holds what it inherits).
bool readHttp2Pushes(ConfigReader& reader, const std::vector<Directive>& block, Http2Push& level);

// What an answer with `headers` ("Name: value\r\n" lines) to `exchange` pushes.
std::vector<std::string> http2PushesFor(const Http2Push& push, const Exchange& exchange,
                                        std::string_view headers);

// The paths of `rel=preload` links in a Link field's value (RFC 8288), without `nopush`: what
// http2_push_preload pushes. Exposed for tests.
void preloadLinks(std::string_view value, std::vector<std::string>& out);

}  // namespace surge::edge
