#include "surge/http/tls.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <cstring>
#include <optional>
#include <string_view>

#include "surge/base/file.h"

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

std::string checkTicketKey(const std::string& bytes) {
  if (bytes.size() != 80 && bytes.size() != 48) {
    return "a session ticket key file holds 80 or 48 bytes (openssl rand 80 > FILE), not " +
           std::to_string(bytes.size());
  }
  return "";
}

std::string checkOcspResponse(const std::string& bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  OCSP_RESPONSE* r = d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(bytes.size()));
  if (r == nullptr) {
    ERR_clear_error();
    return "not a DER OCSP response";
  }
  const int status = OCSP_response_status(r);
  OCSP_RESPONSE_free(r);
  if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    return std::string("the OCSP response is not successful (") + OCSP_response_status_str(status) +
           ")";
  }
  return "";
}

// OpenSSL's callbacks, finding the TlsContext in the SSL_CTX's app data.
struct TlsCallbacks {
  static TlsContext& of(SSL* ssl) {
    return *static_cast<TlsContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  }

  // RFC 5077 tickets under the configured keys: 1 issued or opened with the first key, 2 opened
  // with an older one (OpenSSL then issues a new ticket under the first), 0 unknown (a full
  // handshake), -1 an error.
  static int ticket(SSL* ssl, unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                    EVP_MAC_CTX* mac, int encrypt) {
    const auto& keys = of(ssl).ticket_keys_;
    const TlsContext::TicketKey* key = nullptr;
    int result = 1;
    if (encrypt) {
      key = &keys.front();
      if (RAND_bytes(iv, 16) != 1) return -1;
      std::memcpy(name, key->name, 16);
    } else {
      for (size_t i = 0; i < keys.size() && !key; ++i) {
        if (std::memcmp(name, keys[i].name, 16) == 0) {
          key = &keys[i];
          result = i == 0 ? 1 : 2;
        }
      }
      if (!key) return 0;
    }
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(mac, key->hmac, key->size, params) != 1) return -1;
    const EVP_CIPHER* aes = key->size == 32 ? EVP_aes_256_cbc() : EVP_aes_128_cbc();
    const int ok = encrypt ? EVP_EncryptInit_ex(cipher, aes, nullptr, key->aes, iv)
                           : EVP_DecryptInit_ex(cipher, aes, nullptr, key->aes, iv);
    return ok == 1 ? result : -1;
  }

  // The stapled OCSP response, to a client that asked for one.
  static int status(SSL* ssl, void*) {
    const std::string& der = of(ssl).ocsp_response_;
    if (der.empty() || SSL_get_tlsext_status_type(ssl) != TLSEXT_STATUSTYPE_ocsp) {
      return SSL_TLSEXT_ERR_NOACK;
    }
    auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(der.size()));  // OpenSSL frees it
    if (copy == nullptr) return SSL_TLSEXT_ERR_NOACK;
    std::memcpy(copy, der.data(), der.size());
    SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(der.size()));
    return SSL_TLSEXT_ERR_OK;
  }
};

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
  SSL_CTX_set_app_data(ctx, holder.get());
  for (const std::string& file : options.ticket_keys) {
    std::optional<std::string> read = base::readFile(file);
    if (!read) return base::fail("ssl_session_ticket_key " + file + ": cannot read it");
    const std::string& bytes = *read;
    if (std::string why = checkTicketKey(bytes); !why.empty()) {
      return base::fail("ssl_session_ticket_key " + file + ": " + why);
    }
    TicketKey k;
    k.size = bytes.size() == 80 ? 32 : 16;
    std::memcpy(k.name, bytes.data(), 16);
    std::memcpy(k.hmac, bytes.data() + 16, k.size);
    std::memcpy(k.aes, bytes.data() + 16 + k.size, k.size);
    holder->ticket_keys_.push_back(k);
  }
  if (!options.stapling_file.empty()) {
    std::optional<std::string> read = base::readFile(options.stapling_file);
    if (!read) return base::fail("ssl_stapling_file " + options.stapling_file + ": cannot read it");
    holder->ocsp_response_ = std::move(*read);
    if (std::string why = checkOcspResponse(holder->ocsp_response_); !why.empty()) {
      return base::fail("ssl_stapling_file " + options.stapling_file + ": " + why);
    }
    SSL_CTX_set_tlsext_status_cb(ctx, &TlsCallbacks::status);
  }
  const bool tickets = options.tickets && !holder->ticket_keys_.empty();
  SSL_CTX_set_min_proto_version(ctx, min_version);
  // No renegotiation (a DoS lever and never needed), no compression (CRIME), the server's cipher
  // order, a clean EOF without close_notify (clients often skip it). Session tickets only under
  // configured keys shared by the edges (TlsOptions::ticket_keys); without them a key would
  // differ per process and per edge, and tickets would only fail to resume.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF |
                               (tickets ? 0 : SSL_OP_NO_TICKET));
  if (tickets) SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &TlsCallbacks::ticket);
  SSL_CTX_set_timeout(ctx, options.session_timeout_s);
  // Writes may return early (the socket filled) and resume from a buffer that moved.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  switch (options.session_cache) {
    case TlsOptions::SessionCache::kOff:
      SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
      break;
    case TlsOptions::SessionCache::kNone:
      // As nginx's "none": the session id is still sent (some clients misbehave when a server
      // says it never resumes), nothing is stored.
      SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR |
                                              SSL_SESS_CACHE_NO_INTERNAL_STORE);
      SSL_CTX_sess_set_cache_size(ctx, 1);
      break;
    case TlsOptions::SessionCache::kStore:
      SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
      SSL_CTX_sess_set_cache_size(ctx, options.session_cache_size);
      break;
  }
  // TLS 1.3 sends tickets after every full handshake (OpenSSL: two). Without ticket keys they
  // are stateful (a session id to look up), and without a cache there is nothing to look up:
  // sending them would only cost work and bytes.
  if (!tickets && options.session_cache != TlsOptions::SessionCache::kStore) {
    SSL_CTX_set_num_tickets(ctx, 0);
  }
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
