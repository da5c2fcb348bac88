// Differential libFuzzer target: the direct parser of booking bodies must answer exactly like the
// full JSON parser for every input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "surge/origin/booking_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto fast = surge::origin::parseBookingRequest(body);
  auto slow = surge::origin::parseBookingRequestSlow(body);
  if (fast.ok() != slow.ok()) __builtin_trap();
  if (fast.ok()) {
    if (fast->clinic_id != slow->clinic_id || fast->date != slow->date ||
        fast->time != slow->time || fast->person_id != slow->person_id || fast->day != slow->day ||
        fast->minute != slow->minute) {
      __builtin_trap();
    }
  } else if (fast.error().code != slow.error().code) {
    __builtin_trap();
  }
  return 0;
}
