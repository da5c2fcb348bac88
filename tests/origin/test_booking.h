// A booking attempt as origin makes one before it reaches the store, for store tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "surge/cache/hmac.h"
#include "surge/origin/booking_store.h"
#include "surge/origin/catalog_index.h"

namespace surge::origin::test {

// `person` books `slot` of `clinic` under `key`, at `now_ms`; credentials issued.
inline NewBooking bookingAttempt(const IndexedSlot& slot, int64_t clinic, const std::string& person,
                                 const std::string& key, int64_t now_ms) {
  NewBooking b;
  b.slot_id = slot.id;
  b.clinic_id = clinic;
  b.day = slot.day;
  b.minute = slot.minute;
  b.person_id = person;
  b.idempotency_key = key;
  auto d = cache::sha256({std::to_string(slot.id), "|", person});
  b.request_sha256.assign(reinterpret_cast<const char*>(d.data()), d.size());
  b.now_ms = now_ms;
  EXPECT_TRUE(issueCredentials(b));
  return b;
}

}  // namespace surge::origin::test
