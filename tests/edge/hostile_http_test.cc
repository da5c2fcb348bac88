// Hostile HTTP against a real surge-edge over raw sockets: request smuggling, bad-then-good
// pipelines, malformed heads, oversized parts, slow clients, traversal in every encoding,
// malicious Range headers, and requests that make origin fail. Every class is a row of
// tests/RELIABILITY.md.
#include <gtest/gtest.h>
#include <poll.h>

#include <cstring>

#include "edge_process.h"
#include "surge/testing/reliability.h"

namespace surge::edge::test {
namespace {

struct Exchange {
  std::string text;     // everything the edge sent
  bool closed = false;  // the edge closed the connection (EOF or reset) before `wait` ran out
  std::chrono::milliseconds elapsed{0};
};

// Reads until the edge closes or `wait` passes.
void readUntilClosed(int fd, Exchange& ex, std::chrono::milliseconds wait) {
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + wait;
  char buf[16384];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      ex.closed = true;
      break;
    }
    ex.text.append(buf, static_cast<size_t>(n));
  }
  ex.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
}

Exchange exchange(int port, const std::string& bytes,
                  std::chrono::milliseconds wait = std::chrono::milliseconds(3000)) {
  Exchange ex;
  int fd = testing::connectLoopback(port);
  if (fd < 0) return ex;
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the edge may close before reading everything: that is an answer too
    sent += static_cast<size_t>(n);
  }
  readUntilClosed(fd, ex, wait);
  ::close(fd);
  return ex;
}

int statusOf(const std::string& text) {
  if (text.rfind("HTTP/1.1 ", 0) != 0 || text.size() < 12) return -1;
  return std::atoi(text.c_str() + 9);
}

size_t countResponses(const std::string& text) {
  size_t n = 0;
  for (size_t at = text.find("HTTP/1.1 "); at != std::string::npos;
       at = text.find("HTTP/1.1 ", at + 1)) {
    if (at == 0 || text.compare(at - 2, 2, "\r\n") == 0) ++n;
  }
  return n;
}

std::string bookingRequest(const std::string& key) {
  std::string body = bookingBody(100001, origin::test::kFirstDate, "09:00", key);
  return "POST /api/v1/bookings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Idempotency-Key: " +
         key + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

struct BadRequest {
  std::string name;
  std::string bytes;
  std::vector<int> statuses;  // any of these is right
};

std::string post(const std::string& headers, const std::string& rest = "") {
  return "POST /api/v1/bookings HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n" + rest;
}
std::string get(const std::string& line_rest, const std::string& headers = "Host: x\r\n") {
  return "GET " + line_rest + "\r\n" + headers + "\r\n";
}
std::string withNul(std::string s, char marker = '@') {
  for (char& c : s)
    if (c == marker) c = '\0';
  return s;
}

// Each request must get one error answer and a closed connection; the good requests pipelined
// behind it (a booking and a health check) must never run.
void expectRefusedAndNothingBehindItRuns(EdgeProcess& edge, const std::string& area_name,
                                         const std::vector<BadRequest>& cases) {
  testing::ReliabilityRow row("hostile-http", area_name);
  int refused = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const BadRequest& c = cases[i];
    std::string smuggled = bookingRequest("smuggled-" + std::to_string(i)) +
                           "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    Exchange ex = exchange(edge.port(), c.bytes + smuggled);
    int status = statusOf(ex.text);
    bool right = std::find(c.statuses.begin(), c.statuses.end(), status) != c.statuses.end();
    EXPECT_TRUE(right) << c.name << ": got " << ex.text.substr(0, 200);
    EXPECT_TRUE(ex.closed) << c.name << ": the connection stayed open";
    EXPECT_EQ(countResponses(ex.text), 1u) << c.name << ": something behind it ran:\n" << ex.text;
    if (right && ex.closed && countResponses(ex.text) == 1) ++refused;
    row.tried();
  }
  row.count("refused and closed", refused);
  row.outcome("one 4xx/5xx JSON error, connection closed, pipelined requests never run");
}

class HostileHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    origin_ = new OriginProcess(origin::test::smallCatalog(10));
    edge_ = new EdgeProcess(*origin_,
                            "  client_header_timeout 1s;\n  client_body_timeout 1s;\n"
                            "  client_max_body_size 16k;\n");
    // A docroot with something worth stealing next to it: edge.conf sits one level above html/.
    writeFile(edge_->path("html/index.html"), "<p>home</p>\n");
    writeFile(edge_->path("html/a/b.txt"), "inside\n");
    std::string big;
    for (int i = 0; i < 10000; ++i)
      big += static_cast<char>('a' + i % 26);
    writeFile(edge_->path("html/big.bin"), big);
    std::filesystem::create_symlink(edge_->path("edge.conf"), edge_->path("html/link.conf"));
    std::filesystem::create_directory_symlink(edge_->path(""), edge_->path("html/up"));
  }
  static void TearDownTestSuite() {
    delete edge_;
    delete origin_;
  }
  void TearDown() override {
    // Whatever a test threw at it, the edge is still up and answering.
    EXPECT_EQ(edge_->get("/healthz").status, 200);
  }
  double forwarded() { return metric(edge_->metrics(), "surge_edge_origin_forwarded_total"); }

  static OriginProcess* origin_;
  static EdgeProcess* edge_;
};
OriginProcess* HostileHttpTest::origin_ = nullptr;
EdgeProcess* HostileHttpTest::edge_ = nullptr;

TEST_F(HostileHttpTest, SmugglingFormsAreRefusedAndNothingBehindThemRuns) {
  double before = forwarded();
  std::string chunked = "Transfer-Encoding: chunked\r\n";
  expectRefusedAndNothingBehindItRuns(
      *edge_, "request smuggling (CL/TE framing)",
      {
          {"CL+TE", post("Content-Length: 5\r\n" + chunked, "0\r\n\r\n"), {400}},
          {"TE+CL", post(chunked + "Content-Length: 5\r\n", "0\r\n\r\n"), {400}},
          {"duplicate CL, same", post("Content-Length: 2\r\nContent-Length: 2\r\n", "{}"), {400}},
          {"duplicate CL, differing",
           post("Content-Length: 2\r\nContent-Length: 40\r\n", "{}"),
           {400}},
          {"CL list", post("Content-Length: 2, 2\r\n", "{}"), {400}},
          {"signed CL +", post("Content-Length: +2\r\n", "{}"), {400}},
          {"signed CL -", post("Content-Length: -2\r\n", "{}"), {400}},
          {"hex CL", post("Content-Length: 0x2\r\n", "{}"), {400}},
          {"CL overflow", post("Content-Length: 184467440737095516170\r\n", "{}"), {400, 413}},
          {"control byte in CL",
           post("Content-Length: \x01"
                "2\r\n",
                "{}"),
           {400}},
          {"vertical tab in CL", post("Content-Length: 2\x0b\r\n", "{}"), {400}},
          {"control byte in TE",
           post("Transfer-Encoding: chunked\x01\r\n", "0\r\n\r\n"),
           {400, 501}},
          {"chunked, identity",
           post("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n"),
           {501}},
          {"identity, chunked",
           post("Transfer-Encoding: identity, chunked\r\n", "0\r\n\r\n"),
           {501}},
          {"obfuscated TE", post("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"), {501}},
          {"TE twice", post(chunked + chunked, "0\r\n\r\n"), {501}},
          {"TE with space before colon",
           post("Transfer-Encoding : chunked\r\n", "0\r\n\r\n"),
           {400}},
          {"TE on HTTP/1.0",
           "POST /api/v1/bookings HTTP/1.0\r\nHost: x\r\n" + chunked + "\r\n0\r\n\r\n",
           {400}},
          {"runaway chunk (more data than its size)",
           post(chunked, "5\r\n" + std::string(5000, 'x') + "\r\n0\r\n\r\n"),
           {400}},
          {"huge chunk size", post(chunked, "fffffffffff\r\n"), {413}},
          {"chunk size overflow", post(chunked, "1" + std::string(30, '0') + "\r\n"), {400, 413}},
          {"negative chunk size", post(chunked, "-1\r\n"), {400}},
          {"chunk size not hex", post(chunked, "zz\r\n"), {400}},
          {"chunked body over the limit",
           post(chunked, "4000\r\n" + std::string(0x4000, 'x') + "\r\n4000\r\n" +
                             std::string(0x4000, 'x') + "\r\n0\r\n\r\n"),
           {413}},
      });
  EXPECT_EQ(forwarded(), before) << "a smuggled booking reached origin";
}

TEST_F(HostileHttpTest, MalformedHeadsAreRefusedAndNothingBehindThemRuns) {
  double before = forwarded();
  expectRefusedAndNothingBehindItRuns(
      *edge_, "malformed head (space before colon, obs-fold, bare CR, NUL, controls, bad Host)",
      {
          {"space before colon", get("/ HTTP/1.1", "Host : x\r\n"), {400}},
          {"tab before colon", get("/ HTTP/1.1", "Host\t: x\r\n"), {400}},
          {"obs-fold", get("/ HTTP/1.1", "Host: x\r\nX-A: 1\r\n folded\r\n"), {400}},
          {"obs-fold with tab", get("/ HTTP/1.1", "Host: x\r\nX-A: 1\r\n\tfolded\r\n"), {400}},
          {"bare CR", get("/ HTTP/1.1", "Host: x\rX-A: 1\r\n"), {400}},
          {"NUL in a value", withNul(get("/ HTTP/1.1", "Host: x\r\nX-A: a@b\r\n")), {400}},
          {"NUL in a name", withNul(get("/ HTTP/1.1", "Host: x\r\nX@A: 1\r\n")), {400}},
          {"NUL in the target", withNul(get("/index.html@ HTTP/1.1")), {400}},
          {"DEL in a value", get("/ HTTP/1.1", "Host: x\r\nX-A: a\x7f\r\n"), {400}},
          {"escape byte in a value", get("/ HTTP/1.1", "Host: x\r\nX-A: \x1b[2J\r\n"), {400}},
          {"control byte in the target", get("/a\x01 HTTP/1.1"), {400}},
          {"8-bit byte in the target", get("/\xff HTTP/1.1"), {400}},
          {"space in the target", get("/a b HTTP/1.1"), {400}},
          {"header without colon", get("/ HTTP/1.1", "Host: x\r\nNoColon\r\n"), {400}},
          {"empty header name", get("/ HTTP/1.1", "Host: x\r\n: v\r\n"), {400}},
          {"no Host on 1.1", get("/ HTTP/1.1", ""), {400}},
          {"two Hosts", get("/ HTTP/1.1", "Host: a\r\nHost: b\r\n"), {400}},
          {"Host with a slash", get("/ HTTP/1.1", "Host: a/b\r\n"), {400}},
          {"Host with an empty label", get("/ HTTP/1.1", "Host: a..b\r\n"), {400}},
          {"empty Host", get("/ HTTP/1.1", "Host: \r\n"), {400}},
          {"absolute-form target with a bad host", get("http://../ HTTP/1.1"), {400}},
          {"no target", "GET  HTTP/1.1\r\nHost: x\r\n\r\n", {400}},
          {"line of spaces", "   \r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", {400}},
          {"binary garbage",
           std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
           {400}},
      });
  EXPECT_EQ(forwarded(), before);
}

TEST_F(HostileHttpTest, BadVersionsAndMethodsAreRefused) {
  expectRefusedAndNothingBehindItRuns(
      *edge_, "bad HTTP version or method",
      {
          {"HTTP/2.0", get("/ HTTP/2.0"), {505}},
          {"HTTP/1.2", get("/ HTTP/1.2"), {505}},
          {"HTTP/0.9 style", "GET /\r\n\r\n", {400}},
          {"HTTX/1.1", get("/ HTTX/1.1"), {400}},
          {"lower-case version", get("/ http/1.1"), {400}},
          {"version with spaces", get("/ HTTP/ 1.1"), {400}},
          {"version with extra digits", get("/ HTTP/1.10"), {400, 505}},
          {"separator in method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", {400}},
          {"8-bit method", "G\xc9T / HTTP/1.1\r\nHost: x\r\n\r\n", {400}},
          {"control byte in method", "G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n", {400}},
          {"empty method", " / HTTP/1.1\r\nHost: x\r\n\r\n", {400}},
      });
  // Well-formed but unknown methods are answered and the connection may stay usable.
  testing::ReliabilityRow row("hostile-http", "unknown or unsupported method (BREW, TRACE, ...)");
  const std::vector<std::string> methods = {"BREW",     "TRACE",  "CONNECT",
                                            "PROPFIND", "DELETE", std::string(10000, 'A')};
  for (const std::string& method : methods) {
    Exchange ex = exchange(edge_->port(), method +
                                              " /index.html HTTP/1.1\r\nHost: x\r\n"
                                              "Connection: close\r\n\r\n");
    int status = statusOf(ex.text);
    EXPECT_TRUE(status == 405 || status == 501 || status == 400)
        << method.substr(0, 20) << ": " << ex.text;
    row.tried();
  }
  row.outcome("405/501 with a JSON body, nothing served");
}

TEST_F(HostileHttpTest, OversizedPartsGetTheirOwnStatus) {
  double before = forwarded();
  std::string many_fields;
  for (int i = 0; i < 400; ++i)
    many_fields += "X-F" + std::to_string(i) + ": " + std::string(40, 'v') + "\r\n";
  expectRefusedAndNothingBehindItRuns(
      *edge_, "oversized request line, fields, head or body",
      {
          {"request line of 20 KB", get("/" + std::string(20000, 'a') + " HTTP/1.1"), {414}},
          {"one field of 20 KB",
           get("/ HTTP/1.1", "Host: x\r\nX: " + std::string(20000, 'b') + "\r\n"),
           {431}},
          {"400 fields", get("/ HTTP/1.1", "Host: x\r\n" + many_fields), {431}},
          {"cookie of 64 KB",
           get("/ HTTP/1.1", "Host: x\r\nCookie: " + std::string(65536, 'c') + "\r\n"),
           {431}},
          {"body over client_max_body_size",
           post("Content-Type: application/json\r\nContent-Length: 20000\r\n",
                std::string(20000, ' ')),
           {413}},
          {"announced body of 1 TB", post("Content-Length: 1099511627776\r\n"), {413}},
      });
  EXPECT_EQ(forwarded(), before);
}

TEST_F(HostileHttpTest, SlowHeadsAndSlowBodiesAreCutOff) {
  testing::ReliabilityRow row("hostile-http", "slow headers and slow bodies (slowloris)");
  double before = forwarded();
  // A head dribbled one byte every 200 ms: the 1 s head timeout counts from its first byte, so
  // steady trickling does not keep it alive.
  std::vector<std::thread> clients;
  std::atomic<int> cut{0};
  for (int kind = 0; kind < 2; ++kind) {
    for (int i = 0; i < 4; ++i) {
      clients.emplace_back([&, kind] {
        int fd = testing::connectLoopback(edge_->port());
        std::string head = kind == 0
                               ? std::string("GET /index.html HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                               : post(
                                     "Content-Type: application/json\r\n"
                                     "Content-Length: 100\r\n",
                                     "{\"clinic_id\":");
        (void)!::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
        auto start = std::chrono::steady_clock::now();
        bool closed = false;
        while (std::chrono::steady_clock::now() - start < 4s) {
          std::this_thread::sleep_for(200ms);
          if (::send(fd, "a", 1, MSG_NOSIGNAL) < 0) {
            closed = true;
            break;
          }
          pollfd p{fd, POLLIN, 0};
          if (::poll(&p, 1, 0) > 0) {
            char buf[512];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0 || std::string(buf, static_cast<size_t>(std::max<ssize_t>(n, 0)))
                                  .find("HTTP/1.1 408") == 0) {
              closed = true;
              break;
            }
          }
        }
        auto took = std::chrono::steady_clock::now() - start;
        ::close(fd);
        EXPECT_TRUE(closed) << (kind == 0 ? "slow head" : "slow body") << " was never cut off";
        EXPECT_LT(took, 3s);
        if (closed && took < 3s) ++cut;
      });
    }
  }
  for (auto& t : clients)
    t.join();
  row.tried(static_cast<long>(clients.size()));
  row.count("cut off within 3 s", cut.load());
  row.outcome("closed after client_header_timeout / client_body_timeout (1 s here)");
  EXPECT_EQ(forwarded(), before);  // a half-sent booking never reaches origin
}

TEST_F(HostileHttpTest, TraversalInEveryEncodingStaysInTheRoot) {
  testing::ReliabilityRow row("hostile-http", "path traversal (every encoding, symlinks)");
  const std::vector<std::string> targets = {
      "/../edge.conf",
      "/../../../../../../etc/passwd",
      "/%2e%2e/edge.conf",
      "/%2E%2E/edge.conf",
      "/.%2e/edge.conf",
      "/%2e./edge.conf",
      "/%252e%252e/edge.conf",
      "/%25252e%25252e/edge.conf",
      "/..%2fedge.conf",
      "/%2e%2e%2fedge.conf",
      "/..%2Fedge.conf",
      "/..%5cedge.conf",
      "/..\\edge.conf",
      "/%5c..%5cedge.conf",
      "/a/../../edge.conf",
      "/a/%2e%2e/%2e%2e/edge.conf",
      "/a/b.txt/../../../edge.conf",
      "/./../edge.conf",
      "//../edge.conf",
      "/a//..//..//edge.conf",
      "/%c0%ae%c0%ae/edge.conf",
      "/%c0%af../edge.conf",
      "/%e0%80%ae%e0%80%ae/edge.conf",
      "/..%00/edge.conf",
      "/index.html%00.txt",
      "/%00",
      "/..;/edge.conf",
      "/link.conf",
      "/up/edge.conf",
      "/up/html/../edge.conf",
      "/a/%2e%2e%2f%2e%2e%2fedge.conf",
      "/%2e%2e%u002fedge.conf",
      "/%",
      "/%zz",
  };
  int refused = 0;
  for (const std::string& target : targets) {
    Exchange ex = exchange(edge_->port(),
                           "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    int status = statusOf(ex.text);
    bool leaked = ex.text.find("surge_memcached") != std::string::npos ||
                  ex.text.find("root:x:") != std::string::npos;
    EXPECT_FALSE(leaked) << target;
    EXPECT_TRUE(status == 400 || status == 403 || status == 404) << target << ": " << status;
    if (!leaked && (status == 400 || status == 403 || status == 404)) ++refused;
    row.tried();
  }
  row.count("outside the root served", static_cast<long>(targets.size()) - refused);
  row.outcome("400/403/404; nothing outside the docroot is ever read");
  EXPECT_EQ(edge_->get("/a/b.txt").body, "inside\n");  // the root itself still works
}

TEST_F(HostileHttpTest, MaliciousRangesAreBoundedAndNeverCrash) {
  testing::ReliabilityRow row("hostile-http", "malicious Range (overlapping, huge, overflowing)");
  std::string many_tiny = "bytes=0-0";
  for (int i = 1; i < 600; ++i)  // ~6 KB: inside the 8 KB head limit
    many_tiny += "," + std::to_string(i * 3) + "-" + std::to_string(i * 3);
  std::string overlapping = "bytes=0-";
  for (int i = 0; i < 500; ++i)
    overlapping += ",0-";
  const std::vector<std::string> ranges = {
      many_tiny,
      overlapping,
      "bytes=0-9999,0-9999,0-9999",
      "bytes=0-99999999999999999999999999",
      "bytes=99999999999999999999-",
      "bytes=-99999999999999999999999",
      "bytes=18446744073709551615-18446744073709551615",
      "bytes=18446744073709551614-",
      "bytes=-18446744073709551615",
      "bytes=9223372036854775807-9223372036854775808",
      "bytes=5-2",
      "bytes=--1",
      "bytes=0x10-0x20",
      "bytes=1-2-3",
      "bytes=-0",
      "bytes=10000-",
      "bytes=,,,,,,,,,,,,,,,,,,,,,,,,,",
      "bytes= 0 - 1 ",
      "items=0-1",
      "bytes=0-1;evil",
  };
  int bounded = 0;
  for (const std::string& range : ranges) {
    Exchange ex = exchange(edge_->port(), "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: " + range +
                                              "\r\nConnection: close\r\n\r\n");
    int status = statusOf(ex.text);
    bool ok_status = status == 200 || status == 206 || status == 416;
    // Never more than the file and its headers, once: no amplification.
    bool small = ex.text.size() < 10000 + 4096;
    EXPECT_TRUE(ok_status) << range.substr(0, 60) << ": " << ex.text.substr(0, 200);
    EXPECT_TRUE(small) << range.substr(0, 60) << ": " << ex.text.size() << " bytes";
    if (ok_status && small) ++bounded;
    row.tried();
  }
  row.count("answers larger than the file", static_cast<long>(ranges.size()) - bounded);
  row.outcome("206, 200 (whole file once) or 416; never more bytes than the file");
}

TEST_F(HostileHttpTest, RequestsThatMakeOriginFailDoNotSpoilAnswersForOthers) {
  testing::ReliabilityRow row("hostile-http",
                              "request that makes origin fail is not a cached error for others");
  // Snapshots: a cold key requested first with hostile headers; the next plain request still
  // gets the real snapshot.
  const std::vector<std::vector<std::pair<std::string, std::string>>> hostile = {
      {{"Accept-Encoding", "zstd;q=abc, gzip;q=-1, *;q=9999"}},
      {{"If-None-Match", "*"}},
      {{"If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT garbage"}},
      {{"Range", "bytes=0-0"}},
      {{"Cache-Control", "no-cache, max-age=-1"}},
      {{"Cookie", std::string(4000, 'c')}},
  };
  int clean = 0;
  for (size_t i = 0; i < hostile.size(); ++i) {
    std::string target = "/api/v1/clinics/" + std::to_string(100002 + i);
    HttpResponse first = edge_->get(target, hostile[i]);
    EXPECT_LT(first.status, 500) << target;
    HttpResponse plain = waitFor200(*edge_, target);
    EXPECT_EQ(plain.status, 200) << target;
    EXPECT_NE(plain.body.find("\"id\":" + std::to_string(100002 + i)), std::string::npos) << target;
    if (plain.status == 200) ++clean;
    row.tried();
  }
  // Bookings: a request origin refuses (bad media type, bad JSON, bad Idempotency-Key) leaves
  // the next caller with the same slot unaffected: nothing is cached on the write path.
  const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>
      failing = {
          {"{\"clinic_id\":", {{"Idempotency-Key", "bad-json"}}},
          {bookingBody(100001, origin::test::kFirstDate, "10:00", "ct"),
           {{"Idempotency-Key", "bad-ct"}, {"Content-Type", "text/evil"}}},
          {bookingBody(100001, origin::test::kFirstDate, "10:00", "ik"),
           {{"Idempotency-Key", std::string(400, 'k')}}},
      };
  for (const auto& [body, headers] : failing) {
    HttpClient client("127.0.0.1", edge_->port(), 5000ms);
    auto bad = client.request("POST", "/api/v1/bookings", headers, body);
    ASSERT_TRUE(bad.ok());
    EXPECT_GE(bad->status, 400);
    EXPECT_LT(bad->status, 500) << bad->body;
    row.tried();
  }
  HttpResponse good = edge_->post(
      "/api/v1/bookings", bookingBody(100001, origin::test::kFirstDate, "10:00", "after-bad"),
      {{"Idempotency-Key", "after-bad"}});
  EXPECT_EQ(good.status, 201) << good.body;
  if (good.status == 201) clean += static_cast<int>(failing.size());
  row.count("later requests spoiled", static_cast<long>(hostile.size() + failing.size()) - clean);
  row.outcome("each hostile request answered on its own; the next caller gets the real answer");
}

}  // namespace
}  // namespace surge::edge::test
