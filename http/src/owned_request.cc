#include "surge/http/owned_request.h"

namespace surge::http {

OwnedRequest::OwnedRequest(const Request& r) {
  size_t total = r.method.size() + r.target.size() + r.authority.size() + r.path.size() +
                 r.query.size() + r.body.size() + r.remote_addr.size() +
                 r.proxy_protocol_addr.size();
  for (const Header& h : r.headers)
    total += h.name.size() + h.value.size();
  storage_.reserve(total);  // no reallocation below: the views stay valid
  auto keep = [this](std::string_view piece) {
    size_t at = storage_.size();
    storage_.append(piece);
    return std::string_view(storage_).substr(at, piece.size());
  };
  request_.method = keep(r.method);
  request_.target = keep(r.target);
  request_.authority = keep(r.authority);
  request_.path = keep(r.path);
  request_.query = keep(r.query);
  request_.version_major = r.version_major;
  request_.version_minor = r.version_minor;
  request_.headers.reserve(r.headers.size());
  for (const Header& h : r.headers)
    request_.headers.push_back(Header{keep(h.name), keep(h.value), h.invalid});
  request_.body = keep(r.body);
  request_.has_body = r.has_body;
  request_.body_stream = r.body_stream;
  request_.keep_alive = r.keep_alive;
  request_.expect_continue = r.expect_continue;
  request_.remote_addr = keep(r.remote_addr);
  request_.proxy_protocol_addr = keep(r.proxy_protocol_addr);
  request_.proxy_protocol_port = r.proxy_protocol_port;
  request_.local_port = r.local_port;
  request_.tls = r.tls;
  request_.connection_requests = r.connection_requests;
  request_.connection_start = r.connection_start;
  request_.length = r.length;
}

}  // namespace surge::http
