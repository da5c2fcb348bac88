// HTTP Basic credentials (RFC 7617): what the edge's operator pages sign in with (admin key id
// and secret) and what a booking lookup sends (person id and booking code), so that neither
// travels in a URL or an access log.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace surge::http {

struct BasicCredentials {
  std::string user;      // before the first ':'
  std::string password;  // after it
};

// From an Authorization header value ("Basic base64(user:password)", scheme in any case);
// nullopt when it is not one.
std::optional<BasicCredentials> basicCredentials(std::string_view authorization);

}  // namespace surge::http
