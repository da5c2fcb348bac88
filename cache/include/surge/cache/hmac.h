// HMAC-SHA256 through OpenSSL 3's EVP_MAC. The EVP_MAC algorithm is fetched once per process;
// each thread keeps its own EVP_MAC_CTX, so signing and verifying never take a lock.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace surge::cache {

inline constexpr size_t kHmacSha256Size = 32;
using HmacSha256Digest = std::array<uint8_t, kHmacSha256Size>;

// HMAC-SHA256 of the concatenation of `parts` under `key`. Never throws; an OpenSSL failure (which
// only an out-of-memory condition can cause) yields an all-zero digest that no verify accepts.
HmacSha256Digest hmacSha256(std::string_view key, std::initializer_list<std::string_view> parts);

using Sha256Digest = std::array<uint8_t, 32>;

// SHA-256 of the concatenation of `parts` (EVP digest fetched once per process).
Sha256Digest sha256(std::initializer_list<std::string_view> parts);

// Constant-time comparison (CRYPTO_memcmp) of a computed digest with received bytes.
bool digestEquals(const HmacSha256Digest& expected, std::string_view received);

}  // namespace surge::cache
