#include "surge/edge/upstream_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <climits>

namespace surge::edge {

namespace {

TlsStep stepOf(SSL* ssl, int rc) {
  switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ:
      return TlsStep::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return TlsStep::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return TlsStep::kClosed;
    default:
      ERR_clear_error();  // the thread's error queue stays empty for the next connection
      return TlsStep::kFailed;
  }
}

}  // namespace

base::Result<std::unique_ptr<UpstreamTls>, std::string> UpstreamTls::create(NewSession on_session) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    ERR_clear_error();
    return base::fail(std::string("cannot make a TLS client context"));
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  // The bytes to send may move between tries (a streamed body grows its buffer), and a write
  // may go in part, as send(2) does.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  // An upstream that closes without close_notify ends its answer as a plain close would.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, on_session);
  return std::unique_ptr<UpstreamTls>(new UpstreamTls(ctx));
}

UpstreamTls::~UpstreamTls() {
  SSL_CTX_free(ctx_);
}

SSL* UpstreamTls::open(int fd, SSL_SESSION* session, void* app_data) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_connect_state(ssl);
  SSL_set_app_data(ssl, app_data);
  if (session != nullptr) SSL_set_session(ssl, session);
  return ssl;
}

TlsStep tlsHandshake(SSL* ssl) {
  const int rc = SSL_do_handshake(ssl);
  return rc == 1 ? TlsStep::kDone : stepOf(ssl, rc);
}

TlsStep tlsWrite(SSL* ssl, const char* data, size_t size, size_t& done) {
  done = 0;
  const int rc = SSL_write(ssl, data, static_cast<int>(std::min<size_t>(size, INT_MAX)));
  if (rc > 0) {
    done = static_cast<size_t>(rc);
    return TlsStep::kDone;
  }
  return stepOf(ssl, rc);
}

TlsStep tlsRead(SSL* ssl, char* buf, size_t size, size_t& got) {
  got = 0;
  const int rc = SSL_read(ssl, buf, static_cast<int>(std::min<size_t>(size, INT_MAX)));
  if (rc > 0) {
    got = static_cast<size_t>(rc);
    return TlsStep::kDone;
  }
  return stepOf(ssl, rc);
}

void tlsClose(SSL* ssl) {
  if (ssl == nullptr) return;
  if (SSL_is_init_finished(ssl)) SSL_shutdown(ssl);
  SSL_free(ssl);
  ERR_clear_error();
}

}  // namespace surge::edge
