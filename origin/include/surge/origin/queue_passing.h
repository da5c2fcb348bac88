// QueuePassing: the pacer's way past people who left. A place whose page has not asked about it
// for `absent_after` (edges note every status, ticket and resume: cache/queue_presence.h) is
// passed over when the cursor reaches it - it costs no admission, so the rate counts people who
// are there. Its place is kept: the cursor has gone past it, so if its page comes back within the
// booking session (the edges' surge_queue_session, the pacer's admission window) it finds itself
// admitted and books; it is counted as returned, and from then on claims a seat again. After the
// session the place has expired, as anyone's does.
//
// Nobody is passed over before the pages had absent_after to say they are there: not in the first
// absent_after after the pacer starts, an epoch begins or admission starts (the opening), and no
// place issued less than absent_after ago. A presence block memcached could not give counts as
// everyone there.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>

#include "surge/base/metrics.h"
#include "surge/cache/memcached_client.h"
#include "surge/cache/queue_presence.h"

namespace surge::origin {

class QueuePassing {
 public:
  QueuePassing(std::chrono::seconds absent_after, std::chrono::seconds grace,
               base::MetricsRegistry& metrics);
  uint32_t absentAfterSeconds() const { return static_cast<uint32_t>(absent_after_.count()); }

  // Every tick, first: the places issued so far, the epoch, and whether admission is running.
  void observe(uint64_t issued, uint32_t epoch, bool admitting);
  // The cursor moved from `from`: each place that is there takes one of `credits`; one that is
  // not, when it may be passed over, is passed for free. Never past `issued`, nor past
  // `seat_cap` + the places passed over by this call (they claim no seat).
  uint64_t advance(cache::MemcachedClient& memcached, uint64_t from, uint64_t issued,
                   uint64_t seat_cap, uint64_t credits);
  // Places passed over minus those that came back, since the pacer started: what the seat bound
  // does not count as claims.
  uint64_t excused() const { return passed_total_ - returned_total_; }
  // About once a second: passed places whose page asked since are returned; the gauges of
  // people waiting and of those of them still there.
  void review(cache::MemcachedClient& memcached, uint64_t admitted, uint64_t issued);
  // Any thread (read from the metrics).
  struct Counts {
    uint64_t passed = 0, returned = 0;
    int64_t active = -1;  // waiting places still there at the last count; -1: not counted
  };
  Counts counts() const;

 private:
  bool mayPass(uint64_t place, std::chrono::steady_clock::time_point now) const;

  std::chrono::seconds absent_after_, grace_;
  cache::PresenceView view_;
  uint32_t epoch_ = 0;
  bool admitting_ = false;
  std::chrono::steady_clock::time_point since_;  // since when pages could say they are here
  // (when, places issued by then): which places are old enough to be passed over.
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> issued_at_;
  // Places passed over within the grace time, oldest first, not yet back.
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> passed_;
  uint64_t passed_total_ = 0, returned_total_ = 0;
  std::chrono::steady_clock::time_point reviewed_{}, counted_{};

  base::Counter& passed_counter_;
  base::Counter& returned_counter_;
  base::Gauge& waiting_;
  base::Gauge& active_;
};

}  // namespace surge::origin
