#include "surge/origin/booking_code.h"

namespace surge::origin {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // Crockford: no I, L, O, U

}  // namespace

std::string bookingCodeOf(const unsigned char random[5]) {
  uint64_t bits = 0;
  for (int i = 0; i < 5; ++i)
    bits = bits << 8 | random[i];
  std::string code(kBookingCodeLength, '0');
  for (size_t i = kBookingCodeLength; i-- > 0;) {
    code[i] = kAlphabet[bits & 31];
    bits >>= 5;
  }
  return code;
}

std::string displayBookingCode(std::string_view code) {
  if (code.size() != kBookingCodeLength) return std::string(code);
  return std::string(code.substr(0, 4)) + "-" + std::string(code.substr(4));
}

std::optional<std::string> normalizeBookingCode(std::string_view typed) {
  if (typed.size() > 32) return std::nullopt;
  std::string code;
  for (char c : typed) {
    if (c == '-' || c == ' ') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c == 'O') c = '0';
    if (c == 'I' || c == 'L') c = '1';
    bool known = false;
    for (const char* a = kAlphabet; *a; ++a)
      known = known || *a == c;
    if (!known) return std::nullopt;
    code += c;
  }
  if (code.size() != kBookingCodeLength) return std::nullopt;
  return code;
}

cache::Sha256Digest bookingCodeDigest(std::string_view code) {
  return cache::sha256({"booking-code:", code});
}

}  // namespace surge::origin
