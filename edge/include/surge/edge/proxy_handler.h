// `proxy_pass` locations: bookings and the rest of the API that only origin answers, forwarded
// through the origin pool (origin_forwarder.h: keep-alive pool, circuit breaker, in-flight cap),
// behind the waiting room's gate for POSTs and a per-address limit on booking-code lookups.
// Origin's X-Accel-Redirect is routed on through the dispatcher; its other X-Accel-* headers are
// instructions for the proxy and never reach the client. The proxy_* directives and `upstream`
// blocks are read here too (readProxyDirective, readUpstream).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "surge/base/metrics.h"
#include "surge/cache/gap_report.h"
#include "surge/edge/accel_redirect.h"
#include "surge/edge/location_handler.h"
#include "surge/edge/origin_forwarder.h"
#include "surge/edge/static_files.h"
#include "surge/http/attempt_limiter.h"

namespace surge::edge {

class WaitingRoom;
struct EdgeConfig;
struct Location;
struct LocationSettings;

class ProxyHandler : public LocationHandler {
 public:
  // `room`: the booking gate (nullptr: none), owned by the queue handler.
  ProxyHandler(Dispatcher& dispatcher, const EdgeConfig& config, WaitingRoom* room,
               base::MetricsRegistry& metrics);
  ~ProxyHandler() override;
  std::vector<std::string> reload(const EdgeConfig& now, const EdgeConfig& next,
                                  const EdgeKeys& keys) override;
  void stop() override;
  void handle(Exchange& exchange, const Location& location) override;

  // The pool to origin: /readyz reports its health, the dashboard reads origin's /metrics
  // through it.
  OriginForwarder& origin() { return *origin_; }
  // The refresher's gap reports (gap_report.h), sent through worker 0's pool of `server` (once
  // it runs; a report made before is made again at the next pass).
  void reportGaps(cache::SignedGapReport report, http::Server* server);

 private:
  // Origin's answer `r` to the exchange `held` copies.
  void answered(const std::shared_ptr<HeldExchange>& held, const AnswerContext& ctx,
                const std::string& id, http::Response r);

  // The pool of a location's upstream: the origin's, or another's (nullptr: one a reload added,
  // whose servers come on restart only).
  OriginForwarder* forwarderFor(const Location& location);

  Dispatcher& dispatcher_;
  WaitingRoom* room_;
  std::unique_ptr<OriginForwarder> origin_;
  // The other upstreams' pools, as EdgeConfig::upstreams was at start, with their names.
  std::vector<std::pair<std::string, std::unique_ptr<OriginForwarder>>> upstreams_;
  http::AttemptLimiter lookups_;        // booking-code lookups per client address
  base::Counter* gap_reports_[3] = {};  // accepted, refused, failed
};

// proxy_connect_timeout, proxy_send_timeout and proxy_read_timeout at any level (`handled`: the
// directive is one of them; proxy_set_header is read per level, below).
bool readProxyDirective(ConfigReader& r, const Directive& d, LocationSettings& level,
                        bool& handled);
// The proxy_set_header directives of one level: they replace the inherited ones (nginx's rule).
bool readProxySetHeaders(ConfigReader& r, const std::vector<Directive>& block,
                         LocationSettings& level);
// fastcgi_pass_request_headers and fastcgi_connect/send/read_timeout at any level (`handled`:
// one of them or fastcgi_param, which is read per level, below). fastcgi_request_buffering is
// proxy_request_buffering's flag (request_body_files.h).
bool readFastcgiDirective(ConfigReader& r, const Directive& d, LocationSettings& level,
                          bool& handled);
// The fastcgi_param directives of one level: they replace the inherited ones (nginx's rule).
bool readFastcgiParams(ConfigReader& r, const std::vector<Directive>& block,
                       LocationSettings& level);

// The proxy directives that concern the whole file: `upstream` blocks, and the upstreams the
// proxy_pass directives name (an upstream block's name, or HOST:PORT), resolved once the file
// is read. The first becomes the origin (EdgeConfig::origin: bookings, gap reports, /readyz,
// the dashboard), unless a location proxies to an upstream named "origin"; the others are
// EdgeConfig::upstreams.
class ProxyReader {
 public:
  // An `upstream NAME { server HOST:PORT; keepalive N; }` block.
  bool upstream(ConfigReader& r, const Directive& d);
  // `fastcgi_pass HOST:PORT|NAME` in `location`: a FastCGI upstream (OriginOptions::fastcgi).
  bool fastcgiPass(ConfigReader& r, const Directive& d, Location& location);
  // `proxy_pass http://TARGET[/URI]` or `https://` in `location` (`regex_or_named`: no URI part
  // allowed).
  bool proxyPass(ConfigReader& r, const Directive& d, Location& location, bool regex_or_named);
  // After the file: the upstreams the proxy_pass directives name, resolved into
  // `config.origin` and `config.upstreams`, and each proxy location's Location::upstream.
  bool resolveOrigin(ConfigReader& r, EdgeConfig& config);

 private:
  struct Upstream {
    std::string name;
    std::vector<UpstreamServer> servers;
    std::string where;     // file:line of `upstream`
    size_t keepalive = 0;  // 0: the default
  };
  // One target's servers, Host header and keepalive into `out` (its other options kept).
  // "https://" before the target: TLS to it (OriginOptions::tls).
  bool resolveTarget(ConfigReader& r, std::string target, const std::string& where,
                     OriginOptions& out);
  std::vector<Upstream> upstreams_;
  // The upstreams (or host:port) locations proxy to, in file order, and where each was first
  // named.
  std::vector<std::pair<std::string, std::string>> targets_;
};

}  // namespace surge::edge
