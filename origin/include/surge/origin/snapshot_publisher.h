// SnapshotPublisher: keeps memcached's snapshots in step with the store.
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
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include "surge/cache/keyring.h"
#include "surge/cache/memcached_client.h"
#include "surge/cache/metrics.h"
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
    // Everything is republished this often even without changes: memcached may have evicted a
    // key, or restarted empty, and edges must find every snapshot again. 0: never.
    std::chrono::seconds full_publish_interval{60};
  };

  SnapshotPublisher(cache::MemcachedClientPtr memcached, cache::Keyring keyring,
                    BookingWriter& writer, cache::MetricsRegistry& metrics, Options options);
  ~SnapshotPublisher();

  // Reserves the first block of versions (through the writer), then starts the thread with a
  // full publish.
  cache::Result<cache::Done, std::string> start();
  void stop();

  // Writer thread, after a commit.
  void slotsChanged(const std::vector<SlotChange>& changes);
  // Everything: regions, every region and clinic, every named snapshot.
  void requestFullPublish();

  // Operator snapshots, run on the publisher thread. A push is sealed first; when the sealed value
  // would not fit in a memcached item nothing is stored (413), else it is stored durably, then
  // written to memcached. `done` gets an HTTP status and a JSON body; it must not block.
  using Done = std::function<void(int status, std::string body)>;
  void pushNamed(NamedSnapshot snapshot, Done done);
  void removeNamed(std::string name, Done done);

 private:
  void loop();
  void post(std::function<void()> task);
  cache::Result<uint64_t, std::string> writeNamed(const NamedSnapshot& snapshot);
  uint64_t nextVersion();
  cache::Result<cache::Done, cache::CacheError> put(const std::string& name,
                                                    const std::string& body,
                                                    const std::string& content_type,
                                                    uint64_t version);
  void publishDirty(std::unordered_set<int64_t> clinics, std::unordered_set<std::string> regions,
                    bool all, bool regions_list);

  cache::MemcachedClientPtr memcached_;
  cache::Keyring keyring_;
  BookingWriter& writer_;
  Options options_;

  // The first change of a dirty snapshot: a clinic (id; ids start at 1, so 0 is none), a region
  // (code) or the regions list.
  struct Mark {
    int64_t clinic = 0;
    std::string region;
    bool regions_list = false;
    std::chrono::steady_clock::time_point at;
  };
  void markLocked(Mark mark);

  mutable std::mutex mutex_;  // guards the marks and flags below
  std::condition_variable wake_;
  std::deque<Mark> marks_;  // oldest first, one per dirty snapshot
  std::unordered_set<int64_t> dirty_clinics_;
  std::unordered_set<std::string> dirty_regions_;
  bool dirty_regions_list_ = false;
  bool dirty_all_ = false;
  std::chrono::steady_clock::time_point all_marked_{};
  std::chrono::steady_clock::time_point last_full_{};
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;

  // Publisher thread only (after start()).
  uint64_t next_version_ = 0;
  uint64_t version_limit_ = 0;
  std::thread thread_;

  cache::Counter& published_;
  cache::Counter& publish_errors_;
  cache::Histogram& publish_delay_;
  cache::Histogram& snapshot_bytes_;
};

}  // namespace surge::origin
