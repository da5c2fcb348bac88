// An HTTP/1.x answer as a client reads it: the one parser of responses in surge, used by the
// edge's origin pool (async, on a worker's loop) and the blocking client (client.h: surgectl,
// the tests).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace surge::http {

struct ResponseHead {
  int status = 0;
  size_t header_bytes = 0;  // through the blank line
  std::optional<size_t> content_length;
  bool chunked = false;  // any Transfer-Encoding (HTTP/1.1 allows only chunked last)
  bool close = false;    // HTTP/1.0, or Connection: close
  // Every field in order, as views into the parsed input (valid while it is).
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  std::string connection;  // the tokens of every Connection header, joined by ','
};

// 1: a complete head parsed into `head`; 0: more bytes needed; -1: malformed (a bad status line,
// a field without a name, two different Content-Lengths, or no end within `max_bytes`).
int parseResponseHead(std::string_view input, ResponseHead& head, size_t max_bytes = 64 * 1024);

// Whether an answer with `status` to a request that was (or was not) HEAD carries a body.
inline bool responseHasBody(int status, bool head_request) {
  return !head_request && status >= 200 && status != 204 && status != 304;
}

// A chunked body in `in` from `pos`: the chunks' data appended to `body`, `pos` moved past what
// was decoded. 1: the last chunk and the trailer are in; 0: more bytes needed; -1: malformed.
int decodeChunked(std::string_view in, size_t& pos, std::string& body);

// Does the comma-separated `list` name `token` (any case)?
bool containsToken(std::string_view list, std::string_view token);

}  // namespace surge::http
