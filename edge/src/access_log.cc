#include "surge/edge/access_log.h"

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace surge::edge {

AccessLog::AccessLog(base::Counter& dropped) : dropped_(dropped) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "access-log");
    loop();
  });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  if (file_) std::fclose(file_);
}

base::Result<base::Done, std::string> AccessLog::open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "ae");
  if (f == nullptr) return base::fail("access_log " + path + ": " + std::strerror(errno));
  std::FILE* old;
  {
    std::lock_guard lock(file_mutex_);  // waits for a write in progress, never for a worker
    old = file_;
    file_ = f;
  }
  if (old) std::fclose(old);
  enabled_.store(true, std::memory_order_relaxed);
  return base::Done{};
}

void AccessLog::close() {
  enabled_.store(false, std::memory_order_relaxed);
  std::FILE* old;
  {
    std::lock_guard lock(file_mutex_);
    old = file_;
    file_ = nullptr;
  }
  if (old) std::fclose(old);
}

void AccessLog::write(std::string_view line) {
  std::lock_guard lock(mutex_);
  if (buffer_.size() + line.size() + 1 > kMaxBuffered) {
    dropped_.add();
    return;
  }
  buffer_.append(line);
  buffer_ += '\n';
}

void AccessLog::loop() {
  std::string pending;
  while (true) {
    bool stop;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_; });
      pending.clear();
      pending.swap(buffer_);  // workers only ever wait for this swap
      stop = stopping_;
    }
    {
      std::lock_guard lock(file_mutex_);
      if (file_ && !pending.empty()) {
        std::fwrite(pending.data(), 1, pending.size(), file_);
        std::fflush(file_);
      }
    }
    if (stop) break;
  }
}

AccessLogs::AccessLogs(base::MetricsRegistry& metrics)
    : dropped_(metrics.counter("surge_edge_access_log_dropped_total",
                               "Access log lines dropped because the disk could not keep up")) {}

std::vector<std::string> AccessLogs::bind(
    const std::vector<std::shared_ptr<AccessLogFile>>& files) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> failed;
  std::vector<std::string> now;
  for (const auto& file : files) {
    auto& writer = writers_[file->path];
    if (!writer) writer = std::make_unique<AccessLog>(dropped_);
    if (auto ok = writer->open(file->path); !ok) failed.push_back(ok.error());
    file->writer.store(writer.get(), std::memory_order_release);
    now.push_back(file->path);
  }
  // Added to what stays open until retire(): a worker may still write with the configuration
  // this one replaces.
  for (std::string& path : now) {
    if (std::find(open_.begin(), open_.end(), path) == open_.end())
      open_.push_back(std::move(path));
  }
  return failed;
}

void AccessLogs::retire(const std::vector<std::shared_ptr<AccessLogFile>>& files) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> kept;
  for (const std::string& path : open_) {
    bool named = std::any_of(files.begin(), files.end(),
                             [&](const auto& file) { return file->path == path; });
    if (named) {
      kept.push_back(path);
    } else {
      writers_[path]->close();
    }
  }
  open_ = std::move(kept);
}

std::vector<std::string> AccessLogs::reopen() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> failed;
  for (const std::string& path : open_) {
    if (auto ok = writers_[path]->open(path); !ok) failed.push_back(ok.error());
  }
  return failed;
}

}  // namespace surge::edge
