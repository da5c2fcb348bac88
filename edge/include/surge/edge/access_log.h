// The access log, in nginx's "combined" format. Workers append a line to a buffer under a short
// lock and never write to the file: a writer thread flushes the buffer every 100 ms. When the disk
// cannot keep up, lines beyond the buffer bound are dropped and counted, not waited for.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "surge/cache/metrics.h"
#include "surge/cache/result.h"

namespace surge::edge {

class AccessLog {
 public:
  AccessLog(cache::MetricsRegistry& metrics);
  ~AccessLog();
  // Opens (or reopens, after logrotate moved the file: SIGHUP) `path` for appending.
  cache::Result<cache::Done, std::string> open(const std::string& path);
  void close();
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  void write(std::string_view line);  // one line, without the newline

  static constexpr size_t kMaxBuffered = 16u << 20;

 private:
  void loop();
  std::mutex mutex_;  // the buffer; workers hold it only to append
  std::condition_variable wake_;
  std::string buffer_;
  std::mutex file_mutex_;  // the writer thread and open/close only
  std::FILE* file_ = nullptr;
  bool stopping_ = false;
  std::atomic<bool> enabled_{false};
  std::thread thread_;
  cache::Counter& dropped_;
};

// $remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer"
// "$http_user_agent", with nginx's escaping of quotes, backslashes and control bytes (\xHH).
std::string combinedLine(std::string_view remote_addr, time_t when, std::string_view request_line,
                         int status, uint64_t body_bytes, std::string_view referer,
                         std::string_view user_agent);

}  // namespace surge::edge
