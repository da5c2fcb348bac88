#include "surge/edge/snapshot_cache.h"

#include "surge/edge/gzip_filter.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <functional>

#include "surge/cache/cache_tags.h"
#include "surge/cache/snapshot_envelope.h"
#include "surge/cache/snapshot_names.h"

namespace surge::edge {
namespace {

// Before a read memcached did not answer is asked again: long enough for a stalled server to be
// scheduled, short beside the 1 s Retry-After a waiter would otherwise get.
constexpr std::chrono::milliseconds kUnansweredRetryPause(20);

// The tags of cache_tags.h: a clinic's region is read from its body ("region":"CODE").
std::vector<std::string> snapshotTags(const std::string& name, std::string_view body) {
  std::vector<std::string> tags{cache::snapshotTag(name)};
  std::string_view n = name;
  if (n.starts_with("clinic/")) {
    tags.push_back(cache::clinicTag(n.substr(7)));
    constexpr std::string_view kRegion = ",\"region\":\"";
    size_t at = body.find(kRegion);
    if (at != std::string_view::npos) {
      size_t start = at + kRegion.size();
      size_t end = body.find('"', start);
      if (end != std::string_view::npos) {
        std::string tag = cache::regionTag(body.substr(start, end - start));
        if (cache::isValidCacheTag(tag)) tags.push_back(std::move(tag));
      }
    }
  } else if (n.starts_with("region/")) {
    tags.push_back(cache::regionTag(n.substr(7)));
  }
  return tags;
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

SnapshotCache::SnapshotCache(cache::MemcachedOptions memcached, cache::Keyring keyring,
                             Options options, base::MetricsRegistry& metrics)
    : memcached_options_(std::move(memcached)),
      keyring_(std::move(keyring)),
      options_(options),
      stale_if_error_ms_(options.stale_if_error.count() * 1000),
      max_waiting_(options.max_waiting),
      hits_(metrics.counter("surge_edge_l1_hits_total", "Snapshot requests served from L1 fresh")),
      stale_hits_(metrics.counter("surge_edge_l1_stale_total",
                                  "Snapshot requests served from L1 past their max-age")),
      misses_(metrics.counter("surge_edge_l1_misses_total",
                              "Snapshot requests that had to wait for a fetch")),
      coalesced_(metrics.counter("surge_edge_l1_coalesced_total",
                                 "Misses that joined a fetch already asked for")),
      shed_(metrics.counter("surge_edge_l1_shed_total",
                            "Misses refused because the waiting list was full")),
      memcached_gets_(metrics.counter("surge_edge_memcached_gets_total",
                                      "Keys asked of memcached by the refresher")),
      memcached_errors_(
          metrics.counter("surge_edge_memcached_errors_total",
                          "Refresher reads of memcached that failed, in whole or in part")),
      verify_failures_(metrics.counter("surge_edge_snapshot_verify_failures_total",
                                       "Snapshots refused: bad MAC, unknown key or malformed")),
      updates_(metrics.counter("surge_edge_snapshot_updates_total",
                               "New snapshot versions installed in L1")),
      unknown_(metrics.counter("surge_edge_snapshot_unknown_total",
                               "Snapshot names origin's catalog does not list (404)")),
      gaps_reported_(metrics.counter("surge_edge_snapshot_gaps_total",
                                     "Known snapshots memcached did not have, reported to origin")),
      entries_(metrics.gauge("surge_edge_l1_entries", "Snapshots held in L1")) {}

SnapshotCache::~SnapshotCache() {
  stop();
}

base::Result<base::Done, std::string> SnapshotCache::start(std::vector<std::string> warm) {
  auto client = cache::MemcachedClient::create(memcached_options_);
  if (!client) return base::fail(client.error());
  memcached_ = std::move(client.value());
  {
    std::lock_guard lock(mutex_);
    for (std::string& n : warm)
      urgent_.push_back(std::move(n));
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "l1-refresh");
    loop();
  });
  return base::Done{};
}

void SnapshotCache::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SnapshotCache::setGapReporter(GapReporter reporter) {
  gap_reporter_ = std::move(reporter);
}

SnapshotCache::Known SnapshotCache::known(const std::string& name) const {
  std::shared_ptr<const cache::CatalogNames> catalog;
  {
    std::lock_guard lock(catalog_mutex_);
    catalog = catalog_;
  }
  if (!catalog) return Known::kUndecided;
  return catalog->contains(name) ? Known::kYes : Known::kNo;
}

void SnapshotCache::setKeyring(cache::Keyring keyring) {
  std::lock_guard lock(keyring_mutex_);
  keyring_ = std::move(keyring);
}

void SnapshotCache::setOptions(Options options) {
  std::lock_guard lock(options_mutex_);
  options_ = options;
  stale_if_error_ms_.store(options.stale_if_error.count() * 1000, std::memory_order_relaxed);
  max_waiting_.store(options.max_waiting, std::memory_order_relaxed);
}

SnapshotCache::Shard& SnapshotCache::shardOf(const std::string& name) {
  return shards_[std::hash<std::string>{}(name) % kShards];
}

const SnapshotCache::Shard& SnapshotCache::shardOf(const std::string& name) const {
  return shards_[std::hash<std::string>{}(name) % kShards];
}

std::optional<SnapshotLookup> SnapshotCache::lookupSlot(
    const Slot& slot, const std::shared_ptr<const CachedSnapshot>& snap, int64_t now_ms) const {
  if (!snap) return std::nullopt;
  int64_t confirmed = slot.confirmed_ms.load(std::memory_order_relaxed);
  int64_t age_ms = std::max<int64_t>(0, now_ms - confirmed);
  if (snap->not_found) {
    // A 404 is believed for one max-age (2 s by default), then asked again.
    if (age_ms > 2000) return std::nullopt;
    return SnapshotLookup{snap, age_ms / 1000, false};
  }
  int64_t max_age_ms = static_cast<int64_t>(snap->max_age_s) * 1000;
  int64_t stale_bound_ms = max_age_ms + stale_if_error_ms_.load(std::memory_order_relaxed);
  if (age_ms > stale_bound_ms) return std::nullopt;
  return SnapshotLookup{snap, age_ms / 1000, age_ms > max_age_ms};
}

std::optional<SnapshotLookup> SnapshotCache::get(const std::string& name) {
  Shard& shard = shardOf(name);
  std::shared_ptr<Slot> slot;
  std::shared_ptr<const CachedSnapshot> snap;
  {
    std::shared_lock lock(shard.mutex);
    auto it = shard.slots.find(name);
    if (it == shard.slots.end()) return std::nullopt;
    slot = it->second;
    snap = slot->snapshot;
  }
  int64_t now = nowMs();
  // Written at most once a second per slot: every worker writing it on every hit would make the
  // cache line bounce between cores.
  if (now - slot->used_ms.load(std::memory_order_relaxed) > 1000) {
    slot->used_ms.store(now, std::memory_order_relaxed);
  }
  auto found = lookupSlot(*slot, snap, now);
  if (found) (found->stale ? stale_hits_ : hits_).add();
  return found;
}

bool SnapshotCache::waitFor(const std::string& name, http::Worker& worker, Waiter done) {
  bool first;
  {
    std::lock_guard lock(mutex_);
    if (parked_count_ >= max_waiting_.load(std::memory_order_relaxed)) {
      shed_.add();
      return false;
    }
    auto& list = parked_[name];
    first = list.empty();
    list.push_back({&worker, std::move(done)});
    ++parked_count_;
    if (first) urgent_.push_back(name);
  }
  misses_.add();
  if (first) {
    wake_.notify_one();
  } else {
    coalesced_.add();
  }
  return true;
}

bool SnapshotCache::ready() const {
  int64_t last = last_success_ms_.load(std::memory_order_relaxed);
  if (last <= 0 || nowMs() - last > stale_if_error_ms_.load(std::memory_order_relaxed)) {
    return false;
  }
  {
    std::lock_guard lock(catalog_mutex_);
    if (!catalog_) return false;
  }
  return holds("regions");
}

bool SnapshotCache::holds(const std::string& name) const {
  const Shard& shard = shardOf(name);
  std::shared_lock lock(shard.mutex);
  auto it = shard.slots.find(name);
  return it != shard.slots.end() && it->second->snapshot && !it->second->snapshot->not_found;
}

std::vector<std::string> SnapshotCache::namesInUse(int64_t now_ms) {
  int64_t idle_ms;
  {
    std::lock_guard lock(options_mutex_);
    idle_ms = options_.idle_evict.count() * 1000;
  }
  std::vector<std::string> names;
  size_t total = 0;
  for (Shard& s : shards_) {
    std::unique_lock lock(s.mutex);
    for (auto it = s.slots.begin(); it != s.slots.end();) {
      int64_t used = it->second->used_ms.load(std::memory_order_relaxed);
      const auto& held = it->second->snapshot;
      bool old_miss = held && held->not_found &&
                      now_ms - it->second->confirmed_ms.load(std::memory_order_relaxed) > 2000;
      // A name memcached did not have is asked again only when someone asks for it again: junk
      // names must not fill the refresher's batches for a minute each.
      bool always = it->first == "regions" || it->first == cache::kCatalogSnapshot;
      if ((now_ms - used > idle_ms || old_miss) && !always) {
        it = s.slots.erase(it);  // nobody asked for it lately: stop refreshing it
        continue;
      }
      names.push_back(it->first);
      ++it;
    }
    total += s.slots.size();
  }
  entries_.set(static_cast<int64_t>(total));
  // Read every interval whether held or not: the catalog decides 404s and readiness, and the
  // regions list is every page's first request.
  for (std::string_view always : {std::string_view("regions"), cache::kCatalogSnapshot}) {
    if (std::find(names.begin(), names.end(), always) == names.end()) {
      names.emplace_back(always);
    }
  }
  return names;
}

void SnapshotCache::loop() {
  auto next_tick = std::chrono::steady_clock::now();
  while (true) {
    std::vector<std::string> urgent;
    bool tick = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_tick, [&] { return stopping_ || !urgent_.empty(); });
      if (stopping_) break;
      urgent.swap(urgent_);
      if (std::chrono::steady_clock::now() >= next_tick) tick = true;
    }
    if (!urgent.empty()) {
      // Someone waits for these. A read memcached did not answer (one stalled call on a loaded
      // machine, a connection reset) is asked again once, shortly, before they hear 503.
      std::vector<std::string> again;
      fetch(urgent, &again);
      if (!again.empty()) {
        std::this_thread::sleep_for(kUnansweredRetryPause);
        fetch(again);
      }
    }
    if (tick) {
      std::chrono::milliseconds interval;
      {
        std::lock_guard lock(options_mutex_);
        interval = options_.refresh_interval;
      }
      next_tick = std::chrono::steady_clock::now() + interval;
      fetch(namesInUse(nowMs()));
    }
    reportGaps();
  }
  // Nobody is left to answer parked requests with a fetch: tell them now.
  std::unordered_map<std::string, std::vector<Parked>> parked;
  {
    std::lock_guard lock(mutex_);
    parked.swap(parked_);
    parked_count_ = 0;
  }
  for (auto& [name, list] : parked) {
    for (Parked& p : list) {
      p.worker->post([done = std::move(p.done)] { done(std::nullopt); });
    }
  }
}

void SnapshotCache::fetch(const std::vector<std::string>& names,
                          std::vector<std::string>* unanswered) {
  size_t batch;
  int64_t gzip_window_ms;  // a gzip-only client asked this recently: make gzip (wantGzip)
  {
    std::lock_guard lock(options_mutex_);
    batch = options_.batch;
    gzip_window_ms = options_.idle_evict.count() * 1000;
  }
  for (size_t start = 0; start < names.size(); start += batch) {
    size_t end = std::min(names.size(), start + batch);
    std::vector<std::string> keys;
    keys.reserve(end - start);
    for (size_t i = start; i < end; ++i)
      keys.push_back(cache::snapshotKey(names[i]));
    memcached_gets_.add(keys.size());
    auto result = memcached_->getMulti(keys);
    int64_t now = nowMs();
    if (!result) {
      memcached_errors_.add();
      memcachedFailed(result.error().message, now);
      for (size_t i = start; i < end; ++i) {
        if (unanswered) {
          unanswered->push_back(names[i]);
        } else {
          wake(names[i]);  // serves what is cached (stale) or fails the waiters
        }
      }
      continue;
    }
    if (result->partial) {
      memcached_errors_.add();
      memcachedFailed(
          "some servers did not answer a read of " + std::to_string(end - start) + " snapshots",
          now);
    }
    if (!result->partial) last_success_ms_.store(now, std::memory_order_relaxed);
    cache::Keyring keyring;
    {
      std::lock_guard lock(keyring_mutex_);
      keyring = keyring_;
    }
    for (size_t i = start; i < end; ++i) {
      const std::string& name = names[i];
      auto it = result->values.find(keys[i - start]);
      if (it == result->values.end()) {
        if (result->partial && unanswered) {
          unanswered->push_back(name);
          continue;
        }
        if (!result->partial) missing(name, now);
        wake(name);
        continue;
      }
      auto opened = cache::openSnapshot(keyring, it->second);
      if (!opened) {
        verify_failures_.add();
        std::fprintf(stderr, "surge-edge: snapshot %s refused: %s\n", name.c_str(),
                     cache::envelopeErrorName(opened.error()));
        wake(name);
        continue;
      }
      if (opened->content_type == cache::kRemovedContentType) {
        // Removed by its owner (a sealed tombstone): 404 from now on, not the copy held.
        markNotFound(name, now);
        wake(name);
        continue;
      }
      // Same version as held: only note that it is still current (and add gzip if now wanted).
      bool want_gzip = false;
      {
        Shard& shard = shardOf(name);
        std::shared_lock lock(shard.mutex);
        auto s = shard.slots.find(name);
        if (s != shard.slots.end()) {
          int64_t asked = s->second->gzip_wanted_ms.load(std::memory_order_relaxed);
          want_gzip = asked != 0 && now - asked <= gzip_window_ms;
        }
        if (s != shard.slots.end() && s->second->snapshot && !s->second->snapshot->not_found &&
            s->second->snapshot->version >= opened->version) {
          s->second->confirmed_ms.store(now, std::memory_order_relaxed);
          std::shared_ptr<const CachedSnapshot> held = s->second->snapshot;
          lock.unlock();
          if (want_gzip && held->gzip.empty()) {
            auto with_gzip = std::make_shared<CachedSnapshot>(*held);
            with_gzip->gzip = gzipCompress(with_gzip->identity);
            install(name, std::move(with_gzip), now);
          }
          wake(name);
          continue;
        }
      }
      auto body = cache::decodeSnapshotBody(opened.value());
      if (!body) {
        verify_failures_.add();
        wake(name);
        continue;
      }
      auto snap = std::make_shared<CachedSnapshot>();
      snap->name = name;
      snap->version = opened->version;
      snap->created_unix_ms = opened->created_unix_ms;
      snap->max_age_s = opened->max_age_s;
      snap->etag = "\"" + std::string(opened->etag) + "\"";
      snap->content_type = std::string(opened->content_type);
      if (opened->encoding == cache::BodyEncoding::kZstd) snap->zstd = std::string(opened->body);
      snap->identity = std::move(body.value());
      snap->tags = snapshotTags(name, snap->identity);
      if (want_gzip) snap->gzip = gzipCompress(snap->identity);
      updates_.add();
      if (name == cache::kCatalogSnapshot) learnCatalog(*snap);
      install(name, std::move(snap), now);
      wake(name);
    }
  }
}

void SnapshotCache::memcachedFailed(const std::string& what, int64_t now_ms) {
  if (now_ms - memcached_failure_logged_ms_ < 1000) return;
  memcached_failure_logged_ms_ = now_ms;
  std::fprintf(stderr, "surge-edge: memcached: %s\n", what.c_str());
}

void SnapshotCache::missing(const std::string& name, int64_t now_ms) {
  // A copy held stays: memcached lost it, and origin republishes it once told.
  if (!holds(name)) {
    Known k = known(name);
    if (k == Known::kNo) {
      unknown_.add();
      return markNotFound(name, now_ms);
    }
    // Known, or no catalog to tell yet (then the catalog is missing too, and is reported with it):
    // a gap, never a 404.
  }
  gaps_.push_back(name);
}

void SnapshotCache::reportGaps() {
  if (gaps_.empty()) return;
  int64_t now = nowMs();
  int64_t interval_ms;
  {
    std::lock_guard lock(options_mutex_);
    interval_ms = options_.gap_report_interval.count();
  }
  if (gap_reported_ms_.size() > 100000) {
    std::erase_if(gap_reported_ms_,
                  [&](const auto& entry) { return now - entry.second > interval_ms; });
  }
  std::vector<std::string> due;
  for (std::string& name : gaps_) {
    auto [it, fresh] = gap_reported_ms_.emplace(name, now);
    if (!fresh) {
      if (now - it->second < interval_ms) continue;
      it->second = now;
    }
    due.push_back(std::move(name));
  }
  gaps_.clear();
  if (due.empty() || !gap_reporter_) return;
  cache::KeyringKey key;
  {
    std::lock_guard lock(keyring_mutex_);
    if (keyring_.empty()) return;
    key = keyring_.signingKey();
  }
  gaps_reported_.add(due.size());
  gap_reporter_(cache::signGapReport(key, due, nowMs() / 1000));
}

void SnapshotCache::learnCatalog(const CachedSnapshot& snap) {
  auto names = cache::CatalogNames::parse(snap.identity);
  if (!names) {
    verify_failures_.add();
    std::fprintf(stderr,
                 "surge-edge: the catalog snapshot v%llu does not parse; keeping the last\n",
                 static_cast<unsigned long long>(snap.version));
    return;
  }
  auto shared = std::make_shared<const cache::CatalogNames>(std::move(names.value()));
  std::lock_guard lock(catalog_mutex_);
  catalog_ = std::move(shared);
}

void SnapshotCache::markNotFound(const std::string& name, int64_t now_ms) {
  auto nf = std::make_shared<CachedSnapshot>();
  nf->name = name;
  nf->not_found = true;
  install(name, std::move(nf), now_ms);
}

void SnapshotCache::install(const std::string& name, std::shared_ptr<const CachedSnapshot> snap,
                            int64_t now_ms) {
  Shard& shard = shardOf(name);
  std::unique_lock lock(shard.mutex);
  auto& slot = shard.slots[name];
  if (!slot) {
    slot = std::make_shared<Slot>();
    slot->used_ms.store(now_ms, std::memory_order_relaxed);
  }
  slot->snapshot = std::move(snap);
  slot->confirmed_ms.store(now_ms, std::memory_order_relaxed);
}

void SnapshotCache::wantGzip(const std::string& name) {
  int64_t now = nowMs();
  int64_t before;
  {
    Shard& shard = shardOf(name);
    std::shared_lock lock(shard.mutex);
    auto s = shard.slots.find(name);
    if (s == shard.slots.end()) return;
    before = s->second->gzip_wanted_ms.exchange(now, std::memory_order_relaxed);
  }
  if (now - before < 1000) return;  // already asked of the refresher this second
  std::lock_guard lock(mutex_);
  urgent_.push_back(name);
  wake_.notify_one();
}

void SnapshotCache::wake(const std::string& name) {
  std::vector<Parked> list;
  {
    std::lock_guard lock(mutex_);
    auto it = parked_.find(name);
    if (it == parked_.end()) return;
    list.swap(it->second);
    parked_.erase(it);
    parked_count_ -= list.size();
  }
  // What the waiters get: the same answer a hit would get now, or nothing.
  std::optional<SnapshotLookup> found;
  {
    Shard& shard = shardOf(name);
    std::shared_lock lock(shard.mutex);
    auto s = shard.slots.find(name);
    if (s != shard.slots.end()) found = lookupSlot(*s->second, s->second->snapshot, nowMs());
  }
  for (Parked& p : list) {
    p.worker->post([done = std::move(p.done), found] { done(found); });
  }
}

}  // namespace surge::edge
