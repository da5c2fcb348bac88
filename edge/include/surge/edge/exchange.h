// One request on its way through the edge: the server and location it matched, the URI as the
// rewrite module and internal redirects leave it, and the captures of the last regex that matched
// (what nginx keeps in ngx_http_request_t for its phases). Lives on the stack of
// EdgeServer::handle; a handler that answers later copies what it needs.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "surge/http/request_parser.h"
#include "surge/http/server.h"
#include "surge/nginx_compat/regex.h"

namespace surge::edge {

struct VirtualServer;
struct Location;

struct Exchange {
  Exchange(http::Worker& w, const http::Request& r, http::ResponseSlot s,
           std::chrono::steady_clock::time_point t)
      : worker(w), request(r), slot(s), start(t) {}

  http::Worker& worker;
  const http::Request& request;
  http::ResponseSlot slot;
  std::chrono::steady_clock::time_point start;

  const VirtualServer* server = nullptr;
  const Location* location = nullptr;
  std::string uri;                  // $uri: decoded, with "." and ".." resolved; rewrite changes it
  std::string args;                 // $args: the query, as sent; rewrite may replace it
  nginx_compat::Captures captures;  // $1..$9 of the last regex that matched
  // Variables of this request: `set` and the named groups of regexes that matched.
  std::vector<std::pair<std::string, std::string>> variables;
  int redirects = 0;           // internal redirects and rewrite cycles so far (nginx stops at 10)
  bool auto_redirect = false;  // the path is a proxy location's without its last '/': 301 there

  // The named variable `name` set in this request, or nullptr.
  const std::string* variable(std::string_view name) const {
    for (auto it = variables.rbegin(); it != variables.rend(); ++it) {
      if (it->first == name) return &it->second;
    }
    return nullptr;
  }
  void setVariable(std::string_view name, std::string value) {
    for (auto& [n, v] : variables) {
      if (n == name) {
        v = std::move(value);
        return;
      }
    }
    variables.emplace_back(std::string(name), std::move(value));
  }
};

}  // namespace surge::edge
