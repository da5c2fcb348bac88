#include "surge/edge/http2_directives.h"

#include <algorithm>
#include <set>
#include <string>

namespace surge::edge {

bool readHttp2Directive(ConfigReader& r, const Directive& d, http::Http2Options& options, bool& on,
                        bool& handled) {
  handled = d.name == "http2" || d.name.starts_with("http2_");
  if (!handled) return true;
  if (d.name == "http2") return r.onOff(d, on);
  if (d.name == "http2_max_concurrent_streams") {
    if (!r.args(d, 1, 1)) return false;
    uint64_t n = 0;
    if (!r.number(d, d.args[0], 1, 1u << 16, n)) return false;
    options.max_concurrent_streams = static_cast<uint32_t>(n);
    return true;
  }
  if (d.name == "http2_max_field_size" || d.name == "http2_max_header_size") {
    uint64_t n = 0;
    if (!r.size(d, n)) return false;
    if (n < 1024 || n > (1u << 20)) return r.fail(d, "\"" + d.name + "\" must be 1k..1m");
    options.max_header_list = std::max(options.max_header_list, static_cast<uint32_t>(n));
    return true;
  }
  // Per location, read with the location's settings (edge_config.cc, http2_push.cc).
  if (d.name == "http2_chunk_size" || d.name == "http2_push" || d.name == "http2_push_preload" ||
      d.name == "http2_max_concurrent_pushes") {
    return true;
  }
  static const std::set<std::string> without_meaning = {
      "http2_recv_buffer_size", "http2_body_preread_size", "http2_idle_timeout",
      "http2_recv_timeout",     "http2_max_requests",      "http2_streams_index_size"};
  if (without_meaning.count(d.name)) return r.args(d, 1, 1);
  return r.fail(d, "unknown directive \"" + d.name + "\"");
}

void markHttp2(http::ServerOptions& server, int port, bool tls) {
  if (tls) {
    server.http2_tls = true;
  } else if (std::find(server.h2c_ports.begin(), server.h2c_ports.end(), port) ==
             server.h2c_ports.end()) {
    server.h2c_ports.push_back(port);
  }
}

}  // namespace surge::edge
