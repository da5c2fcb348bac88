// The per-edge cap on requests in flight to origin (all workers together), apart from the wire
// code: over it a write is shed at once with 503 + Retry-After, never queued behind a slow origin.
// The Retry-After of a shed write says how long the backlog needs to drain (backlogRetryAfter
// over the last full second). Thread-safe without locks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

#include "surge/base/metrics.h"

namespace surge::edge {

// Retry-After, in seconds, for a write shed over the in-flight cap: how long the backlog needs to
// drain. In the last window origin answered `answered` writes and the edge shed `shed`; each shed
// client comes back, so 1 + shed/answered seconds spreads them over the time origin takes to serve
// them, instead of bringing them all back the next second to be shed again (each shed is a request
// the edge serves for nothing, beside the reads). `spread` in [0, 1) adds up to half again, so
// that clients obeying it to the second do not return in step. From 1 to kMaxShedRetryAfter.
inline constexpr int64_t kMaxShedRetryAfter = 10;
int64_t backlogRetryAfter(uint64_t shed, uint64_t answered, double spread);

class InflightCap {
 public:
  // `answered`: the counter of answers from origin, the pace the backlog drains at.
  // `now_ms`: a steady clock in milliseconds (tests move it); `spread`: a number in [0, 1) per
  // call (tests fix it).
  // `labels`: of its metrics (one upstream's among several).
  InflightCap(base::MetricsRegistry& metrics, const base::Counter& answered,
              std::function<int64_t()> now_ms = {}, std::function<double()> spread = {},
              const std::string& labels = "");

  // A place for one more request if fewer than `max` are in flight. False: over the cap; the
  // shed is counted and `retry_after_s` is the backlog's.
  bool enter(size_t max, int64_t& retry_after_s);
  // The request that entered is over (answered, failed, or turned away after entering).
  void leave();
  // A request that entered and was then turned away for another reason (origin failing): its
  // place is given back and it counts as shed.
  void shedAfterEntering();
  size_t inflight() const { return inflight_.load(std::memory_order_relaxed); }

 private:
  int64_t now() const;
  int64_t shedRetryAfter();

  std::function<int64_t()> now_ms_;
  std::function<double()> spread_;
  const base::Counter& answered_;
  std::atomic<size_t> inflight_{0};
  // The shed/answered window behind shedRetryAfter: counter values when the current window
  // began, and the last full window's counts (approximate under races, which is enough).
  std::atomic<int64_t> window_start_ms_{0};
  std::atomic<uint64_t> window_shed_at_{0};
  std::atomic<uint64_t> window_answered_at_{0};
  std::atomic<uint64_t> last_shed_{0};
  std::atomic<uint64_t> last_answered_{0};
  base::Gauge& inflight_gauge_;
  base::Counter& shed_;
  base::Gauge& shed_retry_after_;
};

}  // namespace surge::edge
