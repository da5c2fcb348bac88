#include "surge/cache/hmac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <memory>

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

EVP_MAC_CTX* threadContext() {
  thread_local MacCtxPtr ctx(hmacAlgorithm() ? EVP_MAC_CTX_new(hmacAlgorithm()) : nullptr);
  return ctx.get();
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
  EVP_MAC_CTX* ctx = threadContext();
  if (ctx == nullptr) return out;
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) !=
      1) {
    return out;
  }
  for (std::string_view part : parts) {
    if (EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(part.data()), part.size()) !=
        1) {
      return HmacSha256Digest{};
    }
  }
  size_t len = 0;
  if (EVP_MAC_final(ctx, out.data(), &len, out.size()) != 1 || len != out.size()) {
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
