// One request on its way through the edge: the server and location it matched, the URI as the
// rewrite module and internal redirects leave it, and the captures of the last regex that matched
// (what nginx keeps in ngx_http_request_t for its phases). Lives on the stack of
// EdgeServer::handle; a handler that answers later copies what it needs.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "surge/http/owned_request.h"
#include "surge/http/request_parser.h"
#include "surge/http/server.h"
#include "surge/nginx_compat/regex.h"

namespace surge::edge {

struct VirtualServer;
struct Location;
struct EdgeConfig;

// What an exchange knows of its request beyond the request itself: everything a delayed
// request's copy takes over (DelayedExchange).
struct ExchangeState {
  const VirtualServer* server = nullptr;
  const Location* location = nullptr;
  std::string uri;                  // $uri: decoded, with "." and ".." resolved; rewrite changes it
  std::string args;                 // $args: the query, as sent; rewrite may replace it
  nginx_compat::Captures captures;  // $1..$9 of the last regex that matched
  // Variables of this request: `set` and the named groups of regexes that matched.
  std::vector<std::pair<std::string, std::string>> variables;
  int redirects = 0;           // internal redirects and rewrite cycles so far (nginx stops at 10)
  bool auto_redirect = false;  // the path is a proxy location's without its last '/': 301 there
  // error_page: the status the final answer takes (-1 its own), and whether an error page is
  // being served (recursive_error_pages off: no second one). Methods other than HEAD become GET.
  int error_status = -1;
  bool in_error_page = false;
  bool internal = false;  // reached by an internal redirect (may enter `internal` locations)
  // The client's address as realip found it (real_ip.h); empty: the peer's.
  std::string real_addr;
  std::string named;  // "@name": the named location the next lookup goes to
  // limit_req and limit_conn run once per request; a request limit_req delays comes back at
  // `resume` (its location) when the delay is over.
  bool limit_req_done = false;
  bool limit_conn_done = false;
  const Location* resume = nullptr;
  // limit_conn's places this request holds: released when the answer is gone (the last copy of
  // this pointer, which async answers carry).
  std::shared_ptr<void> hold;
  // Adds `what` to `hold` (chained: one pointer holds all).
  void addHold(std::shared_ptr<void> what) {
    hold = hold ? std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<void>>>(
                      std::move(hold), std::move(what))
                : std::move(what);
  }
  // X-Accel-Redirect (accel_redirect.h): the origin's header lines ($upstream_http_NAME), those
  // the final answer keeps, and the method it is served as (GET, unless HEAD).
  std::string upstream_headers;
  std::string preserved_headers;
  // The answer whose add_header lines are being evaluated, each seeing the ones before it, as
  // nginx's header filter: what $sent_http_NAME reads (none otherwise).
  mutable const http::Response* sending = nullptr;
  bool as_get = false;
  // X-Accel-Limit-Rate of the origin answer that redirected here (-1: none): it replaces the
  // location's limit_rate. And how long origin took to answer ($upstream_response_time; negative:
  // never asked).
  int64_t accel_limit_rate = -1;
  double upstream_seconds = -1;
  // The file the request's body was kept in ($request_body_file; request_body_files.h), empty
  // when none.
  std::string request_body_file;
  // The configuration `server` and `location` point into, held by an exchange that outlives
  // its request's call (HeldExchange); empty for one being handled, whose worker holds it.
  std::shared_ptr<const EdgeConfig> pinned;
};

struct Exchange : ExchangeState {
  Exchange(http::Worker& w, const http::Request& r, http::ResponseSlot s,
           std::chrono::steady_clock::time_point t)
      : worker(w), request(r), slot(s), start(t) {}

  http::Worker& worker;
  const http::Request& request;
  http::ResponseSlot slot;
  std::chrono::steady_clock::time_point start;

  // $remote_addr: the client's address, the peer's unless realip found another.
  std::string_view remoteAddr() const {
    return real_addr.empty() ? request.remote_addr : std::string_view(real_addr);
  }

  // The method this request is served as: GET after an X-Accel-Redirect (HEAD stays HEAD).
  std::string_view method() const {
    return as_get && request.method != "HEAD" ? std::string_view("GET") : request.method;
  }

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

// An exchange that outlives the connection's input buffer: its own copy of the request, its
// state, and the configuration its server and location belong to (a reload may replace the
// current one meanwhile). For a request limit_req delays, and an answer given later that is
// logged.
struct HeldExchange {
  // `current`: the worker's configuration, which `from` points into unless it is itself a
  // held exchange (then the one it pins, whatever a reload has made current since).
  HeldExchange(std::shared_ptr<const EdgeConfig> current, const Exchange& from)
      : owned(from.request), ex(from.worker, owned.request(), from.slot, from.start) {
    static_cast<ExchangeState&>(ex) = from;
    if (!ex.pinned) ex.pinned = std::move(current);
  }
  http::OwnedRequest owned;
  Exchange ex;
};

// What a handler did with an exchange: an answer, or an internal redirect to a URI ("/path?args")
// or a named location ("@name") that the dispatcher looks up again (nginx's internal redirect).
struct Step {
  enum class Kind { kAnswer, kRedirect };
  Kind kind = Kind::kAnswer;
  http::Response response;
  std::string target;
  static Step answer(http::Response r) {
    Step s;
    s.response = std::move(r);
    return s;
  }
  static Step redirect(std::string to) {
    Step s;
    s.kind = Kind::kRedirect;
    s.target = std::move(to);
    return s;
  }
};

}  // namespace surge::edge
