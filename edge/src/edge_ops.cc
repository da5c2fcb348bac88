// surge-edge's operator locations (edge_ops.h).
#include "surge/edge/edge_ops.h"
#include "surge/edge/config_reader.h"
#include "surge/edge/handler_directives.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "surge/edge/edge_config.h"
#include "surge/edge/proxy_handler.h"
#include "surge/edge/snapshot_handler.h"
#include "surge/http/basic_auth.h"

namespace surge::edge {

using http::jsonError;

OpsHandler::OpsHandler(Dispatcher& dispatcher, const EdgeConfig& config,
                       base::MetricsRegistry& metrics, SnapshotHandler& snapshots,
                       ProxyHandler& proxy)
    : dispatcher_(dispatcher), metrics_(metrics), snapshots_(snapshots), proxy_(proxy) {
  for (const EdgeConfig::Peer& peer : config.ops_peers) {
    OriginOptions o;
    o.servers = {UpstreamServer{peer.host, peer.address, peer.port}};
    o.host_header = peer.host + ":" + std::to_string(peer.port);
    o.keepalive = 2;
    o.max_inflight = 16;
    o.connect_timeout = std::chrono::milliseconds(500);
    o.read_timeout = std::chrono::milliseconds(2000);
    peers_.emplace_back(peer.name,
                        std::make_unique<OriginForwarder>(o, config.server.workers, peer_metrics_));
  }
}

OpsHandler::~OpsHandler() {
  stop();
}

// The peers' pools hold events of the workers' loops: freed while their bases still exist.
void OpsHandler::stop() {
  peers_.clear();
}

std::vector<std::string> OpsHandler::reload(const EdgeConfig& now, const EdgeConfig& next,
                                            const EdgeKeys&) {
  std::vector<std::string> kept;
  bool same = now.ops_peers.size() == next.ops_peers.size();
  for (size_t i = 0; same && i < now.ops_peers.size(); ++i) {
    same = now.ops_peers[i].name == next.ops_peers[i].name &&
           now.ops_peers[i].host == next.ops_peers[i].host &&
           now.ops_peers[i].port == next.ops_peers[i].port;
  }
  if (!same) kept.push_back("surge_ops_peer changes on restart only");
  return kept;
}

void OpsHandler::setKeys(cache::Keyring keys) {
  std::lock_guard lock(keys_mutex_);
  keys_ = std::move(keys);
}

bool OpsHandler::authorized(const http::Request& request) const {
  auto credentials = http::basicCredentials(request.header("Authorization"));
  if (!credentials) return false;
  auto secret = cache::decodeHex(credentials->password);
  if (!secret) return false;
  std::lock_guard lock(keys_mutex_);
  const cache::KeyringKey* key = keys_.find(credentials->user);
  if (key == nullptr || key->secret.size() != secret->size()) return false;
  return CRYPTO_memcmp(key->secret.data(), secret->data(), secret->size()) == 0;
}

void OpsHandler::handle(Exchange& ex, const Location&) {
  std::string_view path = ex.uri;  // after a rewrite or an internal redirect, where it points
  AnswerContext ctx = dispatcher_.context(ex, kOps);
  if (path != "/healthz" && path != "/readyz" && path != "/metrics") {
    return dispatcher_.answer(ctx, jsonError(404, "not_found",
                                             "a status location answers /healthz, /readyz "
                                             "and /metrics"));
  }
  if (ex.method() != "GET" && ex.method() != "HEAD") {
    return dispatcher_.answer(ctx, http::methodNotAllowed("use GET", "GET, HEAD"));
  }
  if (path == "/healthz")
    return dispatcher_.answer(ctx, http::Response::json(200, "{\"status\":\"ok\"}"));
  if (path == "/readyz") {
    const EdgeConfig& c = *dispatcher_.workerConfig();
    // Ready when this edge can serve reads: memcached read lately, origin's catalog held (so
    // everything it lists has been published) and the regions list held. Origin's state is
    // reported, not counted: every edge shares the origins, so an edge that went unready with
    // them took all reads down with it (the cluster test's PostgreSQL kill: the load balancer
    // found no edge at all) while each could still serve every snapshot it holds.
    bool snapshots_ok = c.memcached.empty() || snapshots_.cache().ready();
    bool origin_ok = !c.have_origin || proxy_.origin().healthy();
    std::string body = std::string("{\"ready\":") + (snapshots_ok ? "true" : "false") +
                       ",\"snapshots\":" + (snapshots_ok ? "true" : "false") +
                       ",\"origin\":" + (origin_ok ? "true" : "false") + "}";
    return dispatcher_.answer(ctx, http::Response::json(snapshots_ok ? 200 : 503, body));
  }
  http::Response r;
  r.headers = "Content-Type: text/plain; version=0.0.4\r\n";
  r.body = metrics_.render();
  dispatcher_.answer(ctx, std::move(r));
}

bool OpsHandler::answerOps(Exchange& ex) {
  const http::Request& request = ex.request;
  std::string_view path = request.path;
  AnswerContext ctx = dispatcher_.context(ex, kOps);
  if (!authorized(request)) {
    http::Response r = jsonError(401, "unauthorized", "operators only: sign in with an admin key");
    r.headers += "WWW-Authenticate: Basic realm=\"surge ops\", charset=\"UTF-8\"\r\n";
    dispatcher_.answer(ctx, std::move(r));
    return true;
  }
  if (path == "/ops/metrics/edge") {
    http::Response r;
    r.headers = "Content-Type: text/plain; version=0.0.4\r\nCache-Control: no-store\r\n";
    r.body = metrics_.render();
    dispatcher_.answer(ctx, std::move(r));
    return true;
  }
  if (path == "/ops/peers") {
    std::string body = "{\"self\":\"" + dispatcher_.workerConfig()->name + "\",\"peers\":[";
    for (size_t i = 0; i < peers_.size(); ++i) {
      if (i) body += ',';
      body += "\"" + peers_[i].first + "\"";  // names are [A-Za-z0-9._-]
    }
    body += "]}";
    http::Response r = http::Response::json(200, std::move(body));
    http::setCacheControl(r, "no-store");
    dispatcher_.answer(ctx, std::move(r));
    return true;
  }
  if (path.substr(0, 18) == "/ops/metrics/peer/") {
    std::string_view name = path.substr(18);
    auto peer =
        std::find_if(peers_.begin(), peers_.end(), [&](const auto& p) { return p.first == name; });
    if (peer == peers_.end()) {
      dispatcher_.answer(ctx, jsonError(404, "no_peer", "no such peer"));
      return true;
    }
    fetchMetrics(*peer->second, ex);
    return true;
  }
  if (path == "/ops/metrics/origin") {
    if (!dispatcher_.workerConfig()->have_origin) {
      dispatcher_.answer(ctx, jsonError(404, "no_origin", "no origin here"));
      return true;
    }
    // Origin's /metrics through the same pool, cap and backoff as bookings.
    fetchMetrics(proxy_.origin(), ex);
    return true;
  }
  return false;
}

void OpsHandler::fetchMetrics(OriginForwarder& from, const Exchange& ex) {
  http::Request metrics_request;
  metrics_request.method = "GET";
  metrics_request.target = "/metrics";
  metrics_request.path = "/metrics";
  AnswerContext async = dispatcher_.asyncContext(ex, kOps);
  std::string id = dispatcher_.nextRequestId();
  from.forward(
      ex.worker, metrics_request, ex.remoteAddr(), id, 0,
      [this, async](http::Response r) {
        http::setCacheControl(r, "no-store");
        dispatcher_.answer(async, std::move(r));
      },
      ForwardOptions::operatorTraffic());
}

// The dashboard's settings: this edge's name, its peers and the operators' keys.
bool readOpsDirective(ConfigReader& r, const Directive& d, EdgeConfig& c, bool& handled) {
  handled = true;
  if (d.name == "surge_name") {
    if (!r.args(d, 1, 1)) return false;
    if (d.args[0].empty() || d.args[0].size() > 64 ||
        d.args[0].find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789._-") != std::string::npos) {
      return r.fail(d, "a name is 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    c.name = d.args[0];
  } else if (d.name == "surge_ops_peer") {
    if (!r.args(d, 2, 2)) return false;
    EdgeConfig::Peer peer;
    peer.name = d.args[0];
    if (peer.name.empty() || peer.name.size() > 64 ||
        peer.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789._-") != std::string::npos) {
      return r.fail(d, "a name is 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    for (const auto& other : c.ops_peers) {
      if (other.name == peer.name) return r.fail(d, "duplicate peer \"" + peer.name + "\"");
    }
    if (!r.hostPort(d, d.args[1], peer.host, peer.port)) return false;
    if (!r.resolveHost(nginx_compat::locationOf(d), peer.host, peer.port, peer.address))
      return false;
    c.ops_peers.push_back(std::move(peer));
  } else if (d.name == "surge_ops_keys") {
    if (!r.args(d, 1, 1)) return false;
    c.ops_keys = r.resolve(d.args[0]);
  } else {
    handled = false;
  }
  return true;
}

}  // namespace surge::edge
