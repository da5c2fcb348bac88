// The nginx-syntax parser on arbitrary text: never crashes, never loops, and either parses or
// names where the error is. Relative includes point into a directory that does not exist; an
// absolute one reads what it names, and its errors name that file (the fuzzer once found
// `include //*rn;`, which read /bin/fc-pattern: "/bin/fc-pattern:1: unexpected NUL byte").
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "surge/nginx_compat/config_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = surge::nginx_compat::parseConfigText(text, "fuzz.conf", "/nonexistent-surge-fuzz");
  if (!parsed && parsed.error().rfind("fuzz.conf:", 0) != 0 &&
      (parsed.error().rfind("/", 0) != 0 || parsed.error().find(':') == std::string::npos)) {
    std::abort();  // every error names where it is: this file, or a file it included
  }
  (void)surge::nginx_compat::parseDuration(text.substr(0, 32));
  (void)surge::nginx_compat::parseSize(text.substr(0, 32));
  return 0;
}
