// The contract between surge-edge's dispatcher and the handler of each kind of location.
//
// EdgeServer (the dispatcher) picks the server and the location, runs nginx's rewrite, limit
// and access phases and, for file locations, error_page. Then the location's handler takes the
// exchange: static files (static_handler.h), snapshots (snapshot_handler.h), proxy to origin
// (proxy_handler.h), the waiting room (queue_handler.h), operators' status (edge_ops.h). Every
// answer, now or later, leaves through the dispatcher's one finish path, answer(): the
// requests_total counter and latency of its route, keepalive_*, X-Accel-Redirect's preserved
// headers, the access logs, and the connection.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "surge/base/result.h"
#include "surge/cache/keyring.h"
#include "surge/edge/access_log.h"
#include "surge/edge/exchange.h"
#include "surge/edge/gzip_filter.h"
#include "surge/edge/keep_alive.h"
#include "surge/edge/log_format.h"
#include "surge/http/server.h"

namespace surge::edge {

struct EdgeConfig;
struct AddHeaderRule;
struct Http2Push;

// What an answer is counted as: surge_edge_requests_total{route="..."}.
enum Route { kStatic, kSnapshot, kBooking, kQueue, kOps, kOther, kRoutes };

// Where an answer goes, what it is counted as, what it does with its connection (keepalive_*)
// and which access logs it is written to. Dispatcher::context() makes one while the request is
// being handled, asyncContext() one for an answer given after it.
struct AnswerContext {
  http::Worker* worker = nullptr;
  http::ResponseSlot slot;
  Route route = kOther;
  std::chrono::steady_clock::time_point start;
  KeepAliveVerdict keep_alive;
  const Exchange* exchange = nullptr;                    // during the request
  const std::vector<AccessLogRule>* logs = nullptr;      // nullptr: none
  const GzipSettings* gzip = nullptr;                    // `gzip on` in the answering location
  const std::vector<AddHeaderRule>* trailers = nullptr;  // its add_trailer lines, if any
  // limit_rate of the answering location (or X-Accel-Limit-Rate): for an answer that sets none.
  int64_t limit_rate = -1;
  uint64_t limit_rate_after = 0;
  uint32_t http2_chunk_size = 0;          // of the answering location
  const Http2Push* http2_push = nullptr;  // its http2_push*, for an HTTP/2 request that has some
  // Later, with logs to write, gzip on, trailers to add or pushes to evaluate: the exchange's copy,
  // whose configuration keeps `logs`, `gzip` and `trailers` valid.
  std::shared_ptr<const HeldExchange> held;

  // An answer given later needs the exchange's copy (`held`) for these.
  bool needsHeld() const {
    return logs != nullptr || gzip != nullptr || trailers != nullptr || http2_push != nullptr;
  }
};

// What a handler is given to end an exchange and to hand one back.
class Dispatcher {
 public:
  virtual AnswerContext context(const Exchange& exchange, Route route) const = 0;
  virtual AnswerContext asyncContext(const Exchange& exchange, Route route) const = 0;
  // The one finish path.
  virtual void answer(const AnswerContext& ctx, http::Response response) = 0;
  // Looks the exchange's location up again (its uri or named location changed: an
  // X-Accel-Redirect) and runs it.
  virtual void routeOn(Exchange& exchange) = 0;
  // The error_page of the exchange's location for `response`'s status, if it has one: the
  // exchange goes there (true), or `response` becomes its redirect to a URL (false, answered by
  // the caller as it is).
  virtual bool routeErrorPage(Exchange& exchange, http::Response& response) = 0;
  // The worker's current configuration, held (for what outlives the call).
  virtual const std::shared_ptr<const EdgeConfig>& workerConfig() const = 0;
  // "<edge prefix>-<n>": X-Request-Id for what this edge sends on its own or gets without one.
  virtual std::string nextRequestId() = 0;

 protected:
  ~Dispatcher() = default;
};

// The keys a reload brings (surgectl rotate-keys, then SIGHUP).
struct EdgeKeys {
  cache::Keyring snapshots;  // origin's snapshot and queue-state signatures
  cache::Keyring queue;      // waiting-room tickets
};

// One kind of location: started with the server, told of each reload, stopped with it.
class LocationHandler {
 public:
  virtual ~LocationHandler() = default;
  // Before the listener opens: what it needs (memcached reachable, ...), or why not.
  virtual base::Result<base::Done, std::string> start() { return base::Done{}; }
  // SIGHUP: takes from `next` what can change while running; returns what only a restart
  // changes (kept as in `now`).
  virtual std::vector<std::string> reload(const EdgeConfig& now, const EdgeConfig& next,
                                          const EdgeKeys& keys) = 0;
  // After the listener has stopped: its threads end.
  virtual void stop() {}
  // Answers `exchange` in `location` (a location of this handler's kind) through the
  // dispatcher, now or later.
  virtual void handle(Exchange& exchange, const Location& location) = 0;
};

}  // namespace surge::edge
