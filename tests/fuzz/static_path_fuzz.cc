// The edge's docroot path and Range handling on arbitrary input. Properties, not just "no crash":
// a normalized path starts with '/', holds no NUL, backslash, "." or ".." segment, and every
// range returned lies inside the representation.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "surge/edge/static_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto p = surge::edge::normalizePath(in)) {
    const std::string& s = *p;
    if (s.empty() || s[0] != '/') std::abort();
    if (s.find('\0') != std::string::npos || s.find('\\') != std::string::npos) std::abort();
    std::string_view rest(s);
    size_t pos = 1;
    while (pos <= rest.size()) {
      size_t slash = rest.find('/', pos);
      if (slash == std::string_view::npos) slash = rest.size();
      std::string_view seg = rest.substr(pos, slash - pos);
      if (seg == "." || seg == "..") std::abort();
      pos = slash + 1;
    }
  }
  uint64_t file_size = size ? data[0] * 37u : 0;
  std::vector<surge::edge::ByteRange> ranges;
  auto outcome = surge::edge::parseRange(in, file_size, ranges);
  if (outcome == surge::edge::RangeOutcome::kRanges) {
    uint64_t total = 0;
    for (const auto& r : ranges) {
      if (r.first > r.last || r.last >= file_size) std::abort();
      total += r.last - r.first + 1;
    }
    if (total > file_size || ranges.size() > surge::edge::kMaxRanges) std::abort();
  } else if (!ranges.empty()) {
    std::abort();  // parts are only handed out with kRanges
  }
  (void)surge::edge::chooseCoding(in, true, size & 1, size & 2);
  (void)surge::edge::etagMatches(in, "\"abc\"");
  (void)surge::edge::etagMatchesStrongly(in, "\"abc\"");
  (void)surge::edge::parseHttpDate(in.substr(0, 64));
  return 0;
}
