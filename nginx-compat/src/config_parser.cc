#include "surge/nginx_compat/config_parser.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

namespace surge::nginx_compat {
namespace {

using base::Done;
using base::fail;
using base::Result;

std::string errnoText(int err) {
  return std::system_category().message(err);
}

// ---------------------------------------------------------------------------------------------
// Files

struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};

struct FileData {
  std::string text;
  FileId id;
};

// The error is the reason only ("No such file or directory"); callers add the path.
Result<FileData, std::string> readFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return fail(errnoText(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  struct stat st;
  if (::fstat(fd, &st) != 0) return fail(errnoText(errno));
  if (S_ISDIR(st.st_mode)) return fail(errnoText(EISDIR));
  const std::string too_large =
      "larger than " + std::to_string(kMaxConfigFileBytes / (1024 * 1024)) + " MiB";
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > kMaxConfigFileBytes) {
    return fail(too_large);
  }

  FileData data;
  data.id = FileId{st.st_dev, st.st_ino};
  // The size is checked again while reading: the file may grow, or not be a regular file.
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errnoText(errno));
    }
    if (n == 0) break;
    if (data.text.size() + static_cast<size_t>(n) > kMaxConfigFileBytes) return fail(too_large);
    data.text.append(buf, static_cast<size_t>(n));
  }
  return data;
}

std::string joinPath(const std::string& base, const std::string& rel) {
  if (base.empty() || (!rel.empty() && rel.front() == '/')) return rel;
  if (base.back() == '/') return base + rel;
  return base + "/" + rel;
}

std::string dirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// ---------------------------------------------------------------------------------------------
// Lexer

struct Token {
  enum Kind { kWord, kSemicolon, kOpen, kClose, kEnd };
  Kind kind = kEnd;
  std::string text;  // kWord: the value, escapes resolved
  bool quoted = false;
  int line = 0;  // where the token starts
};

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// nginx's escape rules (ngx_conf_read_token): unknown escapes keep their backslash.
std::string unescape(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\\' && i + 1 < raw.size()) {
      char next = raw[i + 1];
      switch (next) {
        case '"':
        case '\'':
        case '\\':
          out.push_back(next);
          ++i;
          continue;
        case 'n':
          out.push_back('\n');
          ++i;
          continue;
        case 't':
          out.push_back('\t');
          ++i;
          continue;
        case 'r':
          out.push_back('\r');
          ++i;
          continue;
        default:
          break;
      }
    }
    out.push_back(c);
  }
  return out;
}

class Lexer {
 public:
  Lexer(std::string_view text, const std::string& file) : text_(text), file_(file) {
    // The last line is the one holding the last byte: a final newline does not start a line.
    std::string_view body = text;
    if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
    eof_line_ = 1 + static_cast<int>(std::count(body.begin(), body.end(), '\n'));
  }

  std::string where(int line) const { return file_ + ":" + std::to_string(line) + ": "; }
  int eofLine() const { return eof_line_; }

  Result<Token, std::string> next() {
    skipSpaceAndComments();
    Token token;
    token.line = line_;
    if (pos_ == text_.size()) {
      token.kind = Token::kEnd;
      token.line = eof_line_;
      return token;
    }
    char c = text_[pos_];
    switch (c) {
      case ';':
        ++pos_;
        token.kind = Token::kSemicolon;
        return token;
      case '{':
        ++pos_;
        token.kind = Token::kOpen;
        return token;
      case '}':
        ++pos_;
        token.kind = Token::kClose;
        return token;
      case '"':
      case '\'':
        return quotedWord(token);
      default:
        return plainWord(token);
    }
  }

 private:
  void skipSpaceAndComments() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '#') {
        size_t eol = text_.find('\n', pos_);
        pos_ = eol == std::string_view::npos ? text_.size() : eol;
      } else if (isSpace(c)) {
        if (c == '\n') ++line_;
        ++pos_;
      } else {
        return;
      }
    }
  }

  // Steps over a backslash and the character it escapes (which may be a newline).
  void skipEscape() {
    ++pos_;
    if (pos_ < text_.size()) {
      if (text_[pos_] == '\n') ++line_;
      ++pos_;
    }
  }

  Result<Token, std::string> quotedWord(Token& token) {
    const char quote = text_[pos_];
    const size_t start = ++pos_;
    for (;;) {
      if (pos_ == text_.size()) return fail(where(token.line) + "unterminated quoted string");
      char c = text_[pos_];
      if (c == quote) break;
      if (c == '\\') {
        skipEscape();
        continue;
      }
      if (c == '\n') ++line_;
      ++pos_;
    }
    token.kind = Token::kWord;
    token.quoted = true;
    token.text = unescape(text_.substr(start, pos_ - start));
    ++pos_;  // the closing quote
    if (pos_ < text_.size()) {
      char c = text_[pos_];
      if (!isSpace(c) && c != ';' && c != '{' && c != '}' && c != ')') {
        return fail(where(line_) + "unexpected \"" + std::string(1, c) + "\"");
      }
    }
    return std::move(token);
  }

  Result<Token, std::string> plainWord(Token& token) {
    const size_t start = pos_;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\\') {
        skipEscape();
        continue;
      }
      if (c == '$' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '{') {
        pos_ += 2;
        continue;
      }
      if (isSpace(c) || c == ';' || c == '{') break;
      ++pos_;
    }
    token.kind = Token::kWord;
    token.text = unescape(text_.substr(start, pos_ - start));
    return std::move(token);
  }

  std::string_view text_;
  const std::string& file_;
  size_t pos_ = 0;
  int line_ = 1;
  int eof_line_ = 1;
};

// ---------------------------------------------------------------------------------------------
// Parser

bool isValidName(std::string_view name) {
  if (name.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(name.front())) return false;
  for (char c : name) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '.' && c != '-') return false;
  }
  return true;
}

// Blocks whose entries are data, not directives (see the header).
bool isDataBlock(std::string_view name) {
  return name == "types" || name == "map" || name == "geo" || name == "split_clients" ||
         name == "charset_map";
}

class Parser {
 public:
  explicit Parser(std::string base_dir) : base_dir_(std::move(base_dir)) {}

  // Parses one file's text, appending its directives to `out`. `include_depth` is 0 for the main
  // file; `block_depth` is how deep in blocks the file is included; `data` says whether it is
  // included inside a data block.
  Result<Done, std::string> parseText(std::string_view text, const std::string& file,
                                      int include_depth, int block_depth, bool data,
                                      std::vector<Directive>& out) {
    if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
      int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + nul, '\n'));
      return fail(file + ":" + std::to_string(line) + ": unexpected NUL byte");
    }
    Lexer lexer(text, file);
    return parseBlock(lexer, file, include_depth, block_depth, 0, data, out);
  }

  std::vector<FileId>& openFiles() { return open_files_; }

 private:
  // Reads directives up to the `}` that closes the block opened at `open_line` (0: up to the end
  // of the file).
  Result<Done, std::string> parseBlock(Lexer& lexer, const std::string& file, int include_depth,
                                       int block_depth, int open_line, bool data,
                                       std::vector<Directive>& out) {
    for (;;) {
      auto token = lexer.next();
      if (!token) return fail(token.error());
      switch (token->kind) {
        case Token::kEnd:
          if (open_line > 0) {
            return fail(lexer.where(token->line) +
                        "unexpected end of file, expecting \"}\" (block opened at line " +
                        std::to_string(open_line) + ")");
          }
          return Done{};
        case Token::kClose:
          if (open_line == 0) return fail(lexer.where(token->line) + "unexpected \"}\"");
          return Done{};
        case Token::kSemicolon:
          return fail(lexer.where(token->line) + "unexpected \";\"");
        case Token::kOpen:
          return fail(lexer.where(token->line) + "unexpected \"{\"");
        case Token::kWord:
          break;
      }

      if (!data) {
        if (token->quoted) {
          return fail(lexer.where(token->line) + "directive name \"" + token->text +
                      "\" must not be quoted");
        }
        if (!isValidName(token->text)) {
          return fail(lexer.where(token->line) + "invalid directive name \"" + token->text +
                      "\" (letters, digits, _ . -, starting with a letter or _)");
        }
      }
      Directive d;
      d.name = std::move(token->text);
      d.file = file;
      d.line = token->line;
      auto rest = parseRest(lexer, file, include_depth, block_depth, d);
      if (!rest) return rest;

      if (d.name == "include") {
        auto included = include(d, include_depth, block_depth, data, out);
        if (!included) return included;
      } else {
        out.push_back(std::move(d));
      }
    }
  }

  // The arguments of `d` and its block, if any.
  Result<Done, std::string> parseRest(Lexer& lexer, const std::string& file, int include_depth,
                                      int block_depth, Directive& d) {
    for (;;) {
      auto token = lexer.next();
      if (!token) return fail(token.error());
      switch (token->kind) {
        case Token::kWord:
          d.args.push_back(std::move(token->text));
          continue;
        case Token::kSemicolon:
          return Done{};
        case Token::kOpen:
          if (block_depth + 1 > kMaxBlockDepth) {
            return fail(lexer.where(token->line) + "blocks nested more than " +
                        std::to_string(kMaxBlockDepth) + " levels deep");
          }
          d.has_block = true;
          return parseBlock(lexer, file, include_depth, block_depth + 1, token->line,
                            isDataBlock(d.name), d.block);
        case Token::kClose:
          return fail(lexer.where(token->line) + "unexpected \"}\"");
        case Token::kEnd:
          return fail(lexer.where(token->line) +
                      "unexpected end of file, expecting \";\" or \"}\"");
      }
    }
  }

  Result<Done, std::string> include(const Directive& d, int include_depth, int block_depth,
                                    bool data, std::vector<Directive>& out) {
    const std::string where = locationOf(d) + ": ";
    if (d.has_block) return fail(where + "\"include\" directive is not terminated by \";\"");
    if (d.args.size() != 1)
      return fail(where + "invalid number of arguments in \"include\" directive");

    const std::string pattern = joinPath(base_dir_, d.args[0]);
    std::vector<std::string> paths;
    if (pattern.find_first_of("*?[") == std::string::npos) {
      paths.push_back(pattern);
    } else {
      glob_t g;
      std::memset(&g, 0, sizeof g);
      int rc = ::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g);
      if (rc == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i)
          paths.emplace_back(g.gl_pathv[i]);
      }
      ::globfree(&g);
      if (rc != 0 && rc != GLOB_NOMATCH) {
        return fail(where + "include " + pattern + ": " +
                    (rc == GLOB_NOSPACE ? "out of memory" : "cannot read a directory"));
      }
      // Byte order, not the locale's collation glob(3) would use: the same tree always gives the
      // same order.
      std::sort(paths.begin(), paths.end());
    }

    for (const std::string& path : paths) {
      if (include_depth + 1 > kMaxIncludeDepth) {
        return fail(where + "include " + path + ": includes nested more than " +
                    std::to_string(kMaxIncludeDepth) + " levels deep");
      }
      auto file = readFile(path);
      if (!file) return fail(where + "include " + path + ": " + file.error());
      if (std::find(open_files_.begin(), open_files_.end(), file->id) != open_files_.end()) {
        return fail(where + "include " + path + ": include cycle (the file is already being read)");
      }
      open_files_.push_back(file->id);
      auto parsed = parseText(file->text, path, include_depth + 1, block_depth, data, out);
      open_files_.pop_back();
      if (!parsed) return parsed;
    }
    return Done{};
  }

  std::string base_dir_;
  std::vector<FileId> open_files_;  // the include chain, to refuse cycles
};

// Parses a decimal number of at most `max`; false on anything else (sign, empty, overflow).
bool parseDigits(std::string_view digits, uint64_t max, uint64_t& value) {
  if (digits.empty()) return false;
  value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (max - digit) / 10) return false;
    value = value * 10 + digit;
  }
  return true;
}

}  // namespace

Result<std::vector<Directive>, std::string> parseConfigFile(const std::string& path) {
  auto file = readFile(path);
  if (!file) return fail(path + ": " + file.error());
  Parser parser(dirName(path));
  parser.openFiles().push_back(file->id);
  std::vector<Directive> out;
  auto parsed = parser.parseText(file->text, path, 0, 0, false, out);
  if (!parsed) return fail(parsed.error());
  return out;
}

Result<std::vector<Directive>, std::string> parseConfigText(std::string_view text,
                                                            const std::string& file_name,
                                                            const std::string& base_dir) {
  Parser parser(base_dir);
  std::vector<Directive> out;
  auto parsed = parser.parseText(text, file_name, 0, 0, false, out);
  if (!parsed) return fail(parsed.error());
  return out;
}

std::string locationOf(const Directive& d) {
  return d.file + ":" + std::to_string(d.line);
}

namespace {

using TimeUnit = std::pair<std::string_view, uint64_t>;

// nginx's ngx_parse_time: one or more NUMBER UNIT parts, units largest first and each once
// ("1h30m"); a bare number is seconds and stands alone or last. The total in the smallest
// unit's terms; kInvalid when the grammar is broken, kTooLarge above `max`.
enum class TimeError { kNone, kInvalid, kTooLarge };
TimeError parseTime(std::string_view text, const TimeUnit* units, size_t count, uint64_t max,
                    uint64_t& total) {
  size_t next_unit = 0;  // units before this one are used up
  total = 0;
  std::string_view rest = text;
  if (rest.empty()) return TimeError::kInvalid;
  while (!rest.empty()) {
    size_t digits_end = 0;
    while (digits_end < rest.size() && rest[digits_end] >= '0' && rest[digits_end] <= '9')
      ++digits_end;
    if (digits_end == 0) return TimeError::kInvalid;
    std::string_view digits = rest.substr(0, digits_end);
    rest.remove_prefix(digits_end);
    size_t unit_end = 0;
    while (unit_end < rest.size() && (rest[unit_end] < '0' || rest[unit_end] > '9'))
      ++unit_end;
    std::string_view unit = rest.substr(0, unit_end);
    rest.remove_prefix(unit_end);
    if (unit.empty()) {
      if (!rest.empty()) return TimeError::kInvalid;
      unit = "s";
    }
    size_t u = next_unit;
    while (u < count && units[u].first != unit)
      ++u;
    if (u == count) return TimeError::kInvalid;  // unknown, repeated or out of order
    next_unit = u + 1;
    const uint64_t scale = units[u].second;
    uint64_t value = 0;
    if (!parseDigits(digits, max / scale, value)) return TimeError::kTooLarge;
    total += value * scale;
    if (total > max) return TimeError::kTooLarge;
  }
  return TimeError::kNone;
}

}  // namespace

Result<std::chrono::milliseconds, std::string> parseDuration(std::string_view text) {
  static constexpr TimeUnit kUnits[] = {{"w", 7ull * 24 * 60 * 60 * 1000},
                                        {"d", 24ull * 60 * 60 * 1000},
                                        {"h", 60ull * 60 * 1000},
                                        {"m", 60ull * 1000},
                                        {"s", 1000},
                                        {"ms", 1}};
  const uint64_t max_ms = static_cast<uint64_t>(kMaxDuration.count());
  uint64_t total = 0;
  switch (parseTime(text, kUnits, std::size(kUnits), max_ms, total)) {
    case TimeError::kInvalid:
      return fail("invalid duration \"" + std::string(text) + "\" (examples: 500ms, 10s, 5m)");
    case TimeError::kTooLarge:
      return fail("duration \"" + std::string(text) + "\" is too large (at most " +
                  std::to_string(max_ms) + "ms, about 24.8 days)");
    case TimeError::kNone:
      break;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(total));
}

Result<int64_t, std::string> parseSeconds(std::string_view text) {
  // ngx_parse_time in seconds: years and months (30 days) too, no milliseconds.
  static constexpr TimeUnit kUnits[] = {{"y", 365ull * 24 * 60 * 60},
                                        {"M", 30ull * 24 * 60 * 60},
                                        {"w", 7ull * 24 * 60 * 60},
                                        {"d", 24ull * 60 * 60},
                                        {"h", 60ull * 60},
                                        {"m", 60},
                                        {"s", 1}};
  uint64_t total = 0;
  switch (parseTime(text, kUnits, std::size(kUnits), INT32_MAX, total)) {
    case TimeError::kInvalid:
      return fail("invalid time \"" + std::string(text) + "\" (examples: 30s, 1h, 7d, 1y)");
    case TimeError::kTooLarge:
      return fail("time \"" + std::string(text) + "\" is too large");
    case TimeError::kNone:
      break;
  }
  return static_cast<int64_t>(total);
}

Result<uint64_t, std::string> parseSize(std::string_view text) {
  auto invalid = [&] {
    return fail("invalid size \"" + std::string(text) + "\" (examples: 512, 16k, 1m, 1g)");
  };
  if (text.empty()) return invalid();
  uint64_t multiplier = 1;
  std::string_view digits = text;
  switch (text.back()) {
    case 'k':
    case 'K':
      multiplier = uint64_t{1} << 10;
      break;
    case 'm':
    case 'M':
      multiplier = uint64_t{1} << 20;
      break;
    case 'g':
    case 'G':
      multiplier = uint64_t{1} << 30;
      break;
    default:
      break;
  }
  if (multiplier != 1) digits.remove_suffix(1);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return invalid();
  }
  uint64_t value = 0;
  if (!parseDigits(digits, UINT64_MAX / multiplier, value)) {
    return fail("size \"" + std::string(text) + "\" is too large");
  }
  return value * multiplier;
}

}  // namespace surge::nginx_compat
