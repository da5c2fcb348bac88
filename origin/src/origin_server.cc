#include "surge/origin/origin_server.h"

#include <chrono>

#include <nlohmann/json.hpp>

#include "surge/cache/cache_tags.h"
#include "surge/cache/gap_report.h"
#include "surge/cache/hmac.h"
#include "surge/cache/snapshot_names.h"
#include "surge/http/basic_auth.h"
#include "surge/origin/booking_code.h"
#include "surge/origin/booking_request.h"
#include "surge/origin/calendar.h"
#include "surge/origin/catalog_import.h"
#include "surge/origin/json_text.h"

namespace surge::origin {
namespace {

using Clock = std::chrono::steady_clock;

enum Route {
  kBookingCreate,
  kBookingGet,
  kBookingCancel,
  kBookingLookup,
  kAdmin,
  kHealth,
  kMetrics,
  kGaps,
  kOther
};
constexpr int kRouteCount = kOther + 1;
constexpr const char* kRouteNames[kRouteCount] = {
    "booking_create", "booking_get", "booking_cancel", "booking_lookup", "admin",
    "health",         "metrics",     "snapshot_gaps",  "other"};
constexpr int kStatuses[] = {200, 201, 202, 204, 400, 401, 403, 404, 405,
                             409, 413, 415, 422, 429, 500, 502, 503};
constexpr size_t kStatusCount = sizeof kStatuses / sizeof kStatuses[0];

bool isHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool validIdempotencyKey(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

// Per-route counters and latency histograms, registered once.
struct OriginServer::Routes {
  base::Counter* requests[kRouteCount][kStatusCount];
  base::Histogram* latency[kRouteCount];

  explicit Routes(base::MetricsRegistry& metrics) {
    for (int r = 0; r < kRouteCount; ++r) {
      for (size_t s = 0; s < kStatusCount; ++s) {
        requests[r][s] =
            &metrics.counter("surge_origin_requests_total", "Requests by route and status",
                             std::string("route=\"") + kRouteNames[r] + "\",status=\"" +
                                 std::to_string(kStatuses[s]) + "\"");
      }
      latency[r] = &metrics.histogram("surge_origin_request_seconds", "Time from request to answer",
                                      base::latencyBuckets(),
                                      std::string("route=\"") + kRouteNames[r] + "\"");
    }
  }

  void count(Route route, int status, Clock::time_point start) {
    for (size_t s = 0; s < kStatusCount; ++s) {
      if (kStatuses[s] == status) {
        requests[route][s]->add();
        break;
      }
    }
    latency[route]->observe(std::chrono::duration<double>(Clock::now() - start).count());
  }
};

namespace {

// Everything an answer needs once the request itself is gone.
struct Exchange {
  http::Worker* worker;
  http::ResponseSlot slot;
  Route route;
  Clock::time_point start;
  std::string request_id;
  OriginServer::Routes* routes;

  void send(int status, std::string body, bool replayed = false, int64_t retry_after_s = 0) const {
    http::Response r;
    r.status = status;
    r.headers = "Cache-Control: no-store\r\n";
    if (retry_after_s > 0) r.headers += "Retry-After: " + std::to_string(retry_after_s) + "\r\n";
    if (!body.empty()) r.headers += "Content-Type: application/json\r\n";
    if (replayed) r.headers += "Idempotent-Replayed: true\r\n";
    if (!request_id.empty()) r.headers += "X-Request-Id: " + request_id + "\r\n";
    r.body = std::move(body);
    routes->count(route, status, start);
    worker->respond(slot, std::move(r));
  }
  void error(int status, std::string_view code, std::string_view message,
             int64_t retry_after_s = 0) const {
    send(status, jsonError(code, message), false, retry_after_s);
  }
  // For another thread: hands the answer to this exchange's loop.
  BookingWriter::Reply later() const {
    return [e = *this](StoredResponse r) {
      e.worker->post([e, r = std::move(r)]() mutable {
        // The store could not decide (store_unavailable): nothing happened, retry in a second.
        e.send(r.status, std::move(r.body), r.replayed, r.status == 503 ? 1 : 0);
      });
    };
  }
};

}  // namespace

OriginServer::OriginServer(OriginServerOptions options, BookingWriter& writer,
                           SnapshotPublisher& publisher, AdminAuth& admin,
                           base::MetricsRegistry& metrics, QueuePacer* pacer, CdnPurger* purger)
    : options_(std::move(options)),
      writer_(writer),
      publisher_(publisher),
      pacer_(pacer),
      purger_(purger),
      admin_(admin),
      metrics_(metrics),
      routes_(std::make_unique<Routes>(metrics)),
      in_flight_gauge_(metrics.gauge("surge_origin_bookings_in_flight",
                                     "Booking creations received and not answered yet")),
      in_flight_max_gauge_(metrics.gauge("surge_origin_bookings_in_flight_max",
                                         "The most booking creations in flight at once")),
      lookups_(options_.lookups_per_person),
      server_(options_.http, *this) {}

OriginServer::~OriginServer() {
  stop();
}

base::Result<base::Done, std::string> OriginServer::start() {
  return server_.start();
}

void OriginServer::stop() {
  server_.stop();
}

void OriginServer::handle(http::Worker& worker, const http::Request& req, http::ResponseSlot slot) {
  Exchange ex{&worker, slot, kOther, Clock::now(), {}, routes_.get()};
  std::string_view request_id = req.header("X-Request-Id");
  if (!request_id.empty() && request_id.size() <= 128) ex.request_id = std::string(request_id);
  std::string_view path = req.path;
  std::string_view method = req.method;
  constexpr std::string_view kBookings = "/api/v1/bookings";

  if (path == kBookings) {
    if (method != "POST") return ex.error(405, "method_not_allowed", "use POST");
    ex.route = kBookingCreate;
    if (req.body.size() > options_.max_booking_body) {
      return ex.error(
          413, "body_too_large",
          "a booking request is at most " + std::to_string(options_.max_booking_body) + " bytes");
    }
    std::string_view content_type = req.header("Content-Type");
    if (!content_type.empty() && content_type.substr(0, 16) != "application/json") {
      return ex.error(415, "unsupported_media_type", "send the booking as application/json");
    }
    std::string_view key = req.header("Idempotency-Key");
    if (!validIdempotencyKey(key)) {
      return ex.error(400, "invalid_idempotency_key",
                      "an Idempotency-Key header of 1-128 visible ASCII characters is required");
    }
    auto parsed = parseBookingRequest(req.body);
    if (!parsed)
      return ex.error(parsed.error().status, parsed.error().code, parsed.error().message);
    const BookingRequest& body = parsed.value();
    int64_t clinic = body.clinic_id;
    CatalogIndexPtr index = writer_.catalog();
    if (clinic <= 0 || index->clinic(clinic) == nullptr) {
      return ex.error(404, "unknown_clinic", "no such clinic");
    }
    IndexedSlot* found = index->findSlot(clinic, body.day, body.minute);
    if (found == nullptr) {
      return ex.error(404, "unknown_slot", "the clinic has no slot at that date and time");
    }
    NewBooking b;
    b.slot_id = found->id;
    b.clinic_id = clinic;
    b.day = body.day;
    b.minute = body.minute;
    b.person_id = body.person_id;
    b.idempotency_key = std::string(key);
    // Set by the edge after its waiting-room gate (and dropped there when a client sends it).
    std::string_view ticket = req.header("X-Surge-Ticket-Number");
    if (!ticket.empty() && ticket.size() <= 20 &&
        ticket.find_first_not_of("0123456789") == std::string_view::npos) {
      b.ticket = std::string(ticket);
    }
    auto digest = cache::sha256(
        {std::to_string(clinic), "|", body.date, "|", body.time, "|", body.person_id});
    b.request_sha256.assign(reinterpret_cast<const char*>(digest.data()), digest.size());
    b.now_ms = unixNowMs();
    // Decided here, answered by the store: a retry of a booking made in time still replays.
    b.slot_past =
        CatalogIndex::hasBegun(body.day, body.minute, index->timeZone().localTime(b.now_ms));
    if (!issueCredentials(b)) return ex.error(503, "no_randomness", "try again");
    int64_t in_flight = creates_in_flight_.fetch_add(1, std::memory_order_relaxed) + 1;
    in_flight_gauge_.add(1);
    int64_t seen = creates_in_flight_max_.load(std::memory_order_relaxed);
    while (in_flight > seen && !creates_in_flight_max_.compare_exchange_weak(
                                   seen, in_flight, std::memory_order_relaxed)) {
    }
    if (in_flight > seen) in_flight_max_gauge_.set(creates_in_flight_max_.load());
    return writer_.createBooking(std::move(b), [this, reply = ex.later()](StoredResponse r) {
      creates_in_flight_.fetch_sub(1, std::memory_order_relaxed);
      in_flight_gauge_.add(-1);
      reply(std::move(r));
    });
  }

  if (path == "/api/v1/bookings/lookup") {
    ex.route = kBookingLookup;
    if (method != "GET" && method != "HEAD") return ex.error(405, "method_not_allowed", "use GET");
    // Authorization: Basic base64(person_id ":" booking code) - kept out of URLs and logs.
    auto credentials = http::basicCredentials(req.header("Authorization"));
    std::string person = credentials ? std::move(credentials->user) : std::string();
    auto code = credentials ? normalizeBookingCode(credentials->password) : std::nullopt;
    if (!isValidPersonId(person) || !code) {
      return ex.error(400, "invalid_lookup",
                      "send Authorization: Basic base64(person_id:booking code); a booking code "
                      "is 8 letters and digits, like ABCD-1234");
    }
    if (int64_t wait = lookups_.attempt(person); wait > 0) {
      return ex.error(429, "too_many_attempts",
                      "too many lookups for this person id; try again later", wait);
    }
    FreshToken fresh;
    if (!issueToken(fresh)) return ex.error(503, "no_randomness", "try again");
    return writer_.lookupBooking(std::move(person), std::move(*code), std::move(fresh), ex.later());
  }

  if (path.size() > kBookings.size() + 1 &&
      path.substr(0, kBookings.size() + 1) == "/api/v1/bookings/") {
    std::string id(path.substr(kBookings.size() + 1));
    bool cancel = method == "DELETE";
    ex.route = cancel ? kBookingCancel : kBookingGet;
    if (!cancel && method != "GET" && method != "HEAD") {
      return ex.error(405, "method_not_allowed", "use GET or DELETE");
    }
    std::string_view auth = req.header("Authorization");
    if (auth.substr(0, 7) != "Bearer " || auth.size() <= 7) {
      return ex.error(401, "missing_token",
                      "send the booking's token as Authorization: Bearer <token>");
    }
    std::string token(auth.substr(7));
    if (id.size() != 24 || !isHex(id) || token.size() != 64 || !isHex(token)) {
      return ex.error(404, "not_found", "no such booking");
    }
    if (cancel)
      return writer_.cancelBooking(std::move(id), std::move(token), unixNowMs(), ex.later());
    return writer_.findBooking(std::move(id), std::move(token), ex.later());
  }

  if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
    ex.route = path == "/metrics" ? kMetrics : kHealth;
    if (!options_.status_access.allows(req.remote_addr)) {
      return ex.error(403, "forbidden", "not from this address (--status-allow)");
    }
  }
  if (path == "/healthz") {
    return ex.send(200, "{\"status\":\"ok\"}");
  }
  if (path == "/readyz") {
    // Ready once the catalog is loaded and everything it lists has been published: an edge sent
    // here earlier would find snapshots missing that are only not written yet.
    if (writer_.catalog()->slotCount() == 0) {
      return ex.error(503, "not_ready", "no catalog imported yet", 1);
    }
    if (!publisher_.fullyPublished()) {
      return ex.error(503, "not_ready", "the first full publish has not finished", 1);
    }
    return ex.send(200, "{\"status\":\"ready\"}");
  }
  if (path == cache::kGapReportPath) {
    ex.route = kGaps;
    if (method != "POST") return ex.error(405, "method_not_allowed", "use POST");
    std::string refused = cache::verifyGapReport(
        options_.snapshot_keys, req.header("X-Surge-Key"), req.header("X-Surge-Timestamp"),
        req.header("X-Surge-Signature"), req.body, unixNowMs() / 1000);
    if (!refused.empty()) return ex.error(401, refused, "gap report refused: " + refused);
    std::vector<std::string> names = cache::gapNames(req.body);
    size_t accepted = publisher_.fillGaps(names);
    return ex.send(202, "{\"reported\":" + std::to_string(names.size()) +
                            ",\"republishing\":" + std::to_string(accepted) + "}");
  }
  if (path == "/metrics") {
    http::Response r;
    r.headers = "Content-Type: text/plain; version=0.0.4\r\n";
    r.body = metrics_.render();
    routes_->count(kMetrics, 200, ex.start);
    return worker.respond(slot, std::move(r));
  }
  if (path.substr(0, 10) == "/admin/v1/") {
    ex.route = kAdmin;
    SignedHeaders h{
        std::string(req.header("X-Surge-Key")), std::string(req.header("X-Surge-Timestamp")),
        std::string(req.header("X-Surge-Nonce")), std::string(req.header("X-Surge-Signature"))};
    std::string refused = admin_.verify(method, req.target, req.body, h, unixNowMs() / 1000);
    if (!refused.empty()) return ex.error(401, refused, "admin request refused: " + refused);
    std::string_view rest = path.substr(10);
    if (rest == "catalog" && method == "POST") {
      bool json = req.query.find("format=json") != std::string_view::npos ||
                  req.header("Content-Type").substr(0, 16) == "application/json";
      auto reply = ex.later();
      SnapshotPublisher& publisher = publisher_;
      // Parsing a large catalog takes a second: it runs on the writer thread, which the import
      // holds anyway, never on this loop.
      return writer_.runExclusive([text = std::string(req.body), json, reply,
                                   &publisher](BookingStore& store) {
        auto parsed = parseCatalog(text, json ? CatalogFormat::kJson : CatalogFormat::kCsv, "body");
        if (!parsed) {
          std::string out = "{\"error\":{\"code\":\"invalid_catalog\",\"message\":";
          appendJsonString(
              out, std::to_string(parsed.error().size()) + " problem(s); nothing was imported");
          out += ",\"problems\":[";
          for (size_t i = 0; i < parsed.error().size(); ++i) {
            if (i) out += ',';
            appendJsonString(out, parsed.error()[i].toString());
          }
          out += "]}}";
          return reply(StoredResponse{400, out});
        }
        auto imported = store.importCatalog(parsed.value());
        if (!imported) {
          return reply(StoredResponse{409, jsonError("import_refused", imported.error())});
        }
        auto reloaded = publisher.reloadCatalog(store);
        if (!reloaded) {
          return reply(StoredResponse{500, jsonError("reload_failed", reloaded.error())});
        }
        const CatalogData& c = parsed.value();
        reply(StoredResponse{200, "{\"imported\":{\"regions\":" + std::to_string(c.regions.size()) +
                                      ",\"clinics\":" + std::to_string(c.clinics.size()) +
                                      ",\"slots\":" + std::to_string(c.slots.size()) + "}}"});
      });
    }
    if (rest == "publish" && method == "POST") {
      // ?wait=1: answered when the full publish is over, with what it did (surgectl publish).
      if (req.query.find("wait=1") == std::string_view::npos) {
        publisher_.requestFullPublish();
        return ex.send(202, "{\"status\":\"full publish started\"}");
      }
      return publisher_.requestFullPublish(
          [reply = ex.later()](const SnapshotPublisher::Report& report) {
            reply(StoredResponse{report.failed > 0 ? 502 : 200,
                                 "{\"published\":" + report.json() + "}"});
          });
    }
    if (rest == "snapshots" && method == "GET") {
      auto reply = ex.later();
      return writer_.runExclusive([reply](BookingStore& store) {
        auto listed = store.namedSnapshots();
        if (!listed)
          return reply(StoredResponse{503, jsonError("store_unavailable", listed.error())});
        std::string out = "{\"snapshots\":[";
        for (size_t i = 0; i < listed->size(); ++i) {
          const NamedSnapshot& s = (*listed)[i];
          if (i) out += ',';
          out += "{\"name\":";
          appendJsonString(out, s.name);
          out += ",\"content_type\":";
          appendJsonString(out, s.content_type);
          out += ",\"bytes\":" + std::to_string(s.body.size()) + ",\"updated_at\":\"" +
                 formatTimestamp(s.updated_ms) + "\"}";
        }
        out += "]}";
        reply(StoredResponse{200, out});
      });
    }
    if (rest.substr(0, 10) == "snapshots/") {
      std::string name(rest.substr(10));
      if (!cache::isValidNamedSnapshot(name)) {
        return ex.error(400, "invalid_name", "snapshot names are 1-64 characters of a-z 0-9 . _ -");
      }
      auto reply = [e = ex](int status, std::string json) {
        e.worker->post(
            [e, status, json = std::move(json)]() mutable { e.send(status, std::move(json)); });
      };
      if (method == "PUT") {
        std::string type(req.header("Content-Type"));
        if (type.empty()) type = "application/json";
        return publisher_.pushNamed(NamedSnapshot{name, type, std::string(req.body), unixNowMs()},
                                    std::move(reply));
      }
      if (method == "DELETE") return publisher_.removeNamed(std::move(name), std::move(reply));
      return ex.error(405, "method_not_allowed", "use PUT or DELETE");
    }
    if (rest == "queue" || rest.substr(0, 6) == "queue/") {
      if (pacer_ == nullptr) return ex.error(404, "not_found", "no waiting room here");
      std::string_view action = rest.size() > 6 ? rest.substr(6) : std::string_view();
      if (action.empty() && method == "GET") return ex.send(200, pacer_->statusJson());
      if (method != "POST") return ex.error(405, "method_not_allowed", "use POST");
      if (action == "open") {
        pacer_->setOpen(true);
        pacer_->setPaused(false);
      } else if (action == "close") {
        pacer_->setOpen(false);
      } else if (action == "pause") {
        pacer_->setPaused(true);
      } else if (action == "resume") {
        pacer_->setPaused(false);
      } else if (action == "revoke") {
        pacer_->revoke();
      } else if (action == "opening") {
        // ?at=UNIX_SECONDS (0: none)
        std::string_view q = req.query;
        if (q.substr(0, 3) != "at=" || q.size() > 3 + 12 ||
            q.substr(3).find_first_not_of("0123456789") != std::string_view::npos ||
            q.size() == 3) {
          return ex.error(400, "invalid_opening", "POST /admin/v1/queue/opening?at=UNIX_SECONDS");
        }
        pacer_->setOpening(std::stoll(std::string(q.substr(3))));
      } else if (action == "attack") {
        // ?bits=N: a new ticket needs a proof of N bits (1..32); 0: the mode off.
        std::string_view q = req.query;
        std::string v(q.substr(0, 5) == "bits=" ? q.substr(5) : std::string_view());
        char* end = nullptr;
        long bits = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || bits < 0 || bits > 32) {
          return ex.error(400, "invalid_bits",
                          "POST /admin/v1/queue/attack?bits=N: proof of work of N bits, 1..32 "
                          "(about 2^N hashes per ticket for a client); 0 turns it off");
        }
        pacer_->setProofBits(static_cast<uint32_t>(bits));
      } else if (action == "rate" || action == "factor") {
        // rate?value=N (tickets per second; 0: auto); factor?value=F (admitted people per seat
        // left, 1..100; 0: admission does not count seats)
        std::string_view q = req.query;
        std::string v(q.substr(0, 6) == "value=" ? q.substr(6) : std::string_view());
        char* end = nullptr;
        double value = std::strtod(v.c_str(), &end);
        bool number = !v.empty() && *end == '\0' && value >= 0;
        if (action == "rate") {
          if (!number || value > 1e6) {
            return ex.error(400, "invalid_rate",
                            "POST /admin/v1/queue/rate?value=N: tickets per second, 0..1e6");
          }
          pacer_->setRate(value);
        } else {
          if (!number || (value != 0 && (value < 1 || value > 100))) {
            return ex.error(400, "invalid_factor",
                            "POST /admin/v1/queue/factor?value=F: admitted people per seat left, "
                            "1..100, or 0 to stop counting seats");
          }
          pacer_->setSeatFactor(value);
        }
      } else {
        return ex.error(404, "not_found",
                        "queue actions: open, close, pause, resume, rate, factor, attack, revoke");
      }
      return ex.send(202, pacer_->statusJson());
    }
    if (rest == "purge") {
      // {"tags":["region.11110", ...]}: sent to every configured CDN at once (surgectl purge).
      if (method != "POST") return ex.error(405, "method_not_allowed", "use POST");
      if (purger_ == nullptr || purger_->empty()) {
        return ex.error(409, "no_cdn", "no CDN endpoints configured (surge-origin --cdn-purge)");
      }
      auto body = nlohmann::json::parse(req.body, nullptr, false);
      if (!body.is_object() || !body.contains("tags") || !body["tags"].is_array() ||
          body["tags"].empty() || body["tags"].size() > 1000) {
        return ex.error(400, "invalid_body", "{\"tags\":[\"TAG\", ...]} with 1 to 1000 tags");
      }
      std::vector<std::string> tags;
      for (const auto& t : body["tags"]) {
        if (!t.is_string() || !cache::isValidCacheTag(t.get<std::string>())) {
          return ex.error(400, "invalid_tag",
                          "a tag is 1-128 characters of A-Z a-z 0-9 . _ - (cache_tags.h)");
        }
        tags.push_back(t.get<std::string>());
      }
      purger_->purgeNow(tags);
      return ex.send(202, "{\"queued\":" + std::to_string(tags.size()) + "}");
    }
    if (rest == "stats" && method == "GET") {
      CatalogIndexPtr index = writer_.catalog();
      int64_t booked = 0, capacity = 0;
      for (const Clinic& c : index->clinics()) {
        for (const IndexedSlot& s : index->slotsOf(c.id)) {
          booked += s.booked.load(std::memory_order_relaxed);
          capacity += s.capacity;
        }
      }
      return ex.send(200, "{\"regions\":" + std::to_string(index->regions().size()) +
                              ",\"clinics\":" + std::to_string(index->clinics().size()) +
                              ",\"slots\":" + std::to_string(index->slotCount()) +
                              ",\"capacity\":" + std::to_string(capacity) +
                              ",\"booked\":" + std::to_string(booked) +
                              ",\"store_queue\":" + std::to_string(writer_.queued()) + "}");
    }
    return ex.error(404, "not_found", "no such admin resource");
  }
  ex.error(404, "not_found", "no such resource");
}

}  // namespace surge::origin
