#include "surge/edge/edge_config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "surge/base/file.h"
#include "surge/cache/memcached_client.h"
#include "surge/edge/config_reader.h"
#include "surge/edge/handler_directives.h"
#include "surge/edge/http2_directives.h"
#include "surge/edge/proxy_handler.h"
#include "surge/edge/rewrite.h"
#include "surge/edge/static_handler.h"
#include "surge/nginx_compat/config_parser.h"

namespace surge::edge {
namespace {

using nginx_compat::Directive;
using nginx_compat::locationOf;

struct Loader : ConfigReader {
  using ConfigReader::ConfigReader;
  ProxyReader proxy;  // upstream blocks and the origin proxy_pass names
  // What a level (http, server, location) passes to the levels inside it, as nginx merges its
  // location configuration: a level that sets one of these replaces what it would inherit.
  struct Inherited : LocationSettings {
    std::string add_header_where;  // where the nearest add_header stands
  };
  LimitZones limit_zones;                            // limit_req_zone and limit_conn_zone by name
  std::vector<PullSettings> pulls;                   // the pull-through caches, as read
  std::vector<Location>* named_locations = nullptr;  // the server being read
  AccessLogReader logs;                              // log_format and access_log
  Inherited http_level;
  // charset_map FROM TO { XX YY; ... } (single-byte charsets), by "from\nto" in lowercase.
  std::map<std::string, std::string> charset_maps;
  std::string charset_where;  // where the first charset directive stands, for errors
  // Every name a value refers to that is not built in, with where: checked against the names
  // `set` and regex groups declare once the whole file is read (nginx: "unknown variable").
  bool have_plain_port = false;
  std::string ssl_where;  // file:line of ssl_certificate, for errors loading it
  bool have_tls_listen = false;
  // ssl_stapling on staples ssl_stapling_file (surge asks no OCSP responder itself).
  bool stapling_on = false;
  std::string stapling_where, stapling_file;
  std::string listen_where;  // of the "listen ... ssl" directive
  bool http2_http = false;   // "http2 on" in http: every server's listens speak HTTP/2
  // Each server's own client_header_timeout, client_body_timeout, send_timeout and
  // large_client_header_buffers (nginx takes a connection's from the default server of its
  // port), applied once the http block's are known.
  struct PortSettings {
    std::vector<int> ports;
    std::vector<int> default_ports;
    std::optional<std::chrono::milliseconds> head, body, send;
    std::optional<size_t> max_head, max_target;
  };
  std::vector<PortSettings> port_settings;

  // large_client_header_buffers N SIZE: a request line up to SIZE, a head up to N x SIZE.
  bool headerBuffers(const Directive& d, size_t& max_head, size_t& max_target) {
    if (!args(d, 2, 2)) return false;
    uint64_t count = 0;
    if (!number(d, d.args[0], 1, 64, count)) return false;
    auto v = nginx_compat::parseSize(d.args[1]);
    if (!v || v.value() < 256 || v.value() > (1u << 20)) {
      return fail(d, "invalid size \"" + d.args[1] + "\" (256..1m)");
    }
    max_target = v.value();
    max_head = v.value() * count;
    return true;
  }

  // ssl_session_cache off | none | [builtin[:SIZE]] [shared:NAME:SIZE]: OpenSSL's cache of the
  // one process, which every worker shares, is nginx's "shared" already; builtin's SIZE counts
  // sessions, shared's bytes (nginx: about 4,000 sessions a megabyte). Both given: the larger.
  bool sessionCache(const Directive& d, http::TlsOptions& tls) {
    using Cache = http::TlsOptions::SessionCache;
    if (!args(d, 1, 2)) return false;
    if (d.args[0] == "off" || d.args[0] == "none") {
      if (d.args.size() != 1) return fail(d, "invalid session cache \"" + d.args[1] + "\"");
      tls.session_cache = d.args[0] == "off" ? Cache::kOff : Cache::kNone;
      return true;
    }
    long sessions = 0;
    for (const std::string& a : d.args) {
      if (a == "builtin") {
        sessions = std::max(sessions, 20480L);
      } else if (a.starts_with("builtin:")) {
        uint64_t n = 0;
        if (!number(d, a.substr(8), 1, 10'000'000, n)) return false;
        sessions = std::max(sessions, static_cast<long>(n));
      } else if (size_t colon = a.rfind(':'); a.starts_with("shared:") && colon > 7) {
        auto bytes = nginx_compat::parseSize(a.substr(colon + 1));
        if (!bytes || bytes.value() < 8192) {
          return fail(d, "invalid session cache size \"" + a.substr(colon + 1) + "\"");
        }
        sessions = std::max(sessions, static_cast<long>(bytes.value() / 256));
      } else {
        return fail(d, "invalid session cache \"" + a + "\"");
      }
    }
    tls.session_cache = Cache::kStore;
    tls.session_cache_size = sessions;
    return true;
  }

  void portSettings(EdgeConfig& c) {
    std::map<int, bool> by_default;  // port -> set by its default_server (else by the first)
    for (const PortSettings& t : port_settings) {
      for (int port : t.ports) {
        const bool is_default = std::find(t.default_ports.begin(), t.default_ports.end(), port) !=
                                t.default_ports.end();
        auto seen = by_default.find(port);
        if (seen != by_default.end() && (seen->second || !is_default)) continue;
        by_default[port] = is_default;
        http::ServerOptions::PortOptions& o = c.server.portOptions(port);
        o.head_timeout = t.head;
        o.body_timeout = t.body;
        o.send_timeout = t.send;
        o.max_head = t.max_head;
        o.max_target = t.max_target;
      }
    }
  }

  // allow/deny: true when `d` was one (handled), with `rules` extended.
  bool access(const Directive& d, http::AccessRules& rules, bool& handled) {
    handled = d.name == "allow" || d.name == "deny";
    if (!handled) return true;
    if (!args(d, 1, 1)) return false;
    auto added = rules.add(d.name == "allow", d.args[0]);
    if (!added) return fail(d, added.error());
    return true;
  }

  // The file a directive names, read and checked here (for its file:line; the TLS context reads
  // it again when it is made): `check` says what is wrong with its bytes, or "".
  bool checkedFile(const Directive& d, std::string (*check)(const std::string&),
                   std::string& file) {
    if (!args(d, 1, 1)) return false;
    file = resolve(d.args[0]);
    std::optional<std::string> bytes = base::readFile(file);
    if (!bytes) return fail(d, d.name + " " + file + ": cannot read it");
    if (std::string why = check(*bytes); !why.empty()) return fail(d, why);
    return true;
  }

  // ssl_* at http or server level (nginx's names; what surge does not do is an error, not
  // silently ignored).
  bool ssl(const Directive& d, EdgeConfig& c, bool& handled) {
    handled = true;
    const std::string& n = d.name;
    if (n == "ssl_certificate" || n == "ssl_certificate_key") {
      if (!args(d, 1, 1)) return false;
      (n == "ssl_certificate" ? c.tls.certificate : c.tls.key) = resolve(d.args[0]);
      ssl_where = locationOf(d);
    } else if (n == "ssl_protocols") {
      if (!args(d, 1, 4)) return false;
      std::string lowest;
      for (const std::string& v : d.args) {
        if (v == "SSLv3" || v == "SSLv2") {
          return fail(d, "\"" + v + "\" is not supported: surge speaks TLSv1.2 and TLSv1.3 only");
        }
        // TLSv1 and TLSv1.1 (Debian's stock nginx.conf names them): OpenSSL 3 allows them only at
        // security level 0, so Debian's own nginx never negotiates them either. Accepted and not
        // offered, as there; a list of only those is refused (nothing would be left).
        if (v == "TLSv1" || v == "TLSv1.1") continue;
        if (v != "TLSv1.2" && v != "TLSv1.3") return fail(d, "unknown protocol \"" + v + "\"");
        if (lowest.empty() || v < lowest) lowest = v;
      }
      if (lowest.empty()) {
        return fail(d, "surge speaks TLSv1.2 and TLSv1.3 only: name at least one of them");
      }
      c.tls.min_version = lowest;
    } else if (n == "ssl_ciphers") {
      if (!args(d, 1, 1)) return false;
      c.tls.ciphers = d.args[0];
    } else if (n == "ssl_prefer_server_ciphers") {
      if (!args(d, 1, 1)) return false;
      if (d.args[0] != "on") return fail(d, "surge always prefers the server's cipher order");
    } else if (n == "ssl_session_tickets") {
      if (!onOff(d, c.tls.tickets)) return false;
    } else if (n == "ssl_session_ticket_key") {
      std::string file;
      if (!checkedFile(d, &http::checkTicketKey, file)) return false;
      c.tls.ticket_keys.push_back(file);
    } else if (n == "ssl_session_timeout") {
      std::chrono::milliseconds t{0};
      if (!duration(d, t)) return false;
      c.tls.session_timeout_s = static_cast<int>(std::max<int64_t>(1, t.count() / 1000));
    } else if (n == "ssl_session_cache") {
      if (!sessionCache(d, c.tls)) return false;
    } else if (n == "ssl_stapling") {
      if (!onOff(d, stapling_on)) return false;
      stapling_where = locationOf(d);
    } else if (n == "ssl_stapling_file") {
      if (!checkedFile(d, &http::checkOcspResponse, stapling_file)) return false;
    } else if (n == "ssl_stapling_verify") {
      // The file is checked to be a successful OCSP response when it is read; surge asks no
      // responder, so there is nothing more to verify.
      bool ignored = false;
      if (!onOff(d, ignored)) return false;
    } else {
      handled = false;
    }
    return true;
  }

  bool main(const std::vector<Directive>& top, EdgeConfig& c) {
    bool have_http = false;
    std::set<std::string> seen;  // main directives nginx takes once
    for (const Directive& d : top) {
      if ((d.name == "pid" || d.name == "daemon" || d.name == "user" ||
           d.name == "worker_processes" || d.name == "worker_rlimit_nofile") &&
          !seen.insert(d.name).second) {
        return fail(d, "\"" + d.name + "\" directive is duplicate");
      }
      if (d.name == "pid") {
        if (!args(d, 1, 1)) return false;
        c.pid_file = d.args[0] == "off" ? "" : resolve(d.args[0]);
      } else if (d.name == "daemon") {
        if (!args(d, 1, 1)) return false;
        if (d.args[0] != "on" && d.args[0] != "off") {
          return fail(d, "invalid value \"" + d.args[0] + "\" in \"daemon\" (on or off)");
        }
        c.daemon = d.args[0] == "on";
      } else if (d.name == "error_log") {
        if (!errorLog(d, c)) return false;
      } else if (d.name == "user") {
        // nginx switches to this user only when started as root; surge-edge runs as whom systemd
        // (User=) or the operator starts it, and never switches.
        if (!args(d, 1, 2)) return false;
      } else if (d.name == "worker_rlimit_nofile") {
        if (!args(d, 1, 1)) return false;
        if (!number(d, d.args[0], 1, 1u << 24, c.rlimit_nofile)) return false;
      } else if (d.name == "worker_processes") {
        if (!args(d, 1, 1)) return false;
        if (d.args[0] == "auto") {
          c.server.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
        } else {
          uint64_t n = 0;
          if (!number(d, d.args[0], 1, 256, n)) return false;
          c.server.workers = static_cast<int>(n);
        }
      } else if (d.name == "events") {
        if (!block(d)) return false;
        for (const Directive& e : d.block) {
          if (e.name == "worker_connections") {
            if (!args(e, 1, 1)) return false;
            uint64_t n = 0;
            if (!number(e, e.args[0], 1, 1000000, n)) return false;
            c.server.max_connections = n;
          } else if (e.name == "use" || e.name == "multi_accept") {
            if (!args(e, 1, 1)) return false;  // libevent picks epoll; accepted for nginx files
          } else {
            return fail(e, "unknown directive \"" + e.name + "\" in events");
          }
        }
      } else if (d.name == "load_module") {
        // nginx's dynamic modules (Debian's modules-enabled/*.conf: geoip, image-filter, perl,
        // xslt, mail, stream): surge loads none. Accepted so that the stock nginx.conf reads;
        // a directive of such a module is still an unknown directive where it is used.
        if (!args(d, 1, 1)) return false;
      } else if (d.name == "http") {
        if (!block(d)) return false;
        if (have_http) return fail(d, "\"http\" directive is duplicate");
        have_http = true;
        if (!http(d.block, c)) return false;
      } else {
        return fail(d, "unknown directive \"" + d.name + "\"");
      }
    }
    if (!have_http) {
      return failAt(c.path, "no \"http\" block");
    }
    return true;
  }

  // error_page CODE ... [=[CODE]] URI: a level with its own replaces what it inherits.
  bool errorPages(const std::vector<Directive>& block_in, Inherited& level) {
    std::vector<ErrorPage> own;
    for (const Directive& d : block_in) {
      if (d.name != "error_page") continue;
      if (d.args.size() < 2 || d.has_block) return args(d, 2, 2);
      ErrorPage page;
      size_t last = d.args.size() - 1;
      for (size_t i = 0; i < last; ++i) {
        const std::string& a = d.args[i];
        if (a[0] == '=') {
          if (i + 1 != last) return fail(d, "invalid value \"" + a + "\"");
          if (a.size() == 1) {
            page.status = 0;
          } else {
            uint64_t code = 0;
            if (!number(d, a.substr(1), 100, 599, code)) return false;
            page.status = static_cast<int>(code);
          }
          continue;
        }
        uint64_t code = 0;
        auto [p, ec] = std::from_chars(a.data(), a.data() + a.size(), code);
        if (ec != std::errc() || p != a.data() + a.size() || code < 300 || code > 599) {
          return fail(d, "value \"" + a + "\" must be between 300 and 599");
        }
        page.codes.push_back(static_cast<int>(code));
      }
      if (page.codes.empty()) return fail(d, "invalid number of arguments in \"error_page\"");
      if (!complexValue(d, d.args[last], page.target)) return false;
      own.push_back(std::move(page));
    }
    if (!own.empty()) level.error_pages = std::move(own);
    return true;
  }

  // try_files FILE ... URI|=CODE|@NAME.
  // add_header / add_trailer NAME VALUE [always].
  bool headerRule(const Directive& d, AddHeaderRule& rule) {
    if (d.has_block || d.args.size() < 2 || d.args.size() > 3) return args(d, 2, 3);
    const std::string in = " in \"" + d.name + "\"";
    if (d.args.size() == 3 && d.args[2] != "always") {
      return fail(d, "invalid parameter \"" + d.args[2] + "\"" + in + " (always)");
    }
    for (unsigned char ch : d.args[0]) {
      if (ch <= 0x20 || ch >= 0x7f ||
          std::string_view("()<>@,;:\\\"/[]?={}").find(static_cast<char>(ch)) !=
              std::string_view::npos)
        return fail(d, "invalid header name \"" + d.args[0] + "\"" + in);
    }
    if (d.args[0].empty()) return fail(d, "empty header name" + in);
    for (unsigned char ch : d.args[1]) {
      if (ch < 0x20 && ch != '\t')
        return fail(d, "control character in the value of \"" + d.name + "\"");
    }
    rule = AddHeaderRule{d.args[0], {}, d.args.size() == 3};
    return complexValue(d, d.args[1], rule.value);
  }

  bool addHeader(const Directive& d, Inherited& level) {
    AddHeaderRule rule;
    if (!headerRule(d, rule)) return false;
    if (!rule.value.isLiteral()) level.add_headers_vary = true;
    level.files.add_headers.push_back(AddHeader{d.args[0], d.args[1], rule.always});
    level.add_header_rules.push_back(std::move(rule));
    return true;
  }

  // The add_header lines of one level, and its add_trailer lines: each replace the inherited
  // ones of their kind (nginx's rule).
  bool addHeaders(const std::vector<Directive>& block_in, Inherited& level) {
    Inherited own;
    std::string where;
    std::vector<AddHeaderRule> trailers;
    for (const Directive& d : block_in) {
      if (d.name == "add_trailer") {
        if (!headerRule(d, trailers.emplace_back())) return false;
        continue;
      }
      if (d.name != "add_header") continue;
      if (where.empty()) where = locationOf(d);
      if (!addHeader(d, own)) return false;
    }
    if (!own.add_header_rules.empty()) {
      level.files.add_headers = std::move(own.files.add_headers);
      level.add_header_rules = std::move(own.add_header_rules);
      level.add_headers_vary = own.add_headers_vary;
      level.add_header_where = where;
    }
    if (!trailers.empty()) level.add_trailer_rules = std::move(trailers);
    return true;
  }

  // allow/deny of one level: they replace the inherited ones.
  bool accessRules(const std::vector<Directive>& block_in, Inherited& level) {
    http::AccessRules own;
    for (const Directive& d : block_in) {
      bool handled = false;
      if (!access(d, own, handled)) return false;
    }
    if (!own.empty()) level.access = std::move(own);
    return true;
  }

  // The directives every level (http, server, location) may set for the levels inside it. True
  // in `handled` when `d` was one of them.
  // The http-level settings of each kind of location, read beside its handler.
  bool handlerDirective(const Directive& d, EdgeConfig& c, bool& taken) {
    for (auto read :
         {readSnapshotDirective, readQueueDirective, readOpsDirective, readOriginDirective}) {
      if (!read(*this, d, c, taken)) return false;
      if (taken) return true;
    }
    return true;
  }

  bool inheritable(const Directive& d, Inherited& level, bool& handled) {
    handled = true;
    if (bool files = false; !readFileDirective(*this, d, level, files) || files) {
      return error().empty();
    } else if (d.name == "client_max_body_size") {
      uint64_t v = 0;
      if (!size(d, v)) return false;
      level.max_body = v;
      return true;
    } else if (d.name == "http2_chunk_size") {
      // nginx's size of an answer's DATA frames (http, server, location), within the client's
      // SETTINGS_MAX_FRAME_SIZE.
      uint64_t v = 0;
      if (!size(d, v)) return false;
      if (v == 0 || v > (1u << 24) - 1) return fail(d, "the chunk size must be between 1 and 16m");
      level.http2_chunk_size = static_cast<uint32_t>(v);
      return true;
    } else if (d.name == "absolute_redirect" || d.name == "server_name_in_redirect" ||
               d.name == "port_in_redirect") {
      bool on = false;
      if (!onOff(d, on)) return false;
      (d.name == "absolute_redirect"         ? level.redirect.absolute
       : d.name == "server_name_in_redirect" ? level.redirect.server_name
                                             : level.redirect.port) = on;
    } else if (d.name.starts_with("limit_req") || d.name.starts_with("limit_conn")) {
      // limit_req and limit_conn themselves: taken by limits() for the whole level.
      if (d.name == "limit_req" || d.name == "limit_conn") return true;
      return LimitZones::levelDirective(*this, d, level.limit_req_status, level.limit_conn_status,
                                        handled);
    } else if (d.name == "log_not_found") {
      // surge-edge writes no message per request (a 404 is in the access log only): nothing to
      // turn off. Accepted for nginx files, as documented in edge/CONFIG.md.
      bool on = false;
      return onOff(d, on);
    } else if (d.name.starts_with("autoindex")) {
      if (!readAutoindexDirective(*this, d, level.autoindex, handled)) return false;
    } else if (d.name.starts_with("gzip")) {
      if (!readGzipDirective(*this, d, level.gzip, handled)) return false;
    } else if (bool body = false; !readRequestBodyDirective(*this, d, level.request_body, body)) {
      return false;
    } else if (body) {
      return true;
    } else if (d.name.starts_with("proxy_")) {
      if (!readProxyDirective(*this, d, level, handled)) return false;
    } else if (bool fcgi = false; !readFastcgiDirective(*this, d, level, fcgi)) {
      return false;
    } else if (fcgi) {
      return true;
    } else if (d.name == "limit_rate" || d.name == "limit_rate_after") {
      return readLimitRateDirective(*this, d, level.limit_rate, handled);
    } else if (d.name.starts_with("surge_cdn_") || d.name.starts_with("surge_cache_tag")) {
      return readCdnDirective(*this, d, level.cdn, handled);
    } else if (d.name == "ignore_invalid_headers" || d.name == "underscores_in_headers") {
      return readHeaderNameDirective(*this, d, level.header_names, handled);
    } else if (d.name == "server_tokens") {
      // surge names no version in its Server header or error pages (nginx's "off"), whatever
      // this says: accepted for nginx files.
      if (!args(d, 1, 1)) return false;
      if (d.args[0] != "on" && d.args[0] != "off" && d.args[0] != "build") {
        return fail(d, "invalid value \"" + d.args[0] + "\"");
      }
    } else if (d.name.starts_with("keepalive_")) {
      return readKeepAlive(*this, d, level.keep_alive, handled);
    } else if (d.name == "add_header" || d.name == "add_trailer" || d.name == "allow" ||
               d.name == "deny" || d.name == "error_page" || d.name == "access_log" ||
               d.name == "http2_push" || d.name == "http2_push_preload" ||
               d.name == "http2_max_concurrent_pushes" || isRealIpDirective(d)) {
      // Taken by addHeaders / accessRules / errorPages / readHttp2Pushes / readRealIp for the
      // whole level.
    } else {
      handled = false;
    }
    return true;
  }

  static std::string lowercase(std::string s) {
    for (char& ch : s)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  }

  // charset_map FROM TO { XX YY; }: a byte of FROM (hex) and the byte of TO it becomes.
  bool charsetMap(const Directive& d) {
    if (d.args.size() != 2) return fail(d, "invalid number of arguments in \"charset_map\"");
    if (!block(d)) return false;
    std::string table(256, '\0');
    for (int b = 0; b < 256; ++b)
      table[static_cast<size_t>(b)] = static_cast<char>(b);
    for (const Directive& e : d.block) {
      auto hex = [&](const std::string& t, unsigned& out) {
        if (t.size() != 2) return false;
        auto [p, ec] = std::from_chars(t.data(), t.data() + 2, out, 16);
        return ec == std::errc() && p == t.data() + 2;
      };
      unsigned from = 0, to = 0;
      if (e.args.size() != 1 || e.has_block || !hex(e.name, from)) {
        return fail(e, "invalid charset_map entry (\"XX YY;\" in hex)");
      }
      if (!hex(e.args[0], to)) {
        return fail(e,
                    "only single-byte charsets are supported in \"charset_map\" (utf-8 "
                    "maps not yet)");
      }
      table[from] = static_cast<char>(to);
    }
    charset_maps[lowercase(d.args[0]) + "\n" + lowercase(d.args[1])] = table;
    // The reverse direction, as nginx derives it.
    std::string reverse(256, '\0');
    for (int b = 0; b < 256; ++b)
      reverse[static_cast<size_t>(b)] = static_cast<char>(b);
    for (int b = 0; b < 256; ++b) {
      unsigned char to = static_cast<unsigned char>(table[static_cast<size_t>(b)]);
      if (to != b) reverse[to] = static_cast<char>(b);
    }
    charset_maps.emplace(lowercase(d.args[1]) + "\n" + lowercase(d.args[0]), reverse);
    return true;
  }

  // A location's recoding table, from its charset and source_charset.
  bool charsetRecode(const std::string& where, StaticLocation& files) {
    files.recode.reset();
    if (files.charset.empty() || files.source_charset.empty() ||
        lowercase(files.charset) == lowercase(files.source_charset)) {
      return true;
    }
    auto it = charset_maps.find(lowercase(files.source_charset) + "\n" + lowercase(files.charset));
    if (it == charset_maps.end()) {
      return failAt(where, "no \"charset_map\" between \"" + files.source_charset + "\" and \"" +
                               files.charset + "\"");
    }
    files.recode = std::make_shared<const std::string>(it->second);
    return true;
  }

  // error_log FILE [LEVEL]: FILE, or stderr; the level is accepted (nginx's eight) and every
  // message surge-edge writes goes to the file.
  bool errorLog(const Directive& d, EdgeConfig& c) {
    if (!args(d, 1, 2)) return false;
    static const std::set<std::string> levels = {"debug", "info", "notice", "warn",
                                                 "error", "crit", "alert",  "emerg"};
    if (d.args.size() == 2 && !levels.count(d.args[1]))
      return fail(d, "invalid log level \"" + d.args[1] + "\"");
    if (d.args[0].rfind("syslog:", 0) == 0 || d.args[0].rfind("memory:", 0) == 0)
      return fail(d, "only a file or stderr is supported in \"error_log\"");
    c.error_log = d.args[0] == "stderr" ? "" : resolve(d.args[0]);
    return true;
  }

  // error_log in a server or location: nginx writes that block's per-request errors there;
  // surge-edge writes no per-request messages (404s and the like are in the access log), so the
  // file is checked and nothing goes to it. The process's messages go to the main error_log.
  bool levelErrorLog(const Directive& d) {
    EdgeConfig ignored;
    return errorLog(d, ignored);
  }

  // Directives of nginx's that have no meaning in surge-edge (an origin's answer is held in
  // memory, and so is a request body, in one buffer, up to client_max_body_size; only
  // client_body_temp_path has a meaning, request_body_files.h): accepted with their arguments
  // checked for count only, and listed in edge/CONFIG.md.
  // Likewise nginx's tuning of its own memory pools and hash tables (surge's tables size
  // themselves) and of its open-file cache (surge-edge's is always on, revalidated every second).
  bool withoutMeaning(const Directive& d, bool& handled) {
    static const std::set<std::string> names = {"proxy_temp_path",
                                                "proxy_max_temp_file_size",
                                                "proxy_temp_file_write_size",
                                                "client_body_in_single_buffer",
                                                "fastcgi_temp_path",
                                                "uwsgi_temp_path",
                                                "scgi_temp_path",
                                                "connection_pool_size",
                                                "request_pool_size",
                                                "server_names_hash_bucket_size",
                                                "server_names_hash_max_size",
                                                "variables_hash_bucket_size",
                                                "variables_hash_max_size",
                                                "types_hash_bucket_size",
                                                "types_hash_max_size",
                                                "proxy_headers_hash_bucket_size",
                                                "proxy_headers_hash_max_size",
                                                "open_file_cache",
                                                "open_file_cache_valid",
                                                "open_file_cache_min_uses",
                                                "open_file_cache_errors",
                                                "client_header_buffer_size",
                                                "output_buffers",
                                                "postpone_output",
                                                "proxy_buffer_size",
                                                "proxy_buffers",
                                                "proxy_busy_buffers_size",
                                                "lingering_close",
                                                "lingering_time",
                                                "lingering_timeout"};
    handled = names.count(d.name) > 0;
    return !handled || args(d, 1, 4);
  }

  bool http(const std::vector<Directive>& block_in, EdgeConfig& c) {
    bool have_server = false;
    // root, index, allow/deny, add_header, ... in http are the servers' defaults, wherever they
    // stand in the block.
    http_level.files.root = resolve("html");  // nginx's default: <prefix>/html
    http_level.request_body.temp_path = resolve("client_body_temp");       // likewise
    http_level.files.precompressed = StaticLocation::Precompressed::kOff;  // gzip_static off
    http_level.max_body = c.server.limits.max_body;  // the default (1m as nginx, 16k for surge)
    for (const Directive& d : block_in) {
      if (d.name == "log_format" && !logs.logFormat(*this, d)) return false;
      // Before the servers, which inherit "http2 on" wherever it stands in the block.
      bool h2 = false;
      if (!readHttp2Directive(*this, d, c.server.http2, http2_http, h2)) return false;
    }
    if (!accessRules(block_in, http_level) || !addHeaders(block_in, http_level) ||
        !errorPages(block_in, http_level) || !readProxySetHeaders(*this, block_in, http_level) ||
        !readFastcgiParams(*this, block_in, http_level) ||
        !readHttp2Pushes(*this, block_in, http_level.http2_push) ||
        !readRealIp(*this, block_in, http_level.real_ip) ||
        !logs.accessLogs(*this, block_in, http_level.access_logs)) {
      return false;
    }
    for (const Directive& d : block_in) {
      bool handled = false;
      if (!inheritable(d, http_level, handled)) return false;
    }
    for (const Directive& d : block_in) {
      if (d.name == "charset_map" && !charsetMap(d)) return false;
      if ((d.name == "limit_req_zone" || d.name == "limit_conn_zone") &&
          !limit_zones.zone(*this, d)) {
        return false;
      }
    }
    if (!limit_zones.limits(*this, block_in, http_level.limit_req, http_level.limit_conn))
      return false;
    // Upstreams first, so that proxy_pass may name one defined further down.
    for (const Directive& d : block_in) {
      if (d.name == "upstream" && !proxy.upstream(*this, d)) return false;
    }
    for (const Directive& d : block_in) {
      const std::string& n = d.name;
      if (n == "upstream") continue;
      bool handled = false;
      if (!withoutMeaning(d, handled)) return false;
      if (handled) continue;
      if (bool inherited = false; !inheritable(d, http_level, inherited)) {
        return false;
      } else if (inherited || n == "charset_map" || n == "limit_req_zone" ||
                 n == "limit_conn_zone" || n == "log_format" || n == "http2" ||
                 n.starts_with("http2_")) {
        continue;  // taken above
      } else if (n == "error_log") {
        if (!errorLog(d, c)) return false;
      } else if (n == "server") {
        if (!block(d)) return false;
        have_server = true;
        if (!server(d, c)) return false;
      } else if (n == "client_max_body_size") {
        // Taken as the locations' default by inheritable() above; the bodies read, below.
      } else if (n == "large_client_header_buffers") {
        if (!headerBuffers(d, c.server.limits.max_head, c.server.limits.max_target)) return false;
      } else if (n == "client_header_timeout") {
        if (!duration(d, c.server.head_timeout)) return false;
      } else if (n == "client_body_timeout") {
        if (!duration(d, c.server.body_timeout)) return false;
      } else if (n == "send_timeout") {
        if (!duration(d, c.server.send_timeout)) return false;
      } else if (n == "allow" || n == "deny") {
        // Taken above.
      } else if (bool taken = false; !handlerDirective(d, c, taken)) {
        return false;
      } else if (taken) {
        continue;
      } else if (n == "sendfile" || n == "tcp_nopush" || n == "tcp_nodelay") {
        if (!args(d, 1, 1)) return false;
        if (d.args[0] != "on") return fail(d, "surge always uses \"" + n + " on\"");
      } else {
        bool handled = false;
        if (!ssl(d, c, handled)) return false;
        if (!handled) return fail(d, "unknown directive \"" + n + "\" in http");
      }
    }
    // The http block's proxy timeouts are also the origin's own (gap reports, the dashboard).
    if (http_level.proxy_timeouts.connect.count() >= 0) {
      c.origin.connect_timeout = http_level.proxy_timeouts.connect;
    }
    if (http_level.proxy_timeouts.read.count() >= 0) {
      c.origin.read_timeout = http_level.proxy_timeouts.read;
    }
    // keepalive_timeout at http level is also what a connection waits before its first answer
    // names one.
    if (http_level.keep_alive.timeout.count() > 0) {
      c.server.idle_timeout = http_level.keep_alive.timeout;
    }
    if (!have_server) {
      return failAt(c.path, "no \"server\" block in http");
    }
    if (!checkVariables()) return false;
    c.access_log_files = logs.files();
    // As nginx (and its -t) does: a log file that cannot be written refuses the configuration
    // before anything runs with it. Checked without creating it: `-t` run as root must not leave
    // a root-owned file the service's user could not open later.
    for (const auto& file : c.access_log_files) {
      const std::string& path = file->path;
      std::string dir = std::filesystem::path(path).parent_path().string();
      bool exists = ::access(path.c_str(), F_OK) == 0;
      if (exists ? ::access(path.c_str(), W_OK) != 0
                 : ::access(dir.empty() ? "." : dir.c_str(), W_OK | X_OK) != 0) {
        return failAt(logs.where(path), "access_log " + path + ": " + std::strerror(errno));
      }
    }
    assignPorts(c);
    portSettings(c);
    // Refusals before routing speak the API's JSON where there is an API, nginx's HTML where the
    // edge serves files only.
    c.server.html_errors = !c.anyLocation([](const Location& l) {
      return l.kind == Location::Kind::kSnapshots || l.kind == Location::Kind::kQueue ||
             l.kind == Location::Kind::kProxy;
    });
    if (c.memcached.empty()) {
      bool snapshots =
          c.anyLocation([](const Location& l) { return l.kind == Location::Kind::kSnapshots; });
      if (snapshots) {
        return failAt(c.path, "a location serves snapshots but \"surge_memcached\" is not set");
      }
    }
    for (const auto& peer : c.ops_peers) {
      if (peer.name == c.name) {
        return failAt(c.path,
                      "the peer \"" + peer.name + "\" has this edge's own name (surge_name)");
      }
    }
    bool ops_location = c.anyLocation([](const Location& l) { return l.ops; });
    if (ops_location && c.ops_keys.empty()) {
      return failAt(c.path, "a location has \"surge_ops\" but \"surge_ops_keys\" is not set");
    }
    bool queue_location =
        c.anyLocation([](const Location& l) { return l.kind == Location::Kind::kQueue; });
    if (c.waiting_room.enabled || queue_location) {
      if (c.memcached.empty() || c.waiting_room.keys.empty() || c.snapshot_keys.empty()) {
        // surge_snapshot_keys verifies the queue state origin seals into memcached.
        return failAt(c.path,
                      "the waiting room needs \"surge_memcached\", \"surge_queue_keys\" and "
                      "\"surge_snapshot_keys\"");
      }
      if (!queue_location || !c.waiting_room.enabled) {
        return failAt(c.path,
                      "\"surge_waiting_room on\" and a location with \"surge_queue\" go together");
      }
    }
    if (!proxy.resolveOrigin(*this, c)) return false;
    c.pulls = pulls;
    // Bodies are read (in memory) before routing: up to the largest any location takes.
    uint64_t largest = http_level.max_body;
    c.forEachLocation([&](const Location& loc) { largest = std::max(largest, loc.max_body); });
    if (largest > 0) c.server.limits.max_body = largest;
    return true;
  }

  // The ports of every server's listen, in the order first seen: the first plain one is the
  // http::Server's port, the others its more_ports; one TLS port.
  std::vector<int> plain_ports;

  void assignPorts(EdgeConfig& c) {
    if (plain_ports.empty()) {
      // No IPv4 listen: 8080, or the port of the first IPv6 one (then also answered on the
      // IPv4 loopback: the http::Server has one primary address).
      plain_ports.push_back(c.server.also_listen.empty() ? c.server.port
                                                         : c.server.also_listen.front().port);
    }
    c.server.port = plain_ports.front();
    c.server.more_ports.assign(plain_ports.begin() + 1, plain_ports.end());
    for (VirtualServer& v : c.servers) {
      if (v.ports.empty()) v.ports.push_back(c.server.port);
    }
  }

  // `listen ... default_server` (or `default`), IPv4 or IPv6: `v` is the default server of
  // `port` (servers are chosen by port, whichever address the connection came in on).
  bool markDefault(const Directive& d, EdgeConfig& c, VirtualServer& v, int port) {
    for (const VirtualServer& other : c.servers) {
      if (&other != &v && std::find(other.default_ports.begin(), other.default_ports.end(), port) !=
                              other.default_ports.end()) {
        return fail(d, "a duplicate default server for " + d.args[0] + " (" + other.where + ")");
      }
    }
    if (std::find(v.default_ports.begin(), v.default_ports.end(), port) == v.default_ports.end())
      v.default_ports.push_back(port);
    return true;
  }

  // The same for an IPv6 listen, whose other parameters are checked where it is read.
  bool ipv6Default(const Directive& d, EdgeConfig& c, VirtualServer& v, int port) {
    bool want = std::find(d.args.begin() + 1, d.args.end(), "default_server") != d.args.end() ||
                std::find(d.args.begin() + 1, d.args.end(), "default") != d.args.end();
    return !want || markDefault(d, c, v, port);
  }

  static bool isTlsPort(const EdgeConfig& c, int port) {
    if (port == c.server.tls_port) return true;
    return std::any_of(c.server.also_listen.begin(), c.server.also_listen.end(),
                       [port](const auto& a) { return a.port == port && a.tls; });
  }

  bool listen(const Directive& d, EdgeConfig& c, VirtualServer& v) {
    if (d.args.empty() || d.has_block) return args(d, 1, 1);
    bool tls = std::find(d.args.begin() + 1, d.args.end(), "ssl") != d.args.end();
    std::string host;
    int port = 0;
    const std::string& text = d.args[0];
    if (!text.empty() && text[0] == '[') {
      // "[::]:80", "[::1]:8080", "[::]" (port 80): an IPv6 address, listened on beside the IPv4
      // one with the same ports' meaning (ipv6only=on, nginx's default).
      size_t close = text.find(']');
      in6_addr a6{};
      if (close == std::string::npos ||
          inet_pton(AF_INET6, text.substr(1, close - 1).c_str(), &a6) != 1) {
        return fail(d, "invalid IPv6 address in \"" + text + "\"");
      }
      uint64_t p = 80;
      if (close + 1 < text.size()) {
        if (text[close + 1] != ':' || !number(d, text.substr(close + 2), 1, 65535, p)) {
          return error().empty() ? fail(d, "invalid port in \"" + text + "\"") : false;
        }
      }
      port = static_cast<int>(p);
      for (size_t i = 1; i < d.args.size(); ++i) {
        const std::string& a = d.args[i];
        if (a == "ipv6only=off") return fail(d, "surge listens with ipv6only=on only");
        if (a != "ssl" && a != "default_server" && a != "default" && a != "reuseport" &&
            a != "ipv6only=on" && a != "http2" && a != "proxy_protocol" &&
            a.rfind("backlog=", 0) != 0) {
          return fail(d, "unsupported listen parameter \"" + a + "\"");
        }
        if (a == "http2") markHttp2(c.server, port, tls);
        if (a == "proxy_protocol") c.server.portOptions(port).proxy_protocol = true;
      }
      std::string key = text.substr(1, close - 1) + "|" + std::to_string(port);
      if (std::find(v.addresses.begin(), v.addresses.end(), key) != v.addresses.end()) {
        return fail(d, "duplicate listen " + text);
      }
      v.addresses.push_back(key);
      for (const auto& other : c.server.also_listen) {
        if (other.port == port && other.host == text.substr(1, close - 1)) {
          if (other.tls != tls) return fail(d, "the plain and the TLS listen need different ports");
          if (std::find(v.ports.begin(), v.ports.end(), port) == v.ports.end())
            v.ports.push_back(port);
          return ipv6Default(d, c, v, port);
        }
      }
      c.server.also_listen.push_back({text.substr(1, close - 1), port, tls});
      if (std::find(v.ports.begin(), v.ports.end(), port) == v.ports.end()) v.ports.push_back(port);
      return ipv6Default(d, c, v, port);
    }
    if (!hostPort(d, text, host, port)) return false;
    // One IPv4 address for every listener (served by the same workers), one TLS port.
    if ((have_plain_port || have_tls_listen) && host != c.server.host) {
      return fail(d, "every listen must use the same address (" + c.server.host + ")");
    }
    c.server.host = host;
    if (tls) {
      if (have_tls_listen && port != c.server.tls_port) {
        return fail(d, "only one TLS port is supported");
      }
      if (std::find(plain_ports.begin(), plain_ports.end(), port) != plain_ports.end()) {
        // Both would bind (SO_REUSEPORT) and the kernel would deal connections to either.
        return fail(d, "the plain and the TLS listen need different ports");
      }
      c.server.tls_port = port;
      have_tls_listen = true;
      listen_where = locationOf(d);
    } else {
      if (have_tls_listen && port == c.server.tls_port) {
        return fail(d, "the plain and the TLS listen need different ports");
      }
      if (std::find(plain_ports.begin(), plain_ports.end(), port) == plain_ports.end()) {
        plain_ports.push_back(port);
      }
      have_plain_port = true;
    }
    std::string key = host + "|" + std::to_string(port);
    if (std::find(v.addresses.begin(), v.addresses.end(), key) != v.addresses.end()) {
      return fail(d, "duplicate listen " + d.args[0]);
    }
    v.addresses.push_back(key);
    if (std::find(v.ports.begin(), v.ports.end(), port) == v.ports.end()) v.ports.push_back(port);
    for (size_t i = 1; i < d.args.size(); ++i) {
      const std::string& a = d.args[i];
      if (a == "ssl") continue;
      if (a == "http2") {
        markHttp2(c.server, port, tls);
      } else if (a.starts_with("sndbuf=") || a.starts_with("rcvbuf=")) {
        auto v = nginx_compat::parseSize(a.substr(7));
        if (!v || v.value() == 0 || v.value() > (1u << 30)) {
          return fail(d, "invalid " + a.substr(0, 6) + " \"" + a.substr(7) + "\"");
        }
        (a[0] == 's' ? c.server.portOptions(port).sndbuf : c.server.portOptions(port).rcvbuf) =
            static_cast<int>(v.value());
      } else if (a.rfind("backlog=", 0) == 0) {
        uint64_t n = 0;
        if (!number(d, a.substr(8), 1, 1000000, n)) return false;
        c.server.backlog = static_cast<int>(n);
      } else if (a == "default_server" || a == "default") {
        if (!markDefault(d, c, v, port)) return false;
      } else if (a == "reuseport") {
        // surge always listens with SO_REUSEPORT, one socket per worker.
      } else if (a == "proxy_protocol") {
        c.server.portOptions(port).proxy_protocol = true;
      } else {
        return fail(d, "unsupported listen parameter \"" + a + "\"");
      }
    }
    return true;
  }

  // server_name NAME ...: exact, "*.example.com", ".example.com", "www.example.*", "~regex".
  bool serverName(const Directive& d, VirtualServer& v) {
    if (d.args.empty() || d.has_block) return args(d, 1, 1);
    for (const std::string& raw : d.args) {
      if (v.first_name.empty() && v.exact_names.empty() && v.leading_wildcards.empty() &&
          v.trailing_wildcards.empty() && v.regex_names.empty()) {
        // nginx's $server_name: ".example.com" is "example.com".
        v.first_name = raw.size() > 1 && raw[0] == '.' ? raw.substr(1) : raw;
      }
      if (!raw.empty() && raw[0] == '~') {
        // Caseless, as nginx compiles server_name regexes.
        auto regex = nginx_compat::Regex::compile(raw.substr(1), true);
        if (!regex) return fail(d, regex.error());
        for (const auto& [name, group] : regex.value()->names())
          declareVariable(name);
        v.regex_names.push_back(std::move(regex.value()));
        continue;
      }
      std::string name = lowercase(raw);
      if (name.rfind("*.", 0) == 0) {
        v.leading_wildcards.push_back(name.substr(1));
      } else if (name.size() > 1 && name[0] == '.') {
        v.leading_wildcards.push_back("+" + name);
      } else if (name.size() > 2 && name.ends_with(".*")) {
        v.trailing_wildcards.push_back(name.substr(0, name.size() - 1));
      } else if (name.find('*') != std::string::npos) {
        return fail(d, "invalid server name or wildcard \"" + raw + "\"");
      } else {
        v.exact_names.push_back(name);
      }
    }
    return true;
  }

  bool server(const Directive& sd, EdgeConfig& c) {
    VirtualServer v;
    v.where = locationOf(sd);
    const std::vector<Directive>& block_in = sd.block;
    // root, index, allow/deny, add_header, ... of the server: the locations' defaults.
    Inherited level = http_level;
    if (!accessRules(block_in, level) || !addHeaders(block_in, level) ||
        !readProxySetHeaders(*this, block_in, level) ||
        !readFastcgiParams(*this, block_in, level) || !errorPages(block_in, level) ||
        !readHttp2Pushes(*this, block_in, level.http2_push) ||
        !readRealIp(*this, block_in, level.real_ip) ||
        !limit_zones.limits(*this, block_in, level.limit_req, level.limit_conn) ||
        !logs.accessLogs(*this, block_in, level.access_logs)) {
      return false;
    }
    named_locations = &v.named;
    for (const Directive& d : block_in) {
      bool handled = false;
      if (!inheritable(d, level, handled)) return false;
    }
    v.access = level.access;
    v.keep_alive = level.keep_alive;
    v.header_names = level.header_names;
    v.access_logs = level.access_logs;
    bool http2 = http2_http;
    PortSettings timeouts;
    for (const Directive& d : block_in) {
      bool handled = false;
      if (!inheritable(d, level, handled)) return false;
      if (handled) continue;
      if (d.name == "listen") {
        if (!listen(d, c, v)) return false;
      } else if (d.name == "server_name") {
        if (!serverName(d, v)) return false;
      } else if (d.name == "location") {
        if (!location(d, level, v.locations)) return false;
      } else if (d.name == "error_log") {
        if (!levelErrorLog(d)) return false;
      } else if (bool rewrite = false; !readRewriteDirective(*this, d, v.rewrites, rewrite)) {
        return false;
      } else if (rewrite) {
        continue;
      } else if (bool tuning = false; !withoutMeaning(d, tuning)) {
        return false;
      } else if (tuning) {
        continue;
      } else if (bool h2 = false; !readHttp2Directive(*this, d, c.server.http2, http2, h2)) {
        return false;
      } else if (h2) {
        continue;
      } else if (d.name == "client_header_timeout" || d.name == "client_body_timeout" ||
                 d.name == "send_timeout") {
        std::chrono::milliseconds t{0};
        if (!duration(d, t)) return false;
        (d.name == "send_timeout"          ? timeouts.send
         : d.name == "client_body_timeout" ? timeouts.body
                                           : timeouts.head) = t;
      } else if (d.name == "large_client_header_buffers") {
        size_t head = 0, target = 0;
        if (!headerBuffers(d, head, target)) return false;
        timeouts.max_head = head;
        timeouts.max_target = target;
      } else {
        bool taken = false;
        if (!ssl(d, c, taken)) return false;
        if (!taken) return fail(d, "unknown directive \"" + d.name + "\" in server");
      }
    }
    if (http2) {
      for (int port : v.ports)
        markHttp2(c.server, port, isTlsPort(c, port));
    }
    timeouts.ports = v.ports;
    timeouts.default_ports = v.default_ports;
    port_settings.push_back(std::move(timeouts));
    // nginx serves what no location matches from the server's own root: an implicit "location /"
    // with the server's (or http's) root, index, if_modified_since and add_header.
    const bool has_root_location =
        std::any_of(v.locations.begin(), v.locations.end(), [](const Location& l) {
          return l.match != Location::Match::kExact && l.match != Location::Match::kRegex &&
                 l.prefix == "/";
        });
    if (!has_root_location) {
      Location implicit;
      implicit.prefix = "/";
      implicit.kind = Location::Kind::kStatic;
      implicit.where = v.where;
      takeInherited(level, implicit);
      if (!charsetRecode(v.where, implicit.files)) return false;
      v.locations.push_back(std::move(implicit));
    }
    c.servers.push_back(std::move(v));
    return true;
  }

  void takeInherited(const Inherited& level, Location& loc) {
    static_cast<LocationSettings&>(loc) = level;
  }
  bool location(const Directive& d, const Inherited& parent, std::vector<Location>& siblings,
                bool nested = false) {
    if (!block(d)) return false;
    Location loc;
    bool is_named = false;
    loc.where = locationOf(d);
    if (d.args.size() == 2) {
      const std::string& m = d.args[0];
      loc.prefix = d.args[1];
      if (m == "=") {
        loc.match = Location::Match::kExact;
        loc.exact = true;
      } else if (m == "^~") {
        loc.match = Location::Match::kPrefixNoRegex;
      } else if (m == "~" || m == "~*") {
        loc.match = Location::Match::kRegex;
        auto regex = nginx_compat::Regex::compile(loc.prefix, m == "~*");
        if (!regex) return fail(d, regex.error());
        for (const auto& [name, group] : regex.value()->names())
          declareVariable(name);
        loc.regex = std::move(regex.value());
      } else {
        return fail(d, "invalid location modifier \"" + m + "\"");
      }
    } else if (d.args.size() == 1) {
      loc.prefix = d.args[0];
      is_named = loc.prefix[0] == '@';
      if (loc.prefix.size() > 1 && loc.prefix[0] == '~') {
        // nginx's "location ~/path" form.
        bool caseless = loc.prefix.size() > 2 && loc.prefix[1] == '*';
        loc.prefix = loc.prefix.substr(caseless ? 2 : 1);
        loc.match = Location::Match::kRegex;
        auto regex = nginx_compat::Regex::compile(loc.prefix, caseless);
        if (!regex) return fail(d, regex.error());
        loc.regex = std::move(regex.value());
      } else if (loc.prefix.size() > 1 && loc.prefix[0] == '=') {
        loc.prefix = loc.prefix.substr(1);
        loc.match = Location::Match::kExact;
        loc.exact = true;
      }
    } else {
      return fail(d, "invalid number of arguments in \"location\" directive");
    }
    if (is_named) {
      if (nested)
        return fail(d, "named location \"" + loc.prefix + "\" can be on the server level only");
      for (const Location& other : *named_locations) {
        if (other.prefix == loc.prefix) return fail(d, "duplicate location \"" + loc.prefix + "\"");
      }
    } else if (loc.match != Location::Match::kRegex &&
               (loc.prefix.empty() || loc.prefix[0] != '/')) {
      return fail(d, "a location starts with /");
    }
    for (const Location& other : siblings) {
      if (other.prefix == loc.prefix && other.match != Location::Match::kRegex &&
          loc.match != Location::Match::kRegex && other.exact == loc.exact) {
        return fail(d, "duplicate location \"" + loc.prefix + "\"");
      }
    }
    Inherited level = parent;
    if (!accessRules(d.block, level) || !addHeaders(d.block, level) ||
        !readProxySetHeaders(*this, d.block, level) || !readFastcgiParams(*this, d.block, level) ||
        !errorPages(d.block, level) || !readHttp2Pushes(*this, d.block, level.http2_push) ||
        !readRealIp(*this, d.block, level.real_ip) ||
        !limit_zones.limits(*this, d.block, level.limit_req, level.limit_conn) ||
        !logs.accessLogs(*this, d.block, level.access_logs)) {
      return false;
    }
    bool explicit_root = false;
    bool has_alias = false;
    for (const Directive& e : d.block) {
      if (e.name == "ignore_invalid_headers" || e.name == "underscores_in_headers") {
        return fail(e, "\"" + e.name + "\" directive is not allowed here");  // http, server
      }
      bool handled = false;
      if (!inheritable(e, level, handled)) return false;
      if (handled && e.name == "root") {
        if (has_alias) {
          return fail(e,
                      "\"root\" directive is duplicate, \"alias\" directive was specified "
                      "earlier");
        }
        explicit_root = true;
      }
      if (e.name == "alias") {
        if (!args(e, 1, 1)) return false;
        if (explicit_root) {
          return fail(e,
                      "\"alias\" directive is duplicate, \"root\" directive was specified earlier");
        }
        // Nested locations inherit it (with this location's prefix to strip).
        if (e.args[0].find('$') != std::string::npos) {
          if (!readAliasWithVariables(*this, e, level)) return false;
        } else {
          level.path_var = {};
          level.files.alias = resolve(e.args[0]);
        }
        level.files.alias_whole = loc.match == Location::Match::kRegex;
        level.files.alias_prefix = loc.prefix.size();
        has_alias = true;
      }
    }
    takeInherited(level, loc);
    bool is_snap = false, is_proxy = false, is_queue = false, is_status = false;
    PullSettings pull;
    for (const Directive& e : d.block) {
      const std::string& n = e.name;
      bool handled = false;
      if (!inheritable(e, level, handled)) return false;
      if (handled) continue;
      if (n == "location") {
        if (loc.match == Location::Match::kExact) {
          return fail(e, "location \"" + e.args.back() +
                             "\" cannot be inside the exact location \"" + loc.prefix + "\"");
        }
        if (!location(e, level, loc.nested, true)) return false;
        continue;
      }
      if (n == "alias") {
        // Taken above, before the nested locations that inherit it.
      } else if (bool rewrite = false; !readRewriteDirective(*this, e, loc.rewrites, rewrite)) {
        return false;
      } else if (rewrite) {
        continue;
      } else if (n == "error_log") {
        if (!levelErrorLog(e)) return false;
      } else if (bool files = false; !readLocationFileDirective(*this, e, loc, files)) {
        return false;
      } else if (files) {
        continue;
      } else if (bool taken = false; !readPullDirective(*this, e, pull, taken)) {
        return false;
      } else if (taken) {
        continue;
      } else if (n == "surge_snapshots") {
        if (!args(e, 0, 0)) return false;
        is_snap = true;
      } else if (n == "surge_queue") {
        if (!args(e, 0, 0)) return false;
        is_queue = true;
      } else if (n == "surge_ops") {
        if (!args(e, 0, 0)) return false;
        loc.ops = true;
      } else if (n == "surge_status") {
        if (!args(e, 0, 0)) return false;
        is_status = true;
      } else if (n == "fastcgi_pass") {
        if (!proxy.fastcgiPass(*this, e, loc)) return false;
        is_proxy = true;
      } else if (n == "proxy_pass") {
        if (!proxy.proxyPass(*this, e, loc, loc.match == Location::Match::kRegex || is_named))
          return false;
        is_proxy = true;
      } else if (bool tuning = false; !withoutMeaning(e, tuning)) {
        return false;
      } else if (tuning) {
        // nginx takes its buffer, temp-path and open-file-cache tuning per location too; its
        // pools and server-name and variable hashes only above.
        if (n.find("pool_size") != std::string::npos || n.starts_with("server_names_hash") ||
            n.starts_with("variables_hash") || n == "client_header_buffer_size") {
          return fail(e, "\"" + n + "\" directive is not allowed here");
        }
      } else {
        return fail(e, "unknown directive \"" + n + "\" in location");
      }
    }
    if ((explicit_root || has_alias) + is_snap + is_proxy + is_queue + is_status > 1) {
      return fail(d,
                  "a location does one of: root, surge_snapshots, surge_queue, proxy_pass, "
                  "surge_status");
    }
    if (loc.ops && (is_snap || is_proxy || is_queue || is_status)) {
      return fail(d, "\"surge_ops\" goes with files (root) only");
    }
    if (is_status) {
      loc.kind = Location::Kind::kStatus;
    } else if (is_queue) {
      loc.kind = Location::Kind::kQueue;
    } else if (is_snap) {
      loc.kind = Location::Kind::kSnapshots;
    } else if (is_proxy) {
      loc.kind = Location::Kind::kProxy;
      loc.auto_redirect =
          loc.match != Location::Match::kRegex && loc.prefix.size() > 1 && loc.prefix.back() == '/';
    } else {
      loc.kind = Location::Kind::kStatic;
    }
    // add_header in answers surge makes itself (snapshots, the waiting room, status): those carry
    // the API's own headers (a snapshot's Cache-Control is its freshness contract), so it is
    // refused there rather than left without effect. Files, `return` and what origin answers
    // through proxy_pass take it, as in nginx.
    if (!loc.add_header_rules.empty() && loc.kind != Location::Kind::kStatic &&
        loc.kind != Location::Kind::kProxy && !alwaysAnswers(loc.rewrites)) {
      return failAt(level.add_header_where.empty() ? loc.where : level.add_header_where,
                    "\"add_header\" applies to file and proxy locations only; location \"" +
                        loc.prefix + "\" (" + locationOf(d) +
                        ") answers from surge (snapshots carry their own Cache-Control: "
                        "surge_stale_while_revalidate, surge_stale_if_error)");
    }
    if (!pull.origin.empty() || !pull.directory.empty()) {
      if (pull.origin.empty() || pull.directory.empty()) {
        return fail(d, "\"surge_pull_through URL\" and \"surge_pull_cache DIR SIZE\" go together");
      }
      if (loc.kind != Location::Kind::kStatic) {
        return fail(d, "\"surge_pull_through\" goes with files (root) only");
      }
      auto same = std::find_if(pulls.begin(), pulls.end(), [&](const PullSettings& p) {
        return p.directory == pull.directory;
      });
      if (same != pulls.end() && !(*same == pull)) {
        return fail(
            d, "the pull cache " + pull.directory + " is another location's, with other settings");
      }
      if (same == pulls.end()) same = pulls.insert(pulls.end(), pull);
      loc.pull = static_cast<int>(same - pulls.begin());
    }
    if (loc.kind == Location::Kind::kStatic && loc.cdn.any()) {
      // A file location's CDN lines go out as add_header lines do (2xx and 3xx answers).
      std::vector<AddHeader> lines;
      appendCdnAddHeaders(loc.cdn, 0, 0, lines);
      for (const AddHeader& h : lines) {
        loc.files.add_headers.push_back(h);
        loc.add_header_rules.push_back(
            AddHeaderRule{h.name, ComplexValue::literal(h.value), false});
      }
    }
    if (!charsetRecode(loc.where, loc.files)) return false;
    if (!loc.try_files.files.empty() && loc.kind != Location::Kind::kStatic) {
      return fail(d, "\"try_files\" goes with files (root or alias) only");
    }
    if (loc.pull >= 0) {
      // What the pull cache serves: this location's files, rooted at the cache's directory.
      loc.pull_files = loc.files;
      loc.pull_files.root = pulls[static_cast<size_t>(loc.pull)].directory;
      loc.pull_files.alias.clear();
    }
    (is_named ? *named_locations : siblings).push_back(std::move(loc));
    return true;
  }
};

}  // namespace

const Location* EdgeConfig::match(std::string_view path) const {
  return servers.empty() ? nullptr : servers.front().find(path, nullptr);
}

namespace {
bool anyIn(const std::vector<Location>& level, const std::function<bool(const Location&)>& pred) {
  for (const Location& l : level) {
    if (pred(l) || anyIn(l.nested, pred)) return true;
  }
  return false;
}

void eachIn(std::vector<Location>& level, const std::function<void(Location&)>& fn) {
  for (Location& l : level) {
    fn(l);
    eachIn(l.nested, fn);
  }
}
}  // namespace

void EdgeConfig::forEachLocation(const std::function<void(Location&)>& fn) {
  for (VirtualServer& v : servers) {
    eachIn(v.locations, fn);
    eachIn(v.named, fn);
  }
}

bool EdgeConfig::anyLocation(const std::function<bool(const Location&)>& pred) const {
  for (const VirtualServer& v : servers) {
    if (anyIn(v.locations, pred)) return true;
  }
  return false;
}

base::Result<std::shared_ptr<const EdgeConfig>, std::string> loadEdgeConfig(
    const std::string& path, const ConfigSource& source) {
  auto parsed = nginx_compat::parseConfigFile(path);
  if (!parsed) return base::fail(parsed.error());
  std::error_code ec;
  std::string base_dir = std::filesystem::absolute(path, ec).parent_path().string();
  if (!source.prefix.empty()) base_dir = std::filesystem::absolute(source.prefix, ec).string();
  while (base_dir.size() > 1 && base_dir.back() == '/')
    base_dir.pop_back();
  if (!source.globals.empty()) {
    // nginx reads -g before the file; a directive in both is then "duplicate".
    auto globals = nginx_compat::parseConfigText(source.globals, "command line", base_dir);
    if (!globals) return base::fail(globals.error());
    for (const auto& d : globals.value()) {
      if (d.has_block)
        return base::fail(std::string("command line: -g takes main-context directives only"));
    }
    parsed.value().insert(parsed.value().begin(), globals.value().begin(), globals.value().end());
  }
  auto config = std::make_shared<EdgeConfig>();
  config->server.announce_keep_alive = true;  // nginx says "Connection: keep-alive" on HTTP/1.1
  config->path = path;
  config->server.port = 8080;
  config->server.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  config->server.limits.max_body = 16 * 1024;  // bookings are a few hundred bytes
  Loader loader(base_dir);
  if (!loader.main(parsed.value(), *config)) return base::fail(loader.error());
  if (loader.stapling_on) {
    if (loader.stapling_file.empty()) {
      return base::fail(loader.stapling_where +
                        ": \"ssl_stapling on\" needs \"ssl_stapling_file\" (surge asks no "
                        "OCSP responder; fetch the response with `openssl ocsp` and reload)");
    }
    config->tls.stapling_file = loader.stapling_file;
  }
  if (config->server.tls_port >= 0) {
    if (config->server.tls_port == config->server.port) {
      // Also without a plain listen: the plain listener then keeps its default port.
      return base::fail(loader.listen_where + ": the TLS listen needs a port other than the " +
                        "plain one (" + std::to_string(config->server.port) + ")");
    }
    if (config->tls.certificate.empty() || config->tls.key.empty()) {
      return base::fail(loader.listen_where +
                        ": \"listen ... ssl\" needs ssl_certificate and ssl_certificate_key");
    }
    // Read and checked here, so `surge-edge -t` and a SIGHUP with a bad certificate fail before
    // anything changes.
    auto tls = http::TlsContext::load(config->tls);
    if (!tls) return base::fail(loader.ssl_where + ": " + tls.error());
    config->server.tls = std::move(tls.value());
  } else if (!config->tls.certificate.empty() || !config->tls.key.empty()) {
    return base::fail(loader.ssl_where + ": ssl_certificate is set but no \"listen ... ssl\"");
  }
  return std::shared_ptr<const EdgeConfig>(std::move(config));
}

}  // namespace surge::edge
