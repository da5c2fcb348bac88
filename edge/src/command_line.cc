#include "surge/edge/command_line.h"

#include <openssl/opensslv.h>

namespace surge::edge {
namespace {

// The nginx release whose behaviour surge-edge follows (Debian 12's), and surge's own version.
constexpr const char* kNginxCompat = "1.22.1";
constexpr const char* kSurgeVersion = "0.17.0";

// nginx modules surge-edge does not implement. nginx's tools (its test suite's has_module) read
// "--without-X" in -V as "X is not there" and skip what needs it; everything not named here is
// what surge-edge answers for. Remove a name when its module is done.
constexpr const char* kWithout[] = {
    "http_ssi_module",
    "http_userid_module",
    "http_auth_basic_module",
    "http_mirror_module",
    "http_geo_module",
    "http_map_module",
    "http_split_clients_module",
    "http_referer_module",
    "http_uwsgi_module",
    "http_scgi_module",
    "http_grpc_module",
    "http_memcached_module",
    "http_empty_gif_module",
    "http_browser_module",
    "http_upstream_hash_module",
    "http_upstream_ip_hash_module",
    "http_upstream_least_conn_module",
    "http_upstream_random_module",
    "http_upstream_keepalive_module",
    "http_upstream_zone_module",
    "http-cache",
};

}  // namespace

const char* commandLineUsage() {
  return "usage: surge-edge [-?hvVtTq] [-s signal] [-p prefix] [-e filename] [-c filename]\n"
         "                  [-g directives]\n"
         "  -?,-h,--help  this help\n"
         "  -v            show version and exit\n"
         "  -V            show version and configure options (what surge-edge implements)\n"
         "  -t            test the configuration and exit\n"
         "  -T            test the configuration, dump it and exit\n"
         "  -q            suppress non-error messages while testing the configuration\n"
         "  -s signal     send signal to the running surge-edge: stop, quit, reopen, reload\n"
         "  -p prefix     relative paths resolve against prefix (default: the configuration's "
         "directory)\n"
         "  -e filename   the error log until the configuration names one (or \"stderr\")\n"
         "  -c filename   the configuration (default: /etc/surge/surge-edge.conf)\n"
         "  -g directives main-context directives, read before the configuration file\n"
         "Signals: HUP reloads (a bad file keeps the running configuration), QUIT and TERM drain\n"
         "and stop, USR1 reopens the logs. Directives: edge/CONFIG.md.\n";
}

std::string underPrefix(const std::string& prefix, const std::string& path) {
  if (prefix.empty() || path.empty() || path[0] == '/') return path;
  return prefix + path;
}

base::Result<CommandLine, std::string> parseCommandLine(int argc, const char* const* argv) {
  CommandLine line;
  std::string config;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help") {  // not nginx's, but what every other surge program takes
      line.help = true;
      continue;
    }
    if (a.size() < 2 || a[0] != '-') return base::fail("invalid option: \"" + a + "\"");
    // nginx takes flags together ("-tq") and a value attached or as the next argument ("-cfile").
    for (size_t k = 1; k < a.size(); ++k) {
      const char f = a[k];
      std::string* value = nullptr;
      switch (f) {
        case '?':
        case 'h':
          line.help = true;
          continue;
        case 'v':
          line.version = true;
          continue;
        case 'V':
          line.version = line.configure = true;
          continue;
        case 't':
          line.test = true;
          continue;
        case 'T':
          line.test = line.dump = true;
          continue;
        case 'q':
          line.quiet = true;
          continue;
        case 'p':
          value = &line.prefix;
          break;
        case 'c':
          value = &config;
          break;
        case 'e':
          value = &line.error_log;
          break;
        case 'g':
          value = &line.globals;
          break;
        case 's':
          value = &line.signal;
          break;
        default:
          return base::fail("invalid option: \"" + a.substr(k) + "\"");
      }
      if (k + 1 < a.size()) {
        *value = a.substr(k + 1);
      } else if (i + 1 < argc) {
        *value = argv[++i];
      } else {
        return base::fail(std::string("option \"-") + f + "\" requires " +
                          (f == 'p'   ? "directory name"
                           : f == 'g' ? "parameter"
                           : f == 's' ? "parameter"
                                      : "file name"));
      }
      if (value->empty()) return base::fail(std::string("option \"-") + f + "\" is empty");
      break;
    }
  }
  if (!line.signal.empty() && line.signal != "stop" && line.signal != "quit" &&
      line.signal != "reopen" && line.signal != "reload") {
    return base::fail("invalid option: \"-s " + line.signal + "\"");
  }
  if (!line.prefix.empty() && line.prefix.back() != '/') line.prefix += '/';
  line.config = underPrefix(line.prefix, config.empty() ? kDefaultConfigPath : config);
  if (!line.error_log.empty() && line.error_log != "stderr")
    line.error_log = underPrefix(line.prefix, line.error_log);
  return line;
}

std::string versionText(bool configure) {
  std::string text =
      std::string("nginx version: nginx/") + kNginxCompat + " (surge-edge/" + kSurgeVersion + ")\n";
  if (!configure) return text;
  text += "built with " OPENSSL_VERSION_TEXT "\n";
  text +=
      "configure arguments: --prefix=/etc/surge --conf-path=/etc/surge/surge-edge.conf "
      "--with-http_ssl_module --with-http_v2_module --with-http_gzip_static_module "
      "--with-http_realip_module";
  for (const char* m : kWithout) {
    text += " --without-";
    text += m;
  }
  text += "\n";
  return text;
}

}  // namespace surge::edge
