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

void SnapshotPublisher::slotsChanged(const std::vector<SlotChange>& changes) {
  CatalogIndexPtr index = writer_.catalog();
  std::lock_guard lock(mutex_);
  bool was_clean = dirty_clinics_.empty() && dirty_regions_.empty() && !dirty_all_;
  for (const SlotChange& change : changes) {
    const IndexedSlot* slot = index->slotById(change.slot_id);
    if (slot == nullptr) continue;
    const Clinic* clinic = index->clinic(slot->clinic_id);
    if (clinic == nullptr) continue;
    dirty_clinics_.insert(clinic->id);
    dirty_regions_.insert(clinic->region);
    if (const Region* leaf = index->region(clinic->region); leaf && !leaf->parent.empty()) {
      dirty_regions_.insert(leaf->parent);
    }
  }
  if (was_clean) {
    first_mark_ = Clock::now();
    wake_.notify_one();
  }
}

void SnapshotPublisher::requestFullPublish() {
  std::lock_guard lock(mutex_);
  if (!dirty_all_ && dirty_clinics_.empty() && dirty_regions_.empty()) first_mark_ = Clock::now();
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
    Clock::time_point marked;
    {
      std::unique_lock lock(mutex_);
      auto work = [&] {
        return stopping_ || !tasks_.empty() || dirty_all_ || !dirty_clinics_.empty() ||
               !dirty_regions_.empty();
      };
      if (options_.full_publish_interval.count() > 0) {
        if (!wake_.wait_until(lock, last_full_ + options_.full_publish_interval, work)) {
          dirty_all_ = true;
          first_mark_ = Clock::now();
        }
      } else {
        wake_.wait(lock, work);
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
      // Coalesce: everything that changes during this short wait goes out in the same pass.
      auto wait = std::chrono::duration_cast<Clock::duration>(options_.coalesce);
      if (dirty_all_ || dirty_clinics_.size() + dirty_regions_.size() >= options_.busy_threshold) {
        wait = std::max(
            wait, std::chrono::duration_cast<Clock::duration>(options_.busy_target) - last_pass_);
      }
      wake_.wait_until(lock, first_mark_ + wait, [&] { return stopping_; });
      if (stopping_) return;
      clinics.swap(dirty_clinics_);
      regions.swap(dirty_regions_);
      all = dirty_all_;
      if (all) last_full_ = Clock::now();
      regions_list = dirty_regions_list_ || all;
      dirty_all_ = false;
      dirty_regions_list_ = false;
      marked = first_mark_;
    }
    auto pass_start = Clock::now();
    publishDirty(std::move(clinics), std::move(regions), all, regions_list);
    last_pass_ = Clock::now() - pass_start;
    publish_delay_.observe(std::chrono::duration<double>(Clock::now() - marked).count());
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
      dirty_all_ = true;
    } else {
      dirty_clinics_.insert(failed_clinics.begin(), failed_clinics.end());
      dirty_regions_.insert(failed_regions.begin(), failed_regions.end());
      dirty_regions_list_ = dirty_regions_list_ || failed_list;
    }
    first_mark_ = Clock::now() + options_.retry_after_error;
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
