#include "surge/edge/accel_redirect.h"

#include <array>
#include <string_view>

#include "surge/edge/static_files.h"

namespace surge::edge {
namespace {

template <typename Fn>
void forEachHeader(std::string_view lines, Fn fn) {
  while (!lines.empty()) {
    size_t eol = lines.find("\r\n");
    std::string_view line = lines.substr(0, eol);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      fn(line.substr(0, colon), http::trimOws(line.substr(colon + 1)), line);
    }
    if (eol == std::string_view::npos) break;
    lines.remove_prefix(eol + 2);
  }
}

// nginx's ngx_http_parse_unsafe_uri: a ".." segment anywhere (after %XX decoding), NUL.
bool unsafe(std::string_view path) {
  std::string decoded = percentDecode(path);
  if (decoded.find('\0') != std::string::npos) return true;
  size_t start = 0;
  while (start <= decoded.size()) {
    size_t slash = decoded.find('/', start);
    std::string_view segment = std::string_view(decoded).substr(
        start, slash == std::string::npos ? std::string::npos : slash - start);
    if (segment == "..") return true;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return false;
}

}  // namespace

std::optional<AccelRedirect> accelRedirect(const http::Response& response) {
  static constexpr std::array<std::string_view, 6> kPreserved = {
      "Content-Type", "Content-Disposition", "Set-Cookie", "Cache-Control",
      "Expires",      "Accept-Ranges"};
  std::optional<AccelRedirect> out;
  forEachHeader(response.headers,
                [&](std::string_view name, std::string_view value, std::string_view) {
                  if (!out && http::equalsIgnoreCase(name, "X-Accel-Redirect") && !value.empty()) {
                    out.emplace();
                    if (value[0] == '@') {
                      out->named = true;
                      out->uri = std::string(value);
                      return;
                    }
                    size_t q = value.find('?');
                    std::string_view path = value.substr(0, q);
                    if (q != std::string_view::npos) out->args = std::string(value.substr(q + 1));
                    auto normalized = unsafe(path) ? std::nullopt : normalizePath(path);
                    if (!normalized) {
                      out->unsafe = true;
                    } else {
                      out->uri = std::move(*normalized);
                    }
                  }
                });
  if (!out) return out;
  forEachHeader(response.headers,
                [&](std::string_view name, std::string_view, std::string_view line) {
                  for (std::string_view keep : kPreserved) {
                    if (http::equalsIgnoreCase(name, keep)) {
                      out->preserved += line;
                      out->preserved += "\r\n";
                    }
                  }
                });
  return out;
}

void applyPreservedHeaders(const std::string& lines, http::Response& response) {
  // Set-Cookie may come several times: the origin's replace the answer's own as a whole.
  forEachHeader(lines, [&](std::string_view name, std::string_view, std::string_view) {
    http::removeHeader(response, name);
  });
  response.headers += lines;
}

}  // namespace surge::edge
