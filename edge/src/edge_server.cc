#include "surge/edge/edge_server.h"

#include <event2/event.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>
#include <thread>

#include "surge/cache/gap_report.h"
#include "surge/cache/queue.h"
#include "surge/cache/snapshot_names.h"
#include "surge/edge/return_handler.h"
#include "surge/edge/rewrite.h"
#include "surge/http/basic_auth.h"
#include "surge/http/owned_request.h"

#include <openssl/crypto.h>

namespace surge::edge {
namespace {

using Clock = std::chrono::steady_clock;
using http::jsonError;

bool allDigits(std::string_view s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

const char* kRouteNames[] = {"static", "snapshot", "booking", "queue", "ops", "other"};

// What a client that allow/deny keeps out gets, wherever the rule stands.
http::Response refusedByAccessRules() {
  return jsonError(403, "forbidden", "not from this address (allow/deny)");
}

}  // namespace

std::string snapshotNameForPath(std::string_view path) {
  constexpr std::string_view kApi = "/api/v1/";
  if (path.substr(0, kApi.size()) != kApi) return {};
  std::string_view rest = path.substr(kApi.size());
  if (rest == "regions") return "regions";
  if (rest.size() > 16 && rest.substr(0, 8) == "regions/" && rest.ends_with("/clinics")) {
    std::string_view code = rest.substr(8, rest.size() - 8 - 8);
    if (allDigits(code, 2, 10)) return "region/" + std::string(code);
    return {};
  }
  if (rest.substr(0, 8) == "clinics/") {
    std::string_view id = rest.substr(8);
    if (allDigits(id, 1, 16) && id[0] != '0') return "clinic/" + std::string(id);
    return {};
  }
  if (rest.substr(0, 10) == "snapshots/") {
    std::string_view name = rest.substr(10);
    if (cache::isValidNamedSnapshot(name)) return "named/" + std::string(name);
  }
  return {};
}

EdgeServer::EdgeServer(std::shared_ptr<const EdgeConfig> config, cache::Keyring keyring,
                       cache::Keyring queue_keyring)
    : config_(std::move(config)), lookups_(config_->lookup_limit) {
  for (int r = 0; r < kRoutes; ++r) {
    std::string route = std::string("route=\"") + kRouteNames[r] + "\"";
    for (size_t i = 0; i <= kStatusCount; ++i) {
      std::string code = i < kStatusCount ? std::to_string(kStatuses[i]) : "other";
      requests_[r][i] =
          &metrics_.counter("surge_edge_requests_total", "Requests answered, by route and status",
                            route + ",code=\"" + code + "\"");
    }
    latency_[r] = &metrics_.histogram("surge_edge_request_duration_seconds",
                                      "From request parsed to answer queued, by route",
                                      cache::latencyBuckets(), route);
  }
  access_logs_ = std::make_unique<AccessLogs>(metrics_);
  cache::MemcachedOptions mc;
  mc.servers = config_->memcached;
  snapshots_ = std::make_unique<SnapshotCache>(mc, keyring, config_->snapshots, metrics_);
  origin_ = std::make_unique<OriginForwarder>(config_->origin, config_->server.workers, metrics_);
  for (int i = 0; i < 3; ++i) {
    static const char* kOutcome[] = {"accepted", "refused", "failed"};
    gap_reports_[i] = &metrics_.counter("surge_edge_gap_reports_total",
                                        "Gap reports sent to origin, by how origin answered",
                                        std::string("outcome=\"") + kOutcome[i] + "\"");
  }
  if (config_->have_origin) {
    snapshots_->setGapReporter(
        [this](cache::SignedGapReport report) { reportGaps(std::move(report)); });
  }
  for (const EdgeConfig::Peer& peer : config_->ops_peers) {
    OriginOptions o;
    o.host = peer.host;
    o.address = peer.address;
    o.port = peer.port;
    o.keepalive = 2;
    o.max_inflight = 16;
    o.connect_timeout = std::chrono::milliseconds(500);
    o.read_timeout = std::chrono::milliseconds(2000);
    peers_.emplace_back(
        peer.name, std::make_unique<OriginForwarder>(o, config_->server.workers, peer_metrics_));
  }
  if (config_->waiting_room.enabled) {
    waiting_room_ = std::make_unique<WaitingRoom>(mc, std::move(queue_keyring),
                                                  config_->waiting_room, metrics_);
    waiting_room_->setStateKeyring(keyring);
  }
  static_ = std::make_unique<StaticHandler>(config_->server.workers);
  std::random_device rd;
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "%08x", rd());
  id_prefix_ = prefix;
}

EdgeServer::~EdgeServer() {
  if (server_) server_->stop();
  if (snapshots_) snapshots_->stop();
  if (waiting_room_) waiting_room_->stop();
  // The origin and peer pools hold events of the workers' loops: free them while the loops'
  // bases still exist (the server frees those when it is destroyed).
  origin_.reset();
  peers_.clear();
  server_.reset();
}

cache::Result<cache::Done, std::string> EdgeServer::start() {
  if (auto failed = access_logs_->bind(config_->access_log_files); !failed.empty()) {
    return cache::fail(failed.front());
  }
  if (!config_->memcached.empty()) {
    auto ok = snapshots_->start({std::string(cache::kCatalogSnapshot), "regions"});
    if (!ok) return cache::fail("memcached: " + ok.error());
  }
  if (waiting_room_) {
    auto ok = waiting_room_->start();
    if (!ok) return cache::fail("memcached: " + ok.error());
  }
  server_ = std::make_unique<http::Server>(config_->server, *this);
  auto started = server_->start();
  if (started) running_server_.store(server_.get(), std::memory_order_release);
  return started;
}

std::string EdgeServer::nextRequestId() {
  return id_prefix_ + "-" +
         std::to_string(request_ids_.fetch_add(1, std::memory_order_relaxed) + 1);
}

void EdgeServer::reportGaps(cache::SignedGapReport signed_report) {
  http::Server* server = running_server_.load(std::memory_order_acquire);
  if (server == nullptr) return;  // still missing at the next pass: reported then
  auto report = std::make_shared<cache::SignedGapReport>(std::move(signed_report));
  server->postTo(0, [this, report, id = nextRequestId()](http::Worker& worker) {
    http::Request request;
    request.method = "POST";
    request.target = cache::kGapReportPath;
    request.path = cache::kGapReportPath;
    request.headers = {{"Content-Type", "text/plain"},
                       {"X-Surge-Key", report->key_id},
                       {"X-Surge-Timestamp", report->timestamp},
                       {"X-Surge-Signature", report->signature}};
    request.body = report->body;
    // Operator-class traffic: it neither waits on the circuit nor moves it.
    origin_->forward(
        worker, request, config().server.host, id, 0,
        [this](http::Response r) {
          gap_reports_[r.status == 202 ? 0 : r.status == 401 ? 1 : 2]->add();
          if (r.status == 401) {
            std::fprintf(stderr, "surge-edge: origin refused a gap report: %s\n", r.body.c_str());
          }
        },
        ForwardOptions::operatorTraffic());
  });
}

std::vector<std::string> EdgeServer::reload(std::shared_ptr<const EdgeConfig> next,
                                            cache::Keyring keyring, cache::Keyring queue_keyring) {
  std::vector<std::string> kept;
  const EdgeConfig& now = *config_;
  auto& a = now.server;
  auto& b = next->server;
  if (a.host != b.host || a.port != b.port || a.tls_port != b.tls_port || a.workers != b.workers ||
      a.backlog != b.backlog || a.max_connections != b.max_connections ||
      a.limits.max_body != b.limits.max_body || a.limits.max_head != b.limits.max_head ||
      a.limits.max_target != b.limits.max_target || a.head_timeout != b.head_timeout ||
      a.body_timeout != b.body_timeout || a.idle_timeout != b.idle_timeout ||
      a.send_timeout != b.send_timeout) {
    kept.push_back(
        "listen, worker_processes, worker_connections, client limits and timeouts "
        "change on restart only");
  }
  if (now.memcached != next->memcached) kept.push_back("surge_memcached changes on restart only");
  // A renewed certificate (already loaded and checked by loadEdgeConfig): new connections take
  // it, open ones finish with the old.
  if (server_ && a.tls_port >= 0 && b.tls) server_->setTls(b.tls);
  if (now.waiting_room.enabled != next->waiting_room.enabled ||
      now.waiting_room.block != next->waiting_room.block) {
    kept.push_back("surge_waiting_room and surge_queue_block change on restart only");
  }
  if (waiting_room_ && !queue_keyring.empty()) waiting_room_->setKeyring(std::move(queue_keyring));
  // Reopened even when unchanged: logrotate moved the files and sent SIGHUP.
  for (std::string& failed : access_logs_->bind(next->access_log_files))
    kept.push_back(std::move(failed));
  if (waiting_room_) waiting_room_->setStateKeyring(keyring);
  snapshots_->setKeyring(std::move(keyring));
  snapshots_->setOptions(next->snapshots);
  OriginOptions origin = next->origin;
  if (origin.host != now.origin.host || origin.port != now.origin.port) {
    // Pooled connections would keep going to the old address: the upstream is restart-only.
    kept.push_back("the upstream server changes on restart only");
    origin.host = now.origin.host;
    origin.address = now.origin.address;
    origin.port = now.origin.port;
  }
  origin_->setOptions(origin);
  lookups_.setOptions(next->lookup_limit);
  std::vector<std::shared_ptr<AccessLogFile>> log_files = next->access_log_files;
  {
    std::lock_guard lock(config_mutex_);
    config_ = std::move(next);
  }
  config_generation_.fetch_add(1, std::memory_order_release);
  access_logs_->retire(log_files);
  return kept;
}

std::string EdgeServer::reopenLogs() {
  std::string out;
  for (const std::string& failed : access_logs_->reopen())
    out += (out.empty() ? "" : "; ") + failed;
  return out;
}

void EdgeServer::drainAndStop(std::chrono::milliseconds grace) {
  if (!server_) return;
  server_->drain();
  auto deadline = Clock::now() + grace;
  while (server_->connections() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  server_->stop();
  snapshots_->stop();
  if (waiting_room_) waiting_room_->stop();
}

namespace {

// Each worker's own reference to the configuration, taken again only when a request begins
// (refreshWorkerConfig): what a request being handled points into is never freed under it, and
// no shared reference count is touched per request.
struct WorkerConfig {
  const void* owner = nullptr;
  uint64_t generation = 0;
  std::shared_ptr<const EdgeConfig> cached;
};
WorkerConfig& workerSlot() {
  thread_local WorkerConfig slot;
  return slot;
}

}  // namespace

void EdgeServer::refreshWorkerConfig() const {
  WorkerConfig& w = workerSlot();
  uint64_t g = config_generation_.load(std::memory_order_acquire);
  if (w.owner != this || w.generation != g || !w.cached) {
    std::lock_guard lock(config_mutex_);
    w.cached = config_;
    w.generation = g;
    w.owner = this;
  }
}

const std::shared_ptr<const EdgeConfig>& EdgeServer::workerConfig() const {
  WorkerConfig& w = workerSlot();
  if (w.owner != this || !w.cached) refreshWorkerConfig();  // a thread's first use
  return w.cached;
}

EdgeServer::LogContext EdgeServer::context(const Exchange& ex, Route route) const {
  LogContext ctx;
  ctx.worker = &ex.worker;
  ctx.slot = ex.slot;
  ctx.route = route;
  ctx.start = ex.start;
  ctx.exchange = &ex;
  // The answering location's keepalive_* and access_log (its server's before one is found).
  const KeepAlive& keep_alive = ex.location ? ex.location->keep_alive : ex.server->keep_alive;
  ctx.keep_alive = keepAliveVerdict(keep_alive, ex.request);
  const auto& logs = ex.location ? ex.location->access_logs : ex.server->access_logs;
  if (!logs.empty()) ctx.logs = &logs;
  return ctx;
}

EdgeServer::LogContext EdgeServer::asyncContext(const Exchange& ex, Route route) const {
  LogContext ctx = context(ex, route);
  ctx.exchange = nullptr;
  // The copy is for the access log only: bookings and parked misses skip it when there is none.
  if (ctx.logs) ctx.held = std::make_shared<const HeldExchange>(workerConfig(), ex);
  return ctx;
}

void EdgeServer::answer(const LogContext& ctx, http::Response response) {
  size_t i = 0;
  while (i < kStatusCount && kStatuses[i] != response.status)
    ++i;
  requests_[ctx.route][i]->add();
  latency_[ctx.route]->observe(std::chrono::duration<double>(Clock::now() - ctx.start).count());
  applyKeepAlive(ctx.keep_alive, response);
  if (ctx.exchange && !ctx.exchange->preserved_headers.empty()) {
    applyPreservedHeaders(ctx.exchange->preserved_headers, response);
  }
  if (ctx.logs) {
    const Exchange* ex = ctx.exchange ? ctx.exchange : ctx.held ? &ctx.held->ex : nullptr;
    if (ex) writeAccessLogs(*ctx.logs, *ex, response, ctx.start);
  }
  ctx.worker->respond(ctx.slot, std::move(response));
}

void EdgeServer::handle(http::Worker& worker, const http::Request& request,
                        http::ResponseSlot slot) {
  auto start = Clock::now();
  std::string_view path = request.path;
  refreshWorkerConfig();  // the one place a reload reaches a worker
  const EdgeConfig& cfg = config();
  Exchange ex(worker, request, slot, start);
  ex.server = &cfg.servers.front();
  if (cfg.servers.size() > 1 || !ex.server->regex_names.empty()) {
    ex.server = selectServer(cfg.servers, request.local_port, requestHost(request), &ex);
  }

  // Locations match the decoded path with "." and ".." resolved, as in nginx (which answers
  // 400 for a path that climbs above the root).
  if (auto uri = normalizePath(path)) {
    ex.uri = std::move(*uri);
  } else {
    return answer(context(ex, kOther), http::htmlError(400));
  }
  ex.args = std::string(request.query);
  route(ex);
}

void EdgeServer::route(Exchange& ex) {
  http::Worker& worker = ex.worker;
  const http::Request& request = ex.request;
  std::string_view path = request.path;
  const bool get_or_head = ex.method() == "GET" || ex.method() == "HEAD";
  const Location* loc = nullptr;
  // nginx's phases: the server's rewrite directives, the location lookup, the location's rewrite
  // directives, limit_req and limit_conn (once per request), access, content. An answer of the
  // location's own may become an error page; an internal redirect starts again at the server's
  // rewrites, a rewritten $uri at the lookup; a request limit_req delays comes back at limit_conn.
  bool server_rewrites = true;
  for (;;) {
    if (ex.redirects > 10) {
      // nginx: "rewrite or internal redirection cycle".
      return answer(context(ex, kOther), http::htmlError(500));
    }
    http::Response early;
    RewriteOutcome rewritten = RewriteOutcome::kContent;
    if (ex.resume != nullptr) {
      loc = ex.resume;  // ex.location is it already
      ex.resume = nullptr;
    } else {
      if (!ex.named.empty()) {
        loc = ex.server->findNamed(ex.named);
        ex.named.clear();
      } else {
        if (server_rewrites &&
            runRewrites(ex.server->rewrites, ex, early) == RewriteOutcome::kAnswer) {
          absolutizeLocation(RedirectStyle{}, ex, early);
          return answer(context(ex, kOther), std::move(early));
        }
        server_rewrites = false;
        ex.auto_redirect = false;
        loc = ex.server->find(ex.uri, &ex);
        if (loc != nullptr && loc->internal && !ex.internal) loc = nullptr;  // `internal`: 404
      }
      ex.location = loc;
      if (loc == nullptr) {
        // Only an `internal` location can be missed (every server has a "/"): nginx's 404 page.
        return answer(context(ex, kOther), http::htmlError(404));
      }
      rewritten = runRewrites(loc->rewrites, ex, early);
      if (rewritten == RewriteOutcome::kRelocate) {
        ++ex.redirects;
        ex.internal = true;
        continue;
      }
    }
    if (rewritten != RewriteOutcome::kAnswer) {
      if (std::optional<int> refused = applyLimits(ex, *loc)) {
        if (*refused == 0) return;  // delayed: comes back through resumeDelayed
        rewritten = RewriteOutcome::kAnswer;
        early = http::htmlError(*refused);
      } else if (!loc->access.allows(request.remote_addr)) {
        return answer(context(ex, kOther), refusedByAccessRules());
      } else if (loc->ops && answerOps(ex)) {
        return;
      }
    }
    Step step;
    Route route = kOther;
    const bool own_answer = rewritten == RewriteOutcome::kAnswer || ex.auto_redirect;
    if (own_answer) {
      step = Step::answer(ex.auto_redirect ? slashRedirect(ex) : std::move(early));
    } else if (loc->kind == Location::Kind::kStatic) {
      route = loc->ops ? kOps : kStatic;
      step = static_->handle(ex, *loc);
    } else {
      break;  // the API's handlers below answer for themselves
    }
    if (step.kind == Step::Kind::kAnswer && !ex.in_error_page) {
      if (auto target = errorPage(ex, *loc, step.response)) step = Step::redirect(*target);
    }
    if (step.kind == Step::Kind::kRedirect) {
      enterRedirect(ex, step.target);
      server_rewrites = step.target.empty() || step.target[0] != '@';
      continue;
    }
    http::Response& r = step.response;
    if (ex.error_status > 0 && r.status == 200 && ex.error_status != 200) {
      // An error page's file: nginx keeps Last-Modified and Accept-Ranges to 200 answers.
      r.status = ex.error_status;
      http::removeHeader(r, "Last-Modified");
      http::removeHeader(r, "Accept-Ranges");
    }
    absolutizeLocation(loc->redirect, ex, r);
    // StaticFiles applies a file location's add_header itself; here the rest.
    if (own_answer && !ex.auto_redirect) applyLocationHeaders(*loc, ex, r);
    return answer(context(ex, route), std::move(r));
  }
  switch (loc->kind) {
    case Location::Kind::kStatic:  // answered in the loop above
    case Location::Kind::kSnapshots: {
      LogContext ctx = context(ex, kSnapshot);
      if (!get_or_head) {
        http::Response r = jsonError(405, "method_not_allowed", "snapshots: GET or HEAD");
        r.headers += "Allow: GET, HEAD\r\n";
        return answer(ctx, std::move(r));
      }
      std::string name = snapshotNameForPath(path);
      if (name.empty()) {
        return answer(ctx, jsonError(404, "not_found", "no such snapshot"));
      }
      return serveSnapshot(ex, name, ctx);
    }
    case Location::Kind::kQueue: {
      LogContext ctx = context(ex, kQueue);
      if (!waiting_room_) break;
      if (path == "/api/v1/queue/tickets/current") {
        if (!get_or_head) {
          http::Response r = jsonError(405, "method_not_allowed", "use GET");
          r.headers += "Allow: GET, HEAD\r\n";
          return answer(ctx, std::move(r));
        }
        return answer(ctx, waiting_room_->current(request));
      }
      if (path == "/api/v1/queue/tickets") {
        if (ex.method() != "POST") {
          http::Response r = jsonError(405, "method_not_allowed", "use POST");
          r.headers += "Allow: POST\r\n";
          return answer(ctx, std::move(r));
        }
        LogContext async = asyncContext(ex, kQueue);
        return waiting_room_->issue(
            worker, request,
            [this, async, hold = ex.hold](http::Response r) { answer(async, std::move(r)); });
      }
      return answer(ctx, jsonError(404, "not_found", "no such queue resource"));
    }
    case Location::Kind::kProxy: {
      if (path == "/api/v1/bookings/lookup") {
        // Guessing at booking codes: limited per client here, per person at origin.
        if (int64_t wait = lookups_.attempt(request.remote_addr); wait > 0) {
          return answer(context(ex, kBooking),
                        jsonError(429, "too_many_attempts",
                                  "too many lookups from this address; try again later", wait));
        }
      }
      uint64_t ticket_number = 0;
      if (waiting_room_ && ex.method() == "POST") {
        WaitingRoom::Gate gate = waiting_room_->check(request);
        if (!gate.ok) {
          return answer(context(ex, kBooking), waiting_room_->refuse(gate));
        }
        ticket_number = gate.number;
      }
      // The exchange's copy: an X-Accel-Redirect in origin's answer is routed on from it (and it
      // holds limit_conn's places until the answer).
      auto held = std::make_shared<HeldExchange>(workerConfig(), ex);
      LogContext ctx = context(ex, kBooking);
      ctx.exchange = nullptr;
      if (ctx.logs) ctx.held = held;
      std::string id(request.header("X-Request-Id"));
      if (id.empty() || id.size() > 128) id = nextRequestId();
      // add_header: its values taken now (the request is gone when origin answers).
      std::vector<AddHeader> add_headers = evaluatedHeaders(*loc, ex);
      // The path origin gets: as the client sent it, unless proxy_pass has a URI part (it
      // replaces the location's prefix) or an internal redirect changed it (nginx's rules).
      http::Request rewritten;
      std::string target;
      const http::Request* to_send = &request;
      if (!loc->proxy_uri.empty() || ex.internal || ex.method() != request.method) {
        std::string_view rest = ex.uri;
        if (!loc->proxy_uri.empty()) rest.remove_prefix(std::min(rest.size(), loc->prefix.size()));
        target = encodeUri(loc->proxy_uri + std::string(rest));
        if (!ex.args.empty()) target += "?" + ex.args;
        rewritten = request;
        rewritten.target = target;
        rewritten.path = std::string_view(target).substr(0, target.find('?'));
        if (ex.method() != request.method) {
          rewritten.method = ex.method();  // after X-Accel-Redirect: a GET, without the body
          rewritten.body = {};
        }
        to_send = &rewritten;
      }
      ForwardOptions forward_options;
      forward_options.timeouts = loc->proxy_timeouts;
      for (const ProxySetHeader& h : loc->proxy_set_headers)
        forward_options.set_headers.emplace_back(h.name, http::headerSafe(h.value.evaluate(ex)));
      origin_->forward(
          worker, *to_send, request.remote_addr, id, ticket_number,
          [this, ctx = std::move(ctx), id, add_headers = std::move(add_headers),
           held](http::Response r) {
            if (auto xar = accelRedirect(r)) {
              return followAccelRedirect(*held, std::move(*xar), r, ctx);
            }
            // nginx's proxy_hide_header defaults: instructions for the proxy, not the client.
            // (surge keeps no proxy cache and sends whole answers: X-Accel-Expires and
            // X-Accel-Buffering have nothing to act on; X-Accel-Limit-Rate and X-Accel-Charset
            // are not done, DIFFERENCES.md.)
            for (const char* name : {"X-Accel-Expires", "X-Accel-Limit-Rate", "X-Accel-Buffering",
                                     "X-Accel-Charset"}) {
              http::removeHeader(r, name);
            }
            // Origin echoes it, in whatever case a proxy between left it.
            http::setHeader(r, "X-Request-Id", id);
            if (!add_headers.empty()) applyAddHeaders(add_headers, r);
            answer(ctx, std::move(r));
          },
          forward_options);
      return;
    }
    case Location::Kind::kStatus:
      return answerStatus(ex);
    case Location::Kind::kNotFound:
      break;
  }
  answer(context(ex, kOther), jsonError(404, "not_found", "nothing is served here"));
}

namespace {

// A request limit_req holds back: its own copy of the request (the connection's buffer moves on),
// its exchange, and the configuration its location belongs to.
struct DelayedExchange {
  EdgeServer* server;
  HeldExchange held;
};

}  // namespace

std::optional<int> EdgeServer::applyLimits(Exchange& ex, const Location& loc) {
  if (!ex.limit_req_done && !loc.limit_req.empty()) {
    ex.limit_req_done = true;
    std::chrono::milliseconds wait{0};
    for (const LimitReq& l : loc.limit_req) {
      std::string key = l.key.evaluate(ex);
      if (key.empty()) continue;  // nginx: an empty key is not limited
      auto delay = l.zone->take(key, l.burst, l.delay);
      if (!delay) return loc.limit_req_status;
      wait = std::max(wait, *delay);
    }
    if (wait.count() > 0) {
      // Held on this worker's loop until it conforms, then routed on from limit_conn.
      ex.resume = &loc;
      auto* delayed = new DelayedExchange{this, HeldExchange(workerConfig(), ex)};
      timeval tv{static_cast<time_t>(wait.count() / 1000),
                 static_cast<suseconds_t>(wait.count() % 1000 * 1000)};
      event_base_once(
          ex.worker.base(), -1, EV_TIMEOUT,
          [](evutil_socket_t, short, void* arg) {
            std::unique_ptr<DelayedExchange> d(static_cast<DelayedExchange*>(arg));
            d->server->route(d->held.ex);
          },
          delayed, &tv);
      return 0;
    }
  }
  if (!ex.limit_conn_done && !loc.limit_conn.empty()) {
    ex.limit_conn_done = true;
    for (const LimitConn& l : loc.limit_conn) {
      std::string key = l.key.evaluate(ex);
      if (key.empty()) continue;
      std::shared_ptr<void> place = l.zone->take(key, l.limit);
      if (!place) return loc.limit_conn_status;
      // Chained: one pointer holds every place this request took.
      ex.hold = ex.hold ? std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<void>>>(
                              std::move(ex.hold), std::move(place))
                        : std::move(place);
    }
  }
  return std::nullopt;
}

std::optional<std::string> EdgeServer::errorPage(Exchange& ex, const Location& loc,
                                                 http::Response& r) {
  for (const ErrorPage& page : loc.error_pages) {
    if (std::find(page.codes.begin(), page.codes.end(), r.status) == page.codes.end()) continue;
    std::string target = page.target.evaluate(ex);
    if (!target.empty() && (target[0] == '/' || target[0] == '@')) {
      ex.error_status = page.status == -1 ? r.status : page.status;
      ex.in_error_page = true;
      return target;
    }
    // A URL: the client is sent there (302, or the "=" code when it is a redirect).
    int code = page.status;
    if (code != 301 && code != 303 && code != 307 && code != 308) code = 302;
    r = http::htmlError(code);
    r.headers += "Location: " + http::headerSafe(target) + "\r\n";
    return std::nullopt;
  }
  return std::nullopt;
}

void EdgeServer::enterRedirect(Exchange& ex, const std::string& target) {
  ++ex.redirects;
  ex.internal = true;
  if (!target.empty() && target[0] == '@') {
    ex.named = target;
    return;
  }
  size_t q = target.find('?');
  std::string uri = target.substr(0, q);
  ex.args = q == std::string::npos ? std::string() : target.substr(q + 1);
  // The target is a URI as written in the configuration (or found on disk): already decoded;
  // only its dot segments are resolved.
  std::optional<std::string> normalized;
  if (uri.find('%') == std::string::npos) normalized = normalizePath(uri);
  ex.uri = normalized ? *normalized : uri;
}

void EdgeServer::followAccelRedirect(HeldExchange& held, AccelRedirect xar,
                                     const http::Response& from, const LogContext& ctx) {
  if (xar.unsafe) return answer(ctx, http::htmlError(404));  // nginx: "unsafe URI"
  Exchange& ex = held.ex;
  ex.upstream_headers = from.headers;
  ex.preserved_headers = std::move(xar.preserved);
  ex.as_get = true;
  ++ex.redirects;
  ex.internal = true;
  if (xar.named) {
    ex.named = std::move(xar.uri);
  } else {
    ex.uri = std::move(xar.uri);
    ex.args = std::move(xar.args);
  }
  route(ex);
}

void EdgeServer::serveSnapshot(const Exchange& ex, const std::string& name, const LogContext& ctx) {
  const http::Request& request = ex.request;
  if (auto found = snapshots_->get(name)) {
    return answer(
        ctx, snapshotResponse(*found, request.method == "HEAD", request.header("Accept-Encoding"),
                              request.header("If-None-Match")));
  }
  // Not in origin's catalog: a 404 now, without asking memcached (junk ids cost nothing).
  if (snapshots_->known(name) == SnapshotCache::Known::kNo) {
    return answer(ctx, notFoundAnswer(name));
  }
  // Miss: park until the refresher has fetched it (coalesced with other misses for the name).
  LogContext async = asyncContext(ex, kSnapshot);
  bool head = request.method == "HEAD";
  std::string accept(request.header("Accept-Encoding"));
  std::string inm(request.header("If-None-Match"));
  bool parked = snapshots_->waitFor(
      name, ex.worker,
      [this, async = std::move(async), head, accept = std::move(accept),
       inm = std::move(inm)](std::optional<SnapshotLookup> found) {
        if (!found) {
          // Known (or not yet decidable) and not in memcached: a gap origin is told about.
          return answer(async,
                        jsonError(503, "snapshot_unavailable",
                                  "the snapshot cannot be read right now; retry shortly", 1));
        }
        answer(async, snapshotResponse(*found, head, accept, inm));
      });
  if (!parked) {
    answer(ctx, jsonError(503, "overloaded", "too many requests are waiting; retry", 1));
  }
}

http::Response EdgeServer::notFoundAnswer(const std::string& name) const {
  const char* what = name.rfind("clinic/", 0) == 0   ? "unknown clinic"
                     : name.rfind("region/", 0) == 0 ? "unknown region"
                                                     : "no such snapshot";
  http::Response r = jsonError(404, "not_found", what);
  // Origin's word, as fresh as the catalog: shared caches may keep it as long as a snapshot.
  http::setCacheControl(r, "public, max-age=2, s-maxage=2");
  return r;
}

http::Response EdgeServer::snapshotResponse(const SnapshotLookup& found, bool,
                                            std::string_view accept_encoding,
                                            std::string_view if_none_match) const {
  const CachedSnapshot& s = *found.snapshot;
  if (s.not_found) return notFoundAnswer(s.name);
  const EdgeConfig& cfg = config();
  Coding coding = chooseCoding(accept_encoding, !s.zstd.empty(), false, !s.gzip.empty());
  if (coding == Coding::kIdentity && s.gzip.empty() &&
      chooseCoding(accept_encoding, !s.zstd.empty(), false, true) == Coding::kGzip) {
    snapshots_->wantGzip(s.name);  // identity this time; gzip from the refresher's next pass
  }
  http::Response r;
  std::string& h = r.headers;
  h.reserve(320);
  h += "Content-Type: ";
  h += s.content_type;
  h += "\r\nETag: ";
  if (coding != Coding::kIdentity) h += "W/";  // as nginx marks what it compressed
  h += s.etag;
  h += "\r\nCache-Control: public, max-age=";
  h += std::to_string(s.max_age_s);
  h += ", s-maxage=";
  h += std::to_string(s.max_age_s);
  h += ", stale-while-revalidate=";
  h += std::to_string(cfg.stale_while_revalidate.count());
  h += ", stale-if-error=";
  h += std::to_string(cfg.snapshots.stale_if_error.count());
  h += "\r\nAge: ";
  h += std::to_string(found.age_s);
  h += "\r\nVary: Accept-Encoding\r\n";
  if (found.stale) h += "Warning: 110 - \"Response is Stale\"\r\n";
  if (!if_none_match.empty() && etagMatches(if_none_match, s.etag)) {
    r.status = 304;
    return r;
  }
  if (coding != Coding::kIdentity) {
    h += "Content-Encoding: ";
    h += codingName(coding);
    h += "\r\n";
  }
  r.status = 200;
  const std::string& body = coding == Coding::kZstd   ? s.zstd
                            : coding == Coding::kGzip ? s.gzip
                                                      : s.identity;
  r.shared_owner = found.snapshot;
  r.shared_body = body;
  return r;
}

}  // namespace surge::edge
