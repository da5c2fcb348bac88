// The PROXY protocol (HAProxy's, versions 1 and 2): what a load balancer in front of the edge
// sends first on each connection to say whose it is (nginx's `listen … proxy_protocol`). The
// server reads it before anything else, TLS included, and gives the client's address to each
// request (Request::proxy_protocol_addr, which realip may make the client's).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace surge::http {

// The longest header taken: version 1's 107 bytes, version 2's 16 plus addresses and a few TLVs.
constexpr size_t kMaxProxyHeader = 536;

struct ProxyHeader {
  std::string addr;  // the source address as text ("" for UNKNOWN, LOCAL or another family)
  int port = 0;
  size_t size = 0;  // of the header, to be consumed
};

// 1: a whole header at the start of `in` (`out` filled); 0: more bytes are needed; -1: not a
// PROXY header (the connection is to be closed, as nginx does).
int parseProxyHeader(std::string_view in, ProxyHeader& out);

}  // namespace surge::http
