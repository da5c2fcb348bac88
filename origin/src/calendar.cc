#include "surge/origin/calendar.h"

#include <chrono>
#include <cstdio>

namespace surge::origin {
namespace {

// Howard Hinnant's days_from_civil / civil_from_days.
int32_t daysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int32_t>(doe) - 719468;
}

void civilFromDays(int32_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool digits(std::string_view s, size_t from, size_t count, int& out) {
  out = 0;
  for (size_t i = from; i < from + count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<int32_t> parseDate(std::string_view text) {
  int y = 0, m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' || !digits(text, 0, 4, y) ||
      !digits(text, 5, 2, m) || !digits(text, 8, 2, d)) {
    return std::nullopt;
  }
  if (y < 2000 || y > 2199 || m < 1 || m > 12 || d < 1) return std::nullopt;
  int32_t day = daysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  int yy = 0;
  unsigned mm = 0, dd = 0;
  civilFromDays(day, yy, mm, dd);
  if (static_cast<int>(dd) != d || static_cast<int>(mm) != m) return std::nullopt;  // Feb 30
  return day;
}

char* writeDate(char* out, int32_t day) {
  int y = 0;
  unsigned m = 0, d = 0;
  civilFromDays(day, y, m, d);
  if (y < 0 || y > 9999) y = 0;  // parseDate admits 2000..2199 only
  *out++ = static_cast<char>('0' + y / 1000);
  *out++ = static_cast<char>('0' + y / 100 % 10);
  *out++ = static_cast<char>('0' + y / 10 % 10);
  *out++ = static_cast<char>('0' + y % 10);
  *out++ = '-';
  *out++ = static_cast<char>('0' + m / 10);
  *out++ = static_cast<char>('0' + m % 10);
  *out++ = '-';
  *out++ = static_cast<char>('0' + d / 10);
  *out++ = static_cast<char>('0' + d % 10);
  return out;
}

void appendDate(std::string& out, int32_t day) {
  char buf[10];
  out.append(buf, writeDate(buf, day));
}

std::string formatDate(int32_t day) {
  std::string out;
  appendDate(out, day);
  return out;
}

std::optional<int16_t> parseTime(std::string_view text) {
  int h = 0, m = 0;
  if (text.size() != 5 || text[2] != ':' || !digits(text, 0, 2, h) || !digits(text, 3, 2, m)) {
    return std::nullopt;
  }
  if (h > 23 || m > 59) return std::nullopt;
  return static_cast<int16_t>(h * 60 + m);
}

char* writeTime(char* out, int16_t minute) {
  int h = minute / 60 % 100, m = minute % 60;
  if (minute < 0) h = m = 0;
  *out++ = static_cast<char>('0' + h / 10);
  *out++ = static_cast<char>('0' + h % 10);
  *out++ = ':';
  *out++ = static_cast<char>('0' + m / 10);
  *out++ = static_cast<char>('0' + m % 10);
  return out;
}

void appendTime(std::string& out, int16_t minute) {
  char buf[5];
  out.append(buf, writeTime(buf, minute));
}

std::string formatTime(int16_t minute) {
  std::string out;
  appendTime(out, minute);
  return out;
}

int32_t civilDay(int year, int month, int day) {
  return daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
}

void civilDate(int32_t day, int& year, int& month, int& day_of_month) {
  unsigned m = 0, d = 0;
  civilFromDays(day, year, m, d);
  month = static_cast<int>(m);
  day_of_month = static_cast<int>(d);
}

int weekday(int32_t day) {
  // 1970-01-01 was a Thursday (4).
  int w = static_cast<int>((static_cast<int64_t>(day) + 4) % 7);
  return w < 0 ? w + 7 : w;
}

int64_t unixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<int64_t> parseTimestamp(std::string_view t) {
  if (t.size() < 17) return std::nullopt;
  auto day = parseDate(t.substr(0, 10));
  if (!day || (t[10] != 'T' && t[10] != 't' && t[10] != ' ')) return std::nullopt;
  auto hm = parseTime(t.substr(11, 5));
  if (!hm) return std::nullopt;
  size_t i = 16;
  int seconds = 0, ms = 0;
  if (i < t.size() && t[i] == ':') {
    if (t.size() < i + 3 || !digits(t, i + 1, 2, seconds) || seconds > 60) return std::nullopt;
    i += 3;
    if (i < t.size() && t[i] == '.') {
      size_t start = ++i;
      while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
        if (i - start < 3) ms = ms * 10 + (t[i] - '0');
        ++i;
      }
      if (i == start) return std::nullopt;
      for (size_t n = i - start; n < 3; ++n)
        ms *= 10;
    }
  }
  int64_t offset_s = 0;
  if (i < t.size() && (t[i] == 'Z' || t[i] == 'z')) {
    ++i;
  } else if (i + 6 == t.size() && (t[i] == '+' || t[i] == '-') && t[i + 3] == ':') {
    int oh = 0, om = 0;
    if (!digits(t, i + 1, 2, oh) || !digits(t, i + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_s = (t[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return std::nullopt;  // a time without its offset is not an instant
  }
  if (i != t.size()) return std::nullopt;
  int64_t local_s = static_cast<int64_t>(*day) * 86400 + *hm * 60 + seconds;
  return (local_s - offset_s) * 1000 + ms;
}

std::string formatTimestamp(int64_t unix_ms) {
  int64_t seconds = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  int64_t ms = unix_ms - seconds * 1000;
  int64_t day = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
  int64_t sec_of_day = seconds - day * 86400;
  // Written digit by digit: every booking answer and every snapshot carries one, and snprintf
  // was a visible share of the origin's CPU under load.
  char buf[24];
  char* p = writeDate(buf, static_cast<int32_t>(day));
  auto two = [&p](int64_t v) {
    *p++ = static_cast<char>('0' + v / 10);
    *p++ = static_cast<char>('0' + v % 10);
  };
  *p++ = 'T';
  two(sec_of_day / 3600);
  *p++ = ':';
  two(sec_of_day / 60 % 60);
  *p++ = ':';
  two(sec_of_day % 60);
  *p++ = '.';
  *p++ = static_cast<char>('0' + ms / 100);
  two(ms % 100);
  *p++ = 'Z';
  return std::string(buf, p);
}

}  // namespace surge::origin
