#include "surge/edge/proxy_handler.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "surge/edge/config_reader.h"
#include "surge/edge/edge_config.h"
#include "surge/edge/handler_directives.h"
#include "surge/edge/return_handler.h"
#include "surge/edge/static_files.h"
#include "surge/edge/waiting_room.h"

namespace surge::edge {

using http::jsonError;

ProxyHandler::ProxyHandler(Dispatcher& dispatcher, const EdgeConfig& config, WaitingRoom* room,
                           base::MetricsRegistry& metrics)
    : dispatcher_(dispatcher),
      room_(room),
      origin_(std::make_unique<OriginForwarder>(config.origin, config.server.workers, metrics)),
      lookups_(config.lookup_limit) {
  for (const OriginOptions& o : config.upstreams) {
    upstreams_.emplace_back(o.name,
                            std::make_unique<OriginForwarder>(o, config.server.workers, metrics,
                                                              "upstream=\"" + o.name + "\""));
  }
  for (int i = 0; i < 3; ++i) {
    static const char* kOutcome[] = {"accepted", "refused", "failed"};
    gap_reports_[i] = &metrics.counter("surge_edge_gap_reports_total",
                                       "Gap reports sent to origin, by how origin answered",
                                       std::string("outcome=\"") + kOutcome[i] + "\"");
  }
}

ProxyHandler::~ProxyHandler() {
  stop();
}

// The pool holds events of the workers' loops: freed while their bases still exist.
void ProxyHandler::stop() {
  origin_.reset();
  upstreams_.clear();
}

std::vector<std::string> ProxyHandler::reload(const EdgeConfig& now, const EdgeConfig& next,
                                              const EdgeKeys&) {
  std::vector<std::string> kept;
  OriginOptions origin = next.origin;
  if (origin.servers != now.origin.servers || origin.host_header != now.origin.host_header) {
    // Pooled connections would keep going to the old addresses: the upstream is restart-only.
    kept.push_back("the upstream servers change on restart only");
    origin.servers = now.origin.servers;
    origin.host_header = now.origin.host_header;
  }
  if (origin_) origin_->setOptions(origin);
  // The other upstreams: by name; one added (or whose servers changed) waits for a restart.
  for (const OriginOptions& o : next.upstreams) {
    auto running = std::find_if(upstreams_.begin(), upstreams_.end(),
                                [&](const auto& u) { return u.first == o.name; });
    if (running == upstreams_.end()) {
      kept.push_back("upstream \"" + o.name +
                     "\" is new: its locations answer 502 until a restart");
      continue;
    }
    auto was = std::find_if(now.upstreams.begin(), now.upstreams.end(),
                            [&](const OriginOptions& n) { return n.name == o.name; });
    OriginOptions options = o;
    if (was != now.upstreams.end() && was->servers != o.servers) {
      kept.push_back("upstream \"" + o.name + "\"'s servers change on restart only");
    }
    options.servers.clear();
    running->second->setOptions(options);
  }
  lookups_.setOptions(next.lookup_limit);
  return kept;
}

OriginForwarder* ProxyHandler::forwarderFor(const Location& loc) {
  if (loc.upstream == 0) return origin_.get();
  const size_t i = static_cast<size_t>(loc.upstream - 1);
  if (i < upstreams_.size() && upstreams_[i].first == loc.proxy_target) {
    return upstreams_[i].second.get();
  }
  for (auto& [name, forwarder] : upstreams_)
    if (name == loc.proxy_target) return forwarder.get();
  return nullptr;
}

void ProxyHandler::handle(Exchange& ex, const Location& loc) {
  const http::Request& request = ex.request;
  if (request.path == "/api/v1/bookings/lookup") {
    // Guessing at booking codes: limited per client here, per person at origin.
    if (int64_t wait = lookups_.attempt(ex.remoteAddr()); wait > 0) {
      return dispatcher_.answer(
          dispatcher_.context(ex, kBooking),
          jsonError(429, "too_many_attempts", "too many lookups from this address; try again later",
                    wait));
    }
  }
  uint64_t ticket_number = 0;
  if (room_ && ex.method() == "POST") {
    WaitingRoom::Gate gate = room_->check(request);
    if (!gate.ok) return dispatcher_.answer(dispatcher_.context(ex, kBooking), room_->refuse(gate));
    ticket_number = gate.number;
  }
  // The exchange's copy: an X-Accel-Redirect in origin's answer is routed on from it (and it
  // holds limit_conn's places until the answer).
  auto held = std::make_shared<HeldExchange>(dispatcher_.workerConfig(), ex);
  AnswerContext ctx = dispatcher_.context(ex, kBooking);
  ctx.exchange = nullptr;
  if (ctx.needsHeld()) ctx.held = held;
  std::string id(request.header("X-Request-Id"));
  if (id.empty() || id.size() > 128) id = dispatcher_.nextRequestId();
  // The path origin gets: as the client sent it, unless proxy_pass has a URI part (it replaces
  // the location's prefix) or an internal redirect changed it (nginx's rules).
  http::Request rewritten;
  std::string target;
  const http::Request* to_send = &request;
  if (!loc.proxy_uri.empty() || ex.internal || ex.method() != request.method) {
    std::string_view rest = ex.uri;
    if (!loc.proxy_uri.empty()) rest.remove_prefix(std::min(rest.size(), loc.prefix.size()));
    target = encodeUri(loc.proxy_uri + std::string(rest));
    if (!ex.args.empty()) target += "?" + ex.args;
    rewritten = request;
    rewritten.target = target;
    rewritten.path = std::string_view(target).substr(0, target.find('?'));
    if (ex.method() != request.method) {
      rewritten.method = ex.method();  // after X-Accel-Redirect: a GET, without the body
      rewritten.body = {};
      rewritten.body_stream.reset();
      rewritten.has_body = false;
    }
    to_send = &rewritten;
  }
  ForwardOptions forward_options;
  forward_options.timeouts = loc.proxy_timeouts;
  forward_options.next_upstream = loc.next_upstream;
  if (ex.server) forward_options.header_names = ex.server->header_names;
  for (const ProxySetHeader& h : loc.proxy_set_headers)
    forward_options.set_headers.emplace_back(h.name, http::headerSafe(h.value.evaluate(ex)));
  for (const FastcgiParam& p : loc.fastcgi_params) {
    std::string value = p.value.evaluate(ex);
    if (!value.empty() || !p.if_not_empty)
      forward_options.fastcgi_params.emplace_back(p.name, value);
  }
  forward_options.pass_request_headers = loc.fastcgi_pass_request_headers;
  OriginForwarder* upstream = forwarderFor(loc);
  if (upstream == nullptr) {
    return dispatcher_.answer(
        dispatcher_.context(ex, kBooking),
        jsonError(502, "upstream_not_started",
                  "this location's upstream came with a reload; it is used after a restart"));
  }
  upstream->forward(
      ex.worker, *to_send, ex.remoteAddr(), id, ticket_number,
      [this, ctx = std::move(ctx), id, held,
       sent = std::chrono::steady_clock::now()](http::Response r) {
        held->ex.upstream_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
        answered(held, ctx, id, std::move(r));
      },
      forward_options);
}

void ProxyHandler::answered(const std::shared_ptr<HeldExchange>& held, const AnswerContext& ctx,
                            const std::string& id, http::Response r) {
  // X-Accel-Limit-Rate: the rate of this answer, or of the one it redirects to ("off": none).
  std::optional<int64_t> rate;
  if (auto v = http::headerValue(r.headers, "X-Accel-Limit-Rate")) rate = accelLimitRate(*v);
  if (auto xar = accelRedirect(r)) {
    if (xar->unsafe) return dispatcher_.answer(ctx, http::htmlError(404));  // nginx: unsafe URI
    Exchange& ex = held->ex;
    if (rate) ex.accel_limit_rate = *rate;
    ex.upstream_headers = r.headers;
    ex.preserved_headers = std::move(xar->preserved);
    ex.as_get = true;
    ++ex.redirects;
    ex.internal = true;
    if (xar->named) {
      ex.named = std::move(xar->uri);
    } else {
      ex.uri = std::move(xar->uri);
      ex.args = std::move(xar->args);
    }
    return dispatcher_.routeOn(ex);
  }
  if (rate) r.limit_rate = *rate;
  // An error page fetched from the upstream (error_page CODE /uri, no "="): the client gets the
  // error's code with the page, as nginx's err_status does.
  if (held->ex.error_status > 0) r.status = held->ex.error_status;
  const Location* loc = held->ex.location;
  if (loc && loc->proxy_intercept_errors && r.status >= 300 && !held->ex.in_error_page &&
      dispatcher_.routeErrorPage(held->ex, r)) {
    return;  // the error page answers (`r` may have become its redirect to a URL)
  }
  const bool add_headers = loc && !loc->add_header_rules.empty();
  if (add_headers) held->ex.upstream_headers = r.headers;  // as origin sent them
  // nginx's proxy_hide_header defaults: instructions for the proxy, not the client. (surge keeps
  // no proxy cache and sends whole answers: X-Accel-Expires and X-Accel-Buffering have nothing
  // to act on; X-Accel-Charset is not done, DIFFERENCES.md.)
  for (const char* name :
       {"X-Accel-Expires", "X-Accel-Limit-Rate", "X-Accel-Buffering", "X-Accel-Charset"}) {
    http::removeHeader(r, name);
  }
  // Origin echoes it, in whatever case a proxy between left it.
  http::setHeader(r, "X-Request-Id", id);
  // add_header: evaluated now, from the exchange's copy, so that $upstream_http_NAME,
  // $upstream_cookie_NAME and $upstream_response_time are this answer's (as nginx's header
  // filter sees them).
  if (add_headers) applyLocationHeaders(*loc, held->ex, r);
  dispatcher_.answer(ctx, std::move(r));
}

void ProxyHandler::reportGaps(cache::SignedGapReport signed_report, http::Server* server) {
  if (server == nullptr) return;  // still missing at the next pass: reported then
  auto report = std::make_shared<cache::SignedGapReport>(std::move(signed_report));
  server->postTo(0, [this, report, id = dispatcher_.nextRequestId()](http::Worker& worker) {
    http::Request request;
    request.method = "POST";
    request.target = cache::kGapReportPath;
    request.path = cache::kGapReportPath;
    request.headers = {{"Content-Type", "text/plain"},
                       {"X-Surge-Key", report->key_id},
                       {"X-Surge-Timestamp", report->timestamp},
                       {"X-Surge-Signature", report->signature}};
    request.body = report->body;
    if (!origin_) return;  // stopping
    // Operator-class traffic: it neither waits on the circuit nor moves it.
    origin_->forward(
        worker, request, dispatcher_.workerConfig()->server.host, id, 0,
        [this](http::Response r) {
          gap_reports_[r.status == 202 ? 0 : r.status == 401 ? 1 : 2]->add();
          if (r.status == 401) {
            std::fprintf(stderr, "surge-edge: origin refused a gap report: %s\n", r.body.c_str());
          }
        },
        ForwardOptions::operatorTraffic());
  });
}

bool readProxyDirective(ConfigReader& r, const Directive& d, LocationSettings& level,
                        bool& handled) {
  if (d.name == "proxy_next_upstream") {
    // error, timeout, off (nginx's; its http_5xx, invalid_header, non_idempotent are not here).
    handled = true;
    if (d.args.empty()) return r.args(d, 1, 3);
    NextUpstream& n = level.next_upstream;
    n.error = n.timeout = false;
    for (const std::string& a : d.args) {
      if (a == "error") {
        n.error = true;
      } else if (a == "timeout") {
        n.timeout = true;
      } else if (a == "off") {
        if (d.args.size() > 1) return r.fail(d, "\"off\" stands alone in \"proxy_next_upstream\"");
      } else {
        return r.fail(d, "\"proxy_next_upstream " + a +
                             "\" is not supported (error, timeout, off): surge-edge sends a "
                             "request on only for a failed connection or a timeout");
      }
    }
    return true;
  }
  if (d.name == "proxy_http_version") {
    // What nginx configurations say to keep upstream connections alive: surge-edge always
    // speaks HTTP/1.1 to origin, with keep-alive. 1.0 (nginx's default) it cannot honour.
    handled = true;
    if (!r.args(d, 1, 1)) return false;
    if (d.args[0] == "1.1") return true;
    if (d.args[0] == "1.0") {
      return r.fail(d,
                    "\"proxy_http_version 1.0\" is not supported: surge-edge speaks HTTP/1.1 "
                    "to origin, with keep-alive");
    }
    return r.fail(d, "invalid value \"" + d.args[0] + "\" in \"proxy_http_version\"");
  }
  if (d.name == "proxy_intercept_errors") {
    handled = true;
    return r.onOff(d, level.proxy_intercept_errors);
  }
  if (d.name == "proxy_next_upstream_tries") {
    handled = true;
    if (!r.args(d, 1, 1)) return false;
    uint64_t n = 0;
    if (!r.number(d, d.args[0], 0, 100, n)) return false;
    level.next_upstream.tries = static_cast<int>(n);
    return true;
  }
  handled = d.name == "proxy_connect_timeout" || d.name == "proxy_send_timeout" ||
            d.name == "proxy_read_timeout" || d.name == "proxy_set_header";
  if (!handled || d.name == "proxy_set_header") return true;  // proxy_set_header: per level
  ProxyTimeouts& t = level.proxy_timeouts;
  return r.duration(d, d.name == "proxy_connect_timeout" ? t.connect
                       : d.name == "proxy_send_timeout"  ? t.send
                                                         : t.read);
}

bool readFastcgiDirective(ConfigReader& r, const Directive& d, LocationSettings& level,
                          bool& handled) {
  handled = true;
  if (d.name == "fastcgi_pass_request_headers") {
    return r.onOff(d, level.fastcgi_pass_request_headers);
  }
  ProxyTimeouts& t = level.proxy_timeouts;
  if (d.name == "fastcgi_connect_timeout") return r.duration(d, t.connect);
  if (d.name == "fastcgi_send_timeout") return r.duration(d, t.send);
  if (d.name == "fastcgi_read_timeout") return r.duration(d, t.read);
  handled = d.name == "fastcgi_param";  // per level, below
  return true;
}

bool readFastcgiParams(ConfigReader& r, const std::vector<Directive>& block,
                       LocationSettings& level) {
  std::vector<FastcgiParam> own;
  for (const Directive& d : block) {
    if (d.name != "fastcgi_param") continue;
    if (!r.args(d, 2, 3)) return false;
    FastcgiParam p;
    p.name = d.args[0];
    if (d.args.size() == 3) {
      if (d.args[2] != "if_not_empty") return r.fail(d, "invalid value \"" + d.args[2] + "\"");
      p.if_not_empty = true;
    }
    if (!r.complexValue(d, d.args[1], p.value)) return false;
    own.push_back(std::move(p));
  }
  if (!own.empty()) level.fastcgi_params = std::move(own);
  return true;
}

bool readProxySetHeaders(ConfigReader& r, const std::vector<Directive>& block,
                         LocationSettings& level) {
  std::vector<ProxySetHeader> own;
  for (const Directive& d : block) {
    if (d.name != "proxy_set_header") continue;
    if (!r.args(d, 2, 2)) return false;
    ProxySetHeader h;
    h.name = d.args[0];
    for (char c : h.name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
        return r.fail(d, "invalid header name \"" + h.name + "\"");
      }
    }
    // What the edge itself says to origin, and the connection's own headers (the forwarder's
    // one list of them, which would drop such a value unsent), are not a configuration's to
    // set; Host is (it replaces the origin's name).
    if ((isHopByHop(h.name) && !http::equalsIgnoreCase(h.name, "Host")) ||
        http::equalsIgnoreCase(h.name, "X-Request-Id") ||
        http::equalsIgnoreCase(h.name, "X-Surge-Ticket-Number")) {
      return r.fail(d, "\"" + h.name + "\" is set by surge-edge itself");
    }
    if (!r.complexValue(d, d.args[1], h.value)) return false;
    own.push_back(std::move(h));
  }
  if (!own.empty()) level.proxy_set_headers = std::move(own);
  return true;
}

namespace {

// server ADDRESS [weight=N] [max_fails=N] [fail_timeout=TIME] [backup] [down] (nginx's).
bool readUpstreamServer(ConfigReader& r, const Directive& u, UpstreamServer& s) {
  if (u.args.empty() || u.has_block) return r.args(u, 1, 6);
  if (!r.hostPort(u, u.args[0], s.host, s.port)) return false;
  for (size_t i = 1; i < u.args.size(); ++i) {
    const std::string& a = u.args[i];
    uint64_t n = 0;
    if (a.rfind("weight=", 0) == 0) {
      if (!r.number(u, a.substr(7), 1, 1000, n)) return false;
      s.weight = static_cast<int>(n);
    } else if (a.rfind("max_fails=", 0) == 0) {
      if (!r.number(u, a.substr(10), 0, 1000, n)) return false;
      s.max_fails = static_cast<int>(n);
    } else if (a.rfind("fail_timeout=", 0) == 0) {
      if (!r.duration(u, a.substr(13), s.fail_timeout)) return false;
    } else if (a == "backup") {
      s.backup = true;
    } else if (a == "down") {
      s.down = true;
    } else {
      return r.fail(u, "invalid parameter \"" + a +
                           "\" (weight=, max_fails=, fail_timeout=, "
                           "backup, down)");
    }
  }
  return true;
}

}  // namespace

bool ProxyReader::upstream(ConfigReader& r, const Directive& d) {
  if (d.args.size() != 1) return r.fail(d, "invalid number of arguments in \"upstream\"");
  if (!r.block(d)) return false;
  Upstream up{d.args[0], {}, nginx_compat::locationOf(d)};
  for (const Directive& u : d.block) {
    if (u.name == "server") {
      UpstreamServer s;
      if (!readUpstreamServer(r, u, s)) return false;
      if (!r.resolveHost(nginx_compat::locationOf(u), s.host, s.port, s.address)) return false;
      if (up.servers.size() == UpstreamPeers::kMaxServers) {
        return r.fail(u, "more than " + std::to_string(UpstreamPeers::kMaxServers) +
                             " servers in one upstream");
      }
      up.servers.push_back(std::move(s));
    } else if (u.name == "keepalive") {
      if (!r.args(u, 1, 1)) return false;
      uint64_t n = 0;
      if (!r.number(u, u.args[0], 1, 100000, n)) return false;
      up.keepalive = n;
    } else {
      return r.fail(u, "unknown directive \"" + u.name + "\" in upstream");
    }
  }
  if (up.servers.empty()) return r.fail(d, "upstream \"" + d.args[0] + "\" has no server");
  if (std::all_of(up.servers.begin(), up.servers.end(),
                  [](const UpstreamServer& s) { return s.backup; })) {
    return r.fail(d, "upstream \"" + d.args[0] + "\" has only backup servers");
  }
  upstreams_.push_back(std::move(up));
  return true;
}

bool ProxyReader::fastcgiPass(ConfigReader& r, const Directive& e, Location& loc) {
  if (!r.args(e, 1, 1)) return false;
  std::string target = e.args[0];
  if (target.find("://") != std::string::npos || target.find('/') != std::string::npos ||
      target.find('$') != std::string::npos) {
    return r.fail(e, "fastcgi_pass takes HOST:PORT or an upstream's name");
  }
  target = "fastcgi://" + target;
  loc.proxy_target = target;
  if (std::none_of(targets_.begin(), targets_.end(),
                   [&](const auto& t) { return t.first == target; })) {
    targets_.emplace_back(target, nginx_compat::locationOf(e));
  }
  return true;
}

bool ProxyReader::proxyPass(ConfigReader& r, const Directive& e, Location& loc,
                            bool regex_or_named) {
  if (!r.args(e, 1, 1)) return false;
  std::string target = e.args[0];
  // https://: TLS to the upstream (upstream_tls.h); the scheme stays in the target's name, so
  // that the same servers over both are two upstreams.
  const bool tls = target.rfind("https://", 0) == 0;
  if (!tls && target.rfind("http://", 0) != 0) {
    return r.fail(e, "proxy_pass needs an http:// or https:// URL");
  }
  target = target.substr(tls ? 8 : 7);
  if (size_t slash = target.find('/'); slash != std::string::npos) {
    loc.proxy_uri = target.substr(slash);
    target.resize(slash);
    if (regex_or_named) {
      return r.fail(e,
                    "\"proxy_pass\" cannot have URI part in location given by regular "
                    "expression, or inside named location");
    }
    if (loc.proxy_uri.find('$') != std::string::npos) {
      return r.fail(e, "variables in \"proxy_pass\" are not supported yet");
    }
  }
  if (tls) target = "https://" + target;
  loc.proxy_target = target;
  if (std::none_of(targets_.begin(), targets_.end(),
                   [&](const auto& t) { return t.first == target; })) {
    targets_.emplace_back(target, nginx_compat::locationOf(e));
  }
  return true;
}

bool ProxyReader::resolveTarget(ConfigReader& r, std::string target, const std::string& where,
                                OriginOptions& out) {
  out.fastcgi = target.rfind("fastcgi://", 0) == 0;
  if (out.fastcgi) target.erase(0, 10);
  out.tls = target.rfind("https://", 0) == 0;
  if (out.tls) {
    target.erase(0, 8);
    // A host without a port is on 443 (an upstream's name stays as it is).
    const bool named = std::any_of(upstreams_.begin(), upstreams_.end(),
                                   [&](const Upstream& u) { return u.name == target; });
    if (!named && target.find(':') == std::string::npos) target += ":443";
  }
  auto up = std::find_if(upstreams_.begin(), upstreams_.end(),
                         [&](const Upstream& u) { return u.name == target; });
  if (up != upstreams_.end()) {
    // Resolved as each server was read. Host: the upstream's name, nginx's $proxy_host.
    out.servers = up->servers;
    out.host_header = up->name;
    if (up->keepalive > 0) out.keepalive = up->keepalive;
    return true;
  }
  UpstreamServer s;
  Directive fake;
  fake.name = "proxy_pass";
  ConfigReader scratch(r.baseDir());  // its message is replaced by the one below
  if (!scratch.hostPort(fake, target, s.host, s.port)) {
    return r.failAt(where,
                    "proxy_pass target \"" + target + "\" is neither an upstream nor host:port");
  }
  if (!r.resolveHost(where, s.host, s.port, s.address)) return false;
  const int default_port = out.tls ? 443 : 80;
  out.host_header = s.port == default_port ? s.host : s.host + ":" + std::to_string(s.port);
  out.servers = {std::move(s)};
  return true;
}

bool ProxyReader::resolveOrigin(ConfigReader& r, EdgeConfig& c) {
  if (targets_.empty()) return true;
  // The origin: the upstream named "origin" if a location proxies to it, else the first named.
  auto origin = std::find_if(targets_.begin(), targets_.end(),
                             [](const auto& t) { return t.first == "origin"; });
  if (origin == targets_.end()) origin = targets_.begin();
  std::rotate(targets_.begin(), origin, origin + 1);
  const OriginOptions shared = c.origin;  // timeouts and caps: the http block's, for every one
  c.upstreams.clear();
  for (size_t i = 0; i < targets_.size(); ++i) {
    OriginOptions o = shared;
    o.name = targets_[i].first;
    if (!resolveTarget(r, targets_[i].first, targets_[i].second, o)) return false;
    // A 5xx becomes the booking API's 503 + Retry-After from surge's own origin only (an
    // upstream named "origin"). The first upstream of a configuration without one serves as the
    // origin for /readyz and the dashboard, but its answers pass as nginx passes them (an
    // error_page with proxy_intercept_errors may then act on a 502).
    o.passes_errors = o.name != "origin";
    if (i == 0) {
      c.origin = std::move(o);
    } else {
      c.upstreams.push_back(std::move(o));
    }
  }
  c.have_origin = true;
  auto index = [&](const std::string& target) {
    for (size_t i = 0; i < targets_.size(); ++i)
      if (targets_[i].first == target) return static_cast<int>(i);
    return 0;
  };
  c.forEachLocation([&](Location& loc) {
    if (loc.kind == Location::Kind::kProxy) loc.upstream = index(loc.proxy_target);
  });
  return true;
}

// The booking path's caps: writes in flight to origin, and lookups by booking code.
bool readOriginDirective(ConfigReader& r, const Directive& d, EdgeConfig& c, bool& handled) {
  handled = true;
  if (d.name == "surge_origin_max_inflight") {
    if (!r.args(d, 1, 1)) return false;
    uint64_t v = 0;
    if (!r.number(d, d.args[0], 1, 1000000, v)) return false;
    c.origin.max_inflight = v;
  } else if (d.name == "surge_lookup_limit") {
    // COUNT WINDOW: lookups by booking code per client address.
    if (!r.args(d, 2, 2)) return false;
    uint64_t count = 0;
    if (!r.number(d, d.args[0], 1, 1000000, count)) return false;
    auto window = nginx_compat::parseDuration(d.args[1]);
    if (!window || window.value().count() < 1000) {
      return r.fail(d, "the window is a duration of at least 1s, like 1m");
    }
    c.lookup_limit.attempts = static_cast<uint32_t>(count);
    c.lookup_limit.window = std::chrono::duration_cast<std::chrono::seconds>(window.value());
  } else {
    handled = false;
  }
  return true;
}

}  // namespace surge::edge
