// surge-bench: the opening day, replayed against a surge-edge. Simulated people arrive open-loop on
// a schedule shaped like an opening (a spike, then a long tail); each walks the booking flow over
// its own keep-alive connection, like a browser tab:
//   GET / -> GET the page's assets -> GET /api/v1/regions -> GET a region's clinics (Zipf over
//   regions) -> GET a clinic (Zipf over its clinics) -> [waiting room: POST a ticket, poll the
//   status until admitted] -> POST /api/v1/bookings, honouring Retry-After on 503 and giving up
//   after a few refusals, as people do. A waiting person whose status says the seats are sold out
//   stops waiting; one who arrives after it is turned away (410 sold_out).
// Concurrency is bounded by --connections: arrivals beyond it wait for a free connection (and that
// wait counts in their booking latency). Latency percentiles come from a log-bucketed histogram
// (2% buckets: a percentile is exact to within 2%).
//
//   surge-bench HOST:PORT[,HOST:PORT...] --catalog FILE [--users 200000] [--connections 10000]
//               [--spike-seconds 20] [--seconds 120] [--think-ms 1500] [--out DIR] [--queue]
//               [--closed] [--full-retries N] [--sources N] [--source-first ADDR] [--scenario FILE]
//               [--prefix ID] [--leave F]
// Several targets: person i connects to the (i mod n)th, as DNS round robin over edges would.
// --closed: closed loop, `connections` people in the flow at all times until --seconds.
// --sources N: connect from 127.0.0.1..127.0.0.N (past ~28,000 connections one address runs out
// of ephemeral ports, and long before that the kernel's search for a free port makes each
// connect() cost milliseconds); --source-first ADDR: the N addresses begin there instead (the
// cluster's crowd: 10.77.0.2..). --scenario FILE: the same settings as "key value" lines (see
// bench/scenarios/opening-day.conf); later flags override it. --prefix ID: person ids and keys
// begin with it (default "bench"), for several runs against one store. --leave F: that share of
// the people who get a ticket and are not admitted at once close the tab (never ask again): the
// waiting room's --queue-absent-after passes them over.
//
// Writes DIR/summary.json, DIR/timeline.csv (per second: reads, read errors, read p99 ms,
// bookings, 409s, 503s, active connections) and DIR/booked.txt (every 201: booking id, clinic,
// date, time, person) for the audit. Prints a live progress line every second.
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "log_histogram.h"

#include "surge/http/response_head.h"

namespace {

namespace http = surge::http;

using Clock = std::chrono::steady_clock;

using Histogram = surge::bench::LogHistogram;

struct Slot {
  std::string date, time;
};
struct Clinic {
  int64_t id;
  std::vector<Slot> slots;
};
struct Region {
  std::string code;
  std::vector<size_t> clinics;  // indexes into clinics
};

struct Options {
  // Where people connect: person i to targets[i % n] (several: DNS round robin over edges).
  std::vector<sockaddr_in> targets;
  std::string catalog;
  int users = 200000;
  int connections = 10000;
  double spike_s = 20;
  double seconds = 120;
  std::string out = "surge-bench-out";
  bool queue = false;
  int think_ms = 1500;  // up to this long between clicks (uniform from a quarter of it)
  int sources = 1;      // source addresses 127.0.0.1 .. 127.0.0.N (more ephemeral ports)
  uint32_t source_first = 0x7f000001u;  // the first of them (host order)
  bool closed = false;    // closed loop: `connections` people, each followed by the next
  int full_retries = 10;  // other times tried after a sold-out answer
  int refusals = 8;       // 503s (after Retry-After) before a person gives up
  // Person ids and Idempotency-Keys begin with it: runs against the same store need their own,
  // or a second run's keys replay (or, with another slot, are refused 422) the first run's.
  std::string prefix = "bench";
  size_t zipf_clinics = 64;  // clinics of a region people choose among (Zipf)
  double leave = 0;          // share of those made to wait who leave at once (--leave)
};

// Zipf(1) over n items by inverse transform on precomputed cumulative weights.
struct Zipf {
  std::vector<double> cumulative;
  explicit Zipf(size_t n) {
    double sum = 0;
    for (size_t i = 1; i <= n; ++i) {
      sum += 1.0 / static_cast<double>(i);
      cumulative.push_back(sum);
    }
    for (double& c : cumulative)
      c /= sum;
  }
  size_t draw(std::mt19937_64& rng) const {
    double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return static_cast<size_t>(std::lower_bound(cumulative.begin(), cumulative.end(), u) -
                               cumulative.begin());
  }
};

struct Totals {
  uint64_t reads = 0, read_errors = 0, read_retry_after = 0, created = 0, conflicts = 0, shed = 0,
           gave_up = 0;
  uint64_t forbidden = 0, tickets = 0, polls = 0, failed_connections = 0, users_done = 0;
  uint64_t turned_away_sold_out = 0;  // 410 sold_out for a ticket
  uint64_t left = 0;                  // made to wait, closed the tab (--leave)
  uint64_t admitted_after_waiting = 0;
  Clock::time_point last_admitted{};  // the last of those who waited read "admitted"
  Histogram waited;                   // from the ticket to "admitted", for those who waited
  // When each waiting person first read "sold_out" in its status (compared, at the end, with the
  // last 201: how long the sell-out took to reach everyone still in line).
  std::vector<Clock::time_point> told_sold_out;
  Clock::time_point last_created{};
  Histogram read_latency, booking_latency;  // booking: from arrival to the final answer
};

class Bench;

enum class Step { kPage, kCss, kJs, kRegions, kRegionClinics, kClinic, kTicket, kPoll, kBook };

struct User {
  Bench* bench = nullptr;
  int fd = -1;
  event* ev = nullptr;     // readable (persistent)
  event* wev = nullptr;    // writable, added while a request does not fit or connect is pending
  event* timer = nullptr;  // a wait before the next step (Retry-After, polling)
  Step step = Step::kPage;
  Step later_step = Step::kPage;
  std::string out;
  size_t written = 0;
  std::string in;
  Clock::time_point arrived, sent;
  size_t region = 0, clinic = 0;
  int refusals = 0;
  int full_retries = 0;
  std::string person, key, booking_body;
  std::string ticket, client;
  Clock::time_point ticket_at{};  // when the ticket came, if it had to wait
  int64_t id = 0;
};

class Bench {
 public:
  Bench(Options o, std::vector<Region> regions, std::vector<Clinic> clinics)
      : o_(std::move(o)),
        regions_(std::move(regions)),
        clinics_(std::move(clinics)),
        region_zipf_(regions_.size()),
        rng_(20261127) {
    base_ = event_base_new();
  }

  int run() {
    start_ = Clock::now();
    tick_ = event_new(base_, -1, EV_PERSIST, &Bench::onTick, this);
    timeval ms10{0, 10000};
    event_add(tick_, &ms10);
    event_base_dispatch(base_);
    return finish();
  }

 private:
  // Arrivals per second at t: a spike of `spike_s` seconds carrying half of the users, then an
  // exponential tail carrying the rest over the remaining time.
  double arrivalsBy(double t) const {
    double half = o_.users / 2.0;
    if (t <= o_.spike_s) return half * t / o_.spike_s;
    double tail = std::max(1.0, o_.seconds - o_.spike_s);
    double tau = tail / 4;  // most of the tail arrives early in it
    double frac = (1 - std::exp(-(t - o_.spike_s) / tau)) / (1 - std::exp(-tail / tau));
    return half + half * std::min(1.0, frac);
  }

  static void onTick(evutil_socket_t, short, void* arg) { static_cast<Bench*>(arg)->tick(); }

  void tick() {
    double t = std::chrono::duration<double>(Clock::now() - start_).count();
    if (o_.closed) {
      // Closed loop: keep `connections` people in the flow until --seconds, then let them end.
      while (t < o_.seconds && arrived_ - static_cast<int>(totals_.users_done) < o_.connections) {
        waiting_.push_back(Clock::now());
        ++arrived_;
      }
      o_.users = arrived_;
      if (t >= o_.seconds && waiting_.empty() && active_ == 0) {
        report(t);
        event_base_loopexit(base_, nullptr);
        return;
      }
    } else {
      int due = std::min<int>(o_.users, static_cast<int>(arrivalsBy(t)));
      while (arrived_ < due) {
        waiting_.push_back(Clock::now());
        ++arrived_;
      }
    }
    while (!waiting_.empty() && active_ < o_.connections) {
      startUser(waiting_.front());
      waiting_.pop_front();
    }
    if (t - last_report_ >= 1.0) report(t);
    if (arrived_ >= o_.users && waiting_.empty() && active_ == 0) {
      report(t);
      event_base_loopexit(base_, nullptr);
    }
    if (t > o_.seconds + 120) {  // hard stop: nobody may hang the benchmark
      std::fprintf(stderr, "\nsurge-bench: stopping with %d users still active\n", active_);
      event_base_loopexit(base_, nullptr);
    }
  }

  void report(double t) {
    last_report_ = t;
    uint64_t reads = totals_.reads - last_reads_;
    last_reads_ = totals_.reads;
    timeline_ << static_cast<int>(t) << ',' << reads << ',' << totals_.read_errors << ','
              << second_reads_.percentileMs(0.99) << ',' << totals_.created << ','
              << totals_.conflicts << ',' << totals_.shed << ',' << active_ << ','
              << waiting_.size() << '\n';
    std::fprintf(stderr,
                 "\r%5.0fs users %d/%d active %d waiting %zu | reads %llu/s p99 %.1f ms errors "
                 "%llu | booked %llu full %llu shed %llu   ",
                 t, arrived_, o_.users, active_, waiting_.size(),
                 static_cast<unsigned long long>(reads), second_reads_.percentileMs(0.99),
                 static_cast<unsigned long long>(totals_.read_errors),
                 static_cast<unsigned long long>(totals_.created),
                 static_cast<unsigned long long>(totals_.conflicts),
                 static_cast<unsigned long long>(totals_.shed));
    second_reads_.clear();
  }

  void startUser(Clock::time_point arrived) {
    auto* u = new User;
    u->bench = this;
    u->arrived = arrived;
    u->id = next_id_++;
    u->person = o_.prefix + "-" + std::to_string(u->id);
    u->key = o_.prefix + "-key-" + std::to_string(u->id);
    u->region = region_zipf_.draw(rng_);
    const Region& r = regions_[u->region];
    if (!r.clinics.empty()) {
      Zipf z(std::min<size_t>(r.clinics.size(), o_.zipf_clinics));
      u->clinic = r.clinics[z.draw(rng_) % r.clinics.size()];
    }
    ++active_;
    if (!connectUser(u)) return endUser(u, true);
    send(u, Step::kPage);
  }

  bool connectUser(User* u) {
    u->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (u->fd < 0) return false;
    int one = 1;
    ::setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (o_.sources > 1 || o_.source_first != 0x7f000001u) {
      // Spread over N addresses from source_first (127.0.0.1 unless told) so tens of thousands of
      // connections do not run out of ports; the port is chosen at connect time
      // (IP_BIND_ADDRESS_NO_PORT).
      ::setsockopt(u->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      sockaddr_in src{};
      src.sin_family = AF_INET;
      src.sin_addr.s_addr = htonl(o_.source_first + static_cast<uint32_t>(u->id % o_.sources));
      if (::bind(u->fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) return false;
    }
    const sockaddr_in& addr = o_.targets[static_cast<size_t>(u->id) % o_.targets.size()];
    if (::connect(u->fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 &&
        errno != EINPROGRESS) {
      return false;
    }
    u->ev = event_new(base_, u->fd, EV_READ | EV_PERSIST, &Bench::onReadable, u);
    u->wev = event_new(base_, u->fd, EV_WRITE, &Bench::onWritable, u);
    u->timer = event_new(base_, -1, 0, &Bench::onLater, u);
    event_add(u->ev, nullptr);
    return true;
  }

  std::string request(User* u, Step step) {
    auto get = [&](const std::string& path, const std::string& extra = "") {
      return "GET " + path + " HTTP/1.1\r\nHost: bench\r\nAccept-Encoding: zstd, gzip\r\n" + extra +
             "\r\n";
    };
    std::string cookies;
    if (!u->ticket.empty()) {
      cookies = "X-Surge-Ticket: " + u->ticket + "\r\nX-Surge-Client: " + u->client + "\r\n";
    }
    const Clinic& c = clinics_[u->clinic];
    switch (step) {
      case Step::kPage:
        return get("/");
      case Step::kCss:
        return get(css_.empty() ? "/" : css_);
      case Step::kJs:
        return get(js_.empty() ? "/" : js_);
      case Step::kRegions:
        return get("/api/v1/regions");
      case Step::kRegionClinics:
        return get("/api/v1/regions/" + regions_[u->region].code + "/clinics");
      case Step::kClinic:
        return get("/api/v1/clinics/" + std::to_string(c.id));
      case Step::kTicket:
        return "POST /api/v1/queue/tickets HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n" +
               cookies + "\r\n";
      case Step::kPoll:
        return get("/api/v1/queue/tickets/current", cookies);
      case Step::kBook: {
        if (u->booking_body.empty()) {
          const Slot& s =
              c.slots[std::uniform_int_distribution<size_t>(0, c.slots.size() - 1)(rng_)];
          u->booking_body = "{\"clinic_id\":" + std::to_string(c.id) + ",\"date\":\"" + s.date +
                            "\",\"time\":\"" + s.time + "\",\"person_id\":\"" + u->person + "\"}";
        }
        return "POST /api/v1/bookings HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
               "Idempotency-Key: " +
               u->key + "\r\n" + cookies +
               "Content-Length: " + std::to_string(u->booking_body.size()) + "\r\n\r\n" +
               u->booking_body;
      }
    }
    return {};
  }

  void send(User* u, Step step) {
    u->step = step;
    u->out = request(u, step);
    u->written = 0;
    u->in.clear();
    u->sent = Clock::now();
    resend(u);
  }

  static void onWritable(evutil_socket_t, short, void* arg) {
    auto* u = static_cast<User*>(arg);
    u->bench->resend(u);
  }

  void resend(User* u) {
    while (u->written < u->out.size()) {
      ssize_t n =
          ::send(u->fd, u->out.data() + u->written, u->out.size() - u->written, MSG_NOSIGNAL);
      if (n > 0) {
        u->written += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == ENOTCONN)) {
        event_add(u->wev, nullptr);  // still connecting, or a full socket
        return;
      }
      return endUser(u, true);
    }
  }

  static void onReadable(evutil_socket_t, short, void* arg) {
    auto* u = static_cast<User*>(arg);
    u->bench->readFrom(u);
  }

  // The value of header `lower_name` (given in lower case) in an answer's head, any case there;
  // nullopt when it is absent.
  static std::optional<std::string> header(const std::string& headers,
                                           std::string_view lower_name) {
    std::string lower = headers;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    size_t at = lower.find("\r\n" + std::string(lower_name) + ":");
    if (at == std::string::npos) return std::nullopt;
    size_t from = at + 3 + lower_name.size();
    return headers.substr(from, headers.find("\r\n", from) - from);
  }

  // A complete answer in u->in: status, headers, body; false while incomplete.
  static bool complete(const std::string& in, int& status, std::string& headers,
                       std::string& body) {
    http::ResponseHead head;
    if (http::parseResponseHead(in, head) != 1) return false;  // a malformed one: never whole
    size_t cl = head.content_length.value_or(0);
    if (in.size() < head.header_bytes + cl) return false;
    status = head.status;
    headers = in.substr(0, head.header_bytes - 4);
    body = in.substr(head.header_bytes, cl);
    return true;
  }

  static std::string jsonField(const std::string& body, const std::string& name) {
    size_t at = body.find("\"" + name + "\":");
    if (at == std::string::npos) return {};
    at += name.size() + 3;
    if (at < body.size() && body[at] == '"') {
      size_t end = body.find('"', at + 1);
      return body.substr(at + 1, end - at - 1);
    }
    size_t end = body.find_first_of(",}", at);
    return body.substr(at, end - at);
  }

  void readFrom(User* u) {
    char buf[65536];
    while (true) {
      ssize_t n = ::recv(u->fd, buf, sizeof buf, 0);
      if (n > 0) {
        u->in.append(buf, static_cast<size_t>(n));
        if (static_cast<size_t>(n) < sizeof buf) break;
        continue;
      }
      if (n < 0 && errno == EAGAIN) break;
      if (n < 0 && errno == EINTR) continue;
      return endUser(u, true);  // closed or reset mid-flow
    }
    int status = 0;
    std::string headers, body;
    if (!complete(u->in, status, headers, body)) return;
    double micros = std::chrono::duration<double, std::micro>(Clock::now() - u->sent).count();
    switch (u->step) {
      case Step::kPage:
      case Step::kCss:
      case Step::kJs:
      case Step::kRegions:
      case Step::kRegionClinics:
      case Step::kClinic: {
        ++totals_.reads;
        totals_.read_latency.add(micros);
        second_reads_.add(micros);
        if (status != 200) ++totals_.read_errors;
        // Of them, answers that said when to come back (an edge with nothing to serve yet: a
        // snapshot memcached lost before the edge ever held it).
        if (status == 503 && header(headers, "retry-after")) ++totals_.read_retry_after;
        if (u->step == Step::kPage && status == 200 && css_.empty()) {
          size_t a = body.find("/assets/app.");
          if (a != std::string::npos) {
            size_t e = body.find('"', a);
            std::string first = body.substr(a, e - a);
            size_t b = body.find("/assets/app.", e);
            std::string second =
                b == std::string::npos ? first : body.substr(b, body.find('"', b) - b);
            css_ = first.ends_with(".css") ? first : second;
            js_ = first.ends_with(".js") ? first : second;
          }
        }
        // Assets load at once; a person reads a while before the next click.
        bool click = u->step == Step::kRegions || u->step == Step::kRegionClinics ||
                     u->step == Step::kClinic;
        Step next = u->step == Step::kPage            ? Step::kCss
                    : u->step == Step::kCss           ? Step::kJs
                    : u->step == Step::kJs            ? Step::kRegions
                    : u->step == Step::kRegions       ? Step::kRegionClinics
                    : u->step == Step::kRegionClinics ? Step::kClinic
                    : o_.queue                        ? Step::kTicket
                                                      : Step::kBook;
        if (click && o_.think_ms > 0) {
          return later(u, next,
                       std::uniform_int_distribution<int>(o_.think_ms / 4, o_.think_ms)(rng_));
        }
        return send(u, next);
      }
      case Step::kTicket:
        if (status == 200 || status == 201) {
          ++totals_.tickets;
          u->ticket = jsonField(body, "ticket");
          u->client = jsonField(body, "client");
          if (jsonField(body, "admitted") == "true") return send(u, Step::kBook);
          u->ticket_at = Clock::now();
          if (o_.leave > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < o_.leave) {
            ++totals_.left;  // the tab is closed: nobody asks about this place again
            return endUser(u, false);
          }
          return waitInLine(u, body);
        }
        if (status == 410 && jsonField(body, "sold_out") == "true") {
          ++totals_.turned_away_sold_out;
          return endUser(u, false);
        }
        return refused(u, headers, Step::kTicket);
      case Step::kPoll:
        ++totals_.polls;
        if (status == 200 && jsonField(body, "admitted") == "true") {
          if (u->ticket_at != Clock::time_point{}) {
            ++totals_.admitted_after_waiting;
            totals_.last_admitted = Clock::now();
            totals_.waited.add(
                std::chrono::duration<double, std::micro>(Clock::now() - u->ticket_at).count());
            u->ticket_at = {};
          }
          return send(u, Step::kBook);
        }
        if (status == 200) return waitInLine(u, body);
        return refused(u, headers, Step::kPoll);
      case Step::kBook: {
        if (status == 201) {
          ++totals_.created;
          totals_.last_created = Clock::now();
          totals_.booking_latency.add(
              std::chrono::duration<double, std::micro>(Clock::now() - u->arrived).count());
          booked_ << jsonField(body, "booking_id") << ' ' << u->booking_body << '\n';
          return endUser(u, false);
        }
        if (status == 409 && body.find("slot_full") != std::string::npos &&
            ++u->full_retries <= o_.full_retries) {
          // Sold out: pick another time (maybe another clinic), as people do, with a new key.
          ++totals_.conflicts;
          const Region& any =
              regions_[std::uniform_int_distribution<size_t>(0, regions_.size() - 1)(rng_)];
          u->clinic =
              any.clinics[std::uniform_int_distribution<size_t>(0, any.clinics.size() - 1)(rng_)];
          u->booking_body.clear();
          u->key =
              o_.prefix + "-key-" + std::to_string(u->id) + "-" + std::to_string(u->full_retries);
          return send(u, Step::kBook);
        }
        if (status == 409) {
          ++totals_.conflicts;
          totals_.booking_latency.add(
              std::chrono::duration<double, std::micro>(Clock::now() - u->arrived).count());
          return endUser(u, false);
        }
        if (status == 403) {
          ++totals_.forbidden;
          return later(u, Step::kPoll, 1000);  // not admitted yet: back to waiting
        }
        return refused(u, headers, Step::kBook);
      }
    }
  }

  // A status while waiting: leave once it says sold out, else poll again as the page does (every
  // 1-1.5 s while origin counts seats, so the sell-out reaches everyone within 2 s; otherwise 1 s
  // near the front and 5 s further back).
  void waitInLine(User* u, const std::string& body) {
    if (jsonField(body, "sold_out") == "true") {
      totals_.told_sold_out.push_back(Clock::now());
      return endUser(u, false);
    }
    std::string seats = jsonField(body, "seats");
    if (!seats.empty() && seats != "null") {
      return later(u, Step::kPoll, std::uniform_int_distribution<int>(1000, 1500)(rng_));
    }
    std::string pos = jsonField(body, "position");
    int64_t p = pos == "null" || pos.empty() ? 100000 : std::atoll(pos.c_str());
    int wait_ms = p <= 200 ? 1000 : 5000;
    // As the page: never longer than the heartbeat origin asks for, or the person is taken as gone.
    std::string heartbeat = jsonField(body, "heartbeat_s");
    if (int hb = std::atoi(heartbeat.c_str()); hb > 0) wait_ms = std::min(wait_ms, hb * 1000);
    later(u, Step::kPoll, wait_ms);
  }

  // 503 + Retry-After (or another failure): wait as told, try again, give up after a few.
  void refused(User* u, const std::string& headers, Step step) {
    ++totals_.shed;
    if (++u->refusals > o_.refusals) {
      ++totals_.gave_up;
      return endUser(u, false);
    }
    std::optional<std::string> retry_after = header(headers, "retry-after");
    int seconds = retry_after ? std::max(1, std::atoi(retry_after->c_str())) : 1;
    later(u, step, seconds * 1000 + std::uniform_int_distribution<int>(0, 500)(rng_));
  }

  void later(User* u, Step step, int ms) {
    u->later_step = step;
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    event_add(u->timer, &tv);
  }

  static void onLater(evutil_socket_t, short, void* arg) {
    auto* u = static_cast<User*>(arg);
    u->bench->send(u, u->later_step);
  }

  void endUser(User* u, bool failed) {
    if (failed) {
      ++totals_.failed_connections;
      if (u->step <= Step::kClinic) ++totals_.read_errors;
    }
    ++totals_.users_done;
    if (u->ev) event_free(u->ev);
    if (u->wev) event_free(u->wev);
    if (u->timer) event_free(u->timer);
    if (u->fd >= 0) ::close(u->fd);
    delete u;
    --active_;
  }

  int finish() {
    double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    std::fprintf(stderr, "\n");
    // The sell-out as the line saw it: from the last 201 to each waiting person's first status
    // that said so (negative: told before the last 201, which must not happen).
    std::vector<double> told_ms;
    for (Clock::time_point t : totals_.told_sold_out) {
      told_ms.push_back(
          std::chrono::duration<double, std::milli>(t - totals_.last_created).count());
    }
    std::sort(told_ms.begin(), told_ms.end());
    auto told = [&](double q) {
      return told_ms.empty() ? 0.0 : told_ms[static_cast<size_t>(q * (told_ms.size() - 1))];
    };
    std::ostringstream j;
    j << "{\"users\":" << arrived_ << ",\"seconds\":" << elapsed
      << ",\"connections\":" << o_.connections << ",\"reads\":" << totals_.reads
      << ",\"read_errors\":" << totals_.read_errors
      << ",\"read_503_retry_after\":" << totals_.read_retry_after
      << ",\"read_p50_ms\":" << totals_.read_latency.percentileMs(0.5)
      << ",\"read_p99_ms\":" << totals_.read_latency.percentileMs(0.99)
      << ",\"read_p999_ms\":" << totals_.read_latency.percentileMs(0.999)
      << ",\"bookings_created\":" << totals_.created
      << ",\"bookings_conflict\":" << totals_.conflicts << ",\"shed_503\":" << totals_.shed
      << ",\"gave_up\":" << totals_.gave_up << ",\"forbidden_403\":" << totals_.forbidden
      << ",\"tickets\":" << totals_.tickets << ",\"polls\":" << totals_.polls
      << ",\"failed_connections\":" << totals_.failed_connections
      << ",\"booking_p50_ms\":" << totals_.booking_latency.percentileMs(0.5)
      << ",\"booking_p99_ms\":" << totals_.booking_latency.percentileMs(0.99)
      << ",\"sold_out_told\":" << told_ms.size() << ",\"sold_out_told_before_last_201\":"
      << std::count_if(told_ms.begin(), told_ms.end(), [](double ms) { return ms < 0; })
      << ",\"sold_out_told_ms_p50\":" << told(0.5) << ",\"sold_out_told_ms_p99\":" << told(0.99)
      << ",\"sold_out_told_ms_max\":" << told(1.0)
      << ",\"turned_away_sold_out\":" << totals_.turned_away_sold_out
      << ",\"left_the_line\":" << totals_.left
      << ",\"admitted_after_waiting\":" << totals_.admitted_after_waiting
      << ",\"waited_p50_ms\":" << totals_.waited.percentileMs(0.5)
      << ",\"waited_p99_ms\":" << totals_.waited.percentileMs(0.99) << ",\"last_admitted_s\":"
      << (totals_.last_admitted == Clock::time_point{}
              ? 0.0
              : std::chrono::duration<double>(totals_.last_admitted - start_).count())
      << ",\"percentile_precision\":\"2% (log buckets)\"}";
    std::ofstream(o_.out + "/summary.json") << j.str() << '\n';
    std::ofstream(o_.out + "/timeline.csv")
        << "second,reads,read_errors_total,read_p99_ms,created_total,conflicts_total,shed_total,"
           "active,waiting\n"
        << timeline_.str();
    std::ofstream(o_.out + "/booked.txt") << booked_.str();
    // Latency histograms: bucket upper bound (ms) and count, non-empty buckets only.
    for (auto [name, h] : {std::pair{"read_latency.csv", &totals_.read_latency},
                           std::pair{"booking_latency.csv", &totals_.booking_latency}}) {
      std::ofstream csv(o_.out + "/" + name);
      csv << "upper_ms,count\n";
      for (int i = 0; i < Histogram::kBuckets; ++i) {
        if (h->counts[static_cast<size_t>(i)]) {
          csv << Histogram::bucketUpperMs(i) << ',' << h->counts[static_cast<size_t>(i)] << '\n';
        }
      }
    }
    std::printf("%s\n", j.str().c_str());
    return 0;
  }

  Options o_;
  std::vector<Region> regions_;
  std::vector<Clinic> clinics_;
  Zipf region_zipf_;
  std::mt19937_64 rng_;
  event_base* base_ = nullptr;
  event* tick_ = nullptr;
  Clock::time_point start_;
  std::deque<Clock::time_point> waiting_;
  int arrived_ = 0, active_ = 0;
  int64_t next_id_ = 1;
  double last_report_ = 0;
  uint64_t last_reads_ = 0;
  Totals totals_;
  Histogram second_reads_;
  std::ostringstream timeline_, booked_;
  std::string css_, js_;
};

// A scenario file: "key value" lines (# comments). Keys: users, connections, spike_seconds,
// seconds, think_ms, queue (0/1), closed (0/1), sources, full_retries, refusals, zipf_clinics.
// Command-line flags given after --scenario override it.
bool loadScenario(const std::string& path, Options& o) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string key;
    double v = 0;
    if (!(ls >> key >> v)) {
      std::fprintf(stderr, "surge-bench: %s:%d: expected \"key number\"\n", path.c_str(), n);
      return false;
    }
    if (key == "users")
      o.users = static_cast<int>(v);
    else if (key == "connections")
      o.connections = static_cast<int>(v);
    else if (key == "spike_seconds")
      o.spike_s = v;
    else if (key == "seconds")
      o.seconds = v;
    else if (key == "think_ms")
      o.think_ms = static_cast<int>(v);
    else if (key == "queue")
      o.queue = v != 0;
    else if (key == "closed")
      o.closed = v != 0;
    else if (key == "sources")
      o.sources = std::max(1, static_cast<int>(v));
    else if (key == "full_retries")
      o.full_retries = static_cast<int>(v);
    else if (key == "refusals")
      o.refusals = static_cast<int>(v);
    else if (key == "zipf_clinics")
      o.zipf_clinics = std::max<size_t>(1, static_cast<size_t>(v));
    else {
      std::fprintf(stderr, "surge-bench: %s:%d: unknown key %s\n", path.c_str(), n, key.c_str());
      return false;
    }
  }
  return true;
}

bool loadCatalog(const std::string& path, std::vector<Region>& regions,
                 std::vector<Clinic>& clinics) {
  std::ifstream in(path);
  if (!in) return false;
  std::map<std::string, size_t> region_index;
  std::map<int64_t, size_t> clinic_index;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ','))
      f.push_back(cell);
    if (f[0] == "region" && f.size() >= 4 && !f[3].empty()) {  // 시/군/구 only
      region_index[f[1]] = regions.size();
      regions.push_back({f[1], {}});
    } else if (f[0] == "clinic" && f.size() >= 6) {
      clinic_index[std::atoll(f[1].c_str())] = clinics.size();
      clinics.push_back({std::atoll(f[1].c_str()), {}});
      auto r = region_index.find(f[4]);
      if (r != region_index.end()) regions[r->second].clinics.push_back(clinics.size() - 1);
    } else if (f[0] == "slot" && f.size() >= 5) {
      auto c = clinic_index.find(std::atoll(f[1].c_str()));
      if (c != clinic_index.end()) clinics[c->second].slots.push_back({f[2], f[3]});
    } else if (f[0] == "slots" && f.size() >= 8) {
      // slots,CLINIC,FIRST_DATE,LAST_DATE,FIRST_TIME,LAST_TIME,EVERY_MINUTES,CAPACITY
      auto c = clinic_index.find(std::atoll(f[1].c_str()));
      if (c == clinic_index.end()) continue;
      auto day = [](const std::string& d) {
        using namespace std::chrono;
        return sys_days{year{std::atoi(d.substr(0, 4).c_str())} /
                        month{static_cast<unsigned>(std::atoi(d.substr(5, 2).c_str()))} /
                        std::atoi(d.substr(8, 2).c_str())};
      };
      auto minute = [](const std::string& t) {
        return std::atoi(t.substr(0, 2).c_str()) * 60 + std::atoi(t.substr(3, 2).c_str());
      };
      int every = std::max(1, std::atoi(f[6].c_str()));
      for (auto d = day(f[2]); d <= day(f[3]); d += std::chrono::days{1}) {
        std::chrono::year_month_day ymd{d};
        char date[32];
        std::snprintf(date, sizeof date, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                      static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
        for (int m = minute(f[4]); m <= minute(f[5]); m += every) {
          char time[24];
          std::snprintf(time, sizeof time, "%02d:%02d", m / 60, m % 60);
          clinics[c->second].slots.push_back({date, time});
        }
      }
    }
  }
  // Only clinics with slots can be booked: drop the others from their regions.
  for (Region& r : regions)
    std::erase_if(r.clinics, [&](size_t i) { return clinics[i].slots.empty(); });
  std::erase_if(regions, [](const Region& r) { return r.clinics.empty(); });
  return !regions.empty();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: surge-bench HOST:PORT[,HOST:PORT...] --catalog FILE [--users N] "
                 "[--connections N] [--spike-seconds S] [--seconds S] [--out DIR] [--queue]\n");
    return 2;
  }
  std::stringstream targets(argv[1]);
  for (std::string target; std::getline(targets, target, ',');) {
    size_t colon = target.rfind(':');
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::atoi(target.c_str() + colon + 1)));
    if (colon == std::string::npos ||
        inet_pton(AF_INET, target.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
      std::fprintf(stderr, "surge-bench: %s is not IPV4:PORT\n", target.c_str());
      return 2;
    }
    o.targets.push_back(addr);
  }
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--catalog")
      o.catalog = value();
    else if (a == "--users")
      o.users = std::atoi(value().c_str());
    else if (a == "--connections")
      o.connections = std::atoi(value().c_str());
    else if (a == "--spike-seconds")
      o.spike_s = std::atof(value().c_str());
    else if (a == "--seconds")
      o.seconds = std::atof(value().c_str());
    else if (a == "--out")
      o.out = value();
    else if (a == "--scenario") {
      if (!loadScenario(value(), o)) return 2;
    } else if (a == "--sources") {
      o.sources = std::max(1, std::atoi(value().c_str()));
    } else if (a == "--source-first") {
      in_addr first{};
      std::string v = value();
      if (inet_pton(AF_INET, v.c_str(), &first) != 1) {
        std::fprintf(stderr, "surge-bench: --source-first wants an IPv4 address, not \"%s\"\n",
                     v.c_str());
        return 2;
      }
      o.source_first = ntohl(first.s_addr);
    } else if (a == "--prefix")
      o.prefix = value();
    else if (a == "--closed")
      o.closed = true;
    else if (a == "--full-retries")
      o.full_retries = std::atoi(value().c_str());
    else if (a == "--think-ms")
      o.think_ms = std::atoi(value().c_str());
    else if (a == "--queue")
      o.queue = true;
    else if (a == "--leave")
      o.leave = std::atof(value().c_str());
    else {
      std::fprintf(stderr, "surge-bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  std::vector<Region> regions;
  std::vector<Clinic> clinics;
  if (!loadCatalog(o.catalog, regions, clinics)) {
    std::fprintf(stderr, "surge-bench: cannot read a catalog from %s\n", o.catalog.c_str());
    return 2;
  }
  std::string mk = "mkdir -p '" + o.out + "'";
  if (std::system(mk.c_str()) != 0) return 2;
  Bench bench(o, std::move(regions), std::move(clinics));
  return bench.run();
}
