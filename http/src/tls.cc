#include "surge/http/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <string_view>

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

char kOfferH2 = 1;  // its address marks a connection that may speak HTTP/2

// The server's choice among the client's protocols (RFC 7301): h2 when offered and allowed, else
// http/1.1 when offered; a client that offers neither gets no ALPN answer (and HTTP/1.1).
int selectAlpn(SSL* ssl, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
               unsigned int in_len, void*) {
  const bool h2_allowed = SSL_get_app_data(ssl) == &kOfferH2;
  const unsigned char* http11 = nullptr;
  for (unsigned int i = 0; i < in_len;) {
    unsigned int len = in[i];
    if (i + 1 + len > in_len) break;
    std::string_view name(reinterpret_cast<const char*>(in + i + 1), len);
    if (name == "h2" && h2_allowed) {
      *out = in + i + 1;
      *out_len = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    if (name == "http/1.1") http11 = in + i + 1;
    i += 1 + len;
  }
  if (!http11) return SSL_TLSEXT_ERR_NOACK;
  *out = http11;
  *out_len = 8;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

void offerHttp2(SSL* ssl) {
  SSL_set_app_data(ssl, &kOfferH2);
}

bool alpnChoseHttp2(SSL* ssl) {
  const unsigned char* proto = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &proto, &len);
  return len == 2 && proto[0] == 'h' && proto[1] == '2';
}

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
  SSL_CTX_set_alpn_select_cb(ctx, &selectAlpn, nullptr);
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
