#include "surge/origin/booking_code.h"

#include "surge/base/crockford.h"

namespace surge::origin {

std::string bookingCodeOf(const unsigned char random[5]) {
  uint64_t bits = 0;
  for (int i = 0; i < 5; ++i)
    bits = bits << 8 | random[i];
  return base::crockfordEncode(bits, kBookingCodeLength);
}

std::string displayBookingCode(std::string_view code) {
  if (code.size() != kBookingCodeLength) return std::string(code);
  return std::string(code.substr(0, 4)) + "-" + std::string(code.substr(4));
}

std::optional<std::string> normalizeBookingCode(std::string_view typed) {
  auto code = base::crockfordNormalize(typed);
  // Booking codes carry no check symbol: all eight are code symbols.
  if (!code || code->size() != kBookingCodeLength || !base::crockfordDecode(*code)) {
    return std::nullopt;
  }
  return code;
}

cache::Sha256Digest bookingCodeDigest(std::string_view code) {
  return cache::sha256({"booking-code:", code});
}

}  // namespace surge::origin
