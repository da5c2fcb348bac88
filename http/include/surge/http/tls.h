// TLS for the HTTP core: an OpenSSL server context made from a certificate chain and key (PEM
// files), TLS 1.2 and 1.3 only, with modern AEAD ciphers and server-preferred order. A Server
// takes a new one at any time (Server::setTls): connections accepted afterwards use it, open
// ones keep theirs - which is how SIGHUP swaps a renewed certificate without dropping anyone.
#pragma once

#include <memory>
#include <string>

#include "surge/base/result.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace surge::http {

struct TlsOptions {
  std::string certificate;  // PEM: the certificate, then its chain
  std::string key;          // PEM private key
  // "TLSv1.2" or "TLSv1.3": the lowest version accepted (nginx's ssl_protocols, lowest wins).
  std::string min_version = "TLSv1.2";
  // OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are OpenSSL's defaults, all AEAD).
  std::string ciphers =
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
      "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
};

class TlsContext {
 public:
  // Reads the files and checks that the key matches the certificate. Blocking file I/O: call it
  // at start-up or from the signal thread, never on an event loop.
  static base::Result<std::shared_ptr<TlsContext>, std::string> load(const TlsOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// ALPN: every context answers "http/1.1"; a connection marked by offerHttp2 (a listener with
// HTTP/2 on) answers "h2" when the client offers it, as nginx prefers it.
void offerHttp2(SSL* ssl);
bool alpnChoseHttp2(SSL* ssl);

}  // namespace surge::http
