// surge-edge's configuration, written in nginx syntax (parsed by nginx-compat/) and documented in
// edge/CONFIG.md. Every mistake is reported as "file:line: message".
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "surge/base/result.h"
#include "surge/edge/location.h"
#include "surge/edge/origin_forwarder.h"
#include "surge/edge/pull_cache.h"
#include "surge/edge/snapshot_cache.h"
#include "surge/edge/static_files.h"
#include "surge/edge/waiting_room.h"
#include "surge/http/access_rules.h"
#include "surge/http/attempt_limiter.h"
#include "surge/http/server.h"

namespace surge::edge {

struct EdgeConfig {
  std::string path;  // the file it came from

  // The main context, as nginx's. A restart changes them.
  std::string pid_file;        // `pid`: written once serving, removed at exit; "" none
  bool daemon = false;         // `daemon on`: into the background before serving (surge's default
                               // is off: systemd runs it as Type=notify)
  std::string error_log;       // `error_log FILE [LEVEL]`: where messages go; "" standard error
  uint64_t rlimit_nofile = 0;  // `worker_rlimit_nofile`: the descriptor limit set at start; 0 keep

  // Changing these needs a restart (SIGHUP logs that and keeps the running values), except
  // server.tls: a reload swaps the certificate for new connections.
  http::ServerOptions server;
  http::TlsOptions tls;                // files and settings behind server.tls
  std::vector<std::string> memcached;  // host:port
  std::string snapshot_keys;           // keyring file

  // Reloadable.
  // Every file an access_log names (the locations' rules point at them), bound to a writer by
  // EdgeServer at start and reload.
  std::vector<std::shared_ptr<AccessLogFile>> access_log_files;
  SnapshotCache::Options snapshots;
  std::chrono::seconds stale_while_revalidate{10};
  OriginOptions origin;
  bool have_origin = false;
  // The other upstreams proxy_pass names (Location::upstream 1, 2, ... are [0], [1], ...), with
  // the origin's timeouts and caps. Their servers change on restart only, as the origin's.
  std::vector<OriginOptions> upstreams;
  WaitingRoomOptions waiting_room;  // enabled/keys/block change on restart only
  std::string ops_keys;             // keyring of operators (surge_ops_keys), for `surge_ops`
  std::string name = "this";        // surge_name: how the dashboard calls this edge
  struct Peer {
    std::string name, host;
    std::string address;  // host resolved at load
    int port = 0;
  };
  std::vector<Peer> ops_peers;         // surge_ops_peer: other edges the dashboard shows (restart)
  std::vector<VirtualServer> servers;  // in file order
  // Pull-through caches (surge_pull_through + surge_pull_cache), one per directory; a location's
  // `pull` indexes it. Restart only.
  std::vector<PullSettings> pulls;
  // Lookups by booking code (GET /api/v1/bookings/lookup) per client address:
  // surge_lookup_limit COUNT WINDOW.
  http::AttemptLimiter::Options lookup_limit{10, std::chrono::seconds(60), 100000};

  // The first server's location for `path` (tests, and callers without a request).
  const Location* match(std::string_view path) const;
  bool anyLocation(const std::function<bool(const Location&)>& pred) const;
  // Every location of every server, named ones and those nested in others included.
  void forEachLocation(const std::function<void(Location&)>& fn);
};

// Where a configuration comes from besides its file (nginx's -p and -g).
struct ConfigSource {
  std::string prefix;   // relative paths resolve against it; "" the file's directory
  std::string globals;  // main-context directives read before the file's
};

base::Result<std::shared_ptr<const EdgeConfig>, std::string> loadEdgeConfig(
    const std::string& path, const ConfigSource& source = {});

}  // namespace surge::edge
