#include "surge/origin/booking_store.h"

#include <openssl/rand.h>

#include "surge/cache/hmac.h"
#include "surge/cache/keyring.h"
#include "surge/origin/booking_code.h"
#include "surge/origin/calendar.h"
#include "surge/origin/json_text.h"

namespace surge::origin {

std::string bookingIdTimePrefix(int64_t unix_ms) {
  std::string raw(6, '\0');
  for (int i = 0; i < 6; ++i)
    raw[static_cast<size_t>(i)] = static_cast<char>(unix_ms >> (40 - 8 * i));
  return cache::encodeHex(raw);
}

void appendBookingFields(std::string& out, int64_t clinic_id, int32_t day, int16_t minute,
                         std::string_view person_id) {
  out += "\"clinic_id\":";
  out += std::to_string(clinic_id);
  out += ",\"date\":\"";
  appendDate(out, day);
  out += "\",\"time\":\"";
  appendTime(out, minute);
  out += "\",\"person_id\":";
  appendJsonString(out, person_id);
}

StoredResponse bookingRefusal(std::string_view code) {
  struct Refusal {
    std::string_view code;
    int status;
    const char* message;
  };
  static constexpr Refusal kRefusals[] = {
      {"slot_full", 409, "this time slot has no seats left"},
      {"person_already_booked", 409, "this person already has an active booking"},
      {"ticket_already_used", 409, "this ticket has already booked"},
      {"slot_past", 409, "this time slot has already begun; pick a later one"},
      {"unknown_slot", 404, "no such slot"},
      {"idempotency_key_reused", 422, "this Idempotency-Key was used with a different request"},
  };
  for (const Refusal& r : kRefusals) {
    if (r.code == code) return StoredResponse{r.status, jsonError(r.code, r.message), false};
  }
  return StoredResponse{503, jsonError("store_unavailable", "unknown answer from the store"),
                        false};
}

std::vector<StoredResponse> BookingStore::createBookings(
    const std::vector<const NewBooking*>& bookings) {
  std::vector<StoredResponse> answers;
  answers.reserve(bookings.size());
  for (const NewBooking* b : bookings)
    answers.push_back(createBooking(*b));
  return answers;
}

bool issueCredentials(NewBooking& b) {
  // 6 random bytes after the time prefix for the id, 32 for the token, 5 for the booking code.
  unsigned char raw[43];
  if (RAND_bytes(raw, sizeof raw) != 1) return false;
  b.booking_id = bookingIdTimePrefix(b.now_ms) +
                 cache::encodeHex(std::string_view(reinterpret_cast<char*>(raw), 6));
  b.token.assign(reinterpret_cast<const char*>(raw + 6), 32);
  std::string token_hex = cache::encodeHex(b.token);
  cache::Sha256Digest digest = cache::sha256({token_hex});
  b.token_sha256.assign(reinterpret_cast<const char*>(digest.data()), digest.size());
  b.code = bookingCodeOf(raw + 38);
  cache::Sha256Digest code_digest = bookingCodeDigest(b.code);
  b.code_sha256.assign(reinterpret_cast<const char*>(code_digest.data()), code_digest.size());
  b.created_body = createdBody(b.booking_id, b.token, b.code, b.clinic_id, b.day, b.minute,
                               b.person_id, b.now_ms);
  return true;
}

bool issueToken(FreshToken& fresh) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return false;
  fresh.token.assign(reinterpret_cast<const char*>(raw), sizeof raw);
  cache::Sha256Digest digest = cache::sha256({cache::encodeHex(fresh.token)});
  fresh.token_sha256.assign(reinterpret_cast<const char*>(digest.data()), digest.size());
  return true;
}

std::string createdBody(std::string_view booking_id, std::string_view token, std::string_view code,
                        int64_t clinic_id, int32_t day, int16_t minute, std::string_view person_id,
                        int64_t created_ms) {
  std::string body;
  body.reserve(272);
  body += "{\"booking_id\":\"";
  body += booking_id;
  body += "\",\"token\":\"";
  body += cache::encodeHex(token);
  body += "\",";
  if (!code.empty()) {
    body += "\"code\":\"";
    body += displayBookingCode(code);
    body += "\",";
  }
  appendBookingFields(body, clinic_id, day, minute, person_id);
  body += ",\"status\":\"active\",\"created_at\":\"";
  body += formatTimestamp(created_ms);
  body += "\"}";
  return body;
}

}  // namespace surge::origin
