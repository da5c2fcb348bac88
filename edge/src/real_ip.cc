#include "surge/edge/real_ip.h"

#include <arpa/inet.h>

namespace surge::edge {

namespace {

bool isAddress(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  const std::string s(text);
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool trusted(const RealIpSettings& settings, std::string_view address) {
  return settings.trusted.allows(address);
}

}  // namespace

bool isRealIpDirective(const Directive& d) {
  return d.name == "set_real_ip_from" || d.name == "real_ip_header" ||
         d.name == "real_ip_recursive";
}

bool readRealIp(ConfigReader& r, const std::vector<Directive>& block, RealIpSettings& level) {
  RealIpSettings own_from;
  for (const Directive& d : block) {
    if (d.name == "set_real_ip_from") {
      if (!r.args(d, 1, 1)) return false;
      if (d.args[0].starts_with("unix:")) continue;  // surge listens on no unix socket
      auto added = own_from.trusted.add(true, d.args[0]);
      if (!added) return r.fail(d, added.error());
      own_from.any = true;
    } else if (d.name == "real_ip_header") {
      if (!r.args(d, 1, 1)) return false;
      level.header = d.args[0];
    } else if (d.name == "real_ip_recursive") {
      if (!r.onOff(d, level.recursive)) return false;
    }
  }
  if (own_from.any) {
    (void)own_from.trusted.add(false, "all");
    level.trusted = std::move(own_from.trusted);
    level.any = true;
  }
  return true;
}

std::string realClientAddress(const RealIpSettings& s, const http::Request& request) {
  if (!s.any || !trusted(s, request.remote_addr)) return {};
  if (http::equalsIgnoreCase(s.header, "proxy_protocol")) {
    return isAddress(request.proxy_protocol_addr) ? std::string(request.proxy_protocol_addr) : "";
  }
  std::string_view value = request.header(s.header);
  if (value.empty()) return {};
  if (!http::equalsIgnoreCase(s.header, "X-Forwarded-For")) {
    value = http::trimOws(value);
    return isAddress(value) ? std::string(value) : "";
  }
  // From the right: the last address, or with real_ip_recursive the last one not trusted (the
  // leftmost when every one is).
  std::string found;
  while (!value.empty()) {
    const size_t comma = value.rfind(',');
    const std::string_view item =
        http::trimOws(comma == std::string_view::npos ? value : value.substr(comma + 1));
    value = comma == std::string_view::npos ? std::string_view() : value.substr(0, comma);
    if (!isAddress(item)) break;
    found = std::string(item);
    if (!s.recursive || !trusted(s, item)) break;
  }
  return found;
}

}  // namespace surge::edge
