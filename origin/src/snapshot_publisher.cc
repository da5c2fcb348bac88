#include "surge/origin/snapshot_publisher.h"
#include "surge/origin/calendar.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <future>

#include "surge/cache/snapshot_envelope.h"
#include "surge/cache/snapshot_names.h"
#include "surge/origin/json_text.h"
#include "surge/origin/snapshot_builder.h"

namespace surge::origin {
namespace {

using Clock = std::chrono::steady_clock;

// Snapshots due within this much go out together: a few milliseconds early, in one memcached
// round trip, instead of one wake-up per deadline under a steady stream of changes.
constexpr std::chrono::milliseconds kSlack{5};

}  // namespace

SnapshotPublisher::SnapshotPublisher(cache::MemcachedClientPtr memcached, cache::Keyring keyring,
                                     BookingWriter& writer, cache::MetricsRegistry& metrics,
                                     Options options)
    : memcached_(std::move(memcached)),
      keyring_(std::move(keyring)),
      writer_(writer),
      options_(options),
      published_(metrics.counter("surge_origin_snapshots_published_total",
                                 "Snapshots sealed and written to memcached")),
      publish_errors_(metrics.counter("surge_origin_snapshot_publish_errors_total",
                                      "Snapshot writes that failed (retried)")),
      publish_delay_(metrics.histogram("surge_origin_publish_delay_seconds",
                                       "From the first change of a batch to its snapshots "
                                       "being in memcached",
                                       cache::latencyBuckets())),
      snapshot_bytes_(metrics.histogram("surge_origin_snapshot_bytes", "Sealed snapshot size",
                                        {1024, 4096, 16384, 65536, 262144, 1048576})) {}

SnapshotPublisher::~SnapshotPublisher() {
  stop();
}

uint64_t SnapshotPublisher::nextVersion() {
  if (next_version_ >= version_limit_) {
    // Reserve the next block durably before using any of it, so versions never repeat or go
    // back after a restart.
    std::promise<cache::Result<int64_t, std::string>> reserved;
    auto future = reserved.get_future();
    writer_.runExclusive([&](BookingStore& store) {
      reserved.set_value(store.reserveCounter("snapshot_version", options_.version_block));
    });
    auto r = future.get();
    if (!r) {
      std::fprintf(stderr, "surge-origin: cannot reserve snapshot versions: %s\n",
                   r.error().c_str());
      return 0;
    }
    next_version_ = static_cast<uint64_t>(r.value()) + 1;
    version_limit_ = static_cast<uint64_t>(r.value() + options_.version_block) + 1;
  }
  return next_version_++;
}

cache::Result<cache::Done, std::string> SnapshotPublisher::start() {
  if (nextVersion() == 0) return cache::fail(std::string("cannot reserve snapshot versions"));
  requestFullPublish();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "publisher");
    // Bookings come first: the publisher yields the CPU to the writer and the HTTP loops and
    // catches up in bigger coalesced passes when they are busy.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 5);
    loop();
  });
  return cache::Done{};
}

void SnapshotPublisher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SnapshotPublisher::markLocked(Mark mark) {
  if (mark.clinic != 0) {
    if (!dirty_clinics_.insert(mark.clinic).second) return;
  } else if (!mark.region.empty()) {
    if (!dirty_regions_.insert(mark.region).second) return;
  } else {
    if (dirty_regions_list_) return;
    dirty_regions_list_ = true;
  }
  bool was_clean = marks_.empty();
  marks_.push_back(std::move(mark));
  // Later marks never come due before the first one: only the first needs the thread awake.
  if (was_clean) wake_.notify_one();
}

void SnapshotPublisher::slotsChanged(const std::vector<SlotChange>& changes) {
  CatalogIndexPtr index = writer_.catalog();
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  for (const SlotChange& change : changes) {
    const IndexedSlot* slot = index->slotById(change.slot_id);
    if (slot == nullptr) continue;
    const Clinic* clinic = index->clinic(slot->clinic_id);
    if (clinic == nullptr) continue;
    markLocked(Mark{clinic->id, {}, false, now});
    markLocked(Mark{0, clinic->region, false, now});
    if (const Region* leaf = index->region(clinic->region); leaf && !leaf->parent.empty()) {
      markLocked(Mark{0, leaf->parent, false, now});
    }
  }
}

void SnapshotPublisher::requestFullPublish() {
  std::lock_guard lock(mutex_);
  if (!dirty_all_) all_marked_ = Clock::now();
  dirty_all_ = true;
  wake_.notify_one();
}

cache::Result<cache::Done, cache::CacheError> SnapshotPublisher::put(
    const std::string& name, const std::string& body, const std::string& content_type,
    uint64_t version) {
  cache::SnapshotFields fields;
  fields.version = version;
  fields.created_unix_ms = unixNowMs();
  fields.max_age_s = options_.max_age_s;
  fields.content_type = content_type;
  auto sealed = cache::sealSnapshot(keyring_, fields, body, cache::BodyEncoding::kZstd, {},
                                    options_.zstd_level);
  if (!sealed)
    return cache::fail(cache::CacheError{cache::CacheErrorKind::kTooLarge, sealed.error()});
  snapshot_bytes_.observe(static_cast<double>(sealed->size()));
  auto r = memcached_->set(cache::snapshotKey(name), sealed.value());
  if (r) {
    published_.add();
  } else {
    publish_errors_.add();
  }
  return r;
}

void SnapshotPublisher::loop() {
  while (true) {
    std::unordered_set<int64_t> clinics;
    std::unordered_set<std::string> regions;
    bool all = false;
    bool regions_list = false;
    Clock::time_point oldest;
    {
      std::unique_lock lock(mutex_);
      Clock::duration hold{};
      while (true) {
        if (stopping_ || !tasks_.empty() || dirty_all_) break;
        const auto now = Clock::now();
        const bool periodic = options_.full_publish_interval.count() > 0;
        if (periodic && now >= last_full_ + options_.full_publish_interval) {
          dirty_all_ = true;
          all_marked_ = now;
          break;
        }
        auto until =
            periodic ? last_full_ + options_.full_publish_interval : Clock::time_point::max();
        if (!marks_.empty()) {
          hold = marks_.size() >= options_.busy_threshold ? Clock::duration(options_.busy_target)
                                                          : Clock::duration(options_.coalesce);
          if (marks_.front().at + hold <= now + kSlack) break;
          until = std::min(until, marks_.front().at + hold);
        }
        if (until == Clock::time_point::max()) {
          wake_.wait(lock);
        } else {
          wake_.wait_until(lock, until);
        }
      }
      if (stopping_) return;
      if (!tasks_.empty()) {
        // Operator requests go first: they are few and someone is waiting on them.
        std::function<void()> task = std::move(tasks_.front());
        tasks_.pop_front();
        lock.unlock();
        task();
        continue;
      }
      if (dirty_all_) {
        // Everything: what was marked goes out with it.
        all = regions_list = true;
        oldest = marks_.empty() ? all_marked_ : std::min(all_marked_, marks_.front().at);
        marks_.clear();
        dirty_clinics_.clear();
        dirty_regions_.clear();
        dirty_regions_list_ = false;
        dirty_all_ = false;
        last_full_ = Clock::now();
      } else {
        // Every snapshot whose hold is over; the ones still held wait for their own deadline.
        const auto now = Clock::now();
        oldest = marks_.front().at;
        while (!marks_.empty() && marks_.front().at + hold <= now + kSlack) {
          Mark& m = marks_.front();
          if (m.clinic != 0) {
            dirty_clinics_.erase(m.clinic);
            clinics.insert(m.clinic);
          } else if (!m.region.empty()) {
            dirty_regions_.erase(m.region);
            regions.insert(std::move(m.region));
          } else {
            dirty_regions_list_ = false;
            regions_list = true;
          }
          marks_.pop_front();
        }
      }
    }
    publishDirty(std::move(clinics), std::move(regions), all, regions_list);
    publish_delay_.observe(std::chrono::duration<double>(Clock::now() - oldest).count());
  }
}

void SnapshotPublisher::publishDirty(std::unordered_set<int64_t> clinics,
                                     std::unordered_set<std::string> regions, bool all,
                                     bool regions_list) {
  CatalogIndexPtr index = writer_.catalog();
  if (all) {
    clinics.clear();
    regions.clear();
    for (const Clinic& c : index->clinics())
      clinics.insert(c.id);
    for (const Region& r : index->regions())
      regions.insert(r.code);
  }
  std::unordered_set<int64_t> failed_clinics;
  std::unordered_set<std::string> failed_regions;
  bool failed_list = false;

  // Sealed snapshots go out in pipelined batches (one round trip per server per batch); what
  // memcached did not store is marked dirty again.
  std::vector<std::pair<std::string, std::string>> batch;
  size_t batch_bytes = 0;
  const size_t prefix = cache::snapshotKey("").size();
  auto flush = [&] {
    if (batch.empty()) return;
    std::vector<std::string> failed = memcached_->setMany(batch);
    published_.add(batch.size() - failed.size());
    publish_errors_.add(failed.size());
    for (const std::string& key : failed) {
      std::string_view name = std::string_view(key).substr(prefix);
      if (name == "regions") {
        failed_list = true;
      } else if (name.substr(0, 7) == "region/") {
        failed_regions.emplace(name.substr(7));
      } else if (name.substr(0, 7) == "clinic/") {
        failed_clinics.insert(std::strtoll(std::string(name.substr(7)).c_str(), nullptr, 10));
      }
    }
    batch.clear();
    batch_bytes = 0;
  };
  auto add = [&](const std::string& name, const std::string& body, uint64_t version) {
    cache::SnapshotFields fields;
    fields.version = version;
    fields.created_unix_ms = unixNowMs();
    fields.max_age_s = options_.max_age_s;
    auto sealed = cache::sealSnapshot(keyring_, fields, body, cache::BodyEncoding::kZstd, {},
                                      options_.zstd_level);
    if (!sealed) {
      publish_errors_.add();
      std::fprintf(stderr, "surge-origin: %s: %s\n", name.c_str(), sealed.error().c_str());
      return;
    }
    snapshot_bytes_.observe(static_cast<double>(sealed->size()));
    batch_bytes += sealed->size();
    batch.emplace_back(cache::snapshotKey(name), std::move(sealed.value()));
    if (batch.size() >= 512 || batch_bytes >= (4u << 20)) flush();
  };

  if (regions_list) {
    uint64_t v = nextVersion();
    add("regions", buildRegionsSnapshot(*index, v, unixNowMs()), v);
  }
  for (const std::string& code : regions) {
    const Region* region = index->region(code);
    if (region == nullptr) continue;
    uint64_t v = nextVersion();
    add("region/" + code, buildRegionSnapshot(*index, *region, v, unixNowMs()), v);
  }
  for (int64_t id : clinics) {
    const Clinic* clinic = index->clinic(id);
    if (clinic == nullptr) continue;
    uint64_t v = nextVersion();
    add("clinic/" + std::to_string(id), buildClinicSnapshot(*index, *clinic, v, unixNowMs()), v);
  }
  flush();
  bool cache_down = !failed_clinics.empty() || !failed_regions.empty() || failed_list;
  if (all && !cache_down) {
    std::promise<cache::Result<std::vector<NamedSnapshot>, std::string>> listed;
    auto future = listed.get_future();
    writer_.runExclusive([&](BookingStore& store) { listed.set_value(store.namedSnapshots()); });
    auto named = future.get();
    if (named) {
      for (const NamedSnapshot& s : named.value()) {
        if (!writeNamed(s)) cache_down = true;
      }
    }
  }

  if (cache_down) {
    // Put back what did not make it and try again after a pause (memcached may be restarting).
    std::unique_lock lock(mutex_);
    if (all) {
      if (!dirty_all_) all_marked_ = Clock::now();
      dirty_all_ = true;
    } else {
      // Marked now (the marks stay in time order) and due after the pause below.
      const auto now = Clock::now();
      for (int64_t id : failed_clinics)
        markLocked(Mark{id, {}, false, now});
      for (const std::string& code : failed_regions)
        markLocked(Mark{0, code, false, now});
      if (failed_list) markLocked(Mark{0, {}, true, now});
    }
    wake_.wait_for(lock, options_.retry_after_error, [&] { return stopping_; });
  }
}

void SnapshotPublisher::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

cache::Result<uint64_t, std::string> SnapshotPublisher::writeNamed(const NamedSnapshot& s) {
  uint64_t v = nextVersion();
  if (v == 0) return cache::fail(std::string("cannot reserve a snapshot version"));
  auto r = put("named/" + s.name, s.body, s.content_type, v);
  if (!r) return cache::fail(r.error().message);
  return v;
}

void SnapshotPublisher::pushNamed(NamedSnapshot snapshot, Done done) {
  post([this, s = std::move(snapshot), done = std::move(done)] {
    // Refuse before storing anything: a snapshot memcached cannot hold is useless to edges.
    cache::SnapshotFields fields;
    fields.content_type = s.content_type;
    fields.version = UINT64_MAX;
    auto sealed = cache::sealSnapshot(keyring_, fields, s.body, cache::BodyEncoding::kZstd);
    if (!sealed) return done(413, jsonError("too_large", sealed.error()));
    auto fits = memcached_->checkFits(cache::snapshotKey("named/" + s.name), sealed->size());
    if (!fits) return done(413, jsonError("too_large", fits.error().message));

    std::promise<cache::Result<cache::Done, std::string>> stored;
    auto future = stored.get_future();
    writer_.runExclusive([&](BookingStore& store) { stored.set_value(store.putNamedSnapshot(s)); });
    auto r = future.get();
    if (!r) return done(503, jsonError("store_unavailable", r.error()));
    auto written = writeNamed(s);
    if (!written) {
      // Stored: the next full publish (or a retry of this push) writes it.
      return done(502, jsonError("memcached_unavailable",
                                 "stored, but not written to memcached: " + written.error()));
    }
    std::string body = "{\"name\":";
    appendJsonString(body, s.name);
    body += ",\"version\":" + std::to_string(written.value()) +
            ",\"bytes\":" + std::to_string(s.body.size()) +
            ",\"sealed_bytes\":" + std::to_string(sealed->size()) + "}";
    done(200, std::move(body));
  });
}

void SnapshotPublisher::removeNamed(std::string name, Done done) {
  post([this, name = std::move(name), done = std::move(done)] {
    std::promise<cache::Result<bool, std::string>> removed;
    auto future = removed.get_future();
    writer_.runExclusive(
        [&](BookingStore& store) { removed.set_value(store.removeNamedSnapshot(name)); });
    auto r = future.get();
    if (!r) return done(503, jsonError("store_unavailable", r.error()));
    const std::string key = cache::snapshotKey("named/" + name);
    if (!r.value()) {
      // Not in the store: only a snapshot live in memcached (not yet a tombstone) is removed.
      auto held = memcached_->get(key);
      bool live = false;
      if (held.ok() && held->has_value()) {
        auto opened = cache::openSnapshot(keyring_, **held);
        live = !opened.ok() || opened->content_type != cache::kRemovedContentType;
      }
      if (held.ok() && !live) return done(404, jsonError("not_found", "no snapshot named " + name));
    }
    // A tombstone rather than a delete: edges re-read the names in use, see it, and answer 404 at
    // once instead of serving their copy as stale for as long as stale-if-error allows.
    uint64_t v = nextVersion();
    if (v == 0) return done(503, jsonError("store_unavailable", "cannot reserve a version"));
    auto written = put("named/" + name, "", std::string(cache::kRemovedContentType), v);
    if (!written) {
      return done(
          502, jsonError("memcached_unavailable",
                         "removed from the store, not from memcached: " + written.error().message));
    }
    done(204, "");
  });
}

}  // namespace surge::origin
