#include "surge/origin/origin_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "surge/cache/hmac.h"
#include "surge/cache/keyring.h"
#include "surge/cache/snapshot_names.h"
#include "surge/origin/calendar.h"
#include "surge/origin/catalog_import.h"
#include "surge/origin/json_text.h"

namespace surge::origin {
namespace {

using Clock = std::chrono::steady_clock;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

enum Route {
  kBookingCreate,
  kBookingGet,
  kBookingCancel,
  kAdmin,
  kHealth,
  kMetrics,
  kOther,
  kRouteCount
};
constexpr const char* kRouteNames[kRouteCount] = {
    "booking_create", "booking_get", "booking_cancel", "admin", "health", "metrics", "other"};
constexpr int kStatuses[] = {200, 201, 202, 204, 400, 401, 404, 405,
                             409, 413, 415, 422, 500, 502, 503};
constexpr size_t kStatusCount = sizeof kStatuses / sizeof kStatuses[0];

const char* reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

bool isHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool validPersonId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
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

std::string header(evhttp_request* req, const char* name) {
  const char* v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
  return v ? v : "";
}

std::string_view body(evhttp_request* req) {
  evbuffer* in = evhttp_request_get_input_buffer(req);
  size_t n = evbuffer_get_length(in);
  if (n == 0) return {};
  return {reinterpret_cast<const char*>(evbuffer_pullup(in, -1)), n};
}

}  // namespace

// One event loop with its evhttp, its listener and a mailbox for answers from other threads.
class OriginServer::Worker {
 public:
  Worker(OriginServer& server, int listen_fd) : server_(server), listen_fd_(listen_fd) {
    for (int r = 0; r < kRouteCount; ++r) {
      for (size_t s = 0; s < kStatusCount; ++s) {
        requests_[r][s] =
            &server.metrics_.counter("surge_origin_requests_total", "Requests by route and status",
                                     std::string("route=\"") + kRouteNames[r] + "\",status=\"" +
                                         std::to_string(kStatuses[s]) + "\"");
      }
      latency_[r] = &server.metrics_.histogram(
          "surge_origin_request_seconds", "Time from request to answer", cache::latencyBuckets(),
          std::string("route=\"") + kRouteNames[r] + "\"");
    }
  }

  ~Worker() {
    if (mailbox_) event_free(mailbox_);
    if (http_) evhttp_free(http_);
    if (base_) event_base_free(base_);
  }

  cache::Result<cache::Done, std::string> init() {
    base_ = event_base_new();
    if (!base_) return cache::fail(std::string("event_base_new failed"));
    http_ = evhttp_new(base_);
    if (!http_) return cache::fail(std::string("evhttp_new failed"));
    evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                          EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    evhttp_set_max_body_size(http_, static_cast<ev_ssize_t>(server_.options_.max_admin_body));
    evhttp_set_max_headers_size(http_, 16 * 1024);
    evhttp_set_timeout(http_, server_.options_.timeout_s);
    evhttp_set_gencb(http_, &Worker::onRequest, this);
    if (!evhttp_accept_socket_with_handle(http_, listen_fd_)) {
      return cache::fail(std::string("evhttp_accept_socket failed"));
    }
    mailbox_ = event_new(base_, -1, 0, &Worker::onMailbox, this);
    return cache::Done{};
  }

  void run(int n) {
    thread_ = std::thread([this, n] {
      pthread_setname_np(pthread_self(), ("http-" + std::to_string(n)).c_str());
      event_base_dispatch(base_);
    });
  }

  void stop() {
    post([this] { event_base_loopexit(base_, nullptr); });
    if (thread_.joinable()) thread_.join();
  }

  // Any thread. Wakes the loop only when the mailbox goes from empty to non-empty.
  void post(std::function<void()> fn) {
    bool was_empty;
    {
      std::lock_guard lock(mailbox_mutex_);
      was_empty = mail_.empty();
      mail_.push_back(std::move(fn));
    }
    if (was_empty) event_active(mailbox_, EV_READ, 0);
  }

 private:
  // A request waiting for another thread. If its connection closes first, evhttp frees the
  // request: `alive` turns false (close callback) and the late answer is dropped.
  struct Pending {
    evhttp_request* req;
    evhttp_connection* conn;
    Route route;
    Clock::time_point start;
    bool alive = true;
  };
  using PendingPtr = std::shared_ptr<Pending>;

  static void onMailbox(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Worker*>(arg);
    std::vector<std::function<void()>> mail;
    {
      std::lock_guard lock(self->mailbox_mutex_);
      mail.swap(self->mail_);
    }
    for (auto& fn : mail)
      fn();
  }

  static void onConnectionClose(evhttp_connection* conn, void* arg) {
    auto* self = static_cast<Worker*>(arg);
    auto it = self->pending_.find(conn);
    if (it != self->pending_.end()) {
      it->second->alive = false;
      self->pending_.erase(it);
    }
  }

  PendingPtr defer(evhttp_request* req, Route route, Clock::time_point start) {
    auto p = std::make_shared<Pending>(
        Pending{req, evhttp_request_get_connection(req), route, start, true});
    pending_[p->conn] = p;
    evhttp_connection_set_closecb(p->conn, &Worker::onConnectionClose, this);
    return p;
  }

  // A callback for another thread: posts the answer back to this loop.
  std::function<void(StoredResponse)> replyLater(evhttp_request* req, Route route,
                                                 Clock::time_point start) {
    PendingPtr p = defer(req, route, start);
    return [this, p](StoredResponse r) {
      post([this, p, r = std::move(r)]() mutable {
        if (!p->alive) return;
        pending_.erase(p->conn);
        send(p->req, p->route, p->start, r.status, r.body, r.replayed);
      });
    };
  }

  void send(evhttp_request* req, Route route, Clock::time_point start, int status,
            const std::string& json, bool replayed = false) {
    evkeyvalq* out = evhttp_request_get_output_headers(req);
    if (!json.empty()) evhttp_add_header(out, "Content-Type", "application/json");
    evhttp_add_header(out, "Cache-Control", "no-store");
    if (replayed) evhttp_add_header(out, "Idempotent-Replayed", "true");
    std::string request_id = header(req, "X-Request-Id");
    if (!request_id.empty() && request_id.size() <= 128) {
      evhttp_add_header(out, "X-Request-Id", request_id.c_str());
    }
    evbuffer* buf = evbuffer_new();
    evbuffer_add(buf, json.data(), json.size());
    evhttp_send_reply(req, status, reasonPhrase(status), buf);
    evbuffer_free(buf);
    count(route, status, start);
  }

  void sendError(evhttp_request* req, Route route, Clock::time_point start, int status,
                 std::string_view code, std::string_view message) {
    send(req, route, start, status, jsonError(code, message));
  }

  void count(Route route, int status, Clock::time_point start) {
    for (size_t s = 0; s < kStatusCount; ++s) {
      if (kStatuses[s] == status) {
        requests_[route][s]->add();
        break;
      }
    }
    latency_[route]->observe(std::chrono::duration<double>(Clock::now() - start).count());
  }

  static void onRequest(evhttp_request* req, void* arg) { static_cast<Worker*>(arg)->handle(req); }

  void handle(evhttp_request* req) {
    Clock::time_point start = Clock::now();
    std::string_view uri = evhttp_request_get_uri(req);
    std::string_view path = uri.substr(0, uri.find('?'));
    evhttp_cmd_type method = evhttp_request_get_command(req);
    constexpr std::string_view kBookings = "/api/v1/bookings";

    if (path == kBookings) {
      if (method != EVHTTP_REQ_POST) {
        return sendError(req, kOther, start, 405, "method_not_allowed", "use POST");
      }
      return createBooking(req, start);
    }
    if (path.size() > kBookings.size() + 1 &&
        path.substr(0, kBookings.size() + 1) == "/api/v1/bookings/") {
      std::string id(path.substr(kBookings.size() + 1));
      Route route = method == EVHTTP_REQ_DELETE ? kBookingCancel : kBookingGet;
      if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD && method != EVHTTP_REQ_DELETE) {
        return sendError(req, kOther, start, 405, "method_not_allowed", "use GET or DELETE");
      }
      std::string auth = header(req, "Authorization");
      if (auth.rfind("Bearer ", 0) != 0 || auth.size() <= 7) {
        return sendError(req, route, start, 401, "missing_token",
                         "send the booking's token as Authorization: Bearer <token>");
      }
      std::string token = auth.substr(7);
      if (id.size() != 24 || !isHex(id) || token.size() != 64 || !isHex(token)) {
        return sendError(req, route, start, 404, "not_found", "no such booking");
      }
      if (route == kBookingCancel) {
        return server_.writer_.cancelBooking(std::move(id), std::move(token), nowMs(),
                                             replyLater(req, route, start));
      }
      return server_.writer_.findBooking(std::move(id), std::move(token),
                                         replyLater(req, route, start));
    }
    if (path == "/healthz") return send(req, kHealth, start, 200, "{\"status\":\"ok\"}");
    if (path == "/readyz") {
      bool ready = server_.writer_.catalog()->slotCount() > 0;
      return send(
          req, kHealth, start, ready ? 200 : 503,
          ready ? "{\"status\":\"ready\"}" : jsonError("not_ready", "no catalog imported yet"));
    }
    if (path == "/metrics") {
      std::string text = server_.metrics_.render();
      evkeyvalq* out = evhttp_request_get_output_headers(req);
      evhttp_add_header(out, "Content-Type", "text/plain; version=0.0.4");
      evbuffer* buf = evbuffer_new();
      evbuffer_add(buf, text.data(), text.size());
      evhttp_send_reply(req, 200, "OK", buf);
      evbuffer_free(buf);
      return count(kMetrics, 200, start);
    }
    if (path.substr(0, 10) == "/admin/v1/") return admin(req, uri, path, method, start);
    sendError(req, kOther, start, 404, "not_found", "no such resource");
  }

  void createBooking(evhttp_request* req, Clock::time_point start) {
    const Route route = kBookingCreate;
    std::string_view raw = body(req);
    if (raw.size() > server_.options_.max_booking_body) {
      return sendError(req, route, start, 413, "body_too_large",
                       "a booking request is at most " +
                           std::to_string(server_.options_.max_booking_body) + " bytes");
    }
    std::string content_type = header(req, "Content-Type");
    if (!content_type.empty() && content_type.rfind("application/json", 0) != 0) {
      return sendError(req, route, start, 415, "unsupported_media_type",
                       "send the booking as application/json");
    }
    std::string key = header(req, "Idempotency-Key");
    if (!validIdempotencyKey(key)) {
      return sendError(req, route, start, 400, "invalid_idempotency_key",
                       "an Idempotency-Key header of 1-128 visible ASCII characters is required");
    }
    auto json = nlohmann::json::parse(raw, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) {
      return sendError(req, route, start, 400, "invalid_json", "the body is not valid JSON");
    }
    if (!json.is_object()) {
      return sendError(req, route, start, 400, "invalid_body", "the body must be a JSON object");
    }
    for (auto it = json.begin(); it != json.end(); ++it) {
      const std::string& k = it.key();
      if (k != "clinic_id" && k != "date" && k != "time" && k != "person_id") {
        return sendError(req, route, start, 400, "unknown_field", "unknown field \"" + k + "\"");
      }
    }
    auto field = [&](const char* name) -> const nlohmann::json* {
      auto it = json.find(name);
      return it == json.end() ? nullptr : &*it;
    };
    const nlohmann::json* clinic_id = field("clinic_id");
    const nlohmann::json* date = field("date");
    const nlohmann::json* time = field("time");
    const nlohmann::json* person = field("person_id");
    if (!clinic_id || !date || !time || !person) {
      return sendError(req, route, start, 400, "missing_field",
                       "clinic_id, date, time and person_id are required");
    }
    int64_t clinic = 0;
    if (clinic_id->is_number_unsigned() && clinic_id->get<uint64_t>() <= (1ull << 53)) {
      clinic = static_cast<int64_t>(clinic_id->get<uint64_t>());
    } else if (!clinic_id->is_number_integer()) {
      return sendError(req, route, start, 400, "invalid_field", "clinic_id must be an integer");
    }
    if (!date->is_string() || !time->is_string() || !person->is_string()) {
      return sendError(req, route, start, 400, "invalid_field",
                       "date, time and person_id must be strings");
    }
    auto day = parseDate(date->get_ref<const std::string&>());
    if (!day) {
      return sendError(req, route, start, 400, "invalid_field", "date must be YYYY-MM-DD");
    }
    auto minute = parseTime(time->get_ref<const std::string&>());
    if (!minute) return sendError(req, route, start, 400, "invalid_field", "time must be HH:MM");
    const std::string& person_id = person->get_ref<const std::string&>();
    if (!validPersonId(person_id)) {
      return sendError(req, route, start, 400, "invalid_field",
                       "person_id must be 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    CatalogIndexPtr index = server_.writer_.catalog();
    if (clinic <= 0 || index->clinic(clinic) == nullptr) {
      return sendError(req, route, start, 404, "unknown_clinic", "no such clinic");
    }
    IndexedSlot* slot = index->findSlot(clinic, *day, *minute);
    if (slot == nullptr) {
      return sendError(req, route, start, 404, "unknown_slot",
                       "the clinic has no slot at that date and time");
    }
    NewBooking b;
    b.slot_id = slot->id;
    b.clinic_id = clinic;
    b.day = *day;
    b.minute = *minute;
    b.person_id = person_id;
    b.idempotency_key = std::move(key);
    auto digest = cache::sha256({std::to_string(clinic), "|", date->get_ref<const std::string&>(),
                                 "|", time->get_ref<const std::string&>(), "|", person_id});
    b.request_sha256.assign(reinterpret_cast<const char*>(digest.data()), digest.size());
    b.now_ms = nowMs();
    if (!issueCredentials(b)) {
      return sendError(req, route, start, 503, "no_randomness", "try again");
    }
    server_.writer_.createBooking(std::move(b), replyLater(req, route, start));
  }

  void admin(evhttp_request* req, std::string_view uri, std::string_view path,
             evhttp_cmd_type method, Clock::time_point start) {
    const Route route = kAdmin;
    const char* method_name = method == EVHTTP_REQ_GET      ? "GET"
                              : method == EVHTTP_REQ_POST   ? "POST"
                              : method == EVHTTP_REQ_PUT    ? "PUT"
                              : method == EVHTTP_REQ_DELETE ? "DELETE"
                                                            : "HEAD";
    std::string_view raw = body(req);
    SignedHeaders h{header(req, "X-Surge-Key"), header(req, "X-Surge-Timestamp"),
                    header(req, "X-Surge-Nonce"), header(req, "X-Surge-Signature")};
    std::string refused = server_.admin_.verify(method_name, uri, raw, h, nowMs() / 1000);
    if (!refused.empty()) {
      return sendError(req, route, start, 401, refused, "admin request refused: " + refused);
    }
    std::string_view rest = path.substr(10);
    if (rest == "catalog" && method == EVHTTP_REQ_POST) {
      std::string query(uri.substr(path.size()));
      bool json = query.find("format=json") != std::string::npos ||
                  header(req, "Content-Type").rfind("application/json", 0) == 0;
      return importCatalog(req, std::string(raw), json, start);
    }
    if (rest == "publish" && method == EVHTTP_REQ_POST) {
      server_.publisher_.requestFullPublish();
      return send(req, route, start, 202, "{\"status\":\"full publish started\"}");
    }
    if (rest == "snapshots" && method == EVHTTP_REQ_GET) return listSnapshots(req, start);
    if (rest.substr(0, 10) == "snapshots/") {
      std::string name(rest.substr(10));
      if (!cache::isValidNamedSnapshot(name)) {
        return sendError(req, route, start, 400, "invalid_name",
                         "snapshot names are 1-64 characters of a-z 0-9 . _ -");
      }
      auto reply = [this, p = defer(req, route, start)](int status, std::string json) {
        post([this, p, status, json = std::move(json)] {
          if (!p->alive) return;
          pending_.erase(p->conn);
          send(p->req, p->route, p->start, status, json);
        });
      };
      if (method == EVHTTP_REQ_PUT) {
        std::string type = header(req, "Content-Type");
        if (type.empty()) type = "application/json";
        NamedSnapshot s{name, type, std::string(raw), nowMs()};
        return server_.publisher_.pushNamed(std::move(s), std::move(reply));
      }
      if (method == EVHTTP_REQ_DELETE) {
        return server_.publisher_.removeNamed(std::move(name), std::move(reply));
      }
      // defer() registered the request: answer through the same path.
      return reply(405, jsonError("method_not_allowed", "use PUT or DELETE"));
    }
    if (rest == "stats" && method == EVHTTP_REQ_GET) {
      CatalogIndexPtr index = server_.writer_.catalog();
      int64_t booked = 0, capacity = 0;
      for (const Clinic& c : index->clinics()) {
        for (const IndexedSlot& s : index->slotsOf(c.id)) {
          booked += s.booked.load(std::memory_order_relaxed);
          capacity += s.capacity;
        }
      }
      std::string out = "{\"regions\":" + std::to_string(index->regions().size()) +
                        ",\"clinics\":" + std::to_string(index->clinics().size()) +
                        ",\"slots\":" + std::to_string(index->slotCount()) +
                        ",\"capacity\":" + std::to_string(capacity) +
                        ",\"booked\":" + std::to_string(booked) +
                        ",\"store_queue\":" + std::to_string(server_.writer_.queued()) + "}";
      return send(req, route, start, 200, out);
    }
    sendError(req, route, start, 404, "not_found", "no such admin resource");
  }

  void importCatalog(evhttp_request* req, std::string text, bool json, Clock::time_point start) {
    auto reply = replyLater(req, kAdmin, start);
    BookingWriter& writer = server_.writer_;
    SnapshotPublisher& publisher = server_.publisher_;
    // Parsing a large catalog takes a second: it runs on the writer thread, which the import
    // holds anyway, never on this loop.
    writer.runExclusive([text = std::move(text), json, reply, &writer,
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
      if (!imported)
        return reply(StoredResponse{409, jsonError("import_refused", imported.error())});
      auto loaded = store.loadCatalog();
      if (!loaded) return reply(StoredResponse{500, jsonError("reload_failed", loaded.error())});
      writer.replaceCatalog(loaded.value());
      publisher.requestFullPublish();
      const CatalogData& c = parsed.value();
      reply(StoredResponse{200, "{\"imported\":{\"regions\":" + std::to_string(c.regions.size()) +
                                    ",\"clinics\":" + std::to_string(c.clinics.size()) +
                                    ",\"slots\":" + std::to_string(c.slots.size()) + "}}"});
    });
  }

  void listSnapshots(evhttp_request* req, Clock::time_point start) {
    auto reply = replyLater(req, kAdmin, start);
    server_.writer_.runExclusive([reply](BookingStore& store) {
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

  OriginServer& server_;
  int listen_fd_;
  event_base* base_ = nullptr;
  evhttp* http_ = nullptr;
  event* mailbox_ = nullptr;
  std::mutex mailbox_mutex_;
  std::vector<std::function<void()>> mail_;
  std::unordered_map<evhttp_connection*, PendingPtr> pending_;
  std::thread thread_;
  cache::Counter* requests_[kRouteCount][kStatusCount];
  cache::Histogram* latency_[kRouteCount];
};

OriginServer::OriginServer(OriginServerOptions options, BookingWriter& writer,
                           SnapshotPublisher& publisher, AdminAuth& admin,
                           cache::MetricsRegistry& metrics)
    : options_(std::move(options)),
      writer_(writer),
      publisher_(publisher),
      admin_(admin),
      metrics_(metrics) {}

OriginServer::~OriginServer() {
  stop();
}

cache::Result<cache::Done, std::string> OriginServer::start() {
  static std::once_flag threads_once;
  std::call_once(threads_once, [] { evthread_use_pthreads(); });
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(options_.listen_port));
  if (inet_pton(AF_INET, options_.listen_host.c_str(), &addr.sin_addr) != 1) {
    return cache::fail("listen address " + options_.listen_host + " is not an IPv4 address");
  }
  for (int i = 0; i < options_.workers; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // One listener per loop: the kernel spreads connections, no accept lock.
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd, options_.backlog) != 0) {
      std::string err = std::strerror(errno);
      ::close(fd);
      return cache::fail("listen on " + options_.listen_host + ":" +
                         std::to_string(options_.listen_port) + ": " + err);
    }
    if (i == 0 && options_.listen_port == 0) {
      socklen_t len = sizeof addr;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    }
    auto worker = std::make_unique<Worker>(*this, fd);
    auto ok = worker->init();
    if (!ok) return ok;
    workers_.push_back(std::move(worker));
  }
  bound_port_ = ntohs(addr.sin_port);
  for (size_t i = 0; i < workers_.size(); ++i)
    workers_[i]->run(static_cast<int>(i));
  return cache::Done{};
}

void OriginServer::stop() {
  for (auto& w : workers_)
    w->stop();
}

}  // namespace surge::origin
