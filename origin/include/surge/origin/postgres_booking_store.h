// PostgresBookingStore: bookings in PostgreSQL, for several origins sharing one database.
//
// Where the SQLite store decides in memory (it is the only writer), this store lets the database
// decide, because another origin may be writing the same slot at the same moment:
//   - a seat is `UPDATE slots SET booked = booked + 1 WHERE id = $1 AND booked < capacity`, the
//     check and the increment one statement under the row's lock (and `CHECK (booked <=
//     capacity)` on the table besides);
//   - one active booking per person and one booking per ticket are unique indexes;
//   - an Idempotency-Key is claimed by inserting it first (its primary key), so a concurrent
//     retry on another origin waits for the first answer and replays it.
// A batch of booking attempts is one call of surge_book() over arrays, decided set by set: one
// round trip, one transaction, one WAL flush for all of them (synchronous_commit stays on), each
// attempt still getting its own answer. The call commits on its own, so an answer exists only after
// COMMIT returned; begin()/commit()/flush() have nothing left to do.
//
// Every committed change of a seat count is announced with NOTIFY surge_slots, in commit order;
// SlotFollower (slot_follower.h) feeds them to each origin's index and publisher, so every origin
// sees every origin's bookings.
//
// A lost connection is reconnected on the next operation (connect_timeout 2 s, and
// tcp_user_timeout 5 s bounds a statement whose peer went silent); until then operations answer
// 503 store_unavailable and nothing is acknowledged. The schema is migrated by `surgectl store
// migrate` (postgres_schema.h); an origin refuses a database whose schema is not current.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "surge/origin/booking_store.h"
#include "surge/origin/postgres_connection.h"

namespace surge::origin {

class PostgresBookingStore final : public BookingStore {
 public:
  // `conninfo`: a libpq connection string or postgresql:// URI (several hosts allowed).
  static base::Result<std::unique_ptr<PostgresBookingStore>, std::string> open(
      const std::string& conninfo);

  base::Result<base::Done, std::string> begin(Flush flush = Flush::kAtCommit) override;
  base::Result<base::Done, std::string> commit() override;
  void rollback() override;
  base::Result<base::Done, std::string> flush() override;
  StoredResponse createBooking(const NewBooking& booking) override;
  std::vector<StoredResponse> createBookings(
      const std::vector<const NewBooking*>& bookings) override;
  StoredResponse cancelBooking(const std::string& booking_id, const std::string& token,
                               int64_t now_ms) override;
  FoundBooking findBooking(const std::string& booking_id, const std::string& token) override;
  StoredResponse lookupBooking(const std::string& person_id, const std::string& code,
                               const FreshToken& fresh) override;
  std::vector<SlotChange> takeSlotChanges() override;
  base::Result<size_t, std::string> importCatalog(const CatalogData& catalog) override;
  base::Result<CatalogIndexPtr, std::string> loadCatalog() override;
  base::Result<base::Done, std::string> putNamedSnapshot(const NamedSnapshot& s) override;
  base::Result<bool, std::string> removeNamedSnapshot(const std::string& name) override;
  base::Result<std::vector<NamedSnapshot>, std::string> namedSnapshots() override;
  base::Result<int64_t, std::string> reserveCounter(const std::string& name, int64_t step) override;
  size_t expireIdempotencyKeys(int64_t cutoff_ms) override;
  bool sharedByOrigins() const override { return true; }

  // Attempts of one surge_book() call that failed for a deadlock with another origin and were run
  // again (a test and a metric read it).
  int64_t deadlockRetries() const { return deadlock_retries_; }

 private:
  explicit PostgresBookingStore(PostgresConnection connection);
  StoredResponse unavailable(const std::string& what);
  // One surge_book call for bookings[chunk] (no Idempotency-Key twice).
  void decide(const std::vector<const NewBooking*>& bookings, const std::vector<size_t>& chunk,
              std::vector<StoredResponse>& answers);

  PostgresConnection db_;
  int64_t deadlock_retries_ = 0;
};

}  // namespace surge::origin
