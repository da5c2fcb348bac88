// Two surge-origin processes on one PostgreSQL database (a real server), writing at once: the
// booking race, idempotent retries across origins, kill -9 of either origin in a storm, and every
// origin seeing (and publishing) every origin's bookings. The single-origin versions of these
// tests, on SQLite, are in origin_e2e_test.cc.
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "origin_process.h"
#include "surge/testing/postgres_server.h"
#include "surge/testing/reliability.h"
#include "test_catalog.h"

namespace surge::origin {
namespace {

using nlohmann::json;
using test::bookedTotal;
using test::bookingBody;
using testing::postgresQuery;

// A fresh database with the schema made the way an operator makes it: `surgectl store migrate`.
std::string migratedDatabase(testing::PostgresServer& server = testing::PostgresServer::shared()) {
  std::string uri = server.createDatabase();
  testing::ChildProcess migrate({SURGECTL_BIN, "store", "migrate", "--store", uri},
                                (std::filesystem::temp_directory_path() /
                                 ("surgectl-migrate-" + std::to_string(::getpid()) + ".log"))
                                    .string());
  if (migrate.wait(std::chrono::seconds(30)) != 0) throw std::runtime_error("migrate failed");
  return uri;
}

// Two origins on `uri`; the second publishes to the first's memcached (one cache, as in a
// deployment) and imports nothing (the first did).
struct TwoOrigins {
  TwoOrigins(const std::string& uri, const CatalogData& catalog)
      : a(catalog, 1, {"--store", uri}),
        b(catalog, 1, {"--store", uri, "--memcached", a.memcachedList(",")}) {}
  test::OriginProcess a;
  test::OriginProcess b;
  test::OriginProcess& operator[](size_t i) { return i % 2 == 0 ? a : b; }
};

struct Audit {
  int64_t over_capacity = 0, active = 0, double_booked_people = 0, counts_off = 0;
};

Audit audit(const std::string& uri) {
  auto n = [&](const std::string& sql) { return std::stoll(postgresQuery(uri, sql)); };
  Audit a;
  a.over_capacity =
      n("SELECT count(*) FROM slots s JOIN (SELECT slot_id, count(*) AS n FROM bookings WHERE "
        "canceled_ms IS NULL GROUP BY slot_id) b ON b.slot_id = s.id WHERE b.n > s.capacity");
  a.active = n("SELECT count(*) FROM bookings WHERE canceled_ms IS NULL");
  a.double_booked_people =
      n("SELECT count(*) FROM (SELECT person_id FROM bookings WHERE canceled_ms IS NULL "
        "GROUP BY person_id HAVING count(*) > 1) x");
  // Counted once per slot by a join (a correlated count per slot is quadratic).
  a.counts_off =
      n("SELECT count(*) FROM slots s LEFT JOIN (SELECT slot_id, count(*) AS n FROM bookings "
        "WHERE canceled_ms IS NULL GROUP BY slot_id) b ON b.slot_id = s.id "
        "WHERE s.booked <> coalesce(b.n, 0)");
  return a;
}

TEST(SharedStoreE2ETest, FiveHundredClientsOnTwoOriginsRaceForFiveSeats) {
  std::string uri = migratedDatabase();
  TwoOrigins origins(uri, test::smallCatalog(1, 1, 1, 5));
  constexpr int kClients = 500;
  std::latch ready(kClients);
  std::atomic<int> created{0}, full{0}, other{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      HttpClient client("127.0.0.1", origins[static_cast<size_t>(i)].port());
      ready.arrive_and_wait();
      HttpResponse r = test::postBooking(
          client, bookingBody(100001, test::kFirstDate, "09:00", "racer-" + std::to_string(i)),
          "race-" + std::to_string(i));
      if (r.status == 201) {
        ++created;
      } else if (r.status == 409 && r.body.find("slot_full") != std::string::npos) {
        ++full;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : clients)
    t.join();
  EXPECT_EQ(created.load(), 5);
  EXPECT_EQ(full.load(), kClients - 5);
  EXPECT_EQ(other.load(), 0);
  Audit a = audit(uri);
  EXPECT_EQ(a.active, 5);
  EXPECT_EQ(a.over_capacity, 0);
  // Both origins count all five, whichever took them (the follower), soon.
  for (int i = 0; i < 50 && (bookedTotal(origins.a) != 5 || bookedTotal(origins.b) != 5); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(bookedTotal(origins.a), 5);
  EXPECT_EQ(bookedTotal(origins.b), 5);
}

TEST(SharedStoreE2ETest, ARetryOnTheOtherOriginReplaysAndTheBookingIsOneEverywhere) {
  std::string uri = migratedDatabase();
  TwoOrigins origins(uri, test::smallCatalog());
  HttpClient on_a("127.0.0.1", origins.a.port()), on_b("127.0.0.1", origins.b.port());
  std::string body = bookingBody(100002, test::kSecondDate, "10:00", "person-1");
  HttpResponse first = test::postBooking(on_a, body, "k-1");
  ASSERT_EQ(first.status, 201) << first.body;
  HttpResponse again = test::postBooking(on_b, body, "k-1");
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.header("idempotent-replayed"), "true");
  EXPECT_EQ(
      test::postBooking(on_b, bookingBody(100002, test::kSecondDate, "10:00", "person-2"), "k-1")
          .status,
      422);
  HttpResponse twice =
      test::postBooking(on_b, bookingBody(100001, test::kFirstDate, "09:00", "person-1"), "k-2");
  EXPECT_EQ(twice.status, 409);
  EXPECT_NE(twice.body.find("person_already_booked"), std::string::npos);
  // A 409 remembered on one origin replays on the other.
  HttpResponse twice_again =
      test::postBooking(on_a, bookingBody(100001, test::kFirstDate, "09:00", "person-1"), "k-2");
  EXPECT_EQ(twice_again.status, 409);
  EXPECT_EQ(twice_again.header("idempotent-replayed"), "true");

  json created = json::parse(first.body);
  std::string id = created["booking_id"], token = created["token"];
  auto read = on_b.request("GET", "/api/v1/bookings/" + id, {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->status, 200);
  auto cancel =
      on_b.request("DELETE", "/api/v1/bookings/" + id, {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(cancel->status, 204);
  auto after =
      on_a.request("GET", "/api/v1/bookings/" + id, {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(json::parse(after->body)["status"], "canceled");
  EXPECT_EQ(
      test::postBooking(on_a, bookingBody(100001, test::kFirstDate, "09:00", "person-1"), "k-3")
          .status,
      201);
}

// Bookings on one origin reach the other's index and every snapshot in memcached, whoever wrote
// it: after a storm on both, the clinic snapshot shows the seats the database holds.
TEST(SharedStoreE2ETest, EveryOriginPublishesEveryOriginsBookings) {
  std::string uri = migratedDatabase();
  TwoOrigins origins(uri, test::smallCatalog(1, 1, 2, 50));
  for (int i = 0; i < 60; ++i) {
    HttpClient client("127.0.0.1", origins[static_cast<size_t>(i)].port());
    std::string time = i % 2 ? "09:30" : "09:00";
    ASSERT_EQ(test::postBooking(
                  client, bookingBody(100001, test::kFirstDate, time, "pub-" + std::to_string(i)),
                  "pub-" + std::to_string(i))
                  .status,
              201);
  }
  auto remaining = [&]() -> int64_t {
    auto snap = origins.a.snapshot("clinic/100001");
    if (!snap) return -1;
    int64_t left = 0;
    for (const auto& day : (*snap)["dates"])
      for (const auto& slot : day["slots"])
        left += slot["remaining"].get<int64_t>();
    return left;
  };
  int64_t left = -1;
  for (int i = 0; i < 50 && (left = remaining()) != 40; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(left, 40) << "100 seats, 60 booked across two origins";
  EXPECT_EQ(bookedTotal(origins.a), 60);
  EXPECT_EQ(bookedTotal(origins.b), 60);
}

// A catalog imported through one origin is the other's within seconds, without a restart: a
// clinic it did not know takes bookings there, and its count of followed catalogs moved.
TEST(SharedStoreE2ETest, ACatalogImportedThroughOneOriginIsBookableOnTheOther) {
  std::string uri = migratedDatabase();
  TwoOrigins origins(uri, test::smallCatalog(1, 1, 2, 50));
  HttpClient b("127.0.0.1", origins.b.port());
  EXPECT_NE(
      test::postBooking(b, bookingBody(100002, test::kFirstDate, "09:00", "new-0"), "new-0").status,
      201)
      << "clinic 100002 is not in the catalog yet";
  HttpResponse imported = origins.a.admin(
      "POST", "/admin/v1/catalog", writeCatalogCsv(test::smallCatalog(2, 1, 2, 50)), "text/csv");
  ASSERT_EQ(imported.status, 200) << imported.body;
  int status = 0;
  for (int i = 1; i <= 50; ++i) {
    std::string key = "new-" + std::to_string(i);
    status = test::postBooking(b, bookingBody(100002, test::kFirstDate, "09:00", key), key).status;
    if (status == 201) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, 201) << "origin b did not take the catalog origin a imported";
  HttpClient metrics("127.0.0.1", origins.b.port());
  auto scraped = metrics.request("GET", "/metrics", {}, "");
  ASSERT_TRUE(scraped.ok());
  EXPECT_NE(scraped->body.find("surge_origin_catalog_follows_total 1"), std::string::npos)
      << scraped->body.substr(0, 2000);
}

// PostgreSQL stopped under two origins: bookings get 503 store_unavailable with Retry-After at
// once, snapshots stay in memcached for reads, and when PostgreSQL is back both origins book
// again without a restart; everything acknowledged before is still there.
TEST(SharedStoreE2ETest, PostgresRestartedBookingsGet503ThenResumeWithoutARestart) {
  testing::PostgresServer server;
  std::string uri = migratedDatabase(server);
  TwoOrigins origins(uri, test::smallCatalog(2, 1, 2, 50));
  HttpClient on_a("127.0.0.1", origins.a.port(), std::chrono::milliseconds(10000));
  HttpClient on_b("127.0.0.1", origins.b.port(), std::chrono::milliseconds(10000));
  HttpResponse before =
      test::postBooking(on_a, bookingBody(100001, test::kFirstDate, "09:00", "before"), "b-1");
  ASSERT_EQ(before.status, 201) << before.body;

  server.stop();
  for (HttpClient* client : {&on_a, &on_b}) {
    auto start = std::chrono::steady_clock::now();
    HttpResponse down =
        test::postBooking(*client, bookingBody(100001, test::kFirstDate, "09:30", "during"), "d-1");
    EXPECT_EQ(down.status, 503) << down.body;
    EXPECT_NE(down.body.find("store_unavailable"), std::string::npos) << down.body;
    EXPECT_EQ(down.header("retry-after"), "1");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  }
  EXPECT_TRUE(origins.a.snapshot("clinic/100001").has_value()) << "reads come from memcached";

  server.start();
  for (HttpClient* client : {&on_a, &on_b}) {
    HttpResponse up;
    for (int i = 0; i < 50; ++i) {
      up = test::postBooking(*client, bookingBody(100001, test::kFirstDate, "09:30", "during"),
                             "d-1");
      if (up.status != 503) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(up.status, 201) << up.body;  // the first origin books; the other replays it
  }
  EXPECT_EQ(
      test::postBooking(on_b, bookingBody(100001, test::kFirstDate, "09:00", "before"), "b-1").body,
      before.body);
  Audit a = audit(uri);
  EXPECT_EQ(a.active, 2);
  EXPECT_EQ(a.counts_off, 0);
  testing::ReliabilityRow row("fault", "PostgreSQL stopped and restarted under two origins");
  row.tried(1);
  row.count("acknowledged before, present after", a.active >= 1 ? 1 : 0);
  row.outcome("bookings 503 store_unavailable + Retry-After within 5 s; resume without restart");
}

// The waiting room's pacer runs on exactly one of two origins; kill -9 of that one and the other
// takes over within seconds, its cursor going on from where the first left it (never back). A
// setting made through the origin that does not pace reaches the one that does.
TEST(SharedStoreE2ETest, OnePacerAtATimeAndTheOtherOriginTakesOverWithinSeconds) {
  std::string uri = migratedDatabase();
  TwoOrigins origins(uri, test::smallCatalog(1, 1, 1, 5));
  auto status = [](test::OriginProcess& o) {
    return json::parse(o.admin("GET", "/admin/v1/queue").body);
  };
  int leaders = 0;
  for (int i = 0; i < 50; ++i) {
    leaders = status(origins.a)["leading"].get<bool>() + status(origins.b)["leading"].get<bool>();
    if (leaders == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(leaders, 1);
  bool a_leads = status(origins.a)["leading"].get<bool>();
  test::OriginProcess& leader = a_leads ? origins.a : origins.b;
  test::OriginProcess& standby = a_leads ? origins.b : origins.a;
  // Through the standby: open the queue at a fixed rate; the leader applies it.
  EXPECT_EQ(standby.admin("POST", "/admin/v1/queue/rate?value=7").status, 202);
  EXPECT_EQ(standby.admin("POST", "/admin/v1/queue/open").status, 202);
  json led;
  for (int i = 0; i < 40; ++i) {
    led = status(leader);
    if (led["open"].get<bool>() && led["rate"].get<double>() == 7.0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(led["open"].get<bool>()) << led.dump();
  EXPECT_EQ(led["rate"].get<double>(), 7.0) << led.dump();

  leader.kill9();
  auto killed = std::chrono::steady_clock::now();
  json took;
  for (int i = 0; i < 100; ++i) {
    took = status(standby);
    if (took["leading"].get<bool>()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto after = std::chrono::steady_clock::now() - killed;
  EXPECT_TRUE(took["leading"].get<bool>()) << took.dump();
  EXPECT_LT(after, std::chrono::seconds(5));
  EXPECT_TRUE(took["open"].get<bool>());
  EXPECT_EQ(took["epoch"], led["epoch"]);
  EXPECT_GE(took["admitted"].get<uint64_t>(), led["admitted"].get<uint64_t>());
  leader.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE(status(leader)["leading"].get<bool>()) << "the restarted origin waits its turn";
  EXPECT_TRUE(status(standby)["leading"].get<bool>());
  testing::ReliabilityRow row("fault", "kill -9 of the origin that runs the pacer (two origins)");
  row.tried(1);
  row.count("ms until the other origin paced",
            std::chrono::duration_cast<std::chrono::milliseconds>(after).count());
  row.outcome("exactly one pacer; the other takes over within 5 s; the cursor never goes back");
}

// kill -9 of one origin, then the other, in turns, while clients book through both: nothing
// acknowledged is lost, no slot over capacity, nobody booked twice, and every request that got
// no answer resolves to one outcome when retried with its key.
TEST(SharedStoreE2ETest, KillNineOfEitherOriginDuringAStormLosesNothing) {
  std::string uri = migratedDatabase();
  const int kIterations = testing::iterations(6, 40);
  TwoOrigins origins(uri, test::smallCatalog(60, 3, 8, 80));
  struct Acked {
    std::string id, token;
  };
  std::vector<Acked> acked;
  std::map<std::string, std::string> unresolved;
  std::mutex mutex;
  int64_t over_capacity_seen = 0, double_seen = 0, active_before = 0;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 6; ++t) {
      clients.emplace_back([&, t] {
        std::mt19937 rng(static_cast<unsigned>(iteration * 100 + t));
        HttpClient client("127.0.0.1", origins[static_cast<size_t>(t)].port(),
                          std::chrono::milliseconds(2000));
        for (int n = 0; !stop.load(); ++n) {
          std::string person =
              "i" + std::to_string(iteration) + "t" + std::to_string(t) + "n" + std::to_string(n);
          int64_t clinic = 100001 + static_cast<int64_t>(rng() % 60);
          std::string date = formatDate(test::today() + 1 + static_cast<int32_t>(rng() % 3));
          int slot = static_cast<int>(rng() % 8);
          std::string time = (slot / 2 + 9 < 10 ? "0" : "") + std::to_string(9 + slot / 2) +
                             (slot % 2 ? ":30" : ":00");
          std::string body = bookingBody(clinic, date, time, person);
          HttpResponse r = test::postBooking(client, body, "storm-" + person);
          std::lock_guard lock(mutex);
          if (r.status == 201) {
            json j = json::parse(r.body);
            acked.push_back({j["booking_id"], j["token"]});
          } else if (r.status < 0 || r.status == 503) {
            unresolved["storm-" + person] = body;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(600 + 150 * (iteration % 6)));
    test::OriginProcess& victim = origins[static_cast<size_t>(iteration)];
    victim.kill9();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
    for (auto& c : clients)
      c.join();
    Audit a = audit(uri);
    over_capacity_seen += a.over_capacity;
    double_seen += a.double_booked_people;
    EXPECT_EQ(a.over_capacity, 0) << "iteration " << iteration;
    EXPECT_EQ(a.double_booked_people, 0) << "iteration " << iteration;
    EXPECT_EQ(a.counts_off, 0) << "iteration " << iteration;
    EXPECT_GT(a.active, active_before) << "iteration " << iteration;
    active_before = a.active;
    victim.start();
  }
  ASSERT_GT(acked.size(), 100u) << "the storm made too few bookings to prove anything";
  size_t lost = 0;
  for (size_t i = 0; i < acked.size(); ++i) {
    HttpClient client("127.0.0.1", origins[i].port());
    auto r = client.request("GET", "/api/v1/bookings/" + acked[i].id,
                            {{"Authorization", "Bearer " + acked[i].token}});
    if (!r.ok() || r->status != 200) ++lost;
  }
  EXPECT_EQ(lost, 0u) << "of " << acked.size() << " acknowledged bookings";
  long resolved = 0;
  HttpClient client("127.0.0.1", origins.b.port());
  for (const auto& [key, body] : unresolved) {
    HttpResponse r = test::postBooking(client, body, key);
    EXPECT_TRUE(r.status == 201 || r.status == 409) << key << ": " << r.status << " " << r.body;
    if (r.status == 201 || r.status == 409) ++resolved;
  }
  Audit a = audit(uri);
  EXPECT_EQ(a.over_capacity, 0);
  EXPECT_EQ(a.double_booked_people, 0);
  EXPECT_GE(a.active, static_cast<int64_t>(acked.size()));
  testing::ReliabilityRow row("fault", "kill -9 of either of two origins on PostgreSQL in a storm");
  row.tried(kIterations);
  row.count("acknowledged", static_cast<long>(acked.size()));
  row.count("lost", static_cast<long>(lost));
  row.count("overbooked slots", a.over_capacity + over_capacity_seen);
  row.count("people booked twice", a.double_booked_people + double_seen);
  row.count("unanswered, resolved to one outcome by key", resolved);
  row.count("unanswered", static_cast<long>(unresolved.size()));
  row.outcome("no 201 lost; no slot over capacity; no person booked twice; counts = rows");
}

}  // namespace
}  // namespace surge::origin
