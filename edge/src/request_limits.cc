#include "surge/edge/request_limits.h"

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

}  // namespace surge::edge
