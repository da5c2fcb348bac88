// The circuit between an edge and a failing origin, apart from the wire code (as Envoy keeps its
// outlier detection). Closed: everything goes to origin; kTripAfter failed exchanges in a row
// open it. Open: everything is shed for the backoff (backoff_min doubling to backoff_max). Then
// half-open: one request goes through as the probe, the rest are still shed; the probe's success
// closes the circuit, its failure opens it again for twice as long. Outcomes of exchanges admitted
// before the circuit opened change nothing (a burst of timeouts is one failure, not six
// doublings; a late success is not a probe), and operator traffic (kOps: the dashboard's scrape of
// origin's /metrics) never touches it: a scrape that succeeds says nothing about bookings.
// Thread-safe without locks: every worker asks and reports.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

namespace surge::edge {

class CircuitBreaker {
 public:
  struct Options {
    std::chrono::milliseconds backoff_min{250};
    std::chrono::milliseconds backoff_max{5000};
    // A probe that never reports back stops counting after this (at least backoff_max, so that
    // zero timeouts cannot turn probing into a flood).
    std::chrono::milliseconds probe_expiry{5000};
  };
  enum class Role { kNormal, kProbe, kOps };
  static constexpr int kTripAfter = 5;

  // `now_ms`: a steady clock in milliseconds (tests move it).
  explicit CircuitBreaker(std::function<int64_t()> now_ms = {});

  // Whether a request may go to origin now, and as what. False: shed it, and tell the client to
  // come back after `retry_after_s`.
  bool admit(const Options& o, int64_t& retry_after_s, Role& role);
  void succeeded(Role role);
  void failed(const Options& o, Role role);
  // Open and not yet half-open: how long is left, in whole seconds (at least 1).
  bool backingOff(int64_t& retry_after_s) const;

 private:
  int64_t now() const;
  std::function<int64_t()> now_ms_;
  std::atomic<int64_t> down_until_ms_{0};
  std::atomic<int64_t> backoff_ms_{0};
  std::atomic<int64_t> probe_since_ms_{0};  // half-open: when the one request let through left
  std::atomic<int> consecutive_failures_{0};
};

}  // namespace surge::edge
