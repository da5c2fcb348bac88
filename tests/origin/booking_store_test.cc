// The booking store's contract, run against both stores: the embedded SQLite file and a
// PostgreSQL database (a real server, testing/postgres_server.h). Store-specific behaviour is in
// sqlite_booking_store_test.cc and postgres_booking_store_test.cc.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "surge/cache/hmac.h"
#include "surge/origin/booking_code.h"
#include "surge/origin/open_store.h"
#include "surge/origin/postgres_connection.h"
#include "surge/origin/postgres_schema.h"
#include "surge/testing/postgres_server.h"
#include "test_booking.h"
#include "test_catalog.h"

namespace surge::origin {
namespace {

class BookingStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  bool postgres() const { return GetParam() == "postgresql"; }
  void SetUp() override {
    if (postgres()) {
      spec_ = testing::PostgresServer::shared().createDatabase();
      auto db = PostgresConnection::connect(spec_, "test");
      ASSERT_TRUE(db.ok()) << db.error();
      auto migrated = migratePostgresSchema(db.value());
      ASSERT_TRUE(migrated.ok()) << migrated.error();
    } else {
      path_ = test::testStorePath("surge-store");
      test::removeStoreFiles(path_);
      spec_ = path_.string();
    }
    reopen();
    auto imported = store_->importCatalog(test::smallCatalog());
    ASSERT_TRUE(imported.ok()) << imported.error();
    reload();
  }
  void TearDown() override {
    store_.reset();
    if (!postgres()) test::removeStoreFiles(path_);
  }
  void reopen() {
    store_.reset();
    auto s = openBookingStore(spec_);
    ASSERT_TRUE(s.ok()) << s.error();
    store_ = std::move(s.value());
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

  // Independent of the store's own code: counted straight from the file or the database.
  int64_t query(const std::string& sql) {
    if (postgres()) return std::stoll(testing::postgresQuery(spec_, sql));
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
  std::string spec_;
  std::filesystem::path path_;
  BookingStorePtr store_;
  CatalogIndexPtr index_;
};

// Several attempts in one call answer as one after another would, each with its own answer.
TEST_P(BookingStoreTest, ABatchOfAttemptsGetsOneAnswerEach) {
  std::vector<NewBooking> attempts;
  for (int i = 0; i < 7; ++i)
    attempts.push_back(booking("batch" + std::to_string(i)));     // 5 seats
  attempts.push_back(booking("batch0", 100002, 0, "other-key"));  // already booked above
  attempts.push_back(attempts[0]);                                // the same key again
  std::vector<const NewBooking*> pointers;
  for (const NewBooking& b : attempts)
    pointers.push_back(&b);
  ASSERT_TRUE(store_->begin().ok());
  std::vector<StoredResponse> answers = store_->createBookings(pointers);
  ASSERT_TRUE(store_->commit().ok());
  ASSERT_EQ(answers.size(), attempts.size());
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(answers[static_cast<size_t>(i)].status, 201) << answers[static_cast<size_t>(i)].body;
  EXPECT_EQ(answers[5].status, 409);
  EXPECT_NE(answers[5].body.find("slot_full"), std::string::npos);
  EXPECT_EQ(answers[6].status, 409);
  EXPECT_NE(answers[7].body.find("person_already_booked"), std::string::npos);
  EXPECT_EQ(answers[8].status, 201);
  EXPECT_TRUE(answers[8].replayed);
  EXPECT_EQ(answers[8].body, answers[0].body);
  EXPECT_EQ(query("SELECT count(*) FROM bookings"), 5);
}

TEST_P(BookingStoreTest, ALookupByCodeGivesAFreshTokenAndTheOldOneStops) {
  StoredResponse r = create(booking("yuna"));
  auto json = nlohmann::json::parse(r.body);
  std::string token = json["token"];
  std::string code = normalizeBookingCode(json["code"].get<std::string>()).value();
  FreshToken fresh;
  ASSERT_TRUE(issueToken(fresh));
  ASSERT_TRUE(store_->begin().ok());
  EXPECT_EQ(store_->lookupBooking("yuna", "ZZZZZZZZ", fresh).status, 404);
  EXPECT_EQ(store_->lookupBooking("nobody", code, fresh).status, 404);
  StoredResponse found = store_->lookupBooking("yuna", code, fresh);
  ASSERT_TRUE(store_->commit().ok());
  ASSERT_EQ(found.status, 200) << found.body;
  auto again = nlohmann::json::parse(found.body);
  EXPECT_EQ(again["booking_id"], json["booking_id"]);
  EXPECT_NE(again["token"], json["token"]);
  EXPECT_FALSE(store_->findBooking(json["booking_id"], token).value().has_value());
  EXPECT_TRUE(store_->findBooking(json["booking_id"], again["token"]).value().has_value());
}

TEST_P(BookingStoreTest, ImportsAndLoadsTheCatalog) {
  EXPECT_EQ(index_->regions().size(), 5u);
  EXPECT_EQ(index_->clinics().size(), 4u);
  EXPECT_EQ(index_->slotCount(), 4u * 2 * 4);
  EXPECT_EQ(index_->slotsOf(100001).size(), 8u);
  EXPECT_NE(index_->findSlot(100002, *parseDate(test::kSecondDate), 9 * 60 + 30), nullptr);
  EXPECT_EQ(index_->findSlot(100002, test::today() + 3, 9 * 60), nullptr);
}

TEST_P(BookingStoreTest, CreatesUntilFullThenRefuses) {
  for (int i = 0; i < 5; ++i) {
    StoredResponse r = create(booking("p" + std::to_string(i)));
    ASSERT_EQ(r.status, 201) << r.body;
    auto json = nlohmann::json::parse(r.body);
    EXPECT_EQ(json["booking_id"].get<std::string>().size(), 24u);
    EXPECT_EQ(json["token"].get<std::string>().size(), 64u);
    EXPECT_EQ(json["date"], test::kFirstDate);
    EXPECT_EQ(json["time"], "09:00");
  }
  StoredResponse full = create(booking("late"));
  EXPECT_EQ(full.status, 409);
  EXPECT_NE(full.body.find("slot_full"), std::string::npos);
  // The refused attempt inserted nothing: the capacity check and the insert are one decision.
  EXPECT_EQ(query("SELECT count(*) FROM bookings"), 5);
  EXPECT_EQ(query("SELECT count(*) FROM bookings WHERE canceled_ms IS NULL AND slot_id = " +
                  std::to_string(index_->slotsOf(100001)[0].id)),
            5);
}

TEST_P(BookingStoreTest, OneActiveBookingPerPerson) {
  ASSERT_EQ(create(booking("alice", 100001, 0)).status, 201);
  StoredResponse again = create(booking("alice", 100002, 1, "another-key"));
  EXPECT_EQ(again.status, 409);
  EXPECT_NE(again.body.find("person_already_booked"), std::string::npos);
  // The refused attempt took no seat.
  EXPECT_EQ(query("SELECT count(*) FROM bookings WHERE canceled_ms IS NULL AND slot_id = " +
                  std::to_string(index_->slotsOf(100002)[1].id)),
            0);
}

TEST_P(BookingStoreTest, IdempotentReplayAndKeyReuse) {
  NewBooking b = booking("bob");
  StoredResponse first = create(b);
  ASSERT_EQ(first.status, 201);
  StoredResponse replay = create(b);
  EXPECT_EQ(replay.status, 201);
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(replay.body, first.body);

  NewBooking other = booking("carol", 100001, 0, b.idempotency_key);
  StoredResponse reused = create(other);
  EXPECT_EQ(reused.status, 422);
  EXPECT_EQ(query("SELECT count(*) FROM bookings"), 1);
}

TEST_P(BookingStoreTest, CancelReturnsTheSeatAndIsIdempotent) {
  StoredResponse r = create(booking("dave"));
  auto json = nlohmann::json::parse(r.body);
  std::string id = json["booking_id"], token = json["token"];
  ASSERT_TRUE(store_->begin().ok());
  EXPECT_EQ(store_->cancelBooking(id, std::string(64, 'a'), 1).status, 404);
  EXPECT_EQ(store_->cancelBooking(id, token, 2).status, 204);
  EXPECT_EQ(store_->cancelBooking(id, token, 3).status, 204);
  ASSERT_TRUE(store_->commit().ok());
  EXPECT_EQ(query("SELECT count(*) FROM bookings WHERE canceled_ms IS NULL AND slot_id = " +
                  std::to_string(index_->slotsOf(100001)[0].id)),
            0);
  auto found = store_->findBooking(id, token).value();
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(found->canceled_ms.has_value());
  EXPECT_FALSE(store_->findBooking(id, std::string(64, 'b')).value().has_value());
  // The person may book again once canceled.
  EXPECT_EQ(create(booking("dave", 100001, 1, "dave-2")).status, 201);
}

TEST_P(BookingStoreTest, RepliesAndRulesSurviveAReopen) {
  NewBooking b = booking("olga");
  StoredResponse first = create(b);
  ASSERT_EQ(first.status, 201);
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(create(booking("s" + std::to_string(i))).status, 201);
  StoredResponse full = create(booking("s-late"));
  ASSERT_EQ(full.status, 409);
  reopen();
  StoredResponse replay = create(b);
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(replay.body, first.body);
  StoredResponse full_again = create(booking("s-late"));
  EXPECT_TRUE(full_again.replayed);
  EXPECT_EQ(full_again.status, 409);
  EXPECT_EQ(create(booking("s-later")).status, 409);                    // the slot is still full
  EXPECT_EQ(create(booking("olga", 100002, 0, "olga-2")).status, 409);  // and olga still booked
  // The row keeps the token, not the answer's text: the replay above was rebuilt from it.
  EXPECT_EQ(query("SELECT count(*) FROM bookings WHERE length(token) = 32"), 5);
  // After 24 hours the key is forgotten and the token kept for replays is cleared.
  EXPECT_EQ(store_->expireIdempotencyKeys(b.now_ms + 1), 8u);
  EXPECT_EQ(query("SELECT count(*) FROM bookings WHERE token IS NOT NULL"), 0);
}

TEST_P(BookingStoreTest, ImportRefusesCapacityBelowBookedAndChangesNothing) {
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(create(booking("g" + std::to_string(i))).status, 201);
  CatalogData shrink = test::smallCatalog();
  shrink.clinics[0].name = "renamed";
  shrink.slots[0].capacity = 2;
  auto r = store_->importCatalog(shrink);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("below the seats already booked"), std::string::npos) << r.error();
  EXPECT_EQ(query("SELECT count(*) FROM clinics WHERE name = 'renamed'"), 0);
  shrink.slots[0].capacity = 3;
  EXPECT_TRUE(store_->importCatalog(shrink).ok());
}

TEST_P(BookingStoreTest, DurableAcrossReopenAndCountersMonotonic) {
  StoredResponse r = create(booking("hana"));
  auto c1 = store_->reserveCounter("snapshot_version", 1000);
  ASSERT_TRUE(c1.ok());
  reopen();
  reload();
  auto json = nlohmann::json::parse(r.body);
  EXPECT_TRUE(store_->findBooking(json["booking_id"], json["token"]).value().has_value());
  EXPECT_EQ(index_->slotsOf(100001)[0].booked.load(), 1);
  auto c2 = store_->reserveCounter("snapshot_version", 1000);
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ(c2.value(), c1.value() + 1000);
}

TEST_P(BookingStoreTest, NamedSnapshotsAndIdempotencyExpiry) {
  ASSERT_TRUE(store_->putNamedSnapshot({"notice", "text/plain", "hello", 5}).ok());
  ASSERT_TRUE(store_->putNamedSnapshot({"faq", "application/json", "{}", 6}).ok());
  auto listed = store_->namedSnapshots();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "faq");
  EXPECT_TRUE(store_->removeNamedSnapshot("faq").value());
  EXPECT_FALSE(store_->removeNamedSnapshot("faq").value());

  create(booking("ivan"));
  EXPECT_EQ(store_->expireIdempotencyKeys(now_ms_), 0u);
  EXPECT_EQ(store_->expireIdempotencyKeys(now_ms_ + 1), 1u);
}

INSTANTIATE_TEST_SUITE_P(Stores, BookingStoreTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace surge::origin
