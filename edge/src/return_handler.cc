#include "surge/edge/return_handler.h"

#include "surge/edge/static_files.h"

namespace surge::edge {

std::string absoluteRedirect(const Exchange& ex, std::string_view location) {
  if (location.empty() || location[0] != '/') return std::string(location);
  std::string host = variableValue(ex, "host");
  if (host.empty()) host = ex.server != nullptr ? ex.server->first_name : "";
  const bool tls = ex.request.tls;
  std::string out = tls ? "https://" : "http://";
  out += host;
  int port = ex.request.local_port;
  if (port != (tls ? 443 : 80)) out += ":" + std::to_string(port);
  out += location;
  return out;
}

http::Response returnResponse(const ReturnAction& action, const Exchange& ex) {
  const int code = action.code;
  std::string text = action.has_text ? action.text.evaluate(ex) : std::string();
  if (code == 301 || code == 302 || code == 303 || code == 307 || code == 308) {
    http::Response r = http::htmlError(code);
    r.status = code;
    if (action.has_text) r.headers += "Location: " + absoluteRedirect(ex, text) + "\r\n";
    return r;
  }
  if (code >= 400 && !action.has_text) return http::htmlError(code);
  http::Response r;
  r.status = code;
  if (code == 204) return r;
  std::string_view type = mimeType(ex.uri);
  if (type == "application/octet-stream" || ex.uri.find('.') == std::string::npos) {
    type = "text/plain";
  }
  r.headers = "Content-Type: " + std::string(type) + "\r\n";
  r.body = std::move(text);
  return r;
}

void applyLocationHeaders(const Location& location, const Exchange& ex, http::Response& response) {
  if (location.add_header_rules.empty()) return;
  if (!location.add_headers_vary) return applyAddHeaders(location.files.add_headers, response);
  std::vector<AddHeader> evaluated;
  evaluated.reserve(location.add_header_rules.size());
  for (const AddHeaderRule& rule : location.add_header_rules)
    evaluated.push_back(AddHeader{rule.name, rule.value.evaluate(ex), rule.always});
  applyAddHeaders(evaluated, response);
}

}  // namespace surge::edge
