// HttpRecorder: a small HTTP/1.1 server for tests that keeps every request it is sent, byte for
// byte (head and a Content-Length body), and answers each with the next status of a script (then
// the default). Keep-alive like a real API: a connection serves requests until the client closes
// it, unless close_after_answer. Stands in for a backend or a CDN's purge API where the real one
// cannot run here; stop() makes it refuse connections (a dead endpoint), start() brings it back on
// the same port.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "surge/testing/process.h"

namespace surge::testing {

class HttpRecorder {
 public:
  explicit HttpRecorder(int default_status = 200, bool close_after_answer = false)
      : default_status_(default_status), close_after_answer_(close_after_answer) {
    fd_ = listenLoopback(port_);
    run();
  }
  ~HttpRecorder() { stop(); }
  HttpRecorder(const HttpRecorder&) = delete;
  HttpRecorder& operator=(const HttpRecorder&) = delete;

  int port() const { return port_; }
  // Answers the next requests with these statuses, in order.
  void script(std::vector<int> statuses) {
    std::lock_guard lock(mutex_);
    for (int s : statuses)
      script_.push_back(s);
  }
  // Answers every request with what `fn` makes of it (the whole answer, head and body), in place
  // of the scripted statuses: a content origin's files, a slow or lying server.
  void respond(std::function<std::string(const std::string& request)> fn) {
    std::lock_guard lock(mutex_);
    responder_ = std::move(fn);
  }
  // Answers made by `respond` stop after their first `bytes` (a stalled download) until the test
  // calls resume(): what happens meanwhile is ordered by the test, not by a clock.
  void pauseAfter(size_t bytes) {
    std::lock_guard lock(mutex_);
    pause_after_ = bytes;
    paused_ = true;
  }
  void resume() {
    {
      std::lock_guard lock(mutex_);
      paused_ = false;
    }
    resumed_.notify_all();
  }
  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  size_t count() {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }
  std::string last() {
    std::lock_guard lock(mutex_);
    return requests_.empty() ? "" : requests_.back();
  }
  // Waits until `n` requests have come, or `timeout`; the count then.
  size_t waitFor(size_t n, std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (count() < n && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return count();
  }

  // No listener and no open connection: connects are refused.
  void stop() {
    if (fd_ < 0) return;
    resume();  // a stalled answer ends with its connection
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    acceptor_.join();  // it polls its own copy of the descriptor, closed only after it is gone
    ::close(fd_);
    fd_ = -1;
    for (auto& t : connections_)
      t.join();
    connections_.clear();
  }
  // Listening again on the same port.
  void start() {
    if (fd_ >= 0) return;
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 128) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;  // the port was taken meanwhile: the test sees nothing arrive
    }
    run();
  }

 private:
  void run() {
    stopping_ = false;
    acceptor_ = std::thread([this, listen_fd = fd_] {
      while (!stopping_) {
        pollfd p{listen_fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int c = ::accept(listen_fd, nullptr, nullptr);
        if (c < 0) continue;
        connections_.emplace_back([this, c] { serve(c); });
      }
    });
  }

  void serve(int c) {
    std::string in;
    char buf[16384];
    while (!stopping_) {
      size_t end = in.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t length = 0;
        std::string head = in.substr(0, end + 4);
        for (const char* name : {"\r\nContent-Length: ", "\r\ncontent-length: "}) {
          size_t at = head.find(name);
          if (at != std::string::npos) length = std::strtoul(head.c_str() + at + 18, nullptr, 10);
        }
        if (in.size() >= end + 4 + length) {
          int status = default_status_;
          std::function<std::string(const std::string&)> responder;
          const std::string request = in.substr(0, end + 4 + length);
          {
            std::lock_guard lock(mutex_);
            requests_.push_back(request);
            if (!script_.empty()) {
              status = script_.front();
              script_.pop_front();
            }
            responder = responder_;
          }
          in.erase(0, end + 4 + length);
          if (responder) {
            std::string answer = responder(request);
            size_t pause_after;
            {
              std::lock_guard lock(mutex_);
              pause_after = pause_after_;
            }
            bool sent = true;
            if (pause_after > 0 && pause_after < answer.size()) {
              sent = sendAll(c, answer.substr(0, pause_after));
              {
                std::unique_lock lock(mutex_);
                resumed_.wait(lock, [this] { return !paused_; });
              }
              sent = sent && sendAll(c, answer.substr(pause_after));
            } else {
              sent = sendAll(c, answer);
            }
            if (!sent || close_after_answer_) break;
            continue;
          }
          const bool bodyless = status == 204 || status == 304;
          std::string answer =
              "HTTP/1.1 " + std::to_string(status) + " Recorded\r\n" +
              (bodyless ? "" : "Content-Type: application/json\r\nContent-Length: 2\r\n") +
              (close_after_answer_ ? "Connection: close\r\n" : "") + "\r\n" +
              (bodyless ? "" : "{}");
          if (::send(c, answer.data(), answer.size(), MSG_NOSIGNAL) < 0 || close_after_answer_)
            break;
          continue;
        }
      }
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    ::close(c);
  }

  static bool sendAll(int c, const std::string& data) {
    for (size_t sent = 0; sent < data.size();) {
      ssize_t n = ::send(c, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  int default_status_;
  std::function<std::string(const std::string&)> responder_;
  size_t pause_after_ = 0;
  bool paused_ = false;
  std::condition_variable resumed_;
  bool close_after_answer_;
  int port_ = 0;
  int fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::vector<std::thread> connections_;  // touched by the acceptor, joined after it
  std::mutex mutex_;
  std::deque<int> script_;
  std::vector<std::string> requests_;
};

}  // namespace surge::testing
