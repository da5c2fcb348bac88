#include "surge/base/crockford.h"

namespace surge::base {
namespace {

constexpr std::string_view kSymbols = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::string_view kCheckSymbols = "0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";

}  // namespace

std::string crockfordEncode(uint64_t bits, size_t symbols) {
  std::string out(symbols, '0');
  for (size_t i = symbols; i-- > 0;) {
    out[i] = kSymbols[bits & 31];
    bits >>= 5;
  }
  return out;
}

std::optional<std::string> crockfordNormalize(std::string_view typed, size_t max_length) {
  if (typed.size() > max_length) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < typed.size(); ++i) {
    char c = typed[i];
    if (c == '-' || c == ' ') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c == 'O') c = '0';
    if (c == 'I' || c == 'L') c = '1';
    bool last = typed.find_first_not_of("- ", i + 1) == std::string_view::npos;
    std::string_view allowed = last ? kCheckSymbols : kSymbols;
    if (allowed.find(c) == std::string_view::npos) return std::nullopt;
    out += c;
  }
  return out;
}

std::optional<uint64_t> crockfordDecode(std::string_view symbols) {
  if (symbols.size() > 12) return std::nullopt;
  uint64_t v = 0;
  for (char c : symbols) {
    size_t at = kSymbols.find(c);
    if (at == std::string_view::npos) return std::nullopt;
    v = v << 5 | at;
  }
  return v;
}

char crockfordCheckSymbol(uint64_t value) {
  return kCheckSymbols[value % 37];
}

}  // namespace surge::base
