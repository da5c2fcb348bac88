#include "surge/edge/limit_rate.h"

#include <charconv>

#include "surge/edge/exchange.h"
#include "surge/nginx_compat/config_parser.h"

namespace surge::edge {
namespace {

// A size as nginx reads one ("12k", "1m", "0"); nullopt for anything else.
std::optional<uint64_t> sizeOf(std::string_view text) {
  if (text.empty()) return std::nullopt;
  auto v = nginx_compat::parseSize(text);
  if (!v) return std::nullopt;
  return v.value();
}

}  // namespace

bool readLimitRateDirective(ConfigReader& r, const Directive& d, LimitRate& out, bool& handled) {
  handled = d.name == "limit_rate" || d.name == "limit_rate_after";
  if (!handled) return true;
  if (!r.args(d, 1, 1)) return false;
  ComplexValue& v = d.name == "limit_rate" ? out.rate : out.after;
  if (!r.complexValue(d, d.args[0], v)) return false;
  if (v.isLiteral() && !sizeOf(d.args[0])) {
    return r.fail(d, "invalid size \"" + d.args[0] + "\" in \"" + d.name + "\"");
  }
  return true;
}

LimitRateValues evaluateLimitRate(const LimitRate& limit, const Exchange& ex) {
  LimitRateValues out;
  if (!limit.set()) return out;
  auto rate = sizeOf(limit.rate.isLiteral() ? limit.rate.text() : limit.rate.evaluate(ex));
  if (!rate) return out;
  out.rate = static_cast<int64_t>(*rate);
  if (!limit.after.text().empty()) {
    auto after = sizeOf(limit.after.isLiteral() ? limit.after.text() : limit.after.evaluate(ex));
    out.after = after.value_or(0);
  }
  return out;
}

std::optional<int64_t> accelLimitRate(std::string_view value) {
  if (value == "off") return 0;
  int64_t n = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || p != value.data() + value.size() || n < 0) return std::nullopt;
  return n;
}

}  // namespace surge::edge
