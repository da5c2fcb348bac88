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
// - Coarser when behind: a provider's limits can be far below what an opening day changes
//   (Akamai: 500 tags a minute; 2,000 bookings a second change ~1,400 clinic and region snapshots
//   a second). Once an endpoint has more tags waiting than its limits let out in `backlog`, a
//   changed snapshot is purged by its coarser tag instead (a clinic's by its region's, which every
//   clinic snapshot of the region carries): more is dropped from the CDN, and fewer tags wait.
// - Metrics per endpoint: requests sent and failed, retries, tags sent (tags per request is the
//   batching), tags waiting, the age of the oldest, and tags sent coarser.
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
    // How much waiting an endpoint may have (at its limits) before tags go out coarser.
    std::chrono::seconds backlog{5};
  };

  // A tag, and the coarser one that also purges what it names ("" none).
  struct Tag {
    std::string tag;
    std::string coarse;
  };

  CdnPurger(std::vector<CdnEndpoint> endpoints, base::MetricsRegistry& metrics, Options options);
  ~CdnPurger();
  CdnPurger(const CdnPurger&) = delete;
  CdnPurger& operator=(const CdnPurger&) = delete;

  void start();
  void stop();

  // Any thread; returns at once. Sent `delay` after this call.
  void purge(const std::vector<Tag>& tags);
  // The operator's (surgectl purge): sent at once.
  void purgeNow(const std::vector<std::string>& tags);

  bool empty() const { return endpoints_.empty(); }

 private:
  struct Endpoint;
  void enqueue(const std::vector<Tag>& tags, std::chrono::milliseconds after);

  Options options_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
};

}  // namespace surge::origin
