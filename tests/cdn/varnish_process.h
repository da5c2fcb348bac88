// Debian's Varnish with varnish-modules' xkey, in front of surge-edges as a CDN (issue 19): the
// shipped packaging/examples/surge-cdn.vcl, with a surge-edges.vcl written for the edges given.
#pragma once

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "surge/testing/process.h"

namespace surge::cdn::test {

class VarnishProcess {
 public:
  // `port`: where it listens (0: a free one), chosen ahead when origin must know it first.
  explicit VarnishProcess(const std::vector<int>& edge_ports, int port = 0) {
    static int counter = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("surge-varnish-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::filesystem::permissions(dir_, std::filesystem::perms::all);
    std::string edges;
    std::string init = "sub vcl_init {\n  new edges = directors.round_robin();\n";
    for (size_t i = 0; i < edge_ports.size(); ++i) {
      std::string name = "edge" + std::to_string(i + 1);
      edges += "backend " + name + " { .host = \"127.0.0.1\"; .port = \"" +
               std::to_string(edge_ports[i]) + "\"; .probe = surge_probe; }\n";
      init += "  edges.add_backend(" + name + ");\n";
    }
    std::ofstream(dir_ / "surge-edges.vcl")
        << edges << init << "}\nacl surge_purgers { \"127.0.0.1\"; }\n";
    // varnishd compiles the VCL as its own unprivileged user: the shipped file is copied here,
    // where that user can read it (a checkout under /root is not readable to it).
    std::filesystem::copy_file(std::string(SURGE_SOURCE_DIR) + "/packaging/examples/surge-cdn.vcl",
                               dir_ / "surge-cdn.vcl");
    for (const char* name : {"surge-cdn.vcl", "surge-edges.vcl"}) {
      std::filesystem::permissions(dir_ / name, std::filesystem::perms::owner_read |
                                                    std::filesystem::perms::owner_write |
                                                    std::filesystem::perms::group_read |
                                                    std::filesystem::perms::others_read);
    }
    port_ = port ? port : testing::freeLoopbackPort();
    process_ = testing::ChildProcess(
        {testing::findProgram("varnishd"), "-F", "-n", (dir_ / "n").string(), "-a",
         "127.0.0.1:" + std::to_string(port_), "-f", (dir_ / "surge-cdn.vcl").string(), "-p",
         "vcl_path=" + dir_.string() + ":/etc/varnish:/usr/share/varnish/vcl", "-s", "malloc,64m",
         "-p", "thread_pool_min=20"},
        (dir_ / "varnish.log").string());
    if (!testing::waitForPort(port_, std::chrono::seconds(20))) {
      std::ifstream log(dir_ / "varnish.log");
      throw std::runtime_error("varnishd did not start: " +
                               std::string(std::istreambuf_iterator<char>(log), {}));
    }
  }
  ~VarnishProcess() {
    process_.kill();
    std::filesystem::remove_all(dir_);
  }
  VarnishProcess(const VarnishProcess&) = delete;
  VarnishProcess& operator=(const VarnishProcess&) = delete;

  int port() const { return port_; }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  testing::ChildProcess process_;
};

}  // namespace surge::cdn::test
