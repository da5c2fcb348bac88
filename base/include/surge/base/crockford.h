// Crockford's base32 for codes people write down and type back: the booking code (origin) and
// the waiting room's resume code (cache/queue.h). Digits and upper-case letters without I, L, O
// and U; read back forgivingly (any case, hyphens and spaces ignored, O read as 0, I and L as 1).
// The check symbol is Crockford's: the value modulo 37, one of the 32 symbols or *~$=U, which
// catches any single wrong symbol and any two neighbours exchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace surge::base {

// The low 5 x `symbols` bits of `bits` (at most 60), most significant first.
std::string crockfordEncode(uint64_t bits, size_t symbols);
// What a person typed as code symbols (upper case, no separators), or nullopt when a character
// cannot be one. The check symbols *~$=U are kept only as the last character.
std::optional<std::string> crockfordNormalize(std::string_view typed, size_t max_length = 32);
// The value of normalized symbols (at most 12: 60 bits); nullopt if one is not a digit symbol.
std::optional<uint64_t> crockfordDecode(std::string_view symbols);
char crockfordCheckSymbol(uint64_t value);

}  // namespace surge::base
