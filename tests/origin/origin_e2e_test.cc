// surge-origin end to end: a real memcached and a real surge-origin process, driven over HTTP.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "origin_process.h"
#include "surge/cache/queue.h"
#include "surge/testing/reliability.h"
#include "test_catalog.h"

namespace surge::origin {
namespace {

using nlohmann::json;
using test::bookedTotal;
using test::bookingBody;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string readLog(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(OriginE2ETest, FiveHundredClientsRaceForFiveSeats) {
  test::OriginProcess origin(test::smallCatalog(1, 1, 1, 5));
  constexpr int kClients = 500;
  std::latch ready(kClients);
  std::atomic<int> created{0}, full{0}, other{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      HttpClient client("127.0.0.1", origin.port());
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
  EXPECT_EQ(bookedTotal(origin), 5);
}

// Regression: two surge-origin processes on one SQLite file both started, and under concurrent
// bookings a 6-seat slot ended with 9 active bookings. The second must refuse, naming the first,
// and change nothing; the first keeps serving.
TEST(OriginE2ETest, ASecondOriginOnTheSameStoreOrPortRefusesToStart) {
  test::OriginProcess origin(test::smallCatalog(1, 1, 1, 6));
  const std::string first = "pid " + std::to_string(origin.pid());
  {
    testing::ChildProcess second(
        origin.commandLine(testing::freeLoopbackPort(), origin.path("origin.db")),
        origin.path("second.log"));
    EXPECT_EQ(second.wait(std::chrono::seconds(10)), 1);
    std::string log = readLog(origin.path("second.log"));
    EXPECT_NE(log.find("is in use by surge-origin (" + first + ")"), std::string::npos) << log;
  }
  {
    // The same port, another store: refused before the store file is even created.
    testing::ChildProcess second(origin.commandLine(origin.port(), origin.path("other.db")),
                                 origin.path("third.log"));
    EXPECT_EQ(second.wait(std::chrono::seconds(10)), 1);
    std::string log = readLog(origin.path("third.log"));
    EXPECT_NE(log.find(":" + std::to_string(origin.port()) +
                       " is already in use by surge-origin (" + first + ")"),
              std::string::npos)
        << log;
    EXPECT_FALSE(std::filesystem::exists(origin.path("other.db")));
  }
  HttpClient client("127.0.0.1", origin.port());
  for (int i = 0; i < 8; ++i) {
    HttpResponse r = test::postBooking(
        client, bookingBody(100001, test::kFirstDate, "09:00", "still-one-" + std::to_string(i)),
        "one-writer-" + std::to_string(i));
    EXPECT_EQ(r.status, i < 6 ? 201 : 409) << r.body;
  }
}

TEST(OriginE2ETest, BookReadCancelAndIdempotentRetries) {
  test::OriginProcess origin(test::smallCatalog());
  HttpClient client("127.0.0.1", origin.port());
  std::string body = bookingBody(100002, test::kSecondDate, "10:00", "person-1");
  HttpResponse first = test::postBooking(client, body, "k-1");
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(first.header("content-type"), "application/json");
  json created = json::parse(first.body);
  std::string id = created["booking_id"], token = created["token"];

  HttpResponse again = test::postBooking(client, body, "k-1");
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.header("idempotent-replayed"), "true");

  HttpResponse reused =
      test::postBooking(client, bookingBody(100002, test::kSecondDate, "10:00", "person-2"), "k-1");
  EXPECT_EQ(reused.status, 422) << reused.body;
  EXPECT_NE(reused.body.find("\"error\""), std::string::npos);

  HttpResponse second =
      test::postBooking(client, bookingBody(100001, test::kFirstDate, "09:00", "person-1"), "k-2");
  EXPECT_EQ(second.status, 409);
  EXPECT_NE(second.body.find("person_already_booked"), std::string::npos);

  auto get =
      client.request("GET", "/api/v1/bookings/" + id, {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(json::parse(get->body)["status"], "active");
  auto wrong = client.request("GET", "/api/v1/bookings/" + id,
                              {{"Authorization", "Bearer " + std::string(64, '0')}});
  EXPECT_EQ(wrong->status, 404);
  auto missing = client.request("GET", "/api/v1/bookings/" + id);
  EXPECT_EQ(missing->status, 401);

  EXPECT_EQ(bookedTotal(origin), 1);
  auto cancel =
      client.request("DELETE", "/api/v1/bookings/" + id, {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(cancel->status, 204);
  EXPECT_EQ(bookedTotal(origin), 0);
  auto after =
      client.request("GET", "/api/v1/bookings/" + id, {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(json::parse(after->body)["status"], "canceled");
  // The seat and the person are free again.
  EXPECT_EQ(
      test::postBooking(client, bookingBody(100001, test::kFirstDate, "09:00", "person-1"), "k-3")
          .status,
      201);
}

// Regression: slots whose time had come (yesterday's, this morning's) were still sold.
TEST(OriginE2ETest, SlotsThatHaveBegunAreRefusedAsSlotPast) {
  CatalogData catalog = test::smallCatalog(1, 1, 1, 5);
  const int32_t today = test::today();
  catalog.slots.push_back(Slot{100001, today - 1, 9 * 60, 5});
  catalog.slots.push_back(Slot{100001, today, 0, 5});  // 00:00 today: begun whatever the hour
  test::OriginProcess origin(catalog);
  HttpClient client("127.0.0.1", origin.port());
  HttpResponse yesterday = test::postBooking(
      client, bookingBody(100001, formatDate(today - 1), "09:00", "late-1"), "late-1");
  EXPECT_EQ(yesterday.status, 409) << yesterday.body;
  EXPECT_EQ(json::parse(yesterday.body)["error"]["code"], "slot_past");
  HttpResponse midnight = test::postBooking(
      client, bookingBody(100001, formatDate(today), "00:00", "late-2"), "late-2");
  EXPECT_EQ(midnight.status, 409) << midnight.body;
  EXPECT_EQ(json::parse(midnight.body)["error"]["code"], "slot_past");
  EXPECT_EQ(bookedTotal(origin), 0);
  // Later slots are sold as before, and the late people may book them.
  EXPECT_EQ(
      test::postBooking(client, bookingBody(100001, test::kFirstDate, "09:00", "late-1"), "late-3")
          .status,
      201);
}

// A person who closed the tab finds their booking with their person id and booking code, gets a
// fresh token, and can cancel. "No such booking" and "wrong code" look the same.
TEST(OriginE2ETest, ABookingIsFoundAgainByPersonIdAndBookingCode) {
  test::OriginProcess origin(test::smallCatalog());
  HttpClient client("127.0.0.1", origin.port());
  HttpResponse made = test::postBooking(
      client, bookingBody(100001, test::kFirstDate, "09:00", "finder-1"), "find-1");
  ASSERT_EQ(made.status, 201) << made.body;
  json created = json::parse(made.body);
  std::string code = created["code"];
  ASSERT_EQ(code.size(), 9u) << code;  // "ABCD-EFGH"
  EXPECT_EQ(code[4], '-');
  // A replay carries the same code.
  EXPECT_EQ(
      json::parse(test::postBooking(
                      client, bookingBody(100001, test::kFirstDate, "09:00", "finder-1"), "find-1")
                      .body)["code"],
      code);

  auto lookup = [&](const std::string& person, const std::string& typed) {
    auto r =
        client.request("GET", "/api/v1/bookings/lookup",
                       {{"Authorization", "Basic " + base::base64Encode(person + ":" + typed)}});
    return r.ok() ? r.value() : HttpResponse{-1, {}, r.error()};
  };
  // Typed the way people type: lower case, no hyphen, O for 0 and l for 1.
  std::string typed;
  for (char c : code) {
    if (c == '-') continue;
    typed += c == '0' ? 'O' : c == '1' ? 'l' : static_cast<char>(std::tolower(c));
  }
  HttpResponse found = lookup("finder-1", typed);
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(found.header("cache-control"), "no-store");
  json f = json::parse(found.body);
  EXPECT_EQ(f["booking_id"], created["booking_id"]);
  EXPECT_EQ(f["code"], code);
  EXPECT_EQ(f["status"], "active");
  EXPECT_EQ(f["date"], test::kFirstDate);
  EXPECT_NE(f["token"], created["token"]);
  auto get = [&](const std::string& token) {
    return client
        .request("GET", "/api/v1/bookings/" + created["booking_id"].get<std::string>(),
                 {{"Authorization", "Bearer " + token}})
        .value();
  };
  EXPECT_EQ(get(created["token"]).status, 404) << "the old token is replaced";
  EXPECT_EQ(get(f["token"]).status, 200);

  // Wrong code, and a person with no booking: the same answer, byte for byte.
  std::string wrong = code.substr(0, 8) + (code[8] == 'Z' ? "Y" : "Z");
  HttpResponse wrong_code = lookup("finder-1", wrong);
  HttpResponse nobody = lookup("nobody-here", code);
  EXPECT_EQ(wrong_code.status, 404);
  EXPECT_EQ(nobody.status, 404);
  EXPECT_EQ(wrong_code.body, nobody.body);
  EXPECT_EQ(json::parse(nobody.body)["error"]["code"], "not_found");
  // Malformed: a clear 400, no attempt spent.
  EXPECT_EQ(lookup("finder-1", "short").status, 400);
  EXPECT_EQ(lookup("bad person", code).status, 400);
  EXPECT_EQ(client.request("GET", "/api/v1/bookings/lookup").value().status, 400);

  // Cancel with the fresh token: no active booking is left to find.
  auto canceled =
      client.request("DELETE", "/api/v1/bookings/" + created["booking_id"].get<std::string>(),
                     {{"Authorization", "Bearer " + f["token"].get<std::string>()}});
  EXPECT_EQ(canceled.value().status, 204);
  EXPECT_EQ(lookup("finder-1", code).status, 404);

  // Guessing is limited per person: 10 attempts an hour, right or wrong (3 spent above).
  int limited_at = 0;
  for (int i = 0; i < 12 && limited_at == 0; ++i) {
    HttpResponse r = lookup("finder-1", wrong);
    if (r.status == 429) limited_at = i;
  }
  EXPECT_EQ(limited_at, 7);
  HttpResponse limited = lookup("finder-1", code);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(json::parse(limited.body)["error"]["code"], "too_many_attempts");
  EXPECT_GT(std::stoi(limited.header("retry-after")), 0);
  EXPECT_EQ(lookup("someone-else", code).status, 404) << "other people are not limited";
}

TEST(OriginE2ETest, BadInputGetsAClearErrorAndChangesNothing) {
  test::OriginProcess origin(test::smallCatalog());
  HttpClient client("127.0.0.1", origin.port());
  struct Case {
    const char* what;
    std::string body;
    std::string key;
    std::string content_type;
    int status;
    const char* code;
  };
  std::string good = bookingBody(100001, test::kFirstDate, "09:00", "p");
  const Case cases[] = {
      {"malformed JSON", "{\"clinic_id\":", "a1", "application/json", 400, "invalid_json"},
      {"not an object", "[1,2]", "a2", "application/json", 400, "invalid_body"},
      {"unknown field",
       json{{"clinic_id", 100001},
            {"date", test::kFirstDate},
            {"time", "09:00"},
            {"person_id", "p"},
            {"seats", 3}}
           .dump(),
       "a3", "application/json", 400, "unknown_field"},
      {"missing field", json{{"clinic_id", 100001}, {"date", test::kFirstDate}}.dump(), "a4",
       "application/json", 400, "missing_field"},
      {"wrong type",
       json{{"clinic_id", "100001"},
            {"date", test::kFirstDate},
            {"time", "09:00"},
            {"person_id", "p"}}
           .dump(),
       "a5", "application/json", 400, "invalid_field"},
      {"bad date", bookingBody(100001, "2026-02-30", "09:00", "p"), "a6", "application/json", 400,
       "invalid_field"},
      {"bad time", bookingBody(100001, test::kFirstDate, "9:00", "p"), "a7", "application/json",
       400, "invalid_field"},
      {"bad person", bookingBody(100001, test::kFirstDate, "09:00", "p q"), "a8",
       "application/json", 400, "invalid_field"},
      {"unknown clinic", bookingBody(999999, test::kFirstDate, "09:00", "p"), "a9",
       "application/json", 404, "unknown_clinic"},
      {"unknown date", bookingBody(100001, "2027-01-01", "09:00", "p"), "a10", "application/json",
       404, "unknown_slot"},
      {"unknown time", bookingBody(100001, test::kFirstDate, "09:15", "p"), "a11",
       "application/json", 404, "unknown_slot"},
      {"oversized body", std::string(5000, ' ') + good, "a12", "application/json", 413,
       "body_too_large"},
      {"no idempotency key", good, "", "application/json", 400, "invalid_idempotency_key"},
      {"wrong media type", good, "a13", "text/plain", 415, "unsupported_media_type"},
  };
  for (const Case& c : cases) {
    std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", c.content_type}};
    if (!c.key.empty()) headers.emplace_back("Idempotency-Key", c.key);
    auto r = client.request("POST", "/api/v1/bookings", headers, c.body);
    ASSERT_TRUE(r.ok()) << c.what << ": " << r.error();
    EXPECT_EQ(r->status, c.status) << c.what << ": " << r->body;
    auto body = json::parse(r->body, nullptr, false);
    ASSERT_FALSE(body.is_discarded()) << c.what;
    EXPECT_EQ(body["error"]["code"], c.code) << c.what;
    EXPECT_TRUE(body["error"]["message"].is_string()) << c.what;
  }
  auto wrong_method = client.request("PUT", "/api/v1/bookings", {}, "{}");
  EXPECT_EQ(wrong_method->status, 405);
  auto unknown = client.request("GET", "/api/v1/nothing");
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(bookedTotal(origin), 0);
  // The keys of refused requests were not remembered: the same key books normally now.
  EXPECT_EQ(test::postBooking(client, good, "a1").status, 201);
}

TEST(OriginE2ETest, BookingIsInItsSnapshotWithin250Milliseconds) {
  test::OriginProcess origin(test::smallCatalog(20, 2, 4, 30));
  // Full publish at start.
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline && !origin.snapshot("clinic/100020")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(origin.snapshot("regions").has_value());
  auto regions = *origin.snapshot("regions");
  EXPECT_EQ(regions["regions"].size(), 5u);

  HttpClient client("127.0.0.1", origin.port());
  std::vector<double> delays_ms;
  for (int i = 0; i < 40; ++i) {
    int64_t clinic = 100001 + i % 20;
    int booked_before = i / 20;  // each clinic's 09:00 slot gets a second booking in round two
    HttpResponse r = test::postBooking(
        client, bookingBody(clinic, test::kFirstDate, "09:00", "snap-" + std::to_string(i)),
        "snap-" + std::to_string(i));
    ASSERT_EQ(r.status, 201) << r.body;
    auto acked = Clock::now();
    bool seen = false;
    while (!seen && Clock::now() - acked < std::chrono::seconds(2)) {
      auto snap = origin.snapshot("clinic/" + std::to_string(clinic));
      seen = snap && (*snap)["dates"][0]["slots"][0]["remaining"] == 30 - booked_before - 1;
      if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_TRUE(seen) << "booking " << i << " never reached its snapshot";
    delays_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - acked).count());
  }
  std::sort(delays_ms.begin(), delays_ms.end());
  double p50 = delays_ms[delays_ms.size() / 2];
  double p99 = delays_ms[delays_ms.size() * 99 / 100];
  std::printf("publish delay after 201: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", p50, p99,
              delays_ms.back());
  EXPECT_LE(p99, 250.0);

  // The region snapshot (leaf and 시/도) shows the same counts.
  auto region = origin.snapshot("region/11110");
  ASSERT_TRUE(region.has_value());
  EXPECT_EQ((*region)["region"], "11110");
  EXPECT_EQ((*region)["dates"].size(), 2u);
  auto sido = origin.snapshot("region/11");
  ASSERT_TRUE(sido.has_value());
  EXPECT_GT((*sido)["clinics"].size(), (*region)["clinics"].size());
}

// Origin's /readyz: the catalog loaded is not enough; everything it lists must be in memcached.
TEST(OriginE2ETest, ReadyOnlyAfterTheFirstFullPublishIsDone) {
  test::OriginProcess origin(test::smallCatalog());
  HttpClient client("127.0.0.1", origin.port());
  for (int i = 0; i < 100 && client.request("GET", "/readyz")->status != 200; ++i)
    std::this_thread::sleep_for(50ms);
  ASSERT_EQ(client.request("GET", "/readyz")->status, 200);
  // Restarted while memcached cannot be written: alive, with its catalog, but not ready.
  origin.memcached().suspend();
  origin.kill9();
  origin.start();
  HttpClient again("127.0.0.1", origin.port());
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(again.request("GET", "/healthz")->status, 200);
  HttpResponse not_ready = again.request("GET", "/readyz").value();
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_NE(not_ready.body.find("first full publish"), std::string::npos) << not_ready.body;
  EXPECT_EQ(not_ready.header("retry-after"), "1");
  origin.memcached().resume();
  bool ready = false;
  for (int i = 0; i < 100 && !ready; ++i) {
    ready = again.request("GET", "/readyz")->status == 200;
    if (!ready) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(ready);
}

TEST(OriginE2ETest, SnapshotVersionsStayMonotonicAcrossRestarts) {
  test::OriginProcess origin(test::smallCatalog());
  auto wait_for_regions = [&] {
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      if (auto s = origin.snapshot("regions")) return (*s)["version"].get<uint64_t>();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return uint64_t{0};
  };
  uint64_t before = wait_for_regions();
  ASSERT_GT(before, 0u);
  origin.kill9();
  ASSERT_TRUE(origin.memcached().address().size());
  // Forget what memcached holds so that only the new process's snapshots are seen.
  cache::MemcachedOptions o;
  o.servers = {origin.memcached().address()};
  auto mc = std::move(cache::MemcachedClient::create(o).value());
  ASSERT_TRUE(mc->remove(cache::snapshotKey("regions")).ok());
  origin.start();
  uint64_t after = wait_for_regions();
  EXPECT_GT(after, before);
}

TEST(OriginE2ETest, SnapshotsComeBackAfterMemcachedRestartsEmpty) {
  test::OriginProcess origin(test::smallCatalog());
  auto wait_for = [&](const std::string& name, std::chrono::seconds limit) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (origin.snapshot(name)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  ASSERT_TRUE(wait_for("clinic/100003", std::chrono::seconds(10)));
  origin.memcached().kill();
  origin.memcached().restart();  // empty, on the same port
  EXPECT_FALSE(origin.snapshot("clinic/100003").has_value());
  // Nothing changed in the store, yet the periodic full publish (2 s here) restores everything.
  EXPECT_TRUE(wait_for("clinic/100003", std::chrono::seconds(8)));
  EXPECT_TRUE(wait_for("regions", std::chrono::seconds(1)));
  EXPECT_TRUE(wait_for("region/11", std::chrono::seconds(1)));
}

TEST(OriginE2ETest, AdminRequestsMustBeSigned) {
  test::OriginProcess origin(test::smallCatalog());
  HttpClient client("127.0.0.1", origin.port());
  auto unsigned_call = client.request("GET", "/admin/v1/stats");
  EXPECT_EQ(unsigned_call->status, 401);
  EXPECT_NE(unsigned_call->body.find("missing_signature"), std::string::npos);

  cache::Keyring keys = cache::Keyring::parse(test::kAdminKeyLine, "t").value();
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  auto send = [&](const SignedHeaders& h, const std::string& target) {
    return client
        .request("GET", target,
                 {{"X-Surge-Key", h.key_id},
                  {"X-Surge-Timestamp", h.timestamp},
                  {"X-Surge-Nonce", h.nonce},
                  {"X-Surge-Signature", h.signature}})
        .value();
  };
  SignedHeaders good =
      signAdminRequest(keys.signingKey(), "GET", "/admin/v1/stats", "", now, "nonce-000000000001");
  EXPECT_EQ(send(good, "/admin/v1/stats").status, 200);
  HttpResponse replay = send(good, "/admin/v1/stats");
  EXPECT_EQ(replay.status, 401);
  EXPECT_NE(replay.body.find("replayed_nonce"), std::string::npos);
  SignedHeaders stale = signAdminRequest(keys.signingKey(), "GET", "/admin/v1/stats", "", now - 301,
                                         "nonce-000000000002");
  EXPECT_NE(send(stale, "/admin/v1/stats").body.find("stale_timestamp"), std::string::npos);
  SignedHeaders other_path = signAdminRequest(keys.signingKey(), "GET", "/admin/v1/snapshots", "",
                                              now, "nonce-000000000003");
  EXPECT_NE(send(other_path, "/admin/v1/stats").body.find("bad_signature"), std::string::npos);
  cache::Keyring stranger = cache::Keyring::parse("ops-1 " + std::string(64, '8'), "t").value();
  SignedHeaders forged = signAdminRequest(stranger.signingKey(), "GET", "/admin/v1/stats", "", now,
                                          "nonce-000000000004");
  EXPECT_NE(send(forged, "/admin/v1/stats").body.find("bad_signature"), std::string::npos);
  // The log never shows secrets or signatures.
  std::ifstream log(origin.path("origin.log"));
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find(std::string(64, '7')), std::string::npos);
  EXPECT_EQ(text.find(good.signature), std::string::npos);
  testing::ReliabilityRow row("tampering",
                              "admin request unsigned, replayed, expired, re-targeted or forged");
  row.tried(5);
  row.outcome("401 with the reason; nothing done; no secret or signature in the log");
}

TEST(OriginE2ETest, NamedSnapshotsPushListRemove) {
  test::OriginProcess origin(test::smallCatalog());
  HttpResponse pushed = origin.admin("PUT", "/admin/v1/snapshots/notice",
                                     "{\"text\":\"2차 접종 예약 안내\"}", "application/json");
  ASSERT_EQ(pushed.status, 200) << pushed.body;
  auto snap = origin.snapshot("named/notice");
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ((*snap)["text"], "2차 접종 예약 안내");
  HttpResponse listed = origin.admin("GET", "/admin/v1/snapshots");
  EXPECT_NE(listed.body.find("\"notice\""), std::string::npos);

  // Incompressible and over the item limit: refused at push, nothing stored.
  std::string big(1100 * 1024, '\0');
  std::mt19937 rng(7);
  for (char& c : big)
    c = static_cast<char>(rng());
  HttpResponse refused =
      origin.admin("PUT", "/admin/v1/snapshots/huge", big, "application/octet-stream");
  EXPECT_EQ(refused.status, 413) << refused.body;
  EXPECT_NE(refused.body.find("does not fit in a memcached item"), std::string::npos);
  EXPECT_EQ(origin.admin("GET", "/admin/v1/snapshots").body.find("huge"), std::string::npos);

  EXPECT_EQ(origin.admin("DELETE", "/admin/v1/snapshots/notice").status, 204);
  EXPECT_FALSE(origin.snapshot("named/notice").has_value());
  EXPECT_EQ(origin.admin("DELETE", "/admin/v1/snapshots/notice").status, 404);
  EXPECT_EQ(origin.admin("PUT", "/admin/v1/snapshots/Bad%20Name", "x").status, 400);
}

// Reads the store file directly (the origin is stopped): the audit must not trust the server.
struct Audit {
  int64_t over_capacity = -1;
  int64_t active = -1;
  int64_t double_booked_people = -1;
};

Audit audit(const std::string& db_path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  auto one = [&](const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
    int64_t v = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    return v;
  };
  Audit a;
  // Active bookings per slot, counted once (bookings has no slot_id index: a correlated count
  // per slot would be quadratic).
  const std::string active =
      "(SELECT slot_id, count(*) AS n FROM bookings WHERE canceled_ms IS NULL GROUP BY slot_id)";
  a.over_capacity = one(("SELECT count(*) FROM slots s JOIN " + active +
                         " a ON a.slot_id = s.id WHERE a.n > s.capacity")
                            .c_str());
  a.active = one("SELECT count(*) FROM bookings WHERE canceled_ms IS NULL");
  a.double_booked_people =
      one("SELECT count(*) FROM (SELECT person_id FROM bookings WHERE canceled_ms IS NULL "
          "GROUP BY person_id HAVING count(*) > 1)");
  sqlite3_close(db);
  return a;
}

// ./surge soak runs it 100 times (SURGE_SOAK=1), with fewer clients (each restart reads the whole
// store back into memory, so the store's growth sets the soak's length) and seats to spare: every
// kill must come while bookings are being made, which each iteration checks.
TEST(OriginE2ETest, KillNineDuringABookingStormLosesNothing) {
  const int kIterations = testing::iterations(6, 100);
  const int kClients = testing::iterations(6, 2);
  // 1,440 slots: 115,200 seats for the usual 6 iterations, 1,440,000 for a soak (14,400 ran out
  // before the last kills, which then hit an origin with nothing to write).
  test::OriginProcess origin(test::smallCatalog(60, 3, 8, testing::iterations(80, 1000)));
  struct Acked {
    std::string id, token;
  };
  std::vector<Acked> acked;
  std::map<std::string, std::string> unresolved;  // idempotency key -> body
  std::mutex mutex;
  int64_t over_capacity_seen = 0;
  int64_t active_before = 0;
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < kClients; ++t) {
      clients.emplace_back([&, t] {
        std::mt19937 rng(static_cast<unsigned>(iteration * 100 + t));
        HttpClient client("127.0.0.1", origin.port(), std::chrono::milliseconds(2000));
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
          } else if (r.status < 0) {
            unresolved["storm-" + person] = body;  // no answer: 0 or 1 booking, retried below
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }
      });
    }
    // Killed at a different moment each time: 0.6 to 1.35 s into the storm (a soak: 0.3 to 0.65 s,
    // so that 100 storms do not grow the store past what a restart reads back in a second).
    const int step = testing::iterations(150, 70);
    std::this_thread::sleep_for(std::chrono::milliseconds(4 * step + step * (iteration % 6)));
    origin.kill9();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop = true;
    for (auto& c : clients)
      c.join();

    Audit a = audit(origin.path("origin.db"));
    over_capacity_seen += a.over_capacity;
    EXPECT_EQ(a.over_capacity, 0) << "iteration " << iteration;
    // Seats were still being taken when the kill came (not a kill of an idle origin).
    EXPECT_GT(a.active, active_before) << "iteration " << iteration;
    active_before = a.active;
    EXPECT_EQ(a.double_booked_people, 0) << "iteration " << iteration;
    origin.start();
    // What the restarted origin counts is what the file holds.
    EXPECT_EQ(bookedTotal(origin), a.active) << "iteration " << iteration;
  }
  ASSERT_GT(acked.size(), 100u) << "the storm made too few bookings to prove anything";

  HttpClient client("127.0.0.1", origin.port());
  size_t lost = 0;
  for (const Acked& b : acked) {
    auto r =
        client.request("GET", "/api/v1/bookings/" + b.id, {{"Authorization", "Bearer " + b.token}});
    if (!r.ok() || r->status != 200) ++lost;
  }
  EXPECT_EQ(lost, 0u) << "of " << acked.size() << " acknowledged bookings";

  // Every request that got no answer resolves to exactly one outcome when retried with its key.
  long unresolved_resolved = 0;
  for (const auto& [key, body] : unresolved) {
    HttpResponse r = test::postBooking(client, body, key);
    EXPECT_TRUE(r.status == 201 || r.status == 409) << key << ": " << r.status << " " << r.body;
    if (r.status == 201 || r.status == 409) ++unresolved_resolved;
  }
  origin.stop();
  Audit a = audit(origin.path("origin.db"));
  EXPECT_EQ(a.over_capacity, 0);
  EXPECT_GE(a.active, static_cast<int64_t>(acked.size()));
  EXPECT_EQ(a.double_booked_people, 0);
  std::printf(
      "kill -9 loop: %d iterations, %zu acknowledged bookings, 0 lost checked, %zu "
      "unanswered requests retried\n",
      kIterations, acked.size(), unresolved.size());
  testing::ReliabilityRow row("fault", "origin kill -9 in a booking storm");
  row.tried(kIterations);
  row.count("acknowledged", static_cast<long>(acked.size()));
  row.count("lost", static_cast<long>(lost));
  row.count("overbooked slots", a.over_capacity + over_capacity_seen);
  row.count("unanswered, resolved to one outcome by key", unresolved_resolved);
  row.count("unanswered", static_cast<long>(unresolved.size()));
  row.outcome("restart loses no 201; no slot over capacity; no person booked twice");
}

}  // namespace
}  // namespace surge::origin
