// proxy_pass https://: TLS from the edge to an upstream's servers, with nginx's proxy_ssl
// defaults: TLS 1.2 or 1.3, the server's certificate not verified (proxy_ssl_verify off), no SNI
// (proxy_ssl_server_name off), and sessions reused (proxy_ssl_session_reuse on: the forwarder
// keeps each server's last session per worker and offers it on the next connection). The steps
// are non-blocking: each says what it waits for, and the forwarder's loop waits for it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "surge/base/result.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;

namespace surge::edge {

// What a non-blocking TLS step came to.
enum class TlsStep { kDone, kWantRead, kWantWrite, kClosed, kFailed };

class UpstreamTls {
 public:
  // Called with each session a server gives (for the next connection to it); keeps a reference
  // of its own when it returns true.
  using NewSession = int (*)(SSL* ssl, SSL_SESSION* session);
  static base::Result<std::unique_ptr<UpstreamTls>, std::string> create(NewSession on_session);
  ~UpstreamTls();
  UpstreamTls(const UpstreamTls&) = delete;
  UpstreamTls& operator=(const UpstreamTls&) = delete;

  // A client connection over `fd` (connected), resuming `session` when there is one;
  // `app_data` goes to the NewSession callback (SSL_get_app_data). nullptr on failure.
  SSL* open(int fd, SSL_SESSION* session, void* app_data) const;

 private:
  explicit UpstreamTls(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

TlsStep tlsHandshake(SSL* ssl);
// Writes from `data`; `done` bytes went (kDone when some did).
TlsStep tlsWrite(SSL* ssl, const char* data, size_t size, size_t& done);
// Reads into `buf`; `got` bytes came (kDone when some did, kClosed at the peer's end).
TlsStep tlsRead(SSL* ssl, char* buf, size_t size, size_t& got);
// A best-effort close_notify, then the connection freed.
void tlsClose(SSL* ssl);

}  // namespace surge::edge
