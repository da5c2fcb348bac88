// X-Accel-Redirect (nginx's upstream module): an origin answer naming a URI or a named location
// that the edge serves instead, by an internal redirect (the origin decides who may fetch, the
// edge sends the bytes). The redirected request is a GET and keeps the origin's Content-Type,
// Content-Disposition, Set-Cookie, Cache-Control, Expires and Accept-Ranges; $upstream_http_NAME
// reads the origin's headers there.
#pragma once

#include <optional>
#include <string>

#include "surge/http/server.h"

namespace surge::edge {

struct AccelRedirect {
  bool unsafe = false;  // a ".." segment, decoded or not: 404, as nginx answers
  bool named = false;   // "@name"
  std::string uri;      // decoded, dot segments resolved; or "@name"
  std::string args;
  std::string preserved;  // the header lines the redirected answer keeps
};

// The redirect `response` asks for, or nullopt when it has no X-Accel-Redirect.
std::optional<AccelRedirect> accelRedirect(const http::Response& response);

// Sets each of the header lines `lines` on `response`, replacing its own of that name.
void applyPreservedHeaders(const std::string& lines, http::Response& response);

}  // namespace surge::edge
