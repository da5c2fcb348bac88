// An nginx-syntax configuration parser: the structure only (directives, arguments, blocks,
// includes). What a directive means is up to the caller; nothing here knows directive names
// besides `include` and the data blocks below.
//
// Syntax, as nginx reads it:
//   - `name arg ... ;` or `name arg ... { ... }`; blocks nest. Space, tab, CR and LF separate
//     tokens. `;` and `{` also end an unquoted token; `}` is special only where a token starts
//     (nginx: `a}` is one token).
//   - `#` where a token would start begins a comment to the end of the line; inside a token or a
//     quoted string it is an ordinary character.
//   - "..." and '...' quote an argument; it may span lines. After the closing quote comes
//     whitespace, `;`, `{`, `}` or `)` (nginx allows `if ($a ~ "b")`), else it is an error.
//   - A backslash makes the next character ordinary (in quoted and unquoted tokens). In the value,
//     \" \' \\ become the character and \n \t \r the control character; any other \x is kept as
//     both characters, as nginx does, so that regexes such as `location ~ \.php$` survive.
//   - `${name}` inside an unquoted token: the `{` does not end the token.
//
// include PATTERN: replaced in place (at the top level or in any block) by the directives of the
// files it names, in glob order (byte-wise sorted). A relative PATTERN is resolved against the
// directory of the main configuration file, for nested includes too (nginx resolves against its
// conf prefix; the main file's directory is the equivalent for a self-contained config tree). A
// pattern with `*`, `?` or `[` may match nothing; a plain path must exist. Includes nest at most
// kMaxIncludeDepth deep, and a file that includes itself, directly or not, is an error.
//
// Data blocks: the entries of `types`, `map`, `geo`, `split_clients` and `charset_map` blocks are
// data ("text/html html;", "~^/api 1;", "'' 0;"), so their first word is not held to the name
// rules below and may be quoted. Everywhere else a directive name is unquoted and matches
// [A-Za-z_][A-Za-z0-9_.-]*.
//
// Errors: one string, "file:line: message", where file is the path as opened and line the line
// of the problem. The exception is the main file itself not being readable ("path: message"),
// which has no line. End-of-file errors name the file's last line.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "surge/base/result.h"

namespace surge::nginx_compat {

inline constexpr size_t kMaxConfigFileBytes = 4 * 1024 * 1024;
inline constexpr int kMaxIncludeDepth = 16;
// Bounds the recursion of the parser and of Directive's destructor; real configs nest < 10.
inline constexpr int kMaxBlockDepth = 100;
// Durations must fit a signed 32-bit count of milliseconds (about 24.8 days).
inline constexpr std::chrono::milliseconds kMaxDuration{INT32_MAX};

struct Directive {
  std::string name;
  std::vector<std::string> args;  // unquoted, escapes resolved
  bool has_block = false;         // "name args { ... }"
  std::vector<Directive> block;
  std::string file;  // where it was written (path as opened)
  int line = 0;      // 1-based line of the directive's name
};

// Reads `path` and everything it includes (relative includes resolved against its directory).
base::Result<std::vector<Directive>, std::string> parseConfigFile(const std::string& path);
// `text` as if read from `file_name`; relative includes are resolved against `base_dir` (the
// current directory when empty).
base::Result<std::vector<Directive>, std::string> parseConfigText(std::string_view text,
                                                                  const std::string& file_name,
                                                                  const std::string& base_dir);

// "file:line", for messages about a directive.
std::string locationOf(const Directive& d);

// nginx time units: "500ms", "10s", "5m", "1h", "1d", "1w", and parts of them largest first
// ("1h30m", "15h30m33s", as nginx's ngx_parse_time); a bare number is seconds. Case-sensitive as
// in nginx (where "M" means months, beyond the limit here). At most kMaxDuration.
base::Result<std::chrono::milliseconds, std::string> parseDuration(std::string_view text);
// nginx times in seconds (expires, ...): as parseDuration, with "y" (365 days) and "M" (30
// days) and without "ms". At most INT32_MAX seconds.
base::Result<int64_t, std::string> parseSeconds(std::string_view text);
// nginx size units: "512" (bytes), "16k", "1m", "1g", in either case. Fails on overflow.
base::Result<uint64_t, std::string> parseSize(std::string_view text);

}  // namespace surge::nginx_compat
