// nginx's rewrite module at run time: the `return`, `rewrite`, `set`, `break` and `if` directives
// of a server or location, run in order against an exchange (ngx_http_rewrite_handler).
//   - `return` answers at once;
//   - `rewrite REGEX REPLACEMENT [FLAG]` replaces $uri when the regex matches it: `last` looks
//     the location up again, `break` stops here and goes on to the content, `redirect`/
//     `permanent` (or a replacement starting with http://, https://) answer 302/301; without a
//     flag the next directive runs, and a changed $uri is looked up again at the end. A '?' in the
//     replacement sets the arguments (the old ones follow unless it ends with '?');
//   - `set $name VALUE`; `break` stops; `if (CONDITION) { ... }` runs its block when true.
#pragma once

#include <vector>

#include "surge/edge/config_reader.h"
#include "surge/edge/exchange.h"
#include "surge/edge/location.h"

namespace surge::edge {

enum class RewriteOutcome {
  kContent,   // go on with this location (nothing changed, or `break`)
  kRelocate,  // $uri changed: look the location up again
  kAnswer,    // answered (return, or a redirect)
};

RewriteOutcome runRewrites(const std::vector<RewriteStep>& steps, Exchange& exchange,
                           http::Response& answer);

// Does `steps` answer by itself whatever comes (a `return` outside any `if`)?
bool alwaysAnswers(const std::vector<RewriteStep>& steps);

// The rewrite module's directives (return, rewrite, set, break, if) at server or location level
// and inside `if`: appended to `out`; false in `handled` for any other directive.
bool readRewriteDirective(ConfigReader& reader, const Directive& d, std::vector<RewriteStep>& out,
                          bool& handled);
// `return CODE [TEXT]`, `return CODE URL`, `return URL` (nginx's forms).
bool readReturn(ConfigReader& reader, const Directive& d, ReturnAction& out);

}  // namespace surge::edge
