// Reading the purge requests a recording endpoint received (the Varnish shape, cdn_endpoint.h).
#pragma once

#include <string>
#include <vector>

#include "surge/testing/temp_dir.h"

namespace surge::origin::test {

// The tags of one "PURGE" request ("xkey-purge: a b c"), in order; none when it has no such header.
inline std::vector<std::string> xkeyPurgeTags(const std::string& request) {
  std::vector<std::string> out;
  size_t at = request.find("\r\nxkey-purge: ");
  if (at == std::string::npos) return out;
  std::string list = request.substr(at + 14, request.find("\r\n", at + 2) - at - 14);
  for (size_t start = 0; start < list.size();) {
    size_t space = list.find(' ', start);
    if (space == std::string::npos) space = list.size();
    out.push_back(list.substr(start, space - start));
    start = space + 1;
  }
  return out;
}

// `surge-origin --cdn-purge`'s file in `dir`, naming one Varnish-shaped endpoint on `port`.
inline std::string varnishPurgeConf(const testing::TempDir& dir, int port) {
  return dir.write("cdn.conf", "varnish http://127.0.0.1:" + std::to_string(port) + "/\n");
}

}  // namespace surge::origin::test
