// nginx's ignore_invalid_headers and underscores_in_headers (http and server levels): which
// request headers the edge treats as never sent. The parser flags names nginx calls invalid
// (http::Header::invalid); these rules decide per server.
#pragma once

#include "surge/edge/config_reader.h"
#include "surge/http/request_parser.h"

namespace surge::edge {

struct HeaderNameRules {
  bool ignore_invalid = true;  // ignore_invalid_headers on (nginx's default)
  bool underscores = false;    // underscores_in_headers on: an underscore alone is fine
  // Dropped as if not sent: not passed to origin, not seen by $http_NAME.
  bool ignores(const http::Header& h) const {
    if (h.invalid == 0 || !ignore_invalid) return false;
    return !(underscores && h.invalid == http::HeaderName::kUnderscore);
  }
};

// ignore_invalid_headers and underscores_in_headers into `out`; false in `handled` for any other
// directive.
bool readHeaderNameDirective(ConfigReader& reader, const Directive& d, HeaderNameRules& out,
                             bool& handled);

}  // namespace surge::edge
