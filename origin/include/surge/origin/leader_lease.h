// LeaderLease: "exactly one origin does this at a time", for origins sharing a PostgreSQL store
// (the waiting room's pacer and its high-water marks).
//
// The lease is a session-level advisory lock held on a connection of the lease's own. Every
// `renew` it is confirmed by a round trip; the holder counts itself leader only while its last
// confirmation is younger than `hold` (3 s). PostgreSQL ends a session it cannot reach after its
// keepalives give up (about 5 s here: set on the session at connect), which releases the lock
// for another origin - by then the old holder, cut off as well, has stopped leading. A process
// that dies closes its socket, and another origin takes over at its next try (within `renew`).
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "surge/base/metrics.h"
#include "surge/base/result.h"

namespace surge::origin {

class LeaderLease {
 public:
  struct Options {
    std::chrono::milliseconds renew{500};
    std::chrono::milliseconds hold{3000};
  };
  // `name`: what is led (one lock per name). `metrics` gets surge_origin_leader{name}.
  LeaderLease(std::string conninfo, std::string name, base::MetricsRegistry& metrics,
              Options options);
  ~LeaderLease();
  void start();
  void stop();
  // True while this origin holds the lease (any thread).
  bool leading() const;

 private:
  void loop();
  std::string conninfo_;
  std::string name_;
  Options options_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> held_{false};
  std::atomic<int64_t> confirmed_ns_{0};  // steady clock of the last confirmation
  std::thread thread_;
  base::Gauge& gauge_;
  base::Counter& acquired_;
};

}  // namespace surge::origin
