#include "surge/edge/return_handler.h"

#include "surge/edge/static_files.h"

namespace surge::edge {

std::string absoluteRedirect(const Exchange& ex, const RedirectStyle& style,
                             std::string_view location) {
  if (location.empty() || location[0] != '/') return std::string(location);
  std::string host;
  if (style.server_name && ex.server != nullptr) host = ex.server->first_name;
  if (host.empty()) host = variableValue(ex, "host");
  const bool tls = ex.request.tls;
  std::string out = tls ? "https://" : "http://";
  out += host;
  int port = ex.request.local_port;
  if (style.port && port != (tls ? 443 : 80)) out += ":" + std::to_string(port);
  out += location;
  return out;
}

void absolutizeLocation(const RedirectStyle& style, const Exchange& ex, http::Response& r) {
  if (!style.absolute || r.status < 300 || r.status > 308) return;
  size_t at = r.headers.find("Location: /");
  if (at == std::string::npos || (at != 0 && r.headers[at - 1] != '\n')) return;
  size_t value = at + 10;
  size_t end = r.headers.find("\r\n", value);
  std::string absolute =
      absoluteRedirect(ex, style, std::string_view(r.headers).substr(value, end - value));
  r.headers.replace(value, end - value, absolute);
}

http::Response slashRedirect(const Exchange& ex) {
  http::Response r = http::htmlError(301);
  r.headers += "Location: " + encodeUri(ex.uri) + "/";
  if (!ex.args.empty()) r.headers += "?" + ex.args;
  r.headers += "\r\n";
  return r;
}

http::Response returnResponse(const ReturnAction& action, const Exchange& ex) {
  const int code = action.code;
  std::string text = action.has_text ? action.text.evaluate(ex) : std::string();
  if (code == 301 || code == 302 || code == 303 || code == 307 || code == 308) {
    http::Response r = http::htmlError(code);
    r.status = code;
    if (action.has_text) r.headers += "Location: " + http::headerSafe(text) + "\r\n";
    return r;
  }
  if (code == 444) {
    http::Response r;  // nginx's "close the connection without a response"
    r.status = 444;
    r.drop = true;
    return r;
  }
  if (code >= 400 && !action.has_text) return http::htmlError(code);
  http::Response r;
  r.status = code;
  if (code == 204) return r;
  // As nginx: by the URI's extension, else default_type (nginx's own default: text/plain).
  const StaticLocation* files = ex.location ? &ex.location->files : nullptr;
  std::string_view fallback =
      files && !files->default_type.empty() ? std::string_view(files->default_type) : "text/plain";
  const MimeTypes* types = files ? files->types.get() : nullptr;
  std::string_view type = mimeType(ex.uri, types, types ? fallback : std::string_view());
  if (!types && type == "application/octet-stream") type = fallback;
  const std::string& charset = ex.location != nullptr ? ex.location->files.charset : "";
  r.headers =
      "Content-Type: " +
      (charset.empty() || !isCharsetType(type) ? std::string(type) : withCharset(type, charset)) +
      "\r\n";
  r.body = std::move(text);
  return r;
}

StaticLocation filesFor(const Location& location, const Exchange& ex) {
  StaticLocation files = location.files;
  if (!location.path_var.text().empty()) {
    (location.path_var_alias ? files.alias : files.root) = location.evaluatedPath(ex);
  }
  if (location.add_headers_vary) files.add_headers = evaluatedHeaders(location, ex);
  if (!location.expires_var.text().empty()) {
    std::string ignored;
    // A value that is not one of expires' forms: no Expires, as nginx then sends none.
    if (!setExpires(files, location.expires_var_modified, location.expires_var.evaluate(ex),
                    ignored)) {
      files.expires = StaticLocation::Expires::kOff;
      files.cache_control.clear();
    }
  }
  return files;
}

std::vector<AddHeader> evaluatedHeaders(const Location& location, const Exchange& ex) {
  if (!location.add_headers_vary) return location.files.add_headers;
  std::vector<AddHeader> evaluated;
  evaluated.reserve(location.add_header_rules.size());
  for (const AddHeaderRule& rule : location.add_header_rules)
    evaluated.push_back(
        AddHeader{rule.name, http::headerSafe(rule.value.evaluate(ex)), rule.always});
  return evaluated;
}

void applyLocationHeaders(const Location& location, const Exchange& ex, http::Response& response) {
  if (location.add_header_rules.empty()) return;
  if (!location.add_headers_vary) return applyAddHeaders(location.files.add_headers, response);
  // One at a time: a value may read the lines added before it ($sent_http_NAME).
  ex.sending = &response;
  for (const AddHeaderRule& rule : location.add_header_rules) {
    applyAddHeaders({AddHeader{rule.name, http::headerSafe(rule.value.evaluate(ex)), rule.always}},
                    response);
  }
  ex.sending = nullptr;
}

}  // namespace surge::edge
