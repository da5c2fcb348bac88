// nginx's limit_rate and limit_rate_after (http, server, location; values may hold variables),
// and the X-Accel-Limit-Rate an origin answer may carry: how fast an answer's body goes out.
// The pacing itself is the server's (http::Response::limit_rate).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "surge/edge/config_reader.h"
#include "surge/edge/variables.h"

namespace surge::edge {

struct Exchange;

struct LimitRate {
  ComplexValue rate;   // text() empty: not set (no limit)
  ComplexValue after;  // text() empty: 0
  bool set() const { return !rate.text().empty(); }
};

// limit_rate SIZE and limit_rate_after SIZE into `out`; false in `handled` for any other
// directive.
bool readLimitRateDirective(ConfigReader& reader, const Directive& d, LimitRate& out,
                            bool& handled);

// The rate and the bytes after which it applies for `exchange`: a value that is not a size
// (an empty variable) is no limit, as nginx takes it.
struct LimitRateValues {
  int64_t rate = 0;
  uint64_t after = 0;
};
LimitRateValues evaluateLimitRate(const LimitRate& limit, const Exchange& exchange);

// X-Accel-Limit-Rate's value: bytes a second, 0 for "off"; nullopt for anything else.
std::optional<int64_t> accelLimitRate(std::string_view value);

}  // namespace surge::edge
