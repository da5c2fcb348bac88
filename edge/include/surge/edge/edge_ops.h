// Operators' locations: `surge_status` (/healthz, /readyz, /metrics, where the configuration puts
// them) and `surge_ops` (HTTP Basic with an admin key, surge_ops_keys; then the dashboard's own
// paths: this edge's metrics, its peers' (surge_ops_peer), origin's; any other path is a file of
// the location's root).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "surge/base/metrics.h"
#include "surge/cache/keyring.h"
#include "surge/edge/location_handler.h"
#include "surge/edge/origin_forwarder.h"

namespace surge::edge {

class SnapshotHandler;
class ProxyHandler;

class OpsHandler : public LocationHandler {
 public:
  // `metrics`: this edge's, for /metrics; `snapshots` and `proxy` for /readyz and the dashboard.
  OpsHandler(Dispatcher& dispatcher, const EdgeConfig& config, base::MetricsRegistry& metrics,
             SnapshotHandler& snapshots, ProxyHandler& proxy);
  ~OpsHandler() override;
  std::vector<std::string> reload(const EdgeConfig& now, const EdgeConfig& next,
                                  const EdgeKeys& keys) override;
  void stop() override;
  // A `surge_status` location.
  void handle(Exchange& exchange, const Location& location) override;
  // A `surge_ops` location, before its files: true when answered here (not authorized, or one of
  // the dashboard's paths); false: a file of the location.
  bool answerOps(Exchange& exchange);
  // Operators allowed in (admin keys: HTTP Basic user = key id, password = the key's hex secret).
  // Any thread; SIGHUP sets them again.
  void setKeys(cache::Keyring keys);

 private:
  bool authorized(const http::Request& request) const;
  // Another server's /metrics (origin's, a peer edge's), for the dashboard.
  void fetchMetrics(OriginForwarder& from, const Exchange& exchange);

  Dispatcher& dispatcher_;
  base::MetricsRegistry& metrics_;
  SnapshotHandler& snapshots_;
  ProxyHandler& proxy_;
  // Other edges' /metrics, each through its own small pool (their counters go to a registry of
  // their own, not into this edge's metrics).
  base::MetricsRegistry peer_metrics_;
  std::vector<std::pair<std::string, std::unique_ptr<OriginForwarder>>> peers_;
  mutable std::mutex keys_mutex_;
  cache::Keyring keys_;
};

}  // namespace surge::edge
