// A real memcached for tests, on a free loopback port.
#pragma once

#include <string>

#include "surge/testing/process.h"

namespace surge::testing {

class MemcachedServer {
 public:
  // Starts memcached (-m 64, item limit 1 MiB) and waits until it accepts connections.
  MemcachedServer();
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void kill() { process_.kill(); }
  void suspend() { process_.suspend(); }
  void resume() { process_.resume(); }
  // Starts it again on the same port (after kill()); throws if the port was taken meanwhile.
  void restart();

 private:
  bool start();  // false unless this memcached is the one listening on port_
  int port_ = 0;
  ChildProcess process_;
};

}  // namespace surge::testing
