// `gzip on`: nginx's ngx_http_gzip_module, compressing answers on the fly for clients that take
// gzip. What nginx does, in its order: only answers 200, 403 and 404 (HEAD too), of a
// type in gzip_types (text/html always), at least gzip_min_length long when the length is known,
// not already encoded, not to HTTP/1.0 unless gzip_http_version 1.0, not to a request that came
// through a proxy (Via) unless gzip_proxied any, not to a User-Agent gzip_disable names. The
// answer loses Content-Length (sent with its new length here: surge has the whole body), its
// ETag becomes weak, Accept-Ranges goes, and gzip_vary adds "Vary: Accept-Encoding".
//
// surge compresses a whole answer at once (never streams): a static file is read and its
// compressed form kept per worker (keyed by the file's identity and the level) so a hot file is
// compressed once, not per request. Precompressed siblings (gzip_static) are served before this
// is asked.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "surge/edge/config_reader.h"
#include "surge/http/server.h"
#include "surge/nginx_compat/regex.h"

namespace surge::edge {

struct GzipSettings {
  bool on = false;
  int level = 1;                   // gzip_comp_level 1..9
  uint64_t min_length = 20;        // gzip_min_length
  std::vector<std::string> types;  // gzip_types beyond text/html; "*": any
  bool vary = false;               // gzip_vary
  bool proxied_any = false;        // gzip_proxied any (off: a request with Via is not compressed)
  bool http_1_0 = false;           // gzip_http_version 1.0
  bool disable_msie6 = false;      // gzip_disable msie6
  std::vector<std::shared_ptr<const nginx_compat::Regex>> disable;  // gzip_disable REGEX...
};

// gzip, gzip_comp_level, gzip_min_length, gzip_types, gzip_vary, gzip_proxied,
// gzip_http_version, gzip_disable, gzip_buffers (accepted: surge compresses whole answers) at
// any level (`handled`: the directive is one of them). gzip_static is static_handler.cc's.
bool readGzipDirective(ConfigReader& r, const Directive& d, GzipSettings& gzip, bool& handled);

// gzip (RFC 1952) of `raw` at `level` (1..9); empty when zlib fails. Also what the snapshot L1
// makes for gzip-only clients.
std::string gzipCompress(std::string_view raw, int level = 6);

// Compresses `response` in place when `gzip` and the request allow it.
void gzipAnswer(const GzipSettings& gzip, const http::Request& request, http::Response& response);

}  // namespace surge::edge
