// A request that outlives the connection's input buffer: one string holding every byte the views
// of an http::Request point at, and a Request viewing it. For the few requests that wait on the
// edge (limit_req's delay) after the handler has returned; the request path itself never copies.
#pragma once

#include <string>

#include "surge/http/request_parser.h"

namespace surge::http {

class OwnedRequest {
 public:
  explicit OwnedRequest(const Request& request);
  OwnedRequest(const OwnedRequest&) = delete;
  OwnedRequest& operator=(const OwnedRequest&) = delete;
  const Request& request() const { return request_; }

 private:
  std::string storage_;
  Request request_;
};

}  // namespace surge::http
