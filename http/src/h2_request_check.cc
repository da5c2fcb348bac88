#include "h2_request_check.h"

#include <cstring>

#include "surge/http/request_parser.h"

namespace surge::http {
namespace {

constexpr unsigned kMethod = 1, kScheme = 2, kPath = 4, kAuthority = 8;

unsigned pseudoBit(std::string_view name) {
  if (name == ":method") return kMethod;
  if (name == ":scheme") return kScheme;
  if (name == ":path") return kPath;
  if (name == ":authority") return kAuthority;
  return 0;
}

bool isControlOrSpace(unsigned char c) {
  return c <= 0x20 || c == 0x7f;
}

// nginx's rule for an HTTP/2 field name: lower case (RFC 9113 8.2.1), no controls, spaces or
// colons. Other characters (an underscore, a dot) make the field one ignore_invalid_headers
// drops, as over HTTP/1.1 (headerNameFlags), not a malformed request.
bool validName(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (isControlOrSpace(c) || c == ':' || (c >= 'A' && c <= 'Z')) return false;
  }
  return true;
}

// RFC 9113 8.2.1: a value must not hold NUL, CR or LF (what would split an HTTP/1.1 head). nginx
// takes other controls, and so does surge.
bool validValue(std::string_view value) {
  // memchr: every field of every request passes here (the header-list flood's 100 a request).
  const void* v = value.data();
  const size_t n = value.size();
  return std::memchr(v, '\r', n) == nullptr && std::memchr(v, '\n', n) == nullptr &&
         std::memchr(v, '\0', n) == nullptr;
}

// nginx's methods: upper-case letters, '_' and '-'.
bool validMethod(std::string_view method) {
  if (method.empty()) return false;
  for (char c : method) {
    if (!((c >= 'A' && c <= 'Z') || c == '_' || c == '-')) return false;
  }
  return true;
}

}  // namespace

bool H2RequestCheck::pathIsSound(std::string_view path) {
  if (path.empty() || path[0] != '/') return false;
  for (unsigned char c : path) {
    if (isControlOrSpace(c)) return false;
  }
  return true;
}

bool H2RequestCheck::authorityIsSound(std::string_view authority) {
  for (unsigned char c : authority) {
    if (isControlOrSpace(c)) return false;
  }
  return isValidHost(authority);
}

bool H2RequestCheck::field(std::string_view name, std::string_view value) {
  if (!validValue(value)) fail("invalid header value");
  if (!name.empty() && name[0] == ':') {
    const unsigned bit = pseudoBit(name);
    if (bit == 0) {
      fail("unknown pseudo-header");
    } else if (regular_seen_) {
      fail("pseudo-header after a regular field");
    } else if (pseudo_seen_ & bit) {
      fail("duplicate pseudo-header");
    }
    pseudo_seen_ |= bit;
    return true;
  }
  regular_seen_ = true;
  if (!validName(name)) {
    fail("invalid header name");
    return false;
  }
  // RFC 9113 8.2.2: connection-specific fields make a request malformed; TE may say "trailers".
  // (By length first: most names are none of these.)
  const size_t len = name.size();
  if (len != 2 && len != 7 && len != 10 && len != 14 && len != 16 && len != 17) return false;
  if (name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
      name == "transfer-encoding" || name == "upgrade") {
    fail("connection-specific header field");
  } else if (name == "te" && value != "trailers") {
    fail("te other than trailers");
  } else if (name == "content-length") {
    uint64_t n = 0;
    if (value.empty() || value.size() > 18 || value.find_first_not_of("0123456789") != value.npos) {
      fail("invalid content-length");
      return false;
    }
    for (char c : value)
      n = n * 10 + static_cast<uint64_t>(c - '0');
    if (content_length_ && *content_length_ != n) fail("conflicting content-length");
    content_length_ = n;
  }
  return false;
}

void H2RequestCheck::headEnded(std::string_view method, std::string_view path,
                               std::string_view authority) {
  if (!(pseudo_seen_ & kMethod) || !validMethod(method)) return fail("invalid :method");
  // CONNECT (RFC 9113 8.5) is answered 405 whatever it carries, as nginx answers it.
  if (method == "CONNECT") return;
  if (!(pseudo_seen_ & kScheme) || !(pseudo_seen_ & kPath)) return fail("missing pseudo-header");
  if (!(path == "*" && method == "OPTIONS") && !pathIsSound(path)) return fail("invalid :path");
  if ((pseudo_seen_ & kAuthority) && !authorityIsSound(authority)) {
    return fail("invalid :authority");
  }
}

void H2RequestCheck::bodyReceived(uint64_t total) {
  if (content_length_ && total > *content_length_) fail("body longer than its content-length");
}

void H2RequestCheck::bodyEnded(uint64_t total) {
  if (content_length_ && total < *content_length_) fail("body shorter than its content-length");
}

}  // namespace surge::http
