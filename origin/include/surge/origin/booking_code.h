// The booking code: what a person keeps to find their booking again after closing the tab
// (GET /api/v1/bookings/lookup with their person id). 8 characters of Crockford's base32 (40
// bits), shown as "ABCD-EFGH": short enough to write down, and with lookups limited per person
// and per client, far beyond guessing. Read back forgivingly: any case, hyphens and spaces
// ignored, O read as 0 and I or L as 1.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "surge/cache/hmac.h"

namespace surge::origin {

inline constexpr size_t kBookingCodeLength = 8;

// The code of 5 random bytes (40 bits): 8 characters, no hyphen.
std::string bookingCodeOf(const unsigned char random[5]);
// "ABCDEFGH" -> "ABCD-EFGH".
std::string displayBookingCode(std::string_view code);
// What a person typed, as the 8 characters bookingCodeOf makes; nullopt when it cannot be one.
std::optional<std::string> normalizeBookingCode(std::string_view typed);
// The digest a store keeps to check a code.
cache::Sha256Digest bookingCodeDigest(std::string_view code);

}  // namespace surge::origin
