// The body of POST /api/v1/bookings: {"clinic_id":N,"date":"YYYY-MM-DD","time":"HH:MM",
// "person_id":"..."}, nothing else. Parsed on the HTTP threads of every booking, so the common
// shape (no escapes, no surprises) takes a direct path; anything else goes through a full JSON
// parser, and both paths give the same answer for every input (a fuzz target compares them).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "surge/base/result.h"

namespace surge::origin {

struct BookingRequest {
  int64_t clinic_id = 0;
  int32_t day = 0;
  int16_t minute = 0;
  std::string date;  // as sent, for the idempotency digest
  std::string time;
  std::string person_id;
};

struct RequestError {
  int status = 400;
  std::string code;  // invalid_json, invalid_body, unknown_field, missing_field, invalid_field
  std::string message;
};

base::Result<BookingRequest, RequestError> parseBookingRequest(std::string_view body);

// The full-parser path alone (for the differential fuzz target and tests).
base::Result<BookingRequest, RequestError> parseBookingRequestSlow(std::string_view body);

bool isValidPersonId(std::string_view id);

}  // namespace surge::origin
