// AttemptLimiter: at most `attempts` per key (a client address, a person id) in any `window`,
// for requests that guess at a secret (a booking code). Every attempt counts, right or wrong, so
// being limited says nothing about whether a guess was right.
//
// A fixed window per key, started by its first attempt. The table is bounded: when it is full,
// expired keys are dropped, and while it stays full new keys are refused (fail closed: an attacker
// spreading attempts over many keys must not make the limit forget the ones under attack). Any
// thread; one mutex (these requests are few and nothing is held across I/O).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace surge::http {

class AttemptLimiter {
 public:
  struct Options {
    uint32_t attempts = 10;
    std::chrono::seconds window{60};
    size_t max_keys = 100000;
  };
  explicit AttemptLimiter(Options options) : options_(options) {}

  // 0 when the attempt may go ahead (and is counted); otherwise the seconds until `key` may try
  // again (for Retry-After).
  int64_t attempt(std::string_view key,
                  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

  // Without counting: 0 when `key` may try now, else the seconds until it may. For limits on
  // failures only (a resume code): ask first, count with attempt() when the try failed.
  int64_t blocked(std::string_view key,
                  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

  void setOptions(Options options);

 private:
  struct Window {
    std::chrono::steady_clock::time_point start;
    uint32_t count = 0;
  };
  std::mutex mutex_;
  Options options_;
  std::unordered_map<std::string, Window> windows_;
};

}  // namespace surge::http
