#include "surge/http/server.h"

#include "surge/http/listener.h"

#include "h2_session.h"
#include "lingering_close.h"
#include "surge/http/proxy_protocol.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>

namespace surge::http {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kTlsRecord = 16 * 1024;  // the most plaintext one TLS record carries
constexpr ssize_t kTlsAgain = -2;         // TLS I/O would block: wait for the socket
// Frames are gathered into writes of about this size (a socket's or TLS's worth of records).
constexpr size_t kH2WriteBatch = 64 * 1024;
// SSL_read into a kReadChunk buffer takes a whole record, and read-ahead stays off, so nothing
// decrypted is ever left inside OpenSSL when the read loop stops: what remains is in the kernel,
// and the level-triggered read event fires for it.
static_assert(kReadChunk >= kTlsRecord);

}  // namespace

std::string errorCodeFor(int status) {
  // The names the handlers use for the same failures, so a client sees one code whether the
  // edge's parser or origin's handler refused it (origin says body_too_large too).
  switch (status) {
    case 400:
      return "bad_request";
    case 408:
      return "request_timeout";
    case 413:
      return "body_too_large";
    case 414:
      return "target_too_long";
    case 431:
      return "headers_too_large";
    case 501:
      return "not_implemented";
    case 505:
      return "http_version_not_supported";
    default:
      return "http_" + std::to_string(status);
  }
}

SharedFile::~SharedFile() {
  if (fd >= 0) ::close(fd);
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers = "Content-Type: application/json\r\n";
  r.body = std::move(body);
  return r;
}

Response jsonError(int status, std::string_view code, std::string_view message,
                   int64_t retry_after_s) {
  std::string body;
  body.reserve(40 + code.size() + message.size());
  body.append("{\"error\":{\"code\":\"").append(code).append("\",\"message\":\"");
  body.append(message).append("\"}}");
  Response r = Response::json(status, std::move(body));
  r.headers += "Cache-Control: private, no-store\r\n";
  if (retry_after_s > 0) r.headers += "Retry-After: " + std::to_string(retry_after_s) + "\r\n";
  return r;
}

Response methodNotAllowed(std::string_view message, std::string_view allow) {
  Response r = jsonError(405, "method_not_allowed", message);
  r.headers.append("Allow: ").append(allow).append("\r\n");
  return r;
}

Response htmlError(int status) {
  // The titles of nginx's own pages, where they are older wordings than the status line's.
  const char* words = status == 408   ? "Request Time-out"
                      : status == 413 ? "Request Entity Too Large"
                      : status == 414 ? "Request-URI Too Large"
                      : status == 416 ? "Requested Range Not Satisfiable"
                      : status == 504 ? "Gateway Time-out"
                                      : reasonPhrase(status);
  const std::string title = std::to_string(status) + " " + words;
  Response r;
  r.status = status;
  r.headers = "Content-Type: text/html\r\n";
  r.body = "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
           "</h1></center>\r\n<hr><center>surge</center>\r\n</body>\r\n</html>\r\n";
  // nginx closes the connection after its own page for these (what follows such a request
  // cannot be trusted, or the server is in trouble).
  r.close = status == 400 || status == 413 || status == 414 || status == 500 || status == 501;
  return r;
}

std::string headerSafe(std::string value) {
  for (char& c : value) {
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  }
  return value;
}

void removeHeader(Response& response, std::string_view name) {
  std::string& h = response.headers;
  for (size_t line = 0; line < h.size();) {
    size_t end = h.find("\r\n", line);
    if (end == std::string::npos) break;
    if (end - line > name.size() && h[line + name.size()] == ':' &&
        equalsIgnoreCase(std::string_view(h).substr(line, name.size()), name)) {
      h.erase(line, end + 2 - line);
      continue;
    }
    line = end + 2;
  }
}

std::optional<std::string_view> headerValue(std::string_view lines, std::string_view name) {
  size_t at = 0;
  while (at < lines.size()) {
    size_t end = lines.find("\r\n", at);
    if (end == std::string_view::npos) end = lines.size();
    std::string_view line = lines.substr(at, end - at);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        equalsIgnoreCase(line.substr(0, name.size()), name)) {
      std::string_view v = line.substr(name.size() + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
      return v;
    }
    at = end + 2;
  }
  return std::nullopt;
}

void setHeader(Response& response, std::string_view name, std::string_view value) {
  removeHeader(response, name);
  response.headers.append(name).append(": ").append(value).append("\r\n");
}

void setCacheControl(Response& response, std::string_view value) {
  setHeader(response, "Cache-Control", value);
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Not Allowed";  // nginx's status line
    case 408:
      return "Request Timeout";
    case 402:
      return "Payment Required";
    case 406:
      return "Not Acceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 412:
      return "Precondition Failed";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 421:
      return "Misdirected Request";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 507:
      return "Insufficient Storage";
    default:
      return "Unknown";
  }
}

class Worker::Impl {
 public:
  // One listening socket of this worker: which port it is (Request::local_port) and whether it
  // speaks TLS.
  // What a connection accepted on one port is held to: ServerOptions' timeouts and limits, or
  // the port's own (ServerOptions::port_options), resolved once per listener.
  struct PortSettings {
    std::chrono::milliseconds head_timeout{0}, body_timeout{0}, send_timeout{0};
    ParseLimits limits;
  };
  struct Listener {
    Impl* owner = nullptr;
    int fd = -1;
    int port = 0;
    bool tls = false;
    bool h2c = false;  // a plain port where a client may start with HTTP/2's preface
    event* ev = nullptr;
    PortSettings settings;
    bool proxy_protocol = false;  // PortOptions::proxy_protocol
  };

  Impl(const ServerOptions& options, Handler& handler, std::vector<Listener> listeners,
       TlsSlot& tls, int index, std::atomic<size_t>& open_connections, Http2Stats& http2_stats)
      : options_(options),
        handler_(handler),
        listeners_(std::move(listeners)),
        tls_(tls),
        index_(index),
        open_connections_(open_connections),
        http2_stats_(http2_stats) {
    for (Listener& l : listeners_) {
      l.owner = this;
      l.settings = PortSettings{options.head_timeout, options.body_timeout, options.send_timeout,
                                options.limits};
      if (const ServerOptions::PortOptions* p = options.findPortOptions(l.port)) {
        PortSettings& s = l.settings;
        s.head_timeout = p->head_timeout.value_or(s.head_timeout);
        s.body_timeout = p->body_timeout.value_or(s.body_timeout);
        s.send_timeout = p->send_timeout.value_or(s.send_timeout);
        s.limits.max_head = p->max_head.value_or(s.limits.max_head);
        s.limits.max_target = p->max_target.value_or(s.limits.max_target);
        s.limits.h2_field_limits = p->max_head.has_value();
        l.proxy_protocol = p->proxy_protocol;
      }
    }
  }

  ~Impl() {
    for (auto& [id, c] : connections_)
      closeQuietly(*c);
    connections_.clear();
    for (Listener& l : listeners_) {
      if (l.ev) event_free(l.ev);
      if (l.fd >= 0) ::close(l.fd);
    }
    if (mailbox_ev_) event_free(mailbox_ev_);
    if (sweep_ev_) event_free(sweep_ev_);
    lingering_.reset();
    if (base_) event_base_free(base_);
  }

  base::Result<base::Done, std::string> init() {
    base_ = event_base_new();
    if (!base_) return base::fail(std::string("event_base_new failed"));
    worker_ = std::make_unique<Worker>(this, base_, index_);
    lingering_ = std::make_unique<LingeringClose>(base_);
    for (Listener& l : listeners_) {
      l.ev = event_new(base_, l.fd, EV_READ | EV_PERSIST, &Impl::onAccept, &l);
      if (!l.ev) return base::fail(std::string("event_new failed"));
      event_add(l.ev, nullptr);
    }
    mailbox_ev_ = event_new(base_, -1, 0, &Impl::onMailbox, this);
    sweep_ev_ = event_new(base_, -1, EV_PERSIST, &Impl::onSweep, this);
    if (!mailbox_ev_ || !sweep_ev_) return base::fail(std::string("event_new failed"));
    timeval second{1, 0};
    event_add(sweep_ev_, &second);
    return base::Done{};
  }

  void run() {
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), ("http-" + std::to_string(index_)).c_str());
      current_ = this;
      // One pass over the ready events, then a yield: when the worker shares its core (a load
      // generator, a log shipper, the other worker), the waiting thread runs between batches
      // instead of after a whole time slice, which is what decides tail latency under
      // saturation. Alone on a core, sched_yield returns at once (one syscall per batch).
      while (!event_base_got_exit(base_) && !event_base_got_break(base_)) {
        if (event_base_loop(base_, EVLOOP_ONCE) != 0) break;
        sched_yield();
      }
    });
  }

  void stop() {
    if (!thread_.joinable()) return;
    post([this] { event_base_loopexit(base_, nullptr); });
    thread_.join();
  }

  void post(std::function<void()> fn) {
    bool was_empty;
    {
      std::lock_guard lock(mailbox_mutex_);
      was_empty = mail_.empty();
      mail_.push_back(std::move(fn));
    }
    if (was_empty) event_active(mailbox_ev_, EV_READ, 0);
  }

  void respond(ResponseSlot slot, Response response) {
    auto it = connections_.find(slot.connection);
    if (it == connections_.end()) return;  // the client went away
    Connection& c = *it->second;
    if (c.h2) {
      // An answer that pushes hands its pushed requests over from inside respond(), and their
      // answers may come back at once: written after the outer call, as during a read.
      const bool dispatching = c.dispatching;
      c.dispatching = true;
      c.h2->respond(static_cast<int32_t>(slot.sequence), std::move(response), httpDate());
      c.dispatching = dispatching;
      if (!dispatching) writeH2(c);
      return;
    }
    if (c.state != State::kHandling || c.sequence != slot.sequence) return;
    if (c.body_stream) {
      // Answered before the body was all read (an upstream that answered early): the rest of it
      // is not read, so the connection ends with this answer.
      endBody(c, BodyStream::State::kAborted);
      response.close = true;
    }
    queue(c, std::move(response));
    c.in_offset += c.request_size;
    c.request_size = 0;
    c.state = State::kReading;
    if (!c.dispatching) process(c);
  }

  Worker& worker() { return *worker_; }

  // Worker thread (posted by Server::goawayHttp2).
  void goawayHttp2() {
    std::vector<uint64_t> h2;
    for (auto& [id, c] : connections_) {
      if (c->h2 && !c->held) h2.push_back(id);
    }
    for (uint64_t id : h2) {
      auto it = connections_.find(id);
      if (it == connections_.end()) continue;
      it->second->h2->drain();
      writeH2(*it->second);
    }
  }

  // Worker thread (posted by Server::drain).
  void drain() {
    draining_ = true;
    for (Listener& l : listeners_) {
      if (l.ev) event_del(l.ev);
      if (l.fd >= 0) ::close(l.fd);
      l.fd = -1;
    }
    std::vector<uint64_t> idle;
    for (auto& [id, c] : connections_) {
      if (c->held) {
        idle.push_back(id);
        continue;
      }
      if (c->h2) continue;  // below: GOAWAY, its streams in flight finish, then it closes
      if (c->state == State::kReading && c->out.empty() && c->in.size() == c->in_offset) {
        idle.push_back(id);
      }
    }
    for (uint64_t id : idle) {
      auto it = connections_.find(id);
      if (it != connections_.end()) close(*it->second);
    }
    goawayHttp2();
  }

 private:
  enum class State { kReading, kHandling, kClosing };

  struct Connection {
    uint64_t id = 0;
    int fd = -1;
    std::string peer;    // IP text, for logs and X-Forwarded-For
    int local_port = 0;  // the port it came in on
    bool h2c = false;    // came in on an h2c port (Listener::h2c)
    // listen's proxy_protocol: the header is awaited (what of it came so far: `proxy_seen`),
    // then what it said.
    bool awaiting_proxy = false;
    std::string proxy_seen;
    std::string proxy_addr;
    int proxy_port = 0;
    // Its port's timeouts (ServerOptions', or the port's own: ServerOptions::port_options).
    std::chrono::milliseconds head_timeout{0}, body_timeout{0}, send_timeout{0};
    ParseLimits limits;  // its port's (large_client_header_buffers of the port's default server)
    bool protocol_known = false;    // HTTP/2 or HTTP/1.1 decided (by ALPN or the first bytes)
    std::unique_ptr<H2Session> h2;  // HTTP/2 connections only
    bool h2_failed = false;         // the session gave up: write its GOAWAY, then close
    bool held = false;              // ended for a flood: held unread (closeOrHold)
    // The frames of the batch being written, one buffer while the connection has streams open: a
    // batch is made only when the last one is out, so it is refilled instead of allocated.
    std::shared_ptr<std::string> h2_batch;
    event* read_ev = nullptr;
    event* write_ev = nullptr;
    event* rate_ev = nullptr;  // limit_rate: when the answer being written may go on
    State state = State::kReading;
    std::string in;
    size_t in_offset = 0;     // start of the next request in `in`
    size_t request_size = 0;  // bytes of the request being handled
    uint64_t sequence = 0;
    bool dispatching = false;
    bool peer_closed = false;
    bool close_after_write = false;
    bool sent_continue = false;
    bool head_method = false;
    bool keep_alive = true;
    bool http10 = false;  // the request being answered is HTTP/1.0
    bool head_complete = false;
    // The request being handled went on before its body (Handler::streamsBody): the body's
    // pieces go here as they are read, `body_fed` bytes of it so far. `body_asked`: the handler
    // was asked for the request being read.
    std::shared_ptr<BodyStream> body_stream;
    uint64_t body_fed = 0;
    bool body_asked = false;
    bool read_paused = false;
    SSL* ssl = nullptr;                 // TLS connections only
    bool tls_read_wants_write = false;  // SSL_read needs the socket writable (handshake)
    bool tls_write_wants_read = false;  // SSL_write needs the peer's bytes first
    Clock::time_point activity;         // last byte read or written
    Clock::time_point request_start;    // first byte of the request being read
    Clock::time_point accepted;
    std::chrono::milliseconds idle_timeout{-1};  // after the last answer (negative: options')
    // Answers not yet written, in order: header bytes, then the body view (kept alive by owner).
    struct Pending {
      std::string head;
      std::string body;
      std::shared_ptr<const void> owner;
      std::string_view view;
      std::shared_ptr<const SharedFile> file;  // instead of body/view
      uint64_t file_offset = 0;
      uint64_t file_length = 0;
      size_t written = 0;       // of head + body
      uint64_t limit_rate = 0;  // bytes a second of the body (Response::limit_rate), 0: none
      uint64_t limit_rate_after = 0;
      Clock::time_point started;  // when it was queued: limit_rate counts from here
    };
    std::vector<Pending> out;
  };

  static void onAccept(evutil_socket_t, short, void* arg) {
    auto* l = static_cast<Listener*>(arg);
    l->owner->acceptFrom(*l);
  }

  void acceptFrom(const Listener& listener) {
    Impl* self = this;
    const int fd = listener.fd;
    const bool tls = listener.tls;
    std::shared_ptr<TlsContext> ctx = tls ? tls_.get() : nullptr;
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage peer{};
      socklen_t peer_len = sizeof peer;
      int client = ::accept4(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (client < 0) return;  // EAGAIN, or a transient error: the listener stays armed
      if (self->open_connections_.load(std::memory_order_relaxed) >=
          self->options_.max_connections) {
        ::close(client);  // over the cap: shed at once rather than queue without bound
        continue;
      }
      int one = 1;
      ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      char text[INET6_ADDRSTRLEN] = "-";
      if (peer.ss_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, text, sizeof text);
      } else if (peer.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr, text, sizeof text);
      }
      SSL* ssl = nullptr;
      if (tls) {
        if (!ctx) {  // no certificate (cannot happen through start/setTls; never spin on it)
          ::close(client);
          continue;
        }
        ssl = SSL_new(ctx->get());
        if (ssl == nullptr || SSL_set_fd(ssl, client) != 1) {
          if (ssl) SSL_free(ssl);
          ERR_clear_error();
          ::close(client);
          continue;
        }
        SSL_set_accept_state(ssl);
      }
      if (ssl && self->options_.http2_tls) offerHttp2(ssl);
      self->open(client, text, ssl, listener);
    }
  }

  void open(int fd, const char* peer, SSL* ssl, const Listener& listener) {
    auto c = std::make_unique<Connection>();
    c->h2c = listener.h2c;
    c->head_timeout = listener.settings.head_timeout;
    c->body_timeout = listener.settings.body_timeout;
    c->send_timeout = listener.settings.send_timeout;
    c->limits = listener.settings.limits;
    c->id = next_id_++;
    c->fd = fd;
    c->ssl = ssl;
    c->peer = peer;
    c->local_port = listener.port;
    c->awaiting_proxy = listener.proxy_protocol;
    c->activity = c->request_start = c->accepted = Clock::now();
    c->read_ev = event_new(base_, fd, EV_READ | EV_PERSIST, &Impl::onReadable, c.get());
    c->write_ev = event_new(base_, fd, EV_WRITE | EV_PERSIST, &Impl::onWritable, c.get());
    event_add(c->read_ev, nullptr);
    open_connections_.fetch_add(1, std::memory_order_relaxed);
    connections_.emplace(c->id, std::move(c));
  }

  // `linger`: the socket goes to lingering_ (lingering_close.h) rather than closing outright.
  void closeQuietly(Connection& c, bool linger = false) {
    if (c.body_stream) endBody(c, BodyStream::State::kAborted);
    if (c.ssl) {
      // One non-blocking close_notify, best effort; the socket closes either way.
      if (SSL_is_init_finished(c.ssl)) SSL_shutdown(c.ssl);
      SSL_free(c.ssl);
      ERR_clear_error();
      c.ssl = nullptr;
    }
    if (c.read_ev) event_free(c.read_ev);
    if (c.write_ev) event_free(c.write_ev);
    if (c.rate_ev) event_free(c.rate_ev);
    c.read_ev = c.write_ev = c.rate_ev = nullptr;
    if (c.fd >= 0) {
      if (linger && lingering_) {
        lingering_->add(c.fd);
      } else {
        ::close(c.fd);
      }
      open_connections_.fetch_sub(1, std::memory_order_relaxed);
    }
    c.fd = -1;
  }

  // `linger`: the close ends a conversation that went well (an answer with Connection: close,
  // keep-alive's limits, a drain's GOAWAY), so the client may still be sending what it sent
  // before it learned (lingering_close.h). Errors, timeouts and floods close outright, as
  // nginx's do.
  void close(Connection& c, bool linger = false) {
    if (c.held) {
      --held_;
      http2_stats_.held.add(-1);
    }
    uint64_t id = c.id;
    // A client that closed first has nothing more to send: no need to wait for it.
    closeQuietly(c, linger && !c.peer_closed);
    connections_.erase(id);  // destroys c
  }

  static void onReadable(evutil_socket_t, short, void* arg) {
    auto* c = static_cast<Connection*>(arg);
    Impl* self = current_;
    self->readFrom(*c);
  }

  static void onWritable(evutil_socket_t, short, void* arg) {
    auto* c = static_cast<Connection*>(arg);
    Impl* self = current_;
    if (c->tls_read_wants_write) {
      c->tls_read_wants_write = false;
      if (c->out.empty()) event_del(c->write_ev);
      return self->readFrom(*c);
    }
    self->writeMore(*c);
  }

  // A rate-limited answer may go on (limit_rate).
  static void onRateTimer(evutil_socket_t, short, void* arg) {
    current_->writeMore(*static_cast<Connection*>(arg));
  }

  // The socket may take more, or limit_rate lets more out: what is queued goes on, then the
  // connection closes or reads its next request once all is out.
  void writeMore(Connection& c) {
    if (c.h2) return writeH2(c);
    if (!flush(c)) return;
    event_del(c.write_ev);
    if (c.close_after_write) return close(c, true);
    process(c);
  }

  // The PROXY protocol header, read before anything else (TLS included: it comes before the
  // ClientHello). The socket is peeked and exactly the header taken from it, so that what
  // follows stays for whoever reads next (OpenSSL); an incomplete header is taken whole (all of
  // it is header) so that a level-triggered read does not spin on it. false: not read yet, or
  // the connection closed (not a PROXY header).
  bool readProxyHeader(Connection& c) {
    char buf[kMaxProxyHeader];
    const size_t have = c.proxy_seen.size();
    ssize_t n = ::recv(c.fd, buf, sizeof buf - have, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return false;
    if (n <= 0) {
      close(c);
      return false;
    }
    std::string seen = c.proxy_seen + std::string(buf, static_cast<size_t>(n));
    ProxyHeader header;
    const int rc = parseProxyHeader(seen, header);
    if (rc < 0 || (rc == 0 && seen.size() >= kMaxProxyHeader)) {
      close(c);
      return false;
    }
    const size_t take = rc == 1 ? header.size - have : static_cast<size_t>(n);
    if (::recv(c.fd, buf, take, 0) != static_cast<ssize_t>(take)) {
      close(c);
      return false;
    }
    c.activity = Clock::now();
    if (rc == 0) {
      c.proxy_seen = std::move(seen);
      return false;
    }
    c.awaiting_proxy = false;
    c.proxy_seen.clear();
    c.proxy_addr = std::move(header.addr);
    c.proxy_port = header.port;
    return true;
  }

  void readFrom(Connection& c) {
    if (c.awaiting_proxy && !readProxyHeader(c)) return;  // `c` may be gone
    // A client that keeps sending while its answer waits is read up to a bound, then paused.
    c.tls_write_wants_read = false;  // whatever SSL_write waited for may be here now
    char buf[kReadChunk];
    while (true) {
      ssize_t n = c.ssl ? tlsRead(c, buf, sizeof buf) : ::recv(c.fd, buf, sizeof buf, 0);
      if (n == kTlsAgain) break;
      if (n > 0) {
        if (c.in_offset == c.in.size()) {
          c.in.clear();
          c.in_offset = 0;
          c.request_start = Clock::now();
        }
        c.in.append(buf, static_cast<size_t>(n));
        c.activity = Clock::now();
        if (!c.ssl && static_cast<size_t>(n) < sizeof buf) break;
        if (c.in.size() - c.in_offset > c.limits.max_head + c.limits.max_body + 2 * kReadChunk) {
          break;
        }
        continue;
      }
      if (n == 0) {
        c.peer_closed = true;
        break;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return close(c);  // reset by peer
    }
    if (c.peer_closed) {
      // Half-closed: answer what is complete, then close.
      event_del(c.read_ev);
      if (c.body_stream) feedBody(c);           // the body ends here, whole or cut off
      if (c.state == State::kHandling) return;  // the answer can still be written
    } else if (c.state == State::kHandling &&
               c.in.size() - c.in_offset > c.limits.max_head + c.limits.max_body) {
      // Pipelined input beyond one full request waits in the kernel until the answer is out.
      event_del(c.read_ev);
      c.read_paused = true;
      return;
    }
    process(c);
    // `c` may be gone here.
  }

  // SSL_read: bytes, 0 at the end of the stream, kTlsAgain when it must wait (for a readable
  // socket, or - during the handshake - a writable one, armed here), -1 with errno on an error.
  static ssize_t tlsRead(Connection& c, char* buf, size_t size) {
    ERR_clear_error();
    int n = SSL_read(c.ssl, buf, static_cast<int>(size));
    if (n > 0) return n;
    switch (SSL_get_error(c.ssl, n)) {
      case SSL_ERROR_WANT_READ:
        return kTlsAgain;
      case SSL_ERROR_WANT_WRITE:
        c.tls_read_wants_write = true;
        event_add(c.write_ev, nullptr);
        return kTlsAgain;
      case SSL_ERROR_ZERO_RETURN:
        return 0;
      default:  // a failed handshake, a bad record, a reset
        ERR_clear_error();
        errno = ECONNRESET;
        return -1;
    }
  }

  // SSL_write of up to one record: bytes taken, kTlsAgain when the socket is full, -1 on an
  // error. A retry after kTlsAgain passes the same bytes again (possibly from another address,
  // which SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows).
  static ssize_t tlsWrite(Connection& c, const char* data, size_t size) {
    ERR_clear_error();
    int n = SSL_write(c.ssl, data, static_cast<int>(std::min(size, kTlsRecord)));
    if (n > 0) return n;
    int err = SSL_get_error(c.ssl, n);
    if (err == SSL_ERROR_WANT_WRITE) return kTlsAgain;
    if (err == SSL_ERROR_WANT_READ) {
      // Only the peer can unblock this: wait for readable, not writable (which would spin).
      c.tls_write_wants_read = true;
      return kTlsAgain;
    }
    ERR_clear_error();
    return -1;
  }

  // The socket is full: resume when it is writable. Unless TLS waits for the peer's bytes
  // (SSL_write wanted a read): then only a readable socket helps, and an armed write event would
  // fire on every loop pass.
  static void waitToWrite(Connection& c) {
    if (c.tls_write_wants_read) {
      event_del(c.write_ev);
    } else {
      event_add(c.write_ev, nullptr);
    }
  }

  // TLS: head and body go out as records of up to 16 KiB; a small answer is gathered into one.
  ssize_t tlsWritePending(Connection& c, Connection::Pending& p, std::string_view body) {
    size_t head_left = p.written < p.head.size() ? p.head.size() - p.written : 0;
    size_t total_left = p.head.size() + body.size() - p.written;
    if (head_left > 0 && total_left <= kTlsRecord) {
      tls_scratch_.assign(p.head, p.written, head_left);
      tls_scratch_.append(body);
      return tlsWrite(c, tls_scratch_.data(), tls_scratch_.size());
    }
    if (head_left > 0) return tlsWrite(c, p.head.data() + p.written, head_left);
    size_t off = p.written - p.head.size();
    return tlsWrite(c, body.data() + off, body.size() - off);
  }

  // How many more bytes of `p` limit_rate lets out now (SIZE_MAX: no limit). nginx's rule: rate
  // x (seconds since the answer started + 1), after limit_rate_after bytes of the body.
  static size_t allowance(const Connection::Pending& p) {
    if (p.limit_rate == 0) return SIZE_MAX;
    const double elapsed = std::chrono::duration<double>(Clock::now() - p.started).count();
    const double may = static_cast<double>(p.head.size() + p.limit_rate_after) +
                       static_cast<double>(p.limit_rate) * (elapsed + 1.0);
    const double written = static_cast<double>(p.written);
    return may > written ? static_cast<size_t>(may - written) : 0;
  }

  // Too little of `p` may go out yet to be worth a write (a twentieth of a second's worth, or
  // the rest): true, with a timer set for when it is.
  bool waitForRate(Connection& c, const Connection::Pending& p, size_t allowed, size_t left) {
    if (allowed == SIZE_MAX) return false;
    const size_t worth =
        static_cast<size_t>(std::min<uint64_t>(left, std::max<uint64_t>(1, p.limit_rate / 20)));
    if (allowed >= worth) return false;
    const double wait_s = static_cast<double>(worth - allowed) / static_cast<double>(p.limit_rate);
    const auto wait_us = static_cast<int64_t>(wait_s * 1e6) + 1000;
    if (!c.rate_ev) c.rate_ev = evtimer_new(base_, &Impl::onRateTimer, &c);
    timeval tv{static_cast<time_t>(wait_us / 1000000), static_cast<suseconds_t>(wait_us % 1000000)};
    event_del(c.write_ev);
    event_add(c.rate_ev, &tv);
    return true;
  }

  // Writes queued answers; true when everything is out.
  bool flush(Connection& c) {
    while (!c.out.empty()) {
      Connection::Pending& p = c.out.front();
      const size_t allowed = allowance(p);
      if (p.file) {
        const size_t left = static_cast<size_t>(p.head.size() + p.file_length - p.written);
        if (waitForRate(c, p, allowed, left)) return false;
        int rc = flushFile(c, p, allowed);
        if (rc < 0) {
          c.out.clear();
          c.close_after_write = true;
          return true;
        }
        if (rc == 0) {
          waitToWrite(c);
          return false;
        }
        if (rc == 2) continue;  // what limit_rate allowed is out: ask it again
        c.out.erase(c.out.begin());
        continue;
      }
      std::string_view body = p.owner ? p.view : std::string_view(p.body);
      size_t total = p.head.size() + body.size();
      if (waitForRate(c, p, allowed, total - p.written)) return false;
      // What limit_rate allows of the body (the head always goes whole).
      if (allowed != SIZE_MAX) {
        const size_t end = std::max(p.head.size(), std::min(total, p.written + allowed));
        body = body.substr(0, end - p.head.size());
      }
      const size_t upto = p.head.size() + body.size();
      if (c.ssl) {
        ssize_t n = tlsWritePending(c, p, body);
        if (n == kTlsAgain) {
          waitToWrite(c);
          return false;
        }
        if (n < 0) {
          c.out.clear();
          c.close_after_write = true;
          return true;
        }
        c.activity = Clock::now();
        p.written += static_cast<size_t>(n);
        if (p.written == total) c.out.erase(c.out.begin());
        continue;
      }
      iovec iov[2];
      int n_iov = 0;
      if (p.written < p.head.size()) {
        iov[n_iov++] = {p.head.data() + p.written, p.head.size() - p.written};
        if (!body.empty()) iov[n_iov++] = {const_cast<char*>(body.data()), body.size()};
      } else {
        size_t off = p.written - p.head.size();
        iov[n_iov++] = {const_cast<char*>(body.data()) + off, body.size() - off};
      }
      ssize_t n = ::writev(c.fd, iov, n_iov);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          event_add(c.write_ev, nullptr);
          return false;
        }
        if (errno == EINTR) continue;
        c.out.clear();
        c.close_after_write = true;
        return true;
      }
      c.activity = Clock::now();
      p.written += static_cast<size_t>(n);
      if (p.written == total) {
        c.out.erase(c.out.begin());
        continue;
      }
      if (p.written < upto) {
        event_add(c.write_ev, nullptr);
        return false;
      }
      // All limit_rate allowed is out: the loop asks it again (and waits).
    }
    return true;
  }

  // The head with send(MSG_MORE), then the file with sendfile, no more than `allowed` bytes in
  // all (limit_rate): 1 when all is out, 2 when what was allowed is, 0 when the socket is full,
  // -1 on an error (the file shrank, or the peer went away).
  int flushFile(Connection& c, Connection::Pending& p, size_t allowed) {
    if (c.ssl) return flushFileTls(c, p, allowed);
    while (p.written < p.head.size()) {
      ssize_t n = ::send(c.fd, p.head.data() + p.written, p.head.size() - p.written,
                         MSG_NOSIGNAL | (p.file_length ? MSG_MORE : 0));
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
      }
      c.activity = Clock::now();
      p.written += static_cast<size_t>(n);
    }
    const size_t limit = allowed == SIZE_MAX ? SIZE_MAX : p.written + allowed;
    while (p.written - p.head.size() < p.file_length) {
      if (p.written >= limit) return 2;
      uint64_t done = p.written - p.head.size();
      off_t offset = static_cast<off_t>(p.file_offset + done);
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(p.file_length - done, 1u << 20));
      chunk = std::min(chunk, limit - p.written);
      ssize_t n = ::sendfile(c.fd, p.file->fd, &offset, chunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
      }
      if (n == 0) return -1;  // the file is shorter than announced: the framing is broken
      c.activity = Clock::now();
      p.written += static_cast<size_t>(n);
      // Give other connections a turn after a large chunk, as nginx's sendfile_max_chunk does.
      if (p.written - p.head.size() < p.file_length && n >= (1 << 20)) return 0;
    }
    return 1;
  }

  // No sendfile through TLS: the file is read into a record-sized buffer and encrypted.
  int flushFileTls(Connection& c, Connection::Pending& p, size_t allowed) {
    while (p.written < p.head.size()) {
      ssize_t n = tlsWrite(c, p.head.data() + p.written, p.head.size() - p.written);
      if (n == kTlsAgain) return 0;
      if (n < 0) return -1;
      c.activity = Clock::now();
      p.written += static_cast<size_t>(n);
    }
    uint64_t sent_now = 0;
    char buf[kTlsRecord];
    const size_t limit = allowed == SIZE_MAX ? SIZE_MAX : p.written + allowed;
    while (p.written - p.head.size() < p.file_length) {
      if (p.written >= limit) return 2;
      uint64_t done = p.written - p.head.size();
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(p.file_length - done, sizeof buf));
      chunk = std::min(chunk, limit - p.written);
      ssize_t got = ::pread(p.file->fd, buf, chunk, static_cast<off_t>(p.file_offset + done));
      if (got <= 0) return -1;  // the file shrank: the framing is broken
      ssize_t n = tlsWrite(c, buf, static_cast<size_t>(got));
      if (n == kTlsAgain) return 0;
      if (n < 0) return -1;
      c.activity = Clock::now();
      p.written += static_cast<size_t>(n);
      sent_now += static_cast<uint64_t>(n);
      if (p.written - p.head.size() < p.file_length && sent_now >= (1u << 20)) {
        event_add(c.write_ev, nullptr);  // another connection's turn; resume when writable
        return 0;
      }
    }
    return 1;
  }

  void queue(Connection& c, Response r) {
    if (r.drop) {
      c.close_after_write = true;
      return;
    }
    Connection::Pending p;
    std::string_view body = r.shared_owner ? r.shared_body : std::string_view(r.body);
    uint64_t length = r.file                      ? r.file_length
                      : r.content_length_override ? *r.content_length_override
                                                  : body.size();
    bool no_body = r.status == 204 || r.status == 304 || r.status < 200;
    bool close_conn = r.close || !c.keep_alive || c.peer_closed || draining_;
    // Trailers need the chunked coding (RFC 9112 7.1.2): the body goes as one chunk.
    const bool chunked = !r.trailers.empty() && !no_body && !c.http10 && !c.head_method;
    p.head.reserve(160 + r.headers.size());
    p.head += "HTTP/1.1 ";
    p.head += std::to_string(r.status);
    p.head += ' ';
    p.head += reasonPhrase(r.status);
    p.head += "\r\nServer: surge\r\nDate: ";
    p.head += httpDate();
    p.head += "\r\n";
    if (chunked) {
      p.head += "Transfer-Encoding: chunked\r\n";
    } else if (!no_body) {
      p.head += "Content-Length: ";
      p.head += std::to_string(length);
      p.head += "\r\n";
    }
    if (close_conn) {
      p.head += "Connection: close\r\n";
    } else {
      if (c.http10 || options_.announce_keep_alive) {
        // HTTP/1.0 closes unless told otherwise: the keep-alive it asked for is confirmed.
        p.head += "Connection: keep-alive\r\n";
      }
      if (r.keep_alive_header_s >= 0) {
        p.head += "Keep-Alive: timeout=";
        p.head += std::to_string(r.keep_alive_header_s);
        p.head += "\r\n";
      }
    }
    c.idle_timeout = r.idle_timeout;
    p.head += r.headers;
    p.head += "\r\n";
    if (chunked && length > 0) {
      char size[24];
      p.head.append(size,
                    static_cast<size_t>(std::snprintf(size, sizeof size, "%llx\r\n",
                                                      static_cast<unsigned long long>(length))));
    }
    if (!c.head_method && !no_body) {
      if (r.file) {
        p.file = std::move(r.file);
        p.file_offset = r.file_offset;
        p.file_length = r.file_length;
      } else if (r.shared_owner) {
        p.owner = std::move(r.shared_owner);
        p.view = r.shared_body;
      } else {
        p.body = std::move(r.body);
      }
    }
    if (r.limit_rate > 0 && !c.head_method && !no_body) {
      p.limit_rate = static_cast<uint64_t>(r.limit_rate);
      p.limit_rate_after = r.limit_rate_after;
      p.started = Clock::now();
    }
    c.out.push_back(std::move(p));
    if (chunked) {
      Connection::Pending end;
      end.head = length > 0 ? "\r\n0\r\n" : "0\r\n";
      end.head += r.trailers;
      end.head += "\r\n";
      c.out.push_back(std::move(end));
    }
    if (close_conn) c.close_after_write = true;
  }

  // The answer to a request refused before any routing (the parser's, or HTTP/2's).
  Response refusal(int status, const char* reason) const {
    Response r =
        options_.html_errors ? htmlError(status) : jsonError(status, errorCodeFor(status), reason);
    // A refusal of this request's own bytes: a CDN must never give it to anyone else (jsonError
    // says so already; nginx's page does not).
    if (options_.html_errors) r.headers += "Cache-Control: private, no-store\r\n";
    return r;
  }

  void queueError(Connection& c, int status, const char* reason) {
    Response r = refusal(status, reason);
    r.close = true;  // after a framing error nothing that follows can be trusted
    queue(c, std::move(r));
  }

  // Which protocol a new connection speaks: HTTP/2 when ALPN chose "h2", or on an h2c port when
  // the first bytes are HTTP/2's preface; HTTP/1.1 otherwise. false: too few bytes to tell yet.
  bool chooseProtocol(Connection& c, std::string_view input) {
    bool h2 = false;
    if (c.ssl) {
      h2 = alpnChoseHttp2(c.ssl);
    } else if (c.h2c) {
      // HTTP/2's preface tells an h2c client from an HTTP/1.1 one.
      constexpr std::string_view kPreface = H2Session::kPreface;
      const size_t n = std::min(input.size(), kPreface.size());
      if (input.substr(0, n) == kPreface.substr(0, n)) {
        if (n < kPreface.size() && !c.peer_closed) return false;
        h2 = n == kPreface.size();
      }
    }
    c.protocol_known = true;
    if (!h2) return true;
    Connection* conn = &c;  // the session is the connection's: it never outlives it
    c.h2 = std::make_unique<H2Session>(
        options_.http2, c.limits, http2_stats_,
        [this, conn](Request& r, int32_t stream) {
          fillFromConnection(*conn, r);
          ++conn->sequence;
          handler_.handle(*worker_, r, ResponseSlot{conn->id, static_cast<uint64_t>(stream)});
        },
        [this](int status, const char* reason) { return refusal(status, reason); },
        [this, conn](Request& head) {
          fillFromConnection(*conn, head);
          return handler_.streamsBody(head);
        },
        [this, conn](Request& r, int32_t stream, int status) {
          fillFromConnection(*conn, r);
          ++conn->sequence;
          return handler_.routeRefusal(
              *worker_, r, ResponseSlot{conn->id, static_cast<uint64_t>(stream)}, status);
        });
    return true;
  }

  // HTTP/2: what was read goes to the session (which dispatches the requests it completes), then
  // whatever it has to send is written.
  void processH2(Connection& c) {
    if (c.in.size() > c.in_offset) {
      std::string_view input(c.in.data() + c.in_offset, c.in.size() - c.in_offset);
      c.dispatching = true;  // answers given during the call are written after it
      if (!c.h2->receive(input)) c.h2_failed = true;
      c.dispatching = false;
      c.in.clear();
      c.in_offset = 0;
    }
    writeH2(c);
  }

  // Frames go out a batch at a time, the next made only when the last is written: a peer that
  // reads slowly holds one batch here, the rest waits in nghttp2 as flow control allows.
  void writeH2(Connection& c) {
    while (true) {
      if (c.out.empty()) {
        if (!c.h2_batch) c.h2_batch = std::make_shared<std::string>();
        std::string& batch = *c.h2_batch;
        batch.clear();
        if (!c.h2->produce(batch, kH2WriteBatch)) c.h2_failed = true;
        if (batch.empty()) break;
        Connection::Pending p;
        p.owner = c.h2_batch;
        p.view = batch;
        c.out.push_back(std::move(p));
      }
      if (!flush(c)) return;  // resumes in onWritable
    }
    // An idle connection keeps no batch buffer: thousands of them would hold 64 KiB each.
    if (c.h2->openStreams() == 0) c.h2_batch.reset();
    const bool finished =
        c.h2->done() || c.h2_failed || c.close_after_write ||
        ((c.peer_closed || draining_ || c.h2->goingAway()) && c.h2->openStreams() == 0);
    if (finished) closeOrHold(c);
  }

  // A connection ended for a flood (rapid reset, control frames, CONTINUATION, refused streams),
  // its GOAWAY written: held, unread, until its send_timeout instead of closed, so that the
  // flooding client waits on a shut TCP window rather than reconnecting at once (over TLS a new
  // handshake each time, on the edge's CPU) to flood again: HAProxy's tarpit, for HTTP/2 floods.
  // The socket's receive buffer is made small; at most kMaxHeld a worker, beyond that (and while
  // draining) closed as before.
  static constexpr size_t kMaxHeld = 64;
  void closeOrHold(Connection& c) {
    if (!c.h2 || !c.h2->flooded() || draining_) {
      return close(c, !c.h2_failed && !(c.h2 && c.h2->flooded()));
    }
    if (c.held) return;
    if (held_ >= kMaxHeld) return close(c);
    c.held = true;
    ++held_;
    http2_stats_.held.add(1);
    event_del(c.read_ev);
    int small = 4096;
    ::setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    c.activity = Clock::now();
  }

  // Writes what is queued, then reads and dispatches requests until one is being handled, the
  // input runs out, or the connection closes.
  void process(Connection& c) {
    if (c.h2) return processH2(c);
    if (c.body_stream) feedBody(c);
    if (!c.protocol_known && c.in.size() > c.in_offset) {
      if (!chooseProtocol(c, std::string_view(c.in).substr(c.in_offset))) return;
      if (c.h2) return processH2(c);
    }
    while (true) {
      if (!flush(c)) return;  // resumes in onWritable
      if (c.close_after_write) return close(c, true);
      if (c.state != State::kReading) return;
      if (c.read_paused) {
        c.read_paused = false;
        event_add(c.read_ev, nullptr);
      }
      std::string_view input(c.in.data() + c.in_offset, c.in.size() - c.in_offset);
      if (input.empty()) {
        if (c.peer_closed || draining_) return close(c);
        return;
      }
      size_t consumed = 0;
      ParseError error;
      bool head_complete = false;
      ParseResult result = parseRequest(input, c.limits, request_, consumed, error, &head_complete);
      if (result == ParseResult::kIncomplete) {
        if (c.peer_closed) return close(c);
        if (head_complete && request_.expect_continue && !c.sent_continue) {
          c.sent_continue = true;
          // Queued like any answer: a full socket (or a TLS record that must be retried with the
          // same bytes) must not lose or reorder it.
          Connection::Pending interim;
          interim.head = "HTTP/1.1 100 Continue\r\n\r\n";
          c.out.push_back(std::move(interim));
          if (flush(c) && c.close_after_write) return close(c, true);
        }
        c.head_complete = head_complete;
        if (head_complete && !c.body_asked) {
          c.body_asked = true;
          fillFromConnection(c, request_);
          if (handler_.streamsBody(request_)) return dispatchBeforeBody(c);
        }
        return;
      }
      if (result == ParseResult::kError) {
        c.body_asked = false;
        c.head_method = false;
        c.keep_alive = false;
        c.http10 = false;
        queueError(c, error.status, error.reason);
        continue;
      }
      c.request_size = consumed;
      request_.length = consumed;
      if (!dispatch(c)) return;
      // Answered during the call: loop to write it and take the next pipelined request.
    }
  }

  // What a request takes from its connection (its number on it: the next one).
  void fillFromConnection(const Connection& c, Request& r) const {
    r.remote_addr = c.peer;
    r.proxy_protocol_addr = c.proxy_addr;
    r.proxy_protocol_port = c.proxy_port;
    r.local_port = c.local_port;
    r.tls = c.ssl != nullptr;
    r.connection_requests = c.sequence + 1;
    r.connection_start = c.accepted;
  }

  // request_ to the handler. false: the connection is gone.
  bool dispatch(Connection& c) {
    c.sent_continue = false;
    c.head_complete = false;
    c.body_asked = false;
    c.keep_alive = request_.keep_alive;
    c.http10 = request_.version_minor == 0;
    c.head_method = request_.method == "HEAD";
    c.state = State::kHandling;
    fillFromConnection(c, request_);
    ResponseSlot slot{c.id, ++c.sequence};
    uint64_t id = c.id;
    c.dispatching = true;
    handler_.handle(*worker_, request_, slot);
    auto it = connections_.find(id);
    if (it == connections_.end()) return false;
    it->second->dispatching = false;
    return true;
  }

  // The head of request_ has come and its body is to follow it (Handler::streamsBody): handed
  // over now, what of the body is here already fed to it after.
  void dispatchBeforeBody(Connection& c) {
    c.body_stream = std::make_shared<BodyStream>();
    c.body_fed = 0;
    c.request_size = 0;  // known once the body ends (feedBody)
    request_.body = {};
    request_.body_stream = c.body_stream;
    request_.length = request_.head_size;
    if (dispatch(c)) process(c);  // `c` is still there
  }

  // What of a streamed body has come since the last look goes to its stream. The request is
  // parsed again from its start (the parser keeps no state between reads; a body is bounded by
  // the body limit): its body so far is the Content-Length bytes read, or the chunks decoded.
  void feedBody(Connection& c) {
    std::string_view input(c.in.data() + c.in_offset, c.in.size() - c.in_offset);
    Request scratch;
    size_t consumed = 0;
    ParseError error;
    ParseResult result = parseRequest(input, c.limits, scratch, consumed, error, nullptr);
    if (result == ParseResult::kError) return endBody(c, BodyStream::State::kAborted);
    std::string_view so_far;
    if (result == ParseResult::kComplete) {
      so_far = scratch.body;
    } else if (!scratch.header("Transfer-Encoding").empty()) {
      so_far = scratch.chunked_body;
    } else {
      so_far = input.substr(std::min(scratch.head_size, input.size()));
    }
    if (so_far.size() > c.body_fed) {
      c.body_stream->append(so_far.substr(c.body_fed));
      c.body_fed = so_far.size();
    }
    if (result == ParseResult::kComplete) {
      c.request_size = consumed;
      return endBody(c, BodyStream::State::kComplete);
    }
    if (c.peer_closed) return endBody(c, BodyStream::State::kAborted);
    c.body_stream->notify();
  }

  // The streamed body ends (`how`: complete, or cut off) and its listener is told.
  void endBody(Connection& c, BodyStream::State how) {
    std::shared_ptr<BodyStream> body = std::move(c.body_stream);
    if (how == BodyStream::State::kComplete) {
      body->complete();
    } else {
      body->abort();
      c.keep_alive = false;  // the rest of the request was not read: nothing follows it
    }
    body->notify();
  }

  static void onMailbox(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    std::vector<std::function<void()>> mail;
    {
      std::lock_guard lock(self->mailbox_mutex_);
      mail.swap(self->mail_);
    }
    for (auto& fn : mail)
      fn();
  }

  // Once a second: close connections that are too slow or idle too long.
  static void onSweep(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    auto now = Clock::now();
    std::vector<uint64_t> expired;
    std::vector<uint64_t> timed_out;
    std::vector<uint64_t> h2_idle, h2_stalled;
    for (auto& [id, c] : self->connections_) {
      if (c->held) {
        if (now - c->activity > c->send_timeout) expired.push_back(id);
        continue;
      }
      if (c->h2) {
        H2Session& h = *c->h2;
        if (!c->out.empty() || h.sending()) {
          // A peer that stops reading, or keeps its window shut (slow read, zero window).
          if (now - h.lastProgress() > c->send_timeout) {
            self->http2_stats_.send_timeouts.add();
            expired.push_back(id);
          }
        } else if (h.openStreams() == 0) {
          auto limit = h.streamsTaken() == 0 ? c->head_timeout : self->options_.idle_timeout;
          if (now - c->activity > limit) h2_idle.push_back(id);
        } else if (h.resetStalled(now, c->head_timeout, c->body_timeout) > 0) {
          h2_stalled.push_back(id);  // requests begun and never finished: their resets go out
        }
        continue;
      }
      if (!c->out.empty()) {
        if (now - c->activity > c->send_timeout) expired.push_back(id);
        continue;
      }
      if (c->body_stream && now - c->activity > c->body_timeout) {
        expired.push_back(id);  // a streamed body that stopped coming (client_body_timeout)
        continue;
      }
      if (c->state != State::kReading) continue;
      bool partial = c->in.size() > c->in_offset;
      // A new connection that has asked nothing yet (a TLS one may still be in its handshake) is
      // closed after the head timeout, not the idle one, as nginx does with
      // client_header_timeout: connecting and staying silent must not hold a slot for a minute.
      bool fresh = c->sequence == 0;
      if (!partial) {
        auto limit = fresh                          ? c->head_timeout
                     : c->idle_timeout.count() >= 0 ? c->idle_timeout
                                                    : self->options_.idle_timeout;
        if (now - c->activity > limit) expired.push_back(id);
      } else if (now - c->request_start > (c->head_complete ? c->body_timeout : c->head_timeout)) {
        timed_out.push_back(id);
      }
    }
    for (uint64_t id : expired) {
      auto it = self->connections_.find(id);
      if (it != self->connections_.end()) self->close(*it->second);
    }
    for (uint64_t id : h2_stalled) {
      auto it = self->connections_.find(id);
      if (it != self->connections_.end()) self->writeH2(*it->second);
    }
    for (uint64_t id : h2_idle) {  // GOAWAY, then closed once it is written
      auto it = self->connections_.find(id);
      if (it == self->connections_.end()) continue;
      it->second->h2->terminate(NGHTTP2_NO_ERROR);
      it->second->close_after_write = true;
      self->writeH2(*it->second);
    }
    for (uint64_t id : timed_out) {
      auto it = self->connections_.find(id);
      if (it == self->connections_.end()) continue;
      self->queueError(*it->second, 408, "request not received in time");
      self->process(*it->second);
    }
  }

  std::string_view httpDate() {
    time_t now = ::time(nullptr);
    if (now != date_second_) {
      date_second_ = now;
      tm t;
      gmtime_r(&now, &t);
      size_t n = strftime(date_, sizeof date_, "%a, %d %b %Y %H:%M:%S GMT", &t);
      date_len_ = n;
    }
    return {date_, date_len_};
  }

  const ServerOptions& options_;
  Handler& handler_;
  std::vector<Listener> listeners_;
  TlsSlot& tls_;
  std::string tls_scratch_;  // gathers a small answer into one TLS record
  int index_;
  std::atomic<size_t>& open_connections_;
  Http2Stats& http2_stats_;
  event_base* base_ = nullptr;
  std::unique_ptr<LingeringClose> lingering_;
  event* mailbox_ev_ = nullptr;
  event* sweep_ev_ = nullptr;
  std::unique_ptr<Worker> worker_;
  std::thread thread_;
  std::mutex mailbox_mutex_;
  std::vector<std::function<void()>> mail_;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  uint64_t next_id_ = 1;
  Request request_;  // reused: its header vector keeps its capacity
  bool draining_ = false;
  size_t held_ = 0;  // connections held after a flood (closeOrHold)
  time_t date_second_ = 0;
  char date_[64] = {};
  size_t date_len_ = 0;

  static thread_local Impl* current_;
};

thread_local Worker::Impl* Worker::Impl::current_ = nullptr;

void Worker::respond(ResponseSlot slot, Response response) {
  impl_->respond(slot, std::move(response));
}

void Worker::post(std::function<void()> fn) {
  impl_->post(std::move(fn));
}

const ServerOptions::PortOptions* ServerOptions::findPortOptions(int port) const {
  for (const PortOptions& p : port_options) {
    if (p.port == port) return &p;
  }
  return nullptr;
}

ServerOptions::PortOptions& ServerOptions::portOptions(int port) {
  for (PortOptions& p : port_options) {
    if (p.port == port) return p;
  }
  port_options.push_back({});
  port_options.back().port = port;
  return port_options.back();
}

namespace {

base::Counter& defence(base::MetricsRegistry& m, const std::string& prefix, const char* name) {
  return m.counter(prefix + "_http2_defences_total", "HTTP/2 defences triggered, by defence",
                   std::string("defence=\"") + name + "\"");
}

base::Counter& reset(base::MetricsRegistry& m, const std::string& prefix, const char* reason) {
  return m.counter(prefix + "_http2_resets_total", "HTTP/2 streams reset, by reason",
                   std::string("reason=\"") + reason + "\"");
}

}  // namespace

Http2Stats::Http2Stats(base::MetricsRegistry& m, const std::string& prefix)
    : connections(m.counter(prefix + "_http2_connections_total", "Connections that spoke HTTP/2")),
      streams(m.counter(prefix + "_http2_streams_total", "HTTP/2 streams opened by clients")),
      streams_open(m.gauge(prefix + "_http2_streams_open", "HTTP/2 streams open now")),
      resets_by_peer(reset(m, prefix, "client")),
      protocol_errors(reset(m, prefix, "protocol_error")),
      goaways(
          m.counter(prefix + "_http2_goaways_total", "GOAWAY frames sent (drain, idle, errors)")),
      header_lists_too_large(defence(m, prefix, "header_list")),
      flood_rapid_reset(defence(m, prefix, "rapid_reset")),
      flood_control(defence(m, prefix, "control_flood")),
      flood_continuation(defence(m, prefix, "continuation_flood")),
      streams_refused(defence(m, prefix, "concurrent_streams")),
      flood_streams(defence(m, prefix, "refused_streams_flood")),
      send_timeouts(defence(m, prefix, "send_timeout")),
      held(m.gauge(prefix + "_http2_held_connections",
                   "Connections ended for a flood, held unread until their send_timeout")) {}

Server::Server(ServerOptions options, Handler& handler)
    : options_(std::move(options)),
      handler_(handler),
      http2_stats_(options_.metrics ? *options_.metrics : own_metrics_, options_.metrics_prefix) {}

Server::~Server() {
  stop();
  workers_.clear();
}

base::Result<base::Done, std::string> Server::start() {
  static std::once_flag threads_once;
  std::call_once(threads_once, [] { evthread_use_pthreads(); });
  if (options_.tls_port >= 0 && !options_.tls) {
    return base::fail(std::string("a TLS listener needs a certificate and key"));
  }
  tls_.ctx = options_.tls;
  // Every port this server listens on: per worker, one socket of each.
  struct Port {
    int port;
    bool tls;
    std::vector<int> fds;
    std::string host;
  };
  std::vector<Port> ports;
  ports.push_back({options_.port, false, {}, options_.host});
  for (int p : options_.more_ports)
    ports.push_back({p, false, {}, options_.host});
  if (options_.tls_port >= 0) ports.push_back({options_.tls_port, true, {}, options_.host});
  const size_t own_ports = ports.size();
  for (const ServerOptions::Address& a : options_.also_listen)
    ports.push_back({a.port, a.tls, {}, a.host});
  auto close_all = [&ports](size_t from_worker) {
    for (Port& p : ports) {
      for (size_t j = from_worker; j < p.fds.size(); ++j)
        ::close(p.fds[j]);
    }
  };
  for (Port& p : ports) {
    auto fds = listenShared(p.host, p.port, options_.backlog, options_.workers);
    if (!fds) {
      close_all(0);
      return base::fail(fds.error());
    }
    p.fds = std::move(fds.value());
    if (const ServerOptions::PortOptions* o = options_.findPortOptions(p.port)) {
      for (int fd : p.fds) {  // accepted sockets inherit them
        if (o->sndbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o->sndbuf, sizeof o->sndbuf);
        if (o->rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf, sizeof o->rcvbuf);
      }
    }
  }
  for (int i = 0; i < options_.workers; ++i) {
    // The worker owns (and closes) its listeners from here on, also when init() fails.
    std::vector<Worker::Impl::Listener> listeners;
    for (Port& p : ports) {
      const bool h2c = !p.tls && std::find(options_.h2c_ports.begin(), options_.h2c_ports.end(),
                                           p.port) != options_.h2c_ports.end();
      listeners.push_back(
          {nullptr, p.fds.at(static_cast<size_t>(i)), p.port, p.tls, h2c, nullptr, {}});
    }
    auto worker = std::make_unique<Worker::Impl>(options_, handler_, std::move(listeners), tls_, i,
                                                 open_connections_, http2_stats_);
    auto ok = worker->init();
    if (!ok) {
      close_all(static_cast<size_t>(i) + 1);
      return ok;
    }
    workers_.push_back(std::move(worker));
  }
  port_ = ports.front().port;
  tls_port_ = options_.tls_port >= 0 ? ports[own_ports - 1].port : -1;
  for (size_t k = 1; k < own_ports; ++k) {
    if (!ports[k].tls) more_ports_.push_back(ports[k].port);
  }
  for (auto& w : workers_)
    w->run();
  return base::Done{};
}

void Server::postTo(int index, std::function<void(Worker&)> fn) {
  if (index < 0 || static_cast<size_t>(index) >= workers_.size()) return;
  Worker::Impl* impl = workers_[static_cast<size_t>(index)].get();
  impl->post([impl, fn = std::move(fn)] { fn(impl->worker()); });
}

void Server::setTls(std::shared_ptr<TlsContext> tls) {
  if (!tls) return;  // a TLS listener always has a certificate
  std::lock_guard lock(tls_.mutex);
  tls_.ctx = std::move(tls);
}

void Server::stop() {
  // The workers stay until the destructor: answers still arriving from other threads (a store
  // draining its queue) are posted to them and dropped, not sent to freed memory.
  for (auto& w : workers_)
    w->stop();
}

void Server::goawayHttp2() {
  for (auto& w : workers_) {
    Worker::Impl* impl = w.get();
    impl->post([impl] { impl->goawayHttp2(); });
  }
}

void Server::drain() {
  for (auto& w : workers_) {
    Worker::Impl* impl = w.get();
    impl->post([impl] { impl->drain(); });
  }
}

size_t Server::connections() const {
  return open_connections_.load();
}

}  // namespace surge::http
