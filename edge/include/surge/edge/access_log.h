// Access log files. Workers append a line to a file's buffer under a short lock and never write to
// the file: a writer thread per file flushes its buffer every 100 ms. When the disk cannot keep
// up, lines beyond the buffer bound are dropped and counted, not waited for. What a line holds is
// log_format.h's.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "surge/base/metrics.h"
#include "surge/base/result.h"

namespace surge::edge {

class AccessLog {
 public:
  explicit AccessLog(base::Counter& dropped);
  ~AccessLog();
  // Opens (or reopens, after logrotate moved the file: SIGHUP) `path` for appending.
  base::Result<base::Done, std::string> open(const std::string& path);
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
  base::Counter& dropped_;
};

// One file an access_log directive names, bound to its writer by EdgeServer when it starts or
// reloads (several directives naming one path share one).
struct AccessLogFile {
  explicit AccessLogFile(std::string p) : path(std::move(p)) {}
  std::string path;
  std::atomic<AccessLog*> writer{nullptr};
};

// Every file the configuration's access_log directives name, each with its writer, kept for the
// server's life (a worker may still hold a file a reload dropped: it is closed, not freed).
class AccessLogs {
 public:
  explicit AccessLogs(base::MetricsRegistry& metrics);
  // Opens each of `files` (again, when already open: logrotate moved it and sent SIGHUP) and
  // binds it to its writer. Returns what failed.
  std::vector<std::string> bind(const std::vector<std::shared_ptr<AccessLogFile>>& files);
  // Closes the writers none of `files` names (after a reload has swapped the configuration).
  void retire(const std::vector<std::shared_ptr<AccessLogFile>>& files);
  // SIGUSR1: every open file opened again by its name. Returns what failed.
  std::vector<std::string> reopen();

 private:
  std::mutex mutex_;  // start, reload and signals; never a worker
  base::Counter& dropped_;
  std::map<std::string, std::unique_ptr<AccessLog>> writers_;
  std::vector<std::string> open_;  // the paths the current configuration names
};

}  // namespace surge::edge
