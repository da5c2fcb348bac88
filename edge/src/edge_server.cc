#include "surge/edge/edge_server.h"

#include <event2/event.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <random>
#include <thread>

#include "surge/edge/return_handler.h"
#include "surge/edge/rewrite.h"
#include "surge/edge/trailers.h"
#include "surge/http/owned_request.h"

namespace surge::edge {
namespace {

using Clock = std::chrono::steady_clock;
using http::jsonError;

const char* kRouteNames[] = {"static", "snapshot", "booking", "queue", "ops", "other"};

// What a client that allow/deny keeps out gets, wherever the rule stands.
http::Response refusedByAccessRules() {
  return jsonError(403, "forbidden", "not from this address (allow/deny)");
}

}  // namespace

EdgeServer::EdgeServer(std::shared_ptr<const EdgeConfig> config, cache::Keyring keyring,
                       cache::Keyring queue_keyring)
    : config_(std::move(config)) {
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
                                      base::latencyBuckets(), route);
  }
  const char* protocols[] = {"HTTP/1.0", "HTTP/1.1", "HTTP/2.0"};
  for (size_t i = 0; i < std::size(protocols); ++i) {
    by_protocol_[i] = &metrics_.counter("surge_edge_requests_by_protocol_total",
                                        "Requests received, by protocol ($server_protocol)",
                                        std::string("protocol=\"") + protocols[i] + "\"");
  }
  access_logs_ = std::make_unique<AccessLogs>(metrics_);
  const EdgeConfig& c = *config_;
  EdgeKeys keys{keyring, std::move(queue_keyring)};
  Dispatcher& self = *this;  // what each handler answers through
  static_ = std::make_unique<StaticHandler>(c.server.workers);
  queue_ = std::make_unique<QueueHandler>(self, c, keys, metrics_);
  proxy_ = std::make_unique<ProxyHandler>(self, c, queue_->room(), metrics_);
  snapshots_ = std::make_unique<SnapshotHandler>(self, c, std::move(keyring), metrics_);
  ops_ = std::make_unique<OpsHandler>(self, c, metrics_, *snapshots_, *proxy_);
  pull_ = std::make_unique<PullHandler>(self, c, metrics_);
  handlers_ = {queue_.get(), proxy_.get(), snapshots_.get(), ops_.get(), pull_.get()};
  by_kind_[static_cast<int>(Location::Kind::kSnapshots)] = snapshots_.get();
  by_kind_[static_cast<int>(Location::Kind::kProxy)] = proxy_.get();
  by_kind_[static_cast<int>(Location::Kind::kQueue)] = queue_.get();
  by_kind_[static_cast<int>(Location::Kind::kStatus)] = ops_.get();
  if (c.have_origin) {
    snapshots_->cache().setGapReporter([this](cache::SignedGapReport report) {
      proxy_->reportGaps(std::move(report), running_server_.load(std::memory_order_acquire));
    });
  }
  std::random_device rd;
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "%08x", rd());
  id_prefix_ = prefix;
}

EdgeServer::~EdgeServer() {
  if (server_) server_->stop();
  body_writer_->stop();
  for (auto h = handlers_.rbegin(); h != handlers_.rend(); ++h)
    (*h)->stop();
  server_.reset();
}

base::Result<base::Done, std::string> EdgeServer::start() {
  if (auto failed = access_logs_->bind(config_->access_log_files); !failed.empty()) {
    return base::fail(failed.front());
  }
  for (LocationHandler* h : handlers_) {
    if (auto ok = h->start(); !ok) return ok;
  }
  http::ServerOptions options = config_->server;
  options.metrics = &metrics_;  // HTTP/2's counters beside the edge's own
  options.metrics_prefix = "surge_edge";
  server_ = std::make_unique<http::Server>(std::move(options), *this);
  auto started = server_->start();
  if (started) running_server_.store(server_.get(), std::memory_order_release);
  return started;
}

std::string EdgeServer::nextRequestId() {
  return id_prefix_ + "-" +
         std::to_string(request_ids_.fetch_add(1, std::memory_order_relaxed) + 1);
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
      a.send_timeout != b.send_timeout || a.more_ports != b.more_ports ||
      !std::equal(a.also_listen.begin(), a.also_listen.end(), b.also_listen.begin(),
                  b.also_listen.end(), [](const auto& x, const auto& y) {
                    return x.host == y.host && x.port == y.port && x.tls == y.tls;
                  })) {
    kept.push_back(
        "listen, worker_processes, worker_connections, client limits and timeouts "
        "change on restart only");
  }
  if (a.http2_tls != b.http2_tls || a.h2c_ports != b.h2c_ports ||
      a.http2.max_concurrent_streams != b.http2.max_concurrent_streams ||
      a.http2.max_header_list != b.http2.max_header_list) {
    kept.push_back("http2 and its limits change on restart only");
  }
  // A renewed certificate (already loaded and checked by loadEdgeConfig): new connections take
  // it, open ones finish with the old.
  if (server_ && a.tls_port >= 0 && b.tls) server_->setTls(b.tls);
  // Reopened even when unchanged: logrotate moved the files and sent SIGHUP.
  for (std::string& failed : access_logs_->bind(next->access_log_files))
    kept.push_back(std::move(failed));
  EdgeKeys keys{std::move(keyring), std::move(queue_keyring)};
  for (LocationHandler* h : handlers_) {
    for (std::string& k : h->reload(now, *next, keys))
      kept.push_back(std::move(k));
  }
  std::vector<std::shared_ptr<AccessLogFile>> log_files = next->access_log_files;
  {
    std::lock_guard lock(config_mutex_);
    config_ = std::move(next);
  }
  config_generation_.fetch_add(1, std::memory_order_release);
  access_logs_->retire(log_files);
  // As nginx's reload: HTTP/2 clients are told to reconnect once their streams are answered.
  if (server_) server_->goawayHttp2();
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
  body_writer_->stop();
  for (auto h = handlers_.rbegin(); h != handlers_.rend(); ++h)
    (*h)->stop();
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

AnswerContext EdgeServer::context(const Exchange& ex, Route route) const {
  AnswerContext ctx;
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
  if (ex.location && ex.location->gzip.on) ctx.gzip = &ex.location->gzip;
  if (ex.location && !ex.location->add_trailer_rules.empty()) {
    ctx.trailers = &ex.location->add_trailer_rules;
  }
  if (ex.location && ex.location->limit_rate.set()) {
    LimitRateValues v = evaluateLimitRate(ex.location->limit_rate, ex);
    ctx.limit_rate = v.rate;
    ctx.limit_rate_after = v.after;
  }
  if (ex.accel_limit_rate >= 0) ctx.limit_rate = ex.accel_limit_rate;
  if (ex.location) ctx.http2_chunk_size = ex.location->http2_chunk_size;
  if (ex.location && ex.location->http2_push.any() && ex.request.version_major == 2) {
    ctx.http2_push = &ex.location->http2_push;
  }
  return ctx;
}

AnswerContext EdgeServer::asyncContext(const Exchange& ex, Route route) const {
  AnswerContext ctx = context(ex, route);
  ctx.exchange = nullptr;
  // The copy is for the access log, gzip and trailers only: bookings and parked misses skip it
  // without.
  if (ctx.needsHeld()) ctx.held = std::make_shared<const HeldExchange>(workerConfig(), ex);
  return ctx;
}

void EdgeServer::answer(const AnswerContext& ctx, http::Response response) {
  if (ctx.gzip) {
    const Exchange* ex = ctx.exchange ? ctx.exchange : ctx.held ? &ctx.held->ex : nullptr;
    if (ex) gzipAnswer(*ctx.gzip, ex->request, response);
  }
  size_t i = 0;
  while (i < kStatusCount && kStatuses[i] != response.status)
    ++i;
  requests_[ctx.route][i]->add();
  latency_[ctx.route]->observe(std::chrono::duration<double>(Clock::now() - ctx.start).count());
  applyKeepAlive(ctx.keep_alive, response);
  if (response.limit_rate < 0) {
    response.limit_rate = ctx.limit_rate;
    response.limit_rate_after = ctx.limit_rate_after;
  }
  if (response.http2_chunk_size == 0) response.http2_chunk_size = ctx.http2_chunk_size;
  if (ctx.http2_push) {
    const Exchange* ex = ctx.exchange ? ctx.exchange : ctx.held ? &ctx.held->ex : nullptr;
    if (ex) response.http2_pushes = http2PushesFor(*ctx.http2_push, *ex, response.headers);
    response.http2_max_pushes = ctx.http2_push->max_concurrent;
  }
  if (ctx.exchange && !ctx.exchange->preserved_headers.empty()) {
    applyPreservedHeaders(ctx.exchange->preserved_headers, response);
  }
  if (ctx.trailers) {
    const Exchange* ex = ctx.exchange ? ctx.exchange : ctx.held ? &ctx.held->ex : nullptr;
    if (ex) applyAddTrailers(*ctx.trailers, *ex, response);
  }
  if (ctx.logs) {
    const Exchange* ex = ctx.exchange ? ctx.exchange : ctx.held ? &ctx.held->ex : nullptr;
    if (ex) writeAccessLogs(*ctx.logs, *ex, response, ctx.start);
  }
  ctx.worker->respond(ctx.slot, std::move(response));
}

namespace {

// The request's virtual server: the only one when there is one and it has no regex name, else
// chosen by port and Host (a regex name's captures go to `ex` when given).
const VirtualServer* serverFor(const EdgeConfig& cfg, const http::Request& request, Exchange* ex) {
  const VirtualServer* server = &cfg.servers.front();
  if (cfg.servers.size() > 1 || !server->regex_names.empty()) {
    server = selectServer(cfg.servers, request.local_port, requestHost(request), ex);
  }
  return server;
}

}  // namespace

void EdgeServer::handle(http::Worker& worker, const http::Request& request,
                        http::ResponseSlot slot) {
  auto start = Clock::now();
  by_protocol_[request.version_major == 2 ? 2 : request.version_minor == 0 ? 0 : 1]->add();
  std::string_view path = request.path;
  refreshWorkerConfig();  // the one place a reload reaches a worker
  const EdgeConfig& cfg = config();
  Exchange ex(worker, request, slot, start);
  ex.server = serverFor(cfg, request, &ex);

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

bool EdgeServer::streamsBody(const http::Request& head) {
  refreshWorkerConfig();
  const EdgeConfig& cfg = config();
  const VirtualServer* server = serverFor(cfg, head, nullptr);
  auto uri = normalizePath(head.path);
  if (!uri) return false;
  const Location* loc = server->find(*uri, nullptr);
  return loc != nullptr && loc->kind == Location::Kind::kProxy &&
         !loc->request_body.proxy_buffering;
}

bool EdgeServer::routeRefusal(http::Worker& worker, const http::Request& request,
                              http::ResponseSlot slot, int status) {
  refreshWorkerConfig();
  const EdgeConfig& cfg = config();
  Exchange ex(worker, request, slot, Clock::now());
  ex.server = serverFor(cfg, request, &ex);
  ex.uri = normalizePath(request.path).value_or("/");
  ex.args = std::string(request.query);
  const Location* loc = ex.server->find(ex.uri, &ex);
  if (loc == nullptr) return false;
  ex.location = loc;
  http::Response r = http::htmlError(status);
  std::optional<std::string> target = errorPage(ex, *loc, r);
  if (!target) {
    if (r.status == status) return false;       // no error_page for it
    answer(context(ex, kOther), std::move(r));  // an error_page naming a URL: its redirect
    return true;
  }
  enterRedirect(ex, *target);
  ex.as_get = true;
  route(ex);
  return true;
}

namespace {

// How large the request's body is, as far as client_max_body_size can tell when the location is
// found: all of it, or what its Content-Length announces when it is still arriving.
uint64_t knownBodySize(const http::Request& request) {
  if (!request.body_stream) return request.body.size();
  uint64_t n = 0;
  std::string_view v = request.header("Content-Length");
  std::from_chars(v.data(), v.data() + v.size(), n);
  return std::max<uint64_t>(n, request.body_stream->received());
}

}  // namespace

void EdgeServer::route(Exchange& ex) {
  const http::Request& request = ex.request;
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
      // realip (nginx's post-read and preaccess phases): before limits, access and the content.
      if (loc->real_ip.any) ex.real_addr = realClientAddress(loc->real_ip, request);
      if (loc->max_body > 0 && knownBodySize(request) > loc->max_body && !ex.in_error_page) {
        // client_max_body_size, checked once the location is known (nginx's find-config phase,
        // before the location's rewrites); its error page may answer (the body then ignored).
        rewritten = RewriteOutcome::kAnswer;
        early = http::htmlError(413);
      } else {
        rewritten = runRewrites(loc->rewrites, ex, early);
      }
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
      } else if (!loc->access.allows(ex.remoteAddr())) {
        return answer(context(ex, kOther), refusedByAccessRules());
      } else if (loc->ops && ops_->answerOps(ex)) {
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
      // What the root lacks, a pull-through location fetches (an error page's file excepted).
      if (loc->pull >= 0 && step.kind == Step::Kind::kAnswer && step.response.status == 404 &&
          !ex.in_error_page && (ex.method() == "GET" || ex.method() == "HEAD")) {
        return pull_->handle(ex, *loc);
      }
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
  if (loc->kind == Location::Kind::kProxy && ex.request_body_file.empty() &&
      loc->request_body.wantsFile(request)) {
    return keepBodyInFile(ex, *loc);  // comes back here once the file is written
  }
  if (LocationHandler* handler = by_kind_[static_cast<int>(loc->kind)]) {
    return handler->handle(ex, *loc);
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
      ex.addHold(std::move(place));
    }
  }
  return std::nullopt;
}

void EdgeServer::keepBodyInFile(Exchange& ex, const Location& loc) {
  ex.resume = &loc;
  auto held = std::make_shared<HeldExchange>(workerConfig(), ex);
  const bool clean = loc.request_body.in_file_only == RequestBodySettings::InFileOnly::kClean;
  std::string_view body = held->ex.request.body;  // the held copy's: valid while `held` is
  body_writer_->write(
      loc.request_body, body,
      [this, held, clean, writer = body_writer_](base::Result<std::string, std::string> written) {
        if (!written)
          std::fprintf(stderr, "surge-edge: request body: %s\n", written.error().c_str());
        held->ex.worker.post([this, held, clean, writer, written = std::move(written)] {
          Exchange& ex = held->ex;
          if (!written) return answer(context(ex, kOther), http::htmlError(500));
          ex.request_body_file = *written;
          // `clean`: removed once the answer is gone (the last copy of ex.hold).
          if (clean) ex.addHold(writer->removeWhenReleased(writer, *written));
          route(ex);
        });
      });
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

bool EdgeServer::routeErrorPage(Exchange& ex, http::Response& r) {
  if (ex.location == nullptr) return false;
  auto target = errorPage(ex, *ex.location, r);
  if (!target) return false;
  enterRedirect(ex, *target);
  ex.as_get = true;  // nginx's error_page: the page is fetched with GET, the body left behind
  route(ex);
  return true;
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

}  // namespace surge::edge
