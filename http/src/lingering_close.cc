#include "lingering_close.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace surge::http {

LingeringClose::LingeringClose(event_base* base, std::chrono::milliseconds quiet_timeout,
                               std::chrono::milliseconds max_time, size_t max_sockets,
                               size_t max_bytes)
    : base_(base),
      quiet_timeout_(quiet_timeout),
      max_time_(max_time),
      max_sockets_(max_sockets),
      max_bytes_(max_bytes) {}

LingeringClose::~LingeringClose() {
  for (auto& [fd, s] : lingering_) {
    if (s->ev) event_free(s->ev);
    ::close(fd);
  }
}

void LingeringClose::add(int fd) {
  if (lingering_.size() >= max_sockets_ || ::shutdown(fd, SHUT_WR) != 0) {
    ::close(fd);  // too many lingering already; or not connected any more: nothing to wait for
    return;
  }
  auto s = std::make_unique<Socket>();
  s->owner = this;
  s->fd = fd;
  s->until = Clock::now() + max_time_;
  s->ev = event_new(base_, fd, EV_READ | EV_PERSIST, &LingeringClose::onEvent, s.get());
  if (s->ev == nullptr) {
    ::close(fd);
    return;
  }
  const timeval quiet{static_cast<time_t>(quiet_timeout_.count() / 1000),
                      static_cast<suseconds_t>((quiet_timeout_.count() % 1000) * 1000)};
  event_add(s->ev, &quiet);  // a persistent event's timeout restarts at each read
  lingering_[fd] = std::move(s);
}

void LingeringClose::onEvent(evutil_socket_t fd, short what, void* arg) {
  auto* s = static_cast<Socket*>(arg);
  LingeringClose* self = s->owner;
  if ((what & EV_TIMEOUT) || Clock::now() >= s->until) return self->finish(fd);
  char scratch[16384];
  while (true) {
    ssize_t n = ::recv(fd, scratch, sizeof scratch, 0);
    if (n > 0) {
      s->read += static_cast<size_t>(n);
      if (s->read > self->max_bytes_) return self->finish(fd);
      continue;  // thrown away
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    return self->finish(fd);  // EOF: the client is done; or an error
  }
}

void LingeringClose::finish(int fd) {
  auto it = lingering_.find(fd);
  if (it == lingering_.end()) return;
  if (it->second->ev) event_free(it->second->ev);
  ::close(fd);
  lingering_.erase(it);
}

}  // namespace surge::http
