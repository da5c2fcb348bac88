// The rewrite module's `return` (nginx's ngx_http_script_return_code): the answer a location or
// server gives without looking further.
//   - 301, 302, 303, 307, 308: Location is the text (made absolute when it starts with '/'), the
//     body nginx's page for the code;
//   - other codes below 400, or any code with a text: the text is the body (Content-Type by the
//     URI's extension, else text/plain); 204 has none;
//   - 400 and above without a text: nginx's error page for the code.
#pragma once

#include "surge/edge/exchange.h"
#include "surge/edge/location.h"
#include "surge/http/server.h"

namespace surge::edge {

http::Response returnResponse(const ReturnAction& action, const Exchange& exchange);

// "/path" as the absolute URL nginx's absolute_redirect makes of it: scheme, the request's host
// (the server's first name with server_name_in_redirect, or when there is no Host), and the port
// unless it is the scheme's own or port_in_redirect is off.
std::string absoluteRedirect(const Exchange& exchange, const RedirectStyle& style,
                             std::string_view location);

// A Location header of `response` that starts with '/' made absolute as `location` says (nginx's
// header filter does it for every answer).
void absolutizeLocation(const RedirectStyle& style, const Exchange& exchange,
                        http::Response& response);

// 301 from "/dir" to "/dir/" (nginx's auto_redirect for proxy locations).
http::Response slashRedirect(const Exchange& exchange);

// The location's file settings with this request's values of its variables (add_header,
// expires): for locations whose filesVary().
StaticLocation filesFor(const Location& location, const Exchange& exchange);

// The add_header lines of `location` with this request's values of their variables.
std::vector<AddHeader> evaluatedHeaders(const Location& location, const Exchange& exchange);

// The add_header lines of `location` applied to `response`, their variables evaluated.
void applyLocationHeaders(const Location& location, const Exchange& exchange,
                          http::Response& response);

}  // namespace surge::edge
