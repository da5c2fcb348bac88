// The waiting room end to end: real memcached + surge-origin (pacer) + surge-edge (tickets, gate).
#include <thread>

#include <gtest/gtest.h>

#include "command.h"
#include "edge_process.h"
#include "surge/base/crockford.h"
#include "surge/cache/queue.h"
#include "surge/cache/queue_draw.h"
#include "surge/cache/queue_pow.h"
#include "surge/testing/reliability.h"

namespace surge::edge::test {
namespace {

using namespace std::chrono_literals;

const std::string kQueueKeyLine = "queue-1 " + std::string(64, '9');

// An edge with the waiting room on, in front of an origin whose queue is open.
struct Room {
  explicit Room(std::string extra_http = "",
                origin::CatalogData catalog = origin::test::smallCatalog(4, 2, 4, 50),
                std::vector<std::string> origin_args = {})
      : origin(std::move(catalog), 1, std::move(origin_args)),
        edge(origin, roomConfig() + extra_http, kQueueLocation) {}
  // Another edge of the same room (the same memcached, origin and queue keys).
  std::unique_ptr<EdgeProcess> anotherEdge() {
    return std::make_unique<EdgeProcess>(origin, roomConfig(), kQueueLocation);
  }
  std::string roomConfig() {
    return "  surge_waiting_room on;\n  surge_queue_keys " + keysFile() + ";\n";
  }
  static constexpr const char* kQueueLocation = "    location /api/v1/queue/ { surge_queue; }\n";
  std::string keysFile() {
    std::string path = origin.path("queue-keys.conf");
    writeFile(path, kQueueKeyLine + "\n");
    return path;
  }
  void queue(const std::string& action) {
    auto r = origin.admin("POST", "/admin/v1/queue/" + action);
    ASSERT_EQ(r.status, 202) << r.body;
  }
  nlohmann::json status() {
    return nlohmann::json::parse(origin.admin("GET", "/admin/v1/queue").body);
  }
  OriginProcess origin;
  EdgeProcess edge;
};

struct Ticket {
  std::string text, client;
  uint64_t number = 0;
};

Ticket join(EdgeProcess& edge, const std::string& client = "") {
  std::vector<std::pair<std::string, std::string>> h;
  if (!client.empty()) h.emplace_back("X-Surge-Client", client);
  HttpResponse r;
  for (int attempt = 0; attempt < 30; ++attempt) {  // 503 + Retry-After: try again, as clients do
    r = edge.post("/api/v1/queue/tickets", "", h);
    if (r.status != 503) break;
    std::this_thread::sleep_for(100ms);
  }
  if (r.status != 201 && r.status != 200) throw std::runtime_error("join: " + r.body);
  auto j = nlohmann::json::parse(r.body);
  return Ticket{j["ticket"], j["client"], j["number"]};
}

std::vector<std::pair<std::string, std::string>> with(const Ticket& t) {
  return {{"X-Surge-Client", t.client}, {"X-Surge-Ticket", t.text}};
}

// Waits until the edge has read a queue state with the waiting room open.
void waitOpen(EdgeProcess& edge, const Ticket& t) {
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    HttpResponse r = edge.get("/api/v1/queue/tickets/current", with(t));
    if (r.status == 200 && nlohmann::json::parse(r.body)["open"] == true) return;
    std::this_thread::sleep_for(50ms);
  }
}

bool waitAdmitted(EdgeProcess& edge, const Ticket& t, std::chrono::milliseconds bound = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    HttpResponse r = edge.get("/api/v1/queue/tickets/current", with(t));
    if (r.status == 200 && nlohmann::json::parse(r.body)["admitted"] == true) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

HttpResponse book(EdgeProcess& edge, const Ticket& t, const std::string& person,
                  const std::string& time = "09:00") {
  auto h = with(t);
  h.emplace_back("Idempotency-Key", "k-" + person);
  return edge.post("/api/v1/bookings", bookingBody(100001, origin::test::kFirstDate, time, person),
                   h);
}

std::string code(const HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.contains("error")) return "";
  return j["error"]["code"];
}

TEST(WaitingRoomE2ETest, TicketsAreSignedBoundToTheClientAndKept) {
  Room room;
  room.queue("open");
  HttpResponse first = room.edge.post("/api/v1/queue/tickets", "");
  ASSERT_EQ(first.status, 201) << first.body;
  auto j = nlohmann::json::parse(first.body);
  EXPECT_NE(first.header("set-cookie").find("surge_"), std::string::npos);
  Ticket t{j["ticket"], j["client"], j["number"]};
  EXPECT_GE(t.number, 1u);
  EXPECT_EQ(t.client.size(), 32u);

  // The same client again (a reload, another tab): the same ticket, the same place.
  HttpResponse again = room.edge.post("/api/v1/queue/tickets", "", with(t));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(nlohmann::json::parse(again.body)["ticket"], t.text);
  // Cookies work as well as headers.
  HttpResponse by_cookie =
      room.edge.post("/api/v1/queue/tickets", "",
                     {{"Cookie", "surge_client=" + t.client + "; surge_ticket=" + t.text}});
  EXPECT_EQ(nlohmann::json::parse(by_cookie.body)["number"], t.number);
  // Another client gets the next number.
  Ticket other = join(room.edge);
  EXPECT_GT(other.number, t.number);

  waitOpen(room.edge, t);
  HttpResponse current = room.edge.get("/api/v1/queue/tickets/current", with(t));
  EXPECT_EQ(current.status, 200) << current.body;
  // Refused: altered, forged with another key, presented by another client.
  std::string altered = t.text;
  altered[10] = altered[10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(code(room.edge.get("/api/v1/queue/tickets/current",
                               {{"X-Surge-Client", t.client}, {"X-Surge-Ticket", altered}})),
            "ticket_forged");
  EXPECT_EQ(code(room.edge.get("/api/v1/queue/tickets/current",
                               {{"X-Surge-Client", other.client}, {"X-Surge-Ticket", t.text}})),
            "ticket_other_client");
  EXPECT_EQ(room.edge.get("/api/v1/queue/tickets/current").status, 404);
  testing::ReliabilityRow row("tampering", "altered, forged or cross-client queue ticket");
  row.tried(2);
  row.outcome("403/404 with the reason; status never shown for someone else's ticket");
}

// The room open but paused (nobody is admitted), and one client holding a ticket in it.
Ticket waitingInAPausedRoom(Room& room) {
  room.queue("open");
  room.queue("pause");
  Ticket t = join(room.edge);
  waitOpen(room.edge, t);
  return t;
}

TEST(WaitingRoomE2ETest, TheGateLetsOnlyAdmittedTicketsBook) {
  Room room;
  Ticket t = waitingInAPausedRoom(room);
  EXPECT_EQ(code(book(room.edge, t, "gate-1")), "ticket_not_admitted");
  EXPECT_EQ(code(room.edge.post("/api/v1/bookings",
                                bookingBody(100001, origin::test::kFirstDate, "09:00", "gate-x"),
                                {{"Idempotency-Key", "gx"}})),
            "ticket_missing");
  Ticket stranger = join(room.edge);
  EXPECT_EQ(code(book(room.edge, Ticket{t.text, stranger.client, 0}, "gate-2")),
            "ticket_other_client");
  std::string forged = t.text;
  forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(code(book(room.edge, Ticket{forged, t.client, 0}, "gate-3")), "ticket_forged");
  // A client cannot hand the edge its own ticket number for origin.
  auto h = with(t);
  h.emplace_back("X-Surge-Ticket-Number", "1");
  h.emplace_back("Idempotency-Key", "k-gate-4");
  EXPECT_EQ(
      code(room.edge.post("/api/v1/bookings",
                          bookingBody(100001, origin::test::kFirstDate, "09:00", "gate-4"), h)),
      "ticket_not_admitted");

  room.queue("resume");
  room.origin.admin("POST", "/admin/v1/queue/rate?value=1000");
  ASSERT_TRUE(waitAdmitted(room.edge, t));
  HttpResponse ok = book(room.edge, t, "gate-1");
  EXPECT_EQ(ok.status, 201) << ok.body;
  // One booking per ticket: origin refuses the same ticket for another person.
  HttpResponse reuse = book(room.edge, t, "gate-5", "09:30");
  EXPECT_EQ(reuse.status, 409) << reuse.body;
  EXPECT_EQ(code(reuse), "ticket_already_used");
  std::string m = room.edge.metrics();
  EXPECT_GE(metric(m, "surge_edge_queue_refused_total"), 4);
  EXPECT_GE(metric(m, "surge_edge_queue_tickets_issued_total"), 2);
  testing::ReliabilityRow row("tampering",
                              "booking with a missing, forged, cross-client, unadmitted or reused "
                              "ticket");
  row.tried(6);
  row.outcome("403 with the reason at the edge; reuse 409 ticket_already_used at origin");
}

TEST(WaitingRoomE2ETest, AdmissionFollowsTicketOrder) {
  Room room;
  room.queue("open");
  room.origin.admin("POST", "/admin/v1/queue/rate?value=8");
  std::vector<Ticket> tickets;
  for (int i = 0; i < 12; ++i)
    tickets.push_back(join(room.edge));
  for (size_t i = 1; i < tickets.size(); ++i)
    EXPECT_GT(tickets[i].number, tickets[i - 1].number);
  // Poll everyone: at every moment the admitted tickets are a prefix of the issue order.
  // The tickets are read newest first. Admission only moves forward, so a newer ticket seen
  // admitted and an older one read after it seen waiting is a real inversion; read oldest first,
  // the gate may advance between two reads and the check would fail a correct room.
  auto deadline = std::chrono::steady_clock::now() + 8s;
  size_t admitted_count = 0;
  while (std::chrono::steady_clock::now() < deadline && admitted_count < tickets.size()) {
    std::vector<bool> admitted(tickets.size());
    for (size_t i = tickets.size(); i-- > 0;) {
      auto j = nlohmann::json::parse(
          room.edge.get("/api/v1/queue/tickets/current", with(tickets[i])).body);
      admitted[i] = j["admitted"] == true;
    }
    admitted_count = 0;
    while (admitted_count < admitted.size() && admitted[admitted_count])
      ++admitted_count;
    for (size_t i = admitted_count; i < admitted.size(); ++i)
      EXPECT_FALSE(admitted[i]) << "ticket " << i << " admitted before ticket " << admitted_count;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(admitted_count, tickets.size());
  // Positions and ETAs are answered from memory.
  Ticket late = join(room.edge);
  auto j = nlohmann::json::parse(room.edge.get("/api/v1/queue/tickets/current", with(late)).body);
  EXPECT_TRUE(j.contains("eta_s"));
  EXPECT_TRUE(j.contains("position"));
}

// Through a CDN (issue 19): the queue's state is one document for everyone, cacheable for a
// second; with its ticket's place a page computes the position /tickets/current would give it.
TEST(WaitingRoomE2ETest, TheSharedStateGivesEveryTicketItsPositionAndIsTheSameForEveryone) {
  Room room;
  room.queue("open");
  room.queue("pause");
  std::vector<Ticket> tickets;
  for (int i = 0; i < 5; ++i)
    tickets.push_back(join(room.edge));
  waitOpen(room.edge, tickets[0]);
  HttpResponse mine = room.edge.get("/api/v1/queue/state", with(tickets[0]));
  HttpResponse anyone = room.edge.get("/api/v1/queue/state");
  ASSERT_EQ(anyone.status, 200) << anyone.body;
  EXPECT_EQ(anyone.header("cache-control"), "public, max-age=1, s-maxage=1");
  EXPECT_EQ(anyone.header("cdn-cache-control"), "public, max-age=1");
  EXPECT_EQ(anyone.header("set-cookie"), "");  // nothing of anyone's in it
  EXPECT_EQ(mine.body, anyone.body);           // whoever asks
  auto state = nlohmann::json::parse(anyone.body);
  EXPECT_EQ(state["open"], true);
  for (const Ticket& t : tickets) {
    auto own = nlohmann::json::parse(room.edge.get("/api/v1/queue/tickets/current", with(t)).body);
    ASSERT_TRUE(own["place"].is_number()) << own;
    EXPECT_EQ(own["epoch"], state["epoch"]);
    EXPECT_EQ(own["place"].get<uint64_t>() - state["admitted"].get<uint64_t>(),
              own["position"].get<uint64_t>())
        << own;
  }
  EXPECT_EQ(room.edge.post("/api/v1/queue/state", "{}").status, 405);
}

TEST(WaitingRoomE2ETest, RevokedAndExpiredTicketsAreRefused) {
  Room room("  surge_queue_session 2s;\n");
  room.queue("open");
  room.origin.admin("POST", "/admin/v1/queue/rate?value=1000");
  Ticket t = join(room.edge);
  ASSERT_TRUE(waitAdmitted(room.edge, t));
  std::this_thread::sleep_for(3s);  // past the 2 s session
  EXPECT_EQ(code(book(room.edge, t, "late-1")), "ticket_expired");
  // Asking again with the expired ticket gives a new one at the back, not the expired one.
  HttpResponse again = room.edge.post("/api/v1/queue/tickets", "", with(t));
  EXPECT_EQ(again.status, 201) << again.body;
  EXPECT_GT(nlohmann::json::parse(again.body)["number"].get<uint64_t>(), t.number);

  Ticket u = join(room.edge);
  ASSERT_TRUE(waitAdmitted(room.edge, u));
  room.queue("revoke");
  auto deadline = std::chrono::steady_clock::now() + 3s;
  std::string got;
  while (std::chrono::steady_clock::now() < deadline) {
    got = code(book(room.edge, u, "revoked-1"));
    if (got == "ticket_revoked") break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(got, "ticket_revoked");
  Ticket fresh = join(room.edge);  // a new ticket works in the new epoch
  ASSERT_TRUE(waitAdmitted(room.edge, fresh));
  EXPECT_EQ(book(room.edge, fresh, "fresh-1").status, 201);
  testing::ReliabilityRow row("tampering", "expired or revoked queue ticket");
  row.tried(2);
  row.outcome("403 ticket_expired / ticket_revoked; asking again gives a new place at the back");
}

TEST(WaitingRoomE2ETest, AQueueStateForgedInMemcachedIsIgnored) {
  Room room;
  Ticket t = waitingInAPausedRoom(room);
  // Someone who can reach memcached but holds no key writes "everyone is admitted": as bare text,
  // and sealed with a key of its own, faster than origin's pacer writes the real state.
  cache::MemcachedOptions mo;
  mo.servers = {room.origin.memcached().address()};
  auto mc = std::move(cache::MemcachedClient::create(mo).value());
  cache::Keyring real = cache::Keyring::parse(origin::test::kSnapshotKeyLine, "t").value();
  cache::Keyring stranger = cache::Keyring::parse("snap-1 " + std::string(64, '9'), "t").value();
  auto deadline = std::chrono::steady_clock::now() + 1500ms;
  for (int i = 0; std::chrono::steady_clock::now() < deadline; ++i) {
    auto held = mc->get(cache::kQueueStateKey);
    ASSERT_TRUE(held.ok() && held->has_value());
    auto state = cache::openQueueState(real, **held);
    if (!state) continue;  // our own forgery, read back
    state->admitted = 1000000000;
    state->rate = 1000000;
    std::string forged =
        i % 2 ? cache::encodeQueueState(*state) : cache::sealQueueState(stranger, *state).value();
    ASSERT_TRUE(mc->set(cache::kQueueStateKey, forged).ok());
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(code(book(room.edge, t, "forged-1")), "ticket_not_admitted");
  std::string m = room.edge.metrics();
  EXPECT_GE(metric(m, "surge_edge_queue_state_refused_total"), 1);
  EXPECT_LT(metric(m, "surge_edge_queue_admitted"), 1000000000);
  EXPECT_NE(room.edge.log().find("queue state in memcached refused"), std::string::npos);
  testing::ReliabilityRow row("tampering", "queue state written to memcached without the key");
  row.tried(2);
  row.outcome("ignored: the last sealed state stays; nobody is admitted by it; counter and log");
}

TEST(WaitingRoomE2ETest, TheSequenceSurvivesMemcachedLosingIt) {
  Room room;
  room.queue("open");
  Ticket before = join(room.edge);
  room.origin.memcached().restart();  // empty: origin re-seeds from its durable mark
  // Generous: the pacer re-seeds within a second or two, but under ctest -j2 next to the load
  // tests it once took longer than 5 s.
  auto deadline = std::chrono::steady_clock::now() + 15s;
  Ticket after;
  while (std::chrono::steady_clock::now() < deadline) {
    HttpResponse r = room.edge.post("/api/v1/queue/tickets", "");
    if (r.status == 201) {
      after.number = nlohmann::json::parse(r.body)["number"];
      break;
    }
    ASSERT_EQ(r.status, 503) << r.body;  // while re-seeding: a retry-later, never a lower number
    EXPECT_EQ(r.header("retry-after"), "1");
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_GT(after.number, before.number);
}

TEST(WaitingRoomE2ETest, ThePreQueueIsShuffledAtTheOpening) {
  Room room;
  room.queue("open");
  room.queue("pause");  // after the opening the cursor stays at 0: positions are places
  int64_t opening = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count() +
                    2;
  ASSERT_EQ(
      room.origin.admin("POST", "/admin/v1/queue/opening?at=" + std::to_string(opening)).status,
      202);
  std::this_thread::sleep_for(400ms);  // edges learn the opening time
  std::vector<Ticket> early;
  for (int i = 0; i < 30; ++i) {
    HttpResponse r = room.edge.post("/api/v1/queue/tickets", "");
    ASSERT_EQ(r.status, 201) << r.body;
    auto j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["prequeue"], true);
    EXPECT_TRUE(j["position"].is_null());  // no place before the opening
    early.push_back(Ticket{j["ticket"], j["client"], j["number"]});
  }
  // Before the opening nobody books, however early they came.
  EXPECT_EQ(code(book(room.edge, early[0], "early-0")), "ticket_not_admitted");
  // The seed's commitment is public from the moment the opening time is set; the seed is not.
  auto before = nlohmann::json::parse(room.edge.get("/api/v1/queue/draw").body);
  ASSERT_TRUE(before["commitment"].is_string()) << before.dump();
  EXPECT_TRUE(before["seed"].is_null());
  EXPECT_EQ(before["entries"].size(), 0u);
  std::string committed = before["commitment"];
  Command early_verify = run(std::string(SURGECTL_BIN) +
                             " queue verify http://127.0.0.1:" + std::to_string(room.edge.port()));
  EXPECT_EQ(early_verify.exit, 2) << early_verify.output;
  EXPECT_NE(early_verify.output.find(committed), std::string::npos) << early_verify.output;
  std::this_thread::sleep_for(std::chrono::seconds(opening + 1) -
                              std::chrono::system_clock::now().time_since_epoch());
  std::this_thread::sleep_for(500ms);
  std::vector<uint64_t> places;
  for (const Ticket& t : early) {
    auto j = nlohmann::json::parse(room.edge.get("/api/v1/queue/tickets/current", with(t)).body);
    ASSERT_FALSE(j["position"].is_null()) << j.dump();
    places.push_back(j["position"]);
  }
  auto j0draw = nlohmann::json::parse(room.edge.get("/api/v1/queue/draw?from=1&count=1").body);
  EXPECT_EQ(j0draw["commitment"], committed);
  EXPECT_EQ(j0draw["prequeue"], 30);
  EXPECT_EQ(j0draw["next"], 2);
  EXPECT_EQ(cache::seedCommitment(j0draw["seed"].get<std::string>()), committed);
  EXPECT_EQ(room.edge.get("/api/v1/queue/draw?count=1001").status, 400);
  std::vector<uint64_t> sorted = places;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i)
    EXPECT_EQ(sorted[i], i + 1);  // the 30 places 1..30, each once
  EXPECT_NE(places, sorted);      // and not in the order people arrived
  // The draw: committed to before the opening, checkable by anyone after it (surgectl queue
  // verify against the edge; a copy with one ticket or the seed changed fails).
  EXPECT_EQ(places[0], j0draw["entries"][0][1]) << "ticket 1's place is the draw's";
  std::string dir = room.origin.path("");
  Command ok = run(std::string(SURGECTL_BIN) +
                   " queue verify http://127.0.0.1:" + std::to_string(room.edge.port()) +
                   " --commitment " + committed + " --save " + dir + "/draw.json");
  EXPECT_EQ(ok.exit, 0) << ok.output;
  EXPECT_NE(ok.output.find("verified: 30 pre-queue tickets"), std::string::npos) << ok.output;
  auto saved = nlohmann::json::parse(readFile(dir + "/draw.json"));
  auto tampered = saved;
  std::swap(tampered["entries"][3][1], tampered["entries"][4][1]);  // two people's places traded
  writeFile(dir + "/ticket.json", tampered.dump());
  Command bad_ticket = run(std::string(SURGECTL_BIN) + " queue verify " + dir + "/ticket.json");
  EXPECT_EQ(bad_ticket.exit, 1) << bad_ticket.output;
  EXPECT_NE(bad_ticket.output.find("NOT verified: ticket 4"), std::string::npos)
      << bad_ticket.output;
  tampered = saved;
  std::string seed = tampered["seed"];
  seed[5] = seed[5] == '0' ? '1' : '0';
  tampered["seed"] = seed;
  writeFile(dir + "/seed.json", tampered.dump());
  Command bad_seed = run(std::string(SURGECTL_BIN) + " queue verify " + dir + "/seed.json");
  EXPECT_EQ(bad_seed.exit, 1) << bad_seed.output;
  EXPECT_NE(bad_seed.output.find("commitment"), std::string::npos) << bad_seed.output;

  // Arrivals after the opening queue behind the whole pre-queue.
  Ticket late = join(room.edge);
  auto j = nlohmann::json::parse(room.edge.get("/api/v1/queue/tickets/current", with(late)).body);
  EXPECT_EQ(j["prequeue"], false);
  EXPECT_EQ(j["position"], 30 + late.number);
  room.queue("resume");
  room.origin.admin("POST", "/admin/v1/queue/rate?value=1000");
  ASSERT_TRUE(waitAdmitted(room.edge, early[0]));
  EXPECT_EQ(book(room.edge, early[0], "early-0").status, 201);
}

TEST(WaitingRoomE2ETest, OperatorSettingsSurviveAnOriginRestart) {
  Room room;
  room.queue("open");
  room.queue("pause");
  ASSERT_EQ(room.origin.admin("POST", "/admin/v1/queue/rate?value=7").status, 202);
  std::this_thread::sleep_for(300ms);  // the pacer saves settings on its next tick
  room.origin.stop();
  room.origin.start();
  auto s = room.status();
  EXPECT_EQ(s["open"], true);
  EXPECT_EQ(s["paused"], true);
  EXPECT_EQ(s["mode"], "fixed");
  EXPECT_DOUBLE_EQ(s["rate"].get<double>(), 7.0);
}

// Admission by seats left: with 4 seats and a factor of 1, four people are let in and no more;
// when the fourth seat is booked everyone still waiting reads sold_out within 2 s, nobody new gets
// a place, and a cancellation opens admission again for one.
TEST(WaitingRoomE2ETest, AdmissionStopsAtTheSeatsLeftAndEveryoneLearnsTheSellOut) {
  Room room("", origin::test::smallCatalog(1, 1, 2, 2));  // 2 slots x 2 seats
  room.queue("open");
  room.queue("factor?value=1");
  room.queue("rate?value=1000");
  std::vector<Ticket> people;
  for (int i = 0; i < 10; ++i)
    people.push_back(join(room.edge));
  for (size_t i = 0; i < 4; ++i)
    ASSERT_TRUE(waitAdmitted(room.edge, people[i])) << i;
  std::this_thread::sleep_for(500ms);  // five ticks of a 1000/s pacer
  auto status = room.status();
  EXPECT_EQ(status["admitted"], 4) << status.dump();
  EXPECT_EQ(status["seats"], 4);
  EXPECT_EQ(status["claims"], 4);
  EXPECT_FALSE(waitAdmitted(room.edge, people[4], 300ms));
  EXPECT_EQ(code(book(room.edge, people[4], "early", "09:00")), "ticket_not_admitted");

  std::vector<std::string> ids, tokens;
  for (size_t i = 0; i < 4; ++i) {
    HttpResponse r =
        book(room.edge, people[i], "seat-" + std::to_string(i), i < 2 ? "09:00" : "09:30");
    ASSERT_EQ(r.status, 201) << r.body;
    auto j = nlohmann::json::parse(r.body);
    ids.push_back(j["booking_id"]);
    tokens.push_back(j["token"]);
  }
  auto last_seat = std::chrono::steady_clock::now();
  // Everyone still waiting, polling as a page does near the end (every 100 ms here), learns it.
  std::vector<bool> told(people.size(), false);
  int64_t sold_out_at = 0;
  auto all_told = [&] {
    return std::all_of(told.begin() + 4, told.end(), [](bool b) { return b; });
  };
  while (!all_told() && std::chrono::steady_clock::now() - last_seat < 3s) {
    for (size_t i = 4; i < people.size(); ++i) {
      if (told[i]) continue;
      auto j = nlohmann::json::parse(
          room.edge.get("/api/v1/queue/tickets/current", with(people[i])).body);
      if (j["sold_out"] == true) {
        told[i] = true;
        sold_out_at = j["sold_out_at_ms"];
        EXPECT_EQ(j["seats"], 0);
        EXPECT_EQ(j["admitted"], false);
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  auto learned = std::chrono::steady_clock::now() - last_seat;
  ASSERT_TRUE(all_told()) << "not every waiting person read sold_out within 3 s";
  EXPECT_LT(learned, 2s);
  EXPECT_GT(sold_out_at, 0);
  auto shared = nlohmann::json::parse(room.edge.get("/api/v1/queue/state").body);
  EXPECT_EQ(shared["sold_out"], true);
  EXPECT_EQ(shared["sold_out_at_ms"], sold_out_at);

  // No new places; those who hold one keep it and read the same.
  HttpResponse fresh = room.edge.post("/api/v1/queue/tickets", "");
  EXPECT_EQ(fresh.status, 410) << fresh.body;
  EXPECT_EQ(code(fresh), "sold_out");
  HttpResponse again = room.edge.post("/api/v1/queue/tickets", "", with(people[7]));
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(nlohmann::json::parse(again.body)["sold_out"], true);
  EXPECT_GE(metric(room.edge.metrics(), "surge_edge_queue_sold_out_total"), 1);
  // Trying to book anyway: the turn will not come, and the answer says so (410, not 403).
  HttpResponse late = book(room.edge, people[5], "late", "09:30");
  EXPECT_EQ(late.status, 410) << late.body;
  EXPECT_EQ(code(late), "sold_out");
  EXPECT_EQ(metric(room.edge.metrics(), "surge_edge_queue_refused_total{reason=\"sold_out\"}"), 1);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(room.status()["admitted"], 4) << "admitted past the seats";

  // A cancellation gives a seat back: admission opens for exactly one more person.
  HttpResponse canceled = room.edge.get("/api/v1/bookings/" + ids[1],
                                        {{"Authorization", "Bearer " + tokens[1]}}, "DELETE");
  ASSERT_EQ(canceled.status, 204) << canceled.body;
  ASSERT_TRUE(waitAdmitted(room.edge, people[4], 3000ms));
  auto j =
      nlohmann::json::parse(room.edge.get("/api/v1/queue/tickets/current", with(people[4])).body);
  EXPECT_EQ(j["sold_out"], false);
  EXPECT_EQ(j["seats"], 1);
  EXPECT_EQ(room.edge.post("/api/v1/queue/tickets", "").status, 201);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(room.status()["admitted"], 5);
  EXPECT_FALSE(waitAdmitted(room.edge, people[5], 200ms));
  HttpResponse last = book(room.edge, people[4], "seat-4", "09:00");
  EXPECT_EQ(last.status, 201) << last.body;
}

// The operator's factor: 0 stops counting seats, anything else must be a number in 1..100.
TEST(WaitingRoomE2ETest, TheSeatFactorIsTheOperatorsAndChecked) {
  Room room("", origin::test::smallCatalog(1, 1, 1, 2));
  EXPECT_EQ(room.origin.admin("POST", "/admin/v1/queue/factor?value=0.5").status, 400);
  EXPECT_EQ(room.origin.admin("POST", "/admin/v1/queue/factor?value=x").status, 400);
  EXPECT_EQ(room.origin.admin("POST", "/admin/v1/queue/factor").status, 400);
  EXPECT_EQ(room.status()["seat_factor"], 1.25);
  room.queue("open");
  room.queue("rate?value=1000");
  room.queue("factor?value=0");
  std::vector<Ticket> people;
  for (int i = 0; i < 5; ++i)
    people.push_back(join(room.edge));
  ASSERT_TRUE(waitAdmitted(room.edge, people[4]));  // 5 people for 2 seats: not counted
  auto j = nlohmann::json::parse(room.edge.get("/api/v1/queue/state").body);
  EXPECT_TRUE(j["seats"].is_null());
  EXPECT_EQ(j["sold_out"], false);
  EXPECT_EQ(room.status()["seat_factor"], 0);
}

// A place nobody loses: the resume code gives another device the same place at any edge. 50 people
// resume 20 times each, spread over 3 edges, each time as a new device: 1,000 resumes, every one
// the person's own number and position, and not one new number taken from the sequence.
TEST(WaitingRoomE2ETest, AResumeCodeGivesTheSamePlaceAtAnyEdgeAndNeverASecondOne) {
  Room room;
  room.queue("open");
  room.queue("pause");  // nobody admitted: positions stay put while the devices come and go
  auto second_edge = room.anotherEdge(), third_edge = room.anotherEdge();
  EdgeProcess &second = *second_edge, &third = *third_edge;
  EdgeProcess* edges[] = {&room.edge, &second, &third};
  struct Person {
    Ticket ticket;
    std::string code;
    uint64_t position;
  };
  std::vector<Person> people;
  for (int i = 0; i < 50; ++i) {
    Ticket t = join(*edges[i % 3]);
    auto j =
        nlohmann::json::parse(edges[i % 3]->get("/api/v1/queue/tickets/current", with(t)).body);
    ASSERT_TRUE(j["resume_code"].is_string()) << j.dump();
    std::string code = j["resume_code"];
    EXPECT_EQ(code.size(), 11u);  // ABCD-EFGH-J
    people.push_back({t, code, j["position"].is_null() ? 0 : j["position"].get<uint64_t>()});
  }
  std::this_thread::sleep_for(400ms);  // every edge has read the state with the new numbers
  uint64_t issued_before = room.status()["issued"];
  int resumes = 0;
  for (int round = 0; round < 20; ++round) {
    for (size_t i = 0; i < people.size(); ++i) {
      EdgeProcess& edge = *edges[(i + static_cast<size_t>(round)) % 3];
      // A new device: no client id, no ticket; half of them type the code in lower case.
      std::string typed = people[i].code;
      if (round % 2 == 1) std::transform(typed.begin(), typed.end(), typed.begin(), ::tolower);
      if (round == 2) {  // every character percent-encoded, as a page's encodeURIComponent may
        std::string encoded;
        for (char c : typed) {
          char hex[4];
          std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
          encoded += hex;
        }
        typed = encoded;
      }
      HttpResponse r = edge.post("/api/v1/queue/tickets/resume?code=" + typed, "");
      ASSERT_EQ(r.status, 200) << r.body;
      auto j = nlohmann::json::parse(r.body);
      ASSERT_EQ(j["number"], people[i].ticket.number);
      ASSERT_EQ(j["position"], people[i].position) << "the same place in line";
      ASSERT_EQ(j["resume_code"], people[i].code);
      ASSERT_NE(j["client"], people[i].ticket.client);  // this device's own ticket
      // The resumed ticket is a ticket like any other on every edge.
      if (round == 0) {
        Ticket resumed{j["ticket"], j["client"], j["number"]};
        auto again = nlohmann::json::parse(
            edges[(i + 1) % 3]->get("/api/v1/queue/tickets/current", with(resumed)).body);
        EXPECT_EQ(again["number"], people[i].ticket.number) << again.dump();
      }
      ++resumes;
    }
  }
  EXPECT_EQ(resumes, 1000);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(room.status()["issued"], issued_before) << "a resume took a new number";
  int64_t issued = 0, resumed = 0;
  for (EdgeProcess* e : edges) {
    std::string m = e->metrics();
    issued += metric(m, "surge_edge_queue_tickets_issued_total");
    resumed += metric(m, "surge_edge_queue_resumed_total");
  }
  EXPECT_EQ(issued, 50);
  EXPECT_EQ(resumed, 1000);

  // One place, one booking: the two devices holding it cannot book twice.
  room.queue("resume");
  room.queue("rate?value=1000");
  Person& first = people[0];
  auto other = nlohmann::json::parse(
      second.post("/api/v1/queue/tickets/resume?code=" + first.code, "").body);
  Ticket other_device{other["ticket"], other["client"], other["number"]};
  ASSERT_TRUE(waitAdmitted(room.edge, first.ticket));
  ASSERT_TRUE(waitAdmitted(third, other_device));  // each edge reads the state on its own
  EXPECT_EQ(book(room.edge, first.ticket, "resume-0").status, 201);
  HttpResponse twice = book(third, other_device, "resume-0b", "09:30");
  EXPECT_EQ(twice.status, 409) << twice.body;
  EXPECT_EQ(code(twice), "ticket_already_used");
}

// A code mistyped is caught by its check symbol and not counted; a code nobody was given is
// refused, and after 10 of those from one address the edge stops answering them for a while.
TEST(WaitingRoomE2ETest, WrongResumeCodesAreRefusedAndGuessingIsLimited) {
  Room room;
  room.queue("open");
  room.queue("pause");
  Ticket t = join(room.edge);
  std::string good = nlohmann::json::parse(
      room.edge.get("/api/v1/queue/tickets/current", with(t)).body)["resume_code"];
  std::string typo = good;
  typo[1] = typo[1] == '7' ? '8' : '7';
  HttpResponse r = room.edge.post("/api/v1/queue/tickets/resume?code=" + typo, "");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(code(r), "code_mistyped");
  EXPECT_EQ(code(room.edge.post("/api/v1/queue/tickets/resume?code=", "")), "code_mistyped");
  EXPECT_EQ(room.edge.get("/api/v1/queue/tickets/resume").status, 405);
  // Well-formed codes for places nobody was given (the check symbol recomputed: guesses).
  int unknown = 0, limited = 0;
  for (uint64_t guess = 1; guess <= 12; ++guess) {
    uint64_t bits = guess << 25 | (5000 + guess);
    std::string c = base::crockfordEncode(bits, 8) + base::crockfordCheckSymbol(bits);
    HttpResponse g = room.edge.post("/api/v1/queue/tickets/resume?code=" + c, "");
    unknown += g.status == 403 && code(g) == "code_unknown";
    limited += g.status == 429 && !g.header("retry-after").empty();
  }
  EXPECT_EQ(unknown, 10);
  EXPECT_EQ(limited, 2);
  // The limit is on wrong codes from this address: its own code is refused too while it lasts.
  EXPECT_EQ(room.edge.post("/api/v1/queue/tickets/resume?code=" + good, "").status, 429);
  std::string m = room.edge.metrics();
  EXPECT_EQ(metric(m, "surge_edge_queue_resume_refused_total{reason=\"mistyped\"}"), 2);
}

// The attack mode: a new place costs a proof of work made for this client, good once at any edge;
// a place already held, and the mode off, cost nothing.
TEST(WaitingRoomE2ETest, UnderAttackANewTicketCostsAProofOfWorkUsedOnce) {
  Room room;
  room.queue("open");
  room.queue("pause");
  EXPECT_EQ(room.origin.admin("POST", "/admin/v1/queue/attack?bits=33").status, 400);
  room.queue("attack?bits=10");
  auto second_edge = room.anotherEdge();
  EdgeProcess& second = *second_edge;
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(room.status()["proof_bits"], 10);
  HttpResponse bare = room.edge.post("/api/v1/queue/tickets", "");
  EXPECT_EQ(bare.status, 403) << bare.body;
  EXPECT_EQ(code(bare), "proof_required");
  EXPECT_EQ(nlohmann::json::parse(bare.body)["bits"], 10);

  auto challenge = [&](EdgeProcess& edge, const std::string& client) {
    auto j = nlohmann::json::parse(
        edge.get("/api/v1/queue/challenge", {{"X-Surge-Client", client}}).body);
    EXPECT_EQ(j["bits"], 10);
    std::string c = j["challenge"];
    return c + "." + std::to_string(cache::solveChallenge(c, 10));
  };
  const std::string alice(32, 'a'), bob(32, 'b');
  std::string proof = challenge(room.edge, alice);
  auto as = [](const std::string& client, const std::string& proof) {
    return std::vector<std::pair<std::string, std::string>>{{"X-Surge-Client", client},
                                                            {"X-Surge-Proof", proof}};
  };
  EXPECT_EQ(code(room.edge.post("/api/v1/queue/tickets", "", as(bob, proof))),
            "proof_other_client");
  HttpResponse paid = room.edge.post("/api/v1/queue/tickets", "", as(alice, proof));
  ASSERT_EQ(paid.status, 201) << paid.body;
  // Once: here, and at another edge.
  HttpResponse again = room.edge.post("/api/v1/queue/tickets", "", as(alice, proof));
  EXPECT_EQ(again.status, 403);
  EXPECT_EQ(code(again), "proof_used");
  EXPECT_EQ(code(second.post("/api/v1/queue/tickets", "", as(alice, proof))), "proof_used");
  std::string wrong = challenge(second, bob);
  wrong = wrong.substr(0, wrong.rfind('.') + 1) +
          std::to_string(std::stoull(wrong.substr(wrong.rfind('.') + 1)) + 1);
  HttpResponse lazy = second.post("/api/v1/queue/tickets", "", as(bob, wrong));
  EXPECT_TRUE(code(lazy) == "proof_wrong" || lazy.status == 201) << lazy.body;  // rarely right
  // The place held costs nothing more: the same ticket back without a proof.
  auto t = nlohmann::json::parse(paid.body);
  HttpResponse held = room.edge.post("/api/v1/queue/tickets", "",
                                     {{"X-Surge-Client", alice}, {"X-Surge-Ticket", t["ticket"]}});
  EXPECT_EQ(held.status, 200) << held.body;
  std::string m = room.edge.metrics() + second.metrics();
  EXPECT_EQ(metric(m, "surge_edge_queue_proof_refused_total{reason=\"used\"}"), 2);
  EXPECT_EQ(metric(m, "surge_edge_queue_proof_refused_total{reason=\"missing\"}"), 1);

  room.queue("attack?bits=0");
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(room.edge.post("/api/v1/queue/tickets", "").status, 201);
  auto off = nlohmann::json::parse(room.edge.get("/api/v1/queue/challenge").body);
  EXPECT_EQ(off["bits"], 0);
  EXPECT_TRUE(off["challenge"].is_null());
}

// A proof of work that paid for a ticket the edge then could not number (the sequence gone from
// memcached, origin not there to re-seed it) is not spent: the 503's retry with the same proof
// gets the ticket.
TEST(WaitingRoomE2ETest, AProofWhoseTicketCouldNotBeNumberedIsNotSpent) {
  Room room;
  room.queue("open");
  room.queue("attack?bits=8");
  std::this_thread::sleep_for(400ms);
  const std::string client(32, 'c');
  auto j = nlohmann::json::parse(
      room.edge.get("/api/v1/queue/challenge", {{"X-Surge-Client", client}}).body);
  std::string c = j["challenge"];
  std::string proof = c + "." + std::to_string(cache::solveChallenge(c, 8));
  std::vector<std::pair<std::string, std::string>> as = {{"X-Surge-Client", client},
                                                         {"X-Surge-Proof", proof}};
  room.origin.suspend();  // nobody re-seeds the sequence for now
  cache::MemcachedOptions o;
  o.servers = {room.origin.memcached().address()};
  auto memcached = std::move(cache::MemcachedClient::create(o).value());
  ASSERT_TRUE(memcached->remove(cache::kQueueSequenceKey).ok());
  HttpResponse busy = room.edge.post("/api/v1/queue/tickets", "", as);
  EXPECT_EQ(busy.status, 503) << busy.body;
  EXPECT_EQ(busy.header("retry-after"), "1");
  room.origin.resume();
  HttpResponse paid;
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline) {
    paid = room.edge.post("/api/v1/queue/tickets", "", as);
    if (paid.status != 503) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(paid.status, 201) << paid.body;
  EXPECT_EQ(code(room.edge.post("/api/v1/queue/tickets", "", as)), "proof_used");
}

TEST(WaitingRoomE2ETest, ClosedRoomLetsBookingsThrough) {
  Room room;
  room.queue("close");
  std::this_thread::sleep_for(500ms);  // the edge reads the state every 200 ms
  HttpResponse r = room.edge.post(
      "/api/v1/bookings", bookingBody(100001, origin::test::kFirstDate, "10:00", "closed-1"),
      {{"Idempotency-Key", "closed-1"}});
  EXPECT_EQ(r.status, 201) << r.body;
}

// People who left do not stall the line (origin's --queue-absent-after 3): of twelve people, six
// keep asking about their ticket as a page does and six never ask again. Once their absence is
// known the cursor passes the six over without spending admissions on them, admits the six who
// are there, and counts no claim on a seat for the absent. One of them comes back: its place was
// kept - it is admitted, books, and is counted as returned.
TEST(WaitingRoomE2ETest, PeopleWhoLeftArePassedOverAndFindTheirPlaceIfTheyComeBack) {
  Room room("", origin::test::smallCatalog(4, 2, 4, 50), {"--queue-absent-after", "3"});
  room.queue("open");
  room.queue("pause");
  std::vector<Ticket> people;
  for (int i = 0; i < 12; ++i)
    people.push_back(join(room.edge));
  auto shared = nlohmann::json::parse(room.edge.get("/api/v1/queue/state").body);
  EXPECT_EQ(shared["heartbeat_s"], 1) << "pages are told to ask every third of the absence time";

  std::atomic<bool> done{false};
  std::thread pages([&] {  // the odd ones' pages, asking twice a second
    while (!done) {
      for (size_t i = 1; i < people.size(); i += 2)
        (void)room.edge.get("/api/v1/queue/tickets/current", with(people[i]));
      std::this_thread::sleep_for(500ms);
    }
  });
  struct Stop {
    std::atomic<bool>& done;
    std::thread& t;
    ~Stop() {
      done = true;
      t.join();
    }
  } stop{done, pages};

  // The absence is known after 3 s (and at most 1.5 x that, a second of edge flush and a second
  // of the pacer's cache later): of the twelve waiting, six are there.
  auto until = [&](const char* field, int64_t want) {
    auto deadline = std::chrono::steady_clock::now() + 15s;
    nlohmann::json s;
    while (std::chrono::steady_clock::now() < deadline) {
      s = room.status();
      if (s[field].is_number() && s[field].get<int64_t>() == want) return s;
      std::this_thread::sleep_for(200ms);
    }
    ADD_FAILURE() << field << " never " << want << ": " << s.dump();
    return s;
  };
  auto s = until("active", 6);
  EXPECT_EQ(s["waiting"], 12);
  EXPECT_EQ(s["passed_over"], 0) << "nobody is passed over while the line is paused";

  room.queue("rate?value=2");
  room.queue("resume");
  for (size_t i = 1; i < people.size(); i += 2)
    EXPECT_TRUE(waitAdmitted(room.edge, people[i], 10000ms)) << i;
  s = until("admitted", 12);
  EXPECT_EQ(s["passed_over"], 6) << s.dump();
  EXPECT_EQ(s["returned"], 0);
  // Claims are counted at the next tick: six, the absent hold none.
  s = until("claims", 6);
  std::string m = room.origin.admin("GET", "/metrics").body;
  EXPECT_EQ(metric(m, "surge_origin_queue_passed_over_total"), 6);

  // One of the absent comes back within the booking session: its place is admitted, it books.
  HttpResponse back = room.edge.get("/api/v1/queue/tickets/current", with(people[0]));
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(nlohmann::json::parse(back.body)["admitted"], true);
  s = until("returned", 1);
  EXPECT_EQ(s["passed_over"], 6);
  HttpResponse booked = book(room.edge, people[0], "came-back", "09:00");
  EXPECT_EQ(booked.status, 201) << booked.body;
  EXPECT_EQ(metric(room.origin.admin("GET", "/metrics").body, "surge_origin_queue_returned_total"),
            1);
}

// Three hundred people who left ahead of one who stayed, seats not counted (factor 0), admission
// at 1 a second: once their absence is known the cursor passes all of them at once - the one who
// stayed is let in within seconds, not after 300 s (nor after 30, as when each tick could pass
// one: the uncounted seat bound, UINT64_MAX, plus the places passed wrapped to a small number).
TEST(WaitingRoomE2ETest, ALineOfPeopleWhoLeftIsPassedInOneGo) {
  Room room("", origin::test::smallCatalog(4, 2, 4, 50), {"--queue-absent-after", "3"});
  room.queue("open");
  room.queue("pause");
  room.queue("factor?value=0");
  for (int i = 0; i < 300; ++i)
    (void)join(room.edge);
  Ticket stays = join(room.edge);
  std::atomic<bool> done{false};
  std::thread page([&] {
    while (!done) {
      (void)room.edge.get("/api/v1/queue/tickets/current", with(stays));
      std::this_thread::sleep_for(500ms);
    }
  });
  auto deadline = std::chrono::steady_clock::now() + 15s;
  nlohmann::json s;
  while (std::chrono::steady_clock::now() < deadline) {
    s = room.status();
    if (s["active"] == 1) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(s["active"], 1) << s.dump();
  room.queue("rate?value=1");
  room.queue("resume");
  EXPECT_TRUE(waitAdmitted(room.edge, stays, 5000ms)) << room.status().dump();
  done = true;
  page.join();
  EXPECT_EQ(room.status()["passed_over"], 300);
}

// An absence time pages cannot keep up with (they ask every third of it, at most once a second)
// is refused at start, naming the flag.
TEST(WaitingRoomE2ETest, AnAbsenceTimeUnder3sIsRefusedAtStart) {
  for (const char* bad : {"2", "3601", "x"}) {
    Command c = run(std::string(SURGE_ORIGIN_BIN) + " --queue-absent-after " + bad);
    EXPECT_EQ(c.exit, 2) << bad;
    EXPECT_NE(c.output.find("--queue-absent-after must be"), std::string::npos) << c.output;
  }
}

}  // namespace
}  // namespace surge::edge::test
