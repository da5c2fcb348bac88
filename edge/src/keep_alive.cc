#include "surge/edge/keep_alive.h"

#include <string_view>

namespace surge::edge {
namespace {

// nginx's msie6 flag: "MSIE " followed by a version below 7 (it also spares "SV1" builds of 6,
// which later service packs made safe; surge does the same).
bool oldMsie(std::string_view ua) {
  size_t at = ua.find("MSIE ");
  if (at == std::string_view::npos || at + 7 > ua.size()) return false;
  char major = ua[at + 5];
  if (major < '2' || major > '6' || ua[at + 6] != '.') return false;
  return major != '6' || ua.find("SV1", at) == std::string_view::npos;
}

// nginx's safari flag: "Safari/" on "Mac OS X", and not Chrome.
bool macSafari(std::string_view ua) {
  return ua.find("Mac OS X") != std::string_view::npos &&
         ua.find("Safari/") != std::string_view::npos &&
         ua.find("Chrome/") == std::string_view::npos;
}

}  // namespace

KeepAliveVerdict keepAliveVerdict(const KeepAlive& settings, const http::Request& request) {
  KeepAliveVerdict v;
  v.idle_timeout = settings.timeout;
  v.header_s = settings.header_s;
  if (settings.timeout.count() == 0 || request.connection_requests >= settings.requests) {
    v.close = true;
    return v;
  }
  if (request.connection_requests > 0 &&
      std::chrono::steady_clock::now() - request.connection_start > settings.time) {
    v.close = true;
    return v;
  }
  // nginx closes after an old MSIE's POST only (its GETs were never the trouble).
  if (settings.disable_msie6 && request.method == "POST" && oldMsie(request.header("User-Agent"))) {
    v.close = true;
  }
  if (settings.disable_safari && macSafari(request.header("User-Agent"))) v.close = true;
  return v;
}

void applyKeepAlive(const KeepAliveVerdict& verdict, http::Response& response) {
  if (verdict.close) {
    response.close = true;
    response.goaway = true;
    return;
  }
  response.idle_timeout = verdict.idle_timeout;
  response.keep_alive_header_s = verdict.header_s;  // said only if the connection stays open
}

bool readKeepAlive(ConfigReader& r, const Directive& d, KeepAlive& out, bool& handled) {
  handled = true;
  if (d.name == "keepalive_requests") {
    if (!r.args(d, 1, 1)) return false;
    uint64_t n = 0;
    if (!r.number(d, d.args[0], 0, UINT64_MAX / 2, n)) return false;
    out.requests = n;
  } else if (d.name == "keepalive_timeout") {
    if (!r.args(d, 1, 2)) return false;
    if (!r.duration(d, d.args[0], out.timeout)) return false;
    out.header_s = -1;
    if (d.args.size() == 2) {
      std::chrono::milliseconds header{0};
      if (!r.duration(d, d.args[1], header)) return false;
      out.header_s = header.count() / 1000;
    }
  } else if (d.name == "keepalive_time") {
    if (!r.args(d, 1, 1)) return false;
    if (!r.duration(d, d.args[0], out.time)) return false;
  } else if (d.name == "keepalive_disable") {
    if (!r.args(d, 1, 3)) return false;
    out.disable_msie6 = out.disable_safari = false;
    for (const std::string& a : d.args) {
      if (a == "msie6") {
        out.disable_msie6 = true;
      } else if (a == "safari") {
        out.disable_safari = true;
      } else if (a != "none") {
        return r.fail(d, "invalid value \"" + a + "\"");
      }
    }
  } else {
    handled = false;
  }
  return true;
}

}  // namespace surge::edge
