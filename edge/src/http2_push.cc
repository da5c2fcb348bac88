#include "surge/edge/http2_push.h"

#include "surge/http/request_parser.h"

namespace surge::edge {

namespace {

// An absolute path, as nginx takes a pushed URI: "/" and not "//" (no authority).
bool pushable(std::string_view uri) {
  return !uri.empty() && uri[0] == '/' && !(uri.size() > 1 && uri[1] == '/');
}

using http::trimOws;

// Does a rel parameter's value (quoted: a space-separated list) name "preload"?
bool namesPreload(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  while (!value.empty()) {
    const size_t space = value.find(' ');
    if (http::equalsIgnoreCase(value.substr(0, space), "preload")) return true;
    if (space == std::string_view::npos) break;
    value.remove_prefix(space + 1);
  }
  return false;
}

}  // namespace

void preloadLinks(std::string_view value, std::vector<std::string>& out) {
  while (!value.empty()) {
    value = trimOws(value);
    if (value.empty() || value.front() != '<') return;  // malformed: the rest is not read
    const size_t close = value.find('>');
    if (close == std::string_view::npos) return;
    const std::string_view uri = trimOws(value.substr(1, close - 1));
    value.remove_prefix(close + 1);
    // Its parameters, up to the next link (a comma outside quotes).
    bool preload = false, nopush = false, quoted = false;
    size_t end = 0;
    while (end < value.size() && (quoted || value[end] != ',')) {
      if (value[end] == '"') quoted = !quoted;
      ++end;
    }
    std::string_view params = value.substr(0, end);
    value.remove_prefix(std::min(value.size(), end + 1));
    while (!params.empty()) {
      size_t semi = params.find(';');
      std::string_view param = trimOws(params.substr(0, semi));
      params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
      const size_t eq = param.find('=');
      const std::string_view name = trimOws(param.substr(0, eq));
      if (http::equalsIgnoreCase(name, "nopush")) nopush = true;
      if (eq != std::string_view::npos && http::equalsIgnoreCase(name, "rel")) {
        preload = namesPreload(trimOws(param.substr(eq + 1)));
      }
    }
    if (preload && !nopush && pushable(uri)) out.emplace_back(uri);
  }
}

bool readHttp2Pushes(ConfigReader& r, const std::vector<Directive>& block, Http2Push& level) {
  std::vector<ComplexValue> own;
  bool has_own = false;
  for (const Directive& d : block) {
    if (d.name == "http2_push_preload") {
      if (!r.onOff(d, level.preload)) return false;
    } else if (d.name == "http2_max_concurrent_pushes") {
      if (!r.args(d, 1, 1)) return false;
      uint64_t n = 0;
      if (!r.number(d, d.args[0], 0, 1u << 16, n)) return false;
      level.max_concurrent = static_cast<uint32_t>(n);
    } else if (d.name == "http2_push") {
      if (!r.args(d, 1, 1)) return false;
      has_own = true;
      if (d.args[0] == "off") continue;  // nginx: alone at its level
      ComplexValue uri;
      if (!r.complexValue(d, d.args[0], uri)) return false;
      if (uri.isLiteral() && !pushable(uri.text())) {
        return r.fail(d, "\"http2_push\" needs a path that starts with \"/\"");
      }
      own.push_back(std::move(uri));
    }
  }
  if (has_own) level.uris = std::move(own);
  return true;
}

std::vector<std::string> http2PushesFor(const Http2Push& push, const Exchange& ex,
                                        std::string_view headers) {
  std::vector<std::string> out;
  for (const ComplexValue& uri : push.uris) {
    std::string path = uri.evaluate(ex);
    if (pushable(path)) out.push_back(std::move(path));  // "", "off", "foo": nothing
  }
  if (!push.preload) return out;
  while (!headers.empty()) {
    const size_t end = headers.find("\r\n");
    const std::string_view line = headers.substr(0, end);
    headers = end == std::string_view::npos ? std::string_view() : headers.substr(end + 2);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos && http::equalsIgnoreCase(line.substr(0, colon), "link")) {
      preloadLinks(line.substr(colon + 1), out);
    }
  }
  return out;
}

}  // namespace surge::edge
