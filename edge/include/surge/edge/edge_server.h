// surge-edge's request handling: routes each request to static files, the snapshot L1, origin
// forwarding, or the operations endpoints (/healthz, /readyz, /metrics), and counts and logs it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "surge/cache/keyring.h"
#include "surge/cache/metrics.h"
#include "surge/edge/accel_redirect.h"
#include "surge/edge/access_log.h"
#include "surge/edge/edge_config.h"
#include "surge/edge/keep_alive.h"
#include "surge/edge/log_format.h"
#include "surge/edge/origin_forwarder.h"
#include "surge/edge/snapshot_cache.h"
#include "surge/edge/static_files.h"
#include "surge/edge/static_handler.h"
#include "surge/edge/waiting_room.h"
#include "surge/http/server.h"

namespace surge::edge {

// "/api/v1/regions" -> "regions", "/api/v1/regions/11/clinics" -> "region/11",
// "/api/v1/clinics/7" -> "clinic/7", "/api/v1/snapshots/notice" -> "named/notice"; "" otherwise.
std::string snapshotNameForPath(std::string_view path);

class EdgeServer : public http::Handler {
 public:
  EdgeServer(std::shared_ptr<const EdgeConfig> config, cache::Keyring keyring,
             cache::Keyring queue_keyring = {});
  ~EdgeServer() override;
  cache::Result<cache::Done, std::string> start();
  // SIGHUP: what can change at runtime changes; the rest is reported and kept.
  std::vector<std::string> reload(std::shared_ptr<const EdgeConfig> config, cache::Keyring keyring,
                                  cache::Keyring queue_keyring = {});
  // SIGUSR1 (nginx's "reopen"): the access log is opened again by its name (logrotate moved it).
  // Returns what failed, "" when nothing did.
  std::string reopenLogs();
  // SIGTERM: stop accepting, finish what is in progress (at most `grace`), stop.
  void drainAndStop(std::chrono::milliseconds grace);
  int port() const { return server_ ? server_->port() : 0; }
  int tlsPort() const { return server_ ? server_->tlsPort() : -1; }
  // Operators allowed into `surge_ops` locations (admin keys: HTTP Basic user = key id, password
  // = the key's hex secret). Any thread; SIGHUP calls it again.
  void setOpsKeys(cache::Keyring keys);

  void handle(http::Worker& worker, const http::Request& request, http::ResponseSlot slot) override;

 private:
  enum Route { kStatic, kSnapshot, kBooking, kQueue, kOps, kOther, kRoutes };
  // Where an answer goes, what it is counted as, what it does with its connection
  // (keepalive_*) and which access logs it is written to. context() makes one while the request
  // is being handled, asyncContext() one for an answer given after it.
  struct LogContext {
    http::Worker* worker = nullptr;
    http::ResponseSlot slot;
    Route route = kOther;
    std::chrono::steady_clock::time_point start;
    KeepAliveVerdict keep_alive;
    const Exchange* exchange = nullptr;                // during the request
    const std::vector<AccessLogRule>* logs = nullptr;  // nullptr: none
    // Later, with logs to write: the exchange's copy, whose configuration keeps `logs` valid.
    std::shared_ptr<const HeldExchange> held;
  };

  // The worker's current configuration: valid until this worker next calls config() after a
  // reload (it holds its own reference).
  const EdgeConfig& config() const { return *workerConfig(); }
  // The same, held (for what outlives this call: a delayed request, a logged later answer).
  const std::shared_ptr<const EdgeConfig>& workerConfig() const;
  // Takes the current configuration for this worker after a reload: at a request's start only.
  void refreshWorkerConfig() const;
  LogContext context(const Exchange& exchange, Route route) const;
  LogContext asyncContext(const Exchange& exchange, Route route) const;
  void answer(const LogContext& ctx, http::Response response);
  // Finds the location for the exchange and runs it, again after each internal redirect.
  void route(Exchange& exchange);
  // error_page: the URI or @name the answer `r` of `location` becomes (an internal redirect), or
  // nullopt (`r` itself, possibly turned into a redirect to an error page's URL).
  std::optional<std::string> errorPage(Exchange& exchange, const Location& location,
                                       http::Response& r);
  // `surge_status` locations: /healthz, /readyz and /metrics (404 for any other path).
  void answerStatus(const Exchange& exchange);
  // `surge_ops` locations: true when the request was answered here (not authorized, or one of the
  // dashboard's paths); false: a file of the location.
  bool answerOps(Exchange& exchange);
  // limit_req and limit_conn for `location` (once per request): nullopt to go on; 0 when the
  // request was delayed (it comes back through route() later); else the status to refuse with.
  std::optional<int> applyLimits(Exchange& exchange, const Location& location);
  // X-Accel-Redirect in origin's answer `from` to the request `held` copies: routed on from there
  // (answered with `ctx` when unsafe).
  void followAccelRedirect(HeldExchange& held, AccelRedirect redirect, const http::Response& from,
                           const LogContext& ctx);
  // An internal redirect to "/uri?args" or "@name".
  void enterRedirect(Exchange& exchange, const std::string& target);
  // Another server's /metrics (origin's, a peer edge's), for the dashboard.
  void fetchMetrics(OriginForwarder& from, const Exchange& exchange);
  void serveSnapshot(const Exchange& exchange, const std::string& name, const LogContext& ctx);
  // 404 for a snapshot name origin does not publish (its catalog, or a tombstone).
  http::Response notFoundAnswer(const std::string& name) const;
  http::Response snapshotResponse(const SnapshotLookup& found, bool head,
                                  std::string_view accept_encoding,
                                  std::string_view if_none_match) const;
  // Refresher thread: tells origin which known snapshots memcached did not have (gap_report.h),
  // through the origin pool of worker 0.
  void reportGaps(cache::SignedGapReport report);
  // "<edge prefix>-<n>": X-Request-Id for what this edge sends on its own or gets without one.
  std::string nextRequestId();

  cache::MetricsRegistry metrics_;
  mutable std::mutex config_mutex_;
  std::shared_ptr<const EdgeConfig> config_;
  std::atomic<uint64_t> config_generation_{1};
  std::unique_ptr<AccessLogs> access_logs_;
  std::unique_ptr<SnapshotCache> snapshots_;
  std::unique_ptr<OriginForwarder> origin_;
  std::unique_ptr<WaitingRoom> waiting_room_;  // when the config turns it on
  http::AttemptLimiter lookups_;               // booking-code lookups per client address
  // Other edges' /metrics for the dashboard, each through its own small pool (their counters go
  // to a registry of their own, not into this edge's metrics).
  cache::MetricsRegistry peer_metrics_;
  std::vector<std::pair<std::string, std::unique_ptr<OriginForwarder>>> peers_;
  mutable std::mutex ops_mutex_;
  cache::Keyring ops_keys_;
  bool opsAuthorized(const http::Request& request) const;
  std::unique_ptr<StaticHandler> static_;
  std::unique_ptr<http::Server> server_;
  std::atomic<http::Server*> running_server_{nullptr};  // set once server_ has started
  cache::Counter* gap_reports_[3] = {};                 // accepted, refused, failed
  std::atomic<uint64_t> request_ids_{0};
  std::string id_prefix_;

  static constexpr int kStatuses[] = {200, 201, 204, 206, 301, 304, 400, 401, 403,
                                      404, 405, 408, 409, 413, 414, 415, 416, 422,
                                      429, 431, 500, 501, 502, 503, 504, 505};
  static constexpr size_t kStatusCount = sizeof kStatuses / sizeof kStatuses[0];
  cache::Counter* requests_[kRoutes][kStatusCount + 1] = {};
  cache::Histogram* latency_[kRoutes] = {};
};

}  // namespace surge::edge
