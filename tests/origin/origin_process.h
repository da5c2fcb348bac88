// A real surge-origin (and the memcached it publishes to) for end-to-end tests, in a fresh
// directory with its own keys, database and catalog.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "surge/cache/keyring.h"
#include "surge/cache/memcached_client.h"
#include "surge/cache/snapshot_envelope.h"
#include "surge/cache/snapshot_names.h"
#include "surge/http/client.h"
#include "surge/origin/admin_auth.h"
#include "surge/origin/catalog_generator.h"
#include "surge/testing/failure_log.h"
#include "surge/testing/memcached_server.h"
#include "surge/testing/process.h"

namespace surge::origin {
// The tests of origin speak to it through surge's one client.
using http::HttpClient;
using http::HttpResponse;
}  // namespace surge::origin

namespace surge::origin::test {

inline const std::string kSnapshotKeyLine = "snap-1 " + std::string(64, '5');
inline const std::string kAdminKeyLine = "ops-1 " + std::string(64, '7');

class OriginProcess {
 public:
  // `memcached_nodes` > 1: a ring of that many memcached servers (the first is memcached()).
  // `extra_args` go last on the command line (a flag given again there wins).
  explicit OriginProcess(const CatalogData& catalog, int memcached_nodes = 1,
                         std::vector<std::string> extra_args = {})
      : extra_args_(std::move(extra_args)) {
    for (int i = 1; i < memcached_nodes; ++i)
      extra_memcached_.push_back(std::make_unique<testing::MemcachedServer>());
    static int counter = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("surge-origin-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    write("snapshot-keys.conf", kSnapshotKeyLine + "\n");
    write("admin-keys.conf", kAdminKeyLine + "\n");
    write("catalog.csv", writeCatalogCsv(catalog));
    port_ = testing::freeLoopbackPort();
    start();
  }
  ~OriginProcess() {
    process_.kill();
    testing::printLogIfTestFailed(path("origin.log"));  // the folder goes next
    std::filesystem::remove_all(dir_);
  }

  // The command line of this origin; `port` and `db` may name another's (a second origin started
  // by mistake).
  std::vector<std::string> commandLine(int port, const std::string& db) const {
    std::vector<std::string> argv = {SURGE_ORIGIN_BIN,
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(port),
                                     "--db",
                                     db,
                                     "--memcached",
                                     memcachedList(","),
                                     "--snapshot-keys",
                                     path("snapshot-keys.conf"),
                                     "--admin-keys",
                                     path("admin-keys.conf"),
                                     "--catalog",
                                     path("catalog.csv"),
                                     "--workers",
                                     "2",
                                     "--publish-coalesce-ms",
                                     "20",
                                     "--full-publish-interval",
                                     "2"};
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    return argv;
  }

  void start() {
    process_ = testing::ChildProcess(commandLine(port_, path("origin.db")), path("origin.log"));
    if (!testing::waitForPort(port_, std::chrono::seconds(20))) {
      throw std::runtime_error("surge-origin did not start: see " + path("origin.log"));
    }
  }
  void kill9() { process_.kill(); }
  void suspend() { process_.suspend(); }
  void resume() { process_.resume(); }
  int stop() { return process_.stop(); }
  pid_t pid() const { return process_.pid(); }

  int port() const { return port_; }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  testing::MemcachedServer& memcached() { return memcached_; }
  // Node `i` of the ring (0 is memcached()).
  testing::MemcachedServer& memcachedNode(size_t i) {
    return i == 0 ? memcached_ : *extra_memcached_.at(i - 1);
  }
  size_t memcachedNodes() const { return 1 + extra_memcached_.size(); }
  std::string memcachedList(const std::string& separator) const {
    std::string list = memcached_.address();
    for (const auto& m : extra_memcached_)
      list += separator + m->address();
    return list;
  }

  // A snapshot as edges would see it: verified and decoded, or nullopt.
  std::optional<nlohmann::json> snapshot(const std::string& name) {
    if (!cache_) {
      cache::MemcachedOptions o;
      o.servers = {memcached_.address()};
      cache_ = std::move(cache::MemcachedClient::create(o).value());
      keys_ = cache::Keyring::parse(kSnapshotKeyLine, "test").value();
    }
    auto got = cache_->get(cache::snapshotKey(name));
    if (!got.ok() || !got->has_value()) return std::nullopt;
    raw_ = **got;
    auto opened = cache::openSnapshot(keys_, raw_);
    if (!opened.ok() || opened->content_type == cache::kRemovedContentType) return std::nullopt;
    auto body = cache::decodeSnapshotBody(*opened);
    if (!body.ok()) return std::nullopt;
    auto json = nlohmann::json::parse(body.value(), nullptr, false);
    if (json.is_discarded()) return nlohmann::json(body.value());
    return json;
  }

  // A signed admin request, as surgectl sends it.
  HttpResponse admin(const std::string& method, const std::string& target,
                     const std::string& body = "", const std::string& content_type = "") {
    static int nonce = 0;
    cache::Keyring keys = cache::Keyring::parse(kAdminKeyLine, "test").value();
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    SignedHeaders h = signAdminRequest(
        keys.signingKey(), method, target, body, now,
        "test-nonce-" + std::to_string(::getpid()) + "-" + std::to_string(++nonce));
    std::vector<std::pair<std::string, std::string>> headers = {{"X-Surge-Key", h.key_id},
                                                                {"X-Surge-Timestamp", h.timestamp},
                                                                {"X-Surge-Nonce", h.nonce},
                                                                {"X-Surge-Signature", h.signature}};
    if (!content_type.empty()) headers.emplace_back("Content-Type", content_type);
    HttpClient client("127.0.0.1", port_);
    auto r = client.request(method, target, headers, body);
    if (!r.ok()) throw std::runtime_error(r.error());
    return r.value();
  }

 private:
  void write(const std::string& name, const std::string& text) {
    std::ofstream(path(name), std::ios::binary) << text;
  }

  std::vector<std::string> extra_args_;
  std::filesystem::path dir_;
  testing::MemcachedServer memcached_;
  std::vector<std::unique_ptr<testing::MemcachedServer>> extra_memcached_;
  int port_ = 0;
  testing::ChildProcess process_;
  cache::MemcachedClientPtr cache_;
  cache::Keyring keys_;
  std::string raw_;
};

// The body of POST /api/v1/bookings.
inline std::string bookingBody(int64_t clinic, const std::string& date, const std::string& time,
                               const std::string& person) {
  return nlohmann::json{
      {"clinic_id", clinic}, {"date", date}, {"time", time}, {"person_id", person}}
      .dump();
}

// A booking with its Idempotency-Key; status -1 when no answer came.
inline HttpResponse postBooking(HttpClient& client, const std::string& body,
                                const std::string& key) {
  auto r = client.request("POST", "/api/v1/bookings",
                          {{"Content-Type", "application/json"}, {"Idempotency-Key", key}}, body);
  if (!r.ok()) return HttpResponse{-1, {}, r.error()};
  return r.value();
}

// Active bookings as the origin's index counts them.
inline int64_t bookedTotal(OriginProcess& origin) {
  return nlohmann::json::parse(origin.admin("GET", "/admin/v1/stats").body)["booked"]
      .get<int64_t>();
}

}  // namespace surge::origin::test
