// nginx's add_trailer: fields sent after an answer's body (http::Response::trailers), for the
// statuses add_header takes (addHeaderApplies; `always`: every one), their variables evaluated
// when the answer is given; an answer without a body sends none. Applied on the one finish path
// (Dispatcher::answer), so files, `return`, snapshots and proxied answers all take them.
#pragma once

#include <vector>

#include "surge/edge/exchange.h"
#include "surge/edge/location.h"
#include "surge/http/server.h"

namespace surge::edge {

void applyAddTrailers(const std::vector<AddHeaderRule>& rules, const Exchange& exchange,
                      http::Response& response);

}  // namespace surge::edge
