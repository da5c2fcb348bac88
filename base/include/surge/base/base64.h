// RFC 4648 base64: base64url without padding (waiting-room tickets: strict, one spelling per
// value) and standard base64 with padding (HTTP Basic credentials, as clients send them).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace surge::base {

std::string base64UrlEncode(std::string_view bytes);
std::optional<std::string> base64UrlDecode(std::string_view text);
std::string base64Encode(std::string_view bytes);
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace surge::base
