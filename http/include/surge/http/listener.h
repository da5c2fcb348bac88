// Listening sockets for the HTTP core: one SO_REUSEPORT socket per worker loop, so the kernel
// spreads connections without an accept lock, and the port shared among this server's own
// workers only.
//
// SO_REUSEPORT alone lets any process of the same user bind the same port and take a share of
// its connections: a second surge started by mistake would silently split the traffic (and, for
// an origin, its own store). So a port on which another process already listens is refused,
// before binding (a clear message naming that process) and again after listening (two servers
// started at the same instant both see the other and neither stays).
#pragma once

#include <string>
#include <vector>

#include "surge/base/result.h"

namespace surge::http {

// `count` non-blocking listeners on host:port (an IPv4 address; port 0: a free port chosen once
// for all of them, written back to `port`). Fails when another process listens on that port, on
// this address or a wildcard one.
base::Result<std::vector<int>, std::string> listenShared(const std::string& host, int& port,
                                                         int backlog, int count);

// Who else listens on the TCP port `port` at `ipv4_host` or a wildcard address: "nginx (pid 12)",
// "another process", or "" when nobody but the sockets in `ours` (inode numbers) does.
std::string otherListener(const std::string& ipv4_host, int port,
                          const std::vector<unsigned long>& ours = {});

}  // namespace surge::http
