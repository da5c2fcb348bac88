// nginx's keepalive_requests, keepalive_timeout, keepalive_time and keepalive_disable: whether a
// connection stays open after an answer, how long it then waits for the next request, and what
// the answer says about it. Set per location (http, server and location levels, merged as nginx
// merges them); decided when the request arrives, applied to whatever answers it.
#pragma once

#include <chrono>
#include <cstdint>

#include "surge/edge/config_reader.h"
#include "surge/http/request_parser.h"
#include "surge/http/server.h"

namespace surge::edge {

struct KeepAlive {
  uint64_t requests = 1000;  // nginx 1.22's default
  // keepalive_timeout TIMEOUT [HEADER]: negative: the server's idle timeout (ServerOptions);
  // 0: no keep-alive. header_s >= 0 sends "Keep-Alive: timeout=HEADER".
  std::chrono::milliseconds timeout{-1};
  int64_t header_s = -1;
  std::chrono::milliseconds time{3600000};  // keepalive_time: a connection's whole life
  bool disable_msie6 = true;                // keepalive_disable msie6 (nginx's default)
  bool disable_safari = false;
};

// What an answer does with its connection.
struct KeepAliveVerdict {
  bool close = false;
  std::chrono::milliseconds idle_timeout{-1};
  int64_t header_s = -1;
};

// The verdict of `settings` for `request` (its method, User-Agent, number on the connection and
// the connection's age).
KeepAliveVerdict keepAliveVerdict(const KeepAlive& settings, const http::Request& request);

// keepalive_requests, keepalive_timeout, keepalive_time and keepalive_disable into `out`; false
// in `handled` for any other directive.
bool readKeepAlive(ConfigReader& reader, const Directive& d, KeepAlive& out, bool& handled);

// Closes after `response`, or sets how long the connection then waits and the Keep-Alive header.
void applyKeepAlive(const KeepAliveVerdict& verdict, http::Response& response);

}  // namespace surge::edge
