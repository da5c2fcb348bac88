#include "surge/edge/circuit_breaker.h"

#include <algorithm>

namespace surge::edge {

CircuitBreaker::CircuitBreaker(std::function<int64_t()> now_ms) : now_ms_(std::move(now_ms)) {}

int64_t CircuitBreaker::now() const {
  if (now_ms_) return now_ms_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void CircuitBreaker::succeeded(Role role) {
  if (role == Role::kOps) return;
  consecutive_failures_.store(0, std::memory_order_relaxed);
  if (role != Role::kProbe) return;
  backoff_ms_.store(0, std::memory_order_relaxed);
  down_until_ms_.store(0, std::memory_order_relaxed);
  probe_since_ms_.store(0, std::memory_order_relaxed);
}

void CircuitBreaker::failed(const Options& o, Role role) {
  if (role == Role::kOps) return;
  if (role == Role::kProbe) {
    int64_t backoff = std::max(backoff_ms_.load(std::memory_order_relaxed), o.backoff_min.count());
    backoff = std::min(backoff * 2, o.backoff_max.count());
    backoff_ms_.store(backoff, std::memory_order_relaxed);
    down_until_ms_.store(now() + backoff, std::memory_order_relaxed);
    probe_since_ms_.store(0, std::memory_order_relaxed);
    return;
  }
  if (backoff_ms_.load(std::memory_order_relaxed) != 0) return;  // already open
  if (consecutive_failures_.fetch_add(1, std::memory_order_relaxed) + 1 < kTripAfter) return;
  int64_t expected = 0;
  if (backoff_ms_.compare_exchange_strong(expected, o.backoff_min.count(),
                                          std::memory_order_relaxed)) {
    down_until_ms_.store(now() + o.backoff_min.count(), std::memory_order_relaxed);
  }
}

bool CircuitBreaker::backingOff(int64_t& retry_after_s) const {
  int64_t left = down_until_ms_.load(std::memory_order_relaxed) - now();
  if (left <= 0) return false;
  retry_after_s = std::max<int64_t>(1, (left + 999) / 1000);
  return true;
}

bool CircuitBreaker::admit(const Options& o, int64_t& retry_after_s, Role& role) {
  role = Role::kNormal;
  if (backingOff(retry_after_s)) return false;
  if (backoff_ms_.load(std::memory_order_relaxed) == 0) return true;
  retry_after_s = 1;
  int64_t t = now();
  int64_t since = probe_since_ms_.load(std::memory_order_relaxed);
  int64_t expiry = std::max(o.probe_expiry.count(), o.backoff_max.count());
  if (since != 0 && t - since < expiry) return false;
  if (!probe_since_ms_.compare_exchange_strong(since, t, std::memory_order_relaxed)) return false;
  role = Role::kProbe;
  return true;
}

}  // namespace surge::edge
