// surge-edge's command line, nginx's own (what operators and nginx's test harness type):
//   -p PREFIX   relative paths on this line and in the configuration resolve against PREFIX
//               (without -p: against the configuration file's directory)
//   -c FILE     the configuration (default /etc/surge/surge-edge.conf)
//   -e FILE     the error log until the configuration names one ("stderr": standard error)
//   -g TEXT     directives of the main context, read before the file's
//   -t / -T     check the configuration (-T also prints it); -q only errors while checking
//   -v / -V     version (-V: how it was built, in nginx's words: the modules surge lacks are
//               "--without-..." so that tools which read them know what not to expect)
//   -s SIGNAL   stop | quit | reopen | reload, sent to the pid in the configuration's `pid` file
//   -h          help
#pragma once

#include <string>

#include "surge/base/result.h"

namespace surge::edge {

struct CommandLine {
  std::string prefix;      // "" without -p; else ends with '/'
  std::string config;      // as resolved against the prefix
  std::string error_log;   // "" when -e was not given
  std::string globals;     // -g
  std::string signal;      // -s
  bool test = false;       // -t or -T
  bool dump = false;       // -T
  bool quiet = false;      // -q
  bool version = false;    // -v or -V
  bool configure = false;  // -V
  bool help = false;
};

inline constexpr const char* kDefaultConfigPath = "/etc/surge/surge-edge.conf";

base::Result<CommandLine, std::string> parseCommandLine(int argc, const char* const* argv);

// `path` against the prefix (absolute paths and an empty prefix leave it as it is).
std::string underPrefix(const std::string& prefix, const std::string& path);

const char* commandLineUsage();
// What -v (configure == false) and -V print.
std::string versionText(bool configure);

}  // namespace surge::edge
