#include "surge/http/access_rules.h"

#include <arpa/inet.h>

#include <charconv>

namespace surge::http {
namespace {

bool parseIpv4(std::string_view text, uint32_t& out) {
  if (text.size() > 15) return false;
  char buf[16] = {};
  text.copy(buf, text.size());
  in_addr a{};
  if (inet_pton(AF_INET, buf, &a) != 1) return false;
  out = ntohl(a.s_addr);
  return true;
}

}  // namespace

base::Result<base::Done, std::string> AccessRules::add(bool allow, std::string_view what) {
  if (what == "all") {
    rules_.push_back(Rule{allow, 0, 0});
    return base::Done{};
  }
  std::string_view address = what;
  int bits = 32;
  if (size_t slash = what.find('/'); slash != std::string_view::npos) {
    address = what.substr(0, slash);
    std::string_view prefix = what.substr(slash + 1);
    auto [end, ec] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), bits);
    if (ec != std::errc() || end != prefix.data() + prefix.size() || bits < 0 || bits > 32) {
      return base::fail("invalid prefix length in \"" + std::string(what) + "\"");
    }
  }
  uint32_t network = 0;
  if (!parseIpv4(address, network)) {
    return base::fail("\"" + std::string(what) +
                      "\" is not an IPv4 address, a CIDR block (10.0.0.0/8) or \"all\"");
  }
  uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  if ((network & ~mask) != 0) {
    // nginx warns and masks; an operator who wrote 10.1.2.3/8 most likely meant something else.
    return base::fail("\"" + std::string(what) + "\" has bits set beyond its prefix length");
  }
  rules_.push_back(Rule{allow, network, mask});
  return base::Done{};
}

bool AccessRules::allows(std::string_view address) const {
  if (rules_.empty()) return true;
  uint32_t a = 0;
  if (!parseIpv4(address, a)) {
    // An IPv6 client (a "listen [::]" socket): the rules name IPv4 networks, so only "all"
    // (mask 0) speaks for it, as in nginx; without such a rule it is let through, as there.
    for (const Rule& r : rules_) {
      if (r.mask == 0) return r.allow;
    }
    return true;
  }
  for (const Rule& r : rules_) {
    if ((a & r.mask) == r.network) return r.allow;
  }
  return true;
}

}  // namespace surge::http
