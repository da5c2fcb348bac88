#include "surge/edge/waiting_room.h"

#include <openssl/rand.h>
#include <pthread.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "surge/cache/hmac.h"
#include "surge/cache/queue_draw.h"
#include "surge/cache/queue_pow.h"
#include "surge/edge/static_files.h"
#include "surge/edge/variables.h"

namespace surge::edge {
namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The value of cookie `name` in a Cookie header ("a=1; b=2"); empty when absent.
std::string_view cookieValue(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t semi = header.find(';', pos);
    std::string_view item =
        http::trimOws(header.substr(pos, semi == std::string_view::npos ? semi : semi - pos));
    pos = semi == std::string_view::npos ? header.size() : semi + 1;
    size_t eq = item.find('=');
    if (eq != std::string_view::npos && http::trimOws(item.substr(0, eq)) == name) {
      return http::trimOws(item.substr(eq + 1));
    }
  }
  return {};
}

bool validClientId(std::string_view id) {
  if (id.size() < 16 || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string newClientId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return {};
  return cache::encodeHex(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
}

using http::jsonError;

// Joining failed for now (memcached down, or the sequence not seeded yet): come back in a second.
void answerUnavailable(http::Worker& worker, std::function<void(http::Response)> done) {
  worker.post([done = std::move(done)] {
    done(jsonError(503, "queue_unavailable", "the queue cannot be joined right now; retry", 1));
  });
}

const char* const kReasons[] = {"missing",      "forged",  "other_client", "revoked",
                                "not_admitted", "expired", "sold_out"};
constexpr size_t kNotAdmitted = 4, kSoldOut = 6;
const char* const kResumeRefusals[] = {"mistyped", "unknown", "expired", "limited"};
// cache::ProofError names, then "missing" and "used".
const char* const kProofRefusals[] = {"malformed", "forged", "expired", "other_client",
                                      "too_easy",  "wrong",  "missing", "used"};
constexpr size_t kProofMissing = 6, kProofUsed = 7;

http::Response proofRefusal(const char* code, const std::string& message, uint32_t bits) {
  http::Response r = http::Response::json(
      403, "{\"error\":{\"code\":\"" + std::string(code) + "\",\"message\":\"" + message +
               "\"},\"bits\":" + std::to_string(bits) +
               ",\"challenge_url\":\"/api/v1/queue/challenge\"}");
  r.headers += "Cache-Control: no-store\r\n";
  return r;
}

}  // namespace

WaitingRoom::WaitingRoom(cache::MemcachedOptions memcached, cache::Keyring keyring,
                         WaitingRoomOptions options, base::MetricsRegistry& metrics)
    : memcached_options_(std::move(memcached)),
      keyring_(std::move(keyring)),
      options_(options),
      issued_(metrics.counter("surge_edge_queue_tickets_issued_total", "New queue tickets")),
      reissued_(metrics.counter("surge_edge_queue_tickets_reissued_total",
                                "Ticket requests answered with the client's existing ticket")),
      shed_(metrics.counter("surge_edge_queue_shed_total",
                            "Ticket requests refused (503) because too many were waiting")),
      memcached_errors_(metrics.counter("surge_edge_queue_memcached_errors_total",
                                        "Queue reads or increments of memcached that failed")),
      state_refused_(metrics.counter("surge_edge_queue_state_refused_total",
                                     "Queue states in memcached that did not verify (ignored)")),
      sold_out_refused_(
          metrics.counter("surge_edge_queue_sold_out_total",
                          "Ticket requests refused (410) because every seat is taken")),
      resumed_(metrics.counter("surge_edge_queue_resumed_total",
                               "Places taken back with a resume code (the same number)")),
      challenges_(metrics.counter("surge_edge_queue_challenges_total",
                                  "Proof-of-work challenges handed out (attack mode)")),
      admitted_gauge_(
          metrics.gauge("surge_edge_queue_admitted", "Tickets up to this number may book")),
      length_gauge_(
          metrics.gauge("surge_edge_queue_length", "Tickets issued and not admitted yet")),
      rate_gauge_(metrics.gauge("surge_edge_queue_rate_milli",
                                "Admission rate, tickets per 1000 s (per second x 1000)")),
      seats_gauge_(metrics.gauge("surge_edge_queue_seats_left",
                                 "Seats still bookable, as origin counts them (-1: not counted)")) {
  for (size_t i = 0; i < 8; ++i) {
    proof_refused_[i] =
        &metrics.counter("surge_edge_queue_proof_refused_total",
                         "Ticket requests refused for their proof of work, by reason",
                         std::string("reason=\"") + kProofRefusals[i] + "\"");
  }
  for (size_t i = 0; i < 4; ++i) {
    resume_refused_[i] =
        &metrics.counter("surge_edge_queue_resume_refused_total", "Resume codes refused, by reason",
                         std::string("reason=\"") + kResumeRefusals[i] + "\"");
  }
  static_assert(std::size(kReasons) == sizeof(refused_) / sizeof(refused_[0]));
  for (size_t i = 0; i < std::size(kReasons); ++i) {
    refused_[i] =
        &metrics.counter("surge_edge_queue_refused_total",
                         "Bookings refused at the gate (403; 410 when sold out), by reason",
                         std::string("reason=\"") + kReasons[i] + "\"");
  }
}

WaitingRoom::~WaitingRoom() {
  stop();
}

base::Result<base::Done, std::string> WaitingRoom::start() {
  auto client = cache::MemcachedClient::create(memcached_options_);
  if (!client) return base::fail(client.error());
  memcached_ = std::move(client.value());
  started_ms_ = nowMs();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "queue");
    loop();
  });
  return base::Done{};
}

void WaitingRoom::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WaitingRoom::setKeyring(cache::Keyring keyring) {
  std::lock_guard lock(keyring_mutex_);
  keyring_ = std::move(keyring);
}

void WaitingRoom::setStateKeyring(cache::Keyring keyring) {
  std::lock_guard lock(keyring_mutex_);
  state_keyring_ = std::move(keyring);
}

cache::Keyring WaitingRoom::keyring() const {
  std::lock_guard lock(keyring_mutex_);
  return keyring_;
}

cache::QueueState WaitingRoom::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

WaitingRoom::Presented WaitingRoom::presented(const http::Request& request) const {
  Presented p;
  std::string_view cookies = request.header("Cookie");
  std::string_view ticket = request.header("X-Surge-Ticket");
  if (ticket.empty()) ticket = cookieValue(cookies, "surge_ticket");
  std::string_view client = request.header("X-Surge-Client");
  if (client.empty()) client = cookieValue(cookies, "surge_client");
  p.text = std::string(ticket);
  if (validClientId(client)) p.client_id = std::string(client);
  return p;
}

// "number", "place" (in the whole line: fixed once known, so a page can follow the shared
// /api/v1/queue/state instead of asking about its own ticket; null before the opening for a
// pre-queue ticket), "epoch", "position" (places until admitted; 0 once admitted; null before
// the opening for a pre-queue ticket), "eta_s", "admitted", "opening_in_s" (pre-queue, before
// the opening), and the seats fields (seatFields).
// How often a waiting page asks about its ticket (GET /api/v1/queue/tickets/current) so that it
// is not passed over: a third of origin's absence time. 0: it need not.
uint32_t WaitingRoom::heartbeatSeconds(const cache::QueueState& s) {
  return s.absent_after_s == 0 ? 0 : std::max<uint32_t>(1, s.absent_after_s / 3);
}

std::string WaitingRoom::statusFields(const cache::QueueTicket& t, const cache::QueueState& s) {
  uint64_t place = cache::queuePosition(t, s);
  std::string out = "\"number\":" + std::to_string(t.number) +
                    ",\"epoch\":" + std::to_string(t.epoch) +
                    ",\"place\":" + (place == 0 ? std::string("null") : std::to_string(place)) +
                    "," + seatFields(s) + ",\"heartbeat_s\":" + std::to_string(heartbeatSeconds(s));
  if (place == 0) {
    int64_t wait = std::max<int64_t>(0, s.opening_s - nowMs() / 1000);
    return out + ",\"prequeue\":true,\"position\":null,\"eta_s\":null,\"admitted\":false," +
           "\"opening_in_s\":" + std::to_string(wait);
  }
  bool admitted = place <= s.admitted;
  uint64_t position = admitted ? 0 : place - s.admitted;
  std::string eta =
      admitted ? "0"
      : s.rate > 0
          ? std::to_string(static_cast<int64_t>(std::ceil(static_cast<double>(position) / s.rate)))
          : "null";
  return out + ",\"prequeue\":" + (t.prequeue ? "true" : "false") +
         ",\"position\":" + std::to_string(position) + ",\"eta_s\":" + eta +
         ",\"admitted\":" + (admitted ? "true" : "false");
}

// "seats" (still bookable; null when origin does not count them), "sold_out", "sold_out_at_ms"
// (when origin saw the last seat go; null while seats are left).
std::string WaitingRoom::seatFields(const cache::QueueState& s) {
  return "\"seats\":" + (s.seats >= 0 ? std::to_string(s.seats) : std::string("null")) +
         ",\"sold_out\":" + (s.soldOut() ? "true" : "false") + ",\"sold_out_at_ms\":" +
         (s.soldOut() ? std::to_string(s.sold_out_ms) : std::string("null"));
}

// "resume_code": the code another device takes this place back with (null past 2^24 places).
std::string WaitingRoom::resumeCodeField(const cache::QueueTicket& t) const {
  auto code = cache::resumeCode(keyring(), t.epoch, t.number, t.prequeue);
  return "\"resume_code\":" + (code ? "\"" + *code + "\"" : std::string("null"));
}

http::Response WaitingRoom::ticketAnswer(int status, const std::string& text,
                                         const cache::QueueTicket& ticket,
                                         const std::string& client_id, bool set_client_cookie) {
  cache::QueueState s = state();
  // A ticket given (new, again, resumed) is a person here now.
  if (s.absent_after_s > 0) presence_.note(cache::queuePosition(ticket, s));
  http::Response r = http::Response::json(
      status, "{\"ticket\":\"" + text + "\"," + statusFields(ticket, s) + "," +
                  resumeCodeField(ticket) + ",\"client\":\"" + client_id + "\"}");
  r.headers += "Cache-Control: private, no-store\r\n";
  // Lax: the booking page is same-site; HttpOnly: scripts never need the ticket itself.
  r.headers += "Set-Cookie: surge_ticket=" + text + "; Path=/; HttpOnly; SameSite=Lax\r\n";
  if (set_client_cookie) r.headers += clientCookie(client_id);
  return r;
}

bool WaitingRoom::identify(Presented& p) {
  p.new_client = p.client_id.empty();
  if (p.new_client) p.client_id = newClientId();
  return !p.client_id.empty();
}

std::string WaitingRoom::clientCookie(const std::string& client_id) {
  return "Set-Cookie: surge_client=" + client_id +
         "; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax\r\n";
}

void WaitingRoom::issue(http::Worker& worker, const http::Request& request, Done done) {
  Presented p = presented(request);
  cache::Keyring keys = keyring();
  cache::QueueState now_state = state();
  uint32_t epoch = now_state.epoch;
  // Before the opening time, arrivals join the pre-queue, shuffled at the opening.
  bool prequeue = now_state.opening_s > nowMs() / 1000 && !now_state.opened;
  if (!identify(p)) return done(jsonError(503, "no_entropy", "retry shortly"));
  cache::ClientBinding binding = cache::clientBinding(p.client_id);
  if (!p.text.empty() && !p.new_client) {
    auto held = cache::decodeTicket(keys, p.text);
    // The same client again keeps its ticket - unless its booking session ran out: then it
    // joins again at the back (else an expired ticket could never be replaced).
    // A pre-queue ticket taken too late has no place after the opening: replaced too.
    bool placeless = held && held->prequeue && now_state.opened &&
                     cache::queuePosition(held.value(), now_state) == 0;
    if (held && held->client == binding && held->epoch == epoch && !placeless &&
        !sessionOver(cache::queuePosition(held.value(), now_state), now_state)) {
      reissued_.add();  // the same client again: same number, same place
      return done(ticketAnswer(200, p.text, held.value(), p.client_id, false));
    }
  }
  if (now_state.soldOut()) {
    // Every seat is taken: a new place in line would be a place for nothing. Those already in
    // line keep their tickets (above) and read "sold_out" in their status.
    sold_out_refused_.add();
    http::Response r = http::Response::json(
        410,
        "{\"error\":{\"code\":\"sold_out\",\"message\":\"every seat is taken; no more "
        "places are given\"}," +
            seatFields(now_state) + "}");
    r.headers += "Cache-Control: no-store\r\n";
    return done(std::move(r));
  }
  std::string proof_id;
  if (now_state.pow_bits > 0) {
    // Under attack: a new place costs a proof of work, bound to this client, used once.
    std::string_view proof = request.header("X-Surge-Proof");
    if (proof.empty()) {
      proof_refused_[kProofMissing]->add();
      return done(proofRefusal("proof_required", "the queue asks for a proof of work now",
                               now_state.pow_bits));
    }
    auto paid = cache::checkProof(keys, proof, now_state.pow_bits, nowMs() / 1000, binding);
    if (!paid) {
      proof_refused_[static_cast<size_t>(paid.error())]->add();
      return done(proofRefusal(
          (std::string("proof_") + cache::proofErrorName(paid.error())).c_str(),
          "the proof of work does not hold; ask for a new challenge", now_state.pow_bits));
    }
    proof_id = cache::encodeHex(
        std::string_view(reinterpret_cast<const char*>(paid->id.data()), paid->id.size()));
  }
  {
    std::unique_lock lock(mutex_);
    if (!prequeue && proof_id.empty() && block_next_ < block_end_) {
      uint64_t number = block_next_++;
      lock.unlock();
      return done(newTicket(number, false, epoch, binding, p.client_id, p.new_client));
    }
    if (pending_.size() >= options_.max_pending) {
      lock.unlock();
      shed_.add();
      return done(jsonError(503, "overloaded", "too many people are joining; retry", 1));
    }
    pending_.push_back({&worker, binding, p.client_id, p.new_client, prequeue, std::move(done),
                        std::move(proof_id)});
  }
  wake_.notify_one();
}

http::Response WaitingRoom::newTicket(uint64_t number, bool prequeue, uint32_t epoch,
                                      const cache::ClientBinding& client,
                                      const std::string& client_id, bool new_client) {
  cache::QueueTicket t;
  t.number = number;
  t.issued_s = nowMs() / 1000;
  t.epoch = epoch;
  t.prequeue = prequeue;
  t.client = client;
  issued_.add();
  return ticketAnswer(201, cache::encodeTicket(keyring(), t), t, client_id, new_client);
}

http::Response WaitingRoom::current(const http::Request& request) {
  Presented p = presented(request);
  if (p.text.empty()) return jsonError(404, "no_ticket", "no ticket: POST /api/v1/queue/tickets");
  auto t = cache::decodeTicket(keyring(), p.text);
  if (!t) return jsonError(403, "ticket_forged", "the ticket does not verify");
  if (p.client_id.empty() || t->client != cache::clientBinding(p.client_id)) {
    return jsonError(403, "ticket_other_client", "the ticket belongs to another client");
  }
  cache::QueueState s = state();
  if (t->epoch != s.epoch) return jsonError(403, "ticket_revoked", "the queue was reset");
  if (t->prequeue && s.opened && cache::queuePosition(t.value(), s) == 0) {
    return jsonError(403, "ticket_revoked",
                     "taken after the opening closed the pre-queue; join again");
  }
  // The page's heartbeat (it asks at least every absent_after / 3): this place is still here.
  if (s.absent_after_s > 0) presence_.note(cache::queuePosition(t.value(), s));
  http::Response r =
      http::Response::json(200, "{" + statusFields(t.value(), s) + "," + resumeCodeField(*t) +
                                    ",\"open\":" + (s.open ? "true" : "false") + "}");
  r.headers += "Cache-Control: private, no-store\r\n";
  return r;
}

http::Response WaitingRoom::resume(const http::Request& request) {
  // As sent, or percent-encoded by a page (encodeURIComponent writes the check symbols $ and = as
  // %24 and %3D).
  // At most 33 characters, one more than a code with room for spaces: the first 33 decoded come
  // from the first 99 sent.
  std::string code = percentDecode(argNamed(request.query, "code").substr(0, 99));
  if (code.size() > 33) code.resize(33);
  auto refused = [this](size_t reason, http::Response r) {
    resume_refused_[reason]->add();
    return r;
  };
  std::string address(request.remote_addr);
  if (int64_t wait = wrong_codes_.blocked(address); wait > 0) {
    return refused(3, jsonError(429, "too_many_wrong_codes",
                                "too many wrong resume codes from here; wait", wait));
  }
  cache::QueueState s = state();
  auto place = cache::readResumeCode(keyring(), s.epoch, code);
  if (!place && place.error() == cache::ResumeError::kMistyped) {
    // A typo, caught by the check symbol: not a guess, not counted.
    return refused(0, jsonError(400, "code_mistyped",
                                "that is not a resume code: check each character (ABCD-EFGH-J)"));
  }
  if (!place) {
    wrong_codes_.attempt(address);
    return refused(
        1, jsonError(403, "code_unknown", "no place has this code (or the queue was reset since)"));
  }
  cache::QueueTicket t;
  t.number = place->number;
  t.prequeue = place->prequeue;
  t.epoch = s.epoch;
  t.issued_s = nowMs() / 1000;
  uint64_t at = cache::queuePosition(t, s);
  if ((t.prequeue && s.opened && at == 0) || sessionOver(at, s)) {
    return refused(2, jsonError(410, "ticket_expired",
                                "this place's booking time is over; join the queue again"));
  }
  Presented p = presented(request);
  if (!identify(p)) return jsonError(503, "no_entropy", "retry shortly");
  t.client = cache::clientBinding(p.client_id);
  resumed_.add();
  return ticketAnswer(200, cache::encodeTicket(keyring(), t), t, p.client_id, p.new_client);
}

http::Response WaitingRoom::challenge(const http::Request& request) {
  Presented p = presented(request);
  if (!identify(p)) return jsonError(503, "no_entropy", "retry shortly");
  uint32_t bits = state().pow_bits;
  std::string challenge = "null";
  if (bits > 0) {
    auto made =
        cache::makeChallenge(keyring(), bits, nowMs() / 1000, cache::clientBinding(p.client_id));
    if (!made) return jsonError(503, "no_entropy", "retry shortly");
    challenge = "\"" + made.value() + "\"";
    challenges_.add();
  }
  http::Response r = http::Response::json(
      200, "{\"bits\":" + std::to_string(bits) + ",\"challenge\":" + challenge +
               ",\"expires_in_s\":" + std::to_string(cache::kChallengeLifetime) + ",\"client\":\"" +
               p.client_id + "\"}");
  r.headers += "Cache-Control: private, no-store\r\n";
  if (p.new_client) r.headers += clientCookie(p.client_id);
  return r;
}

http::Response WaitingRoom::shared() const {
  cache::QueueState s = state();
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.3f", s.rate);
  http::Response r = http::Response::json(
      200, std::string("{\"open\":") + (s.open ? "true" : "false") + ",\"epoch\":" +
               std::to_string(s.epoch) + ",\"admitted\":" + std::to_string(s.admitted) +
               ",\"rate\":" + rate + ",\"issued\":" + std::to_string(s.issued) + ",\"opening_s\":" +
               std::to_string(s.opening_s) + ",\"opened\":" + (s.opened ? "true" : "false") +
               ",\"as_of_ms\":" + std::to_string(s.updated_ms) + "," + seatFields(s) +
               ",\"proof_bits\":" + std::to_string(s.pow_bits) +
               ",\"heartbeat_s\":" + std::to_string(heartbeatSeconds(s)) + "}");
  // The same for everyone, new every second: a CDN keeps it a second, so a waiting crowd costs the
  // edges one request per CDN node per second.
  r.headers += "Cache-Control: public, max-age=1, s-maxage=1\r\n";
  r.headers += "CDN-Cache-Control: public, max-age=1\r\n";
  r.headers += "Surrogate-Control: max-age=1\r\n";
  return r;
}

http::Response WaitingRoom::draw(const http::Request& request) const {
  uint64_t from = 1, count = cache::kDrawPage;
  for (auto [name, out] : {std::pair{"from", &from}, std::pair{"count", &count}}) {
    std::string_view value = argNamed(request.query, name);
    if (value.empty()) continue;  // absent: the default
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), *out);
    if (ec != std::errc() || ptr != value.data() + value.size() || *out < 1 ||
        *out > (out == &count ? cache::kDrawPage : uint64_t{1} << 48)) {
      return jsonError(400, "invalid_range",
                       "from=N (1 or more) and count=M (1.." + std::to_string(cache::kDrawPage) +
                           ") select the entries");
    }
  }
  cache::QueueState s = state();
  bool published = s.opened && !s.shuffle.empty();
  auto quoted = [](const std::string& v) { return v.empty() ? "null" : "\"" + v + "\""; };
  std::string body =
      "{\"function\":\"" + std::string(cache::kDrawFunction) +
      "\",\"commitment\":" + quoted(s.commitment) +
      ",\"opening_s\":" + std::to_string(s.opening_s) +
      ",\"opened\":" + (s.opened ? "true" : "false") +
      ",\"prequeue\":" + (published ? std::to_string(s.prequeue) : std::string("null")) +
      ",\"seed\":" + quoted(published ? s.shuffle : std::string()) +
      ",\"from\":" + std::to_string(from) + ",\"entries\":" +
      (published ? cache::drawEntriesJson(s.shuffle, s.prequeue, from, count) : std::string("[]")) +
      ",\"next\":" +
      (published && from + count <= s.prequeue ? std::to_string(from + count)
                                               : std::string("null")) +
      "}";
  http::Response r = http::Response::json(200, std::move(body));
  // Fixed once published (until a new opening); before it, the commitment may appear any second.
  r.headers +=
      published ? "Cache-Control: public, max-age=60\r\n" : "Cache-Control: public, max-age=1\r\n";
  return r;
}

bool WaitingRoom::sessionOver(uint64_t place, const cache::QueueState& s) const {
  if (place == 0 || place > s.admitted) return false;  // not admitted yet
  int64_t now = nowMs();
  int64_t session_ms = options_.session.count() * 1000;
  std::lock_guard lock(mutex_);
  bool history_covers = !history_.empty() && now - started_ms_ > session_ms;
  int64_t at = admittedAtMs(place);
  bool before_history = !history_.empty() && place <= history_.front().second;
  return (before_history && history_covers) || (!before_history && now - at > session_ms);
}

int64_t WaitingRoom::admittedAtMs(uint64_t number) const {
  // The first remembered moment the cursor was at or past `number`.
  for (const auto& [ms, admitted] : history_) {
    if (admitted >= number) return ms;
  }
  return nowMs();
}

WaitingRoom::Gate WaitingRoom::check(const http::Request& request) {
  auto refuse = [this](size_t i) {
    refused_[i]->add();
    return Gate{false, kReasons[i], 0};
  };
  Presented p = presented(request);
  cache::QueueState s;
  bool known;
  {
    std::lock_guard lock(mutex_);
    s = state_;
    known = have_state_;
  }
  // Until origin's queue state has been read (a fresh edge, memcached down at start), the edge
  // cannot know whether the room is open: refuse for now rather than let everyone through.
  if (!known) return Gate{false, "unavailable", 0};
  if (!s.open) return Gate{true, "", 0};  // the waiting room is off: every booking passes
  if (p.text.empty()) return refuse(0);
  auto t = cache::decodeTicket(keyring(), p.text);
  if (!t) return refuse(1);
  if (p.client_id.empty() || t->client != cache::clientBinding(p.client_id)) return refuse(2);
  if (t->epoch != s.epoch) return refuse(3);
  uint64_t place = cache::queuePosition(t.value(), s);
  if (place == 0 && t->prequeue && s.opened) return refuse(3);  // too late for the pre-queue
  if (place == 0 || place > s.admitted) {
    // After the last seat went the cursor stops for good (until a cancellation): a ticket not
    // yet reached will not be, and is told so rather than "not your turn yet" forever.
    return refuse(place != 0 && s.soldOut() ? kSoldOut : kNotAdmitted);
  }
  if (sessionOver(place, s)) return refuse(5);  // expired
  return Gate{true, "", place};  // places are unique per ticket: origin allows one booking each
}

http::Response WaitingRoom::refuse(const Gate& gate) const {
  std::string reason = gate.reason;
  if (reason == "unavailable") {
    return jsonError(503, "queue_unavailable", "the waiting room's state is not known yet; retry",
                     1);
  }
  if (reason == "sold_out") {
    // 410 as for a new ticket (WaitingRoom::join): gone for good, not "forbidden for now". A
    // cancellation may re-open admission; the status says so and the page looks again.
    return jsonError(410, "sold_out", "every seat is taken; your turn will not come");
  }
  const char* message = reason == "missing"  ? "join the queue first: POST /api/v1/queue/tickets"
                        : reason == "forged" ? "the ticket does not verify"
                        : reason == "other_client" ? "the ticket belongs to another client"
                        : reason == "revoked"      ? "the queue was reset; join again"
                        : reason == "not_admitted" ? "not your turn yet"
                                                   : "your booking session has expired; join again";
  return jsonError(403, "ticket_" + reason, message);
}

void WaitingRoom::readState() {
  auto got = memcached_->get(cache::kQueueStateKey);
  if (!got) {
    memcached_errors_.add();
    return;
  }
  if (!got->has_value()) return;  // origin has not published yet: keep what we have
  cache::Keyring state_keyring;
  {
    std::lock_guard lock(keyring_mutex_);
    state_keyring = state_keyring_;
  }
  auto s = cache::openQueueState(state_keyring, **got);
  if (!s) {
    // Not sealed by origin (or not readable): the last good state stays.
    if (state_refused_.value() == 0) {
      std::fprintf(stderr, "surge-edge: queue state in memcached refused (not sealed by origin)\n");
    }
    state_refused_.add();
    return;
  }
  int64_t now = nowMs();
  std::lock_guard lock(mutex_);
  if (!have_state_ || s->admitted != state_.admitted || s->epoch != state_.epoch) {
    if (have_state_ && s->epoch != state_.epoch) {
      history_.clear();
      presence_.clear();  // places of the tickets just revoked
    }
    history_.emplace_back(now, s->admitted);
  }
  // Keep enough history to answer "admitted more than a session ago?".
  int64_t keep_ms = options_.session.count() * 1000 + 60000;
  while (history_.size() > 1 && now - history_[1].first > keep_ms)
    history_.pop_front();
  state_ = *s;
  have_state_ = true;
  admitted_gauge_.set(static_cast<int64_t>(s->admitted));
  length_gauge_.set(static_cast<int64_t>(s->issued > s->admitted ? s->issued - s->admitted : 0));
  rate_gauge_.set(static_cast<int64_t>(s->rate * 1000));
  seats_gauge_.set(s->seats);
}

void WaitingRoom::loop() {
  auto next_read = std::chrono::steady_clock::now();
  auto next_presence = next_read + std::chrono::seconds(1);
  while (true) {
    std::deque<Pending> work;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_read, [&] { return stopping_ || !pending_.empty(); });
      if (stopping_) break;
      work.swap(pending_);
    }
    if (std::chrono::steady_clock::now() >= next_read) {
      readState();
      next_read = std::chrono::steady_clock::now() + options_.refresh;
    }
    if (std::chrono::steady_clock::now() >= next_presence) {
      // Once a second, the places pages asked about go to memcached for origin's pacer, one
      // append per block of places: a few round trips, whatever the crowd.
      cache::QueueState s = state();
      if (!presence_.flush(*memcached_, s.epoch, s.absent_after_s, nowMs())) {
        memcached_errors_.add();
      }
      next_presence = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
    if (work.empty()) continue;
    uint32_t epoch = state().epoch;
    // Proofs of work are used once across every edge: the first to claim a proof's id in
    // memcached wins. The whole batch's claims go in one pipelined exchange per server.
    std::vector<std::pair<std::string, std::string>> claims;
    for (const Pending& p : work) {
      if (!p.proof_id.empty())
        claims.emplace_back(std::string(cache::kProofUsedPrefix) + p.proof_id, "1");
    }
    std::vector<cache::AddOutcome> claimed;
    if (!claims.empty()) {
      claimed = memcached_->addMany(claims, std::chrono::seconds(cache::kChallengeLifetime + 30));
    }
    size_t next_claim = 0;
    std::unordered_map<http::Worker*, std::vector<std::function<void()>>> answers;
    for (Pending& p : work) {
      uint64_t number = 0;
      if (!p.proof_id.empty()) {
        cache::AddOutcome outcome = claimed[next_claim++];
        if (outcome == cache::AddOutcome::kExisted) {
          proof_refused_[kProofUsed]->add();
          p.worker->post([done = std::move(p.done), bits = state().pow_bits] {
            done(proofRefusal("proof_used", "this proof of work has paid for a ticket already",
                              bits));
          });
          continue;
        }
        if (outcome == cache::AddOutcome::kFailed) {
          memcached_errors_.add();
          answerUnavailable(*p.worker, std::move(p.done));
          continue;
        }
      }
      if (p.prequeue) {
        // The opening may have come while this request waited: then it is a main ticket.
        std::lock_guard lock(mutex_);
        if (state_.opened || state_.opening_s <= nowMs() / 1000) p.prequeue = false;
      }
      if (p.prequeue) {
        auto got = memcached_->increment(cache::kQueuePreSequenceKey, 1);
        if (got && got->has_value()) number = **got;
      } else {
        std::lock_guard lock(mutex_);
        if (block_next_ < block_end_) number = block_next_++;
      }
      // No number now (memcached down, or the sequence not seeded yet: origin re-seeds it): the
      // client is told to come back in a second - with the same proof of work, so the claim this
      // request made on it is given back.
      auto unavailable = [&] {
        if (!p.proof_id.empty()) {
          (void)memcached_->remove(std::string(cache::kProofUsedPrefix) + p.proof_id);
        }
        answerUnavailable(*p.worker, std::move(p.done));
      };
      if (number == 0 && p.prequeue) {
        unavailable();
        continue;
      }
      if (number == 0) {
        auto top = memcached_->increment(cache::kQueueSequenceKey, options_.block);
        if (!top || !top->has_value()) {
          if (!top) memcached_errors_.add();
          unavailable();
          continue;
        }
        uint64_t end = **top + 1;
        std::lock_guard lock(mutex_);
        block_next_ = end - options_.block;
        block_end_ = end;
        number = block_next_++;
      }
      // The number is what the queue thread is for; the ticket is signed and answered on the
      // worker, in one post per worker for the whole batch.
      auto& batch = answers[p.worker];
      batch.push_back([this, number, prequeue = p.prequeue, epoch, client = p.client,
                       client_id = std::move(p.client_id), new_client = p.new_client,
                       done = std::move(p.done)]() mutable {
        done(newTicket(number, prequeue, epoch, client, client_id, new_client));
      });
    }
    for (auto& [worker, batch] : answers) {
      worker->post([batch = std::move(batch)]() mutable {
        for (auto& answer : batch)
          answer();
      });
    }
  }
  std::deque<Pending> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(pending_);
  }
  for (Pending& p : left) {
    p.worker->post([done = std::move(p.done)] {
      done(jsonError(503, "shutting_down", "retry on another edge"));
    });
  }
}

}  // namespace surge::edge
