// libFuzzer target for the HTTP/1.1 request parser: the input is a byte stream as a client could
// send it, parsed request after request like a pipelined connection.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "surge/http/request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  surge::http::ParseLimits limits;
  limits.max_head = 4096;
  limits.max_target = 1024;
  limits.max_body = 8192;
  surge::http::Request request;
  for (int i = 0; i < 16 && !input.empty(); ++i) {
    size_t consumed = 0;
    surge::http::ParseError error;
    auto result = surge::http::parseRequest(input, limits, request, consumed, error);
    if (result != surge::http::ParseResult::kComplete) break;
    // Invariants: progress, nothing read past the input, limits kept, views inside the input.
    if (consumed == 0 || consumed > input.size()) __builtin_trap();
    if (request.body.size() > limits.max_body) __builtin_trap();
    if (request.target.size() > limits.max_target) __builtin_trap();
    // (An absolute-form target without a path has the path "/", a constant of the parser's.)
    const bool inside = request.path.data() >= input.data() &&
                        request.path.data() + request.path.size() <= input.data() + input.size();
    if (!inside && !(request.path == "/" && !request.authority.empty())) __builtin_trap();
    input.remove_prefix(consumed);
  }
  return 0;
}
