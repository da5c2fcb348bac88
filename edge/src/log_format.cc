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
  if (name.starts_with("sent_http_")) return sentHeaderValue(r, name.substr(10));
  return variableValue(ex, name);
}

}  // namespace

bool LogFormat::logVariable(std::string_view name) {
  return name == "status" || name == "body_bytes_sent" || name == "request_time" ||
         (name.starts_with("sent_http_") && name.size() > 10);
}

base::Result<LogFormat, std::string> LogFormat::compile(std::string name, Escape escape,
                                                        std::string_view text) {
  auto v = ComplexValue::compile(text);
  if (!v) return base::fail(v.error());
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
      // nginx writes "-" for a value that is not there, except under escape=json and
      // escape=none, where it writes nothing.
      if (escape_ == Escape::kDefault) out += '-';
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

// log_format NAME [escape=default|json|none] STRING ...; (http level, before any access_log).
bool AccessLogReader::logFormat(ConfigReader& r, const Directive& d) {
  if (d.args.size() < 2) return r.fail(d, "invalid number of arguments in \"log_format\"");
  if (formats_.count(d.args[0])) {
    return r.fail(d, "duplicate \"log_format\" name \"" + d.args[0] + "\"");
  }
  size_t first = 1;
  LogFormat::Escape escape = LogFormat::Escape::kDefault;
  if (d.args[1].rfind("escape=", 0) == 0) {
    std::string e = d.args[1].substr(7);
    if (e == "json") {
      escape = LogFormat::Escape::kJson;
    } else if (e == "none") {
      escape = LogFormat::Escape::kNone;
    } else if (e != "default") {
      return r.fail(d, "unknown log format escaping \"" + e + "\"");
    }
    first = 2;
    if (d.args.size() < 3) return r.fail(d, "invalid number of arguments in \"log_format\"");
  }
  std::string text;
  for (size_t i = first; i < d.args.size(); ++i)
    text += d.args[i];
  auto f = LogFormat::compile(d.args[0], escape, text);
  if (!f) return r.fail(d, f.error());
  for (std::string& name : f.value().declaredNames())
    r.useVariable(std::move(name), d);
  formats_[d.args[0]] = std::make_shared<const LogFormat>(std::move(f.value()));
  return true;
}

// access_log PATH [FORMAT [buffer=SIZE] [flush=TIME] [if=CONDITION]] | off; of one level:
// they replace the inherited ones.
bool AccessLogReader::accessLogs(ConfigReader& r, const std::vector<Directive>& block_in,
                                 std::vector<AccessLogRule>& rules) {
  std::vector<AccessLogRule> own;
  bool any = false;
  bool off = false;
  for (const Directive& d : block_in) {
    if (d.name != "access_log") continue;
    any = true;
    if (!r.args(d, 1, 6)) return false;
    if (d.args[0] == "off") {
      if (d.args.size() != 1) return r.fail(d, "invalid parameter \"" + d.args[1] + "\"");
      off = true;
      continue;
    }
    if (d.args[0].rfind("syslog:", 0) == 0) return r.fail(d, "syslog logging is not supported");
    if (d.args[0].find('$') != std::string::npos) {
      return r.fail(d, "variables in access_log paths are not supported");
    }
    AccessLogRule rule;
    std::string format = d.args.size() > 1 ? d.args[1] : "combined";
    auto f = formats_.find(format);
    if (f == formats_.end()) return r.fail(d, "unknown log format \"" + format + "\"");
    rule.format = f->second;
    for (size_t i = 2; i < d.args.size(); ++i) {
      const std::string& a = d.args[i];
      if (a.rfind("buffer=", 0) == 0) {
        // surge's writer always buffers (flushed every 100 ms, off the workers): accepted.
        if (!nginx_compat::parseSize(a.substr(7))) return r.fail(d, "invalid buffer size");
      } else if (a.rfind("flush=", 0) == 0) {
        if (!nginx_compat::parseDuration(a.substr(6))) return r.fail(d, "invalid flush time");
      } else if (a.rfind("if=", 0) == 0) {
        auto v = ComplexValue::compile(a.substr(3));
        if (!v) return r.fail(d, v.error());
        for (std::string& name : v.value().declaredNames()) {
          if (!LogFormat::logVariable(name)) {
            r.useVariable(std::move(name), d);
          }
        }
        rule.condition = std::move(v.value());
        rule.has_condition = true;
      } else if (a == "gzip" || a.rfind("gzip=", 0) == 0) {
        return r.fail(d, "compressed access logs are not supported");
      } else {
        return r.fail(d, "invalid parameter \"" + a + "\"");
      }
    }
    std::string path = r.resolve(d.args[0]);
    auto& file = files_[path];
    if (!file) {
      file = std::make_shared<AccessLogFile>(path);
      where_[path] = nginx_compat::locationOf(d);
    }
    rule.file = file;
    own.push_back(std::move(rule));
  }
  if (any) rules = off ? std::vector<AccessLogRule>{} : std::move(own);
  return true;
}

std::string AccessLogReader::where(const std::string& path) const {
  auto it = where_.find(path);
  return it == where_.end() ? std::string() : it->second;
}

std::vector<std::shared_ptr<AccessLogFile>> AccessLogReader::files() const {
  std::vector<std::shared_ptr<AccessLogFile>> out;
  for (const auto& [path, file] : files_)
    out.push_back(file);
  return out;
}

}  // namespace surge::edge
