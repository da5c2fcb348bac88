#include "surge/http/request_parser.h"

#include <cctype>
#include <cstring>

namespace surge::http {
namespace {

// RFC 9110 tchar.
struct TokenTable {
  bool allowed[256] = {};
  TokenTable() {
    for (int c = '0'; c <= '9'; ++c)
      allowed[c] = true;
    for (int c = 'a'; c <= 'z'; ++c)
      allowed[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c)
      allowed[c] = true;
    for (char c : std::string_view("!#$%&'*+-.^_`|~"))
      allowed[static_cast<unsigned char>(c)] = true;
  }
};
const TokenTable kTokens;

bool isTokenChar(unsigned char c) {
  return kTokens.allowed[c];
}

// Field values: VCHAR, obs-text, SP, HTAB.
bool isValueChar(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

bool isTargetChar(unsigned char c) {
  return c > 0x20 && c < 0x7f;
}

ParseResult failWith(ParseError& error, int status, const char* reason) {
  error.status = status;
  error.reason = reason;
  return ParseResult::kError;
}

// Finds the end of one line starting at `pos`: CRLF, or a bare LF, which RFC 9112 2.2 lets a
// recipient take as a line end (nginx does, and so do nginx's tests). Refuses a bare CR and NUL.
// Returns the end of the line's content and sets `next` past its terminator; npos when the line
// is not complete yet; sets `bad` on a framing error.
size_t lineEnd(std::string_view in, size_t pos, bool& bad, size_t& next) {
  for (size_t i = pos; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\r') {
      if (i + 1 == in.size()) return std::string_view::npos;
      if (in[i + 1] != '\n') {
        bad = true;
        return std::string_view::npos;
      }
      next = i + 2;
      return i;
    }
    if (c == '\n') {
      next = i + 1;
      return i;
    }
    if (c == '\0') {
      bad = true;
      return std::string_view::npos;
    }
  }
  return std::string_view::npos;
}

// The authority of an absolute-form target as nginx's request-line parser reads it: a name of
// letters, digits, '.' and '-', or an IP literal in brackets, then optionally ':' and a port of
// digits (possibly none); no user info.
bool isValidAuthority(std::string_view a) {
  size_t i = 0;
  if (!a.empty() && a[0] == '[') {
    size_t close = a.find(']');
    if (close == std::string_view::npos) return false;
    for (i = 1; i < close; ++i) {
      char c = a[i];
      bool ok = std::isalnum(static_cast<unsigned char>(c)) ||
                std::string_view(".:-_~!$&'()*+,;=").find(c) != std::string_view::npos;
      if (!ok) return false;
    }
    i = close + 1;
  } else {
    for (; i < a.size() && a[i] != ':'; ++i) {
      char c = a[i];
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return false;
    }
  }
  if (i == a.size()) return true;
  if (a[i] != ':') return false;
  for (++i; i < a.size(); ++i) {
    if (a[i] < '0' || a[i] > '9') return false;
  }
  return true;
}

bool parseDecimal(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// A Host value (or the authority of an absolute-form target) as nginx checks it: not empty once
// a trailing dot is dropped, no "/" or "\\", no empty label (".."), no leading dot.
bool isValidHost(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.front() == '.') return false;
  for (size_t i = 0; i < host.size(); ++i) {
    char c = host[i];
    if (c == '/' || c == '\\') return false;
    if (c == '.' && i > 0 && host[i - 1] == '.') return false;
  }
  return true;
}

uint8_t headerNameFlags(std::string_view name) {
  uint8_t invalid = 0;
  for (unsigned char c : name) {
    if (c == '_') {
      invalid |= HeaderName::kUnderscore;
    } else if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
               c != '-') {
      invalid |= HeaderName::kOtherCharacter;
    }
  }
  return invalid;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

std::string_view Request::header(std::string_view name) const {
  for (const Header& h : headers) {
    if (equalsIgnoreCase(h.name, name)) return h.value;
  }
  return {};
}

std::string_view Request::host() const {
  return authority.empty() ? header("Host") : authority;
}

void Request::clear() {
  method = target = path = query = body = authority = {};
  version_major = 1;
  version_minor = 1;
  headers.clear();
  chunked_body.clear();
  keep_alive = true;
  expect_continue = false;
  has_body = false;
  body_stream.reset();
  head_size = 0;
}

ParseResult parseRequest(std::string_view in, const ParseLimits& limits, Request& req,
                         size_t& consumed, ParseError& error, bool* head_complete) {
  if (head_complete) *head_complete = false;
  req.clear();
  bool bad = false;

  // RFC 9112 2.2: a server should ignore at least one empty line before a request line.
  size_t start = 0;
  for (int empty = 0; empty < 2; ++empty) {
    if (start + 1 < in.size() && in[start] == '\r' && in[start + 1] == '\n') {
      start += 2;
    } else if (start < in.size() && in[start] == '\n') {
      start += 1;
    }
  }
  size_t next = 0;
  size_t eol = lineEnd(in, start, bad, next);
  if (bad) return failWith(error, 400, "malformed request line");
  if (eol == std::string_view::npos) {
    if (in.size() - start > limits.max_target + 32) {
      return failWith(error, 414, "request line too long");
    }
    return ParseResult::kIncomplete;
  }
  std::string_view line = in.substr(start, eol - start);
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0)
    return failWith(error, 400, "malformed request line");
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return failWith(error, 400, "malformed request line");
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  for (unsigned char c : req.method) {
    if (!isTokenChar(c)) return failWith(error, 400, "invalid method");
  }
  if (req.target.empty()) return failWith(error, 400, "empty target");
  if (req.target.size() > limits.max_target) return failWith(error, 414, "target too long");
  for (unsigned char c : req.target) {
    if (!isTargetChar(c)) return failWith(error, 400, "invalid byte in target");
  }
  // Absolute form (RFC 9112 3.2.2: a server must accept it): the authority replaces Host, the
  // rest is the target ("/" when there is no path).
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (req.target.size() < scheme.size() ||
        !equalsIgnoreCase(req.target.substr(0, scheme.size()), scheme)) {
      continue;
    }
    std::string_view rest = req.target.substr(scheme.size());
    size_t end = rest.find_first_of("/?");
    req.authority = rest.substr(0, end);
    if (!isValidHost(req.authority) || !isValidAuthority(req.authority)) {
      return failWith(error, 400, "invalid host in the target");
    }
    static constexpr std::string_view kRoot = "/";
    req.target = end == std::string_view::npos ? kRoot : rest.substr(end);
    break;
  }
  // A fragment is the client's own business (RFC 9110 4.2.4): nginx drops it from the URI.
  if (size_t hash = req.target.find('#'); hash != std::string_view::npos) {
    req.target = req.target.substr(0, hash);
    if (req.target.empty()) return failWith(error, 400, "empty target");
  }
  // "http://host?args": the path is "/" (nginx's reading).
  const bool query_only = !req.authority.empty() && req.target.front() == '?';
  if (req.target.front() != '/' && !query_only && !(req.target == "*" && req.method == "OPTIONS")) {
    return failWith(error, 400, "only origin-form and absolute-form targets are accepted");
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return failWith(error, 400, "malformed HTTP version");
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
    return failWith(error, 505, "HTTP version not supported");
  }
  req.version_minor = version[7] - '0';
  // nginx answers TRACE with 405 (it would echo cookies and credentials back to a script).
  if (req.method == "TRACE") return failWith(error, 405, "TRACE is not allowed");
  size_t q = req.target.find('?');
  req.path = query_only ? std::string_view("/") : req.target.substr(0, q);
  if (q != std::string_view::npos) req.query = req.target.substr(q + 1);

  // Header fields.
  size_t pos = next;
  std::string_view content_length, transfer_encoding, connection;
  int host_count = 0, cl_count = 0, te_count = 0;
  while (true) {
    if (pos - start > limits.max_head) return failWith(error, 431, "request head too large");
    eol = lineEnd(in, pos, bad, next);
    if (bad) return failWith(error, 400, "bare CR or NUL in the head");
    if (eol == std::string_view::npos) {
      if (in.size() - start > limits.max_head) {
        return failWith(error, 431, "request head too large");
      }
      return ParseResult::kIncomplete;
    }
    if (eol == pos) {
      pos = next;
      break;  // end of the head
    }
    std::string_view field = in.substr(pos, eol - pos);
    pos = next;
    if (field.front() == ' ' || field.front() == '\t') {
      return failWith(error, 400, "obsolete line folding");
    }
    size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return failWith(error, 400, "malformed header field");
    }
    std::string_view name = field.substr(0, colon);
    // As nginx: a space or control byte in a name is refused; other characters than letters,
    // digits and '-' make a name nginx calls invalid, which is kept and flagged.
    for (unsigned char c : name) {
      if (c <= 0x20 || c == 0x7f) {
        return failWith(error, 400, "invalid header name (space before colon?)");
      }
    }
    const uint8_t invalid = headerNameFlags(name);
    std::string_view value = trimOws(field.substr(colon + 1));
    for (unsigned char c : value) {
      if (!isValueChar(c)) return failWith(error, 400, "control byte in header value");
    }
    if (req.headers.size() >= limits.max_headers) {
      return failWith(error, 431, "too many header fields");
    }
    req.headers.push_back(Header{name, value, invalid});
    if (equalsIgnoreCase(name, "host")) {
      ++host_count;
      if (!isValidHost(value)) return failWith(error, 400, "invalid Host header");
    } else if (equalsIgnoreCase(name, "content-length")) {
      ++cl_count;
      content_length = value;
    } else if (equalsIgnoreCase(name, "transfer-encoding")) {
      ++te_count;
      transfer_encoding = value;
    } else if (equalsIgnoreCase(name, "connection")) {
      connection = value;
    } else if (equalsIgnoreCase(name, "expect")) {
      if (!equalsIgnoreCase(value, "100-continue")) {
        return failWith(error, 417, "unsupported expectation");
      }
      req.expect_continue = true;
    }
  }
  if (head_complete) *head_complete = true;
  req.head_size = pos;

  if (req.version_minor == 1 && host_count != 1) {
    return failWith(error, 400, "HTTP/1.1 needs exactly one Host header");
  }
  if (host_count > 1) return failWith(error, 400, "more than one Host header");
  // Connection: a comma-separated token list.
  req.keep_alive = req.version_minor == 1;
  for (size_t i = 0; i <= connection.size();) {
    size_t comma = connection.find(',', i);
    if (comma == std::string_view::npos) comma = connection.size();
    std::string_view token = trimOws(connection.substr(i, comma - i));
    if (equalsIgnoreCase(token, "close")) req.keep_alive = false;
    if (equalsIgnoreCase(token, "keep-alive")) req.keep_alive = true;
    i = comma + 1;
  }

  // Framing.
  if (te_count > 0) {
    if (cl_count > 0) return failWith(error, 400, "both Content-Length and Transfer-Encoding");
    if (req.version_minor == 0) return failWith(error, 400, "Transfer-Encoding in HTTP/1.0");
    if (te_count > 1 || !equalsIgnoreCase(transfer_encoding, "chunked")) {
      return failWith(error, 501, "only Transfer-Encoding: chunked is supported");
    }
    // Chunked body: size [; ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF
    size_t p = pos;
    while (true) {
      size_t size_end = lineEnd(in, p, bad, next);
      if (bad) return failWith(error, 400, "malformed chunk");
      if (size_end == std::string_view::npos) {
        if (in.size() - p > 1024) return failWith(error, 400, "chunk size line too long");
        return ParseResult::kIncomplete;
      }
      std::string_view size_line = in.substr(p, size_end - p);
      size_t semi = size_line.find(';');
      std::string_view digits = size_line.substr(0, semi);
      if (digits.empty() || digits.size() > 8) {
        return failWith(error, digits.size() > 8 ? 413 : 400, "bad chunk size");
      }
      uint64_t size = 0;
      for (char c : digits) {
        int d = hexDigit(c);
        if (d < 0) return failWith(error, 400, "bad chunk size");
        size = size * 16 + static_cast<uint64_t>(d);
      }
      if (semi != std::string_view::npos) {
        for (unsigned char c : size_line.substr(semi)) {
          if (!isValueChar(c)) return failWith(error, 400, "bad chunk extension");
        }
      }
      p = next;
      if (size == 0) {
        // Trailer fields (ignored), then the final CRLF.
        while (true) {
          size_t t = lineEnd(in, p, bad, next);
          if (bad) return failWith(error, 400, "malformed trailer");
          if (t == std::string_view::npos) {
            if (in.size() - p > limits.max_head) return failWith(error, 431, "trailers too large");
            return ParseResult::kIncomplete;
          }
          if (t == p) {
            p = next;
            break;
          }
          std::string_view trailer = in.substr(p, t - p);
          size_t colon = trailer.find(':');
          if (colon == std::string_view::npos || colon == 0 || trailer.front() == ' ' ||
              trailer.front() == '\t') {
            return failWith(error, 400, "malformed trailer");
          }
          p = next;
        }
        break;
      }
      if (req.chunked_body.size() + size > limits.max_body) {
        return failWith(error, 413, "body too large");
      }
      // The data, then CRLF or a bare LF.
      if (in.size() < p + size + 1) return ParseResult::kIncomplete;
      size_t after = p + size;
      if (in[after] == '\r') {
        if (in.size() < after + 2) return ParseResult::kIncomplete;
        if (in[after + 1] != '\n') return failWith(error, 400, "chunk data not followed by CRLF");
        after += 2;
      } else if (in[after] == '\n') {
        after += 1;
      } else {
        return failWith(error, 400, "chunk data not followed by CRLF");
      }
      req.chunked_body.append(in.data() + p, size);
      p = after;
    }
    req.body = req.chunked_body;
    req.has_body = true;
    consumed = p;
    return ParseResult::kComplete;
  }
  uint64_t length = 0;
  if (cl_count > 1) return failWith(error, 400, "more than one Content-Length");
  if (cl_count == 1 && !parseDecimal(content_length, length)) {
    return failWith(error, 400, "invalid Content-Length");
  }
  if (length > limits.max_body) return failWith(error, 413, "body too large");
  if (in.size() - pos < length) return ParseResult::kIncomplete;
  req.body = in.substr(pos, length);
  req.has_body = cl_count == 1;
  consumed = pos + length;
  return ParseResult::kComplete;
}

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace surge::http
