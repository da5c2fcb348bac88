// What makes an HTTP/2 request malformed (RFC 9113 8.1.1, 8.2, 8.3), checked field by field as
// H2Session reads a header block. nghttp2's own HTTP messaging checks are off
// (nghttp2_option_set_no_http_messaging): they reset a malformed stream, where nginx answers it
// 400 (and error_page, logs and nginx's test suite see a request). So the checks that keep a
// request safe to hand on as HTTP/1.1 are made here, none fewer: no CR, LF or NUL in a value, no
// upper case or separators in a name, no connection-specific field, a method of nginx's letters,
// a path without controls or spaces, one of each pseudo-header and all before the regular fields,
// and a body exactly as long as its Content-Length says.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace surge::http {

class H2RequestCheck {
 public:
  // Why the request is answered 400 (nullptr: nothing wrong so far).
  const char* error() const { return error_; }

  // One field of the request's header block, as nghttp2 decoded it. Returns whether it is a
  // pseudo-header (then the caller keeps it by name).
  bool field(std::string_view name, std::string_view value);
  // The header block has ended: the pseudo-headers the request must have, and their values.
  void headEnded(std::string_view method, std::string_view path, std::string_view authority);
  // Body bytes have come, `total` so far: more than Content-Length is an error at once.
  void bodyReceived(uint64_t total);
  // The stream ended with `total` body bytes: fewer than Content-Length is an error.
  void bodyEnded(uint64_t total);

  std::optional<uint64_t> contentLength() const { return content_length_; }

  // What a request's path and authority must be: a path rooted at "/" without controls or
  // spaces; a non-empty host nginx takes, without controls or spaces.
  static bool pathIsSound(std::string_view path);
  static bool authorityIsSound(std::string_view authority);

 private:
  void fail(const char* why) {
    if (error_ == nullptr) error_ = why;
  }
  const char* error_ = nullptr;
  unsigned pseudo_seen_ = 0;  // a bit per pseudo-header
  bool regular_seen_ = false;
  std::optional<uint64_t> content_length_;
};

}  // namespace surge::http
