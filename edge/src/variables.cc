#include "surge/edge/variables.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include <algorithm>
#include <cctype>
#include <set>

#include "surge/edge/location.h"
#include "surge/http/basic_auth.h"

namespace surge::edge {
namespace {

bool nameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "$http_user_agent" -> the header "user-agent" (nginx: '_' stands for '-', any case).
// A header the server ignores (ignore_invalid_headers) was never sent.
std::string_view headerNamed(const http::Request& request, std::string_view suffix,
                             const HeaderNameRules& rules) {
  for (const http::Header& h : request.headers) {
    if (h.name.size() != suffix.size() || rules.ignores(h)) continue;
    bool same = true;
    for (size_t i = 0; i < suffix.size() && same; ++i) {
      char a = static_cast<char>(std::tolower(static_cast<unsigned char>(h.name[i])));
      char b = suffix[i] == '_'
                   ? '-'
                   : static_cast<char>(std::tolower(static_cast<unsigned char>(suffix[i])));
      same = a == b || (h.name[i] == '_' && suffix[i] == '_');
    }
    if (same) return h.value;
  }
  return {};
}

// "$upstream_http_x_accel_redirect": the first line of that name in `lines` ("Name: value\r\n"
// each; '_' stands for '-', any case).
std::string headerLine(std::string_view lines, std::string_view suffix) {
  while (!lines.empty()) {
    size_t eol = lines.find("\r\n");
    std::string_view line = lines.substr(0, eol);
    size_t colon = line.find(':');
    if (colon == suffix.size()) {
      bool same = true;
      for (size_t i = 0; i < colon && same; ++i) {
        char a = static_cast<char>(std::tolower(static_cast<unsigned char>(line[i])));
        char b = suffix[i] == '_' ? '-' : static_cast<char>(std::tolower(suffix[i]));
        same = a == b;
      }
      if (same) return std::string(http::trimOws(line.substr(colon + 1)));
    }
    if (eol == std::string_view::npos) break;
    lines.remove_prefix(eol + 2);
  }
  return {};
}

// "$upstream_cookie_a": the value of cookie "a" in the first Set-Cookie line of `lines` that sets
// it (the name compared as sent, as nginx).
std::string setCookieNamed(std::string_view lines, std::string_view name) {
  while (!lines.empty()) {
    size_t eol = lines.find("\r\n");
    std::string_view line = lines.substr(0, eol);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos &&
        http::equalsIgnoreCase(line.substr(0, colon), "Set-Cookie")) {
      std::string_view pair = http::trimOws(line.substr(colon + 1));
      pair = pair.substr(0, pair.find(';'));
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && http::trimOws(pair.substr(0, eq)) == name) {
        return std::string(http::trimOws(pair.substr(eq + 1)));
      }
    }
    if (eol == std::string_view::npos) break;
    lines.remove_prefix(eol + 2);
  }
  return {};
}

std::string_view cookieNamed(const http::Request& request, std::string_view name) {
  for (const http::Header& h : request.headers) {
    if (!http::equalsIgnoreCase(h.name, "Cookie")) continue;
    std::string_view v = h.value;
    while (!v.empty()) {
      size_t semi = v.find(';');
      std::string_view pair = http::trimOws(v.substr(0, semi));
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
      if (semi == std::string_view::npos) break;
      v.remove_prefix(semi + 1);
    }
  }
  return {};
}

const std::set<std::string, std::less<>>& builtinNames() {
  // clang-format off
  static const std::set<std::string, std::less<>> names = {
      "uri", "document_uri", "args", "query_string", "is_args", "request_uri", "host",
      "server_name", "server_port", "remote_addr", "request_method", "scheme", "server_protocol",
      "request", "https", "hostname", "nginx_version", "pid", "content_type", "content_length",
      "document_root", "binary_remote_addr", "request_filename", "remote_user", "time_local",
      "time_iso8601", "msec", "connection_requests", "connection_time",
      "proxy_add_x_forwarded_for", "upstream_response_time", "http2", "request_length",
      "request_body", "request_body_file", "realip_remote_addr", "proxy_protocol_addr",
      "proxy_protocol_port"};
  // clang-format on
  return names;
}

// nginx's $server_protocol: "HTTP/1.1", "HTTP/1.0", "HTTP/2.0".
std::string protocol(const http::Request& r) {
  return "HTTP/" + std::to_string(r.version_major) + "." + std::to_string(r.version_minor);
}

}  // namespace

// "$arg_id": the first "id=" of the query, as sent (nginx compares the name without case).
std::string_view argNamed(std::string_view args, std::string_view name) {
  while (!args.empty()) {
    size_t amp = args.find('&');
    std::string_view pair = args.substr(0, amp);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (http::equalsIgnoreCase(key, name)) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    args.remove_prefix(amp + 1);
  }
  return {};
}

ComplexValue ComplexValue::literal(std::string text) {
  ComplexValue v;
  v.text_ = text;
  if (!text.empty()) v.parts_.push_back(Part{false, std::move(text), -1});
  return v;
}

base::Result<ComplexValue, std::string> ComplexValue::compile(std::string_view text) {
  ComplexValue v;
  v.text_ = std::string(text);
  std::string literal;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$') {
      literal += text[i++];
      continue;
    }
    ++i;
    Part part;
    part.variable = true;
    if (i < text.size() && text[i] >= '1' && text[i] <= '9') {
      part.capture = text[i] - '0';
      part.text = std::string(1, text[i]);
      ++i;
    } else if (i < text.size() && text[i] == '{') {
      size_t close = text.find('}', i);
      if (close == std::string_view::npos) {
        return base::fail("the closing bracket in \"" + std::string(text.substr(i + 1)) +
                          "\" variable is missing");
      }
      part.text = std::string(text.substr(i + 1, close - i - 1));
      i = close + 1;
      if (part.text.size() == 1 && part.text[0] >= '1' && part.text[0] <= '9') {
        part.capture = part.text[0] - '0';
      }
    } else {
      size_t start = i;
      while (i < text.size() && nameChar(text[i]))
        ++i;
      part.text = std::string(text.substr(start, i - start));
    }
    if (part.text.empty())
      return base::fail(std::string("invalid variable name in \"") + std::string(text) + "\"");
    if (!literal.empty()) v.parts_.push_back(Part{false, std::move(literal), -1});
    literal.clear();
    v.parts_.push_back(std::move(part));
  }
  if (!literal.empty()) v.parts_.push_back(Part{false, std::move(literal), -1});
  return v;
}

bool ComplexValue::builtin(std::string_view name) {
  if (builtinNames().count(name)) return true;
  for (std::string_view family :
       {"http_", "arg_", "cookie_", "upstream_http_", "upstream_cookie_", "sent_http_"}) {
    if (name.size() > family.size() && name.starts_with(family)) return true;
  }
  return false;
}

std::vector<std::string> ComplexValue::declaredNames() const {
  std::vector<std::string> out;
  for (const Part& p : parts_) {
    if (p.variable && p.capture < 0 && !builtin(p.text)) out.push_back(p.text);
  }
  return out;
}

std::string ComplexValue::evaluate(const Exchange& exchange) const {
  if (isLiteral()) return text_.empty() ? std::string() : parts_.empty() ? "" : parts_[0].text;
  std::string out;
  for (const Part& p : parts_) {
    if (!p.variable) {
      out += p.text;
    } else if (p.capture >= 0) {
      out += exchange.captures.group(static_cast<size_t>(p.capture));
    } else {
      out += variableValue(exchange, p.text);
    }
  }
  return out;
}

std::string requestHost(const http::Request& request) {
  std::string_view host = request.host();
  if (!host.empty() && host.front() == '[') {
    // An IP literal: up to its closing bracket, without the port.
    if (size_t close = host.find(']'); close != std::string_view::npos) {
      host = host.substr(0, close + 1);
    }
  } else {
    host = host.substr(0, host.rfind(':'));
  }
  while (!host.empty() && host.back() == '.')
    host.remove_suffix(1);
  return lower(host);
}

std::string variableValue(const Exchange& ex, std::string_view name) {
  const http::Request& r = ex.request;
  if (const std::string* set = ex.variable(name)) return *set;
  if (name == "uri" || name == "document_uri") return ex.uri;
  if (name == "args" || name == "query_string") return ex.args;
  if (name == "is_args") return ex.args.empty() ? "" : "?";
  if (name == "request_uri") return std::string(r.target);
  if (name == "host") {
    std::string host = requestHost(r);
    return host.empty() && ex.server ? ex.server->first_name : host;
  }
  if (name == "server_name") return ex.server ? ex.server->first_name : "";
  if (name == "server_port") return std::to_string(r.local_port);
  if (name == "remote_addr" || name == "binary_remote_addr") return std::string(ex.remoteAddr());
  if (name == "realip_remote_addr") return std::string(r.remote_addr);
  if (name == "proxy_protocol_addr") return std::string(r.proxy_protocol_addr);
  if (name == "proxy_protocol_port") {
    return r.proxy_protocol_addr.empty() ? std::string() : std::to_string(r.proxy_protocol_port);
  }
  if (name == "request_method") {
    return ex.as_get && r.method != "HEAD" ? std::string("GET") : std::string(r.method);
  }
  if (name == "scheme") return r.tls ? "https" : "http";
  if (name == "https") return r.tls ? "on" : "";
  if (name == "server_protocol") return protocol(r);
  if (name == "http2") return r.version_major != 2 ? "" : r.tls ? "h2" : "h2c";  // nginx's
  if (name == "request")
    return std::string(r.method) + " " + std::string(r.target) + " " + protocol(r);
  if (name == "hostname") {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    return buf;
  }
  if (name == "nginx_version") return "1.22.1";
  if (name == "pid") return std::to_string(::getpid());
  if (name == "content_type") return std::string(r.header("Content-Type"));
  if (name == "content_length") return std::string(r.header("Content-Length"));
  if (name == "request_filename" || name == "document_root") {
    // The file the URI names: root + $uri, or the alias in place of the location's prefix; a
    // root or alias with variables as this request makes it (they may not use these two).
    if (ex.location == nullptr) return name == "document_root" ? std::string() : ex.uri;
    const Location& loc = *ex.location;
    const StaticLocation& f = loc.files;
    std::string root = f.root, alias = f.alias;
    if (!loc.path_var.text().empty()) (loc.path_var_alias ? alias : root) = loc.evaluatedPath(ex);
    if (name == "document_root") return alias.empty() ? root : alias;
    if (alias.empty()) return root + ex.uri;
    if (f.alias_whole) return alias;
    return alias + ex.uri.substr(std::min(f.alias_prefix, ex.uri.size()));
  }
  if (name == "remote_user") {
    auto credentials = http::basicCredentials(r.header("Authorization"));
    return credentials ? credentials->user : std::string();
  }
  if (name == "time_local" || name == "time_iso8601") {
    time_t now = ::time(nullptr);
    tm local;
    localtime_r(&now, &local);
    char buf[64];
    size_t n =
        strftime(buf, sizeof buf,
                 name == "time_local" ? "%d/%b/%Y:%H:%M:%S %z" : "%Y-%m-%dT%H:%M:%S%z", &local);
    std::string out(buf, n);
    // ISO 8601 writes the offset as +hh:mm.
    if (name == "time_iso8601" && out.size() >= 5) out.insert(out.size() - 2, ":");
    return out;
  }
  if (name == "msec") {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ms / 1000),
                  static_cast<long long>(ms % 1000));
    return buf;
  }
  if (name == "connection_requests") return std::to_string(r.connection_requests);
  if (name == "request_length") return std::to_string(r.length);
  // The body as read (surge-edge reads every request's whole body before handling it); as
  // nginx's, empty once the body went into a file, which $request_body_file names.
  if (name == "request_body") return ex.request_body_file.empty() ? std::string(r.body) : "";
  if (name == "request_body_file") return ex.request_body_file;
  if (name == "proxy_add_x_forwarded_for") {
    std::string_view before = r.header("X-Forwarded-For");
    return before.empty() ? std::string(ex.remoteAddr())
                          : std::string(before) + ", " + std::string(ex.remoteAddr());
  }
  if (name == "connection_time") {
    // Seconds with milliseconds since the connection was accepted ("0.000" before it).
    long long ms = r.connection_requests == 0
                       ? 0
                       : std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - r.connection_start)
                             .count();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld.%03lld", ms / 1000, ms % 1000);
    return buf;
  }
  if (name.starts_with("http_")) {
    return std::string(
        headerNamed(r, name.substr(5), ex.server ? ex.server->header_names : HeaderNameRules{}));
  }
  if (name.starts_with("upstream_http_")) {
    return headerLine(ex.upstream_headers, name.substr(14));
  }
  if (name.starts_with("sent_http_")) {
    return ex.sending ? sentHeaderValue(*ex.sending, name.substr(10)) : std::string();
  }
  if (name.starts_with("upstream_cookie_")) {
    return setCookieNamed(ex.upstream_headers, name.substr(16));
  }
  if (name == "upstream_response_time") {
    // Seconds with milliseconds from sending to origin to its whole answer; none unproxied.
    if (ex.upstream_seconds < 0) return {};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", ex.upstream_seconds);
    return buf;
  }
  if (name.starts_with("arg_")) return std::string(argNamed(ex.args, name.substr(4)));
  if (name.starts_with("cookie_")) return std::string(cookieNamed(r, name.substr(7)));
  return {};
}

// A header of the answer as sent: what the server adds itself (Connection, Content-Length) is
// known from the answer; the rest is in its header lines.
std::string sentHeaderValue(const http::Response& r, std::string_view suffix) {
  std::string name(suffix);
  for (char& c : name)
    if (c == '_') c = '-';
  if (http::equalsIgnoreCase(name, "connection")) return r.close ? "close" : "keep-alive";
  if (http::equalsIgnoreCase(name, "keep-alive")) {
    return r.close || r.keep_alive_header_s < 0
               ? std::string()
               : "timeout=" + std::to_string(r.keep_alive_header_s);
  }
  if (http::equalsIgnoreCase(name, "content-length")) {
    return r.status == 204 || r.status == 304
               ? std::string()
               : std::to_string(r.file           ? r.file_length
                                : r.shared_owner ? r.shared_body.size()
                                                 : r.body.size());
  }
  return headerLine(r.headers, suffix);
}

}  // namespace surge::edge
