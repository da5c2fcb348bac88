// A TCP fault injector between the edge and a real origin (or memcached), in the spirit of
// toxiproxy: passes bytes through, delays them, or answers every request itself with a 500 - so
// the edge can be shown a slow or failing origin while origin itself stays the real process. It
// also counts the requests that reach it: how hard a failing origin is being hit.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "surge/testing/process.h"

namespace surge::edge::test {

class FaultProxy {
 public:
  enum class Mode { kPass, kDelay, kFail500 };

  explicit FaultProxy(int upstream_port) : upstream_port_(upstream_port) {
    listen_fd_ = testing::listenLoopback(port_);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~FaultProxy() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_fd_);
    std::lock_guard lock(mutex_);
    for (auto& t : connections_)
      t.join();
  }
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return port_; }
  void setMode(Mode mode, std::chrono::milliseconds delay = std::chrono::milliseconds(0)) {
    delay_ms_ = static_cast<int>(delay.count());
    mode_ = mode;
  }
  // The next `n` requests are answered with a 500 here, whatever the mode.
  void failNext(int n) { fail_next_ = n; }
  // The next chunk the client sends is held for `hold` before it goes on, whatever the mode: one
  // stalled call (any protocol: memcached's too).
  void stallNext(std::chrono::milliseconds hold) {
    stall_ms_ = static_cast<int>(hold.count());
    stall_next_ = true;
  }
  // Request heads seen from the edge so far.
  size_t requests() const { return requests_.load(); }

 private:
  void acceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mutex_);
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }

  static bool sendAll(int fd, const char* data, size_t size) {
    while (size > 0) {
      ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
      if (n <= 0) return false;
      data += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }

  bool takeFailure() {
    int n = fail_next_.load();
    while (n > 0 && !fail_next_.compare_exchange_weak(n, n - 1)) {
    }
    return n > 0;
  }

  // Counts complete request heads in what the edge sent, and answers each one itself with a 500
  // in kFail500 or while failNext lasts: how many it answered, -1 when the edge went away.
  int takeRequests(std::string& pending, int client) {
    int answered = 0;
    while (true) {
      size_t end = pending.find("\r\n\r\n");
      if (end == std::string::npos) return answered;
      size_t body = 0;
      const char* cl = "\r\nContent-Length: ";
      size_t at = pending.find(cl);
      if (at != std::string::npos && at < end) body = std::stoul(pending.substr(at + 18, 12));
      if (pending.size() < end + 4 + body) return answered;
      pending.erase(0, end + 4 + body);
      ++requests_;
      if (mode_ == Mode::kFail500 || takeFailure()) {
        ++answered;
        const char answer[] =
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
            "Content-Length: 17\r\n\r\n{\"error\":\"boom\"}\n";
        if (!sendAll(client, answer, sizeof answer - 1)) return -1;
      }
    }
  }

  void serve(int client) {
    int upstream = -1;
    std::string pending;  // edge bytes not yet framed into requests
    char buf[65536];
    while (!stop_) {
      pollfd p[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
      int n = ::poll(p, upstream >= 0 ? 2 : 1, 100);
      if (n <= 0) continue;
      if (p[0].revents) {
        ssize_t got = ::recv(client, buf, sizeof buf, 0);
        if (got <= 0) break;
        pending.append(buf, static_cast<size_t>(got));
        Mode mode = mode_;
        int answered = takeRequests(pending, client);
        if (answered < 0) break;
        // The edge sends one request per connection at a time: a chunk answered here is not
        // passed on.
        if (answered > 0 || mode == Mode::kFail500) continue;
        if (mode == Mode::kDelay) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
        if (stall_next_.exchange(false)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(stall_ms_));
        }
        if (upstream < 0 && (upstream = testing::connectLoopback(upstream_port_)) < 0) break;
        if (!sendAll(upstream, buf, static_cast<size_t>(got))) break;
      }
      if (upstream >= 0 && p[1].revents) {
        ssize_t got = ::recv(upstream, buf, sizeof buf, 0);
        if (got <= 0) break;
        if (!sendAll(client, buf, static_cast<size_t>(got))) break;
      }
    }
    if (upstream >= 0) ::close(upstream);
    ::close(client);
  }

  int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<Mode> mode_{Mode::kPass};
  std::atomic<int> delay_ms_{0};
  std::atomic<size_t> requests_{0};
  std::atomic<int> fail_next_{0};
  std::atomic<bool> stall_next_{false};
  std::atomic<int> stall_ms_{0};
  std::mutex mutex_;
  std::vector<std::thread> connections_;
  std::thread acceptor_;
};

}  // namespace surge::edge::test
