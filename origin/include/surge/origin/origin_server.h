// OriginServer: the HTTP front of surge-origin (libevent evhttp, one event loop per worker thread,
// SO_REUSEPORT listeners). It validates requests and hands them to the BookingWriter and the
// SnapshotPublisher; answers come back through each loop's mailbox. Nothing here blocks a loop:
// the store, memcached and catalog parsing all run on other threads.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "surge/cache/metrics.h"
#include "surge/origin/admin_auth.h"
#include "surge/origin/booking_writer.h"
#include "surge/origin/snapshot_publisher.h"

namespace surge::origin {

struct OriginServerOptions {
  std::string listen_host = "127.0.0.1";
  int listen_port = 8081;
  int workers = 2;
  int backlog = 4096;
  size_t max_booking_body = 4096;
  size_t max_admin_body = 64u << 20;
  int timeout_s = 30;
};

class OriginServer {
 public:
  OriginServer(OriginServerOptions options, BookingWriter& writer, SnapshotPublisher& publisher,
               AdminAuth& admin, cache::MetricsRegistry& metrics);
  ~OriginServer();

  // Binds and starts the worker threads. Fails with a message (e.g. the port is taken).
  cache::Result<cache::Done, std::string> start();
  // Stops accepting, lets each loop finish what it is doing, joins the threads.
  void stop();
  int port() const { return bound_port_; }

  class Worker;

 private:
  OriginServerOptions options_;
  BookingWriter& writer_;
  SnapshotPublisher& publisher_;
  AdminAuth& admin_;
  cache::MetricsRegistry& metrics_;
  std::vector<std::unique_ptr<Worker>> workers_;
  int bound_port_ = 0;
};

}  // namespace surge::origin
