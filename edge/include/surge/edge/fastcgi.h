// FastCGI (fastcgi_pass): the records an application server of that protocol speaks (FastCGI
// 1.0: PHP-FPM, uWSGI's and flup's servers), for the forwarder. A request is its BEGIN_REQUEST
// (the responder role, the connection not kept: the application closes it after its answer, as
// nginx's fastcgi_keep_conn off), its PARAMS stream, then its body as STDIN records ending with an
// empty one. The answer's STDOUT records hold a CGI answer (a Status field, headers, a blank line,
// the body) until END_REQUEST; it is handed to the forwarder as the HTTP/1.1 answer it means.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace surge::edge::fastcgi {

using Params = std::vector<std::pair<std::string, std::string>>;

// BEGIN_REQUEST and the whole PARAMS stream (its closing empty record included).
std::string beginRequest(const Params& params);
// `piece` of the body as STDIN records; an empty piece is the empty record that ends STDIN.
void appendStdin(std::string& out, std::string_view piece);

// Reads the records of `in` from `pos` on (moved past each whole one): STDOUT content appended to
// `stdout_data`, STDERR dropped. 1: END_REQUEST came; 0: more bytes are needed; -1: malformed.
int readAnswer(std::string_view in, size_t& pos, std::string& stdout_data);

// The CGI answer in `cgi` as an HTTP/1.1 answer with its Content-Length: the Status field's code
// (200 without one, 302 for a Location without one, as CGI says). "" when it has no blank line
// after its headers or a Status that is not a code.
std::string httpAnswer(std::string_view cgi);

// "HTTP_" and the header's name in upper case, dashes as underscores: how a request's header
// goes to the application (fastcgi_pass_request_headers).
std::string headerParam(std::string_view name);

}  // namespace surge::edge::fastcgi
