#include "surge/origin/cdn_purger.h"

#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "surge/http/client.h"

namespace surge::origin {
namespace {

using Clock = std::chrono::steady_clock;

// Tokens refilled at `rate` a second up to `burst`; rate 0: no limit.
struct TokenBucket {
  double rate = 0, burst = 0, tokens = 0;
  Clock::time_point at = Clock::now();
  void refill(Clock::time_point now) {
    if (rate <= 0) return;
    tokens = std::min(burst, tokens + rate * std::chrono::duration<double>(now - at).count());
    at = now;
  }
  bool limited() const { return rate > 0; }
  // When `n` tokens will be there.
  Clock::time_point whenFor(double n, Clock::time_point now) const {
    if (rate <= 0 || tokens >= n) return now;
    return now + std::chrono::duration_cast<Clock::duration>(
                     std::chrono::duration<double>((n - tokens) / rate));
  }
};

std::string nonce() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char out[37];
  uint64_t a = rng(), b = rng();
  std::snprintf(out, sizeof out, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return out;
}

}  // namespace

struct CdnPurger::Endpoint {
  struct Waiting {
    Clock::time_point first;  // when it was first asked for (the oldest-age metric)
    Clock::time_point due;    // `delay` after the change it was asked for
    Clock::time_point again;  // a later change's due time, once this one is sent
  };

  Endpoint(CdnEndpoint e, base::MetricsRegistry& metrics, const Options& o)
      : config(std::move(e)),
        options(o),
        sent(metrics.counter("surge_origin_purge_requests_total",
                             "Purge requests to CDNs, by endpoint and outcome",
                             label(",outcome=\"sent\""))),
        failed(metrics.counter("surge_origin_purge_requests_total",
                               "Purge requests to CDNs, by endpoint and outcome",
                               label(",outcome=\"failed\""))),
        retried(metrics.counter("surge_origin_purge_retries_total",
                                "Purge requests to be sent again after a failure", label())),
        tags_sent(metrics.counter(
            "surge_origin_purge_tags_total",
            "Tags in the purge requests CDNs accepted (per request: batching)", label())),
        coarsened(metrics.counter("surge_origin_purge_coarsened_total",
                                  "Tags purged by their coarser tag: the endpoint was behind",
                                  label())),
        dropped(metrics.counter("surge_origin_purge_dropped_total",
                                "Tags not queued: the endpoint's queue was full", label())),
        queued(metrics.gauge("surge_origin_purge_queue", "Tags waiting to be purged", label())),
        oldest(metrics.gauge("surge_origin_purge_oldest_seconds",
                             "Age of the oldest tag waiting to be purged", label())) {
    requests.rate = config.requests_per_second;
    requests.burst = requests.tokens = config.request_burst;
    tags.rate = config.tags_per_second;
    tags.burst = tags.tokens = config.tag_burst;
  }

  // The metrics' labels of this endpoint, and `more` after them.
  std::string label(const char* more = "") const {
    return "endpoint=\"" + config.name + "\"" + more;
  }

  // Tags its limits let out in `window` (requests alone when tags have no limit of their own).
  double budget(std::chrono::seconds window) const {
    double by_requests = config.requests_per_second * static_cast<double>(config.tags_per_request);
    double per_second =
        tags.limited() ? std::min(config.tags_per_second, by_requests) : by_requests;
    return per_second * static_cast<double>(window.count());
  }

  void add(const std::vector<CdnPurger::Tag>& list, std::chrono::milliseconds after) {
    const auto now = Clock::now();
    const auto due = now + after;
    {
      std::lock_guard lock(mutex);
      const bool behind = static_cast<double>(waiting.size()) > budget(options.backlog);
      for (const CdnPurger::Tag& t : list) {
        const std::string& tag = behind && !t.coarse.empty() ? t.coarse : t.tag;
        if (&tag == &t.coarse) coarsened.add();
        auto it = waiting.find(tag);
        if (it != waiting.end()) {
          it->second.again = std::max(it->second.again, due);
          continue;
        }
        if (waiting.size() >= options.max_waiting) {
          dropped.add();
          continue;
        }
        waiting.emplace(tag, Waiting{now, due, due});
      }
      queued.set(static_cast<int64_t>(waiting.size()));
    }
    wake.notify_one();
  }

  void run() {
    pthread_setname_np(pthread_self(), "cdn-purge");
    http::HttpClient client(config.host, config.port, options.timeout);
    std::chrono::milliseconds backoff{0};
    std::unique_lock lock(mutex);
    while (!stopping) {
      const auto now = Clock::now();
      requests.refill(now);
      tags.refill(now);
      // The tags due, oldest first, as many as one request and the tag tokens allow.
      std::vector<std::pair<Clock::time_point, std::string>> due;
      Clock::time_point next = Clock::time_point::max();
      Clock::time_point first = Clock::time_point::max();
      for (const auto& [tag, w] : waiting) {
        first = std::min(first, w.first);
        if (w.due <= now) {
          due.emplace_back(w.due, tag);
        } else {
          next = std::min(next, w.due);
        }
      }
      oldest.set(waiting.empty()
                     ? 0
                     : std::chrono::duration_cast<std::chrono::seconds>(now - first).count());
      size_t take = std::min(due.size(), config.tags_per_request);
      if (tags.limited()) take = std::min(take, static_cast<size_t>(tags.tokens));
      if (!due.empty() && take > 0 && requests.tokens >= 1 && backoff_until <= now) {
        std::sort(due.begin(), due.end());
        std::vector<std::string> batch;
        for (size_t i = 0; i < take; ++i) {
          const std::string& tag = due[i].second;
          auto it = waiting.find(tag);
          if (it->second.again > it->second.due) {
            // Changed again since: once more after that change, waiting since it.
            it->second.due = it->second.again;
            it->second.first = it->second.again - options.delay;
          } else {
            waiting.erase(it);
          }
          batch.push_back(tag);
        }
        queued.set(static_cast<int64_t>(waiting.size()));
        requests.tokens -= 1;
        if (tags.limited()) tags.tokens -= static_cast<double>(batch.size());
        lock.unlock();
        bool retry = send(client, batch);
        lock.lock();
        if (retry) {
          retried.add();
          backoff = backoff.count() == 0 ? options.backoff_min
                                         : std::min(backoff * 2, options.backoff_max);
          backoff_until = Clock::now() + backoff;
          const auto again = Clock::now();
          for (const std::string& tag : batch) {
            auto [it, inserted] = waiting.emplace(tag, Waiting{again, again, again});
            if (!inserted) it->second.due = std::min(it->second.due, again);
          }
          queued.set(static_cast<int64_t>(waiting.size()));
        } else {
          backoff = std::chrono::milliseconds(0);
        }
        continue;
      }
      // Nothing to send now: wait for the next due tag, tokens, the backoff, or new tags.
      if (!due.empty()) {
        next = std::max(requests.whenFor(1, now), backoff_until);
        if (tags.limited()) next = std::max(next, tags.whenFor(1, now));
      }
      if (next == Clock::time_point::max()) {
        wake.wait(lock, [&] { return stopping || changed(); });
      } else {
        wake.wait_until(lock, std::max(next, now + std::chrono::milliseconds(1)));
      }
    }
  }

  // Something new arrived since the last look (a cheap test for the untimed wait).
  bool changed() const { return !waiting.empty(); }

  // Sends one batch; true when it should be sent again.
  bool send(http::HttpClient& client, const std::vector<std::string>& batch) {
    if (config.tls && !tls_ready) {
      // Never in clear text to an https endpoint: until TLS is set up, nothing goes.
      auto tls = client.useTls(config.ca_file);
      tls_ready = tls.ok();
      if (!tls_ready) {
        failed.add();
        std::fprintf(stderr, "surge-origin: %s (%s): %s\n", config.name.c_str(),
                     config.where.c_str(), tls.error().c_str());
        return true;
      }
    }
    PurgeRequest r = purgeRequest(config, batch,
                                  std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count(),
                                  nonce());
    auto answer = client.request(r.method, r.target, r.headers, r.body);
    if (answer && answer->status >= 200 && answer->status < 300) {
      sent.add();
      tags_sent.add(batch.size());
      return false;
    }
    failed.add();
    std::string why = answer ? "HTTP " + std::to_string(answer->status) : answer.error();
    bool again = !answer || answer->status == 429 || answer->status >= 500 || answer->status == 408;
    auto now = std::chrono::steady_clock::now();
    if (now - logged > std::chrono::seconds(1)) {
      logged = now;
      std::fprintf(stderr, "surge-origin: purge of %zu tags at %s (%s): %s%s\n", batch.size(),
                   config.name.c_str(), config.where.c_str(), why.c_str(),
                   again ? "; sent again later" : "; dropped (no retry fixes it)");
    }
    return again;
  }

  CdnEndpoint config;
  const Options& options;
  base::Counter& sent;
  base::Counter& failed;
  base::Counter& retried;
  base::Counter& tags_sent;
  base::Counter& coarsened;
  base::Counter& dropped;
  base::Gauge& queued;
  base::Gauge& oldest;

  std::mutex mutex;
  std::condition_variable wake;
  std::unordered_map<std::string, Waiting> waiting;
  TokenBucket requests, tags;
  Clock::time_point backoff_until{};
  Clock::time_point logged{};
  bool stopping = false;
  bool tls_ready = false;  // the purge thread's own
  std::thread thread;
};

CdnPurger::CdnPurger(std::vector<CdnEndpoint> endpoints, base::MetricsRegistry& metrics,
                     Options options)
    : options_(options) {
  for (CdnEndpoint& e : endpoints)
    endpoints_.push_back(std::make_unique<Endpoint>(std::move(e), metrics, options_));
}

CdnPurger::~CdnPurger() {
  stop();
}

void CdnPurger::start() {
  for (auto& e : endpoints_) {
    if (!e->thread.joinable()) e->thread = std::thread([ep = e.get()] { ep->run(); });
  }
}

void CdnPurger::stop() {
  for (auto& e : endpoints_) {
    {
      std::lock_guard lock(e->mutex);
      e->stopping = true;
    }
    e->wake.notify_all();
    if (e->thread.joinable()) e->thread.join();
  }
}

void CdnPurger::enqueue(const std::vector<Tag>& tags, std::chrono::milliseconds after) {
  if (tags.empty()) return;
  for (auto& e : endpoints_)
    e->add(tags, after);
}

void CdnPurger::purge(const std::vector<Tag>& tags) {
  enqueue(tags, options_.delay);
}

void CdnPurger::purgeNow(const std::vector<std::string>& tags) {
  std::vector<Tag> exact;
  exact.reserve(tags.size());
  for (const std::string& t : tags)
    exact.push_back(Tag{t, ""});  // an operator's tags go as they are
  enqueue(exact, std::chrono::milliseconds(0));
}

}  // namespace surge::origin
