#include "surge/origin/snapshot_publisher.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <future>

#include "surge/cache/catalog_names.h"
#include "surge/cache/snapshot_envelope.h"
#include "surge/cache/snapshot_names.h"
#include "surge/origin/calendar.h"
#include "surge/origin/json_text.h"
#include "surge/origin/snapshot_builder.h"

namespace surge::origin {
namespace {

using Clock = std::chrono::steady_clock;

// Snapshots due within this much go out together: a few milliseconds early, in one memcached
// round trip, instead of one wake-up per deadline under a steady stream of changes.
constexpr std::chrono::milliseconds kSlack{5};
// However far the next slot start is, the clock is looked at again this often: the wall clock
// may be stepped (NTP), and a zone may change its offset.
constexpr std::chrono::seconds kClockRecheck{60};
constexpr const char* kJson = "application/json";

// What an operator snapshot's version follows: its type and its body (a push of the same text
// keeps its version; a tombstone is a type of its own).
std::string namedContent(std::string_view content_type, std::string_view body) {
  std::string content(content_type);
  content += '\0';
  content += body;
  return content;
}

}  // namespace

std::string SnapshotPublisher::Report::json() const {
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.3f", seconds);
  return "{\"regions\":" + std::to_string(regions) + ",\"clinics\":" + std::to_string(clinics) +
         ",\"named\":" + std::to_string(named) + ",\"changed\":" + std::to_string(changed) +
         ",\"failed\":" + std::to_string(failed) + ",\"seconds\":" + secs + "}";
}

SnapshotPublisher::SnapshotPublisher(cache::MemcachedClientPtr memcached, cache::Keyring keyring,
                                     BookingWriter& writer, base::MetricsRegistry& metrics,
                                     Options options)
    : memcached_(std::move(memcached)),
      keyring_(std::move(keyring)),
      writer_(writer),
      options_(std::move(options)),
      published_(metrics.counter("surge_origin_snapshots_published_total",
                                 "Snapshots sealed and written to memcached")),
      publish_errors_(metrics.counter("surge_origin_snapshot_publish_errors_total",
                                      "Snapshot writes that failed (retried)")),
      versions_kept_(metrics.counter("surge_origin_snapshot_versions_kept_total",
                                     "Snapshots rewritten with their version unchanged (same "
                                     "content)")),
      superseded_(metrics.counter("surge_origin_snapshots_superseded_total",
                                  "Snapshot writes left out because memcached held a newer "
                                  "version from another origin")),
      gaps_filled_(metrics.counter("surge_origin_snapshot_gaps_total",
                                   "Snapshots republished because an edge did not find them")),
      publish_delay_(metrics.histogram("surge_origin_publish_delay_seconds",
                                       "From the first change of a batch to its snapshots "
                                       "being in memcached",
                                       base::latencyBuckets())),
      snapshot_bytes_(metrics.histogram("surge_origin_snapshot_bytes", "Sealed snapshot size",
                                        {1024, 4096, 16384, 65536, 262144, 1048576})) {
  if (!options_.clock) options_.clock = unixNowMs;
}

SnapshotPublisher::~SnapshotPublisher() {
  stop();
}

uint64_t SnapshotPublisher::nextVersion() {
  if (options_.shared_versions) {
    // Drawn at the first snapshot of the pass whose content changed, for the rest of the pass
    // at once: a pass that only rewrites what memcached lost (gaps, full publishes) keeps its
    // versions and never waits for the database (which may be the thing that is down).
    if (shared_pool_.empty()) drawSharedVersions(std::max<size_t>(1, shared_wanted_));
    shared_wanted_ = 1;
    if (shared_pool_.empty()) return 0;
    uint64_t v = shared_pool_.front();
    shared_pool_.pop_front();
    return v;
  }
  if (next_version_ >= version_limit_) {
    // Reserve the next block durably before using any of it, so versions never repeat or go
    // back after a restart.
    std::promise<base::Result<int64_t, std::string>> reserved;
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

void SnapshotPublisher::drawSharedVersions(size_t n) {
  shared_pool_.clear();
  auto drawn = options_.shared_versions(n);
  if (!drawn) {
    std::fprintf(stderr, "surge-origin: cannot take snapshot versions: %s\n",
                 drawn.error().c_str());
    return;
  }
  for (int64_t v : drawn.value())
    shared_pool_.push_back(static_cast<uint64_t>(v));
}

SnapshotPublisher::Stamp SnapshotPublisher::stamp(const std::string& name, std::string_view content,
                                                  int64_t now_ms, bool* changed) {
  size_t digest = std::hash<std::string_view>{}(content);
  Stamp& s = stamps_[name];
  if (s.version != 0 && s.digest == digest && s.size == content.size()) {
    versions_kept_.add();
    return s;
  }
  s = Stamp{digest, content.size(), nextVersion(), now_ms};
  if (changed != nullptr) *changed = true;
  return s;
}

base::Result<base::Done, std::string> SnapshotPublisher::start() {
  if (nextVersion() == 0) return base::fail(std::string("cannot reserve snapshot versions"));
  requestFullPublish();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "publisher");
    // Bookings come first: the publisher yields the CPU to the writer and the HTTP loops and
    // catches up in bigger coalesced passes when they are busy.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 5);
    loop();
  });
  return base::Done{};
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
  switch (mark.kind) {
    case Mark::kClinic:
      if (!dirty_clinics_.insert(mark.clinic).second) return;
      break;
    case Mark::kRegion:
      if (!dirty_regions_.insert(mark.name).second) return;
      break;
    case Mark::kNamed:
      if (!dirty_named_.insert(mark.name).second) return;
      break;
    case Mark::kRegionsList:
      if (dirty_regions_list_) return;
      dirty_regions_list_ = true;
      break;
    case Mark::kCatalog:
      if (dirty_catalog_) return;
      dirty_catalog_ = true;
      break;
  }
  bool was_clean = marks_.empty();
  marks_.push_back(std::move(mark));
  // Later marks never come due before the first one: only the first needs the thread awake.
  if (was_clean) wake_.notify_one();
}

void SnapshotPublisher::markClinicLocked(const CatalogIndex& index, int64_t clinic_id,
                                         Clock::time_point at) {
  const Clinic* clinic = index.clinic(clinic_id);
  if (clinic == nullptr) return;
  markLocked(Mark{Mark::kClinic, clinic->id, {}, at});
  markLocked(Mark{Mark::kRegion, 0, clinic->region, at});
  if (const Region* leaf = index.region(clinic->region); leaf && !leaf->parent.empty()) {
    markLocked(Mark{Mark::kRegion, 0, leaf->parent, at});
  }
}

void SnapshotPublisher::slotsChanged(const std::vector<SlotChange>& changes) {
  CatalogIndexPtr index = writer_.catalog();
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  for (const SlotChange& change : changes) {
    const IndexedSlot* slot = index->slotById(change.slot_id);
    if (slot != nullptr) markClinicLocked(*index, slot->clinic_id, now);
  }
}

void SnapshotPublisher::requestFullPublish(std::function<void(const Report&)> done) {
  std::lock_guard lock(mutex_);
  if (!dirty_all_) all_marked_ = Clock::now();
  dirty_all_ = true;
  if (done) full_publish_waiters_.push_back(std::move(done));
  wake_.notify_one();
}

base::Result<base::Done, std::string> SnapshotPublisher::reloadCatalog(BookingStore& store) {
  auto loaded = store.loadCatalog();
  if (!loaded) return base::fail(loaded.error());
  writer_.replaceCatalog(loaded.value());
  requestFullPublish();
  return base::Done{};
}

size_t SnapshotPublisher::fillGaps(const std::vector<std::string>& names) {
  CatalogIndexPtr index = writer_.catalog();
  const auto now = Clock::now();
  size_t accepted = 0;
  std::lock_guard lock(mutex_);
  if (gap_filled_.size() > 100000) {
    std::erase_if(gap_filled_,
                  [&](const auto& entry) { return now - entry.second > options_.gap_interval; });
  }
  for (const std::string& name : names) {
    std::optional<Mark> mark = markOfLocked(*index, name, now);
    if (!mark) continue;  // not ours: an edge with an older catalog, or a forged name
    // The catalog only once everything it lists has been published: it vouches for that.
    if (mark->kind == Mark::kCatalog && !fullyPublished()) continue;
    auto [it, fresh] = gap_filled_.emplace(name, now);
    if (!fresh) {
      if (now - it->second < options_.gap_interval) continue;
      it->second = now;
    }
    markLocked(std::move(*mark));
    ++accepted;
  }
  gaps_filled_.add(accepted);
  return accepted;
}

std::optional<SnapshotPublisher::Mark> SnapshotPublisher::markOfLocked(const CatalogIndex& index,
                                                                       std::string_view name,
                                                                       Clock::time_point at) const {
  if (name == "regions") return Mark{Mark::kRegionsList, 0, {}, at};
  if (name == cache::kCatalogSnapshot) return Mark{Mark::kCatalog, 0, {}, at};
  if (name.substr(0, 7) == "region/" && index.region(name.substr(7)) != nullptr) {
    return Mark{Mark::kRegion, 0, std::string(name.substr(7)), at};
  }
  if (name.substr(0, 7) == "clinic/") {
    std::string_view digits = name.substr(7);
    int64_t id = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    if (ec == std::errc() && end == digits.data() + digits.size() && index.clinic(id) != nullptr) {
      return Mark{Mark::kClinic, id, {}, at};
    }
  }
  if (name.substr(0, 6) == "named/" && named_names_.count(std::string(name.substr(6)))) {
    return Mark{Mark::kNamed, 0, std::string(name.substr(6)), at};
  }
  return std::nullopt;
}

Clock::time_point SnapshotPublisher::watchTheClock() {
  CatalogIndexPtr index = writer_.catalog();
  const int64_t now_ms = now();
  const LocalTime local = index->timeZone().localTime(now_ms);
  if (today_.index != index.get() || today_.day != local.day) {
    // A new day moves every date list: everything goes out again. (A new catalog is published
    // whole by the import that installed it.)
    bool new_day = today_.index != nullptr && local.day > today_.day;
    today_.starts.clear();
    for (const Clinic& c : index->clinics()) {
      std::span<const IndexedSlot> slots = index->slotsOf(c.id);
      auto it = std::lower_bound(slots.begin(), slots.end(), local.day,
                                 [](const IndexedSlot& s, int32_t day) { return s.day < day; });
      for (; it != slots.end() && it->day == local.day; ++it)
        today_.starts.emplace_back(it->minute, c.id);
    }
    std::sort(today_.starts.begin(), today_.starts.end());
    // What has begun already is left out by every build from now on.
    today_.next = static_cast<size_t>(std::upper_bound(today_.starts.begin(), today_.starts.end(),
                                                       std::make_pair(local.minute(), INT64_MAX)) -
                                      today_.starts.begin());
    today_.index = index.get();
    today_.held = index;
    today_.day = local.day;
    if (new_day) requestFullPublish();
  } else if (today_.next < today_.starts.size() &&
             today_.starts[today_.next].first <= local.minute()) {
    // Slots have begun: their clinics (and regions) no longer offer them.
    const auto at = Clock::now();
    std::lock_guard lock(mutex_);
    while (today_.next < today_.starts.size() &&
           today_.starts[today_.next].first <= local.minute()) {
      markClinicLocked(*index, today_.starts[today_.next].second, at);
      ++today_.next;
    }
  }
  const int32_t next_second = today_.next < today_.starts.size()
                                  ? today_.starts[today_.next].first * 60
                                  : 86400;  // midnight
  int64_t wait_ms =
      static_cast<int64_t>(next_second - local.second) * 1000 - ((now_ms % 1000) + 1000) % 1000;
  auto wait = std::clamp(std::chrono::milliseconds(wait_ms), std::chrono::milliseconds(1),
                         std::chrono::milliseconds(kClockRecheck));
  return Clock::now() + wait;
}

base::Result<std::string, std::string> SnapshotPublisher::seal(const std::string& body,
                                                               const std::string& content_type,
                                                               uint64_t version, int64_t now_ms) {
  cache::SnapshotFields fields;
  fields.version = version;
  fields.created_unix_ms = now_ms;
  fields.max_age_s = options_.max_age_s;
  fields.content_type = content_type;
  auto sealed = cache::sealSnapshot(keyring_, fields, body, cache::BodyEncoding::kZstd, {},
                                    options_.zstd_level);
  if (sealed) snapshot_bytes_.observe(static_cast<double>(sealed->size()));
  return sealed;
}

base::Result<base::Done, cache::CacheError> SnapshotPublisher::put(const std::string& name,
                                                                   const std::string& body,
                                                                   const std::string& content_type,
                                                                   const Stamp& stamp) {
  auto sealed = seal(body, content_type, stamp.version, now());
  if (!sealed)
    return base::fail(cache::CacheError{cache::CacheErrorKind::kTooLarge, sealed.error()});
  if (!options_.shared_versions) {
    auto r = memcached_->set(cache::snapshotKey(name), sealed.value());
    if (r) {
      published_.add();
    } else {
      publish_errors_.add();
    }
    return r;
  }
  if (!write({{cache::snapshotKey(name), std::move(sealed.value())}}).empty())
    return base::fail(cache::CacheError{cache::CacheErrorKind::kUnavailable,
                                        "memcached did not take snapshot " + name});
  return base::Done{};
}

std::vector<std::string> SnapshotPublisher::write(
    const std::vector<std::pair<std::string, std::string>>& sealed) {
  std::vector<std::string> failed;
  if (options_.shared_versions) {
    cache::NewerWrites r =
        memcached_->setManyNewer(sealed, [this](std::string_view value) -> std::optional<uint64_t> {
          auto opened = cache::openSnapshot(keyring_, value);
          if (!opened) return std::nullopt;  // not ours to keep: written over
          return opened->version;
        });
    superseded_.add(r.superseded);
    failed = std::move(r.failed);
  } else {
    failed = memcached_->setMany(sealed);
  }
  published_.add(sealed.size() - failed.size());
  publish_errors_.add(failed.size());
  return failed;
}

void SnapshotPublisher::loop() {
  while (true) {
    const Clock::time_point clock_due = watchTheClock();
    Dirty dirty;
    Clock::time_point oldest;
    std::vector<std::function<void(const Report&)>> waiters;
    {
      std::unique_lock lock(mutex_);
      Clock::duration hold{};
      bool clock_due_now = false;
      while (true) {
        if (stopping_ || !tasks_.empty() || dirty_all_) break;
        const auto now = Clock::now();
        if (now >= clock_due) {
          clock_due_now = true;
          break;
        }
        const bool periodic = options_.full_publish_interval.count() > 0;
        if (periodic && now >= last_full_ + options_.full_publish_interval) {
          dirty_all_ = true;
          all_marked_ = now;
          break;
        }
        auto until = clock_due;
        if (periodic) until = std::min(until, last_full_ + options_.full_publish_interval);
        if (!marks_.empty()) {
          hold = marks_.size() >= options_.busy_threshold ? Clock::duration(options_.busy_target)
                                                          : Clock::duration(options_.coalesce);
          if (marks_.front().at + hold <= now + kSlack) break;
          until = std::min(until, marks_.front().at + hold);
        }
        wake_.wait_until(lock, until);
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
        dirty.all = true;
        oldest = marks_.empty() ? all_marked_ : std::min(all_marked_, marks_.front().at);
        marks_.clear();
        dirty_clinics_.clear();
        dirty_regions_.clear();
        dirty_named_.clear();
        dirty_regions_list_ = false;
        dirty_catalog_ = false;
        dirty_all_ = false;
        last_full_ = Clock::now();
        waiters.swap(full_publish_waiters_);
      } else if (clock_due_now) {
        continue;  // the clock's marks first
      } else {
        // Every snapshot whose hold is over; the ones still held wait for their own deadline.
        const auto now = Clock::now();
        oldest = marks_.front().at;
        while (!marks_.empty() && marks_.front().at + hold <= now + kSlack) {
          Mark& m = marks_.front();
          switch (m.kind) {
            case Mark::kClinic:
              dirty_clinics_.erase(m.clinic);
              dirty.clinics.insert(m.clinic);
              break;
            case Mark::kRegion:
              dirty_regions_.erase(m.name);
              dirty.regions.insert(std::move(m.name));
              break;
            case Mark::kNamed:
              dirty_named_.erase(m.name);
              dirty.named.insert(std::move(m.name));
              break;
            case Mark::kRegionsList:
              dirty_regions_list_ = false;
              dirty.regions_list = true;
              break;
            case Mark::kCatalog:
              dirty_catalog_ = false;
              dirty.catalog = true;
              break;
          }
          marks_.pop_front();
        }
      }
    }
    Report report = publishDirty(std::move(dirty));
    for (auto& done : waiters)
      done(report);
    publish_delay_.observe(std::chrono::duration<double>(Clock::now() - oldest).count());
  }
}

base::Result<std::vector<NamedSnapshot>, std::string> SnapshotPublisher::loadNamed() {
  std::promise<base::Result<std::vector<NamedSnapshot>, std::string>> listed;
  auto future = listed.get_future();
  writer_.runExclusive([&](BookingStore& store) { listed.set_value(store.namedSnapshots()); });
  return future.get();
}

SnapshotPublisher::Report SnapshotPublisher::publishDirty(Dirty dirty) {
  const auto started = Clock::now();
  CatalogIndexPtr index = writer_.catalog();
  const int64_t now_ms = now();
  const LocalTime local = index->timeZone().localTime(now_ms);
  Report report;
  if (dirty.all) {
    dirty.clinics.clear();
    dirty.regions.clear();
    for (const Clinic& c : index->clinics())
      dirty.clinics.insert(c.id);
    for (const Region& r : index->regions())
      dirty.regions.insert(r.code);
    dirty.regions_list = true;
  }
  if (options_.shared_versions) {
    shared_pool_.clear();
    shared_wanted_ = dirty.clinics.size() + dirty.regions.size() + dirty.named.size() + 2;
  }
  std::vector<std::string> failed_names;   // not written: marked again below
  std::vector<std::string> changed_names;  // written with a new version: CDNs are told

  // Sealed snapshots go out in pipelined batches (one round trip per server per batch); what
  // memcached did not store is marked dirty again.
  std::vector<std::pair<std::string, std::string>> batch;
  size_t batch_bytes = 0;
  const size_t prefix = cache::snapshotKey("").size();
  auto flush = [&] {
    if (batch.empty()) return;
    std::vector<std::string> failed = write(batch);
    report.failed += failed.size();
    for (const std::string& key : failed)
      failed_names.push_back(key.substr(prefix));
    batch.clear();
    batch_bytes = 0;
  };
  auto add = [&](const std::string& name, const std::string& tail) {
    // A first stamp (this process's first publish) is not a change a CDN has seen.
    bool known = options_.changed && stamps_.count(name) > 0;
    bool changed = false;
    Stamp st = stamp(name, tail, now_ms, &changed);
    if (changed) ++report.changed;
    if ((changed && known) || unannounced_.count(name)) changed_names.push_back(name);
    auto sealed =
        seal(snapshotWithHeader(st.version, st.generated_ms, tail), kJson, st.version, now_ms);
    if (!sealed) {
      publish_errors_.add();
      ++report.failed;
      std::fprintf(stderr, "surge-origin: %s: %s\n", name.c_str(), sealed.error().c_str());
      return;
    }
    batch_bytes += sealed->size();
    batch.emplace_back(cache::snapshotKey(name), std::move(sealed.value()));
    if (batch.size() >= 512 || batch_bytes >= (4u << 20)) flush();
  };

  if (dirty.regions_list) {
    add("regions", regionsSnapshotTail(*index));
    ++report.regions;
  }
  for (const std::string& code : dirty.regions) {
    const Region* region = index->region(code);
    if (region == nullptr) continue;
    add("region/" + code, regionSnapshotTail(*index, *region, local));
    ++report.regions;
  }
  for (int64_t id : dirty.clinics) {
    const Clinic* clinic = index->clinic(id);
    if (clinic == nullptr) continue;
    add("clinic/" + std::to_string(id), clinicSnapshotTail(*index, *clinic, local));
    ++report.clinics;
  }
  flush();
  if (!changed_names.empty()) {
    // What did not make it to memcached is announced when a later pass writes it.
    std::unordered_set<std::string> failed(failed_names.begin(), failed_names.end());
    std::vector<std::string> written;
    for (std::string& n : changed_names) {
      if (failed.count(n)) {
        unannounced_.insert(std::move(n));
      } else {
        unannounced_.erase(n);
        written.push_back(std::move(n));
      }
    }
    announce(written);
  }
  bool cache_down = !failed_names.empty();
  std::unordered_set<std::string> failed_named;
  if (dirty.all || !dirty.named.empty()) {
    auto named = loadNamed();
    if (named) {
      std::set<std::string> names;
      for (const NamedSnapshot& s : named.value()) {
        names.insert(s.name);
        if (!dirty.all && !dirty.named.count(s.name)) continue;
        ++report.named;
        if (!writeNamed(s)) {
          ++report.failed;
          failed_named.insert(s.name);
        }
      }
      if (dirty.all) {
        std::lock_guard lock(mutex_);
        named_names_ = std::move(names);
      }
    } else {
      std::fprintf(stderr, "surge-origin: operator snapshots: %s\n", named.error().c_str());
      ++report.failed;
      failed_named = std::move(dirty.named);
    }
    cache_down = cache_down || !failed_named.empty();
  }
  // The catalog goes last: an edge that holds it may take every name in it as published.
  if ((dirty.all && !cache_down) || (dirty.catalog && fullyPublished())) {
    if (publishCatalog(*index)) {
      if (dirty.all) fully_published_.store(true, std::memory_order_release);
    } else {
      ++report.failed;
      cache_down = true;
    }
  }

  if (cache_down) {
    // Put back what did not make it and try again after a pause (memcached may be restarting).
    std::unique_lock lock(mutex_);
    if (dirty.all) {
      if (!dirty_all_) all_marked_ = Clock::now();
      dirty_all_ = true;
    } else {
      // Marked now (the marks stay in time order) and due after the pause below.
      const auto now = Clock::now();
      for (const std::string& name : failed_names) {
        if (auto mark = markOfLocked(*index, name, now)) markLocked(std::move(*mark));
      }
      for (const std::string& name : failed_named)
        markLocked(Mark{Mark::kNamed, 0, name, now});
      if (dirty.catalog) markLocked(Mark{Mark::kCatalog, 0, {}, now});
    }
    wake_.wait_for(lock, options_.retry_after_error, [&] { return stopping_; });
  }
  // Asked every pass, so that a return seen during a failing pass is not left for a later one.
  const bool server_back = memcached_->takeServerBack();
  if (cache_down) {
    writes_failed_ = true;
  } else if (writes_failed_ || server_back) {
    // Writes go through again after failing: a node was ejected from the ring (its keys now hash
    // to the others) or came back empty. Or a node that failed is back in the ring with none of
    // the keys written meanwhile, and readers look for them on it again: writes to the others
    // never failed, so only the client sees that. Either way snapshots nobody changed are missing
    // from where edges will look, so everything goes out again (versions stay: little to
    // rebuild). The cluster's kill -9 of a memcached node met this: until the next full publish
    // a minute later, an edge answered 503 for each such snapshot it had not held yet.
    writes_failed_ = false;
    if (!dirty.all) requestFullPublish();
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  shared_pool_.clear();  // never used by a later pass: drawn before its changes were heard
  return report;
}

bool SnapshotPublisher::publishCatalog(const CatalogIndex& index) {
  std::vector<std::string> regions, named;
  std::vector<int64_t> clinics;
  for (const Region& r : index.regions())
    regions.push_back(r.code);
  for (const Clinic& c : index.clinics())
    clinics.push_back(c.id);
  {
    std::lock_guard lock(mutex_);
    named.assign(named_names_.begin(), named_names_.end());
  }
  const std::string tail =
      cache::CatalogNames::tail(std::move(regions), std::move(clinics), std::move(named));
  const int64_t now_ms = now();
  Stamp st = stamp(std::string(cache::kCatalogSnapshot), tail, now_ms);
  return put(std::string(cache::kCatalogSnapshot),
             snapshotWithHeader(st.version, st.generated_ms, tail), kJson, st)
      .ok();
}

void SnapshotPublisher::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
}

base::Result<uint64_t, std::string> SnapshotPublisher::writeNamed(const NamedSnapshot& s) {
  const std::string name = "named/" + s.name;
  bool known = stamps_.count(name) > 0, changed = false;
  Stamp st = stamp(name, namedContent(s.content_type, s.body), now(), &changed);
  if (st.version == 0) return base::fail(std::string("cannot reserve a snapshot version"));
  auto r = put(name, s.body, s.content_type, st);
  if (!r) return base::fail(r.error().message);
  if (known && changed) announce({name});
  return st.version;
}

void SnapshotPublisher::announce(const std::vector<std::string>& names) {
  if (options_.changed && !names.empty()) options_.changed(names);
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

    std::promise<base::Result<base::Done, std::string>> stored;
    auto future = stored.get_future();
    writer_.runExclusive([&](BookingStore& store) { stored.set_value(store.putNamedSnapshot(s)); });
    auto r = future.get();
    if (!r) return done(503, jsonError("store_unavailable", r.error()));
    bool listed_before;
    {
      std::lock_guard lock(mutex_);
      listed_before = !named_names_.insert(s.name).second;
    }
    auto written = writeNamed(s);
    // Edges learn the new name from the catalog (written after the snapshot it names).
    if (written && !listed_before && fullyPublished()) publishCatalog(*writer_.catalog());
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
    std::promise<base::Result<bool, std::string>> removed;
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
    {
      std::lock_guard lock(mutex_);
      named_names_.erase(name);
    }
    // A tombstone rather than a delete: edges re-read the names in use, see it, and answer 404 at
    // once instead of serving their copy as stale for as long as stale-if-error allows.
    Stamp st = stamp("named/" + name, namedContent(cache::kRemovedContentType, ""), now());
    if (st.version == 0)
      return done(503, jsonError("store_unavailable", "cannot reserve a version"));
    auto written = put("named/" + name, "", std::string(cache::kRemovedContentType), st);
    if (written) announce({"named/" + name});
    if (written && fullyPublished()) publishCatalog(*writer_.catalog());
    if (!written) {
      return done(
          502, jsonError("memcached_unavailable",
                         "removed from the store, not from memcached: " + written.error().message));
    }
    done(204, "");
  });
}

}  // namespace surge::origin
