// QueuePacer: origin's half of the waiting room. Every tick (100 ms) it reads how many tickets
// edges have issued (memcached's sequence), advances the "admitted up to N" cursor by rate x
// elapsed time (never past what was issued), and publishes the queue state for edges
// (surge/cache/queue.h). The rate is set by an operator (surgectl queue rate N) or, in auto
// mode, follows the store: it shrinks while bookings queue at the writer beyond
// `target_inflight` and grows back while they do not.
//
// Origin owns the numbers: the cursor, the epoch and a high-water mark above every issued ticket
// number are kept durably in the store, so after memcached loses the sequence (eviction, a
// restart) it is re-seeded from the mark and numbers never go backwards. What operators set (open,
// paused, rate, opening time) is kept there too - saved by the pacer thread, never by the HTTP
// loop that took the request - so a restart mid-surge does not switch the waiting room off.
//
// Admission by seats left: the cursor never lets in more people than can still book. People
// admitted within the last `admission_window` (the edges' surge_queue_session: after it their
// ticket can no longer book) who have not booked yet hold a claim on a seat; the pacer admits
// only while those claims stay within seats left x `seat_factor` (an operator's allowance for
// people who leave without booking; `surgectl queue factor`). So, with a factor F >= 1, the people
// admitted in any window are at most F x the seats there were. When the last seat goes the state
// says so (sold_out, with the time) and edges stop issuing tickets; seats given back by
// cancellations open admission again (a cancellation leaves the booking counted as made: the
// person who made it is not waiting to book again). Seats are counted from the catalog index (slots
// that have not begun), which the writer, or the slot follower of a shared store, keeps current.
// After a restart the pacer does not know who was admitted before it: those claims are taken as
// used (the window starts again), so up to F x seats left more may be admitted at once.
//
// People who left (`absent_after`): places whose page stopped asking are passed over without
// spending the rate, and hold no claim (queue_passing.h).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "surge/base/metrics.h"
#include "surge/cache/memcached_client.h"
#include "surge/cache/queue.h"
#include "surge/origin/booking_writer.h"
#include "surge/origin/queue_passing.h"

namespace surge::origin {

class QueuePacer {
 public:
  struct Options {
    double rate = 0;         // tickets admitted per second; 0: auto
    double auto_start = 50;  // auto mode starts here
    double auto_max = 5000;
    size_t target_inflight = 256;  // bookings waiting at the writer that auto mode aims under
    std::chrono::milliseconds tick{100};
    int64_t hwm_margin = 100000;  // the persisted mark stays this far above the sequence
    bool open = false;            // enforce the waiting room from the start
    int64_t opening_s = 0;        // an opening time from the start (0: none)
    cache::Keyring keyring;       // the snapshot keyring: the state is sealed like a snapshot
    // Admitted people per seat left; 0: admission does not look at seats (and nothing is ever
    // sold out). An operator's setting (surgectl queue factor) wins over this once saved.
    double seat_factor = 1.25;
    std::chrono::seconds admission_window{600};  // as the edges' surge_queue_session
    // A place whose page has not asked for this long is passed over (queue_passing.h); 0: never.
    std::chrono::seconds absent_after{0};
    // Several origins on one store: only the one for which this is true paces (leader_lease.h).
    // The others save what operators set through them for the leader to pick up (within a
    // second), and the one that takes over reads the numbers back from the store first.
    // Unset: this origin always paces.
    std::function<bool()> leading;
  };

  QueuePacer(cache::MemcachedClientPtr memcached, BookingWriter& writer,
             base::MetricsRegistry& metrics, Options options);
  ~QueuePacer();
  base::Result<base::Done, std::string> start();
  void stop();

  // Operator controls (any thread); each takes effect at the next tick.
  void setOpen(bool open);      // open: the gate is enforced; closed: every booking passes
  void setPaused(bool paused);  // paused: the cursor stops
  void setRate(double rate);    // 0: auto
  void revoke();                // every ticket issued so far becomes invalid
  // Before `unix_s`, edges hand out pre-queue tickets; at it, their order is shuffled with a seed
  // committed to when the time was set (queue_draw.h), and admission starts. 0: no opening time.
  // Meant for a fresh queue.
  void setOpening(int64_t unix_s);
  // Admitted people per seat left (>= 1), or 0 to stop counting seats.
  void setSeatFactor(double factor);
  // The "under attack" mode: a new ticket needs a proof of `bits` (queue_pow.h); 0: off.
  void setProofBits(uint32_t bits);
  std::string statusJson() const;

 private:
  void loop();
  void tick(double seconds);
  // Reads the numbers and the operators' settings from the store (at start, and when this origin
  // becomes the leader).
  base::Result<base::Done, std::string> loadState();
  // Shared store: settings saved through another origin, and revokes asked there.
  void followOtherOrigins();
  // Not leading: saves what operators set here, for the leader.
  void handOver();
  base::Result<int64_t, std::string> counter(const std::string& name, int64_t step);
  base::Result<int64_t, std::string> setCounter(const std::string& name, int64_t value);
  struct Settings {
    bool open = false, paused = false;
    double rate = 0, factor = 0;
    int64_t opening = 0;
    uint32_t pow_bits = 0;
  };
  Settings settings() const;  // mutex_ not held
  // What operators set, as the store keeps it (saved by any origin).
  base::Result<Settings, std::string> readSettings();
  void useSettings(const Settings& s);  // mutex_ held
  bool saveSettings(const Settings& s);
  // The highest the cursor may go now: people admitted in the window who have not booked stay
  // within seats left x factor. Also fills next.seats and next.sold_out_ms. Pacer thread.
  uint64_t seatBound(cache::QueueState& next, double factor);
  struct Mark {
    std::chrono::steady_clock::time_point at;
    uint64_t admitted;
    int64_t booked;    // SeatCount::booked
    uint64_t excused;  // QueuePassing::excused(): passed over and not back
  };
  bool bumpSettingsGeneration();
  // Draws the seed and keeps it in the store (four counters): false when the store failed.
  bool drawSeed();

  cache::MemcachedClientPtr memcached_;
  BookingWriter& writer_;
  Options options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool open_ = false;
  bool paused_ = false;
  double set_rate_ = 0;
  double seat_factor_ = 0;
  uint32_t pow_bits_ = 0;
  bool revoke_requested_ = false;
  // Published state (guarded by mutex_ for statusJson).
  cache::QueueState state_;
  double current_rate_ = 0;
  double credit_ = 0;  // fractional admissions carried between ticks
  int64_t hwm_ = 0;
  int64_t opening_s_ = 0;
  uint64_t prequeue_ = 0;            // P: fixed (durably) at the opening
  bool opened_ = false;              // the opening has passed (durable)
  bool settings_dirty_ = false;      // operator settings to save on the pacer thread
  bool following_ = false;           // not leading (shared store): the state must be read again
  int64_t settings_generation_ = 0;  // queue_settings_saved when last read or written
  int64_t revokes_seen_ = 0;         // queue_revokes when last read
  std::chrono::steady_clock::time_point followed_at_{};
  // The pre-queue's seed (queue_draw.h): drawn, durably, when an opening time is first set, its
  // commitment published from then; published itself (shuffle_) from the opening.
  std::string seed_, commitment_;
  std::string shuffle_;
  std::deque<Mark> window_;  // (admitted, seats booked) over the admission window; pacer thread
  QueuePassing passing_;     // people who left; pacer thread
  const void* counted_catalog_ = nullptr;  // the index window_ counted bookings of
  std::thread thread_;

  base::Gauge& admitted_;
  base::Gauge& issued_;
  base::Gauge& rate_milli_;
  base::Gauge& seats_left_;
  base::Gauge& claims_;
  base::Counter& reseeded_;
  base::Counter& errors_;
};

}  // namespace surge::origin
