#include "surge/http/attempt_limiter.h"

#include <algorithm>

namespace surge::http {

int64_t AttemptLimiter::attempt(std::string_view key, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto secondsLeft = [&](const Window& w) {
    auto left = std::chrono::ceil<std::chrono::seconds>(w.start + options_.window - now).count();
    return std::max<int64_t>(1, left);
  };
  auto it = windows_.find(std::string(key));
  if (it == windows_.end()) {
    if (windows_.size() >= options_.max_keys) {
      std::erase_if(windows_,
                    [&](const auto& entry) { return now - entry.second.start >= options_.window; });
      if (windows_.size() >= options_.max_keys) {
        return std::max<int64_t>(1,
                                 std::chrono::ceil<std::chrono::seconds>(options_.window).count());
      }
    }
    it = windows_.emplace(std::string(key), Window{now, 0}).first;
  }
  Window& w = it->second;
  if (now - w.start >= options_.window) w = Window{now, 0};
  if (w.count >= options_.attempts) return secondsLeft(w);
  ++w.count;
  return 0;
}

int64_t AttemptLimiter::blocked(std::string_view key, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = windows_.find(std::string(key));
  if (it == windows_.end() || now - it->second.start >= options_.window) return 0;
  if (it->second.count < options_.attempts) return 0;
  auto left = std::chrono::ceil<std::chrono::seconds>(it->second.start + options_.window - now);
  return std::max<int64_t>(1, left.count());
}

void AttemptLimiter::setOptions(Options options) {
  std::lock_guard lock(mutex_);
  options_ = options;
}

}  // namespace surge::http
