// What every directive reader shares while surge-edge's configuration is read: the first error
// (with file:line, as nginx reports it), argument checks and value parsers, relative paths
// resolved against the prefix, and the variables values name (checked, once the whole file is
// read, against those `set` and regex groups declare: nginx's "unknown variable").
//
// Each concern reads its own directives beside its code (keep_alive.cc, log_format.cc,
// request_limits.cc, rewrite.cc, static_handler.cc, ...); edge_config.cc holds the structure of
// the file (main, http, server, location) and the core module's directives.
#pragma once

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "surge/edge/variables.h"
#include "surge/nginx_compat/config_parser.h"

namespace surge::edge {

using nginx_compat::Directive;

class ConfigReader {
 public:
  explicit ConfigReader(std::string base_dir) : base_dir_(std::move(base_dir)) {}

  // Records "file:line: message" unless an error is already recorded; always false.
  bool fail(const Directive& d, const std::string& message);
  // The same for an error found after the directive was read (`where` is its file:line).
  bool failAt(const std::string& where, const std::string& message);
  const std::string& error() const { return error_; }

  // Between `min` and `max` arguments and no block.
  bool args(const Directive& d, size_t min, size_t max);
  // Has a block.
  bool block(const Directive& d);
  // `path` against the prefix (absolute paths as they are).
  std::string resolve(const std::string& path) const;
  const std::string& baseDir() const { return base_dir_; }

  bool duration(const Directive& d, std::chrono::milliseconds& out);  // one argument
  bool duration(const Directive& d, const std::string& text, std::chrono::milliseconds& out);
  bool seconds(const Directive& d, std::chrono::seconds& out);  // whole seconds
  bool size(const Directive& d, uint64_t& out);
  bool number(const Directive& d, const std::string& text, uint64_t min, uint64_t max,
              uint64_t& out);
  bool onOff(const Directive& d, bool& out);
  // "HOST:PORT", "PORT" (127.0.0.1), "*:PORT" (every address), "localhost:PORT".
  bool hostPort(const Directive& d, const std::string& text, std::string& host, int& port);
  // `host` resolved now, at load (`-t` and SIGHUP included; never on an event loop): its first
  // IPv4 address in `address`. A name that does not resolve is refused (at `where`), as nginx
  // refuses it.
  bool resolveHost(const std::string& where, const std::string& host, int port,
                   std::string& address);

  // A value that may hold variables; the names it needs are checked at the end of the file.
  bool complexValue(const Directive& d, const std::string& text, ComplexValue& out);
  // A variable name `d` refers to, checked at the end of the file.
  void useVariable(std::string name, const Directive& d);
  // A name `set` or a regex's named group makes known.
  void declareVariable(std::string name) { declared_.insert(std::move(name)); }
  // The first variable used and never declared, as an error; false when there is one.
  bool checkVariables();

 private:
  std::string base_dir_;
  std::string error_;
  std::vector<std::pair<std::string, std::string>> uses_;  // name, file:line
  std::set<std::string> declared_;
};

}  // namespace surge::edge
