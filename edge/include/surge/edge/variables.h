// nginx variables in configuration values ("x $uri x", "${host}:8080", "$1", "$arg_id"):
// compiled once at load into literal text and variable references, evaluated per request against
// an Exchange. What nginx cannot resolve at load ("unknown variable") is refused at load here too.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "surge/base/result.h"
#include "surge/edge/exchange.h"

namespace surge::edge {

class ComplexValue {
 public:
  ComplexValue() = default;
  // A value without variables.
  static ComplexValue literal(std::string text);
  // "$$" is not special in nginx (a lone "$" followed by a non-name character is an error);
  // "${name}" delimits a name. Fails with nginx's message for a bad reference.
  static base::Result<ComplexValue, std::string> compile(std::string_view text);

  bool isLiteral() const { return parts_.size() <= 1 && (parts_.empty() || !parts_[0].variable); }
  // The text of a literal value.
  const std::string& text() const { return text_; }
  std::string evaluate(const Exchange& exchange) const;
  // The names it refers to that are not built in (set by `set`, or a regex's named group), for
  // the check at the end of load.
  std::vector<std::string> declaredNames() const;

  // Is `name` one of nginx's variables surge knows without a declaration?
  static bool builtin(std::string_view name);

  struct Part {
    bool variable = false;
    std::string text;  // the literal, or the variable's name
    int capture = -1;  // $1..$9
  };
  const std::vector<Part>& parts() const { return parts_; }

 private:
  std::vector<Part> parts_;
  std::string text_;  // the source text
};

// The request's host name as nginx's $host and server_name see it: an absolute-form target's or
// the Host header's, lowercase, without port or trailing dot ("" when the request names none).
std::string requestHost(const http::Request& request);

// $sent_http_NAME of answer `r` (NAME's underscores read as dashes): what the server adds itself
// (Connection, Keep-Alive, Content-Length) is known from the answer, the rest is in its lines.
std::string sentHeaderValue(const http::Response& r, std::string_view name);

// $arg_NAME: the value of the first NAME= of a query, as sent ("" when absent); the name compared
// without case, as nginx does.
std::string_view argNamed(std::string_view args, std::string_view name);

// The value of variable `name` in `exchange` (empty when unset), as nginx defines it.
std::string variableValue(const Exchange& exchange, std::string_view name);

}  // namespace surge::edge
