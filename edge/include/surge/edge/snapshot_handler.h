// `surge_snapshots` locations: origin's signed availability snapshots from the in-process L1
// (snapshot_cache.h), by the public API's paths (DESIGN.md), in the encoding the client takes.
// The directives that tune it (surge_memcached, surge_snapshot_keys, surge_refresh_interval,
// surge_stale_if_error, surge_stale_while_revalidate, surge_snapshot_idle,
// surge_snapshot_max_waiting) are read in edge_config.cc, as http-level settings of the file.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "surge/base/metrics.h"
#include "surge/edge/cdn_headers.h"
#include "surge/edge/location_handler.h"
#include "surge/edge/snapshot_cache.h"

namespace surge::edge {

// "/api/v1/regions" -> "regions", "/api/v1/regions/11/clinics" -> "region/11",
// "/api/v1/clinics/7" -> "clinic/7", "/api/v1/snapshots/notice" -> "named/notice"; "" otherwise.
std::string snapshotNameForPath(std::string_view path);

class SnapshotHandler : public LocationHandler {
 public:
  SnapshotHandler(Dispatcher& dispatcher, const EdgeConfig& config, cache::Keyring keyring,
                  base::MetricsRegistry& metrics);
  base::Result<base::Done, std::string> start() override;
  std::vector<std::string> reload(const EdgeConfig& now, const EdgeConfig& next,
                                  const EdgeKeys& keys) override;
  void stop() override;
  void handle(Exchange& exchange, const Location& location) override;

  // The L1 itself: /readyz asks whether it is ready, the gap reporter is set on it.
  SnapshotCache& cache() { return *snapshots_; }

 private:
  void serve(const Exchange& exchange, const std::string& name, const AnswerContext& ctx,
             const CdnSettings& cdn);
  // 404 for a snapshot name origin does not publish (its catalog, or a tombstone).
  http::Response notFoundAnswer(const std::string& name) const;
  http::Response response(const SnapshotLookup& found, std::string_view accept_encoding,
                          std::string_view if_none_match, const CdnSettings& cdn) const;

  Dispatcher& dispatcher_;
  bool uses_memcached_;
  std::unique_ptr<SnapshotCache> snapshots_;
};

}  // namespace surge::edge
