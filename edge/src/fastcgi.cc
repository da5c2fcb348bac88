#include "surge/edge/fastcgi.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include "surge/http/request_parser.h"
#include "surge/http/server.h"

namespace surge::edge::fastcgi {

namespace {

enum Type : uint8_t {
  kBeginRequest = 1,
  kEndRequest = 3,
  kParams = 4,
  kStdin = 5,
  kStdout = 6,
  kStderr = 7,
};
constexpr uint16_t kRequestId = 1;  // one request per connection
constexpr size_t kMaxContent = 65535;

void appendHeader(std::string& out, uint8_t type, size_t length) {
  const char h[8] = {1,  // FCGI_VERSION_1
                     static_cast<char>(type),
                     0,
                     static_cast<char>(kRequestId),
                     static_cast<char>((length >> 8) & 0xff),
                     static_cast<char>(length & 0xff),
                     0,   // no padding
                     0};  // reserved
  out.append(h, sizeof h);
}

// `data` as records of `type`, each at most 64 KiB; nothing for empty data.
void appendRecords(std::string& out, uint8_t type, std::string_view data) {
  while (!data.empty()) {
    const size_t n = std::min(data.size(), kMaxContent);
    appendHeader(out, type, n);
    out.append(data.substr(0, n));
    data.remove_prefix(n);
  }
}

void appendLength(std::string& out, size_t n) {
  if (n < 128) {
    out += static_cast<char>(n);
    return;
  }
  out += static_cast<char>(((n >> 24) & 0x7f) | 0x80);
  out += static_cast<char>((n >> 16) & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  out += static_cast<char>(n & 0xff);
}

}  // namespace

std::string beginRequest(const Params& params) {
  std::string out;
  appendHeader(out, kBeginRequest, 8);
  const char body[8] = {0, 1 /* FCGI_RESPONDER */, 0 /* not FCGI_KEEP_CONN */, 0, 0, 0, 0, 0};
  out.append(body, sizeof body);
  std::string pairs;
  for (const auto& [name, value] : params) {
    appendLength(pairs, name.size());
    appendLength(pairs, value.size());
    pairs.append(name).append(value);
  }
  appendRecords(out, kParams, pairs);
  appendHeader(out, kParams, 0);
  return out;
}

void appendStdin(std::string& out, std::string_view piece) {
  if (piece.empty()) {
    appendHeader(out, kStdin, 0);
  } else {
    appendRecords(out, kStdin, piece);
  }
}

int readAnswer(std::string_view in, size_t& pos, std::string& stdout_data) {
  while (in.size() - pos >= 8) {
    const auto* h = reinterpret_cast<const uint8_t*>(in.data() + pos);
    if (h[0] != 1) return -1;
    const size_t length = (size_t{h[4]} << 8) | h[5];
    const size_t total = 8 + length + h[6];
    if (in.size() - pos < total) return 0;
    const std::string_view content = in.substr(pos + 8, length);
    pos += total;
    switch (h[1]) {
      case kStdout:
        stdout_data.append(content);
        break;
      case kEndRequest:
        return 1;
      case kStderr:  // the application's log: not the client's
        break;
      default:
        return -1;
    }
  }
  return 0;
}

std::string httpAnswer(std::string_view cgi) {
  std::string status = "200 OK";
  bool has_status = false, has_location = false;
  std::string headers;
  size_t pos = 0;
  while (true) {
    const size_t eol = cgi.find('\n', pos);
    if (eol == std::string_view::npos) return {};  // no blank line: not a CGI answer
    std::string_view line = cgi.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return {};
    const std::string_view name = line.substr(0, colon),
                           value = http::trimOws(line.substr(colon + 1));
    if (http::equalsIgnoreCase(name, "Status")) {
      int code = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), code);
      if (ec != std::errc() || code < 100 || code > 999) return {};
      status = std::string(value);
      if (end == value.data() + value.size()) status += std::string(" ") + http::reasonPhrase(code);
      has_status = true;
      continue;
    }
    // The application's framing is the records': its own length or coding is not passed on.
    if (http::equalsIgnoreCase(name, "Content-Length") ||
        http::equalsIgnoreCase(name, "Transfer-Encoding")) {
      continue;
    }
    has_location = has_location || http::equalsIgnoreCase(name, "Location");
    headers.append(name).append(": ").append(value).append("\r\n");
  }
  if (!has_status && has_location) status = "302 Found";
  const std::string_view body = cgi.substr(pos);
  std::string out = "HTTP/1.1 " + status + "\r\n" + headers;
  out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
  out.append(body);
  return out;
}

std::string headerParam(std::string_view name) {
  std::string out = "HTTP_";
  for (char c : name)
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace surge::edge::fastcgi
