#include "surge/http/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace surge::http {
namespace {

std::string opensslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

}  // namespace

base::Result<std::shared_ptr<TlsContext>, std::string> TlsContext::load(const TlsOptions& options) {
  int min_version = 0;
  if (options.min_version == "TLSv1.2") {
    min_version = TLS1_2_VERSION;
  } else if (options.min_version == "TLSv1.3") {
    min_version = TLS1_3_VERSION;
  } else {
    return base::fail("unsupported TLS version \"" + options.min_version +
                      "\" (TLSv1.2 or TLSv1.3)");
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return base::fail(opensslError());
  std::shared_ptr<TlsContext> holder(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, min_version);
  // No renegotiation (a DoS lever and never needed), no compression (CRIME), the server's cipher
  // order, a clean EOF without close_notify (clients often skip it), no session tickets: the
  // ticket key would differ per process and per edge, so tickets would only fail to resume.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF |
                               SSL_OP_NO_TICKET);
  // Writes may return early (the socket filled) and resume from a buffer that moved.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  if (SSL_CTX_set_cipher_list(ctx, options.ciphers.c_str()) != 1) {
    return base::fail("ssl_ciphers: " + opensslError());
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, options.certificate.c_str()) != 1) {
    return base::fail("ssl_certificate " + options.certificate + ": " + opensslError());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, options.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return base::fail("ssl_certificate_key " + options.key + ": " + opensslError());
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return base::fail("ssl_certificate_key " + options.key +
                      " does not match the certificate: " + opensslError());
  }
  return holder;
}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

}  // namespace surge::http
