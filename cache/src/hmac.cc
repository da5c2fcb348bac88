#include "surge/cache/hmac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <memory>
#include <string>

namespace surge::cache {
namespace {

struct MacDeleter {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using MacPtr = std::unique_ptr<EVP_MAC, MacDeleter>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;

// Fetching an algorithm walks OpenSSL's provider tables under a lock: do it once.
EVP_MAC* hmacAlgorithm() {
  static MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  return mac.get();
}

// One HMAC context per thread, its digest set once (naming it on every init made OpenSSL fetch
// SHA-256 from the provider tables each time) and its key kept: the same key again (a worker
// checking tickets, status after status) reuses the key's inner and outer pads instead of
// hashing them anew - two SHA-256 blocks and the key setup of every MAC.
struct ThreadMac {
  MacCtxPtr ctx;
  std::string key;  // the key ctx holds; empty: none (a fresh or failed context)
  bool digest_set = false;
  ~ThreadMac() { OPENSSL_cleanse(key.data(), key.size()); }
};

ThreadMac& threadMac() {
  thread_local ThreadMac mac{
      MacCtxPtr(hmacAlgorithm() ? EVP_MAC_CTX_new(hmacAlgorithm()) : nullptr), std::string(),
      false};
  return mac;
}

struct MdDeleter {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

const EVP_MD* sha256Algorithm() {
  static std::unique_ptr<EVP_MD, MdDeleter> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  return md.get();
}

}  // namespace

Sha256Digest sha256(std::initializer_list<std::string_view> parts) {
  Sha256Digest out{};
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || sha256Algorithm() == nullptr) return out;
  if (EVP_DigestInit_ex2(ctx.get(), sha256Algorithm(), nullptr) != 1) return out;
  for (std::string_view part : parts) {
    if (EVP_DigestUpdate(ctx.get(), part.data(), part.size()) != 1) return Sha256Digest{};
  }
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size()) {
    return Sha256Digest{};
  }
  return out;
}

HmacSha256Digest hmacSha256(std::string_view key, std::initializer_list<std::string_view> parts) {
  HmacSha256Digest out{};
  ThreadMac& mac = threadMac();
  EVP_MAC_CTX* ctx = mac.ctx.get();
  if (ctx == nullptr) return out;
  if (!mac.digest_set) {
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(ctx, params) != 1) return out;
    mac.digest_set = true;
  }
  bool same_key = !mac.key.empty() && mac.key == key;
  // A null key re-initialises with the key already set (OpenSSL's HMAC keeps its pads).
  int ok = same_key
               ? EVP_MAC_init(ctx, nullptr, 0, nullptr)
               : EVP_MAC_init(ctx,  // never a null pointer here: that means "the same key"
                              reinterpret_cast<const unsigned char*>(key.empty() ? "" : key.data()),
                              key.size(), nullptr);
  if (ok != 1) {
    mac.key.clear();
    return out;
  }
  if (!same_key) {
    OPENSSL_cleanse(mac.key.data(), mac.key.size());
    mac.key.assign(key);
  }
  for (std::string_view part : parts) {
    if (EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size()) !=
        1) {
      mac.key.clear();
      return HmacSha256Digest{};
    }
  }
  size_t len = 0;
  if (EVP_MAC_final(ctx, out.data(), &len, out.size()) != 1 || len != out.size()) {
    mac.key.clear();
    return HmacSha256Digest{};
  }
  return out;
}

bool digestEquals(const HmacSha256Digest& expected, std::string_view received) {
  if (received.size() != expected.size()) return false;
  // An all-zero digest means the MAC computation itself failed: never accept it.
  HmacSha256Digest zero{};
  if (CRYPTO_memcmp(expected.data(), zero.data(), zero.size()) == 0) return false;
  return CRYPTO_memcmp(expected.data(), received.data(), expected.size()) == 0;
}

}  // namespace surge::cache
