// surge-edge's dispatcher: picks the server and the location of each request, runs nginx's
// phases (rewrite, limit_req/limit_conn, access, error_page) and hands the exchange to its
// location's handler (location_handler.h); every answer leaves through answer(), which counts,
// logs and sends it. Owns the configuration's reloads and what every handler shares (metrics,
// access logs, the HTTP server).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "surge/base/metrics.h"
#include "surge/cache/keyring.h"
#include "surge/edge/access_log.h"
#include "surge/edge/edge_config.h"
#include "surge/edge/edge_ops.h"
#include "surge/edge/location_handler.h"
#include "surge/edge/proxy_handler.h"
#include "surge/edge/pull_handler.h"
#include "surge/edge/queue_handler.h"
#include "surge/edge/snapshot_handler.h"
#include "surge/edge/static_handler.h"
#include "surge/http/server.h"

namespace surge::edge {

class EdgeServer : public http::Handler, private Dispatcher {
 public:
  EdgeServer(std::shared_ptr<const EdgeConfig> config, cache::Keyring keyring,
             cache::Keyring queue_keyring = {});
  ~EdgeServer() override;
  base::Result<base::Done, std::string> start();
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
  void setOpsKeys(cache::Keyring keys) { ops_->setKeys(std::move(keys)); }

  void handle(http::Worker& worker, const http::Request& request, http::ResponseSlot slot) override;
  // A request for a proxy location with proxy_request_buffering off (found as handle() would
  // find it before any rewrite) goes on before its body.
  bool streamsBody(const http::Request& head) override;
  // A refused request (a malformed HTTP/2 request's 400) goes to its location's error_page,
  // as nginx's does; without one, the server's own refusal answers it.
  bool routeRefusal(http::Worker& worker, const http::Request& request, http::ResponseSlot slot,
                    int status) override;

 private:
  // The worker's current configuration: valid until this worker next calls config() after a
  // reload (it holds its own reference).
  const EdgeConfig& config() const { return *workerConfig(); }
  // Dispatcher
  const std::shared_ptr<const EdgeConfig>& workerConfig() const override;
  AnswerContext context(const Exchange& exchange, Route route) const override;
  bool routeErrorPage(Exchange& exchange, http::Response& response) override;
  AnswerContext asyncContext(const Exchange& exchange, Route route) const override;
  void answer(const AnswerContext& ctx, http::Response response) override;
  void routeOn(Exchange& exchange) override { route(exchange); }
  std::string nextRequestId() override;

  // Takes the current configuration for this worker after a reload: at a request's start only.
  void refreshWorkerConfig() const;
  // Finds the location for the exchange and runs it, again after each internal redirect.
  void route(Exchange& exchange);
  // error_page: the URI or @name the answer `r` of `location` becomes (an internal redirect), or
  // nullopt (`r` itself, possibly turned into a redirect to an error page's URL).
  std::optional<std::string> errorPage(Exchange& exchange, const Location& location,
                                       http::Response& r);
  // limit_req and limit_conn for `location` (once per request): nullopt to go on; 0 when the
  // request was delayed (it comes back through route() later); else the status to refuse with.
  std::optional<int> applyLimits(Exchange& exchange, const Location& location);
  // Keeps the request's body in a file (request_body_files.h) on the writer's thread; the request
  // comes back through route() when it is written.
  void keepBodyInFile(Exchange& exchange, const Location& location);
  // An internal redirect to "/uri?args" or "@name".
  void enterRedirect(Exchange& exchange, const std::string& target);

  base::MetricsRegistry metrics_;
  mutable std::mutex config_mutex_;
  std::shared_ptr<const EdgeConfig> config_;
  std::atomic<uint64_t> config_generation_{1};
  std::unique_ptr<AccessLogs> access_logs_;
  // One handler per kind of location (Location::Kind). handlers_: in the order they start,
  // stopped in reverse (the dashboard's and the refresher's uses of origin's pool end before it).
  std::unique_ptr<StaticHandler> static_;
  std::unique_ptr<QueueHandler> queue_;
  std::unique_ptr<ProxyHandler> proxy_;
  std::unique_ptr<SnapshotHandler> snapshots_;
  std::unique_ptr<OpsHandler> ops_;
  std::unique_ptr<PullHandler> pull_;
  std::vector<LocationHandler*> handlers_;
  LocationHandler* by_kind_[6] = {};
  // Stopped after the server (its callbacks post to the workers), before the server is freed.
  std::shared_ptr<RequestBodyWriter> body_writer_ = std::make_shared<RequestBodyWriter>();
  std::unique_ptr<http::Server> server_;
  std::atomic<http::Server*> running_server_{nullptr};  // set once server_ has started
  std::atomic<uint64_t> request_ids_{0};
  std::string id_prefix_;

  static constexpr int kStatuses[] = {200, 201, 204, 206, 301, 304, 400, 401, 403,
                                      404, 405, 408, 409, 413, 414, 415, 416, 422,
                                      429, 431, 500, 501, 502, 503, 504, 505};
  static constexpr size_t kStatusCount = sizeof kStatuses / sizeof kStatuses[0];
  base::Counter* requests_[kRoutes][kStatusCount + 1] = {};
  base::Histogram* latency_[kRoutes] = {};
  base::Counter* by_protocol_[3] = {};  // HTTP/1.0, HTTP/1.1, HTTP/2.0
};

}  // namespace surge::edge
