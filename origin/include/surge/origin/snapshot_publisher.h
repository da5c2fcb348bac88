// SnapshotPublisher: keeps memcached's snapshots in step with the store, with the clock, and with
// what edges find missing.
//
// Every committed change marks its clinic/{id} and region/{code} snapshots (leaf and 시/도) dirty.
// Each dirty snapshot has its own deadline: it is rebuilt, compressed, signed and written a hold
// after its first mark (so a burst costs one rebuild per snapshot, not one per booking), and the
// changes that come meanwhile ride along. The hold is `coalesce` normally and `busy_target` when
// many snapshots are dirty (the booking peak): rebuilding every clinic less often is most of what
// the publisher saves there. Deadlines, not passes: a pass design rebuilt everything dirty every
// ~150 ms to keep its worst case (the wait plus the whole pass) under 250 ms, where a deadline is
// its own worst case plus the few milliseconds of one snapshot. With the defaults a change is in
// memcached within 250 ms of its commit. Snapshots that could not be written (memcached down)
// stay dirty and are retried.
//
// Time moves on: snapshots show only slots that have not begun in the catalog's zone. When a
// slot's start comes, its clinic and regions are marked dirty; at local midnight everything is
// republished (every date list moves).
//
// Versions mean change: a snapshot keeps its version (and so its ETag) for as long as its
// content is the same; a full publish that changes nothing rewrites memcached with the same
// versions, and conditional requests keep hitting.
//
// Gaps: edges report snapshots they know to exist (the "catalog" snapshot lists them) and did not
// find in memcached; they are republished at once. "catalog" itself goes out last in each full
// publish, so an edge holding it knows every name in it was published at least once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "surge/base/metrics.h"
#include "surge/cache/keyring.h"
#include "surge/cache/memcached_client.h"
#include "surge/origin/booking_writer.h"

namespace surge::origin {

class SnapshotPublisher {
 public:
  struct Options {
    std::chrono::milliseconds coalesce{40};
    // Under load (busy_threshold or more snapshots dirty) a snapshot is rebuilt this long after
    // its first change instead: the 250 ms bound less room for the rebuild and for a publisher
    // thread that waits for a core.
    std::chrono::milliseconds busy_target{200};
    size_t busy_threshold = 256;  // dirty snapshots that count as "under load"
    std::chrono::milliseconds retry_after_error{500};
    uint32_t max_age_s = 2;          // what edges put in Cache-Control
    int zstd_level = 1;              // rebuilt often: speed over the last few percent of size
    int64_t version_block = 100000;  // versions reserved in the store at a time
    // Several origins on one store: versions are values of one shared sequence, `n` at a time,
    // drawn in each publishing pass when its first changed snapshot needs one, never kept past it,
    // so a version is always drawn after every change its content holds and versions grow across
    // origins in the order they were drawn: each origin's last publish of a snapshot, made after it
    // heard the last change, carries the highest version. Unset: blocks reserved in the store.
    std::function<base::Result<std::vector<int64_t>, std::string>(size_t n)> shared_versions;
    // Everything is republished this often even without changes: memcached may have evicted a
    // key, or restarted empty, and edges must find every snapshot again. 0: never.
    std::chrono::seconds full_publish_interval{60};
    // A name reported missing is republished at most this often, however many edges report it.
    std::chrono::milliseconds gap_interval{500};
    // The wall clock (Unix ms): which slots have begun, and generated_at. Tests move it.
    std::function<int64_t()> clock;
    // Names of snapshots just written with a new version (content that changed since this process
    // last wrote them), on the publisher thread; must not block. The CDN purger's (cdn_purger.h).
    std::function<void(const std::vector<std::string>& names)> changed;
  };

  // What a full publish did (surgectl publish prints it).
  struct Report {
    size_t regions = 0;  // region/{code} snapshots, plus the regions list
    size_t clinics = 0;
    size_t named = 0;
    size_t changed = 0;  // of them, with a new version (content that changed)
    size_t failed = 0;   // not written (memcached down): retried
    double seconds = 0;
    std::string json() const;
  };

  SnapshotPublisher(cache::MemcachedClientPtr memcached, cache::Keyring keyring,
                    BookingWriter& writer, base::MetricsRegistry& metrics, Options options);
  ~SnapshotPublisher();

  // Reserves the first block of versions (through the writer), then starts the thread with a
  // full publish.
  base::Result<base::Done, std::string> start();
  void stop();

  // Writer thread, after a commit.
  void slotsChanged(const std::vector<SlotChange>& changes);
  // Everything: regions, every region and clinic, every named snapshot, then "catalog". `done`
  // (optional) gets the report of the full publish that begins after this call, on the
  // publisher thread; it must not block.
  void requestFullPublish(std::function<void(const Report&)> done = nullptr);
  // Writer thread only (inside an ExclusiveJob, given its store): loads the store's catalog,
  // installs it as the writer's and publishes everything. After an import here, or one another
  // origin made (SlotFollower).
  base::Result<base::Done, std::string> reloadCatalog(BookingStore& store);
  // Snapshot names an edge did not find in memcached. The ones that exist are republished now
  // (at most once per gap_interval each); returns how many that is.
  size_t fillGaps(const std::vector<std::string>& names);
  // Has a full publish written everything the catalog lists since this process started?
  bool fullyPublished() const { return fully_published_.load(std::memory_order_acquire); }

  // Operator snapshots, run on the publisher thread. A push is sealed first; when the sealed value
  // would not fit in a memcached item nothing is stored (413), else it is stored durably, then
  // written to memcached. `done` gets an HTTP status and a JSON body; it must not block.
  using Done = std::function<void(int status, std::string body)>;
  void pushNamed(NamedSnapshot snapshot, Done done);
  void removeNamed(std::string name, Done done);

 private:
  // What to publish next.
  struct Dirty {
    std::unordered_set<int64_t> clinics;
    std::unordered_set<std::string> regions;
    std::unordered_set<std::string> named;
    bool regions_list = false;
    bool catalog = false;
    bool all = false;
  };
  // The first change of a dirty snapshot.
  struct Mark {
    enum Kind { kClinic, kRegion, kRegionsList, kNamed, kCatalog } kind;
    int64_t clinic = 0;
    std::string name;  // region code or named snapshot
    std::chrono::steady_clock::time_point at;
  };
  // The version a snapshot's content was published under, kept while the content stays.
  struct Stamp {
    size_t digest = 0;
    size_t size = 0;
    uint64_t version = 0;
    int64_t generated_ms = 0;
  };
  // Today's slot starts (local minute, clinic), for the marks time makes.
  struct Today {
    const CatalogIndex* index = nullptr;
    CatalogIndexPtr held;  // keeps `index` alive
    int32_t day = INT32_MIN;
    std::vector<std::pair<int16_t, int64_t>> starts;  // sorted
    size_t next = 0;                                  // the first start still to come
  };

  void loop();
  void post(std::function<void()> task);
  // Publisher thread, outside the lock: the marks the clock makes now, and when it makes the
  // next ones. A new day asks for a full publish.
  std::chrono::steady_clock::time_point watchTheClock();
  void markLocked(Mark mark);
  // The mark for a snapshot name ("clinic/7", "region/11", "named/x", "regions", "catalog"), or
  // nullopt for a name that is not ours (mutex_ held: operator names are read).
  std::optional<Mark> markOfLocked(const CatalogIndex& index, std::string_view name,
                                   std::chrono::steady_clock::time_point at) const;
  void markClinicLocked(const CatalogIndex& index, int64_t clinic_id,
                        std::chrono::steady_clock::time_point at);
  base::Result<uint64_t, std::string> writeNamed(const NamedSnapshot& snapshot);
  // Hands names written with a new version to options_.changed.
  void announce(const std::vector<std::string>& names);
  uint64_t nextVersion();
  // The version and generated_at for `name` with this content: the same as last time when the
  // content is the same, else a new version stamped `now_ms` (and `changed` set).
  Stamp stamp(const std::string& name, std::string_view content, int64_t now_ms,
              bool* changed = nullptr);
  // Sealed (zstd, signed) with this process's keys; counted in snapshot_bytes_.
  base::Result<std::string, std::string> seal(const std::string& body,
                                              const std::string& content_type, uint64_t version,
                                              int64_t now_ms);
  // Writes sealed snapshots; returns the keys not written. With several origins on one store, a
  // snapshot is never written over a newer version of it in memcached (another origin's, drawn
  // after ours): an older version there would hide the other origin's change from edges that do
  // not hold it yet.
  std::vector<std::string> write(const std::vector<std::pair<std::string, std::string>>& sealed);
  base::Result<base::Done, cache::CacheError> put(const std::string& name, const std::string& body,
                                                  const std::string& content_type,
                                                  const Stamp& stamp);
  Report publishDirty(Dirty dirty);
  // Shared versions: draws `n` for the rest of the pass (failures: logged, the next need retries).
  void drawSharedVersions(size_t n);
  // The "catalog" snapshot; false when it could not be written.
  bool publishCatalog(const CatalogIndex& index);
  base::Result<std::vector<NamedSnapshot>, std::string> loadNamed();
  int64_t now() const { return options_.clock(); }

  cache::MemcachedClientPtr memcached_;
  cache::Keyring keyring_;
  BookingWriter& writer_;
  Options options_;

  mutable std::mutex mutex_;  // guards the marks and flags below
  std::condition_variable wake_;
  std::deque<Mark> marks_;  // oldest first, one per dirty snapshot
  std::unordered_set<int64_t> dirty_clinics_;
  std::unordered_set<std::string> dirty_regions_;
  std::unordered_set<std::string> dirty_named_;
  bool dirty_regions_list_ = false;
  bool dirty_catalog_ = false;
  bool dirty_all_ = false;
  std::vector<std::function<void(const Report&)>> full_publish_waiters_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> gap_filled_;
  std::set<std::string> named_names_;  // operator snapshots in the store
  std::chrono::steady_clock::time_point all_marked_{};
  std::chrono::steady_clock::time_point last_full_{};
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::atomic<bool> fully_published_{false};

  // Publisher thread only (after start()).
  uint64_t next_version_ = 0;
  uint64_t version_limit_ = 0;
  std::deque<uint64_t> shared_pool_;  // shared versions drawn for the current pass
  size_t shared_wanted_ = 1;          // how many the current pass may need (drawn on first need)
  std::unordered_map<std::string, Stamp> stamps_;
  Today today_;
  bool writes_failed_ = false;  // the last pass failed to write some snapshots
  // Changed snapshots whose write failed: CDNs are told once a later pass writes them (that pass
  // finds their content unchanged). Publisher thread only.
  std::unordered_set<std::string> unannounced_;
  std::thread thread_;

  base::Counter& published_;
  base::Counter& publish_errors_;
  base::Counter& versions_kept_;
  base::Counter& superseded_;
  base::Counter& gaps_filled_;
  base::Histogram& publish_delay_;
  base::Histogram& snapshot_bytes_;
};

}  // namespace surge::origin
