// libFuzzer target for HTTP/2 requests as H2Session takes them: the input is what a client sends
// after the connection preface (frames, HPACK blocks, bodies). nghttp2's HTTP messaging checks
// are off and H2RequestCheck makes them, so this is the check that every request handed over is
// one the edge can trust and pass on as HTTP/1.1: a method of nginx's letters, a path rooted at
// "/" without controls or spaces, lower-case field names without separators, no CR, LF or NUL
// in a value, no connection-specific field, and a body as long as its Content-Length.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "h2_session.h"
#include "surge/base/metrics.h"

namespace {

using surge::http::Request;

bool controlOrSpace(char c) {
  return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
}

void check(const Request& r) {
  if (r.method.empty()) __builtin_trap();
  for (char c : r.method) {
    if (!((c >= 'A' && c <= 'Z') || c == '_' || c == '-')) __builtin_trap();
  }
  if (r.target != "*" && (r.target.empty() || r.target[0] != '/')) __builtin_trap();
  for (char c : r.target) {
    if (controlOrSpace(c)) __builtin_trap();
  }
  for (const auto& h : r.headers) {
    if (h.name.empty()) __builtin_trap();
    for (char c : h.name) {
      if (controlOrSpace(c) || c == ':' || (c >= 'A' && c <= 'Z')) __builtin_trap();
    }
    for (char c : h.value) {
      if (c == '\0' || c == '\r' || c == '\n') __builtin_trap();
    }
    if (h.name == "connection" || h.name == "transfer-encoding" || h.name == "upgrade" ||
        h.name == "keep-alive" || h.name == "proxy-connection") {
      __builtin_trap();
    }
    if (h.name == "content-length") {
      uint64_t n = 0;
      for (char c : h.value) {
        if (c < '0' || c > '9') __builtin_trap();
        n = n * 10 + static_cast<uint64_t>(c - '0');
      }
      if (n != r.body.size()) __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static surge::base::MetricsRegistry metrics;
  static surge::http::Http2Stats stats(metrics, "fuzz");
  static const surge::http::Http2Options options;
  static const surge::http::ParseLimits limits;
  surge::http::H2Session session(
      options, limits, stats, [](Request& r, int32_t) { check(r); },
      [](int status, const char*) {
        surge::http::Response r;
        r.status = status;
        return r;
      });
  std::string input(surge::http::H2Session::kPreface);
  input.append(reinterpret_cast<const char*>(data), size);
  // In two reads, as a connection might get it: state kept between them must hold.
  const size_t half = input.size() / 2;
  if (session.receive(std::string_view(input).substr(0, half))) {
    session.receive(std::string_view(input).substr(half));
  }
  std::string out;
  session.produce(out, 1 << 20);
  return 0;
}
