#include "surge/nginx_compat/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace surge::nginx_compat {
namespace {

// One match-data block per thread, grown to the largest pattern seen: match() allocates nothing
// on the request path after the first requests.
struct ThreadMatchData {
  pcre2_match_data* data = nullptr;
  uint32_t pairs = 0;
  ~ThreadMatchData() {
    if (data) pcre2_match_data_free(data);
  }
  pcre2_match_data* get(uint32_t want) {
    if (data == nullptr || pairs < want) {
      if (data) pcre2_match_data_free(data);
      pairs = want < 16 ? 16 : want;
      data = pcre2_match_data_create(pairs, nullptr);
    }
    return data;
  }
};

}  // namespace

std::string_view Captures::group(size_t n) const {
  if (n >= groups.size() || groups[n].first == npos) return {};
  return std::string_view(subject).substr(groups[n].first, groups[n].second - groups[n].first);
}

base::Result<std::shared_ptr<const Regex>, std::string> Regex::compile(std::string_view pattern,
                                                                       bool caseless) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  // PCRE2_DUPNAMES: nginx allows a name twice; UTF is not assumed (nginx does not set it either).
  uint32_t options = PCRE2_DUPNAMES | (caseless ? PCRE2_CASELESS : 0);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   options, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    return base::fail(
        "pcre2_compile() failed: " + std::string(reinterpret_cast<char*>(message)) + " in \"" +
        std::string(pattern) + "\" at \"" +
        std::string(pattern.substr(offset < pattern.size() ? offset : pattern.size())) + "\"");
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort: the interpreter when JIT is absent
  std::shared_ptr<Regex> regex(new Regex());
  regex->pattern_ = std::string(pattern);
  regex->code_ = code;
  uint32_t count = 0;
  pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &count);
  regex->groups_ = static_cast<int>(count);
  uint32_t name_count = 0, entry_size = 0;
  PCRE2_SPTR table = nullptr;
  pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &name_count);
  pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
  pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table);
  for (uint32_t i = 0; i < name_count; ++i) {
    PCRE2_SPTR entry = table + i * entry_size;
    int group = (entry[0] << 8) | entry[1];
    regex->names_.emplace_back(reinterpret_cast<const char*>(entry + 2), group);
  }
  return std::shared_ptr<const Regex>(std::move(regex));
}

Regex::~Regex() {
  if (code_) pcre2_code_free(static_cast<pcre2_code*>(code_));
}

bool Regex::match(std::string_view subject, Captures* captures) const {
  thread_local ThreadMatchData tmd;
  auto* code = static_cast<pcre2_code*>(code_);
  pcre2_match_data* data = tmd.get(static_cast<uint32_t>(groups_) + 1);
  int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0,
                       data, nullptr);
  if (rc < 0) return false;  // no match, or a match limit reached (nginx: no match, logged)
  if (captures != nullptr) {
    captures->subject.assign(subject);
    captures->groups.assign(static_cast<size_t>(groups_) + 1, {Captures::npos, Captures::npos});
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data);
    for (int i = 0; i < rc && i <= groups_; ++i) {
      if (ov[2 * i] == PCRE2_UNSET) continue;
      captures->groups[static_cast<size_t>(i)] = {ov[2 * i], ov[2 * i + 1]};
    }
  }
  return true;
}

}  // namespace surge::nginx_compat
