// SqliteBookingStore: the embedded default store. One SQLite database in WAL mode with
// synchronous=FULL, so a commit returns only after the WAL is fsynced; a batch begun with
// Flush::kDeferred commits with synchronous=NORMAL (no fsync) and flush() then fdatasyncs the
// WAL file. Used by one thread, except flush(), which any thread may call.
//
// A commit costs what it writes, so a booking is one appended row: booking ids begin with their
// creation time, and the row carries its Idempotency-Key and the 201 answer for replays. The
// decisions read memory instead of random-access indexes: seats taken per slot, the active
// booking of each person, the record of each Idempotency-Key. That is exact because this process
// is the only writer: every decision is made by the one writer thread, inside the transaction
// that records it, and memory is rebuilt from the tables at open and rolled back with a batch.
// (A store shared by several origins, PostgreSQL, makes the same decisions in the database.)
// Audits read the tables: active bookings per slot never exceed its capacity, one active booking
// per person.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "surge/origin/booking_store.h"
#include "surge/origin/store_lock.h"

struct sqlite3;
struct sqlite3_stmt;

namespace surge::origin {

class SqliteBookingStore final : public BookingStore {
 public:
  // Creates the file and schema when missing. Fails while another process (or another open
  // store in this one) has the file: one writer per store (store_lock.h).
  static base::Result<std::unique_ptr<SqliteBookingStore>, std::string> open(
      const std::string& path);
  ~SqliteBookingStore() override;

  base::Result<base::Done, std::string> begin(Flush flush = Flush::kAtCommit) override;
  base::Result<base::Done, std::string> commit() override;
  void rollback() override;
  base::Result<base::Done, std::string> flush() override;
  // PRAGMA synchronous of the writer's connection (2 = FULL): tests check that a deferred batch
  // never leaves it lowered for what runs outside batches.
  int synchronousLevel();
  StoredResponse createBooking(const NewBooking& booking) override;
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

  class Statement;

 private:
  SqliteBookingStore(sqlite3* db, StoreLock lock);
  base::Result<base::Done, std::string> prepareAll();
  base::Result<base::Done, std::string> exec(const char* sql);
  std::unique_ptr<Statement> prepare(const char* sql);
  std::string lastError() const;
  void restoreFullSync();  // after a kDeferred batch ends
  StoredResponse storeFailure(const char* what);
  // Records a non-201 answer under the booking's Idempotency-Key.
  StoredResponse remember(const NewBooking& booking, StoredResponse response);
  void rememberKey(const std::string& key, std::string request_sha256, std::string booking_id,
                   int64_t rowid, int64_t created_ms);
  base::Result<base::Done, std::string> loadMemory(int64_t now_ms);
  // Seats taken per slot, from the bookings table.
  base::Result<std::unordered_map<int64_t, int32_t>, std::string> countBooked();
  base::Result<base::Done, std::string> loadSlots();
  // A booking's row, or nullopt when there is none; the digests are for the caller to compare.
  struct BookingRow {
    BookingView view;
    std::string token_sha256;
    std::string code_sha256;  // empty for bookings made before codes existed
  };
  std::optional<BookingRow> readBooking(const std::string& booking_id);

  // Most WAL checkpointing runs on its own thread and connection, outside the writer's commits.
  // Under a steady stream of commits a concurrent checkpoint never catches up completely, and the
  // WAL (and every page lookup in it) would grow without end; so the writer also checkpoints when
  // the WAL passes 4096 pages (wal_autocheckpoint), and then has little left to copy.
  void checkpointLoop(std::string path);

  StoreLock lock_;  // released last, after the connection is closed
  sqlite3* db_;
  std::thread checkpointer_;
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wake_;
  bool closing_ = false;
  bool in_batch_ = false;
  bool deferred_flush_ = false;  // the open batch runs with synchronous=NORMAL
  // The WAL file, for flush(). SQLite keeps the same file (the same inode) while any connection
  // is open: a checkpoint restarts it from the top, it is deleted only when the last one closes.
  int wal_fd_ = -1;
  // Set when a statement failed in a way that may have ended the transaction: the rest of the
  // batch is refused and commit() rolls back, so nothing is acknowledged that was not committed.
  bool batch_failed_ = false;
  std::unordered_map<int64_t, int32_t> slot_changes_;

  struct SlotCount {
    int32_t capacity = 0;  // 0: no such slot
    int32_t booked = 0;
  };
  std::vector<SlotCount> slots_;  // by slot id (ids are dense, from 1)
  // The first answer to an Idempotency-Key: a booking's 201 (booking_id set) or a row of the
  // idempotency table.
  struct IdempotencyRecord {
    std::string request_sha256;
    std::string booking_id;
    int64_t rowid = 0;
  };
  std::unordered_map<std::string, IdempotencyRecord> idempotency_;
  std::deque<std::pair<int64_t, std::string>> idempotency_by_age_;  // (created_ms, key)
  std::unordered_map<std::string, std::string> active_person_;      // person -> booking id
  std::string answers_cleared_below_;  // booking ids below this have no stored answer left
  // Memory changes of the open batch, undone in reverse on rollback.
  struct Undo {
    enum Kind {
      kKeyAdded,
      kPersonAdded,
      kPersonRemoved,
      kSeatTaken,
      kSeatReleased,
      kTicketUsed
    } kind;
    std::string key;
    std::string value;
    int64_t slot_id = 0;
  };
  std::vector<Undo> undo_;
  // Waiting-room tickets that have booked (one booking per ticket; a canceled booking does not
  // give its ticket back, or one admission could be turned into any number of bookings).
  std::unordered_set<std::string> used_tickets_;

  std::unique_ptr<Statement> idem_body_, idem_put_, booking_answer_, booking_insert_, booking_get_,
      booking_cancel_, booking_token_;
};

}  // namespace surge::origin
