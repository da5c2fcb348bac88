// TLS for the HTTP core: an OpenSSL server context made from a certificate chain and key (PEM
// files), TLS 1.2 and 1.3 only, with modern AEAD ciphers and server-preferred order. A Server
// takes a new one at any time (Server::setTls): connections accepted afterwards use it, open
// ones keep theirs - which is how SIGHUP swaps a renewed certificate without dropping anyone.
#pragma once

#include <memory>
#include <string>
#include <vector>

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
  // Session tickets (nginx's ssl_session_ticket_key): key files of 80 bytes (name, HMAC-SHA256
  // key, AES-256-CBC key) or 48 (AES-128); the first makes new tickets, every one opens them.
  // The same files on every edge let a client resume on any of them; rotation is a new first
  // file with the old one kept second, then a reload. No files: no tickets (a key of one
  // process would only fail to resume on the next edge).
  std::vector<std::string> ticket_keys;
  bool tickets = true;  // ssl_session_tickets
  // OCSP stapling from a file (nginx's ssl_stapling_file: a DER OCSP response for the
  // certificate, refreshed by the operator and a reload); empty: none.
  std::string stapling_file;
  int session_timeout_s = 300;  // ssl_session_timeout
  // nginx's ssl_session_cache: sessions kept by the server for resumption by id (TLS 1.2) or by
  // stateful ticket (TLS 1.3), in OpenSSL's cache of the process, which all workers share.
  // kNone (nginx's default): clients are told sessions may be reused, none is kept (and with no
  // ticket keys no ticket is sent: none could resume); kOff: not even that; kStore: up to
  // session_cache_size sessions, the oldest dropped.
  enum class SessionCache { kOff, kNone, kStore };
  SessionCache session_cache = SessionCache::kNone;
  long session_cache_size = 20480;  // OpenSSL's (and nginx's "builtin") default
};

// A session ticket key file's bytes checked: "" when fine, else what is wrong.
std::string checkTicketKey(const std::string& bytes);
// An OCSP response file's bytes checked (DER, a successful response): "" when fine.
std::string checkOcspResponse(const std::string& bytes);

class TlsContext {
 public:
  // Reads the files and checks that the key matches the certificate. Blocking file I/O: call it
  // at start-up or from the signal thread, never on an event loop.
  static base::Result<std::shared_ptr<TlsContext>, std::string> load(const TlsOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }

  struct TicketKey {
    unsigned char name[16];
    unsigned char hmac[32];
    unsigned char aes[32];
    size_t size = 32;  // of hmac and aes: 32, or 16 from a 48-byte file
  };

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  friend struct TlsCallbacks;
  SSL_CTX* ctx_;
  std::vector<TicketKey> ticket_keys_;
  std::string ocsp_response_;  // DER, stapled to every handshake that asks
};

// ALPN: every context answers "http/1.1"; a connection marked by offerHttp2 (a listener with
// HTTP/2 on) answers "h2" when the client offers it, as nginx prefers it.
void offerHttp2(SSL* ssl);
bool alpnChoseHttp2(SSL* ssl);

}  // namespace surge::http
