#include "surge/origin/queue_pacer.h"

#include <openssl/rand.h>
#include <pthread.h>

#include <cmath>
#include <cstdio>
#include <future>

#include "surge/cache/queue_draw.h"
#include "surge/cache/queue_pow.h"
#include "surge/origin/calendar.h"

namespace surge::origin {
namespace {

// The seat factor as the store keeps it: 0 never set (the flag's value holds), -1 off, else x1000.
int64_t storedFactor(double factor) {
  return factor > 0 ? static_cast<int64_t>(std::llround(factor * 1000)) : -1;
}
double factorFrom(int64_t stored, double unset) {
  return stored == 0 ? unset : stored < 0 ? 0 : static_cast<double>(stored) / 1000;
}

constexpr const char* kSeedCounters[] = {"queue_seed_0", "queue_seed_1", "queue_seed_2",
                                         "queue_seed_3"};

std::string seedText(int64_t seed) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(seed));
  return buf;
}

}  // namespace

QueuePacer::QueuePacer(cache::MemcachedClientPtr memcached, BookingWriter& writer,
                       base::MetricsRegistry& metrics, Options options)
    : memcached_(std::move(memcached)),
      writer_(writer),
      options_(options),
      open_(options.open),
      set_rate_(options.rate),
      seat_factor_(options.seat_factor),
      passing_(options.absent_after, options.admission_window, metrics),
      admitted_(metrics.gauge("surge_origin_queue_admitted", "Tickets up to this number may book")),
      issued_(metrics.gauge("surge_origin_queue_issued", "Tickets issued by edges (sequence)")),
      rate_milli_(metrics.gauge("surge_origin_queue_rate_milli",
                                "Admission rate x 1000 (tickets per second)")),
      seats_left_(
          metrics.gauge("surge_origin_queue_seats_left",
                        "Seats still bookable, as admission counts them (-1: not counted)")),
      claims_(metrics.gauge("surge_origin_queue_claims",
                            "People admitted within the admission window who have not booked")),
      reseeded_(
          metrics.counter("surge_origin_queue_reseeded_total",
                          "Times the ticket sequence was missing in memcached and re-seeded")),
      errors_(metrics.counter("surge_origin_queue_errors_total",
                              "Pacer ticks that could not read or write memcached or the store")) {}

QueuePacer::~QueuePacer() {
  stop();
}

base::Result<int64_t, std::string> QueuePacer::counter(const std::string& name, int64_t step) {
  std::promise<base::Result<int64_t, std::string>> done;
  auto future = done.get_future();
  writer_.runExclusive(
      [&](BookingStore& store) { done.set_value(store.reserveCounter(name, step)); });
  return future.get();
}

base::Result<base::Done, std::string> QueuePacer::loadState() {
  auto admitted = counter("queue_admitted", 0);
  auto epoch = counter("queue_epoch", 0);
  auto hwm = counter("queue_seq_hwm", 0);
  if (!admitted) return base::fail(admitted.error());
  if (!epoch) return base::fail(epoch.error());
  if (!hwm) return base::fail(hwm.error());
  auto prequeue = counter("queue_prequeue", 0);
  // Stores from before the committed seed kept a 64-bit one, drawn at the opening.
  auto legacy_seed = counter("queue_shuffle_seed", 0);
  if (!prequeue) return base::fail(prequeue.error());
  if (!legacy_seed) return base::fail(legacy_seed.error());
  std::string seed;
  bool drawn = false;
  for (const char* name : kSeedCounters) {
    auto part = counter(name, 0);
    if (!part) return base::fail(part.error());
    drawn = drawn || part.value() != 0;
    seed += seedText(part.value());
  }
  auto opened = counter("queue_opened", 0);
  auto saved = counter("queue_settings_saved", 0);
  auto revokes = counter("queue_revokes", 0);
  auto stored = readSettings();
  if (!opened || !saved || !revokes || !stored) {
    return base::fail(std::string("cannot read the queue's settings"));
  }
  // Everything read first: the lock is never held across a wait for the store.
  std::lock_guard lock(mutex_);
  prequeue_ = static_cast<uint64_t>(prequeue.value());
  seed_ = drawn ? seed : std::string();
  commitment_ = drawn ? cache::seedCommitment(seed_) : std::string();
  state_.admitted = static_cast<uint64_t>(admitted.value());
  state_.epoch = static_cast<uint32_t>(epoch.value());
  hwm_ = hwm.value();
  opened_ = opened.value() != 0;
  shuffle_ = legacy_seed.value() != 0 ? seedText(legacy_seed.value())
             : opened_                ? seed_
                                      : std::string();
  settings_generation_ = saved.value();
  revokes_seen_ = revokes.value();
  if (saved.value() != 0 && !settings_dirty_) {
    // What operators set survives a restart: the flags only seed a queue that never had settings.
    useSettings(stored.value());
  } else if (saved.value() == 0) {
    open_ = options_.open;
    set_rate_ = options_.rate;
    opening_s_ = options_.opening_s;
    seat_factor_ = options_.seat_factor;
    settings_dirty_ = true;
  }
  current_rate_ = set_rate_ > 0 ? set_rate_ : options_.auto_start;
  return base::Done{};
}

base::Result<base::Done, std::string> QueuePacer::start() {
  auto loaded = loadState();
  if (!loaded) return loaded;
  if (!options_.leading || options_.leading()) {
    tick(0);  // seed the sequence and publish the state before edges can ask (errors: next tick)
  } else {
    following_ = true;
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "queue-pacer");
    loop();
  });
  return base::Done{};
}

QueuePacer::Settings QueuePacer::settings() const {
  std::lock_guard lock(mutex_);
  return Settings{open_, paused_, set_rate_, seat_factor_, opening_s_, pow_bits_};
}

base::Result<QueuePacer::Settings, std::string> QueuePacer::readSettings() {
  auto o = counter("queue_open", 0), p = counter("queue_paused", 0);
  auto r = counter("queue_rate_milli", 0), t = counter("queue_opening", 0);
  auto f = counter("queue_seat_factor", 0), w = counter("queue_pow_bits", 0);
  if (!o || !p || !r || !t || !f || !w) return base::fail(std::string("cannot read the settings"));
  return Settings{o.value() != 0,
                  p.value() != 0,
                  static_cast<double>(r.value()) / 1000,
                  factorFrom(f.value(), options_.seat_factor),
                  t.value(),
                  static_cast<uint32_t>(std::clamp<int64_t>(w.value(), 0, cache::kMaxProofBits))};
}

void QueuePacer::useSettings(const Settings& s) {
  open_ = s.open;
  paused_ = s.paused;
  set_rate_ = s.rate;
  opening_s_ = s.opening;
  seat_factor_ = s.factor;
  pow_bits_ = s.pow_bits;
}

void QueuePacer::handOver() {
  Settings now = settings();
  bool dirty, revoke;
  {
    std::lock_guard lock(mutex_);
    dirty = settings_dirty_;
    revoke = revoke_requested_;
    settings_dirty_ = revoke_requested_ = false;
  }
  if (dirty && !saveSettings(now)) {
    errors_.add();
    std::lock_guard lock(mutex_);
    settings_dirty_ = true;
  }
  if (revoke && !counter("queue_revokes", 1)) {
    errors_.add();
    std::lock_guard lock(mutex_);
    revoke_requested_ = true;
  }
}

void QueuePacer::followOtherOrigins() {
  auto now = std::chrono::steady_clock::now();
  if (now - followed_at_ < std::chrono::seconds(1)) return;
  followed_at_ = now;
  auto saved = counter("queue_settings_saved", 0);
  auto revokes = counter("queue_revokes", 0);
  if (!saved || !revokes) {
    errors_.add();
    return;
  }
  if (saved.value() != settings_generation_) {
    auto stored = readSettings();
    if (!stored) {
      errors_.add();
      return;
    }
    std::lock_guard lock(mutex_);
    if (!settings_dirty_) {  // a setting made here since wins; it is saved at this tick
      useSettings(stored.value());
      if (set_rate_ > 0) current_rate_ = set_rate_;
    }
    settings_generation_ = saved.value();
  }
  if (revokes.value() != revokes_seen_) {
    std::lock_guard lock(mutex_);
    revoke_requested_ = true;
    revokes_seen_ = revokes.value();
  }
}

void QueuePacer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void QueuePacer::setOpen(bool open) {
  std::lock_guard lock(mutex_);
  open_ = open;
  settings_dirty_ = true;
}
void QueuePacer::setPaused(bool paused) {
  std::lock_guard lock(mutex_);
  paused_ = paused;
  settings_dirty_ = true;
}
void QueuePacer::setRate(double rate) {
  std::lock_guard lock(mutex_);
  set_rate_ = rate;
  if (rate > 0) current_rate_ = rate;
  settings_dirty_ = true;
}
void QueuePacer::setOpening(int64_t unix_s) {
  std::lock_guard lock(mutex_);
  opening_s_ = unix_s;
  settings_dirty_ = true;
}

void QueuePacer::setProofBits(uint32_t bits) {
  std::lock_guard lock(mutex_);
  pow_bits_ = bits;
  settings_dirty_ = true;
}

void QueuePacer::setSeatFactor(double factor) {
  std::lock_guard lock(mutex_);
  seat_factor_ = factor;
  settings_dirty_ = true;
}

void QueuePacer::revoke() {
  std::lock_guard lock(mutex_);
  revoke_requested_ = true;
}

std::string QueuePacer::statusJson() const {
  std::lock_guard lock(mutex_);
  // "opening" stays Unix seconds (0: none) for scripts; "opening_at" is the same in RFC 3339.
  std::string opening_at =
      opening_s_ > 0 ? "\"" + formatTimestamp(opening_s_ * 1000) + "\"" : std::string("null");
  std::string seats = state_.seats >= 0 ? std::to_string(state_.seats) : std::string("null");
  std::string sold_out_at =
      state_.soldOut() ? "\"" + formatTimestamp(state_.sold_out_ms) + "\"" : std::string("null");
  std::string commitment =
      state_.commitment.empty() ? std::string("null") : "\"" + state_.commitment + "\"";
  QueuePassing::Counts passing = passing_.counts();
  std::string active = passing.active >= 0 ? std::to_string(passing.active) : std::string("null");
  char buf[1000];
  std::snprintf(
      buf, sizeof buf,
      "{\"open\":%s,\"paused\":%s,\"mode\":\"%s\",\"rate\":%.3f,\"epoch\":%u,"
      "\"admitted\":%llu,\"issued\":%llu,\"waiting\":%llu,\"opening\":%lld,"
      "\"opening_at\":%s,\"prequeue\":%llu,\"leading\":%s,\"seat_factor\":%.3f,"
      "\"seats\":%s,\"claims\":%lld,\"sold_out\":%s,\"sold_out_at\":%s,"
      "\"commitment\":%s,\"attack_mode\":%s,\"proof_bits\":%u,\"absent_after\":%u,"
      "\"passed_over\":%llu,\"returned\":%llu,\"active\":%s}",
      open_ ? "true" : "false", paused_ ? "true" : "false", set_rate_ > 0 ? "fixed" : "auto",
      current_rate_, state_.epoch, static_cast<unsigned long long>(state_.admitted),
      static_cast<unsigned long long>(state_.issued),
      static_cast<unsigned long long>(
          state_.issued > state_.admitted ? state_.issued - state_.admitted : 0),
      static_cast<long long>(opening_s_), opening_at.c_str(),
      static_cast<unsigned long long>(state_.prequeue),
      !options_.leading || options_.leading() ? "true" : "false", seat_factor_, seats.c_str(),
      static_cast<long long>(claims_.value()), state_.soldOut() ? "true" : "false",
      sold_out_at.c_str(), commitment.c_str(), pow_bits_ > 0 ? "true" : "false", pow_bits_,
      passing_.absentAfterSeconds(), static_cast<unsigned long long>(passing.passed),
      static_cast<unsigned long long>(passing.returned), active.c_str());
  return buf;
}

base::Result<int64_t, std::string> QueuePacer::setCounter(const std::string& name, int64_t value) {
  auto old = counter(name, 0);
  if (!old) return old;
  return counter(name, value - old.value());
}

bool QueuePacer::drawSeed() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
  std::string seed;
  for (size_t i = 0; i < 4; ++i) {
    int64_t part = 0;
    for (size_t b = 0; b < 8; ++b)
      part = static_cast<int64_t>((static_cast<uint64_t>(part) << 8) | bytes[i * 8 + b]);
    if (!setCounter(kSeedCounters[i], part)) return false;
    seed += seedText(part);
  }
  seed_ = seed;
  commitment_ = cache::seedCommitment(seed_);
  return true;
}

bool QueuePacer::bumpSettingsGeneration() {
  // A generation, not a flag: another origin's pacer sees that settings changed.
  auto old = counter("queue_settings_saved", 1);
  if (!old) return false;
  std::lock_guard lock(mutex_);
  settings_generation_ = old.value() + 1;
  return true;
}

bool QueuePacer::saveSettings(const Settings& s) {
  return setCounter("queue_open", s.open ? 1 : 0) && setCounter("queue_paused", s.paused ? 1 : 0) &&
         setCounter("queue_rate_milli", static_cast<int64_t>(s.rate * 1000)) &&
         setCounter("queue_opening", s.opening) &&
         setCounter("queue_seat_factor", storedFactor(s.factor)) &&
         setCounter("queue_pow_bits", s.pow_bits) && bumpSettingsGeneration();
}

void QueuePacer::loop() {
  auto last = std::chrono::steady_clock::now();
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, options_.tick, [&] { return stopping_; });
      if (stopping_) return;
    }
    auto now = std::chrono::steady_clock::now();
    if (options_.leading) {
      if (!options_.leading()) {
        following_ = true;
        handOver();
        last = now;
        continue;
      }
      if (following_) {
        // Just took over: another origin moved the numbers meanwhile.
        if (!loadState()) {
          errors_.add();
          continue;
        }
        following_ = false;
        last = now;
      }
      followOtherOrigins();
    }
    tick(std::chrono::duration<double>(now - last).count());
    last = now;
  }
}

uint64_t QueuePacer::seatBound(cache::QueueState& next, double factor) {
  CatalogIndexPtr catalog = writer_.catalog();
  int64_t now_ms = unixNowMs();
  SeatCount seats = catalog ? catalog->seats(catalog->timeZone().localTime(now_ms)) : SeatCount{};
  if (catalog.get() != counted_catalog_) {
    // A new catalog (an import) counts its bookings from zero: the window starts again.
    window_.clear();
    counted_catalog_ = catalog.get();
  }
  if (factor <= 0 || seats.slots == 0) {
    // Not counted: nothing to sell yet (no catalog), or the operator switched the bound off.
    window_.clear();
    next.seats = -1;
    next.sold_out_ms = 0;
    seats_left_.set(-1);
    claims_.set(0);
    return UINT64_MAX;
  }
  auto now = std::chrono::steady_clock::now();
  window_.push_back({now, next.admitted, seats.booked, passing_.excused()});
  // The oldest mark kept is the last one at or before the window's start.
  while (window_.size() > 1 && window_[1].at <= now - options_.admission_window)
    window_.pop_front();
  const Mark& start = window_.front();
  int64_t booked = seats.booked - start.booked;
  // People passed over (not there when their turn came, not back since) hold no claim.
  auto excused = static_cast<int64_t>(passing_.excused() - start.excused);
  int64_t allowance = static_cast<int64_t>(std::floor(factor * static_cast<double>(seats.left)));
  int64_t cap = static_cast<int64_t>(start.admitted) + excused + booked + allowance;
  int64_t claims = static_cast<int64_t>(next.admitted - start.admitted) - excused - booked;
  next.seats = seats.left;
  if (seats.left > 0) {
    next.sold_out_ms = 0;
  } else if (next.sold_out_ms == 0) {
    next.sold_out_ms = now_ms;  // kept while nothing comes back
  }
  seats_left_.set(seats.left);
  claims_.set(std::max<int64_t>(0, claims));
  return cap <= 0 ? 0 : static_cast<uint64_t>(cap);
}

void QueuePacer::tick(double seconds) {
  // 1. How far edges have issued (an increment by 0 reads the counter, and keeps memcached's
  // get count for what edges read); re-seed the sequence from the durable mark if it vanished.
  auto got = memcached_->increment(cache::kQueueSequenceKey, 0);
  if (!got) {
    errors_.add();
    return;
  }
  uint64_t issued = 0;
  if (!got->has_value()) {
    if (!memcached_->add(cache::kQueueSequenceKey, std::to_string(hwm_))) {
      errors_.add();
      return;
    }
    reseeded_.add();
    issued = static_cast<uint64_t>(hwm_);
  } else {
    issued = **got;
  }
  // Opening time: before it, edges fill the pre-queue and nobody is admitted; at it, the
  // pre-queue's size P and the shuffle seed are fixed (durably, once) and main tickets follow
  // them.
  int64_t opening;
  {
    std::lock_guard lock(mutex_);
    opening = opening_s_;
  }
  bool before_opening = false;
  if (opening > 0 && !opened_) {
    (void)memcached_->add(cache::kQueuePreSequenceKey, "0");  // edges incr it; exists already: fine
    // The commitment goes out before anyone can know the pre-queue; nobody is let in without it.
    if (seed_.empty() && !drawSeed()) {
      errors_.add();
      return;
    }
    if (unixNowMs() / 1000 < opening) {
      before_opening = true;
    } else {
      // The opening: P is fixed now, even at 0, and "opened" is published, so no edge places a
      // pre-queue ticket taken from here on (those get no place and join the main queue).
      auto pre = memcached_->increment(cache::kQueuePreSequenceKey, 0);
      if (!pre) {
        errors_.add();
        return;
      }
      uint64_t count = pre->has_value() ? **pre : 0;
      // Set, not added: a tick that fails after this one writes the same P again.
      if (!setCounter("queue_prequeue", static_cast<int64_t>(count))) {
        errors_.add();
        return;
      }
      prequeue_ = count;
      if (!setCounter("queue_opened", 1)) {
        errors_.add();
        return;
      }
      opened_ = true;
      shuffle_ = seed_;  // the seed is published with the opening
    }
  }
  issued += prequeue_;

  // 2. Keep the durable mark ahead of the sequence.
  while (static_cast<int64_t>(issued - prequeue_) + options_.hwm_margin / 2 > hwm_) {
    auto old = counter("queue_seq_hwm", options_.hwm_margin);
    if (!old) {
      errors_.add();
      return;
    }
    hwm_ = old.value() + options_.hwm_margin;
  }

  Settings now = settings();
  bool open = now.open, paused = now.paused, revoke, settings_changed;
  double set_rate = now.rate, factor = now.factor;
  {
    std::lock_guard lock(mutex_);
    revoke = revoke_requested_;
    revoke_requested_ = false;
    settings_changed = settings_dirty_;
    settings_dirty_ = false;
  }
  if (settings_changed && !saveSettings(now)) {
    errors_.add();
    std::lock_guard lock(mutex_);
    settings_dirty_ = true;  // the next tick tries again
  }
  cache::QueueState next = state_;
  if (revoke) {
    // Every ticket so far is void: its places are skipped (nobody may wait behind dead places).
    auto e = counter("queue_epoch", 1);
    auto skipped = issued > next.admitted
                       ? counter("queue_admitted", static_cast<int64_t>(issued - next.admitted))
                       : counter("queue_admitted", 0);
    if (!e || !skipped) {
      errors_.add();
      std::lock_guard lock(mutex_);
      revoke_requested_ = true;  // try again next tick; the operator was told 202, not done
      return;
    }
    next.epoch = static_cast<uint32_t>(e.value() + 1);
    next.admitted = std::max(next.admitted, issued);
    window_.clear();  // the places skipped are nobody's: they claim no seat
  }
  // 3. The rate: fixed, or following the store's backlog.
  double rate;
  {
    std::lock_guard lock(mutex_);
    rate = current_rate_;
  }
  if (set_rate > 0) {
    rate = set_rate;
  } else {
    size_t backlog = writer_.queued();
    if (backlog > options_.target_inflight) {
      rate = std::max(1.0, rate * 0.8);
    } else if (backlog < options_.target_inflight / 4) {
      rate = std::min(options_.auto_max, rate * 1.05 + 1);
    }
  }
  // 4. Advance the cursor, never past what was issued nor past what seats left allow
  // (admissions are not banked for later).
  // People who left are passed over for free (queue_passing.h).
  uint64_t admitted = next.admitted;
  passing_.observe(issued, next.epoch, open && !before_opening);
  uint64_t seat_cap = seatBound(next, factor);
  if (open && !paused && !before_opening) {
    credit_ += rate * seconds;
    uint64_t whole = static_cast<uint64_t>(credit_);
    credit_ -= static_cast<double>(whole);
    admitted = passing_.advance(*memcached_, admitted, issued, seat_cap, whole);
    if (admitted >= std::min(issued, seat_cap)) credit_ = 0;
  }
  if (admitted > next.admitted) {
    auto persisted = counter("queue_admitted", static_cast<int64_t>(admitted - next.admitted));
    if (!persisted) {
      errors_.add();
      return;
    }
  }
  next.open = open;
  next.admitted = admitted;
  next.rate = open && !paused ? rate : 0;
  next.issued = issued;
  next.updated_ms = unixNowMs();
  next.opening_s = opening;
  next.pow_bits = now.pow_bits;
  next.absent_after_s = passing_.absentAfterSeconds();
  next.prequeue = prequeue_;
  next.opened = opened_;
  next.shuffle = shuffle_;
  next.commitment = commitment_;
  auto sealed = cache::sealQueueState(options_.keyring, next);
  if (!sealed || !memcached_->set(cache::kQueueStateKey, sealed.value())) errors_.add();
  {
    std::lock_guard lock(mutex_);
    state_ = next;
    current_rate_ = rate;
  }
  admitted_.set(static_cast<int64_t>(admitted));
  issued_.set(static_cast<int64_t>(issued));
  passing_.review(*memcached_, admitted, issued);
  rate_milli_.set(static_cast<int64_t>(next.rate * 1000));
}

}  // namespace surge::origin
