// nginx's lingering close (lingering_close on): a connection the server ends is not closed
// outright. Its write side is shut (the client reads everything sent, then EOF) and what the
// client still sends is read and thrown away until it closes too, stays quiet for
// `quiet_timeout` (nginx's lingering_timeout, 5 s) or `max_time` has passed (lingering_time,
// 30 s). Closing a socket that has unread input makes the kernel send RST, and a client that
// gets RST drops what it has not read yet: the end of the last answer, a GOAWAY. HTTP/2 clients
// send while they read (WINDOW_UPDATE, PING), so without this the end of the last answer on a
// connection that reaches keepalive_requests, or drains for a reload, was lost.
//
// Worker thread only. The sockets no longer count as open connections; at most `max_sockets`
// linger at once (past the cap, sockets close outright, so that lingering cannot be made to take
// every descriptor), and each reads at most `max_bytes` (a client still sending more after the
// close is not waiting for an answer: a flood then costs the edge no more than a reset did).
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <unordered_map>

namespace surge::http {

class LingeringClose {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LingeringClose(event_base* base,
                          std::chrono::milliseconds quiet_timeout = std::chrono::seconds(5),
                          std::chrono::milliseconds max_time = std::chrono::seconds(30),
                          size_t max_sockets = 4096, size_t max_bytes = 1 << 20);
  ~LingeringClose();  // closes what still lingers
  LingeringClose(const LingeringClose&) = delete;
  LingeringClose& operator=(const LingeringClose&) = delete;

  // Takes `fd` over (its TLS close_notify, if any, already sent): shuts its write side and
  // reads until the client is done.
  void add(int fd);
  size_t size() const { return lingering_.size(); }

 private:
  struct Socket {
    LingeringClose* owner = nullptr;
    int fd = -1;
    event* ev = nullptr;
    Clock::time_point until;
    size_t read = 0;  // bytes thrown away
  };
  static void onEvent(evutil_socket_t fd, short what, void* arg);
  void finish(int fd);

  event_base* base_;
  std::chrono::milliseconds quiet_timeout_;
  std::chrono::milliseconds max_time_;
  size_t max_sockets_;
  size_t max_bytes_;
  std::unordered_map<int, std::unique_ptr<Socket>> lingering_;
};

}  // namespace surge::http
