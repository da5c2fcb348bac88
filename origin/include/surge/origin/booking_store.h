// BookingStore: where bookings are durable. The SQLite store is the embedded default; a
// PostgreSQL store implements the same interface for deployments with several origins.
//
// The store is driven by one thread (the BookingWriter), in batches: begin(), any number of
// operations, commit(). Nothing an operation did is acknowledged before commit() returns success,
// and commit() returns only once the batch is durable on disk.
//
// Invariant (every implementation): a slot never has more active bookings than its capacity, and a
// person never has more than one active booking. The capacity check and the insert are one atomic
// decision inside the store, never a read followed by a write.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "surge/base/result.h"
#include "surge/origin/catalog.h"
#include "surge/origin/catalog_index.h"

namespace surge::origin {

struct NewBooking {
  int64_t slot_id = 0;
  int64_t clinic_id = 0;
  int32_t day = 0;
  int16_t minute = 0;
  std::string person_id;
  std::string idempotency_key;  // may be empty
  std::string request_sha256;   // digest of the request's meaning, for idempotent replay
  std::string ticket;           // waiting-room ticket, may be empty
  int64_t now_ms = 0;

  // Issued before the booking reaches the store (issueCredentials), so the single writer spends its
  // time on the store only. Used only if the booking is created.
  std::string booking_id;    // begins with now_ms: rows append in id order
  std::string token_sha256;  // kept for the booking's life: checks the bearer token
  std::string token;         // the bearer token's 32 bytes, kept only while a retry may replay
  std::string code;          // the booking code (booking_code.h), kept only as long as `token`
  std::string code_sha256;   // kept for the booking's life: checks a lookup
  std::string created_body;  // the 201 answer
  // The slot's time has come (in the catalog's zone): refused with 409 slot_past, unless the key
  // replays an answer given before.
  bool slot_past = false;
};

// A bearer token issued for an existing booking (a lookup by booking code).
struct FreshToken {
  std::string token;         // 32 bytes
  std::string token_sha256;  // of its hex form, as a booking row keeps it
};

// Fills the token. False when no randomness is available.
bool issueToken(FreshToken& token);

// Fills booking_id, token_sha256, token, code, code_sha256 and created_body. False when no
// randomness is available.
bool issueCredentials(NewBooking& booking);

// The 201 answer of a booking, byte for byte as issueCredentials made it: what an idempotent
// retry gets back, rebuilt from the stored row (so the row need not hold the answer's text).
// `token` is the raw 32 bytes.
// `code` (8 characters) may be empty: bookings made before codes existed have none.
std::string createdBody(std::string_view booking_id, std::string_view token, std::string_view code,
                        int64_t clinic_id, int32_t day, int16_t minute, std::string_view person_id,
                        int64_t created_ms);

// Booking ids begin with 12 hex digits of their creation time (ms): the id prefix of `unix_ms`,
// which is also the smallest id created at or after it.
std::string bookingIdTimePrefix(int64_t unix_ms);

// `"clinic_id":N,"date":"…","time":"…","person_id":"…"` — the fields every booking answer has.
void appendBookingFields(std::string& out, int64_t clinic_id, int32_t day, int16_t minute,
                         std::string_view person_id);

// An HTTP answer the store decided, kept as it was sent so that an idempotent retry gets the very
// same bytes back.
struct StoredResponse {
  int status = 0;
  std::string body;  // JSON
  bool replayed = false;
};

// The answer to a booking attempt the store refused, by its error code: 409 slot_full,
// person_already_booked, ticket_already_used, slot_past; 404 unknown_slot; 422
// idempotency_key_reused. Every store words them the same, so a replay reads the same on either.
StoredResponse bookingRefusal(std::string_view code);

struct BookingView {
  std::string id;
  int64_t slot_id = 0;
  int64_t clinic_id = 0;
  int32_t day = 0;
  int16_t minute = 0;
  std::string person_id;
  int64_t created_ms = 0;
  std::optional<int64_t> canceled_ms;
};

enum class BookingAccess { kOk, kNotFound };

struct NamedSnapshot {
  std::string name;
  std::string content_type;
  std::string body;
  int64_t updated_ms = 0;
};

// A slot whose booked count an operation changed (the publisher marks its snapshots dirty).
struct SlotChange {
  int64_t slot_id = 0;
  int32_t booked = 0;
};

class BookingStore {
 public:
  virtual ~BookingStore() = default;

  // When a batch reaches the disk. kAtCommit: commit() returns once it is durable. kDeferred:
  // commit() ends the transaction without waiting for the disk, and nothing in the batch may be
  // acknowledged before a flush() that began after that commit has returned. The group commit
  // uses it to flush one batch while the next one runs, as PostgreSQL's backends share WAL
  // flushes; operations outside batches (imports, counters, named snapshots) stay kAtCommit.
  enum class Flush { kAtCommit, kDeferred };
  virtual base::Result<base::Done, std::string> begin(Flush flush = Flush::kAtCommit) = 0;
  // On failure the batch is rolled back and nothing in it happened.
  virtual base::Result<base::Done, std::string> commit() = 0;
  virtual void rollback() = 0;
  // Safe from any thread, concurrently with a batch: returns once everything committed before
  // the call is on disk.
  virtual base::Result<base::Done, std::string> flush() = 0;

  // The 201/409/422 answer for a booking attempt (the caller checked that the slot exists).
  virtual StoredResponse createBooking(const NewBooking& booking) = 0;
  // Several attempts of one batch, answered in order as createBooking would one after another.
  // A store across a network decides them all in one round trip.
  virtual std::vector<StoredResponse> createBookings(
      const std::vector<const NewBooking*>& bookings);
  // Do other origins write to this store too? Then seat counts come from the store's change feed
  // (slot_follower.h), and snapshot versions from one shared sequence.
  virtual bool sharedByOrigins() const { return false; }
  // 204 when canceled now or before, 404 when the id is unknown or the token does not match.
  virtual StoredResponse cancelBooking(const std::string& booking_id, const std::string& token,
                                       int64_t now_ms) = 0;
  // The booking when `token` is its bearer token; nullopt when the id is unknown or the token does
  // not match (404); the store's 503 answer when it cannot be read (PostgreSQL down): a booking
  // that exists must never be answered "no such booking" because the store was unreachable.
  using FoundBooking = base::Result<std::optional<BookingView>, StoredResponse>;
  virtual FoundBooking findBooking(const std::string& booking_id, const std::string& token) = 0;
  // The active booking of `person_id` when `code` (normalized, booking_code.h) is its code: 200
  // with the booking and `fresh` as its bearer token from now on (the old one stops working).
  // 404 when the person has no active booking or the code is another: the same answer and the
  // same work, so the two cannot be told apart.
  virtual StoredResponse lookupBooking(const std::string& person_id, const std::string& code,
                                       const FreshToken& fresh) = 0;
  // Slots whose booked count changed since the last call (in this batch).
  virtual std::vector<SlotChange> takeSlotChanges() = 0;

  // Adds or updates regions, clinics and slots in its own transaction. A slot's capacity may not
  // drop below its booked count. Nothing changes when it fails.
  virtual base::Result<size_t, std::string> importCatalog(const CatalogData& catalog) = 0;
  // The catalog with booked counts, for the in-memory index.
  virtual base::Result<CatalogIndexPtr, std::string> loadCatalog() = 0;

  virtual base::Result<base::Done, std::string> putNamedSnapshot(const NamedSnapshot& s) = 0;
  virtual base::Result<bool, std::string> removeNamedSnapshot(const std::string& name) = 0;
  virtual base::Result<std::vector<NamedSnapshot>, std::string> namedSnapshots() = 0;

  // A persistent counter (snapshot versions): returns the old value and stores old + step, in its
  // own durable transaction.
  virtual base::Result<int64_t, std::string> reserveCounter(const std::string& name,
                                                            int64_t step) = 0;
  // Drops idempotency records older than `cutoff_ms`; returns how many.
  virtual size_t expireIdempotencyKeys(int64_t cutoff_ms) = 0;
};

using BookingStorePtr = std::unique_ptr<BookingStore>;

}  // namespace surge::origin
