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
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "surge/edge/config_reader.h"
#include "surge/edge/variables.h"

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

// `limit_req zone=NAME [burst=N] [nodelay | delay=N];` and `limit_conn ZONE N;` of a level.
struct LimitReq {
  std::shared_ptr<RequestRateZone> zone;
  ComplexValue key;  // the zone's key
  uint64_t burst = 0;
  uint64_t delay = 0;  // UINT64_MAX: nodelay
};
struct LimitConn {
  std::shared_ptr<ConnectionZone> zone;
  ComplexValue key;
  uint64_t limit = 1;
};

// limit_req_zone and limit_conn_zone by name, as the configuration declares them, and the
// limit_req / limit_conn lines of each level that use them.
class LimitZones {
 public:
  // limit_req_zone KEY zone=NAME:SIZE rate=Nr/s|Nr/m; limit_conn_zone KEY zone=NAME:SIZE.
  bool zone(ConfigReader& reader, const Directive& d);
  // limit_req and limit_conn of one level's block: a level with its own replaces what it
  // inherits.
  bool limits(ConfigReader& reader, const std::vector<Directive>& block,
              std::vector<LimitReq>& limit_req, std::vector<LimitConn>& limit_conn) const;
  // limit_req_status, limit_conn_status, limit_req_log_level, limit_conn_log_level; false in
  // `handled` for any other directive.
  static bool levelDirective(ConfigReader& reader, const Directive& d, int& req_status,
                             int& conn_status, bool& handled);

 private:
  std::map<std::string, std::pair<std::shared_ptr<RequestRateZone>, ComplexValue>> rate_zones_;
  std::map<std::string, std::pair<std::shared_ptr<ConnectionZone>, ComplexValue>> conn_zones_;
};

}  // namespace surge::edge
