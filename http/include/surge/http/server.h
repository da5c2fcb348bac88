// An HTTP/1.1 server core on libevent's loop: one event loop per worker thread, SO_REUSEPORT
// listeners with an explicit backlog, keep-alive and pipelining (answers in request order, one
// request handled at a time per connection), the strict parser of request_parser.h, timeouts for
// slow heads, slow bodies and idle connections, and a connection cap. Shared by surge-edge and
// surge-origin.
//
// Threads: a Handler runs on the worker thread that read the request. It answers with
// Worker::respond() on that thread, right away or later (another thread hands the answer over
// with Worker::post()). An answer for a connection that has gone away is dropped.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "surge/base/metrics.h"
#include "surge/base/result.h"
#include "surge/http/request_parser.h"
#include "surge/http/tls.h"

struct event_base;
struct event;

namespace surge::http {

// An open file shared by every answer that sends from it (the edge's open-file cache): closed when
// the last answer holding it is written or dropped.
struct SharedFile {
  explicit SharedFile(int fd_in) : fd(fd_in) {}
  ~SharedFile();
  SharedFile(const SharedFile&) = delete;
  SharedFile& operator=(const SharedFile&) = delete;
  int fd = -1;
};

struct Response {
  int status = 200;
  std::string headers;  // extra header lines, each "Name: value\r\n"
  std::string body;
  // A body owned elsewhere and shared without copying (e.g. a cached snapshot): when set, sent
  // instead of `body`.
  std::shared_ptr<const void> shared_owner;
  std::string_view shared_body;
  // Or: `file_length` bytes of a file from `file_offset`, sent with sendfile(2).
  std::shared_ptr<const SharedFile> file;
  uint64_t file_offset = 0;
  uint64_t file_length = 0;
  bool close = false;  // close the connection after this answer
  // No answer at all (nginx's `return 444`): HTTP/1.1 closes the connection once the answers
  // before it are out; HTTP/2 resets the stream (INTERNAL_ERROR, as nginx).
  bool drop = false;
  // HTTP/2: take no new stream on this connection after this answer (GOAWAY; the streams in
  // flight finish): what close means for keep-alive's limits, which do not end HTTP/2
  // connections on an error page as they do HTTP/1.1 ones.
  bool goaway = false;
  // How long the connection may then wait for its next request (nginx's keepalive_timeout of the
  // answering location); negative: ServerOptions::idle_timeout.
  std::chrono::milliseconds idle_timeout{-1};
  // >= 0: "Keep-Alive: timeout=N" on this answer, unless the connection closes after it.
  int64_t keep_alive_header_s = -1;
  // For HEAD answers relayed from elsewhere: the Content-Length the GET would have (the body is
  // empty here).
  std::optional<uint64_t> content_length_override;
  // nginx's limit_rate: the body goes out at no more than `limit_rate` bytes a second after its
  // first `limit_rate_after` bytes (one second's worth at once, then the rate). 0: as fast as the
  // client reads; negative: not set (the edge fills in its location's).
  int64_t limit_rate = -1;
  uint64_t limit_rate_after = 0;
  // nginx's http2_chunk_size: HTTP/2 DATA frames of at most this many bytes (within the client's
  // SETTINGS_MAX_FRAME_SIZE); 0: 16 KiB.
  uint32_t http2_chunk_size = 0;
  // Fields sent after the body, "Name: value\r\n" each (nginx's add_trailer): HTTP/2's trailing
  // HEADERS; over HTTP/1.1 the body then goes chunked, these in its trailer section. Not sent
  // without a body (HEAD, 204, 304) or to an HTTP/1.0 client, as nginx.
  std::string trailers;
  // HTTP/2 server push (nginx's http2_push, http2_push_preload): paths ("/…") the answer's
  // stream promises, each then requested as a GET with the request's scheme, authority,
  // Accept-Encoding, Accept-Language and User-Agent, and answered on its own stream. At most
  // `http2_max_pushes` (0: 10) pushed streams open at once, and no more than the client's
  // SETTINGS_MAX_CONCURRENT_STREAMS; none when it said SETTINGS_ENABLE_PUSH 0, nor over
  // HTTP/1.1, nor from a pushed stream.
  std::vector<std::string> http2_pushes;
  uint32_t http2_max_pushes = 0;

  static Response json(int status, std::string body);
};

// {"error":{"code":…,"message":…}}, with Retry-After when `retry_after_s` > 0. `code` and
// `message` go in as they are: constants, or text already safe inside a JSON string. Sent with
// Cache-Control: no-store: a shared cache must not hold an error past its retry (a caller that
// knows better says so with setCacheControl).
Response jsonError(int status, std::string_view code, std::string_view message,
                   int64_t retry_after_s = 0);
// 405 method_not_allowed (jsonError) with the Allow header naming `allow` ("GET, HEAD").
Response methodNotAllowed(std::string_view message, std::string_view allow);

// The error page nginx sends for `status` (its layout, CRLF line ends and all, "surge" where nginx
// names itself): what static and proxied locations answer with, where a browser shows it. As
// nginx, the connection closes after a 400, 413, 414, 500 or 501 page.
Response htmlError(int status);

// The error code of a request the parser refused with `status` ("body_too_large" for 413).
std::string errorCodeFor(int status);

// Sets header `name` (any case) to `value`: every line of that name already there is removed,
// one is appended. Relayed answers keep their sender's case ("x-request-id" from HAProxy), so a
// case-sensitive look would add a second one.
void setHeader(Response& response, std::string_view name, std::string_view value);
// Removes every line of header `name` (any case).
void removeHeader(Response& response, std::string_view name);
// The value of the first line of header `name` (any case) in `lines` ("Name: value\r\n" each,
// as Response::headers), leading whitespace dropped; nullopt when there is none.
std::optional<std::string_view> headerValue(std::string_view lines, std::string_view name);
// The same for Cache-Control.
void setCacheControl(Response& response, std::string_view value);

// `value` (a header value built from request data: a configuration's variables) with CR, LF and
// NUL replaced by spaces, so that no header, answer or request can be smuggled through it.
std::string headerSafe(std::string value);

const char* reasonPhrase(int status);

// Which request an answer belongs to.
struct ResponseSlot {
  uint64_t connection = 0;
  uint64_t sequence = 0;
};

// HTTP/2 (h2_session.h): spoken on the TLS listeners when ServerOptions::http2_tls (ALPN "h2"),
// and on the plain ports in ServerOptions::h2c_ports by a client that starts with HTTP/2's
// preface (prior knowledge); both speak HTTP/1.1 too.
struct Http2Options {
  uint32_t max_concurrent_streams = 128;  // nginx's http2_max_concurrent_streams
  uint32_t max_header_list = 32 * 1024;   // a request's header list (RFC 9113 6.5.2's size)
  // Defences (each trips GOAWAY ENHANCE_YOUR_CALM and ends the connection, counted in
  // Http2Stats; the server then holds it unread until its send_timeout, see server.cc): RST_STREAM
  // frames from the client (rapid reset, CVE-2023-44487), control frames that carry no request
  // (SETTINGS, PING, PRIORITY, empty DATA or HEADERS), each a bucket of `burst` refilled at so many
  // a second; CONTINUATION frames of one header block (CVE-2024-27316 class), which is also cut at
  // twice max_header_list bytes.
  uint32_t reset_burst = 256;
  uint32_t resets_per_second = 64;
  uint32_t control_burst = 256;
  uint32_t control_per_second = 64;
  int max_continuations = 16;
};

// HTTP/2's counters, summed over a server's connections: registered in ServerOptions::metrics
// (or a registry of the server's own) as <metrics_prefix>_http2_*.
struct Http2Stats {
  Http2Stats(base::MetricsRegistry& metrics, const std::string& prefix);
  base::Counter& connections;
  base::Counter& streams;
  base::Gauge& streams_open;
  base::Counter& resets_by_peer;
  base::Counter& protocol_errors;
  base::Counter& goaways;
  // Each defence that closed a connection (or refused a request: header lists).
  base::Counter& header_lists_too_large;
  base::Counter& flood_rapid_reset;
  base::Counter& flood_control;
  base::Counter& flood_continuation;
  base::Counter& streams_refused;  // each stream over http2_max_concurrent_streams
  base::Counter& flood_streams;    // a connection that kept opening them
  base::Counter& send_timeouts;    // a peer that stopped reading or shut its window
  base::Gauge& held;               // flooding connections held unread (Server's hold)
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port (see Server::port)
  int workers = 2;
  int backlog = 4096;
  size_t max_connections = 16000;  // per server; over it new connections are closed at once
  ParseLimits limits;
  std::chrono::milliseconds head_timeout{10000};  // a request head must arrive within this
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds idle_timeout{60000};  // keep-alive without a request
  std::chrono::milliseconds send_timeout{30000};  // an answer that does not drain
  // What one port does otherwise than the above: its connections' timeouts and header limits
  // (nginx's client_header_timeout, client_body_timeout, send_timeout and
  // large_client_header_buffers in the default server of the port; unset: the above) and its
  // sockets' buffers (listen's sndbuf= and rcvbuf=; 0: the kernel's).
  struct PortOptions {
    int port = 0;
    std::optional<std::chrono::milliseconds> head_timeout, body_timeout, send_timeout;
    std::optional<size_t> max_head, max_target;  // large_client_header_buffers of the server
    int sndbuf = 0;
    int rcvbuf = 0;
    // listen's proxy_protocol: each connection starts with a PROXY protocol header
    // (proxy_protocol.h), read before anything else; one without it is closed.
    bool proxy_protocol = false;
  };
  std::vector<PortOptions> port_options;
  PortOptions& portOptions(int port);                  // the port's entry, made when there is none
  const PortOptions* findPortOptions(int port) const;  // nullptr: none
  // Say "Connection: keep-alive" on HTTP/1.1 answers too, as nginx does (HTTP/1.0 ones always).
  bool announce_keep_alive = false;
  // A request the parser refuses (before any routing) is answered with nginx's HTML page instead
  // of the API's JSON error: for a server of static files only.
  bool html_errors = false;
  // A second listener speaking TLS with `tls` (same host, same workers and handler): -1 none,
  // 0 any free port (see Server::tlsPort). The TLS handshake counts against head_timeout.
  int tls_port = -1;
  std::shared_ptr<TlsContext> tls;
  // More plain listeners on the same host (nginx's several `listen` ports), served alike; the
  // handler tells them apart by Request::local_port. 0: a free port (see Server::morePorts).
  std::vector<int> more_ports;
  // Listeners on other addresses than `host` (an IPv6 one: nginx's "listen [::]:80"), served
  // alike; a port here means the same as on `host` (Request::local_port).
  struct Address {
    std::string host;
    int port = 0;
    bool tls = false;
  };
  std::vector<Address> also_listen;
  Http2Options http2;
  // Where the server's own metrics go (HTTP/2's); none: a registry of its own.
  base::MetricsRegistry* metrics = nullptr;
  std::string metrics_prefix = "surge";
  bool http2_tls = false;      // offer "h2" by ALPN on the TLS listeners
  std::vector<int> h2c_ports;  // plain ports where a client may start with HTTP/2's preface
};

class Worker;

// The TLS context new connections take; swapped by Server::setTls from any thread.
struct TlsSlot {
  std::shared_ptr<TlsContext> get() {
    std::lock_guard lock(mutex);
    return ctx;
  }
  std::mutex mutex;
  std::shared_ptr<TlsContext> ctx;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // `request` (and every view in it) is valid only during this call.
  virtual void handle(Worker& worker, const Request& request, ResponseSlot slot) = 0;
  // Whether a request whose head has come and whose body has not is handed over now, its body
  // following through Request::body_stream (nginx's proxy_request_buffering off), rather than
  // once the body is whole. `head` has no body yet. Asked once per request, over HTTP/1.1 and
  // HTTP/2, when the head is whole and the body is not.
  virtual bool streamsBody(const Request& /*head*/) { return false; }
  // A request the protocol layer refuses with `status` (a malformed HTTP/2 request's 400), given
  // as far as it can be trusted (no fields; "GET"; its path, or "/"). true: the handler answers
  // it through `slot` (nginx's error_page acts on such a 400); false: the server sends its own
  // refusal.
  virtual bool routeRefusal(Worker& /*worker*/, const Request& /*request*/, ResponseSlot /*slot*/,
                            int /*status*/) {
    return false;
  }
};

class Worker {
 public:
  // Worker thread only.
  void respond(ResponseSlot slot, Response response);
  // Any thread: runs `fn` on this worker's thread. Wakes the loop only when the mailbox goes
  // from empty to non-empty.
  void post(std::function<void()> fn);
  int index() const { return index_; }
  event_base* base() const { return base_; }

  class Impl;
  Worker(Impl* impl, event_base* base, int index) : impl_(impl), base_(base), index_(index) {}

 private:
  Impl* impl_;
  event_base* base_;
  int index_;
};

class Server {
 public:
  Server(ServerOptions options, Handler& handler);
  ~Server();
  base::Result<base::Done, std::string> start();
  // Stops the loops and joins their threads. Connections are closed by the destructor, which
  // also drops whatever was posted to a worker after stop().
  void stop();
  int port() const { return port_; }
  int tlsPort() const { return tls_port_; }
  const std::vector<int>& morePorts() const { return more_ports_; }
  // Any thread: connections accepted from now on use `tls` (a renewed certificate).
  void setTls(std::shared_ptr<TlsContext> tls);
  // Any thread, after start(): runs `fn` on worker `index`'s loop (work that needs a loop, such
  // as a request to another server, started by a background thread).
  void postTo(int index, std::function<void(Worker&)> fn);
  size_t connections() const;
  const Http2Stats& http2Stats() const { return http2_stats_; }
  // Graceful shutdown, first half: stop accepting, close idle keep-alive connections, and close
  // every other one after its answer in progress. Returns at once; connections() falls to 0.
  void drain();
  // Any thread: every HTTP/2 connection is sent GOAWAY and closes once its streams in flight are
  // answered (nginx's reload does this; the clients reconnect to the configuration now running).
  void goawayHttp2();

 private:
  ServerOptions options_;
  Handler& handler_;
  std::vector<std::unique_ptr<Worker::Impl>> workers_;
  std::atomic<size_t> open_connections_{0};
  base::MetricsRegistry own_metrics_;
  Http2Stats http2_stats_;
  int port_ = 0;
  int tls_port_ = -1;
  std::vector<int> more_ports_;
  TlsSlot tls_;
};

}  // namespace surge::http
