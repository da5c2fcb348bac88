#include "surge/http/basic_auth.h"

#include "surge/base/base64.h"
#include "surge/http/request_parser.h"

namespace surge::http {

std::optional<BasicCredentials> basicCredentials(std::string_view authorization) {
  if (authorization.size() < 7 || !equalsIgnoreCase(authorization.substr(0, 6), "Basic ")) {
    return std::nullopt;
  }
  auto decoded = base::base64Decode(authorization.substr(6));
  if (!decoded) return std::nullopt;
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

}  // namespace surge::http
