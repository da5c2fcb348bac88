// Writing JSON by hand where it is hot (snapshots, booking answers): escaping, and the error body
// shape of the public contract.
#pragma once

#include <string>
#include <string_view>

namespace surge::origin {

// Appends `text` as a JSON string literal (quotes included). Invalid UTF-8 bytes become U+FFFD.
void appendJsonString(std::string& out, std::string_view text);

// {"error":{"code":"...","message":"..."}}
std::string jsonError(std::string_view code, std::string_view message);

}  // namespace surge::origin
