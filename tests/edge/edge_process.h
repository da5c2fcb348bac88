// A real surge-edge for end-to-end tests, in front of an OriginProcess, with its own config file
// and docroot; and the small helpers the edge tests share.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "../origin/origin_process.h"
#include "../origin/test_catalog.h"
#include "surge/testing/failure_log.h"

namespace surge::edge::test {

using http::HttpClient;
using http::HttpResponse;
using origin::test::OriginProcess;
using namespace std::chrono_literals;

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void writeFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

inline std::string gunzip(const std::string& in) {
  z_stream zs{};
  inflateInit2(&zs, 15 + 16);
  std::string out(in.size() * 50 + 1024, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string("<bad gzip>");
}

// memcached's own count of get commands: what the edge really asked.
inline uint64_t memcachedGets(int port) {
  int fd = testing::connectLoopback(port);
  if (fd < 0) return 0;
  const char cmd[] = "stats\r\n";
  (void)!::send(fd, cmd, sizeof cmd - 1, 0);
  std::string text;
  char buf[4096];
  while (text.find("END\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  std::smatch m;
  if (std::regex_search(text, m, std::regex("STAT cmd_get (\\d+)"))) return std::stoull(m[1]);
  return 0;
}

// Sum of a metric's samples (all label sets) in Prometheus text.
inline double metric(const std::string& text, const std::string& name) {
  double sum = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0) continue;
    char next = line.size() > name.size() ? line[name.size()] : ' ';
    if (next != ' ' && next != '{') continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// A surge-edge in front of an OriginProcess, with its own config file and docroot.
class EdgeProcess {
 public:
  // `upstream_port` (0: origin's own): where bookings go, e.g. a FaultProxy in front of origin.
  explicit EdgeProcess(OriginProcess& origin, std::string extra_http = "",
                       std::string extra_server = "", int upstream_port = 0)
      : origin_(origin), upstream_port_(upstream_port ? upstream_port : origin.port()) {
    static int counter = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("surge-edge-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "html");
    port_ = testing::freeLoopbackPort();
    writeConfig(extra_http, extra_server);
    start();
  }
  ~EdgeProcess() {
    process_.kill();
    testing::printLogIfTestFailed(path("edge.log"));  // the folder goes next
    std::filesystem::remove_all(dir_);
  }
  EdgeProcess(const EdgeProcess&) = delete;
  EdgeProcess& operator=(const EdgeProcess&) = delete;

  void writeConfig(const std::string& extra_http, const std::string& extra_server) {
    std::string c;
    c += "worker_processes 2;\n";
    c += "http {\n";
    c += "  gzip_static on;\n";
    c += "  access_log access.log combined;\n";
    c += "  surge_memcached " + origin_.memcachedList(" ") + ";\n";
    c += "  surge_snapshot_keys " + origin_.path("snapshot-keys.conf") + ";\n";
    c += "  surge_refresh_interval 200ms;\n";
    c += "  surge_stale_if_error 300s;\n";
    c += "  upstream origin { server 127.0.0.1:" + std::to_string(upstream_port_) +
         "; keepalive 8; }\n";
    c += "  proxy_connect_timeout 500ms;\n";
    c += "  proxy_read_timeout " + std::to_string(5 * SURGE_TEST_SLOWDOWN) + "s;\n";
    c += extra_http;
    c += "  server {\n";
    c += "    listen 127.0.0.1:" + std::to_string(port_) + " backlog=512;\n";
    c += "    root html;\n";
    c += "    location / { expires 60s; }\n";
    c += "    location /assets/ { surge_immutable_hashed on; }\n";
    c += "    location /api/v1/ { surge_snapshots; }\n";
    c += "    location /api/v1/bookings { proxy_pass http://origin; }\n";
    c += "    location ~ ^/(healthz|readyz|metrics)$ { surge_status; }\n";
    c += extra_server;
    c += "  }\n";
    c += "}\n";
    writeFile(path("edge.conf"), c);
  }

  void start() {
    process_ = testing::ChildProcess({SURGE_EDGE_BIN, "-c", path("edge.conf")}, path("edge.log"));
    if (!testing::waitForPort(port_, std::chrono::seconds(10))) {
      throw std::runtime_error("surge-edge did not start: " + readFile(path("edge.log")));
    }
  }
  void signal(int sig) { ::kill(process_.pid(), sig); }
  int wait(std::chrono::milliseconds timeout) { return process_.wait(timeout); }

  int port() const { return port_; }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string log() const { return readFile(path("edge.log")); }

  HttpResponse get(const std::string& target,
                   std::vector<std::pair<std::string, std::string>> headers = {},
                   const std::string& method = "GET") {
    HttpClient client("127.0.0.1", port_, 5000ms);
    auto r = client.request(method, target, headers);
    if (!r.ok()) throw std::runtime_error(target + ": " + r.error());
    return r.value();
  }
  HttpResponse post(const std::string& target, const std::string& body,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("Content-Type", "application/json");
    HttpClient client("127.0.0.1", port_, 10000ms * SURGE_TEST_SLOWDOWN);
    auto r = client.request("POST", target, headers, body);
    if (!r.ok()) throw std::runtime_error(target + ": " + r.error());
    return r.value();
  }
  std::string metrics() { return get("/metrics").body; }

 private:
  OriginProcess& origin_;
  int upstream_port_ = 0;
  std::filesystem::path dir_;
  int port_ = 0;
  testing::ChildProcess process_;
};

// The answer once it is a 200 (the first request may wait on a fetch, or origin's first
// publish may not be in memcached yet).
inline HttpResponse waitFor200(EdgeProcess& edge, const std::string& target,
                               std::chrono::milliseconds bound = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  HttpResponse r;
  do {
    r = edge.get(target);
    if (r.status == 200) return r;
    std::this_thread::sleep_for(50ms);
  } while (std::chrono::steady_clock::now() < deadline);
  return r;
}

inline std::string bookingBody(int64_t clinic, const std::string& date, const std::string& time,
                               const std::string& person) {
  return "{\"clinic_id\":" + std::to_string(clinic) + ",\"date\":\"" + date + "\",\"time\":\"" +
         time + "\",\"person_id\":\"" + person + "\"}";
}

}  // namespace surge::edge::test
