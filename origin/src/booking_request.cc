#include "surge/origin/booking_request.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "surge/origin/calendar.h"

namespace surge::origin {
namespace {

using base::fail;

RequestError invalid(std::string code, std::string message) {
  return RequestError{400, std::move(code), std::move(message)};
}

// Checks the values once the fields are known, for both paths.
base::Result<BookingRequest, RequestError> finish(int64_t clinic_id, std::string_view date,
                                                  std::string_view time, std::string_view person) {
  auto day = parseDate(date);
  if (!day) return fail(invalid("invalid_field", "date must be YYYY-MM-DD"));
  auto minute = parseTime(time);
  if (!minute) return fail(invalid("invalid_field", "time must be HH:MM"));
  if (!isValidPersonId(person)) {
    return fail(invalid("invalid_field", "person_id must be 1-64 characters of A-Z a-z 0-9 . _ -"));
  }
  BookingRequest r;
  r.clinic_id = clinic_id;
  r.day = *day;
  r.minute = *minute;
  r.date = std::string(date);
  r.time = std::string(time);
  r.person_id = std::string(person);
  return r;
}

// The direct path: a flat object of the four known keys, each once, integer clinic_id without
// sign, exponent, fraction or leading zero, strings without escapes or control bytes. Returns
// nullopt for anything else, which the full parser then decides.
std::optional<base::Result<BookingRequest, RequestError>> parseSimple(std::string_view s) {
  size_t i = 0;
  auto ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
      ++i;
  };
  auto string = [&](std::string_view& out) {
    if (i >= s.size() || s[i] != '"') return false;
    size_t start = ++i;
    while (i < s.size() && s[i] != '"') {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == '\\' || c < 0x20 || c >= 0x80) return false;
      ++i;
    }
    if (i >= s.size()) return false;
    out = s.substr(start, i - start);
    ++i;
    return true;
  };
  std::string_view date, time, person;
  int64_t clinic = 0;
  bool seen[4] = {false, false, false, false};
  ws();
  if (i >= s.size() || s[i] != '{') return std::nullopt;
  ++i;
  for (int field = 0; field < 4; ++field) {
    ws();
    std::string_view key;
    if (!string(key)) return std::nullopt;
    ws();
    if (i >= s.size() || s[i] != ':') return std::nullopt;
    ++i;
    ws();
    if (key == "clinic_id" && !seen[0]) {
      size_t start = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9')
        ++i;
      size_t digits = i - start;
      if (digits == 0 || digits > 15 || (digits > 1 && s[start] == '0')) return std::nullopt;
      if (i < s.size() && (s[i] == '.' || s[i] == 'e' || s[i] == 'E')) return std::nullopt;
      clinic = 0;
      for (size_t k = start; k < i; ++k)
        clinic = clinic * 10 + (s[k] - '0');
      seen[0] = true;
    } else if (key == "date" && !seen[1]) {
      if (!string(date)) return std::nullopt;
      seen[1] = true;
    } else if (key == "time" && !seen[2]) {
      if (!string(time)) return std::nullopt;
      seen[2] = true;
    } else if (key == "person_id" && !seen[3]) {
      if (!string(person)) return std::nullopt;
      seen[3] = true;
    } else {
      return std::nullopt;
    }
    ws();
    if (i >= s.size()) return std::nullopt;
    if (field < 3) {
      if (s[i] != ',') return std::nullopt;
      ++i;
    } else if (s[i] != '}') {
      return std::nullopt;
    }
  }
  ++i;
  ws();
  if (i != s.size()) return std::nullopt;
  return finish(clinic, date, time, person);
}

}  // namespace

bool isValidPersonId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

base::Result<BookingRequest, RequestError> parseBookingRequestSlow(std::string_view body) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return fail(invalid("invalid_json", "the body is not valid JSON"));
  if (!json.is_object()) return fail(invalid("invalid_body", "the body must be a JSON object"));
  for (auto it = json.begin(); it != json.end(); ++it) {
    const std::string& k = it.key();
    if (k != "clinic_id" && k != "date" && k != "time" && k != "person_id") {
      return fail(invalid("unknown_field", "unknown field \"" + k + "\""));
    }
  }
  auto field = [&](const char* name) -> const nlohmann::json* {
    auto it = json.find(name);
    return it == json.end() ? nullptr : &*it;
  };
  const nlohmann::json* clinic_id = field("clinic_id");
  const nlohmann::json* date = field("date");
  const nlohmann::json* time = field("time");
  const nlohmann::json* person = field("person_id");
  if (!clinic_id || !date || !time || !person) {
    return fail(invalid("missing_field", "clinic_id, date, time and person_id are required"));
  }
  int64_t clinic = 0;
  if (clinic_id->is_number_unsigned()) {
    // Beyond 2^53 no clinic exists (ids are exact in JSON numbers): 0 answers "unknown clinic".
    uint64_t v = clinic_id->get<uint64_t>();
    clinic = v <= (1ull << 53) ? static_cast<int64_t>(v) : 0;
  } else if (!clinic_id->is_number_integer()) {
    return fail(invalid("invalid_field", "clinic_id must be an integer"));
  }
  if (!date->is_string() || !time->is_string() || !person->is_string()) {
    return fail(invalid("invalid_field", "date, time and person_id must be strings"));
  }
  return finish(clinic, date->get_ref<const std::string&>(), time->get_ref<const std::string&>(),
                person->get_ref<const std::string&>());
}

base::Result<BookingRequest, RequestError> parseBookingRequest(std::string_view body) {
  if (auto simple = parseSimple(body)) return std::move(*simple);
  return parseBookingRequestSlow(body);
}

}  // namespace surge::origin
