// The nginx-syntax parser on arbitrary text: never crashes, never loops, and either parses or
// names a file:line. Includes point into a directory that does not exist, so no file is read.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "surge/nginx_compat/config_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = surge::nginx_compat::parseConfigText(text, "fuzz.conf", "/nonexistent-surge-fuzz");
  if (!parsed && parsed.error().rfind("fuzz.conf:", 0) != 0 &&
      parsed.error().rfind("/nonexistent-surge-fuzz", 0) != 0) {
    std::abort();  // every error names where it is
  }
  (void)surge::nginx_compat::parseDuration(text.substr(0, 32));
  (void)surge::nginx_compat::parseSize(text.substr(0, 32));
  return 0;
}
