// OriginServer: the HTTP front of surge-origin, a handler on the shared HTTP/1.1 core (http/).
// It validates requests and hands them to the BookingWriter and the SnapshotPublisher; answers
// come back through each loop's mailbox. Nothing here blocks a loop: the store, memcached and
// catalog parsing all run on other threads.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "surge/base/metrics.h"
#include "surge/cache/keyring.h"
#include "surge/http/access_rules.h"
#include "surge/http/attempt_limiter.h"
#include "surge/http/server.h"
#include "surge/origin/admin_auth.h"
#include "surge/origin/booking_writer.h"
#include "surge/origin/cdn_purger.h"
#include "surge/origin/queue_pacer.h"
#include "surge/origin/snapshot_publisher.h"

namespace surge::origin {

struct OriginServerOptions {
  http::ServerOptions http;  // listen address, workers, limits, timeouts
  size_t max_booking_body = 4096;
  // Lookups by booking code per person id (edges limit them per client as well).
  http::AttemptLimiter::Options lookups_per_person{10, std::chrono::hours(1), 100000};
  // Who may read /metrics, /healthz and /readyz (--status-allow); empty: anyone.
  http::AccessRules status_access;
  // Verifies the edges' gap reports (signed with the snapshot keys they share with origin).
  cache::Keyring snapshot_keys;
};

class OriginServer final : public http::Handler {
 public:
  OriginServer(OriginServerOptions options, BookingWriter& writer, SnapshotPublisher& publisher,
               AdminAuth& admin, base::MetricsRegistry& metrics, QueuePacer* pacer = nullptr,
               CdnPurger* purger = nullptr);
  ~OriginServer() override;

  // Binds and starts the worker threads. Fails with a message (e.g. the port is taken).
  base::Result<base::Done, std::string> start();
  void stop();
  int port() const { return server_.port(); }

  void handle(http::Worker& worker, const http::Request& request, http::ResponseSlot slot) override;

  struct Routes;

 private:
  OriginServerOptions options_;
  BookingWriter& writer_;
  SnapshotPublisher& publisher_;
  QueuePacer* pacer_;  // the waiting room's admission cursor; null in tests without one
  CdnPurger* purger_;  // CDNs told by tag (POST /admin/v1/purge); null: none configured
  AdminAuth& admin_;
  base::MetricsRegistry& metrics_;
  std::unique_ptr<Routes> routes_;
  // Booking creations received and not answered yet: what the waiting room and the edges'
  // in-flight caps exist to bound. The high-water mark shows whether they did.
  std::atomic<int64_t> creates_in_flight_{0};
  std::atomic<int64_t> creates_in_flight_max_{0};
  base::Gauge& in_flight_gauge_;
  base::Gauge& in_flight_max_gauge_;
  http::AttemptLimiter lookups_;
  http::Server server_;
};

}  // namespace surge::origin
