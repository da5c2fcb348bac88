#include "surge/edge/request_limits.h"

#include <set>

#include <algorithm>

namespace surge::edge {
namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

RequestRateZone::RequestRateZone(std::string name, uint64_t rate_milli_per_s, size_t max_keys)
    : name_(std::move(name)), rate_(std::max<uint64_t>(rate_milli_per_s, 1)), max_keys_(max_keys) {}

std::optional<std::chrono::milliseconds> RequestRateZone::take(const std::string& key,
                                                               uint64_t burst, uint64_t delay) {
  const int64_t now = nowMs();
  const int64_t rate = static_cast<int64_t>(rate_);
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) {
      // Keys that have drained so far that their next request would be a first one hold nothing
      // worth keeping.
      std::erase_if(buckets_, [&](const auto& kv) {
        return kv.second.excess + 1000 - rate * (now - kv.second.last_ms) / 1000 <= 0;
      });
      if (buckets_.size() >= max_keys_) return std::nullopt;
    }
    buckets_.emplace(key, Bucket{0, now});
    return std::chrono::milliseconds(0);
  }
  Bucket& b = it->second;
  int64_t elapsed = now - b.last_ms;
  int64_t excess = std::max<int64_t>(b.excess - rate * elapsed / 1000 + 1000, 0);
  if (static_cast<uint64_t>(excess) > burst * 1000) return std::nullopt;  // not counted
  b.excess = excess;
  b.last_ms = now;
  const uint64_t delay_milli = delay == UINT64_MAX ? UINT64_MAX : delay * 1000;
  if (static_cast<uint64_t>(excess) <= delay_milli) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds((static_cast<uint64_t>(excess) - delay_milli) * 1000 / rate_);
}

ConnectionZone::ConnectionZone(std::string name, size_t max_keys)
    : name_(std::move(name)), max_keys_(max_keys) {}

std::shared_ptr<void> ConnectionZone::take(const std::string& key, uint64_t limit) {
  {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(key);
    if (it == counts_.end()) {
      if (counts_.size() >= max_keys_) return nullptr;
      it = counts_.emplace(key, 0).first;
    }
    if (it->second >= limit) return nullptr;
    ++it->second;
  }
  return std::shared_ptr<void>(new int(0), [zone = shared_from_this(), key](int* p) {
    delete p;
    zone->release(key);
  });
}

void ConnectionZone::release(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = counts_.find(key);
  if (it == counts_.end()) return;
  if (--it->second == 0) counts_.erase(it);
}

// limit_req_zone KEY zone=NAME:SIZE rate=Nr/s|Nr/m; limit_conn_zone KEY zone=NAME:SIZE.
bool LimitZones::zone(ConfigReader& r, const Directive& d) {
  const bool req = d.name == "limit_req_zone";
  if (!r.args(d, req ? 3 : 2, req ? 3 : 2)) return false;
  ComplexValue key;
  if (!r.complexValue(d, d.args[0], key)) return false;
  std::string name;
  uint64_t size = 0, rate = 0;
  for (size_t i = 1; i < d.args.size(); ++i) {
    const std::string& a = d.args[i];
    if (a.rfind("zone=", 0) == 0) {
      size_t colon = a.find(':');
      if (colon == std::string::npos || colon == 5) {
        return r.fail(d, "invalid zone size \"" + a + "\"");
      }
      name = a.substr(5, colon - 5);
      auto v = nginx_compat::parseSize(a.substr(colon + 1));
      if (!v || v.value() < 8192) return r.fail(d, "zone \"" + name + "\" is too small");
      size = v.value();
    } else if (req && a.rfind("rate=", 0) == 0) {
      std::string rate_text = a.substr(5);
      uint64_t per = rate_text.ends_with("r/s") ? 1 : rate_text.ends_with("r/m") ? 60 : 0;
      uint64_t n = 0;
      if (per == 0 || !r.number(d, rate_text.substr(0, rate_text.size() - 3), 1, 1000000, n)) {
        return r.fail(d, "invalid rate \"" + a + "\"");
      }
      rate = n * 1000 / per;
    } else {
      return r.fail(d, "invalid parameter \"" + a + "\"");
    }
  }
  if (name.empty()) return r.fail(d, "\"" + d.name + "\" must have \"zone\" parameter");
  if (req && rate == 0) return r.fail(d, "\"limit_req_zone\" must have \"rate\" parameter");
  if (rate_zones_.count(name) || conn_zones_.count(name)) {
    return r.fail(d, "duplicate zone \"" + name + "\"");
  }
  const size_t keys = size / 128;
  if (req) {
    rate_zones_[name] = {std::make_shared<RequestRateZone>(name, rate, keys), std::move(key)};
  } else {
    conn_zones_[name] = {std::make_shared<ConnectionZone>(name, keys), std::move(key)};
  }
  return true;
}

// limit_req and limit_conn of one level: a level with its own replaces what it inherits.
bool LimitZones::limits(ConfigReader& r, const std::vector<Directive>& block_in,
                        std::vector<LimitReq>& limit_req,
                        std::vector<LimitConn>& limit_conn) const {
  std::vector<LimitReq> reqs;
  std::vector<LimitConn> conns;
  for (const Directive& d : block_in) {
    if (d.name == "limit_req") {
      if (d.args.empty() || d.args.size() > 3 || d.has_block) return r.args(d, 1, 3);
      LimitReq l;
      for (const std::string& a : d.args) {
        uint64_t n = 0;
        if (a.rfind("zone=", 0) == 0) {
          auto it = rate_zones_.find(a.substr(5));
          if (it == rate_zones_.end()) {
            return r.fail(d, "unknown limit_req_zone \"" + a.substr(5) + "\"");
          }
          l.zone = it->second.first;
          l.key = it->second.second;
        } else if (a.rfind("burst=", 0) == 0) {
          if (!r.number(d, a.substr(6), 0, 1000000, n)) return false;
          l.burst = n;
        } else if (a == "nodelay") {
          l.delay = UINT64_MAX;
        } else if (a.rfind("delay=", 0) == 0) {
          if (!r.number(d, a.substr(6), 0, 1000000, n)) return false;
          l.delay = n;
        } else {
          return r.fail(d, "invalid parameter \"" + a + "\"");
        }
      }
      if (!l.zone) return r.fail(d, "\"limit_req\" must have \"zone\" parameter");
      reqs.push_back(std::move(l));
    } else if (d.name == "limit_conn") {
      if (!r.args(d, 2, 2)) return false;
      auto it = conn_zones_.find(d.args[0]);
      if (it == conn_zones_.end()) {
        return r.fail(d, "unknown limit_conn_zone \"" + d.args[0] + "\"");
      }
      LimitConn l{it->second.first, it->second.second, 0};
      if (!r.number(d, d.args[1], 1, 65535, l.limit)) return false;
      conns.push_back(std::move(l));
    }
  }
  if (!reqs.empty()) limit_req = std::move(reqs);
  if (!conns.empty()) limit_conn = std::move(conns);
  return true;
}

bool LimitZones::levelDirective(ConfigReader& r, const Directive& d, int& req_status,
                                int& conn_status, bool& handled) {
  handled = true;
  if (d.name == "limit_req_status" || d.name == "limit_conn_status") {
    if (!r.args(d, 1, 1)) return false;
    uint64_t code = 0;
    if (!r.number(d, d.args[0], 400, 599, code)) return false;
    (d.name == "limit_req_status" ? req_status : conn_status) = static_cast<int>(code);
  } else if (d.name == "limit_req_log_level" || d.name == "limit_conn_log_level") {
    // Accepted: surge-edge writes no message per request (a refusal is in the access log).
    if (!r.args(d, 1, 1)) return false;
    static const std::set<std::string> levels = {"info", "notice", "warn", "error"};
    if (!levels.count(d.args[0])) return r.fail(d, "invalid value \"" + d.args[0] + "\"");
  } else {
    handled = false;
  }
  return true;
}

}  // namespace surge::edge
