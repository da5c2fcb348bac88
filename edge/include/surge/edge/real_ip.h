// nginx's realip module: behind a CDN, a load balancer or HAProxy, the client is not the peer of
// the connection. A request that comes from a trusted address (set_real_ip_from) takes its
// client's address from what that proxy says:
//   set_real_ip_from ADDRESS|CIDR;   (repeated) the proxies trusted
//   real_ip_header NAME|X-Real-IP|X-Forwarded-For|proxy_protocol;   (default X-Real-IP)
//   real_ip_recursive on|off;        X-Forwarded-For: the last address not trusted itself,
//                                    rather than the last one
// (http, server, location). That address is then $remote_addr, what allow/deny, limit_req and
// limit_conn keys, the lookup limit and X-Forwarded-For see; $realip_remote_addr keeps the
// peer's.
#pragma once

#include <string>

#include "surge/edge/config_reader.h"
#include "surge/http/access_rules.h"
#include "surge/http/request_parser.h"

namespace surge::edge {

struct RealIpSettings {
  http::AccessRules trusted;  // set_real_ip_from, each an allow, then "deny all"
  bool any = false;           // some set_real_ip_from
  std::string header = "X-Real-IP";
  bool recursive = false;
};

// The realip directives of one level's `block` into `level` (which holds what it inherits: its
// own set_real_ip_from lines replace the inherited ones, as nginx's).
bool readRealIp(ConfigReader& reader, const std::vector<Directive>& block, RealIpSettings& level);
// Is `d` one of them (read by readRealIp)?
bool isRealIpDirective(const Directive& d);

// The client's address for `request` under `settings`: "" when it stays the peer's (not
// trusted, no such header, or a value that is not an address).
std::string realClientAddress(const RealIpSettings& settings, const http::Request& request);

}  // namespace surge::edge
