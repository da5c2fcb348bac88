// nginx's limit_req and limit_conn: zones shared by every worker (a mutex where nginx has shared
// memory), keyed by a value of the request (usually $binary_remote_addr).
//
// limit_req is nginx's leaky bucket: per key, `excess` requests above the rate, drained at the
// rate; a request that would take the excess beyond `burst` is refused (and not counted), one
// above `delay` (0 by default, all of burst with nodelay) waits until it conforms.
// limit_conn counts the requests of a key being answered; one over the limit is refused.
//
// A zone holds at most its size / 128 keys (nginx's rough cost of one); a full zone first drops
// the keys that have drained, then refuses (nginx answers 503 when it cannot allocate a node).
// A reload makes new zones: the counts start again.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace surge::edge {

class RequestRateZone {
 public:
  RequestRateZone(std::string name, uint64_t rate_milli_per_s, size_t max_keys);
  const std::string& name() const { return name_; }
  // How long the request must wait (0: now), or nullopt: refused. `burst` and `delay` in requests;
  // `delay` = UINT64_MAX for nodelay. The request is counted unless refused.
  std::optional<std::chrono::milliseconds> take(const std::string& key, uint64_t burst,
                                                uint64_t delay);

 private:
  struct Bucket {
    int64_t excess = 0;  // thousandths of a request
    int64_t last_ms = 0;
  };
  std::string name_;
  uint64_t rate_;  // thousandths of a request per second
  size_t max_keys_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

// Made with std::make_shared: a hold keeps its zone alive (a reload may drop the configuration
// that made it while requests still hold places).
class ConnectionZone : public std::enable_shared_from_this<ConnectionZone> {
 public:
  ConnectionZone(std::string name, size_t max_keys);
  const std::string& name() const { return name_; }
  // A hold on one of `key`'s `limit` places (released when the last copy is dropped), or nullptr:
  // all taken.
  std::shared_ptr<void> take(const std::string& key, uint64_t limit);

 private:
  void release(const std::string& key);
  std::string name_;
  size_t max_keys_;
  std::mutex mutex_;
  std::unordered_map<std::string, uint64_t> counts_;
};

}  // namespace surge::edge
