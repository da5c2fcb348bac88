// PullCache: large content an edge does not hold, fetched from a content origin once and kept on
// local disk (issue 19), so that big files need no copy to every edge ahead of time.
//
// - One fetch however many wait: the first miss of a path starts it, the others join its waiters.
// - Kept whole or not at all: the body is written to a temporary name beside the cache, checked
//   against its Content-Length and, when the content origin sends one, its digest (RFC 9530
//   Repr-Digest or RFC 3230 Digest, sha-256), flushed, then renamed into place.
// - Bounded: past `max_bytes` the least recently used files are removed.
// - A Range inside what has arrived of a file being fetched is answered from the partial
//   download (pull_handler.cc); other requests for it wait for the whole file.
// - Survives a restart: the files found in the directory at start are the cache (a temporary one
//   left by a crash is removed).
// The fetches run on the cache's own threads (blocking HTTP/1.1 and disk writes), never on a
// worker's loop; a waiter hears back through the callback it gave, on the cache's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "surge/base/metrics.h"
#include "surge/base/result.h"

namespace surge::edge {

struct PullSettings {
  std::string origin;     // "http://host:port" or "https://host[:port]", a path prefix allowed
  std::string directory;  // where fetched files are kept (made at start)
  uint64_t max_bytes = 1ull << 30;
  std::chrono::milliseconds timeout{30000};  // connect, and each read of the download
  bool operator==(const PullSettings&) const = default;
};

class PullCache {
 public:
  enum class Outcome { kReady, kNotFound, kFailed };
  using Done = std::function<void(Outcome)>;

  PullCache(PullSettings settings, base::MetricsRegistry& metrics);
  ~PullCache();
  PullCache(const PullCache&) = delete;
  PullCache& operator=(const PullCache&) = delete;

  // Makes the directory, takes the files in it as the cache, starts the fetch threads.
  base::Result<base::Done, std::string> start();
  void stop();

  // `uri`: the request's normalized path ("/media/a.mp4"). Held whole on disk now? (A hit also
  // marks it recently used.)
  bool holds(const std::string& uri);
  // Fetches `uri` unless a fetch of it is under way; `done` runs once it is over, on a cache
  // thread. False when too many paths are being fetched already (the caller answers 503).
  bool fetch(const std::string& uri, Done done);

  const PullSettings& settings() const { return settings_; }

  // A download under way whose length is known: how much of it is on disk, under `path`, so that
  // a Range inside that part is answered before the rest has come. `path` is renamed into place
  // when the download ends: an open of it that fails means "held whole now, or failed".
  struct Partial {
    std::string path;
    uint64_t total = 0;
    std::string content_type;
    std::atomic<uint64_t> written{0};
  };
  std::shared_ptr<const Partial> partial(const std::string& uri);

 private:
  struct Entry {
    uint64_t size = 0;
    std::list<std::string>::iterator lru;  // front: most recently used
  };
  void loop();
  Outcome download(const std::string& uri);
  void keep(const std::string& uri, uint64_t size);  // mutex_ held
  void evict();                                      // mutex_ held

  PullSettings settings_;
  std::string host_, prefix_;
  int port_ = 80;
  bool tls_ = false;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::unordered_map<std::string, Entry> held_;
  std::list<std::string> lru_;
  uint64_t bytes_ = 0;
  std::unordered_map<std::string, std::vector<Done>> waiting_;  // fetches under way or queued
  std::unordered_map<std::string, std::shared_ptr<Partial>> partials_;  // with a known length
  std::deque<std::string> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> temp_counter_{0};

  base::Counter& fetches_;
  base::Counter& fetch_failures_;
  base::Counter& coalesced_;
  base::Counter& evictions_;
  base::Gauge& bytes_gauge_;
};

}  // namespace surge::edge
