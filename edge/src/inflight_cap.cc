#include "surge/edge/inflight_cap.h"

#include <algorithm>
#include <chrono>

namespace surge::edge {
namespace {

// A number in [0, 1) for the Retry-After spread: xorshift per thread, no locks, no exceptions.
double threadSpread() {
  thread_local uint64_t state =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
      reinterpret_cast<uintptr_t>(&state) ^ 0x9e3779b97f4a7c15;
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return static_cast<double>(state >> 11) / static_cast<double>(uint64_t{1} << 53);
}

}  // namespace

int64_t backlogRetryAfter(uint64_t shed, uint64_t answered, double spread) {
  // Nothing answered while the cap is full: origin is slow, and the backlog drains no faster
  // than one answer per window.
  double base =
      1.0 + static_cast<double>(shed) / static_cast<double>(std::max<uint64_t>(answered, 1));
  double seconds = base * (1.0 + std::clamp(spread, 0.0, 1.0) / 2);
  if (!(seconds < static_cast<double>(kMaxShedRetryAfter))) return kMaxShedRetryAfter;
  return std::max<int64_t>(1, static_cast<int64_t>(seconds));
}

InflightCap::InflightCap(base::MetricsRegistry& metrics, const base::Counter& answered,
                         std::function<int64_t()> now_ms, std::function<double()> spread,
                         const std::string& labels)
    : now_ms_(std::move(now_ms)),
      spread_(std::move(spread)),
      answered_(answered),
      inflight_gauge_(metrics.gauge("surge_edge_origin_inflight",
                                    "Requests sent to origin and not answered yet", labels)),
      shed_(metrics.counter("surge_edge_origin_shed_total",
                            "Writes answered 503 at once: over the in-flight cap or origin down",
                            labels)),
      shed_retry_after_(
          metrics.gauge("surge_edge_origin_shed_retry_after_seconds",
                        "Retry-After given to writes shed over the in-flight cap, before its "
                        "spread: 1 + shed / answered in the last second",
                        labels)) {
  window_start_ms_.store(now(), std::memory_order_relaxed);
}

int64_t InflightCap::now() const {
  if (now_ms_) return now_ms_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool InflightCap::enter(size_t max, int64_t& retry_after_s) {
  if (inflight_.fetch_add(1, std::memory_order_relaxed) >= max) {
    inflight_.fetch_sub(1, std::memory_order_relaxed);
    retry_after_s = shedRetryAfter();  // before this shed counts: it is the window's
    shed_.add();
    return false;
  }
  inflight_gauge_.add(1);
  return true;
}

void InflightCap::leave() {
  inflight_.fetch_sub(1, std::memory_order_relaxed);
  inflight_gauge_.add(-1);
}

void InflightCap::shedAfterEntering() {
  leave();
  shed_.add();
}

// Rolls the window at most once a second, on the shedding path only: a window that lasted longer
// (nothing was shed for a while) still gives the right ratio.
int64_t InflightCap::shedRetryAfter() {
  int64_t t = now();
  int64_t start = window_start_ms_.load(std::memory_order_relaxed);
  if (t - start >= 1000 &&
      window_start_ms_.compare_exchange_strong(start, t, std::memory_order_relaxed)) {
    uint64_t shed = shed_.value();
    uint64_t answered = answered_.value();
    last_shed_.store(shed - window_shed_at_.exchange(shed, std::memory_order_relaxed),
                     std::memory_order_relaxed);
    last_answered_.store(
        answered - window_answered_at_.exchange(answered, std::memory_order_relaxed),
        std::memory_order_relaxed);
    shed_retry_after_.set(backlogRetryAfter(last_shed_.load(std::memory_order_relaxed),
                                            last_answered_.load(std::memory_order_relaxed), 0));
  }
  return backlogRetryAfter(last_shed_.load(std::memory_order_relaxed),
                           last_answered_.load(std::memory_order_relaxed),
                           spread_ ? spread_() : threadSpread());
}

}  // namespace surge::edge
