// What only the PostgreSQL store does: several origins (here: several stores, each its own
// connection) deciding on one database at once, the schema's migrations, and a database that goes
// away and comes back. The store contract both stores share is in booking_store_test.cc.
#include "surge/origin/postgres_booking_store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "surge/cache/hmac.h"
#include "surge/cache/keyring.h"
#include "surge/origin/postgres_schema.h"
#include "surge/testing/postgres_server.h"
#include "test_booking.h"
#include "test_catalog.h"

namespace surge::origin {
namespace {

using testing::postgresQuery;

base::Result<std::unique_ptr<PostgresBookingStore>, std::string> migratedStore(
    const std::string& uri) {
  auto db = PostgresConnection::connect(uri, "test");
  if (!db) return base::fail(db.error());
  auto migrated = migratePostgresSchema(db.value());
  if (!migrated) return base::fail(migrated.error());
  return PostgresBookingStore::open(uri);
}

NewBooking attempt(const IndexedSlot& slot, int64_t clinic, const std::string& person,
                   const std::string& key) {
  return test::bookingAttempt(slot, clinic, person, key, unixNowMs());
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uri_ = testing::PostgresServer::shared().createDatabase();
    auto s = migratedStore(uri_);
    ASSERT_TRUE(s.ok()) << s.error();
    store_ = std::move(s.value());
    ASSERT_TRUE(store_->importCatalog(test::smallCatalog()).ok());
    auto loaded = store_->loadCatalog();
    ASSERT_TRUE(loaded.ok()) << loaded.error();
    index_ = loaded.value();
  }
  std::string uri_;
  std::unique_ptr<PostgresBookingStore> store_;
  CatalogIndexPtr index_;
};

TEST_F(PostgresStoreTest, MigrateIsIdempotentAndAnOriginRefusesADatabaseWithoutTheSchema) {
  auto db = PostgresConnection::connect(uri_, "test");
  ASSERT_TRUE(db.ok());
  auto again = migratePostgresSchema(db.value());
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->from, postgresSchemaVersion());
  EXPECT_EQ(again->to, postgresSchemaVersion());

  std::string empty = testing::PostgresServer::shared().createDatabase();
  auto refused = PostgresBookingStore::open(empty);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("surgectl store migrate"), std::string::npos) << refused.error();
  // Two operators migrating at once: both succeed, the schema is made once.
  std::vector<std::thread> operators;
  std::vector<std::string> errors(2);
  for (int i = 0; i < 2; ++i) {
    operators.emplace_back([&, i] {
      auto c = PostgresConnection::connect(empty, "test");
      auto m = c ? migratePostgresSchema(c.value())
                 : base::Result<MigrationReport, std::string>(base::fail(c.error()));
      if (!m) errors[static_cast<size_t>(i)] = m.error();
    });
  }
  for (auto& t : operators)
    t.join();
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  EXPECT_EQ(postgresQuery(empty, "SELECT count(*) FROM surge_schema"),
            std::to_string(postgresSchemaVersion()));
  EXPECT_TRUE(PostgresBookingStore::open(empty).ok());
}

// The way the store must not decide: read the count, then insert, as two statements. Two origins
// interleaved exactly so both read 4 of 5 seats taken, and both insert: 6 bookings in 5 seats.
// The same interleaving through surge_book: the second waits for the first's row lock, then finds
// the slot full.
TEST_F(PostgresStoreTest, TheSeparateStatementWayOverbooksAndTheStoreDoesNot) {
  const IndexedSlot& slot = index_->slotsOf(100001)[0];
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(store_->createBooking(attempt(slot, 100001, "first" + std::to_string(i), "")).status,
              201);
  }
  std::string id = std::to_string(slot.id);
  auto naive = [&](PGconn* c, const std::string& person) {
    PQclear(PQexec(c, "BEGIN"));
    PGresult* r = PQexec(c, ("SELECT count(*) FROM bookings WHERE canceled_ms IS NULL AND "
                             "slot_id = " +
                             id)
                                .c_str());
    int taken = std::atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return [c, taken, person, id] {
      if (taken < 5) {
        PQclear(PQexec(c, ("INSERT INTO bookings(id, slot_id, person_id, token_sha256, "
                           "created_ms) VALUES ('naive-" +
                           person + "', " + id + ", '" + person + "', '\\x00', 0)")
                              .c_str()));
      }
      PQclear(PQexec(c, "COMMIT"));
    };
  };
  PGconn* a = PQconnectdb(uri_.c_str());
  PGconn* b = PQconnectdb(uri_.c_str());
  ASSERT_EQ(PQstatus(a), CONNECTION_OK);
  ASSERT_EQ(PQstatus(b), CONNECTION_OK);
  auto finish_a = naive(a, "naive-a");
  auto finish_b = naive(b, "naive-b");
  finish_a();
  finish_b();
  EXPECT_EQ(postgresQuery(uri_,
                          "SELECT count(*) FROM bookings WHERE canceled_ms IS NULL AND "
                          "slot_id = " +
                              id),
            "6")
      << "the separate-statement way should overbook under this interleaving";
  // Back to 4 of 5, and the store's way under the same interleaving.
  postgresQuery(uri_, "DELETE FROM bookings WHERE id LIKE 'naive-%'");
  PQclear(PQexec(a, "BEGIN"));
  NewBooking last_a = attempt(slot, 100001, "store-a", "");
  NewBooking last_b = attempt(slot, 100001, "store-b", "");
  auto call = [&](const NewBooking& n) {
    return "SELECT outcome FROM surge_book('{" + id + "}', '{\"" + n.person_id +
           "\"}', '{NULL}', '{\"" + cache::encodeHex(n.request_sha256) + "\"}', '{NULL}', '{" +
           std::to_string(n.now_ms) + "}', '{\"" + n.booking_id + "\"}', '{\"" +
           cache::encodeHex(n.token_sha256) + "\"}', '{\"" + cache::encodeHex(n.token) +
           "\"}', '{NULL}', '{\"" + cache::encodeHex(n.code_sha256) + "\"}', '{f}')";
  };
  PGresult* ra = PQexec(a, call(last_a).c_str());
  ASSERT_EQ(PQresultStatus(ra), PGRES_TUPLES_OK) << PQresultErrorMessage(ra);
  EXPECT_STREQ(PQgetvalue(ra, 0, 0), "created");
  PQclear(ra);
  ASSERT_EQ(PQsendQuery(b, call(last_b).c_str()), 1);  // waits for a's row lock
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  PQclear(PQexec(a, "COMMIT"));
  PGresult* rb = PQgetResult(b);
  ASSERT_EQ(PQresultStatus(rb), PGRES_TUPLES_OK) << PQresultErrorMessage(rb);
  EXPECT_STREQ(PQgetvalue(rb, 0, 0), "slot_full");
  PQclear(rb);
  while (PGresult* more = PQgetResult(b))
    PQclear(more);
  PQfinish(a);
  PQfinish(b);
  EXPECT_EQ(postgresQuery(uri_,
                          "SELECT count(*) FROM bookings WHERE canceled_ms IS NULL AND "
                          "slot_id = " +
                              id),
            "5");
}

// Four origins' stores racing over the same people and slots, in batches: no slot over capacity,
// nobody with two active bookings, every 201 in the table, booked counts equal to the rows.
TEST_F(PostgresStoreTest, StoresOnOneDatabaseRacingNeverOverbook) {
  constexpr int kStores = 4, kBatches = 30, kBatch = 20;
  std::vector<std::thread> origins;
  std::vector<std::vector<std::string>> created(kStores);
  std::vector<std::string> errors(kStores);
  for (int o = 0; o < kStores; ++o) {
    origins.emplace_back([&, o] {
      auto opened = PostgresBookingStore::open(uri_);
      if (!opened) {
        errors[static_cast<size_t>(o)] = opened.error();
        return;
      }
      std::mt19937 rng(static_cast<unsigned>(o));
      for (int n = 0; n < kBatches; ++n) {
        std::vector<NewBooking> batch;
        for (int i = 0; i < kBatch; ++i) {
          int64_t clinic = 100001 + static_cast<int64_t>(rng() % 2);
          const IndexedSlot& slot = index_->slotsOf(clinic)[rng() % 3];
          std::string person = "p" + std::to_string(rng() % 120);
          // Some retries of one attempt on two origins: the same key, so one answer.
          std::string key = rng() % 4 == 0 ? "k-" + person + "-" + std::to_string(slot.id) : "";
          batch.push_back(attempt(slot, clinic, person, key));
        }
        std::vector<const NewBooking*> pointers;
        for (const NewBooking& b : batch)
          pointers.push_back(&b);
        auto answers = (*opened)->createBookings(pointers);
        for (size_t i = 0; i < answers.size(); ++i) {
          if (answers[i].status == 201 && !answers[i].replayed) {
            created[static_cast<size_t>(o)].push_back(batch[i].booking_id);
          } else if (answers[i].status != 201 && answers[i].status != 409) {
            errors[static_cast<size_t>(o)] = answers[i].body;
          }
        }
      }
    });
  }
  for (auto& t : origins)
    t.join();
  for (const std::string& e : errors)
    EXPECT_EQ(e, "");
  size_t total = 0;
  for (const auto& ids : created) {
    total += ids.size();
    for (const std::string& id : ids)
      EXPECT_EQ(postgresQuery(uri_, "SELECT count(*) FROM bookings WHERE id = '" + id + "'"), "1");
  }
  EXPECT_GT(total, 0u);
  EXPECT_EQ(postgresQuery(uri_, "SELECT count(*) FROM bookings"), std::to_string(total));
  EXPECT_EQ(postgresQuery(uri_,
                          "SELECT count(*) FROM (SELECT slot_id FROM bookings WHERE "
                          "canceled_ms IS NULL GROUP BY slot_id HAVING count(*) > 5) x"),
            "0");
  EXPECT_EQ(postgresQuery(uri_,
                          "SELECT count(*) FROM (SELECT person_id FROM bookings WHERE "
                          "canceled_ms IS NULL GROUP BY person_id HAVING count(*) > 1) x"),
            "0");
  EXPECT_EQ(postgresQuery(uri_,
                          "SELECT count(*) FROM slots s WHERE booked <> (SELECT count(*) "
                          "FROM bookings b WHERE b.slot_id = s.id AND canceled_ms IS NULL)"),
            "0");
}

// PostgreSQL stopped: a booking gets 503 store_unavailable at once (nothing acknowledged), and
// once it is back the same store reconnects by itself; what was committed before is there.
TEST(PostgresStoreOutage, AStoppedDatabaseAnswers503AndTheStoreReconnects) {
  testing::PostgresServer server;
  std::string uri = server.createDatabase();
  auto store = migratedStore(uri);
  ASSERT_TRUE(store.ok()) << store.error();
  ASSERT_TRUE((*store)->importCatalog(test::smallCatalog()).ok());
  CatalogIndexPtr index = (*store)->loadCatalog().value();
  const IndexedSlot& slot = index->slotsOf(100001)[0];
  NewBooking before = attempt(slot, 100001, "before", "key-before");
  StoredResponse before_answer = (*store)->createBooking(before);
  ASSERT_EQ(before_answer.status, 201);

  server.stop();
  auto start = std::chrono::steady_clock::now();
  StoredResponse down = (*store)->createBooking(attempt(slot, 100001, "during", "key-during"));
  EXPECT_EQ(down.status, 503);
  EXPECT_NE(down.body.find("store_unavailable"), std::string::npos) << down.body;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // Reading a booking that exists: 503 as well, never "no such booking".
  auto made = nlohmann::json::parse(before_answer.body);
  BookingStore::FoundBooking found = (*store)->findBooking(made["booking_id"], made["token"]);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error().status, 503);
  EXPECT_NE(found.error().body.find("store_unavailable"), std::string::npos) << found.error().body;
  EXPECT_EQ((*store)->cancelBooking(made["booking_id"], made["token"], 1).status, 503);
  EXPECT_FALSE((*store)->begin().ok());

  server.start();
  ASSERT_TRUE((*store)->begin().ok());
  EXPECT_EQ((*store)->createBooking(attempt(slot, 100001, "after", "key-after")).status, 201);
  StoredResponse replay = (*store)->createBooking(before);
  EXPECT_TRUE(replay.replayed);
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(postgresQuery(uri, "SELECT count(*) FROM bookings"), "2");
  EXPECT_TRUE((*store)->findBooking(made["booking_id"], made["token"]).value().has_value());
}

}  // namespace
}  // namespace surge::origin
