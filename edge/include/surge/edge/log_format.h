// nginx's log_format and access_log: a line per answer, built from nginx variables (those of the
// request, see variables.h, and those only a log knows: $status, $body_bytes_sent,
// $request_time, $sent_http_NAME), escaped as the format says, written to the files the
// answering location names (several; `if=` skips a line whose condition is empty or "0").
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "surge/base/result.h"
#include "surge/edge/access_log.h"
#include "surge/edge/config_reader.h"
#include "surge/edge/exchange.h"
#include "surge/edge/variables.h"
#include "surge/http/server.h"

namespace surge::edge {

class LogFormat {
 public:
  enum class Escape { kDefault, kJson, kNone };
  // `text`: the format's strings joined, as nginx joins them.
  static base::Result<LogFormat, std::string> compile(std::string name, Escape escape,
                                                      std::string_view text);
  // nginx's predefined "combined".
  static std::shared_ptr<const LogFormat> combined();

  // The line for `response`, answered to `exchange`, begun at `start` (no newline). An empty
  // variable is "-", as in nginx.
  std::string line(const Exchange& exchange, const http::Response& response,
                   std::chrono::steady_clock::time_point start) const;
  const std::string& name() const { return name_; }
  // The names it refers to that are neither built in nor a log's own: `set` must declare them.
  std::vector<std::string> declaredNames() const;

  // $status, $body_bytes_sent, $request_time, $sent_http_NAME: known once the answer is.
  static bool logVariable(std::string_view name);

 private:
  std::string name_;
  Escape escape_ = Escape::kDefault;
  ComplexValue value_;
};

// access_log PATH [FORMAT [buffer=SIZE] [flush=TIME] [if=CONDITION]];
struct AccessLogRule {
  std::shared_ptr<AccessLogFile> file;
  std::shared_ptr<const LogFormat> format;
  ComplexValue condition;  // text() empty: always
  bool has_condition = false;
};

// log_format and access_log as the configuration reads them: the formats by name ("combined"
// predefined) and one AccessLogFile per path, shared by every rule naming it.
class AccessLogReader {
 public:
  // log_format NAME [escape=default|json|none] STRING ...; (http level, before any access_log).
  bool logFormat(ConfigReader& reader, const Directive& d);
  // The access_log lines of one level's block: they replace `rules` (inherited) when there is
  // one; `off` leaves none.
  bool accessLogs(ConfigReader& reader, const std::vector<Directive>& block,
                  std::vector<AccessLogRule>& rules);
  std::vector<std::shared_ptr<AccessLogFile>> files() const;
  // file:line of the first access_log naming `path`.
  std::string where(const std::string& path) const;

 private:
  std::map<std::string, std::string> where_;
  std::map<std::string, std::shared_ptr<const LogFormat>> formats_{
      {"combined", LogFormat::combined()}};
  std::map<std::string, std::shared_ptr<AccessLogFile>> files_;  // by path
};

// Writes the line of every rule whose condition holds.
void writeAccessLogs(const std::vector<AccessLogRule>& rules, const Exchange& exchange,
                     const http::Response& response, std::chrono::steady_clock::time_point start);

}  // namespace surge::edge
