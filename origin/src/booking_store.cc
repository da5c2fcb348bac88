#include "surge/origin/booking_store.h"

#include <openssl/rand.h>

#include "surge/cache/hmac.h"
#include "surge/cache/keyring.h"
#include "surge/origin/calendar.h"
#include "surge/origin/json_text.h"

namespace surge::origin {

bool issueCredentials(NewBooking& b) {
  // 6 bytes of time (ms) then 6 random bytes for the id; 32 random bytes for the token.
  unsigned char raw[44];
  if (RAND_bytes(raw + 6, sizeof raw - 6) != 1) return false;
  for (int i = 0; i < 6; ++i)
    raw[i] = static_cast<unsigned char>(b.now_ms >> (40 - 8 * i));
  b.booking_id = cache::encodeHex(std::string_view(reinterpret_cast<char*>(raw), 12));
  std::string token = cache::encodeHex(std::string_view(reinterpret_cast<char*>(raw + 12), 32));
  cache::Sha256Digest digest = cache::sha256({token});
  b.token_sha256.assign(reinterpret_cast<const char*>(digest.data()), digest.size());

  std::string& body = b.created_body;
  body.clear();
  body.reserve(256);
  body += "{\"booking_id\":\"";
  body += b.booking_id;
  body += "\",\"token\":\"";
  body += token;
  body += "\",\"clinic_id\":";
  body += std::to_string(b.clinic_id);
  body += ",\"date\":\"";
  appendDate(body, b.day);
  body += "\",\"time\":\"";
  appendTime(body, b.minute);
  body += "\",\"person_id\":";
  appendJsonString(body, b.person_id);
  body += ",\"status\":\"active\",\"created_at\":\"";
  body += formatTimestamp(b.now_ms);
  body += "\"}";
  return true;
}

}  // namespace surge::origin
