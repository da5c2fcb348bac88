// booking-load: a closed-loop HTTP/1.1 load driver for POST /api/v1/bookings, lighter than
// wrk + Lua so that more of a shared 2-core machine is left to the server under test. Each
// connection keeps one request in flight; every request is a new person and Idempotency-Key on a
// uniformly chosen slot of a generated catalog (clinics from 100001, 14 days from 2099-12-01,
// half-hour slots 09:00-17:30).
//
//   booking-load HOST:PORT [--connections 256] [--threads 2] [--seconds 10] [--clinics 2000]
//
// Prints requests/s of 201 answers and of all answers, every status seen, 503s without a
// Retry-After, connection errors, and latency percentiles from a log-bucketed histogram (buckets 2%
// wide, so percentiles are within 2%) plus the slowest answer.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "log_histogram.h"
#include "surge/http/request_parser.h"
#include "surge/http/response_head.h"

namespace {

namespace http = surge::http;

using Clock = std::chrono::steady_clock;

using Histogram = surge::bench::LogHistogram;

struct Options {
  sockaddr_in addr{};
  std::string host;
  int connections = 256;
  int threads = 2;
  int seconds = 10;
  int clinics = 2000;
};

struct Connection {
  int fd = -1;
  std::string out;
  size_t sent = 0;
  std::string in;
  Clock::time_point started;
};

struct ThreadResult {
  Histogram latency;
  std::map<int, uint64_t> statuses;
  uint64_t errors = 0;
  uint64_t shed_without_retry_after = 0;  // 503s that do not say when to come back
  double max_us = 0;
};

int connectTo(const sockaddr_in& addr) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int flags = 1;
  ::ioctl(fd, FIONBIO, &flags);
  return fd;
}

void run(const Options& o, int thread, int connections, Clock::time_point end, ThreadResult& r) {
  std::mt19937_64 rng(
      static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) +
      static_cast<uint64_t>(thread) * 7919);
  std::string run_id = std::to_string(rng() % 1000000000);
  uint64_t counter = 0;
  int ep = ::epoll_create1(0);
  std::vector<Connection> conns(static_cast<size_t>(connections));
  auto next = [&](Connection& c) {
    char body[160];
    int clinic = 100001 + static_cast<int>(rng() % static_cast<uint64_t>(o.clinics));
    int day = 1 + static_cast<int>(rng() % 14);
    int slot = static_cast<int>(rng() % 18);
    ++counter;
    int n = std::snprintf(body, sizeof body,
                          "{\"clinic_id\":%d,\"date\":\"2099-12-%02d\",\"time\":\"%02d:%s\","
                          "\"person_id\":\"L%s-%d-%llu\"}",
                          clinic, day, 9 + slot / 2, slot % 2 ? "30" : "00", run_id.c_str(), thread,
                          static_cast<unsigned long long>(counter));
    char head[256];
    int h = std::snprintf(head, sizeof head,
                          "POST /api/v1/bookings HTTP/1.1\r\nHost: %s\r\nContent-Type: "
                          "application/json\r\nIdempotency-Key: L%s-%d-%llu\r\nContent-Length: "
                          "%d\r\n\r\n",
                          o.host.c_str(), run_id.c_str(), thread,
                          static_cast<unsigned long long>(counter), n);
    c.out.assign(head, static_cast<size_t>(h));
    c.out.append(body, static_cast<size_t>(n));
    c.sent = 0;
    c.in.clear();
    c.started = Clock::now();
  };
  auto write = [&](Connection& c) {
    while (c.sent < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      c.sent += static_cast<size_t>(n);
    }
  };
  for (size_t i = 0; i < conns.size(); ++i) {
    conns[i].fd = connectTo(o.addr);
    if (conns[i].fd < 0) {
      ++r.errors;
      continue;
    }
    epoll_event ev{EPOLLIN, {.u64 = i}};
    ::epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    next(conns[i]);
    write(conns[i]);
  }
  std::vector<epoll_event> events(512);
  char buf[16384];
  while (Clock::now() < end) {
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int k = 0; k < n; ++k) {
      Connection& c = conns[events[static_cast<size_t>(k)].data.u64];
      ssize_t got = ::recv(c.fd, buf, sizeof buf, 0);
      if (got <= 0) {
        if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          ++r.errors;
          ::close(c.fd);
          c.fd = -1;
        }
        continue;
      }
      c.in.append(buf, static_cast<size_t>(got));
      http::ResponseHead head;
      int parsed = http::parseResponseHead(c.in, head);
      if (parsed == 0) continue;
      if (parsed < 0) {
        ++r.errors;
        ::close(c.fd);
        c.fd = -1;
        continue;
      }
      if (c.in.size() < head.header_bytes + head.content_length.value_or(0)) continue;
      int status = head.status;
      r.statuses[status]++;
      if (status == 503 && std::none_of(head.fields.begin(), head.fields.end(), [](const auto& f) {
            return http::equalsIgnoreCase(f.first, "Retry-After");
          })) {
        ++r.shed_without_retry_after;
      }
      double us = std::chrono::duration<double, std::micro>(Clock::now() - c.started).count();
      r.latency.add(us);
      if (us > r.max_us) r.max_us = us;
      next(c);
      write(c);
    }
  }
  for (auto& c : conns) {
    if (c.fd >= 0) ::close(c.fd);
  }
  ::close(ep);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: booking-load HOST:PORT [--connections N] [--threads N] "
                 "[--seconds N] [--clinics N]\n");
    return 2;
  }
  Options o;
  std::string target = argv[1];
  size_t colon = target.rfind(':');
  o.host = target;
  o.addr.sin_family = AF_INET;
  o.addr.sin_port = htons(static_cast<uint16_t>(std::atoi(target.c_str() + colon + 1)));
  if (colon == std::string::npos ||
      inet_pton(AF_INET, target.substr(0, colon).c_str(), &o.addr.sin_addr) != 1) {
    std::fprintf(stderr, "booking-load: HOST must be an IPv4 address on this machine\n");
    return 2;
  }
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (a == "--connections")
      o.connections = v;
    else if (a == "--threads")
      o.threads = v;
    else if (a == "--seconds")
      o.seconds = v;
    else if (a == "--clinics")
      o.clinics = v;
  }
  if (o.connections < 1 || o.threads < 1 || o.seconds < 1 || o.seconds > 600 || o.clinics < 1) {
    std::fprintf(stderr, "booking-load: bad options\n");
    return 2;
  }
  auto start = Clock::now();
  auto end = start + std::chrono::seconds(o.seconds);
  std::vector<ThreadResult> results(static_cast<size_t>(o.threads));
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    int share = o.connections / o.threads + (t < o.connections % o.threads ? 1 : 0);
    threads.emplace_back(run, std::cref(o), t, share, end,
                         std::ref(results[static_cast<size_t>(t)]));
  }
  for (auto& t : threads)
    t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ThreadResult total;
  for (auto& r : results) {
    total.latency.merge(r.latency);
    for (auto& [s, n] : r.statuses)
      total.statuses[s] += n;
    total.errors += r.errors;
    total.shed_without_retry_after += r.shed_without_retry_after;
    if (r.max_us > total.max_us) total.max_us = r.max_us;
  }
  uint64_t answers = 0;
  for (auto& [s, n] : total.statuses)
    answers += n;
  std::printf("created/s %.0f\n", static_cast<double>(total.statuses[201]) / elapsed);
  for (auto& [s, n] : total.statuses)
    std::printf("status %d %llu\n", s, static_cast<unsigned long long>(n));
  std::printf("errors %llu\n", static_cast<unsigned long long>(total.errors));
  std::printf("answers/s %.0f\n", static_cast<double>(answers) / elapsed);
  std::printf("503_without_retry_after %llu\n",
              static_cast<unsigned long long>(total.shed_without_retry_after));
  std::printf("p50_ms %.2f\np99_ms %.2f\nmax_ms %.2f\n", total.latency.percentileMs(0.5),
              total.latency.percentileMs(0.99), total.max_us / 1000);
  return 0;
}
