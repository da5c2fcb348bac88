// AccessRules: nginx's allow/deny. Rules are checked in order and the first one that matches the
// client's address decides; when none matches, the request is allowed (as in nginx, a list meant
// to restrict ends with "deny all"). IPv4 addresses and CIDR blocks, or "all".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "surge/base/result.h"

namespace surge::http {

class AccessRules {
 public:
  // `what`: "127.0.0.1", "10.0.0.0/8" or "all". Fails with the reason on anything else.
  base::Result<base::Done, std::string> add(bool allow, std::string_view what);
  // `address`: the client's IPv4 address as text. An address that does not parse is refused
  // whenever there are rules.
  bool allows(std::string_view address) const;
  bool empty() const { return rules_.empty(); }

 private:
  struct Rule {
    bool allow;
    uint32_t network;  // host order
    uint32_t mask;
  };
  std::vector<Rule> rules_;
};

}  // namespace surge::http
