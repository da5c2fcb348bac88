// A `server` block and its `location` blocks as nginx has them: servers chosen by the port a
// connection came in on and the request's host name; locations in nginx's matching order (an
// exact `=` location, else the longest prefix, whose nested locations are searched in turn, then
// the regex locations in file order unless the prefix was `^~`).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "surge/edge/autoindex.h"
#include "surge/edge/cdn_headers.h"
#include "surge/edge/exchange.h"
#include "surge/edge/gzip_filter.h"
#include "surge/edge/header_names.h"
#include "surge/edge/http2_push.h"
#include "surge/edge/keep_alive.h"
#include "surge/edge/limit_rate.h"
#include "surge/edge/log_format.h"
#include "surge/edge/origin_forwarder.h"
#include "surge/edge/real_ip.h"
#include "surge/edge/request_body_files.h"
#include "surge/edge/request_limits.h"
#include "surge/edge/static_files.h"
#include "surge/edge/variables.h"
#include "surge/http/access_rules.h"
#include "surge/nginx_compat/regex.h"

namespace surge::edge {

// add_header with a value that may hold variables (evaluated per answer).
struct AddHeaderRule {
  std::string name;
  ComplexValue value;
  bool always = false;
};

// How a Location that starts with '/' is written (nginx's absolute_redirect,
// server_name_in_redirect, port_in_redirect).
struct RedirectStyle {
  bool absolute = true;
  bool server_name = false;  // the server's first name instead of the request's Host
  bool port = true;          // the port, unless it is the scheme's own
};

// `return CODE [TEXT|URL]` / `return URL` (the rewrite module's, see return_handler.h).
struct ReturnAction {
  int code = 0;  // 0: none
  ComplexValue text;
  bool has_text = false;
};

// The rewrite module's directives (return, rewrite, set, break, if), run in file order before a
// location's content (and, at server level, before the location is looked up). See rewrite.h.
struct RewriteCondition {
  enum class Op {
    kTrue,  // "$var": not empty and not "0"
    kEqual,
    kNotEqual,
    kMatch,  // ~ ~* !~ !~* (negate)
    kFile,   // -f -d -e -x and their "!" forms (negate)
    kDirectory,
    kExists,
    kExecutable,
  };
  Op op = Op::kTrue;
  bool negate = false;
  ComplexValue left;
  ComplexValue right;                                // = and !=
  std::shared_ptr<const nginx_compat::Regex> regex;  // ~
};

struct RewriteStep {
  enum class Kind { kReturn, kRewrite, kSet, kBreak, kIf };
  Kind kind = Kind::kReturn;
  ReturnAction answer;  // kReturn
  // kRewrite: rewrite REGEX REPLACEMENT [last|break|redirect|permanent]
  enum class Flag { kNone, kLast, kBreak, kRedirect, kPermanent };
  std::shared_ptr<const nginx_compat::Regex> regex;
  ComplexValue replacement;
  Flag flag = Flag::kNone;
  std::string name;  // kSet: the variable
  ComplexValue value;
  RewriteCondition condition;  // kIf
  std::vector<RewriteStep> body;
};

// `error_page CODE ... [=[CODE]] URI|URL|@NAME;`: what an error answer of this location becomes.
struct ErrorPage {
  std::vector<int> codes;
  int status = -1;  // -1: keep the error's code; 0: "=" (the page's own); else "=CODE"
  ComplexValue target;
};

// `try_files FILE ... URI|=CODE|@NAME;`
struct TryFiles {
  std::vector<ComplexValue> files;  // "$uri", "$uri/" (a directory), "/static.html"
  ComplexValue fallback;            // a URI or @name to redirect to, or "=404"
};

// `proxy_set_header NAME VALUE;` (the value may hold variables; empty: the header is not sent).
struct ProxySetHeader {
  std::string name;
  ComplexValue value;
};

struct FastcgiParam {
  std::string name;
  ComplexValue value;
  bool if_not_empty = false;
};

// What a location takes from the levels around it (http, server, an outer location) unless it
// sets its own: nginx's merge of location configurations. The loader carries one per level.
struct LocationSettings {
  StaticLocation files;  // root/alias, index, if_modified_since, expires, add_header (literal)
  // allow/deny (nginx): the location's own, or else its server's (or else the http block's).
  http::AccessRules access;
  // add_header lines whose values hold variables (those without are in files.add_headers).
  std::vector<AddHeaderRule> add_header_rules;
  bool add_headers_vary = false;  // add_header_rules is what applies (some value has a variable)
  // client_max_body_size of the location (inherited from its server and the http block): a
  // larger request body is refused 413 once the location is found, as nginx does. 0: no limit
  // of its own. Bodies are read before routing, up to the largest limit in the file
  // (ParseLimits::max_body), which also bounds a location's 0.
  uint64_t max_body = 0;
  // add_trailer: fields sent after the body of the answers add_header would take (`always`: all),
  // evaluated when the answer is given. Empty values are not sent.
  std::vector<AddHeaderRule> add_trailer_rules;
  RedirectStyle redirect;
  // `index NAME ...` (files) in order; a name may hold variables, the last may be a path from the
  // root ("/index.html"). Empty: files.index alone.
  std::vector<ComplexValue> index;
  std::vector<ErrorPage> error_pages;
  std::vector<LimitReq> limit_req;
  int limit_req_status = 503;
  std::vector<LimitConn> limit_conn;
  int limit_conn_status = 503;
  // `expires $variable` (`modified` with it): evaluated per answer (text() empty: none).
  ComplexValue expires_var;
  bool expires_var_modified = false;
  // `root` or `alias` with variables (a regex location's captures, $host, ...): evaluated per
  // request into files.root, or files.alias when `path_var_alias` (text() empty: none).
  ComplexValue path_var;
  bool path_var_alias = false;
  // path_var as `exchange` makes it (a root without its trailing '/', as a literal root is kept).
  std::string evaluatedPath(const Exchange& exchange) const;
  KeepAlive keep_alive;  // keepalive_requests, keepalive_timeout, keepalive_time, keepalive_disable
  std::vector<AccessLogRule> access_logs;  // access_log (empty: off)
  ProxyTimeouts proxy_timeouts;            // proxy_connect/send/read_timeout (negative: origin's)
  NextUpstream next_upstream;              // proxy_next_upstream, proxy_next_upstream_tries
  // proxy_intercept_errors: an upstream's answer of 300 or more that error_page names is
  // replaced by that page, as the location's own would be.
  bool proxy_intercept_errors = false;
  // proxy_set_header: a level with its own replaces the inherited.
  std::vector<ProxySetHeader> proxy_set_headers;
  // fastcgi_param (likewise; `if_not_empty`: not sent when empty) and
  // fastcgi_pass_request_headers (each request header also goes as HTTP_NAME).
  std::vector<FastcgiParam> fastcgi_params;
  bool fastcgi_pass_request_headers = true;
  GzipSettings gzip;             // gzip on and its gzip_* tuning
  AutoindexSettings autoindex;   // autoindex on: directories without an index are listed
  HeaderNameRules header_names;  // ignore_invalid_headers, underscores_in_headers (http, server)
  LimitRate limit_rate;          // limit_rate, limit_rate_after
  CdnSettings cdn;               // surge_cdn_max_age, surge_cache_tags, surge_cache_tag
  RequestBodySettings request_body;  // client_body_in_file_only, client_body_temp_path, ...
  uint32_t http2_chunk_size = 0;     // http2_chunk_size (0: 16 KiB, http::Response's)
  Http2Push http2_push;              // http2_push, http2_push_preload, max pushes
  RealIpSettings real_ip;            // set_real_ip_from, real_ip_header, real_ip_recursive
};

struct Location : LocationSettings {
  // kStatus (`surge_status`): the location /healthz, /readyz and /metrics answer under, with its
  // allow/deny rules.
  enum class Kind { kStatic, kSnapshots, kProxy, kQueue, kStatus, kNotFound };
  enum class Match { kPrefix, kExact, kPrefixNoRegex, kRegex };
  Match match = Match::kPrefix;
  std::string prefix;  // the prefix, the exact path, or the regex's source
  bool exact = false;  // "location = /path" (match == kExact)
  std::shared_ptr<const nginx_compat::Regex> regex;  // kRegex (`~`, or `~*` caseless)
  std::vector<Location> nested;                      // locations inside this one
  Kind kind = Kind::kNotFound;
  std::string where;  // file:line, for messages
  // `surge_ops`: operators only (HTTP Basic with an admin key id and its hex secret); files from
  // root, plus /ops/metrics/edge and /ops/metrics/origin.
  bool ops = false;
  std::vector<RewriteStep> rewrites;  // the rewrite module's directives, in order
  TryFiles try_files;                 // files empty: none
  // proxy_pass with a URI part ("http://origin/v2/"): what replaces the location's prefix in
  // the path sent to origin (nginx's rule); empty without one.
  std::string proxy_uri;
  // The upstream (or HOST:PORT) proxy_pass names, and which one it is: 0 the origin
  // (EdgeConfig::origin), N EdgeConfig::upstreams[N - 1].
  std::string proxy_target;
  int upstream = 0;
  bool internal = false;  // `internal`: reached by internal redirects only
  // A proxy location whose prefix ends in '/': its path without the slash is redirected there
  // (nginx's auto_redirect).
  bool auto_redirect = false;
  // A file location with surge_pull_through: EdgeConfig::pulls[pull] fetches what its root lacks
  // (-1: none).
  int pull = -1;
  StaticLocation pull_files;  // `files` with the pull cache's directory as root (pull >= 0)
  // Whether a file answer needs this request's own copy of `files` (add_header or expires with
  // variables).
  bool filesVary() const {
    return add_headers_vary || !expires_var.text().empty() || !path_var.text().empty();
  }
};

struct VirtualServer {
  std::vector<int> ports;              // the ports it listens on (the TLS one included)
  std::vector<int> default_ports;      // those where it is the default server
  std::vector<std::string> addresses;  // "address|port" of each listen (duplicates are refused)
  // server_name: exact names (lowercase), "*.example.com" / "example.*" wildcards, and regexes;
  // the first name given is $server_name.
  std::string first_name;
  std::vector<std::string> exact_names;
  std::vector<std::string> leading_wildcards;   // ".example.com" (for "*.example.com")
  std::vector<std::string> trailing_wildcards;  // "www.example." (for "www.example.*")
  std::vector<std::shared_ptr<const nginx_compat::Regex>> regex_names;
  std::vector<Location> locations;    // in file order
  std::vector<Location> named;        // `location @name`: reached by try_files and error_page only
  std::vector<RewriteStep> rewrites;  // the server's own rewrite directives (before lookup)
  std::string where;                  // file:line of `server`
  http::AccessRules access;
  KeepAlive keep_alive;  // for what no location answers
  HeaderNameRules header_names;
  std::vector<AccessLogRule> access_logs;  // likewise

  // nginx's location lookup for `uri` (the decoded, normalized path): the location, or nullptr.
  // Regex captures of the match go into `exchange` (captures and named variables).
  const Location* find(std::string_view uri, Exchange* exchange) const;
  // `location @name`, or nullptr.
  const Location* findNamed(std::string_view name) const;
};

// Which server answers a request that came in on `port` for `host` (lowercase, no port): the
// one whose server_name matches (exact, then the longest leading wildcard, the longest trailing
// wildcard, then the regexes in file order), else the default server of the port. Captures of a
// regex name go into `exchange`.
const VirtualServer* selectServer(const std::vector<VirtualServer>& servers, int port,
                                  std::string_view host, Exchange* exchange);

}  // namespace surge::edge
