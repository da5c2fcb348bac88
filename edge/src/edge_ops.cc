// surge-edge's operator locations: `surge_status` (/healthz, /readyz, /metrics, where the
// configuration puts them) and `surge_ops` (HTTP Basic with an admin key, and the dashboard's own
// paths: this edge's metrics, its peers', origin's).
#include <openssl/crypto.h>

#include <algorithm>

#include "surge/edge/edge_server.h"
#include "surge/http/basic_auth.h"

namespace surge::edge {

using http::jsonError;

void EdgeServer::setOpsKeys(cache::Keyring keys) {
  std::lock_guard lock(ops_mutex_);
  ops_keys_ = std::move(keys);
}

bool EdgeServer::opsAuthorized(const http::Request& request) const {
  auto credentials = http::basicCredentials(request.header("Authorization"));
  if (!credentials) return false;
  auto secret = cache::decodeHex(credentials->password);
  if (!secret) return false;
  std::lock_guard lock(ops_mutex_);
  const cache::KeyringKey* key = ops_keys_.find(credentials->user);
  if (key == nullptr || key->secret.size() != secret->size()) return false;
  return CRYPTO_memcmp(key->secret.data(), secret->data(), secret->size()) == 0;
}

void EdgeServer::answerStatus(const Exchange& ex) {
  std::string_view path = ex.uri;  // after a rewrite or an internal redirect, where it points
  LogContext ctx = context(ex, kOps);
  if (path != "/healthz" && path != "/readyz" && path != "/metrics") {
    return answer(ctx, jsonError(404, "not_found",
                                 "a status location answers /healthz, /readyz "
                                 "and /metrics"));
  }
  if (ex.method() != "GET" && ex.method() != "HEAD") {
    http::Response r = jsonError(405, "method_not_allowed", "use GET");
    r.headers += "Allow: GET, HEAD\r\n";
    return answer(ctx, std::move(r));
  }
  if (path == "/healthz") return answer(ctx, http::Response::json(200, "{\"status\":\"ok\"}"));
  if (path == "/readyz") {
    const EdgeConfig& c = config();
    // Ready when this edge can serve reads: memcached read lately, origin's catalog held (so
    // everything it lists has been published) and the regions list held. Origin's state is
    // reported, not counted: every edge shares the origins, so an edge that went unready with
    // them took all reads down with it (the cluster test's PostgreSQL kill: the load balancer
    // found no edge at all) while each could still serve every snapshot it holds.
    bool snapshots_ok = c.memcached.empty() || snapshots_->ready();
    bool origin_ok = !c.have_origin || origin_->healthy();
    std::string body = std::string("{\"ready\":") + (snapshots_ok ? "true" : "false") +
                       ",\"snapshots\":" + (snapshots_ok ? "true" : "false") +
                       ",\"origin\":" + (origin_ok ? "true" : "false") + "}";
    return answer(ctx, http::Response::json(snapshots_ok ? 200 : 503, body));
  }
  http::Response r;
  r.headers = "Content-Type: text/plain; version=0.0.4\r\n";
  r.body = metrics_.render();
  answer(ctx, std::move(r));
}

bool EdgeServer::answerOps(Exchange& ex) {
  const http::Request& request = ex.request;
  std::string_view path = request.path;
  LogContext ctx = context(ex, kOps);
  if (!opsAuthorized(request)) {
    http::Response r = jsonError(401, "unauthorized", "operators only: sign in with an admin key");
    r.headers += "WWW-Authenticate: Basic realm=\"surge ops\", charset=\"UTF-8\"\r\n";
    answer(ctx, std::move(r));
    return true;
  }
  if (path == "/ops/metrics/edge") {
    http::Response r;
    r.headers = "Content-Type: text/plain; version=0.0.4\r\nCache-Control: no-store\r\n";
    r.body = metrics_.render();
    answer(ctx, std::move(r));
    return true;
  }
  if (path == "/ops/peers") {
    std::string body = "{\"self\":\"" + config().name + "\",\"peers\":[";
    for (size_t i = 0; i < peers_.size(); ++i) {
      if (i) body += ',';
      body += "\"" + peers_[i].first + "\"";  // names are [A-Za-z0-9._-]
    }
    body += "]}";
    http::Response r = http::Response::json(200, std::move(body));
    http::setCacheControl(r, "no-store");
    answer(ctx, std::move(r));
    return true;
  }
  if (path.substr(0, 18) == "/ops/metrics/peer/") {
    std::string_view name = path.substr(18);
    auto peer =
        std::find_if(peers_.begin(), peers_.end(), [&](const auto& p) { return p.first == name; });
    if (peer == peers_.end()) {
      answer(ctx, jsonError(404, "no_peer", "no such peer"));
      return true;
    }
    fetchMetrics(*peer->second, ex);
    return true;
  }
  if (path == "/ops/metrics/origin") {
    if (!config().have_origin) {
      answer(ctx, jsonError(404, "no_origin", "no origin here"));
      return true;
    }
    // Origin's /metrics through the same pool, cap and backoff as bookings.
    fetchMetrics(*origin_, ex);
    return true;
  }
  return false;
}

void EdgeServer::fetchMetrics(OriginForwarder& from, const Exchange& ex) {
  http::Request metrics_request;
  metrics_request.method = "GET";
  metrics_request.target = "/metrics";
  metrics_request.path = "/metrics";
  LogContext async = asyncContext(ex, kOps);
  std::string id = nextRequestId();
  from.forward(
      ex.worker, metrics_request, ex.request.remote_addr, id, 0,
      [this, async](http::Response r) {
        http::setCacheControl(r, "no-store");
        answer(async, std::move(r));
      },
      ForwardOptions::operatorTraffic());
}

}  // namespace surge::edge
