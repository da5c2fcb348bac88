// nginx's regular expressions: PCRE2, as nginx links it (Debian's nginx uses libpcre2), so that a
// `location ~`, `server_name ~` or `rewrite` pattern means here what it means there (named groups
// `(?<name>)` and `(?P<name>)`, `\Q...\E`, `\p{N}`, `(?i)`). Compiled once at config load, JIT
// where available; matching allocates nothing but the captures it returns.
//
// Threads: a Regex is immutable after compile(); match() takes the caller's MatchData (one per
// worker thread), since PCRE2 match data cannot be shared.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "surge/base/result.h"

namespace surge::nginx_compat {

// Where the groups of the last match are: pairs of offsets into the subject; group 0 is the whole
// match. A group that did not take part is {npos, npos}.
struct Captures {
  static constexpr size_t npos = static_cast<size_t>(-1);
  std::string subject;  // a copy: captures outlive the string they were taken from
  std::vector<std::pair<size_t, size_t>> groups;
  // Group n's text ("" when absent or unmatched).
  std::string_view group(size_t n) const;
  void clear() {
    subject.clear();
    groups.clear();
  }
};

class Regex {
 public:
  // `caseless`: `~*` (nginx's case-insensitive match). The error is PCRE2's message with the
  // offset, as nginx prints it: pcre2_compile() failed: missing ) in "(a" at "".
  static base::Result<std::shared_ptr<const Regex>, std::string> compile(std::string_view pattern,
                                                                         bool caseless);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Does `subject` match? When it does and `captures` is given, they are filled in.
  bool match(std::string_view subject, Captures* captures = nullptr) const;
  const std::string& pattern() const { return pattern_; }
  // How many groups it has (not counting group 0), and the names of the named ones.
  int groupCount() const { return groups_; }
  const std::vector<std::pair<std::string, int>>& names() const { return names_; }

 private:
  Regex() = default;
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8
  int groups_ = 0;
  std::vector<std::pair<std::string, int>> names_;
};

}  // namespace surge::nginx_compat
