#include "surge/edge/log_format.h"

#include <cstdio>

namespace surge::edge {
namespace {

constexpr std::string_view kCombined =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\"";

void appendEscaped(std::string& out, std::string_view s, LogFormat::Escape escape) {
  static const char kHex[] = "0123456789ABCDEF";
  switch (escape) {
    case LogFormat::Escape::kNone:
      out += s;
      return;
    case LogFormat::Escape::kDefault:
      // nginx: '"', '\' and bytes outside printable ASCII as \xHH.
      for (unsigned char c : s) {
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
      }
      return;
    case LogFormat::Escape::kJson:
      for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
          out += '\\';
          out += static_cast<char>(c);
        } else if (c == '\n') {
          out += "\\n";
        } else if (c == '\r') {
          out += "\\r";
        } else if (c == '\t') {
          out += "\\t";
        } else if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
      }
      return;
  }
}

uint64_t bodyBytes(const Exchange& ex, const http::Response& r) {
  if (ex.request.method == "HEAD" || r.status == 204 || r.status == 304) return 0;
  return r.file ? r.file_length : r.shared_owner ? r.shared_body.size() : r.body.size();
}

// A header of the answer as sent: what the server adds itself (Connection, Content-Length) is
// known from the answer; the rest is in its header lines.
std::string sentHeader(const Exchange& ex, const http::Response& r, std::string_view suffix) {
  std::string name(suffix);
  for (char& c : name)
    if (c == '_') c = '-';
  if (http::equalsIgnoreCase(name, "connection")) return r.close ? "close" : "keep-alive";
  if (http::equalsIgnoreCase(name, "content-length")) {
    return r.status == 204 || r.status == 304
               ? std::string()
               : std::to_string(r.file           ? r.file_length
                                : r.shared_owner ? r.shared_body.size()
                                                 : r.body.size());
  }
  (void)ex;
  std::string_view h = r.headers;
  while (!h.empty()) {
    size_t eol = h.find("\r\n");
    std::string_view line = h.substr(0, eol);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos && http::equalsIgnoreCase(line.substr(0, colon), name)) {
      return std::string(http::trimOws(line.substr(colon + 1)));
    }
    if (eol == std::string_view::npos) break;
    h.remove_prefix(eol + 2);
  }
  return {};
}

std::string logValue(const Exchange& ex, const http::Response& r,
                     std::chrono::steady_clock::time_point start, std::string_view name) {
  if (name == "status") return std::to_string(r.status);
  if (name == "body_bytes_sent") return std::to_string(bodyBytes(ex, r));
  if (name == "request_time") {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ms / 1000),
                  static_cast<long long>(ms % 1000));
    return buf;
  }
  if (name.starts_with("sent_http_")) return sentHeader(ex, r, name.substr(10));
  return variableValue(ex, name);
}

}  // namespace

bool LogFormat::logVariable(std::string_view name) {
  return name == "status" || name == "body_bytes_sent" || name == "request_time" ||
         (name.starts_with("sent_http_") && name.size() > 10);
}

cache::Result<LogFormat, std::string> LogFormat::compile(std::string name, Escape escape,
                                                         std::string_view text) {
  auto v = ComplexValue::compile(text);
  if (!v) return cache::fail(v.error());
  LogFormat f;
  f.name_ = std::move(name);
  f.escape_ = escape;
  f.value_ = std::move(v.value());
  return f;
}

std::shared_ptr<const LogFormat> LogFormat::combined() {
  static const std::shared_ptr<const LogFormat> format = [] {
    auto f = compile("combined", Escape::kDefault, kCombined);
    return std::make_shared<const LogFormat>(std::move(f.value()));
  }();
  return format;
}

std::vector<std::string> LogFormat::declaredNames() const {
  std::vector<std::string> out;
  for (std::string& n : value_.declaredNames()) {
    if (!logVariable(n)) out.push_back(std::move(n));
  }
  return out;
}

std::string LogFormat::line(const Exchange& ex, const http::Response& r,
                            std::chrono::steady_clock::time_point start) const {
  std::string out;
  out.reserve(200);
  for (const ComplexValue::Part& p : value_.parts()) {
    if (!p.variable) {
      out += p.text;
      continue;
    }
    std::string v = p.capture >= 0 ? std::string(ex.captures.group(static_cast<size_t>(p.capture)))
                                   : logValue(ex, r, start, p.text);
    if (v.empty()) {
      out += '-';
    } else {
      appendEscaped(out, v, escape_);
    }
  }
  return out;
}

void writeAccessLogs(const std::vector<AccessLogRule>& rules, const Exchange& ex,
                     const http::Response& response, std::chrono::steady_clock::time_point start) {
  for (const AccessLogRule& rule : rules) {
    AccessLog* writer = rule.file->writer.load(std::memory_order_acquire);
    if (writer == nullptr || !writer->enabled()) continue;
    if (rule.has_condition) {
      // Evaluated as the line is: the condition may name a log's own variable ($status).
      std::string c;
      for (const ComplexValue::Part& p : rule.condition.parts()) {
        c += !p.variable      ? p.text
             : p.capture >= 0 ? std::string(ex.captures.group(static_cast<size_t>(p.capture)))
                              : logValue(ex, response, start, p.text);
      }
      if (c.empty() || c == "0") continue;
    }
    writer->write(rule.format->line(ex, response, start));
  }
}

}  // namespace surge::edge
