#include "surge/http/response_head.h"

#include <charconv>

#include "surge/http/request_parser.h"

namespace surge::http {

bool containsToken(std::string_view list, std::string_view token) {
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    std::string_view item = trimOws(
        list.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    if (equalsIgnoreCase(item, token)) return true;
    pos = comma == std::string_view::npos ? list.size() + 1 : comma + 1;
  }
  return false;
}

int parseResponseHead(std::string_view input, ResponseHead& head, size_t max_bytes) {
  // Lines end with CRLF or, as RFC 9112 2.2 lets a recipient accept and nginx does, a bare LF;
  // the head ends at the first empty line. A CR anywhere else is refused.
  std::vector<std::string_view> lines;
  size_t pos = 0;
  size_t header_bytes = 0;
  while (true) {
    size_t nl = input.find('\n', pos);
    if (nl == std::string_view::npos) return input.size() > max_bytes ? -1 : 0;
    if (nl + 1 > max_bytes) return -1;
    std::string_view line = input.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) return -1;
    pos = nl + 1;
    if (line.empty()) {
      if (lines.empty()) return -1;  // no status line
      header_bytes = pos;
      break;
    }
    lines.push_back(line);
  }
  head = ResponseHead{};
  head.header_bytes = header_bytes;
  std::string_view status_line = lines.front();
  // "HTTP/1.x NNN" then the end of the line or a space before the reason.
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    return -1;
  }
  int status = 0;
  auto [p, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
  if (ec != std::errc() || p != status_line.data() + 12 || status < 100 || status > 599) return -1;
  head.status = status;
  head.close = status_line[7] == '0';
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return -1;
    std::string_view name = line.substr(0, colon), value = trimOws(line.substr(colon + 1));
    if (name.find(' ') != std::string_view::npos) return -1;
    if (equalsIgnoreCase(name, "content-length")) {
      size_t n = 0;
      auto [q, e] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (e != std::errc() || q != value.data() + value.size()) return -1;
      if (head.content_length && *head.content_length != n) return -1;
      head.content_length = n;
    } else if (equalsIgnoreCase(name, "transfer-encoding")) {
      head.chunked = true;
    } else if (equalsIgnoreCase(name, "connection")) {
      // Every Connection header counts: the names listed in any of them are hop-by-hop.
      if (!head.connection.empty()) head.connection += ',';
      head.connection += value;
      if (containsToken(value, "close")) head.close = true;
    }
    head.fields.emplace_back(name, value);
  }
  return 1;
}

int decodeChunked(std::string_view in, size_t& pos, std::string& body) {
  for (;;) {
    size_t eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) return in.size() - pos > 1024 ? -1 : 0;
    std::string_view line = in.substr(pos, eol - pos);
    line = line.substr(0, line.find(';'));  // chunk extensions
    size_t size = 0;
    auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
    if (ec != std::errc() || p != line.data() + line.size() || line.empty()) return -1;
    if (size == 0) {
      // The trailer: fields up to a blank line.
      size_t at = eol + 2;
      for (;;) {
        size_t t = in.find("\r\n", at);
        if (t == std::string_view::npos) return 0;
        if (t == at) {
          pos = t + 2;
          return 1;
        }
        at = t + 2;
      }
    }
    if (in.size() < eol + 2 + size + 2) return 0;
    if (in.substr(eol + 2 + size, 2) != "\r\n") return -1;
    body.append(in.substr(eol + 2, size));
    pos = eol + 2 + size + 2;
  }
}

}  // namespace surge::http
