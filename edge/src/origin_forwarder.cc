#include "surge/edge/origin_forwarder.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <utility>

#include "surge/edge/fastcgi.h"
#include "surge/edge/upstream_tls.h"
#include "surge/http/response_head.h"

namespace surge::edge {
namespace {

using Clock = std::chrono::steady_clock;

timeval toTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>(ms.count() % 1000 * 1000)};
}

using http::jsonError;

}  // namespace

bool isHopByHop(std::string_view name) {
  static constexpr std::string_view kNames[] = {"connection",
                                                "keep-alive",
                                                "proxy-connection",
                                                "te",
                                                "trailer",
                                                "upgrade",
                                                "transfer-encoding",
                                                "proxy-authenticate",
                                                "proxy-authorization",
                                                "content-length",
                                                "host",
                                                "date",
                                                "server",
                                                "expect"};
  for (std::string_view n : kNames) {
    if (http::equalsIgnoreCase(n, name)) return true;
  }
  return false;
}

int parseUpstreamHead(std::string_view input, UpstreamHead& head) {
  http::ResponseHead parsed;
  int rc = http::parseResponseHead(input, parsed);
  if (rc != 1) return rc;
  head = UpstreamHead{};
  head.status = parsed.status;
  head.header_bytes = parsed.header_bytes;
  head.content_length = parsed.content_length;
  head.chunked = parsed.chunked;
  head.close = parsed.close;
  for (auto& [name, value] : parsed.fields) {
    if (isHopByHop(name)) continue;
    if (!parsed.connection.empty() && http::containsToken(parsed.connection, name)) continue;
    head.headers.append(name).append(": ").append(value).append("\r\n");
  }
  return 1;
}

class OriginForwarder::Pool {
 public:
  Pool(OriginForwarder& owner, event_base* base) : owner_(owner), base_(base) {}
  ~Pool() {
    for (SSL_SESSION* s : sessions_)
      SSL_SESSION_free(s);
    for (auto& list : idle_)
      for (Conn* c : list)
        destroy(c);
    // Active exchanges belong to connections that are still referenced by their events; the
    // loop is gone when pools are destroyed, so free them here too.
    for (Conn* c : active_)
      destroy(c);
  }

  // `body`: the request's body still arriving (proxy_request_buffering off), sent after
  // `bytes` as it comes, in chunks when `chunked`.
  void start(std::string bytes, std::shared_ptr<http::BodyStream> body, bool chunked, bool retry_ok,
             bool head, Role role, Done done, const ForwardOptions& how) {
    auto ex = std::make_unique<Exchange>();
    ex->role = role;
    OriginOptions o = owner_.options();
    const ProxyTimeouts& timeouts = how.timeouts;
    ex->timeouts.connect = timeouts.connect.count() >= 0 ? timeouts.connect : o.connect_timeout;
    ex->timeouts.send = timeouts.send.count() >= 0 ? timeouts.send : o.read_timeout;
    ex->timeouts.read = timeouts.read.count() >= 0 ? timeouts.read : o.read_timeout;
    ex->next = how.next_upstream;
    ex->bytes = std::move(bytes);
    ex->retry_ok = retry_ok;
    ex->head = head;
    ex->done = std::move(done);
    if (body) {
      ex->body = std::move(body);
      ex->body_chunked = chunked;
      // Told of each read of the body: the connection's event goes off as writable, and
      // writeSome takes what came. Never acts at once (BodyStream's rule).
      ex->body->setListener([raw = ex.get()] {
        Conn* c = raw->conn;
        if (c != nullptr && c->ev != nullptr && c->ready()) event_active(c->ev, EV_WRITE, 0);
      });
    }
    sendToNextServer(std::move(ex));
  }

 private:
  struct Conn;
  struct Exchange {
    ~Exchange() {
      if (body) body->setListener(nullptr);
    }
    std::string bytes;
    // A body still arriving: what came so far is in `bytes` (kept whole, so that a request sent
    // again sends it all), the rest follows; `body_ended` once its end is in `bytes` too.
    std::shared_ptr<http::BodyStream> body;
    bool body_chunked = false;
    bool body_ended = false;
    Conn* conn = nullptr;  // the connection it is on, while it is on one
    size_t written = 0;
    bool retry_ok = false;
    bool retried = false;  // sent again once on a new connection after a stale kept-alive one
    size_t server = 0;     // the upstream server it is with
    uint64_t tried = 0;    // bit i: server i was tried
    NextUpstream next;
    bool head = false;  // the answer has no body, whatever its Content-Length says
    Role role = Role::kNormal;
    ProxyTimeouts timeouts;  // resolved: none negative
    Done done;
  };
  struct Conn {
    Pool* pool = nullptr;
    size_t server = 0;
    int fd = -1;
    event* ev = nullptr;
    bool connecting = false;
    SSL* ssl = nullptr;      // proxy_pass https://: made once connected
    bool tls_ready = false;  // its handshake is done
    // Bytes may go out: connected, and over TLS handshaken.
    bool ready() const { return !connecting && (ssl == nullptr || tls_ready); }
    bool reused = false;
    std::string in;
    // A chunked answer, decoded as it comes: where the next chunk starts in `in` (0: not begun)
    // and the data so far.
    size_t chunk_pos = 0;
    std::string chunk_body;
    // A FastCGI answer: where the next record starts in `in`, and its STDOUT so far.
    size_t fcgi_pos = 0;
    std::string fcgi_stdout;
    std::unique_ptr<Exchange> ex;
  };

  int64_t retryAfter() const {
    int64_t s = 1;
    owner_.circuit_.backingOff(s);
    return s;
  }

  // nginx's upstream choice (UpstreamPeers) for a request not yet sent anywhere, or sent to a
  // server that failed it in a way proxy_next_upstream lets go on: the next server, on a kept
  // connection to it when there is one. None left: the client gets 503 + Retry-After.
  void sendToNextServer(std::unique_ptr<Exchange> ex) {
    UpstreamPeers& peers = owner_.peers_;
    while (mayTryAnother(*ex)) {
      const auto now = Clock::now();
      std::optional<size_t> i = peers.pick(ex->tried, now);
      if (!i) break;
      ex->tried |= uint64_t{1} << *i;
      ex->server = *i;
      ex->written = 0;
      if (Conn* c = takeIdle(*i)) {
        owner_.reused_.add();
        return attach(c, std::move(ex));
      }
      if (Conn* c = connectNew(*i)) return attach(c, std::move(ex));
      peers.failed(*i, now);  // not even a connection started
      if (!ex->next.error) break;
    }
    owner_.failed(ex->role);
    finish(nullptr, std::move(ex),
           jsonError(503, "origin_unavailable", "origin cannot be reached", retryAfter()));
  }

  // The server failed this exchange: counted against it (max_fails), and the request goes to the
  // next server when `next` (proxy_next_upstream) allows and one is left; else `answer`.
  void serverFailed(Conn* c, bool next, http::Response answer) {
    std::unique_ptr<Exchange> ex = detach(c);
    release(c, false);
    owner_.peers_.failed(ex->server, Clock::now());
    if (next && mayTryAnother(*ex)) return sendToNextServer(std::move(ex));
    owner_.failed(ex->role);
    finish(nullptr, std::move(ex), std::move(answer));
  }

  // proxy_next_upstream_tries (0: every server once) leaves room for one more server.
  bool mayTryAnother(const Exchange& ex) const {
    const size_t tries =
        ex.next.tries > 0 ? static_cast<size_t>(ex.next.tries) : owner_.peers_.size();
    return static_cast<size_t>(std::popcount(ex.tried)) < tries;
  }

  Conn* takeIdle(size_t server) {
    if (server >= idle_.size()) return nullptr;
    std::vector<Conn*>& idle = idle_[server];
    while (!idle.empty()) {
      Conn* c = idle.back();
      idle.pop_back();
      if (c->fd >= 0) {
        c->reused = true;
        return c;
      }
      destroy(c);
    }
    return nullptr;
  }

  Conn* connectNew(size_t server) {
    const UpstreamServer& to = owner_.peers_.server(server);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(to.port));
    // Resolved when the configuration was loaded: never a DNS lookup on the event loop.
    const std::string& address = to.address.empty() ? to.host : to.address;
    if (inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) return nullptr;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return nullptr;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    if (rc != 0 && errno != EINPROGRESS) {
      ::close(fd);
      return nullptr;
    }
    auto* c = new Conn;
    c->pool = this;
    c->server = server;
    c->fd = fd;
    c->connecting = rc != 0;
    return c;
  }

  void attach(Conn* c, std::unique_ptr<Exchange> ex) {
    ex->conn = c;
    c->ex = std::move(ex);
    c->in.clear();
    c->chunk_pos = 0;
    c->chunk_body.clear();
    c->fcgi_pos = 0;
    c->fcgi_stdout.clear();
    active_.push_back(c);
    if (c->connecting) {
      arm(c, EV_WRITE, c->ex->timeouts.connect);
    } else {
      writeSome(c);
    }
  }

  void arm(Conn* c, short what, std::chrono::milliseconds timeout) {
    if (c->ev) event_free(c->ev);
    c->ev = event_new(base_, c->fd, what, &Pool::onEvent, c);
    timeval tv = toTimeval(timeout);
    event_add(c->ev, timeout.count() > 0 ? &tv : nullptr);
  }

  static void onEvent(evutil_socket_t, short what, void* arg) {
    auto* c = static_cast<Conn*>(arg);
    Pool* self = c->pool;
    if (!c->ex) return self->onIdleEvent(c);
    if (what & EV_TIMEOUT) {
      if (!c->ready()) {
        return self->serverFailed(
            c, c->ex->next.timeout,
            jsonError(503, "origin_unavailable", "origin did not accept a connection in time",
                      self->retryAfter()));
      }
      // A slow origin is a failing one: back off so the next requests are shed at once rather
      // than each waiting out the read timeout. Sent again elsewhere only if that is safe.
      self->owner_.errors_.add();
      return self->serverFailed(
          c, c->ex->next.timeout && c->ex->retry_ok,
          jsonError(504, "origin_timeout", "origin did not answer in time", self->retryAfter()));
    }
    if (c->connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        return self->serverFailed(c, c->ex->next.error,
                                  jsonError(503, "origin_unavailable",
                                            "origin refused the connection", self->retryAfter()));
      }
      c->connecting = false;
      if (self->owner_.tls_required_) {
        // No context (it could not be made): never plain text to an https:// upstream.
        if (self->owner_.tls_)
          c->ssl = self->owner_.tls_->open(c->fd, self->sessionOf(c->server), c);
        if (c->ssl == nullptr) {
          return self->serverFailed(c, false, jsonError(502, "origin_tls", "TLS to origin failed"));
        }
      }
    }
    if (c->ssl != nullptr && !c->tls_ready) return self->handshake(c);
    if (what & EV_WRITE) return self->writeSome(c);
    if (what & EV_READ) return self->readSome(c);
  }

  void handshake(Conn* c) {
    switch (tlsHandshake(c->ssl)) {
      case TlsStep::kDone:
        c->tls_ready = true;
        return writeSome(c);
      case TlsStep::kWantRead:
        return arm(c, EV_READ, c->ex->timeouts.connect);
      case TlsStep::kWantWrite:
        return arm(c, EV_WRITE, c->ex->timeouts.connect);
      default:
        return serverFailed(
            c, c->ex->next.error,
            jsonError(502, "origin_tls", "the TLS handshake with origin failed", retryAfter()));
    }
  }

  SSL_SESSION* sessionOf(size_t server) const {
    return server < sessions_.size() ? sessions_[server] : nullptr;
  }

 public:
  // A session an upstream server gave (TLS 1.3 sends it after the handshake): offered on the
  // next connection to that server (proxy_ssl_session_reuse).
  static int onNewSession(SSL* ssl, SSL_SESSION* session) {
    auto* c = static_cast<Conn*>(SSL_get_app_data(ssl));
    if (c == nullptr) return 0;
    std::vector<SSL_SESSION*>& kept = c->pool->sessions_;
    if (kept.size() <= c->server) kept.resize(c->server + 1, nullptr);
    if (kept[c->server] != nullptr) SSL_SESSION_free(kept[c->server]);
    kept[c->server] = session;
    return 1;  // the reference is ours
  }

 private:
  // send(2) or SSL_write: bytes sent, or -1 with errno (EAGAIN: wait for writable).
  static ssize_t sendSome(Conn* c, const char* data, size_t size) {
    if (c->ssl == nullptr) return ::send(c->fd, data, size, MSG_NOSIGNAL);
    size_t done = 0;
    switch (tlsWrite(c->ssl, data, size, done)) {
      case TlsStep::kDone:
        return static_cast<ssize_t>(done);
      case TlsStep::kWantRead:  // a key update: the write goes on once it is read
      case TlsStep::kWantWrite:
        errno = EAGAIN;
        return -1;
      default:
        errno = EPIPE;
        return -1;
    }
  }
  // recv(2) or SSL_read: bytes read, 0 at the end, or -1 with errno (EAGAIN: nothing yet).
  static ssize_t recvSome(Conn* c, char* buf, size_t size) {
    if (c->ssl == nullptr) return ::recv(c->fd, buf, size, 0);
    size_t got = 0;
    switch (tlsRead(c->ssl, buf, size, got)) {
      case TlsStep::kDone:
        return static_cast<ssize_t>(got);
      case TlsStep::kClosed:
        return 0;
      case TlsStep::kWantRead:
      case TlsStep::kWantWrite:
        errno = EAGAIN;
        return -1;
      default:
        errno = ECONNRESET;
        return -1;
    }
  }

  // The exchange off its connection (which is released or destroyed next).
  static std::unique_ptr<Exchange> detach(Conn* c) {
    std::unique_ptr<Exchange> ex = std::move(c->ex);
    if (ex) ex->conn = nullptr;
    return ex;
  }

  // What of a streamed body came since the last look, into the bytes to send: false when the
  // client ended the request before its body.
  bool takeBody(Exchange& ex) const {
    if (!ex.body || ex.body_ended) return true;
    if (ex.body->state() == http::BodyStream::State::kAborted) return false;
    std::string piece = ex.body->take();
    const bool complete = ex.body->state() == http::BodyStream::State::kComplete;
    if (owner_.fastcgi_) {
      // STDIN records, the empty one at the end.
      if (!piece.empty()) fastcgi::appendStdin(ex.bytes, piece);
      if (complete) fastcgi::appendStdin(ex.bytes, {});
      ex.body_ended = complete;
      return true;
    }
    if (ex.body_chunked && !piece.empty()) {
      char size[24];
      auto [end, ec] = std::to_chars(size, size + sizeof size, piece.size(), 16);
      ex.bytes.append(size, end).append("\r\n").append(piece).append("\r\n");
    } else {
      ex.bytes.append(piece);
    }
    if (complete && ex.body_chunked) ex.bytes.append("0\r\n\r\n");
    ex.body_ended = complete;
    return true;
  }

  void writeSome(Conn* c) {
    Exchange& ex = *c->ex;
    if (!takeBody(ex)) {
      // The client reset its stream or went away mid-body: the upstream's request is cut off
      // with its connection. The answer goes nowhere (the stream is gone).
      std::unique_ptr<Exchange> gone = detach(c);
      release(c, false);
      return finish(nullptr, std::move(gone),
                    jsonError(400, "body_incomplete", "the request ended before its body"));
    }
    while (ex.written < ex.bytes.size()) {
      ssize_t n = sendSome(c, ex.bytes.data() + ex.written, ex.bytes.size() - ex.written);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          return arm(c, EV_WRITE, ex.timeouts.send);
        }
        return brokenBeforeAnswer(c);
      }
      ex.written += static_cast<size_t>(n);
    }
    // While the body is still coming the client's body timeout guards the wait (nginx starts
    // proxy_read_timeout once the request is sent); origin may answer early meanwhile.
    const bool waiting_for_body = ex.body && !ex.body_ended;
    arm(c, EV_READ | EV_PERSIST,
        waiting_for_body ? std::chrono::milliseconds(0) : ex.timeouts.read);
  }

  void readSome(Conn* c) {
    char buf[16384];
    bool eof = false;
    while (true) {
      ssize_t n = recvSome(c, buf, sizeof buf);
      if (n > 0) {
        c->in.append(buf, static_cast<size_t>(n));
        // TLS may hold more of a record already read: read on until it wants the socket.
        if (static_cast<size_t>(n) < sizeof buf && c->ssl == nullptr) break;
        continue;
      }
      if (n == 0) {
        eof = true;
        break;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (c->in.empty()) return brokenBeforeAnswer(c);
      owner_.errors_.add();
      return serverFailed(c, false, jsonError(502, "origin_error", "origin connection reset"));
    }
    if (eof && c->in.empty()) return brokenBeforeAnswer(c);
    if (owner_.fastcgi_) {
      // Records until END_REQUEST, then read on as the HTTP/1.1 answer they carry (the
      // application closes the connection: none is kept).
      const int read = fastcgi::readAnswer(c->in, c->fcgi_pos, c->fcgi_stdout);
      if (read < 0) {
        owner_.errors_.add();
        return serverFailed(
            c, false,
            jsonError(502, "origin_error", "origin sent FastCGI records surge cannot read"));
      }
      if (read == 0) {
        if (!eof) return;
        owner_.errors_.add();
        return serverFailed(c, false, jsonError(502, "origin_error", "origin closed mid-answer"));
      }
      c->in = fastcgi::httpAnswer(c->fcgi_stdout);
      eof = true;
    }
    UpstreamHead head;
    int rc = parseUpstreamHead(c->in, head);
    if (rc < 0) {
      owner_.errors_.add();
      return serverFailed(
          c, false, jsonError(502, "origin_error", "origin sent an answer surge cannot read"));
    }
    if (rc == 0) {
      if (eof) {
        owner_.errors_.add();
        return serverFailed(c, false, jsonError(502, "origin_error", "origin closed mid-answer"));
      }
      return;
    }
    bool no_body = !http::responseHasBody(head.status, c->ex->head);
    size_t body_len = no_body ? 0 : head.content_length.value_or(0);
    // An answer that redirects (X-Accel-Redirect) is acted on at its head, as nginx does: its
    // body is never sent on, so none is waited for (a slow or rate-limited one would hold the
    // client). The connection, mid-answer, is not kept.
    const bool redirects = http::headerValue(head.headers, "X-Accel-Redirect").has_value();
    if (redirects && (!head.content_length || c->in.size() < head.header_bytes + body_len)) {
      body_len = 0;
      head.close = true;
    } else if (!no_body && head.chunked) {
      // Chunked (RFC 9112 7.1): decoded as it comes, passed on whole with its length. An HTTP
      // backend other than surge-origin often answers so.
      if (c->chunk_pos == 0) c->chunk_pos = head.header_bytes;
      const int decoded = http::decodeChunked(c->in, c->chunk_pos, c->chunk_body);
      if (decoded < 0) {
        owner_.errors_.add();
        return serverFailed(c, false,
                            jsonError(502, "origin_error", "origin sent a malformed chunked body"));
      }
      if (decoded == 0) {
        if (!eof) return;
        owner_.errors_.add();
        return serverFailed(c, false, jsonError(502, "origin_error", "origin closed mid-answer"));
      }
      body_len = c->chunk_body.size();
    } else if (!no_body && !head.content_length) {
      if (!eof) return;  // delimited by close
      body_len = c->in.size() - head.header_bytes;
      head.close = true;
    }
    const bool chunked = !no_body && head.chunked && c->chunk_pos > 0;
    if (!chunked && c->in.size() < head.header_bytes + body_len) {
      if (eof) {
        owner_.errors_.add();
        return serverFailed(c, false, jsonError(502, "origin_error", "origin closed mid-answer"));
      }
      return;
    }
    http::Response r;
    r.status = head.status;
    r.headers = std::move(head.headers);
    if (chunked) {
      r.body = std::move(c->chunk_body);
    } else {
      r.body.assign(c->in, head.header_bytes, body_len);
    }
    // HEAD: the client gets origin's length, not ours of an empty body.
    if (c->ex->head && head.content_length) r.content_length_override = head.content_length;
    bool reusable = !head.close && !eof && (!c->ex->body || c->ex->body_ended) &&
                    c->in.size() == (chunked ? c->chunk_pos : head.header_bytes + body_len);
    owner_.forwarded_.add();
    if (head.status >= 500 && !owner_.passes_errors_) {
      // Origin is failing: back off (the next requests are shed without reaching it) and tell
      // the client when to come back. Its own 503 passes through with a Retry-After; any other
      // 5xx becomes a 503 too, since a booking retried with the same Idempotency-Key resolves to
      // exactly one outcome whatever origin did with the first attempt. (Another upstream's 5xx
      // is an answer like any, as nginx takes it without proxy_next_upstream http_5xx.)
      owner_.errors_.add();
      owner_.failed(c->ex->role);
      if (head.status != 503) {
        r = jsonError(503, "origin_error", "origin failed; retry with the same Idempotency-Key",
                      retryAfter());
      } else if (!http::headerValue(r.headers, "Retry-After")) {
        r.headers += "Retry-After: " + std::to_string(retryAfter()) + "\r\n";
      }
    } else {
      owner_.succeeded(c->ex->role);
      owner_.peers_.succeeded(c->ex->server);
    }
    std::unique_ptr<Exchange> ex = detach(c);
    release(c, reusable);
    finish(nullptr, std::move(ex), std::move(r));
  }

  // The connection died before any answer byte. A kept-alive connection that origin closed in
  // the meantime is the usual cause; the request is sent again once on a new connection when that
  // is safe (idempotent method, or an Idempotency-Key makes origin answer a replay the same).
  void brokenBeforeAnswer(Conn* c) {
    if (c->reused) {
      // Most likely a kept-alive connection the server closed meanwhile: not the server's failure
      // (it would take a server of several out for fail_timeout). Once more to the same server on
      // a new connection when that is safe.
      std::unique_ptr<Exchange> ex = detach(c);
      release(c, false);
      if (ex->retry_ok && !ex->retried) {
        ex->retried = true;
        ex->written = 0;
        if (Conn* fresh = connectNew(ex->server)) return attach(fresh, std::move(ex));
        owner_.peers_.failed(ex->server, Clock::now());
      }
      owner_.failed(ex->role);
      return finish(
          nullptr, std::move(ex),
          jsonError(503, "origin_unavailable", "origin closed the connection", retryAfter()));
    }
    serverFailed(
        c, c->ex->next.error && c->ex->retry_ok,
        jsonError(503, "origin_unavailable", "origin closed the connection", retryAfter()));
  }

  void finish(Conn*, std::unique_ptr<Exchange> ex, http::Response answer) {
    owner_.cap_.leave();
    ex->done(std::move(answer));
  }

  // Back to the idle list (watched for origin closing it) or closed.
  void release(Conn* c, bool reusable) {
    std::erase(active_, c);
    if (idle_.size() <= c->server) idle_.resize(c->server + 1);
    if (reusable && idle_[c->server].size() < owner_.options().keepalive) {
      c->reused = false;
      c->in.clear();
      arm(c, EV_READ, std::chrono::milliseconds(0));
      idle_[c->server].push_back(c);
      return;
    }
    destroy(c);
  }

  void onIdleEvent(Conn* c) {
    if (c->ssl != nullptr) {
      // A TLS record with nothing for the client (a session ticket after the handshake): kept.
      char byte;
      if (recvSome(c, &byte, 1) < 0 && errno == EAGAIN) {
        return arm(c, EV_READ, std::chrono::milliseconds(0));
      }
    }
    // Origin closed an idle connection (or sent something unasked): drop it.
    if (c->server < idle_.size()) std::erase(idle_[c->server], c);
    destroy(c);
  }

  static void destroy(Conn* c) {
    if (c->ev) event_free(c->ev);
    tlsClose(c->ssl);
    if (c->fd >= 0) ::close(c->fd);
    delete c;
  }

  OriginForwarder& owner_;
  event_base* base_;
  std::vector<std::vector<Conn*>> idle_;  // per upstream server
  std::vector<Conn*> active_;
  std::vector<SSL_SESSION*> sessions_;  // per upstream server: the last one it gave
};

OriginForwarder::OriginForwarder(OriginOptions options, int workers, base::MetricsRegistry& metrics,
                                 const std::string& labels)
    : options_(std::move(options)),
      peers_(std::exchange(options_.servers, {})),
      passes_errors_(options_.passes_errors),
      fastcgi_(options_.fastcgi),
      tls_required_(options_.tls),
      errors_(metrics.counter("surge_edge_origin_errors_total",
                              "Origin exchanges that failed after connecting (502, 504)", labels)),
      forwarded_(metrics.counter("surge_edge_origin_forwarded_total", "Requests answered by origin",
                                 labels)),
      reused_(metrics.counter("surge_edge_origin_connections_reused_total",
                              "Requests sent on a kept-alive origin connection", labels)),
      cap_(metrics, forwarded_, {}, {}, labels) {
  pools_.resize(static_cast<size_t>(workers));
  if (tls_required_) {
    auto tls = UpstreamTls::create(&Pool::onNewSession);
    if (tls.ok()) {
      tls_ = std::move(tls.value());
    } else {
      // Every exchange then fails (502, origin_tls), said once here.
      std::fprintf(stderr, "surge-edge: upstream %s: %s\n", options_.name.c_str(),
                   tls.error().c_str());
    }
  }
}

OriginForwarder::~OriginForwarder() = default;

OriginOptions OriginForwarder::options() const {
  std::lock_guard lock(options_mutex_);
  return options_;
}

void OriginForwarder::setOptions(const OriginOptions& options) {
  std::lock_guard lock(options_mutex_);
  options_ = options;
  options_.servers.clear();  // they stay peers_' (restart-only)
}

CircuitBreaker::Options OriginForwarder::circuitOptions() const {
  OriginOptions o = options();
  // A probe that never reports back stops counting once it is older than any exchange may take
  // (a retried one takes two).
  return CircuitBreaker::Options{o.backoff_min, o.backoff_max,
                                 std::max(2 * (o.connect_timeout + o.read_timeout), o.backoff_max)};
}

bool OriginForwarder::healthy() const {
  int64_t ignored = 0;
  return !circuit_.backingOff(ignored);
}

void OriginForwarder::forward(http::Worker& worker, const http::Request& request,
                              std::string_view client_ip, std::string request_id,
                              uint64_t ticket_number, Done done, const ForwardOptions& how) {
  const bool ops = how.ops;
  OriginOptions o = options();
  // The cap first, so that a request it sheds cannot have taken the probe.
  int64_t retry_after = 1;
  if (!cap_.enter(o.max_inflight, retry_after)) {
    return done(
        jsonError(503, "overloaded", "too many bookings in flight; retry shortly", retry_after));
  }
  Role role = Role::kOps;
  if (!ops && !circuit_.admit(circuitOptions(), retry_after, role)) {
    cap_.shedAfterEntering();
    return done(jsonError(503, "origin_unavailable", "origin is failing; retrying it after a pause",
                          retry_after));
  }

  auto& pool = pools_[static_cast<size_t>(worker.index())];
  if (!pool) pool = std::make_unique<Pool>(*this, worker.base());
  if (fastcgi_) {
    // The location's fastcgi_param values, then each header as HTTP_NAME (nginx's order); the
    // body as STDIN, or as it comes.
    fastcgi::Params params = how.fastcgi_params;
    if (how.pass_request_headers) {
      for (const http::Header& h : request.headers) {
        if (!how.header_names.ignores(h)) {
          params.emplace_back(fastcgi::headerParam(h.name), std::string(h.value));
        }
      }
    }
    std::string bytes = fastcgi::beginRequest(params);
    if (!request.body_stream) {
      if (!request.body.empty()) fastcgi::appendStdin(bytes, request.body);
      fastcgi::appendStdin(bytes, {});
    }
    const bool retry_ok = request.method == "GET" || request.method == "HEAD";
    return pool->start(std::move(bytes), request.body_stream, false, retry_ok,
                       request.method == "HEAD", role, std::move(done), how);
  }
  std::string bytes;
  bytes.reserve(512 + request.body.size());
  auto set = [&](std::string_view name) -> const std::string* {
    for (const auto& [n, v] : how.set_headers) {
      if (http::equalsIgnoreCase(n, name)) return &v;
    }
    return nullptr;
  };
  bytes.append(request.method).append(" ").append(request.target).append(" HTTP/1.1\r\n");
  if (const std::string* host = set("Host"); host != nullptr && !host->empty()) {
    bytes.append("Host: ").append(*host).append("\r\n");
  } else {
    bytes.append("Host: ").append(o.host_header).append("\r\n");
  }
  std::string_view connection = request.header("Connection");
  std::string_view forwarded_for;
  for (const http::Header& h : request.headers) {
    if (how.header_names.ignores(h) || isHopByHop(h.name)) continue;
    if (!how.set_headers.empty() && set(h.name) != nullptr) continue;
    if (!connection.empty() && http::containsToken(connection, h.name)) continue;
    if (http::equalsIgnoreCase(h.name, "x-forwarded-for")) {
      forwarded_for = h.value;
      continue;
    }
    if (http::equalsIgnoreCase(h.name, "x-request-id") ||
        http::equalsIgnoreCase(h.name, "x-surge-ticket-number")) {
      continue;
    }
    bytes.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  if (set("X-Forwarded-For") == nullptr) {  // else what proxy_set_header says (below)
    bytes.append("X-Forwarded-For: ");
    if (!forwarded_for.empty()) bytes.append(forwarded_for).append(", ");
    bytes.append(client_ip).append("\r\n");
  }
  bytes.append("X-Request-Id: ").append(request_id).append("\r\n");
  for (const auto& [name, value] : how.set_headers) {
    if (value.empty() || http::equalsIgnoreCase(name, "Host") || isHopByHop(name)) continue;
    bytes.append(name).append(": ").append(value).append("\r\n");
  }
  if (ticket_number > 0) {
    bytes.append("X-Surge-Ticket-Number: ").append(std::to_string(ticket_number)).append("\r\n");
  }
  // A body still arriving goes with the length the client announced, or chunked.
  std::string_view announced = request.header("Content-Length");
  const bool chunked = request.body_stream && announced.empty();
  if (chunked) {
    bytes.append("Transfer-Encoding: chunked\r\n");
  } else if (request.body_stream) {
    bytes.append("Content-Length: ").append(announced).append("\r\n");
  } else if (request.has_body || !request.body.empty() || request.method == "POST" ||
             request.method == "PUT" || request.method == "PATCH") {
    bytes.append("Content-Length: ").append(std::to_string(request.body.size())).append("\r\n");
  }
  bytes.append("\r\n").append(request.body);

  bool retry_ok = request.method == "GET" || request.method == "HEAD" ||
                  request.method == "DELETE" || !request.header("Idempotency-Key").empty();
  pool->start(std::move(bytes), request.body_stream, chunked, retry_ok, request.method == "HEAD",
              role, std::move(done), how);
}

}  // namespace surge::edge
