// SqliteBookingStore: the embedded default store. One SQLite database in WAL mode with
// synchronous=FULL, so a commit returns only after the WAL is fsynced. Used by one thread.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "surge/origin/booking_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace surge::origin {

class SqliteBookingStore final : public BookingStore {
 public:
  // Creates the file and schema when missing.
  static cache::Result<std::unique_ptr<SqliteBookingStore>, std::string> open(
      const std::string& path);
  ~SqliteBookingStore() override;

  cache::Result<cache::Done, std::string> begin() override;
  cache::Result<cache::Done, std::string> commit() override;
  void rollback() override;
  StoredResponse createBooking(const NewBooking& booking) override;
  StoredResponse cancelBooking(const std::string& booking_id, const std::string& token,
                               int64_t now_ms) override;
  std::optional<BookingView> findBooking(const std::string& booking_id,
                                         const std::string& token) override;
  std::vector<SlotChange> takeSlotChanges() override;
  cache::Result<size_t, std::string> importCatalog(const CatalogData& catalog) override;
  cache::Result<CatalogIndexPtr, std::string> loadCatalog() override;
  cache::Result<cache::Done, std::string> putNamedSnapshot(const NamedSnapshot& s) override;
  cache::Result<bool, std::string> removeNamedSnapshot(const std::string& name) override;
  cache::Result<std::vector<NamedSnapshot>, std::string> namedSnapshots() override;
  cache::Result<int64_t, std::string> reserveCounter(const std::string& name,
                                                     int64_t step) override;
  size_t expireIdempotencyKeys(int64_t cutoff_ms) override;

  class Statement;

 private:
  explicit SqliteBookingStore(sqlite3* db);
  cache::Result<cache::Done, std::string> prepareAll();
  cache::Result<cache::Done, std::string> exec(const char* sql);
  std::string lastError() const;
  StoredResponse storeFailure(const char* what);
  StoredResponse remember(const NewBooking& booking, StoredResponse response);

  // Most WAL checkpointing runs on its own thread and connection, outside the writer's commits.
  // Under a steady stream of commits a concurrent checkpoint never catches up completely, and the
  // WAL (and every page lookup in it) would grow without end; so the writer also checkpoints when
  // the WAL passes 4096 pages (wal_autocheckpoint), and then has little left to copy.
  void checkpointLoop(std::string path);

  sqlite3* db_;
  std::thread checkpointer_;
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wake_;
  bool closing_ = false;
  bool in_batch_ = false;
  // Set when a statement failed in a way that may have ended the transaction: the rest of the
  // batch is refused and commit() rolls back, so nothing is acknowledged that was not committed.
  bool batch_failed_ = false;
  std::unordered_map<int64_t, int32_t> slot_changes_;
  std::unique_ptr<Statement> idem_get_, idem_put_, slot_take_, slot_release_, booking_insert_,
      booking_get_, booking_cancel_, savepoint_, release_, rollback_to_;
};

}  // namespace surge::origin
