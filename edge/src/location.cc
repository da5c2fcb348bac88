#include "surge/edge/location.h"

#include <algorithm>

namespace surge::edge {
namespace {

// What a lookup at one level found, as nginx's ngx_http_core_find_location returns it.
enum class Found { kNone, kPrefix, kFinal };

// Named groups become variables of the request, as in nginx.
void takeCaptures(const nginx_compat::Regex& regex, nginx_compat::Captures& captures,
                  Exchange* exchange) {
  if (exchange == nullptr) return;
  for (const auto& [name, group] : regex.names()) {
    exchange->setVariable(name, std::string(captures.group(static_cast<size_t>(group))));
  }
  exchange->captures = std::move(captures);
}

Found findIn(const std::vector<Location>& level, std::string_view uri, const Location*& found,
             Exchange* exchange) {
  const Location* best = nullptr;
  for (const Location& l : level) {
    if (l.match == Location::Match::kExact) {
      if (uri == l.prefix) {
        found = &l;
        return Found::kFinal;
      }
    } else if (l.match != Location::Match::kRegex && uri.starts_with(l.prefix) &&
               (best == nullptr || l.prefix.size() > best->prefix.size())) {
      best = &l;
    }
  }
  // nginx's auto_redirect: "/auto" for "location /auto/ { proxy_pass ...; }", unless a prefix
  // as long as the path matched.
  if (best == nullptr || best->prefix.size() < uri.size()) {
    for (const Location& l : level) {
      if (l.auto_redirect && l.prefix.size() == uri.size() + 1 && l.prefix.starts_with(uri)) {
        found = &l;
        if (exchange != nullptr) exchange->auto_redirect = true;
        return Found::kFinal;
      }
    }
  }
  Found rc = Found::kNone;
  bool noregex = false;
  if (best != nullptr) {
    found = best;
    rc = Found::kPrefix;
    noregex = best->match == Location::Match::kPrefixNoRegex;
    if (!best->nested.empty()) {
      Found inner = findIn(best->nested, uri, found, exchange);
      if (inner == Found::kFinal) return inner;
    }
  }
  if (noregex) return rc;
  for (const Location& l : level) {
    if (l.match != Location::Match::kRegex) continue;
    nginx_compat::Captures captures;
    if (!l.regex->match(uri, exchange ? &captures : nullptr)) continue;
    takeCaptures(*l.regex, captures, exchange);
    found = &l;
    if (!l.nested.empty()) findIn(l.nested, uri, found, exchange);
    return Found::kFinal;
  }
  return rc;
}

bool servesPort(const std::vector<int>& ports, int port) {
  return std::find(ports.begin(), ports.end(), port) != ports.end();
}

}  // namespace

std::string LocationSettings::evaluatedPath(const Exchange& exchange) const {
  std::string path = path_var.evaluate(exchange);
  if (!path_var_alias) {
    while (path.size() > 1 && path.back() == '/')
      path.pop_back();
  }
  return path;
}

const Location* VirtualServer::find(std::string_view uri, Exchange* exchange) const {
  const Location* found = nullptr;
  findIn(locations, uri, found, exchange);
  return found;
}

const Location* VirtualServer::findNamed(std::string_view name) const {
  for (const Location& l : named) {
    if (l.prefix == name) return &l;
  }
  return nullptr;
}

const VirtualServer* selectServer(const std::vector<VirtualServer>& servers, int port,
                                  std::string_view host, Exchange* exchange) {
  if (servers.size() == 1 && servers.front().regex_names.empty()) {
    return &servers.front();  // the common case: no choice to make
  }
  const VirtualServer* fallback = nullptr;
  const VirtualServer* first = nullptr;
  const VirtualServer* leading = nullptr;
  size_t leading_len = 0;
  const VirtualServer* trailing = nullptr;
  size_t trailing_len = 0;
  for (const VirtualServer& s : servers) {
    if (!servesPort(s.ports, port)) continue;
    if (first == nullptr) first = &s;
    if (fallback == nullptr && servesPort(s.default_ports, port)) fallback = &s;
    for (const std::string& n : s.exact_names) {
      if (n == host) return &s;
    }
    for (const std::string& w : s.leading_wildcards) {
      // ".example.com": "example.com" itself when it came from the ".example.com" form (stored
      // with a leading '+'), and any name ending in ".example.com".
      std::string_view suffix = w;
      bool with_self = !suffix.empty() && suffix[0] == '+';
      if (with_self) suffix.remove_prefix(1);
      bool ok = (host.size() > suffix.size() && host.ends_with(suffix)) ||
                (with_self && host == suffix.substr(1));
      if (ok && suffix.size() > leading_len) {
        leading = &s;
        leading_len = suffix.size();
      }
    }
    for (const std::string& w : s.trailing_wildcards) {
      if (host.size() > w.size() && host.starts_with(w) && w.size() > trailing_len) {
        trailing = &s;
        trailing_len = w.size();
      }
    }
  }
  if (leading != nullptr) return leading;
  if (trailing != nullptr) return trailing;
  for (const VirtualServer& s : servers) {
    if (!servesPort(s.ports, port)) continue;
    for (const auto& regex : s.regex_names) {
      nginx_compat::Captures captures;
      if (regex->match(host, exchange ? &captures : nullptr)) {
        takeCaptures(*regex, captures, exchange);
        return &s;
      }
    }
  }
  if (fallback != nullptr) return fallback;
  return first != nullptr ? first : &servers.front();
}

}  // namespace surge::edge
