// Dates and times as the API writes them ("YYYY-MM-DD", "HH:MM") and as the store keeps them
// (days since 1970-01-01, minutes since midnight). Proleptic Gregorian, no time zones: a slot's
// date and time are local to its clinic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace surge::origin {

// Strict: exactly "YYYY-MM-DD" with a real calendar day in years 2000..2199.
std::optional<int32_t> parseDate(std::string_view text);
std::string formatDate(int32_t day);

// Strict: exactly "HH:MM", 00:00 .. 23:59.
std::optional<int16_t> parseTime(std::string_view text);
std::string formatTime(int16_t minute);

// The same text as formatDate / formatTime, appended without a temporary (snapshot building).
void appendDate(std::string& out, int32_t day);
void appendTime(std::string& out, int16_t minute);
// The same again, written at `out` (10 and 5 bytes); returns the end.
char* writeDate(char* out, int32_t day);
char* writeTime(char* out, int16_t minute);

// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day 1-31), and back.
int32_t civilDay(int year, int month, int day);
void civilDate(int32_t day, int& year, int& month, int& day_of_month);
// 0 for Sunday .. 6 for Saturday.
int weekday(int32_t day);

// The wall clock, as Unix milliseconds.
int64_t unixNowMs();

// RFC 3339 in UTC with milliseconds: "2026-11-26T22:30:00.123Z".
std::string formatTimestamp(int64_t unix_ms);
// RFC 3339 back to Unix ms: "2026-12-06T09:00:00+09:00", "2026-12-06T00:00Z", fractions of a
// second allowed ("T" or a space between date and time). nullopt on anything else.
std::optional<int64_t> parseTimestamp(std::string_view text);

}  // namespace surge::origin
