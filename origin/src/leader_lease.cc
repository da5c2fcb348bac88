#include "surge/origin/leader_lease.h"

#include <pthread.h>

#include "surge/origin/postgres_connection.h"

namespace surge::origin {

namespace {
int64_t steadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

LeaderLease::LeaderLease(std::string conninfo, std::string name, base::MetricsRegistry& metrics,
                         Options options)
    : conninfo_(std::move(conninfo)),
      name_(std::move(name)),
      options_(options),
      gauge_(metrics.gauge("surge_origin_leader",
                           "1 while this origin holds the lease of the waiting room's pacer")),
      acquired_(metrics.counter("surge_origin_leader_acquired_total",
                                "Times this origin took the pacer's lease")) {}

LeaderLease::~LeaderLease() {
  stop();
}

void LeaderLease::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "leader-lease");
    loop();
  });
}

void LeaderLease::stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  held_.store(false);
  gauge_.set(0);
}

bool LeaderLease::leading() const {
  return held_.load(std::memory_order_acquire) &&
         steadyNs() - confirmed_ns_.load(std::memory_order_acquire) <
             std::chrono::duration_cast<std::chrono::nanoseconds>(options_.hold).count();
}

void LeaderLease::loop() {
  PostgresConnection db;
  const std::string key = "surge lease: " + name_;
  while (!stopping_.load()) {
    if (!db.connected()) {
      held_.store(false);
      gauge_.set(0);
      auto c = PostgresConnection::connect(conninfo_, "surge-origin lease");
      if (c) {
        db = std::move(c.value());
        // The server ends this session (and frees the lock) soon after it loses sight of us.
        db.exec(
            "SET tcp_keepalives_idle = 2; SET tcp_keepalives_interval = 1; "
            "SET tcp_keepalives_count = 3; SET tcp_user_timeout = 5000");
      }
    }
    if (db.connected()) {
      PgResult r = held_.load() ? db.exec("SELECT true")
                                : db.exec("SELECT pg_try_advisory_lock(hashtext($1))", {key});
      if (r.ok() && r.text(0, 0) == "t") {
        if (!held_.load()) acquired_.add();
        confirmed_ns_.store(steadyNs(), std::memory_order_release);
        held_.store(true, std::memory_order_release);
        gauge_.set(1);
      } else if (!r.ok()) {
        // Unsure whether the session (and the lock) lives: drop it and start over.
        held_.store(false);
        gauge_.set(0);
        db = PostgresConnection();
      }
    }
    for (auto waited = std::chrono::milliseconds(0); waited < options_.renew && !stopping_.load();
         waited += std::chrono::milliseconds(50))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace surge::origin
