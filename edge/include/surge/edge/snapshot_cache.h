// The edge's L1 of availability snapshots: verified, decoded, immutable snapshots shared by every
// worker and sent without copying.
//
// Requests never touch memcached. Background refresh threads, each with its own memcached handle,
// re-read the keys that are in use once per refresh interval with one batched multi-get, so
// memcached sees (hot keys / interval) gets per edge whatever the request rate. A miss parks its
// request and asks for one fetch; later misses for the same name join it (coalesced). The parked
// list is bounded; the wait is bounded by memcached's own timeouts (the client gives up within
// ~100 ms). A snapshot that fails verification is never served: the last good one stays and a
// counter rises. When memcached is unreachable, snapshots are served stale up to
// `stale_if_error`, and `Age` says how old they are.
//
// A name memcached does not have is not therefore unknown. The refresher keeps origin's
// "catalog" snapshot (catalog_names.h): a name it does not list is unknown (404 at once, without
// asking memcached); a name it lists is a gap - lost with a node, evicted, not written yet - and
// the copy held (if any) is served while the gap is reported to origin, which republishes it.
// Only a tombstone or the catalog makes a 404.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "surge/base/metrics.h"
#include "surge/cache/catalog_names.h"
#include "surge/cache/gap_report.h"
#include "surge/cache/keyring.h"
#include "surge/cache/memcached_client.h"
#include "surge/http/server.h"

namespace surge::edge {

// One snapshot version, in every encoding a client may ask for (each made once). gzip is made
// only for names a client that takes gzip but not zstd asked for within `idle_evict`
// (SnapshotCache::wantGzip): re-compressing every changed snapshot on every edge each second
// cost the opening day's edges more CPU than serving it.
struct CachedSnapshot {
  std::string name;
  bool not_found = false;  // origin says there is no such snapshot: 404 (cached briefly)
  uint64_t version = 0;
  int64_t created_unix_ms = 0;
  uint32_t max_age_s = 0;
  std::string etag;  // quoted: "\"v123\""
  std::string content_type;
  std::string identity;
  std::string zstd;  // empty when the publisher stored it uncompressed
  std::string gzip;  // empty until wanted (see above)
  // What a CDN purges it by (cache_tags.h): its own tag, its clinic's and its region's.
  std::vector<std::string> tags;
};

struct SnapshotLookup {
  std::shared_ptr<const CachedSnapshot> snapshot;
  int64_t age_s = 0;   // since memcached last confirmed this version
  bool stale = false;  // age beyond the snapshot's max-age
};

class SnapshotCache {
 public:
  struct Options {
    std::chrono::milliseconds refresh_interval{1000};
    std::chrono::seconds stale_if_error{300};  // serve a stale snapshot this long past max-age
    std::chrono::seconds idle_evict{60};       // a snapshot nobody asked for this long is dropped
    size_t max_waiting = 10000;                // parked requests, all names together
    size_t batch = 256;                        // keys per multi-get
    std::chrono::milliseconds gap_report_interval{500};
  };

  SnapshotCache(cache::MemcachedOptions memcached, cache::Keyring keyring, Options options,
                base::MetricsRegistry& metrics);
  ~SnapshotCache();
  // Creates the refresher's memcached handle and starts it, prefetching `warm` names.
  base::Result<base::Done, std::string> start(std::vector<std::string> warm);
  void stop();
  void setKeyring(cache::Keyring keyring);  // SIGHUP: rotated keys
  void setOptions(Options options);

  // Any thread. A servable snapshot (fresh, or stale within the bound) or a recent not-found;
  // nullopt: not in L1 (or too old to serve) - call waitFor.
  std::optional<SnapshotLookup> get(const std::string& name);

  // Worker thread. `done` runs later on that worker: with a lookup, or nullopt when memcached
  // could not be read and nothing servable is cached. False when the waiting list is full (shed
  // the request now).
  using Waiter = std::function<void(std::optional<SnapshotLookup>)>;
  bool waitFor(const std::string& name, http::Worker& worker, Waiter done);

  // Any thread, never blocks for long. A client that takes gzip but not zstd asked for `name`
  // and the version held has no gzip: the refresher makes it at once (that client got identity)
  // and for every new version of `name` until nobody asked for a while.
  void wantGzip(const std::string& name);

  // Has the refresher read memcached successfully within the last stale bound, and does it hold
  // origin's catalog and the regions list (so that everything the catalog lists was published)?
  bool ready() const;

  // Known: origin's catalog lists it. Unknown: the catalog does not (404). Undecided: no catalog
  // yet (a fresh edge, or one that never reached memcached).
  enum class Known { kYes, kNo, kUndecided };
  Known known(const std::string& name) const;

  // Called on the refresher thread with a report of names that are gaps (known, not in
  // memcached; each at most once per `gap_report_interval`), signed with the snapshot keys. It
  // must not block (post the report to a loop).
  using GapReporter = std::function<void(cache::SignedGapReport)>;
  void setGapReporter(GapReporter reporter);

 private:
  struct Slot {
    std::shared_ptr<const CachedSnapshot> snapshot;  // guarded by the shard's mutex
    std::atomic<int64_t> confirmed_ms{0};            // memcached last said this is current
    std::atomic<int64_t> used_ms{0};
    std::atomic<int64_t> gzip_wanted_ms{0};  // a gzip-only client last asked (0: never)
  };
  struct Shard {
    mutable std::shared_mutex mutex;
    std::unordered_map<std::string, std::shared_ptr<Slot>> slots;
  };
  struct Parked {
    http::Worker* worker;
    Waiter done;
  };

  Shard& shardOf(const std::string& name);
  const Shard& shardOf(const std::string& name) const;
  std::optional<SnapshotLookup> lookupSlot(const Slot& slot,
                                           const std::shared_ptr<const CachedSnapshot>& snap,
                                           int64_t now_ms) const;
  void loop();
  // Reads `names` from memcached and answers their waiters. With `unanswered`, a name memcached
  // did not answer for (an error, or a server missing from a partial batch) goes there instead,
  // its waiters still parked, for one more try.
  void fetch(const std::vector<std::string>& names, std::vector<std::string>* unanswered = nullptr);
  // Counts a read memcached did not answer in full, and says so in the log at most once a second.
  void memcachedFailed(const std::string& what, int64_t now_ms);
  void install(const std::string& name, std::shared_ptr<const CachedSnapshot> snap, int64_t now_ms);
  // A 404 for `name` from now on (origin said so).
  void markNotFound(const std::string& name, int64_t now_ms);
  // `name` is not in memcached: unknown (404), or a gap to report (the copy held stays).
  void missing(const std::string& name, int64_t now_ms);
  bool holds(const std::string& name) const;
  // Parses an installed "catalog" snapshot into catalog_.
  void learnCatalog(const CachedSnapshot& snap);
  void reportGaps();
  void wake(const std::string& name);
  std::vector<std::string> namesInUse(int64_t now_ms);

  cache::MemcachedOptions memcached_options_;
  std::unique_ptr<cache::MemcachedClient> memcached_;  // refresher thread only
  std::mutex keyring_mutex_;
  cache::Keyring keyring_;
  std::mutex options_mutex_;  // refresher settings
  Options options_;
  std::atomic<int64_t> stale_if_error_ms_;  // read on every hit: no lock
  std::atomic<size_t> max_waiting_;
  static constexpr size_t kShards = 16;
  Shard shards_[kShards];

  std::mutex mutex_;  // parked requests and the urgent list
  std::condition_variable wake_;
  std::unordered_map<std::string, std::vector<Parked>> parked_;
  std::vector<std::string> urgent_;
  size_t parked_count_ = 0;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<int64_t> last_success_ms_{0};

  mutable std::mutex catalog_mutex_;
  std::shared_ptr<const cache::CatalogNames> catalog_;  // origin's catalog, once read
  GapReporter gap_reporter_;                            // set before start()
  // Refresher thread only: gaps found in this pass, and when each name was last reported.
  std::vector<std::string> gaps_;
  std::unordered_map<std::string, int64_t> gap_reported_ms_;
  int64_t memcached_failure_logged_ms_ = 0;

  base::Counter& hits_;
  base::Counter& stale_hits_;
  base::Counter& misses_;
  base::Counter& coalesced_;
  base::Counter& shed_;
  base::Counter& memcached_gets_;
  base::Counter& memcached_errors_;
  base::Counter& verify_failures_;
  base::Counter& updates_;
  base::Counter& unknown_;
  base::Counter& gaps_reported_;
  base::Gauge& entries_;
};

}  // namespace surge::edge
