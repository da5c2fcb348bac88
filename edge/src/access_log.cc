#include "surge/edge/access_log.h"

#include <pthread.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace surge::edge {
namespace {

void appendEscaped(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
}

}  // namespace

std::string combinedLine(std::string_view remote_addr, time_t when, std::string_view request_line,
                         int status, uint64_t body_bytes, std::string_view referer,
                         std::string_view user_agent) {
  tm local;
  localtime_r(&when, &local);
  char time_buf[64];
  size_t n = strftime(time_buf, sizeof time_buf, "%d/%b/%Y:%H:%M:%S %z", &local);
  std::string out;
  out.reserve(160 + request_line.size() + user_agent.size());
  out += remote_addr;
  out += " - - [";
  out.append(time_buf, n);
  out += "] \"";
  appendEscaped(out, request_line);
  out += "\" ";
  out += std::to_string(status);
  out += ' ';
  out += std::to_string(body_bytes);
  out += " \"";
  if (referer.empty()) {
    out += '-';
  } else {
    appendEscaped(out, referer);
  }
  out += "\" \"";
  if (user_agent.empty()) {
    out += '-';
  } else {
    appendEscaped(out, user_agent);
  }
  out += '"';
  return out;
}

AccessLog::AccessLog(cache::MetricsRegistry& metrics)
    : dropped_(metrics.counter("surge_edge_access_log_dropped_total",
                               "Access log lines dropped because the disk could not keep up")) {
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

cache::Result<cache::Done, std::string> AccessLog::open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "ae");
  if (f == nullptr) return cache::fail("access_log " + path + ": " + std::strerror(errno));
  std::FILE* old;
  {
    std::lock_guard lock(file_mutex_);  // waits for a write in progress, never for a worker
    old = file_;
    file_ = f;
  }
  if (old) std::fclose(old);
  enabled_.store(true, std::memory_order_relaxed);
  return cache::Done{};
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

}  // namespace surge::edge
