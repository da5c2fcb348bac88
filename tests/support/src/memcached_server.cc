#include "surge/testing/memcached_server.h"

#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <thread>

namespace surge::testing {

MemcachedServer::MemcachedServer() {
  // The port is free when chosen but another process may take it before memcached binds: retry.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = freeLoopbackPort();
    if (start()) return;
  }
  throw std::runtime_error("memcached did not start");
}

void MemcachedServer::restart() {
  if (!start()) {
    throw std::runtime_error("memcached could not take port " + std::to_string(port_) +
                             " back: another process listens there");
  }
}

bool MemcachedServer::start() {
  std::vector<std::string> argv = {findProgram("memcached"),
                                   "-l",
                                   "127.0.0.1",
                                   "-p",
                                   std::to_string(port_),
                                   "-U",
                                   "0",
                                   "-m",
                                   "64",
                                   "-I",
                                   "1m",
                                   "-c",
                                   "4096",
                                   "-t",
                                   "1"};
  // memcached refuses to run as root without a user to drop to.
  if (::geteuid() == 0) {
    argv.push_back("-u");
    argv.push_back("nobody");
  }
  // Logs go to the temp folder, not to wherever the test binary was started.
  std::filesystem::path logs = std::filesystem::temp_directory_path() / "surge-test-logs";
  std::filesystem::create_directories(logs);
  process_ = ChildProcess(argv, (logs / ("memcached-" + std::to_string(port_) + ".log")).string());
  if (!waitForPort(port_, std::chrono::seconds(5))) {
    process_.kill();
    return false;
  }
  // Something answers on the port, but is it this memcached? Between a kill and this restart
  // another test (ctest -j) may have been handed the freed port; memcached then exits at once
  // ("Address already in use") and a test would go on talking to a stranger. Say so instead.
  for (int i = 0; i < 20; ++i) {
    if (!process_.alive()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace surge::testing
