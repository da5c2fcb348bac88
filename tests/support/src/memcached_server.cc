#include "surge/testing/memcached_server.h"

#include <unistd.h>

#include <filesystem>
#include <stdexcept>

namespace surge::testing {

MemcachedServer::MemcachedServer() {
  // The port is free when chosen but another process may take it before memcached binds: retry.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = freeLoopbackPort();
    restart();
    if (process_.running()) return;
  }
  throw std::runtime_error("memcached did not start");
}

void MemcachedServer::restart() {
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
  if (!waitForPort(port_, std::chrono::seconds(5))) process_.kill();
}

}  // namespace surge::testing
