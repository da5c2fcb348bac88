#include "surge/origin/time_zone.h"

#include <algorithm>
#include <optional>

#include "surge/base/file.h"
#include "surge/origin/calendar.h"

namespace surge::origin {
namespace {

int64_t floorDiv(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

uint32_t be32(std::string_view d, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(d[at])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(d[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(d[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(d[at + 3]));
}

int64_t be64(std::string_view d, size_t at) {
  return static_cast<int64_t>((static_cast<uint64_t>(be32(d, at)) << 32) | be32(d, at + 4));
}

// Up to `max_digits` decimal digits at `s` (at least one); advances `s`.
bool readNumber(std::string_view& s, size_t max_digits, int32_t& out) {
  size_t n = 0;
  out = 0;
  while (n < s.size() && n < max_digits && s[n] >= '0' && s[n] <= '9') {
    out = out * 10 + (s[n] - '0');
    ++n;
  }
  s.remove_prefix(n);
  return n > 0;
}

// [+-]hh[:mm[:ss]] at `s`, as seconds; advances `s`. POSIX TZ offsets and rule times.
bool readClock(std::string_view& s, int32_t& out, bool allow_sign) {
  int sign = 1;
  if (allow_sign && !s.empty() && (s[0] == '+' || s[0] == '-')) {
    sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
  }
  int32_t parts[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (s.empty() || s[0] != ':') break;
      s.remove_prefix(1);
    }
    if (!readNumber(s, 3, parts[i])) return false;
  }
  if (parts[0] > 167 || parts[1] > 59 || parts[2] > 59) return false;
  out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
  return true;
}

// A zone abbreviation: letters, or <...> quoted.
bool readAbbreviation(std::string_view& s) {
  if (!s.empty() && s[0] == '<') {
    size_t end = s.find('>');
    if (end == std::string_view::npos) return false;
    s.remove_prefix(end + 1);
    return true;
  }
  size_t n = 0;
  while (n < s.size() && ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z')))
    ++n;
  if (n < 3) return false;
  s.remove_prefix(n);
  return true;
}

// Mm.w.d[/time]
bool readDateRule(std::string_view& s, int& month, int& week, int& weekday, int32_t& time) {
  if (s.empty() || s[0] != 'M') return false;  // Jn and n forms: not used by tzdata's zones
  s.remove_prefix(1);
  int* fields[3] = {&month, &week, &weekday};
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (s.empty() || s[0] != '.') return false;
      s.remove_prefix(1);
    }
    int32_t v = 0;
    if (!readNumber(s, 2, v)) return false;
    *fields[i] = v;
  }
  if (month < 1 || month > 12 || week < 1 || week > 5 || weekday > 6) return false;
  time = 7200;
  if (!s.empty() && s[0] == '/') {
    s.remove_prefix(1);
    if (!readClock(s, time, true)) return false;
  }
  return true;
}

bool parseRule(std::string_view s, TimeZone::Rule& rule) {
  int32_t posix = 0;
  if (!readAbbreviation(s) || !readClock(s, posix, true)) return false;
  rule.std_offset = -posix;  // POSIX counts west of Greenwich
  if (s.empty()) return true;
  if (!readAbbreviation(s)) return false;
  rule.has_dst = true;
  rule.dst_offset = rule.std_offset + 3600;
  if (!s.empty() && s[0] != ',') {
    if (!readClock(s, posix, true)) return false;
    rule.dst_offset = -posix;
  }
  if (s.empty() || s[0] != ',') return false;
  s.remove_prefix(1);
  if (!readDateRule(s, rule.start_month, rule.start_week, rule.start_weekday, rule.start_time)) {
    return false;
  }
  if (s.empty() || s[0] != ',') return false;
  s.remove_prefix(1);
  if (!readDateRule(s, rule.end_month, rule.end_week, rule.end_weekday, rule.end_time)) {
    return false;
  }
  return s.empty();
}

// The day of the `week`-th (5: last) `wd` of `month` in `year`.
int32_t ruleDay(int year, int month, int week, int wd) {
  int32_t first = civilDay(year, month, 1);
  int32_t day = first + (wd - weekday(first) + 7) % 7 + (week - 1) * 7;
  int next_year = month == 12 ? year + 1 : year;
  int next_month = month == 12 ? 1 : month + 1;
  while (day >= civilDay(next_year, next_month, 1))
    day -= 7;
  return day;
}

bool validZoneName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] == '/' || name[0] == '.') return false;
  if (name.find("..") != std::string_view::npos) return false;
  return name.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") ==
         std::string_view::npos;
}

}  // namespace

TimeZone::TimeZone() : name_("UTC") {}

base::Result<TimeZone, std::string> TimeZone::load(std::string_view name,
                                                   const std::string& zoneinfo_dir) {
  if (name == "UTC" || name == "Etc/UTC") {
    TimeZone z;
    z.name_ = std::string(name);
    return z;
  }
  if (!name.empty() && (name[0] == '+' || name[0] == '-')) {
    std::string_view rest = name;
    int32_t offset = 0;
    if (name.size() != 6 || name[3] != ':' || !readClock(rest, offset, true) || !rest.empty() ||
        offset < -14 * 3600 || offset > 14 * 3600) {
      return base::fail("time zone \"" + std::string(name) +
                        "\": a fixed offset is +HH:MM or -HH:MM, within 14 hours");
    }
    TimeZone z;
    z.name_ = std::string(name);
    z.initial_offset_ = offset;
    return z;
  }
  if (!validZoneName(name)) {
    return base::fail("time zone \"" + std::string(name) +
                      "\" is not a tz database name like Asia/Seoul, UTC or +09:00");
  }
  std::optional<std::string> data = base::readFile(zoneinfo_dir + "/" + std::string(name));
  if (!data) {
    return base::fail("unknown time zone \"" + std::string(name) + "\" (no " + zoneinfo_dir + "/" +
                      std::string(name) + "; is tzdata installed?)");
  }
  return fromTzif(name, *data);
}

base::Result<TimeZone, std::string> TimeZone::fromTzif(std::string_view name, std::string_view d) {
  auto bad = [&](const char* why) {
    return base::fail("time zone \"" + std::string(name) + "\": " + why);
  };
  if (d.size() < 44 || d.substr(0, 4) != "TZif") return bad("not a TZif file");
  char version = d[4];
  // Header counts: isutcnt isstdcnt leapcnt timecnt typecnt charcnt.
  auto counts = [&](size_t at, uint32_t c[6]) {
    for (int i = 0; i < 6; ++i)
      c[i] = be32(d, at + 20 + 4 * static_cast<size_t>(i));
  };
  auto blockSize = [](const uint32_t c[6], size_t time_bytes) {
    return static_cast<size_t>(c[3]) * time_bytes + c[3] + static_cast<size_t>(c[4]) * 6 + c[5] +
           static_cast<size_t>(c[2]) * (time_bytes + 4) + c[1] + c[0];
  };
  uint32_t c[6];
  counts(0, c);
  size_t at = 44;
  size_t time_bytes = 4;
  if (version >= '2') {
    // The 64-bit block follows the 32-bit one (RFC 8536 section 3.2): skip to it.
    at += blockSize(c, 4);
    if (d.size() < at + 44 || d.substr(at, 4) != "TZif") return bad("truncated TZif file");
    counts(at, c);
    at += 44;
    time_bytes = 8;
  }
  if (c[4] == 0 || c[4] > 256 || c[3] > 100000) return bad("malformed TZif file");
  if (d.size() < at + blockSize(c, time_bytes)) return bad("truncated TZif file");
  TimeZone z;
  z.name_ = std::string(name);
  const size_t times_at = at;
  const size_t index_at = times_at + c[3] * time_bytes;
  const size_t types_at = index_at + c[3];
  auto typeOffset = [&](uint32_t type) {
    return static_cast<int32_t>(be32(d, types_at + 6 * type));
  };
  z.initial_offset_ = typeOffset(0);
  for (uint32_t i = 0; i < c[3]; ++i) {
    int64_t t = time_bytes == 8 ? be64(d, times_at + 8 * i)
                                : static_cast<int32_t>(be32(d, times_at + 4 * i));
    auto type = static_cast<unsigned char>(d[index_at + i]);
    if (type >= c[4]) return bad("malformed TZif file");
    if (!z.transitions_.empty() && t <= z.transitions_.back()) return bad("unordered transitions");
    z.transitions_.push_back(t);
    z.offsets_.push_back(typeOffset(type));
  }
  if (version >= '2') {
    size_t footer = at + blockSize(c, time_bytes);
    if (footer < d.size() && d[footer] == '\n') {
      size_t end = d.find('\n', footer + 1);
      std::string_view rule = end == std::string_view::npos
                                  ? std::string_view()
                                  : d.substr(footer + 1, end - footer - 1);
      if (!rule.empty()) z.has_rule_ = parseRule(rule, z.rule_);
    }
  }
  return z;
}

int32_t TimeZone::ruleOffsetAt(int64_t unix_s) const {
  if (!rule_.has_dst) return rule_.std_offset;
  int year = 0, month = 0, day = 0;
  civilDate(static_cast<int32_t>(floorDiv(unix_s + rule_.std_offset, 86400)), year, month, day);
  // Daylight time begins at a local standard-time clock reading and ends at a daylight one.
  int64_t start = static_cast<int64_t>(
                      ruleDay(year, rule_.start_month, rule_.start_week, rule_.start_weekday)) *
                      86400 +
                  rule_.start_time - rule_.std_offset;
  int64_t end =
      static_cast<int64_t>(ruleDay(year, rule_.end_month, rule_.end_week, rule_.end_weekday)) *
          86400 +
      rule_.end_time - rule_.dst_offset;
  bool dst = start < end ? (unix_s >= start && unix_s < end) : (unix_s < end || unix_s >= start);
  return dst ? rule_.dst_offset : rule_.std_offset;
}

int32_t TimeZone::offsetAt(int64_t unix_s) const {
  if (transitions_.empty()) return has_rule_ ? ruleOffsetAt(unix_s) : initial_offset_;
  if (unix_s < transitions_.front()) return initial_offset_;
  size_t i =
      static_cast<size_t>(std::upper_bound(transitions_.begin(), transitions_.end(), unix_s) -
                          transitions_.begin() - 1);
  if (i + 1 == transitions_.size() && has_rule_) return ruleOffsetAt(unix_s);
  return offsets_[i];
}

LocalTime TimeZone::localTime(int64_t unix_ms) const {
  int64_t s = floorDiv(unix_ms, 1000);
  int64_t local = s + offsetAt(s);
  int64_t day = floorDiv(local, 86400);
  return LocalTime{static_cast<int32_t>(day), static_cast<int32_t>(local - day * 86400)};
}

}  // namespace surge::origin
