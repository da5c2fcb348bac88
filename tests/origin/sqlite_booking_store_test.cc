#include "surge/origin/sqlite_booking_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "surge/cache/hmac.h"
#include "test_booking.h"
#include "test_catalog.h"

namespace surge::origin {
namespace {

class SqliteBookingStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = test::testStorePath("surge-store");
    test::removeStoreFiles(path_);
    reopen();
    auto imported = store_->importCatalog(test::smallCatalog());
    ASSERT_TRUE(imported.ok()) << imported.error();
    reload();
  }
  void TearDown() override {
    store_.reset();
    test::removeStoreFiles(path_);
  }
  void reopen() {
    store_.reset();
    auto s = SqliteBookingStore::open(path_.string());
    ASSERT_TRUE(s.ok()) << s.error();
    store_ = std::move(s.value());
  }
  // Closes the store and changes its file behind its back, as an older build would have left it.
  void rewriteClosedStore(const char* sql) {
    store_.reset();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  void reload() {
    auto loaded = store_->loadCatalog();
    ASSERT_TRUE(loaded.ok()) << loaded.error();
    index_ = loaded.value();
  }

  NewBooking booking(const std::string& person, int64_t clinic = 100001, int slot_index = 0,
                     const std::string& key = "") {
    const IndexedSlot& slot = index_->slotsOf(clinic)[static_cast<size_t>(slot_index)];
    return test::bookingAttempt(slot, clinic, person, key.empty() ? "key-" + person : key, now_ms_);
  }

  StoredResponse create(const NewBooking& b) {
    EXPECT_TRUE(store_->begin().ok());
    StoredResponse r = store_->createBooking(b);
    EXPECT_TRUE(store_->commit().ok());
    return r;
  }

  // Independent of the store's own code: count straight from the file.
  int64_t query(const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
    int64_t v = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return v;
  }

  // Real time: a reopened store only reloads keys younger than 24 hours.
  const int64_t now_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  std::filesystem::path path_;
  std::unique_ptr<SqliteBookingStore> store_;
  CatalogIndexPtr index_;
};

// Regression: a second surge-origin on the same file started silently and, deciding from its own
// memory, overbooked a 6-seat slot to 9. One writer per store.
TEST_F(SqliteBookingStoreTest, ASecondOpenOfTheSameStoreIsRefusedAndNamesTheHolder) {
  auto second = SqliteBookingStore::open(path_.string());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().find("is in use by"), std::string::npos) << second.error();
  EXPECT_NE(second.error().find("pid " + std::to_string(::getpid())), std::string::npos)
      << second.error();
  // The holder goes on, and once it is gone the store opens again.
  EXPECT_EQ(create(booking("after-refusal")).status, 201);
  store_.reset();
  auto reopened = SqliteBookingStore::open(path_.string());
  EXPECT_TRUE(reopened.ok()) << (reopened.ok() ? "" : reopened.error());
}

TEST_F(SqliteBookingStoreTest, RollbackForgetsTheBatch) {
  ASSERT_TRUE(store_->begin().ok());
  EXPECT_EQ(store_->createBooking(booking("erin")).status, 201);
  store_->rollback();
  EXPECT_TRUE(store_->takeSlotChanges().empty());
  EXPECT_EQ(query("SELECT count(*) FROM bookings"), 0);
  EXPECT_EQ(create(booking("erin")).status, 201);  // the key was not remembered either
  // Nor the seat: the slot (capacity 5) still takes exactly four more.
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(create(booking("r" + std::to_string(i))).status, 201);
  EXPECT_EQ(create(booking("r-late")).status, 409);
}

TEST_F(SqliteBookingStoreTest, AStoreOfLayoutTwoIsUpgradedAndKeepsItsAnswers) {
  NewBooking b = booking("petra");
  ASSERT_EQ(create(b).status, 201);
  // What layout 2 wrote: the 201's text in `answer`, no token column.
  rewriteClosedStore(
      "UPDATE bookings SET answer = '{\"legacy\":true}';"
      "ALTER TABLE bookings DROP COLUMN token; ALTER TABLE bookings DROP COLUMN code_sha256;"
      "ALTER TABLE bookings DROP COLUMN code; DROP TABLE catalog_settings;"
      "PRAGMA user_version = 2;");
  reopen();
  EXPECT_EQ(query("PRAGMA user_version"), 4);
  StoredResponse replay = create(b);
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(replay.body, "{\"legacy\":true}");
  EXPECT_EQ(create(booking("quinn")).status, 201);  // new rows in the upgraded file
}

TEST_F(SqliteBookingStoreTest, AStoreOfLayoutThreeIsUpgradedAndItsBookingsStay) {
  NewBooking b = booking("rosa");
  ASSERT_EQ(create(b).status, 201);
  // What layout 3 wrote: no booking codes, no catalog settings.
  rewriteClosedStore(
      "ALTER TABLE bookings DROP COLUMN code_sha256; ALTER TABLE bookings DROP COLUMN code;"
      "DROP TABLE catalog_settings; PRAGMA user_version = 3;");
  reopen();
  EXPECT_EQ(query("PRAGMA user_version"), 4);
  StoredResponse replay = create(b);
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(nlohmann::json::parse(replay.body).count("code"), 0u) << "made before codes existed";
  // Such a booking cannot be looked up: no code matches it.
  FreshToken fresh;
  ASSERT_TRUE(issueToken(fresh));
  ASSERT_TRUE(store_->begin().ok());
  EXPECT_EQ(store_->lookupBooking("rosa", "00000000", fresh).status, 404);
  ASSERT_TRUE(store_->commit().ok());
  EXPECT_EQ(create(booking("sven")).status, 201);  // new rows in the upgraded file
}

TEST_F(SqliteBookingStoreTest, ReportsSlotChangesPerBatch) {
  ASSERT_TRUE(store_->begin().ok());
  store_->createBooking(booking("f1"));
  store_->createBooking(booking("f2"));
  store_->createBooking(booking("f3", 100002, 2));
  ASSERT_TRUE(store_->commit().ok());
  auto changes = store_->takeSlotChanges();
  ASSERT_EQ(changes.size(), 2u);
  for (const SlotChange& c : changes) {
    EXPECT_EQ(c.booked, c.slot_id == index_->slotsOf(100001)[0].id ? 2 : 1);
  }
}

// A deferred batch commits without an fsync and flush() makes it durable; the connection is back
// at synchronous=FULL however the batch ended, so counters, imports and named snapshots written
// outside batches never skip the fsync.
TEST_F(SqliteBookingStoreTest, DeferredBatchesFlushAndRestoreFullSync) {
  EXPECT_EQ(store_->synchronousLevel(), 2);
  ASSERT_TRUE(store_->begin(BookingStore::Flush::kDeferred).ok());
  StoredResponse r = store_->createBooking(booking("dana"));
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(store_->synchronousLevel(), 1);
  ASSERT_TRUE(store_->commit().ok());
  EXPECT_EQ(store_->synchronousLevel(), 2);
  ASSERT_TRUE(store_->flush().ok());

  ASSERT_TRUE(store_->begin(BookingStore::Flush::kDeferred).ok());
  EXPECT_EQ(store_->createBooking(booking("eun")).status, 201);
  store_->rollback();
  EXPECT_EQ(store_->synchronousLevel(), 2);

  // A batch that fails inside (an unknown slot is not an error, a second commit is) still ends
  // with FULL restored.
  ASSERT_TRUE(store_->begin(BookingStore::Flush::kDeferred).ok());
  ASSERT_TRUE(store_->commit().ok());
  EXPECT_FALSE(store_->commit().ok());
  EXPECT_EQ(store_->synchronousLevel(), 2);

  reopen();
  reload();
  auto json = nlohmann::json::parse(r.body);
  EXPECT_TRUE(store_->findBooking(json["booking_id"], json["token"]).value().has_value());
  EXPECT_EQ(query("SELECT count(*) FROM bookings"), 1);  // eun was rolled back
}

}  // namespace
}  // namespace surge::origin
