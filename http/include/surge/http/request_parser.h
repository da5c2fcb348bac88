// A strict HTTP/1.1 request parser (RFC 9112), shared by surge-edge and surge-origin.
//
// Strict on purpose: whatever two HTTP implementations could read differently (request
// smuggling) is refused, and the connection is closed after the error answer. Refused: a
// Content-Length together with Transfer-Encoding, duplicate or signed Content-Length, any
// Transfer-Encoding but exactly "chunked" (501), Transfer-Encoding on HTTP/1.0, whitespace before
// a colon, obs-fold, a bare CR, NUL and other control bytes (a name starting with a colon or
// holding a space or control byte), more or fewer than one Host on
// HTTP/1.1, an invalid Host (as nginx checks it), TRACE (405, as nginx), oversized parts (414,
// 431, 413). Accepted as nginx and RFC 9112 have it: a bare LF as a line end (2.2), and the
// absolute form of a target (3.2.2: its authority replaces Host, see Request::host).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "surge/http/body_stream.h"

namespace surge::http {

struct Header {
  std::string_view name;
  std::string_view value;
  // A name nginx calls invalid (HeaderName): with an underscore, or with another character than
  // a letter, a digit or '-'. The parser keeps such a header, flagged; the edge drops it where
  // nginx's ignore_invalid_headers (on by default) and underscores_in_headers say so.
  uint8_t invalid = 0;
};
namespace HeaderName {
constexpr uint8_t kUnderscore = 1;
constexpr uint8_t kOtherCharacter = 2;
}  // namespace HeaderName
// The HeaderName flags nginx would give `name` (a name already checked to hold no space or
// control byte): HTTP/1.1's parser and HTTP/2's streams both flag with it.
uint8_t headerNameFlags(std::string_view name);

struct Request {
  std::string_view method;
  std::string_view target;     // path and query (of an absolute-form target: what follows the host)
  std::string_view authority;  // the host of an absolute-form target; empty otherwise
  std::string_view path;
  std::string_view query;  // without '?'
  int version_major = 1;   // 2: the request came as an HTTP/2 stream (h2_session)
  int version_minor = 1;   // HTTP/<major>.<minor>
  std::vector<Header> headers;
  std::string_view body;     // a view into the input, or into chunked_body
  std::string chunked_body;  // storage for a decoded chunked body
  // The request announced a body, even an empty one: Content-Length or chunked over HTTP/1.1, a
  // stream its HEADERS did not end over HTTP/2. nginx forwards Content-Length (0 too) and keeps
  // a client_body_in_file_only file for such a request only.
  bool has_body = false;
  // The body is still arriving (nginx's proxy_request_buffering off, over HTTP/2): `body` is
  // empty and its pieces come through here. nullptr: `body` is the whole body.
  std::shared_ptr<BodyStream> body_stream;
  // The bytes of the request line and head, once the parser has seen them whole (its body, or
  // its first chunk, starts there).
  size_t head_size = 0;
  bool keep_alive = true;
  bool expect_continue = false;
  std::string_view remote_addr;  // the peer's IP, set by the server (not the parser)
  // What the connection's PROXY protocol header said (listen's proxy_protocol; empty: none).
  std::string_view proxy_protocol_addr;
  int proxy_protocol_port = 0;
  int local_port = 0;  // the port the connection came in on (set by the server)
  bool tls = false;    // it came over TLS (set by the server)
  // This request's number on its connection (1 for the first) and when the connection was
  // accepted, set by the server: nginx's $connection_requests, $connection_time, keepalive_time.
  uint64_t connection_requests = 0;
  std::chrono::steady_clock::time_point connection_start;
  // The bytes the request took as it came (set by the server), nginx's $request_length: over
  // HTTP/1.1 its line, head and body; over HTTP/2 its header block's and DATA frames' payloads.
  uint64_t length = 0;

  // Case-insensitive; the first one when repeated; empty when absent.
  std::string_view header(std::string_view name) const;
  // The host the request is for: an absolute-form target's, else the Host header's.
  std::string_view host() const;
  void clear();
};

struct ParseLimits {
  size_t max_head = 16 * 1024;  // request line + headers (431; 414 for the target alone)
  size_t max_target = 8 * 1024;
  size_t max_headers = 100;
  size_t max_body = 1024 * 1024;  // 413
  // large_client_header_buffers was set (max_target one buffer, max_head all of them): HTTP/2
  // applies it as nginx does, a field or a header list past it ending the connection.
  bool h2_field_limits = false;
};

enum class ParseResult { kIncomplete, kComplete, kError };

struct ParseError {
  int status = 400;
  const char* reason = "";
};

// Parses the request at the start of `input`. kComplete: `request` is filled (views into
// `input`), `consumed` is the length of the whole request. kIncomplete: more bytes are needed;
// `head_complete` tells whether the head is all there (the body is missing). kError: `error`
// says the status to answer with; the connection must be closed after it.
ParseResult parseRequest(std::string_view input, const ParseLimits& limits, Request& request,
                         size_t& consumed, ParseError& error, bool* head_complete = nullptr);

bool equalsIgnoreCase(std::string_view a, std::string_view b);

// A Host value (or the authority of an absolute-form target, or HTTP/2's :authority) as nginx
// checks it: not empty once a trailing dot is dropped, no "/" or "\\", no empty label (".."),
// no leading dot.
bool isValidHost(std::string_view host);

// Without the optional whitespace (spaces and tabs) around a header value or list item.
std::string_view trimOws(std::string_view s);

}  // namespace surge::http
