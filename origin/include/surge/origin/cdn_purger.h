// CdnPurger: tells the CDNs in front of the edges which tags to drop when snapshots change
// (issue 19). The publisher hands it the tags of every snapshot it wrote with a new version; each
// endpoint (cdn_endpoint.h) has its own queue and thread, so a dead CDN slows nothing else:
//
// - Never blocking publishing: purge() adds tags to the queues under a lock and returns.
// - After the edges: a tag is sent `delay` after the change (the edges' surge_refresh_interval
//   and a margin), so the CDN's next request finds the new version at every edge. A tag that
//   changes again while waiting is sent again `delay` after that change, so every change is
//   followed by a purge that comes after the edges hold it.
// - Batched: the tags due go out together, up to the provider's tags per request; a tag waiting
//   is sent once however many changes it had (2,000 bookings a second are a few hundred tags).
// - Within the provider's documented limits: token buckets of requests and of tags.
// - Retried with backoff (250 ms doubling to 30 s) on a connect or read failure, a 429 or a 5xx;
//   a 4xx that no retry can fix (a bad token) is counted and logged, its tags dropped.
// - Metrics per endpoint: requests sent and failed, retries, tags sent (tags per request is the
//   batching), tags waiting, and the age of the oldest.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "surge/base/metrics.h"
#include "surge/origin/cdn_endpoint.h"

namespace surge::origin {

class CdnPurger {
 public:
  struct Options {
    std::chrono::milliseconds delay{1500};
    std::chrono::milliseconds timeout{5000};  // connect, send and answer
    std::chrono::milliseconds backoff_min{250};
    std::chrono::milliseconds backoff_max{30000};
    size_t max_waiting = 100000;  // tags per endpoint; beyond, new tags are dropped and counted
  };

  CdnPurger(std::vector<CdnEndpoint> endpoints, base::MetricsRegistry& metrics, Options options);
  ~CdnPurger();
  CdnPurger(const CdnPurger&) = delete;
  CdnPurger& operator=(const CdnPurger&) = delete;

  void start();
  void stop();

  // Any thread; returns at once. Sent `delay` after this call.
  void purge(const std::vector<std::string>& tags);
  // The operator's (surgectl purge): sent at once.
  void purgeNow(const std::vector<std::string>& tags);

  bool empty() const { return endpoints_.empty(); }

 private:
  struct Endpoint;
  void enqueue(const std::vector<std::string>& tags, std::chrono::milliseconds after);

  Options options_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
};

}  // namespace surge::origin
