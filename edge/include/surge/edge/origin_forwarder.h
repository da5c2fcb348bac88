// Booking writes go to origin through here: a keep-alive connection pool per worker (on the
// worker's own event loop), a request id, X-Forwarded-For, hop-by-hop headers stripped, connect
// and response timeouts, and a per-edge cap on requests in flight. Over the cap, or while origin
// is failing, the client gets 503 + Retry-After at once - never a hung request - and a failing
// origin is retried with exponential backoff instead of being hammered.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "surge/base/metrics.h"
#include "surge/edge/circuit_breaker.h"
#include "surge/edge/header_names.h"
#include "surge/edge/inflight_cap.h"
#include "surge/edge/upstream_peers.h"
#include "surge/edge/upstream_tls.h"
#include "surge/http/server.h"

namespace surge::edge {

struct OriginOptions {
  // The upstream's servers (one for "proxy_pass http://HOST:PORT"), chosen per request by
  // UpstreamPeers. Restart-only: pooled connections belong to them.
  std::vector<UpstreamServer> servers{UpstreamServer{"127.0.0.1", "", 8081}};
  // The Host header origin gets unless proxy_set_header says otherwise: nginx's $proxy_host, the
  // upstream's name or HOST:PORT as proxy_pass names it.
  std::string host_header = "127.0.0.1:8081";
  // As proxy_pass names it (an upstream's name or HOST:PORT, "https://" before it for TLS):
  // what tells upstreams apart.
  std::string name;
  // proxy_pass https://: TLS to the servers (upstream_tls.h). Restart-only, as the servers.
  bool tls = false;
  // fastcgi_pass: the servers speak FastCGI (fastcgi.h), not HTTP. Restart-only.
  bool fastcgi = false;
  // An answer of 5xx: false (surge's origin, the upstream named "origin"), a 503 + Retry-After and
  // a failure for the circuit, since a booking retried with the same Idempotency-Key resolves to
  // one outcome whatever origin did; true (any other upstream), an answer like any other, passed on
  // as it came (nginx's, without proxy_next_upstream http_5xx).
  bool passes_errors = false;
  size_t keepalive = 64;  // idle connections kept per worker (nginx's upstream keepalive)
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds read_timeout{10000};  // for the whole answer once sent
  size_t max_inflight = 512;                      // per edge, all workers together
  std::chrono::milliseconds backoff_min{250};
  std::chrono::milliseconds backoff_max{5000};
};

// A location's own proxy_connect_timeout / proxy_send_timeout / proxy_read_timeout; negative:
// the origin's (OriginOptions, from the http block).
struct ProxyTimeouts {
  std::chrono::milliseconds connect{-1};
  std::chrono::milliseconds send{-1};
  std::chrono::milliseconds read{-1};
};

// proxy_next_upstream: when a request that failed on one server of the upstream goes to the
// next (nginx's default: error timeout). A request origin may already have acted on (sent, and
// neither idempotent nor carrying an Idempotency-Key) is never sent again.
struct NextUpstream {
  bool error = true;    // the connection failed, or was lost before any answer
  bool timeout = true;  // connecting or the answer took too long
  int tries = 0;        // proxy_next_upstream_tries: 0 for as many as there are servers
};

// How one request goes to origin, beyond the request itself.
struct ForwardOptions {
  // Operator traffic (the dashboard's scrape, gap reports), which neither waits on nor moves
  // the circuit that protects origin from a failing-origin storm.
  bool ops = false;
  ProxyTimeouts timeouts;
  NextUpstream next_upstream;
  // proxy_set_header: each replaces the client's header of that name (Host included); an empty
  // value removes it.
  std::vector<std::pair<std::string, std::string>> set_headers;
  // The server's ignore_invalid_headers and underscores_in_headers: client headers they ignore
  // are not passed on.
  HeaderNameRules header_names;
  // To a FastCGI upstream: the location's fastcgi_param values, and whether the request's
  // headers go too (fastcgi_pass_request_headers).
  std::vector<std::pair<std::string, std::string>> fastcgi_params;
  bool pass_request_headers = true;

  static ForwardOptions operatorTraffic() {
    ForwardOptions o;
    o.ops = true;
    return o;
  }
};

// Headers of an origin answer, parsed. Exposed for tests.
struct UpstreamHead {
  int status = 0;
  size_t header_bytes = 0;  // through the blank line
  std::optional<size_t> content_length;
  bool chunked = false;
  bool close = false;
  std::string headers;  // end-to-end headers to pass on, "Name: value\r\n" each
};
// 1: complete head parsed; 0: need more bytes; -1: malformed.
int parseUpstreamHead(std::string_view input, UpstreamHead& head);

// Is this header hop-by-hop (RFC 9110 7.6.1) or one the edge sets itself?
bool isHopByHop(std::string_view name);

class OriginForwarder {
 public:
  // `labels`: of its metrics, for an upstream other than the origin (upstream="NAME").
  OriginForwarder(OriginOptions options, int workers, base::MetricsRegistry& metrics,
                  const std::string& labels = "");
  ~OriginForwarder();
  // Worker thread. `done` gets the answer for the client (already passed to nowhere): the caller
  // sends it. `client_ip` goes into X-Forwarded-For.
  using Done = std::function<void(http::Response)>;
  // `ticket_number` (0: none) goes to origin as X-Surge-Ticket-Number, which the edge alone sets:
  // the same header from a client is dropped.
  void forward(http::Worker& worker, const http::Request& request, std::string_view client_ip,
               std::string request_id, uint64_t ticket_number, Done done,
               const ForwardOptions& how = {});
  void setOptions(const OriginOptions& options);  // SIGHUP: timeouts and caps (servers stay)
  bool healthy() const;                           // not backing off after failures

  class Pool;

 private:
  friend class Pool;
  using Role = CircuitBreaker::Role;
  OriginOptions options() const;
  CircuitBreaker::Options circuitOptions() const;
  void succeeded(Role role) { circuit_.succeeded(role); }
  void failed(Role role) { circuit_.failed(circuitOptions(), role); }

  mutable std::mutex options_mutex_;
  // Without its servers, which live in peers_: options() is copied on every request, and a
  // vector of servers copied with it would be an allocation each time.
  OriginOptions options_;
  std::vector<std::unique_ptr<Pool>> pools_;  // one per worker, used only on its thread
  UpstreamPeers peers_;                       // the servers, shared by the workers
  std::unique_ptr<UpstreamTls> tls_;          // proxy_pass https:// (OriginOptions::tls)

  const bool passes_errors_;  // OriginOptions::passes_errors (restart-only, as the servers)
  const bool fastcgi_;        // OriginOptions::fastcgi (likewise)
  const bool tls_required_;   // OriginOptions::tls (likewise)
  base::Counter& errors_;
  base::Counter& forwarded_;
  base::Counter& reused_;
  CircuitBreaker circuit_;
  InflightCap cap_;  // after forwarded_: the answers are its backlog's pace
};

}  // namespace surge::edge
