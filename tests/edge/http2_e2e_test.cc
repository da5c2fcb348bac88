// HTTP/2 on a real surge-edge (issue 20): every kind of location over h2 (TLS, ALPN) and h2c
// (prior knowledge), checked with the stock clients (curl --http2, nghttp, h2load); and each
// defence attacked with frames written by hand, its counter read from /metrics, and the edge
// still answering another client afterwards. (Rates during the attacks are measured by
// bench/h2-attacks, not here: timed assertions do not belong in tests.)
#include <gtest/gtest.h>

#include <thread>

#include "command.h"
#include "edge_process.h"
#include "h2_wire.h"
#include "surge/testing/http_recorder.h"

namespace surge::edge::test {
namespace {

using h2::RawConnection;

std::string bigBody(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i)
    s[i] = static_cast<char>('a' + (i * 7 + i / 1000) % 26);
  return s;
}

class Http2E2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_);
    makeCertificate(dir_, "h2.surge.test");
    tls_port_ = testing::freeLoopbackPort();
    start("");
  }
  void TearDown() override {
    edge_.reset();
    std::filesystem::remove_all(dir_);
  }
  // An edge whose plain port takes h2c and whose TLS port offers h2, with `extra` in its server.
  void start(const std::string& extra, int upstream_port = 0) {
    edge_.reset();
    edge_ = std::make_unique<EdgeProcess>(
        origin_, "  send_timeout 2s;\n  client_header_timeout 2s;\n  client_body_timeout 2s;\n",
        "    http2 on;\n    listen 127.0.0.1:" + std::to_string(tls_port_) +
            " ssl;\n    ssl_certificate " + dir_ + "/cert.pem;\n    ssl_certificate_key " + dir_ +
            "/key.pem;\n    location /slow/ { proxy_pass http://origin; }\n" + extra,
        upstream_port);
    ASSERT_TRUE(testing::waitForPort(tls_port_, 5s)) << edge_->log();
    writeFile(edge_->path("html/small.txt"), "small\n");
    writeFile(edge_->path("html/big.bin"), big_);
  }
  std::string https(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(tls_port_) + path;
  }
  std::string h2c(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(edge_->port()) + path;
  }
  std::string curl(const std::string& args) const {
    return "curl -sS --max-time 20 --cacert " + dir_ + "/cert.pem " + args;
  }
  // After an attack: the edge still answers a well-behaved HTTP/2 client.
  void othersAreServed() {
    Command c = run(
        curl("--http2-prior-knowledge -w ' %{http_version} %{http_code}' " + h2c("/small.txt")));
    EXPECT_EQ(c.output, "small\n 2 200");
  }

  OriginProcess origin_{origin::test::smallCatalog()};
  std::string dir_ = (std::filesystem::temp_directory_path() /
                      ("surge-h2-" + std::to_string(::getpid()) + "-" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                         .string();
  int tls_port_ = 0;
  const std::string big_ = bigBody(3u << 20);
  std::unique_ptr<EdgeProcess> edge_;
};

TEST_F(Http2E2ETest, EveryKindOfLocationAnswersOverH2AsOverHttp11) {
  ASSERT_EQ(waitFor200(*edge_, "/api/v1/clinics/100001").status, 200);
  const std::string snapshot = edge_->get("/api/v1/clinics/100001").body;

  // TLS: ALPN picks h2; several streams on one connection; the large file under flow control.
  Command c =
      run(curl("--http2 -o " + dir_ + "/snap.out -o " + dir_ + "/small.out -o " + dir_ +
               "/big.out -w '%{http_version} %{http_code} ' " + https("/api/v1/clinics/100001") +
               " " + https("/small.txt") + " " + https("/big.bin") + " -v"));
  EXPECT_EQ(c.exit, 0) << c.output;
  EXPECT_NE(c.output.find("ALPN: server accepted h2"), std::string::npos) << c.output;
  EXPECT_NE(c.output.find("2 200 2 200 2 200"), std::string::npos) << c.output;
  EXPECT_EQ(readFile(dir_ + "/snap.out"), snapshot);
  EXPECT_EQ(readFile(dir_ + "/small.out"), "small\n");
  EXPECT_EQ(readFile(dir_ + "/big.out"), big_);

  // h2c with prior knowledge on the plain port, which still speaks HTTP/1.1 to everyone else.
  Command plain = run(curl("--http2-prior-knowledge -o " + dir_ +
                           "/big2.out -w '%{http_version}' " + h2c("/big.bin")));
  EXPECT_EQ(plain.output, "2");
  EXPECT_EQ(readFile(dir_ + "/big2.out"), big_);
  EXPECT_EQ(edge_->get("/small.txt").body, "small\n");

  // HEAD, Range, conditional, an encoded snapshot: the same answers as HTTP/1.1 gives.
  Command head = run(curl("--http2-prior-knowledge -I " + h2c("/big.bin")));
  EXPECT_NE(head.output.find("content-length: " + std::to_string(big_.size())), std::string::npos)
      << head.output;
  Command range = run(curl(
      "--http2-prior-knowledge -H 'Range: bytes=1000-1009' -w ' %{http_code}' " + h2c("/big.bin")));
  EXPECT_EQ(range.output, big_.substr(1000, 10) + " 206");
  const std::string etag = edge_->get("/small.txt").header("etag");
  Command cond = run(curl("--http2-prior-knowledge -H 'If-None-Match: " + etag +
                          "' -o /dev/null -w '%{http_code}' " + h2c("/small.txt")));
  EXPECT_EQ(cond.output, "304");
  Command zstd = run(curl("--http2 -H 'Accept-Encoding: zstd' -D - -o " + dir_ + "/snap.zst " +
                          https("/api/v1/clinics/100001")));
  EXPECT_NE(zstd.output.find("content-encoding: zstd"), std::string::npos) << zstd.output;
  EXPECT_EQ(run("zstd -dc " + dir_ + "/snap.zst").output, snapshot);

  // A booking forwarded to origin over the HTTP/1.1 pool.
  Command booking =
      run(curl("--http2 -w ' %{http_code}' -H 'Content-Type: application/json' "
               "-H 'Idempotency-Key: h2-1' --data '" +
               bookingBody(100001, origin::test::kFirstDate, "09:00", "h2-person") + "' " +
               https("/api/v1/bookings")));
  EXPECT_NE(booking.output.find(" 201"), std::string::npos) << booking.output;

  // nghttp and h2load, the nghttp2 project's own clients.
  Command nghttp = run("timeout 20 nghttp -ns " + h2c("/small.txt") + " " + h2c("/big.bin"));
  EXPECT_EQ(nghttp.exit, 0) << nghttp.output;
  Command load = run("timeout 60 h2load -n 2000 -c 10 -m 20 " + h2c("/api/v1/clinics/100001"));
  EXPECT_NE(load.output.find("2000 succeeded, 0 failed, 0 errored"), std::string::npos)
      << load.output;

  const std::string m = edge_->metrics();
  EXPECT_GE(metric(m, "surge_edge_requests_by_protocol_total{protocol=\"HTTP/2.0\"}"), 2000u) << m;
  EXPECT_GE(metric(m, "surge_edge_http2_connections_total"), 10u) << m;
  EXPECT_EQ(metric(m, "surge_edge_http2_streams_open"), 0u);
  // $server_protocol in the access log.
  EXPECT_NE(readFile(edge_->path("access.log")).find("\"GET /small.txt HTTP/2.0\""),
            std::string::npos);
}

// $request_length as nginx's: over HTTP/2 the header block's payload (HEADERS and its
// CONTINUATIONs) and the DATA's; over HTTP/1.1 the request's bytes as sent.
TEST_F(Http2E2ETest, RequestLengthAndBodyAreWhatTheRequestSent) {
  start(
      "    location = /rl { return 200 $request_length; }\n"
      "    location = /rb { return 200 \"[$request_body]\"; }\n");
  RawConnection c(edge_->port());
  const std::string block = h2::requestBlock("GET", "/rl", {{"x-a", "bc"}});
  const std::string head = block.substr(0, 10), rest = block.substr(10);
  ASSERT_TRUE(c.send(h2::preface() + h2::get(1, "/rl") +
                     h2::frame(h2::kHeaders, h2::kEndStream, 3, head) +
                     h2::frame(h2::kContinuation, h2::kEndHeaders, 3, rest)));
  auto one = c.until(h2::kData, 5s, 1);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->payload, std::to_string(h2::requestBlock("GET", "/rl").size()));
  auto three = c.until(h2::kData, 5s, 3);
  ASSERT_TRUE(three);
  EXPECT_EQ(three->payload, std::to_string(block.size()));
  const std::string host = "127.0.0.1:" + std::to_string(edge_->port());
  Command h1 = run(curl("-H 'User-Agent:' -H 'Accept:' http://" + host + "/rl"));
  EXPECT_EQ(h1.output, std::to_string(("GET /rl HTTP/1.1\r\nHost: " + host + "\r\n\r\n").size()));
  // $request_body: the body as read, over both protocols.
  EXPECT_EQ(run(curl("--data abc http://" + host + "/rb")).output, "[abc]");
  EXPECT_EQ(run(curl("--http2-prior-knowledge --data xyz http://" + host + "/rb")).output, "[xyz]");
}

// client_max_body_size per location, over both protocols: a larger body is 413 (its error page
// may answer), a location with a larger limit takes it.
TEST_F(Http2E2ETest, ClientMaxBodySizeIsTheLocations) {
  start(
      "    location = /tiny { client_max_body_size 10; error_page 413 /too-big.txt; "
      "return 200 \"[$request_body]\"; }\n"
      "    location = /too-big.txt { }\n"
      "    location = /wide { client_max_body_size 100k; return 200 \"$request_length\"; }\n");
  writeFile(edge_->path("html/too-big.txt"), "too big\n");
  writeFile(edge_->path("html/body.bin"), std::string(50000, 'b'));
  const std::string url = "http://127.0.0.1:" + std::to_string(edge_->port());
  for (const std::string proto : {"", "--http2-prior-knowledge "}) {
    SCOPED_TRACE(proto);
    EXPECT_EQ(run(curl(proto + "--data 0123456789 " + url + "/tiny")).output, "[0123456789]");
    EXPECT_EQ(run(curl(proto + "-w ' %{http_code}' --data 0123456789x " + url + "/tiny")).output,
              "too big\n 413");
    // 50,000 bytes: within /wide's own limit.
    EXPECT_EQ(run(curl(proto + "-o /dev/null -w '%{http_code}' --data-binary @" +
                       edge_->path("html/body.bin") + " " + url + "/wide"))
                  .output,
              "200");
  }
}

// add_trailer: fields after the body, over HTTP/2 in the stream's last HEADERS and over HTTP/1.1
// in the chunked coding's trailer section; none to HTTP/1.0, to HEAD, without a body, or for a
// status add_header does not take.
TEST_F(Http2E2ETest, TrailersFollowTheBodyOverBothProtocols) {
  testing::HttpRecorder upstream;
  upstream.respond([](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nup");
  });
  start(
      "    location = /small.txt { add_trailer X-Check \"c-$uri\"; add_trailer X-None \"\"; }\n"
      "    location = /empty.txt { add_trailer X-Check e; }\n"
      "    location = /gone { add_trailer X-Check g; return 404; }\n"
      "    location /up/ { add_trailer X-Check \"p-$uri\"; access_log off; proxy_pass "
      "http://origin; }\n",
      upstream.port());
  writeFile(edge_->path("html/empty.txt"), "");
  RawConnection c(edge_->port());
  ASSERT_TRUE(c.send(h2::preface() + h2::get(1, "/small.txt") + h2::get(3, "/empty.txt") +
                     h2::get(5, "/gone")));
  std::map<uint32_t, std::vector<std::pair<uint8_t, uint8_t>>> frames;  // type, flags
  std::set<uint32_t> ended;
  while (ended.size() < 3) {
    auto f = c.next(10s);
    ASSERT_TRUE(f) << "answers missing: " << ended.size();
    if (f->type != h2::kHeaders && f->type != h2::kData) continue;
    frames[f->stream].emplace_back(f->type, f->flags);
    if (f->flags & h2::kEndStream) ended.insert(f->stream);
  }
  using F = std::vector<std::pair<uint8_t, uint8_t>>;
  // HEADERS, DATA (not the end), then the trailers' HEADERS ending the stream.
  EXPECT_EQ(frames[1], (F{{h2::kHeaders, h2::kEndHeaders},
                          {h2::kData, 0},
                          {h2::kHeaders, h2::kEndHeaders | h2::kEndStream}}));
  EXPECT_EQ(c.headers[1]["x-check"], "c-/small.txt");
  EXPECT_EQ(c.headers[1].count("x-none"), 0u);
  // An empty file: no DATA at all, the trailers end the stream.
  EXPECT_EQ(frames[3],
            (F{{h2::kHeaders, h2::kEndHeaders}, {h2::kHeaders, h2::kEndHeaders | h2::kEndStream}}));
  EXPECT_EQ(c.headers[3]["x-check"], "e");
  EXPECT_EQ(c.headers[5].count("x-check"), 0u);  // 404: add_header's statuses only

  const std::string url = "http://127.0.0.1:" + std::to_string(edge_->port());
  Command h11 = run(curl("--raw -i " + url + "/small.txt"));
  EXPECT_NE(h11.output.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << h11.output;
  EXPECT_EQ(h11.output.find("Content-Length"), std::string::npos) << h11.output;
  EXPECT_TRUE(h11.output.ends_with("\r\n\r\n6\r\nsmall\n\r\n0\r\nX-Check: c-/small.txt\r\n\r\n"))
      << h11.output;
  Command empty = run(curl("--raw -i " + url + "/empty.txt"));
  EXPECT_TRUE(empty.output.ends_with("\r\n\r\n0\r\nX-Check: e\r\n\r\n")) << empty.output;
  Command h10 = run(curl("-0 --raw -i " + url + "/small.txt"));
  EXPECT_NE(h10.output.find("Content-Length: 6\r\n"), std::string::npos) << h10.output;
  EXPECT_TRUE(h10.output.ends_with("\r\n\r\nsmall\n")) << h10.output;
  Command head = run(curl("-I " + url + "/small.txt"));
  EXPECT_NE(head.output.find("Content-Length: 6\r\n"), std::string::npos) << head.output;
  // An answer from origin (given later, from the exchange's copy) takes them too.
  Command proxied = run(curl("--raw -i " + url + "/up/x"));
  EXPECT_TRUE(proxied.output.ends_with("\r\n\r\n2\r\nup\r\n0\r\nX-Check: p-/up/x\r\n\r\n"))
      << proxied.output;
  // The connection goes on after a chunked answer: two on one.
  Command two = run(curl("-s -o /dev/null -o /dev/null -w '%{num_connects}' " + url +
                         "/small.txt " + url + "/small.txt"));
  EXPECT_EQ(two.output, "10");
}

TEST_F(Http2E2ETest, AStreamWhoseOriginFailsSpoilsNoOther) {
  testing::HttpRecorder upstream;
  upstream.respond([](const std::string&) {
    return std::string("HTTP/1.1 500 Broken\r\nContent-Length: 6\r\n\r\nbroken");
  });
  start("", upstream.port());
  RawConnection c(edge_->port());
  ASSERT_TRUE(c.send(h2::preface() + h2::get(1, "/slow/x") + h2::get(3, "/small.txt") +
                     h2::get(5, "/slow/y") + h2::get(7, "/big.bin")));
  std::map<uint32_t, size_t> data;
  std::set<uint32_t> ended;
  while (ended.size() < 4) {
    auto f = c.next(10s);
    ASSERT_TRUE(f) << "answers missing: " << ended.size();
    if (f->type == h2::kData) data[f->stream] += f->payload.size();
    if ((f->type == h2::kData || f->type == h2::kHeaders) && (f->flags & h2::kEndStream))
      ended.insert(f->stream);
    if (f->type == h2::kData)
      c.send(h2::frame(h2::kWindowUpdate, 0, 0, h2::u32(f->payload.size())) +
             h2::frame(h2::kWindowUpdate, 0, f->stream, h2::u32(f->payload.size())));
  }
  // The failing ones get the edge's answer to a failing origin (a 5xx), each on its own stream.
  EXPECT_EQ(c.headers[1][":status"].substr(0, 1), "5");
  EXPECT_EQ(c.headers[3][":status"], "200");
  EXPECT_EQ(c.headers[5][":status"].substr(0, 1), "5");
  EXPECT_EQ(c.headers[7][":status"], "200");
  EXPECT_EQ(data[3], 6u);
  EXPECT_EQ(data[7], big_.size());
}

// A backend written by hand for proxy_request_buffering off: it sees each byte of a request as
// the edge sends it, and answers when the test says.
class HandBackend {
 public:
  HandBackend() : listener_(testing::listenLoopback(port_)) {}
  ~HandBackend() {
    if (conn_ >= 0) ::close(conn_);
    ::close(listener_);
  }
  int port() const { return port_; }
  // The next connection from the edge, within 5 s.
  bool accept() {
    if (conn_ >= 0) ::close(conn_);
    pollfd p{listener_, POLLIN, 0};
    conn_ = ::poll(&p, 1, 5000) == 1 ? ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC) : -1;
    return conn_ >= 0;
  }
  // What the edge sent until `bytes` of it have come (or it stopped sending for `quiet`): the
  // edge's pieces as they arrived.
  std::string read(size_t bytes, std::chrono::milliseconds quiet = 5s) {
    std::string got;
    while (got.size() < bytes) {
      pollfd p{conn_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(quiet.count())) != 1) break;
      char buf[16384];
      ssize_t n = ::recv(conn_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }
  // The head of the request (through its blank line).
  std::string head() {
    std::string h;
    while (h.find("\r\n\r\n") == std::string::npos) {
      std::string more = read(1);
      if (more.empty()) break;
      h += more;
    }
    return h;
  }
  bool closed() const { return closed_; }
  void answer(std::string_view text) {
    ::send(conn_, text.data(), text.size(), MSG_NOSIGNAL);
    ::close(conn_);
    conn_ = -1;
  }

 private:
  int port_ = 0;
  int listener_;
  int conn_ = -1;
  bool closed_ = false;
};

// proxy_request_buffering off (nginx's h2_proxy_request_buffering.t): the upstream gets the
// request's head when its HEADERS come and the body as its DATA frames come, with the length
// the client announced, or chunked (a chunk per read, as nginx sends a chunk per buffer) when it
// announced none. A client that resets the stream mid-body cuts the upstream's request off.
TEST_F(Http2E2ETest, UnbufferedBodiesReachTheUpstreamAsTheyCome) {
  HandBackend backend;
  start("    location /up/ { proxy_request_buffering off; proxy_pass http://127.0.0.1:" +
        std::to_string(backend.port()) + "; }\n");
  RawConnection c(edge_->port());
  auto post = [](uint32_t stream, std::vector<std::pair<std::string, std::string>> fields) {
    return h2::frame(h2::kHeaders, h2::kEndHeaders, stream,
                     h2::requestBlock("POST", "/up/x", fields));
  };
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

  // Content-Length: the head before any DATA, each piece when it comes.
  ASSERT_TRUE(c.send(h2::preface() + post(1, {{"content-length", "10"}})));
  ASSERT_TRUE(backend.accept());
  std::string head = backend.head();
  EXPECT_NE(head.find("\r\nContent-Length: 10\r\n"), std::string::npos) << head;
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;  // nothing of the body yet
  ASSERT_TRUE(c.send(h2::frame(h2::kData, 0, 1, "01234")));
  EXPECT_EQ(backend.read(5), "01234");
  ASSERT_TRUE(c.send(h2::frame(h2::kData, h2::kEndStream, 1, "56789")));
  EXPECT_EQ(backend.read(5), "56789");
  backend.answer(ok);
  ASSERT_TRUE(c.until(h2::kData, 5s, 1));
  EXPECT_EQ(c.headers[1][":status"], "200");

  // No length: chunked, the two frames read together in one chunk, the end when it comes.
  ASSERT_TRUE(c.send(post(3, {})));
  ASSERT_TRUE(backend.accept());
  head = backend.head();
  EXPECT_NE(head.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos) << head;
  ASSERT_TRUE(c.send(h2::frame(h2::kData, 0, 3, "01234") + h2::frame(h2::kData, 0, 3, "many")));
  EXPECT_EQ(backend.read(14), "9\r\n01234many\r\n");
  ASSERT_TRUE(c.send(h2::frame(h2::kData, 0, 3, "")));  // nothing to send: no empty chunk
  EXPECT_EQ(backend.read(1, 300ms), "");
  ASSERT_TRUE(c.send(h2::frame(h2::kData, h2::kEndStream, 3, "")));
  EXPECT_EQ(backend.read(5), "0\r\n\r\n");
  backend.answer(ok);
  ASSERT_TRUE(c.until(h2::kData, 5s, 3));
  EXPECT_EQ(c.headers[3][":status"], "200");

  // Reset mid-body: the upstream's connection is closed, the client's goes on.
  ASSERT_TRUE(c.send(post(5, {{"content-length", "100"}}) + h2::frame(h2::kData, 0, 5, "part")));
  ASSERT_TRUE(backend.accept());
  std::string part = backend.head();  // the piece that came with the head may come with it
  part.erase(0, part.find("\r\n\r\n") + 4);
  EXPECT_EQ(part + backend.read(4 - part.size()), "part");
  ASSERT_TRUE(c.send(h2::frame(h2::kRstStream, 0, 5, h2::u32(8 /* CANCEL */))));
  EXPECT_EQ(backend.read(1), "");
  EXPECT_TRUE(backend.closed());
  ASSERT_TRUE(c.send(h2::get(7, "/small.txt")));
  ASSERT_TRUE(c.until(h2::kData, 5s, 7));
  EXPECT_EQ(c.headers[7][":status"], "200");

  // HTTP/1.1 alike: a Content-Length body as it comes, a chunked one in chunks of its own, and
  // the connection kept for the next request once the body was read whole.
  const int client = testing::connectLoopback(edge_->port());
  ASSERT_GE(client, 0);
  auto send = [&](std::string_view bytes) {
    ::send(client, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  };
  auto answerTo = [&] {
    std::string got;
    char buf[4096];
    pollfd p{client, POLLIN, 0};
    while (got.find("\r\n\r\nok") == std::string::npos && ::poll(&p, 1, 5000) == 1) {
      ssize_t n = ::recv(client, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  };
  send("POST /up/x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n");
  ASSERT_TRUE(backend.accept());
  head = backend.head();
  EXPECT_NE(head.find("\r\nContent-Length: 10\r\n"), std::string::npos) << head;
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;
  send("01234");
  EXPECT_EQ(backend.read(5), "01234");
  send("56789");
  EXPECT_EQ(backend.read(5), "56789");
  backend.answer(ok);
  EXPECT_EQ(answerTo().substr(0, 12), "HTTP/1.1 200");
  send("POST /up/y HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
  ASSERT_TRUE(backend.accept());
  std::string chunk = backend.head();
  EXPECT_NE(chunk.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos) << chunk;
  chunk.erase(0, chunk.find("\r\n\r\n") + 4);
  EXPECT_EQ(chunk + backend.read(8 - chunk.size()), "3\r\nabc\r\n");
  send("2\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(backend.read(12), "2\r\nde\r\n0\r\n\r\n");
  backend.answer(ok);
  EXPECT_EQ(answerTo().substr(0, 12), "HTTP/1.1 200");
  ::close(client);
}

// proxy_intercept_errors: an upstream's 502 that error_page names is replaced by the page (here
// a location of its own, fetched with GET), as nginx's; without the directive it passes as it
// came. An upstream not named "origin" keeps its status (only surge's origin's 5xx become the
// booking API's 503).
TEST_F(Http2E2ETest, ProxyInterceptErrorsHandsTheUpstreamsErrorToErrorPage) {
  testing::HttpRecorder upstream;
  upstream.respond([](const std::string& request) {
    if (request.starts_with("GET /fine")) {
      return std::string("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine");
    }
    return std::string("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\n\r\nbad");
  });
  const std::string up = "proxy_pass http://127.0.0.1:" + std::to_string(upstream.port());
  start("    location /caught/ { " + up +
        "; proxy_intercept_errors on; error_page 502 = /fine; }\n"
        "    location /passed/ { " +
        up + "; error_page 502 = /fine; }\n    location = /fine { " + up + "; }\n");
  HttpResponse caught = edge_->post("/caught/x", "body");
  EXPECT_EQ(caught.status, 200);
  EXPECT_EQ(caught.body, "fine");
  EXPECT_TRUE(upstream.last().starts_with("GET /fine ")) << upstream.last();
  HttpResponse passed = edge_->post("/passed/x", "body");
  EXPECT_EQ(passed.status, 502);
  EXPECT_EQ(passed.body, "bad");
}

// Server push as nginx 1.22 does it: http2_push paths and, with http2_push_preload, the answer's
// `rel=preload` links (not `nopush` ones, not relative ones) are promised before the answer,
// each with the request's authority, scheme and Accept-Encoding, and answered on its own stream.
// A client that said SETTINGS_ENABLE_PUSH 0 is promised nothing, nor is an HTTP/1.1 one.
TEST_F(Http2E2ETest, ServerPushPromisesWhatTheLocationNames) {
  start(
      "    location = /pushing { http2_push /small.txt; http2_push_preload on;\n"
      "      add_header Link \"</big.bin>; rel=preload, <rel.txt>; rel=preload\";\n"
      "      add_header Link \"</no.txt>; rel=preload; nopush\"; return 200 pushing; }\n");
  RawConnection c(edge_->port());
  ASSERT_TRUE(c.send(h2::preface() + h2::get(1, "/pushing", {{"accept-encoding", "gzip"}})));
  std::map<uint32_t, size_t> data;
  std::set<uint32_t> ended;
  while (ended.size() < 3) {
    auto f = c.next(10s);
    ASSERT_TRUE(f) << "answers missing: " << ended.size();
    if (f->type == h2::kData) {
      data[f->stream] += f->payload.size();
      c.send(h2::frame(h2::kWindowUpdate, 0, 0, h2::u32(f->payload.size())) +
             h2::frame(h2::kWindowUpdate, 0, f->stream, h2::u32(f->payload.size())));
    }
    if ((f->type == h2::kData || f->type == h2::kHeaders) && (f->flags & h2::kEndStream))
      ended.insert(f->stream);
  }
  ASSERT_EQ(c.promises[1], (std::vector<uint32_t>{2, 4}));
  EXPECT_EQ(c.promised_requests[2][":path"], "/small.txt");
  EXPECT_EQ(c.promised_requests[2][":method"], "GET");
  EXPECT_EQ(c.promised_requests[2][":authority"], "localhost");
  EXPECT_EQ(c.promised_requests[2]["accept-encoding"], "gzip");
  EXPECT_EQ(c.promised_requests[4][":path"], "/big.bin");
  EXPECT_EQ(c.headers[1][":status"], "200");
  EXPECT_EQ(c.headers[2][":status"], "200");
  EXPECT_EQ(c.headers[4][":status"], "200");
  EXPECT_EQ(data[2], 6u);
  EXPECT_EQ(data[4], big_.size());

  RawConnection refused(edge_->port());
  ASSERT_TRUE(refused.send(h2::preface({{2 /* ENABLE_PUSH */, 0}}) + h2::get(1, "/pushing")));
  ASSERT_TRUE(refused.until(h2::kData, 5s, 1));
  EXPECT_TRUE(refused.promises.empty());
  EXPECT_EQ(edge_->get("/pushing").body, "pushing");  // HTTP/1.1: nothing to promise on
}

TEST_F(Http2E2ETest, StreamsOverTheLimitAreRefused) {
  start("");
  RawConnection c(edge_->port());
  std::string opening = h2::preface();
  // 200 requests begun and never finished (no END_STREAM): 128 may be open at once.
  for (uint32_t s = 1; s <= 399; s += 2)
    opening += h2::frame(h2::kHeaders, h2::kEndHeaders, s, h2::requestBlock("POST", "/small.txt"));
  ASSERT_TRUE(c.send(opening));
  auto refused = c.until(h2::kRstStream, 5s);
  ASSERT_TRUE(refused);
  EXPECT_GT(refused->stream, 255u);  // the first 128 were taken
  othersAreServed();
  EXPECT_EQ(
      metric(edge_->metrics(), "surge_edge_http2_defences_total{defence=\"concurrent_streams\"}"),
      72u);
  // Under a small limit a few refused streams are no flood: the connection goes on.
  start("    http2_max_concurrent_streams 1;\n");
  RawConnection small(edge_->port());
  std::string five = h2::preface();
  for (uint32_t s = 1; s <= 9; s += 2)
    five += h2::frame(h2::kHeaders, h2::kEndHeaders, s, h2::requestBlock("POST", "/small.txt"));
  ASSERT_TRUE(small.send(five + h2::frame(h2::kData, h2::kEndStream, 1, "x")));
  auto answer = small.until(h2::kHeaders, 5s, 1);
  ASSERT_TRUE(answer);
  ASSERT_TRUE(small.send(h2::get(11, "/small.txt")));
  ASSERT_TRUE(small.until(h2::kHeaders, 5s, 11));
  EXPECT_EQ(small.headers[11][":status"], "200");
  EXPECT_EQ(metric(edge_->metrics(),
                   "surge_edge_http2_defences_total{defence=\"refused_streams_flood\"}"),
            0u);
}

TEST_F(Http2E2ETest, AHeaderListOverTheLimitIsRefusedWith431) {
  RawConnection c(edge_->port());
  const std::string block =
      h2::requestBlock("GET", "/small.txt", {{"x-big", std::string(40000, 'x')}});
  std::string frames = h2::preface() + h2::frame(h2::kHeaders, 0, 1, block.substr(0, 16000)) +
                       h2::frame(h2::kContinuation, 0, 1, block.substr(16000, 16000)) +
                       h2::frame(h2::kContinuation, h2::kEndHeaders, 1, block.substr(32000));
  // END_STREAM rides on the HEADERS frame.
  frames[std::string(h2::kPreface).size() + 9 + 4] |= h2::kEndStream;
  ASSERT_TRUE(c.send(frames));
  ASSERT_TRUE(c.until(h2::kHeaders, 5s, 1));
  EXPECT_EQ(c.headers[1][":status"], "431");
  // And a list of many small fields (more than the edge's 100), as the attack bench sends.
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 300; ++i)
    many.emplace_back("x-h" + std::to_string(i), "v");
  ASSERT_TRUE(c.send(h2::get(3, "/small.txt", many)));
  ASSERT_TRUE(c.until(h2::kHeaders, 5s, 3));
  EXPECT_EQ(c.headers[3][":status"], "431");
  EXPECT_EQ(metric(edge_->metrics(), "surge_edge_http2_defences_total{defence=\"header_list\"}"),
            2u);
}

// Floods: each ends in GOAWAY(ENHANCE_YOUR_CALM) and a closed connection, counted.
struct Flood {
  const char* defence;
  std::string frames;
};

TEST_F(Http2E2ETest, FloodsEndInGoawayAndAreCounted) {
  std::vector<Flood> floods;
  std::string settings, pings, empty, resets, priorities;
  for (int i = 0; i < 5000; ++i) {
    settings += h2::settings();
    pings += h2::frame(h2::kPing, 0, 0, std::string(8, static_cast<char>(i)));
    empty += h2::frame(h2::kData, 0, 1, "");
    priorities +=
        h2::frame(h2::kPriority, 0, 3 + 2 * static_cast<uint32_t>(i), h2::u32(0) + "\x10");
  }
  // Rapid reset (CVE-2023-44487): a request and its cancel, over and over.
  for (uint32_t s = 1; s < 2 * 5000; s += 2)
    resets += h2::get(s, "/small.txt") + h2::frame(h2::kRstStream, 0, s, h2::u32(8));
  floods.push_back({"control_flood", settings});
  floods.push_back({"control_flood", pings});
  floods.push_back({"control_flood", priorities});
  floods.push_back(
      {"control_flood",
       h2::frame(h2::kHeaders, h2::kEndHeaders, 1, h2::requestBlock("POST", "/slow/x")) + empty});
  floods.push_back({"rapid_reset", resets});
  // CONTINUATION flood (CVE-2024-27316 class): a header block that never ends.
  std::string continuation = h2::frame(h2::kHeaders, 0, 1, h2::requestBlock("GET", "/small.txt"));
  for (int i = 0; i < 5000; ++i)
    continuation += h2::frame(h2::kContinuation, 0, 1, h2::literal("x-a", "b"));
  floods.push_back({"continuation_flood", continuation});
  // Streams past the limit, over and over: past 128 refused the connection is closed.
  std::string streams;
  for (uint32_t s = 1; s <= 2 * 400; s += 2)
    streams += h2::frame(h2::kHeaders, h2::kEndHeaders, s, h2::requestBlock("POST", "/small.txt"));
  floods.push_back({"refused_streams_flood", streams});

  std::map<std::string, uint64_t> expected;
  for (const Flood& f : floods) {
    SCOPED_TRACE(f.defence);
    RawConnection c(edge_->port());
    c.send(h2::preface() + f.frames);  // the edge may close before all is sent
    auto goaway = c.until(h2::kGoaway, 10s);
    ASSERT_TRUE(goaway);
    EXPECT_EQ(RawConnection::goawayCode(*goaway), NGHTTP2_ENHANCE_YOUR_CALM);
    // Held unread (not closed) until send_timeout (2 s here), while others are served.
    othersAreServed();
    EXPECT_EQ(metric(edge_->metrics(), "surge_edge_http2_held_connections"), 1u);
    EXPECT_TRUE(c.closedWithin(5s));
    EXPECT_EQ(metric(edge_->metrics(), "surge_edge_http2_held_connections"), 0u);
    ++expected[f.defence];
  }
  const std::string m = edge_->metrics();
  for (const auto& [defence, n] : expected) {
    EXPECT_EQ(metric(m, "surge_edge_http2_defences_total{defence=\"" + defence + "\"}"), n)
        << defence << "\n"
        << m;
  }
}

// Flooding connections are held unread after their GOAWAY, so that their clients wait instead
// of reconnecting to flood again; at most 64 a worker (128 here), the rest closed at once; all
// closed after send_timeout, and the edge serves others meanwhile.
TEST_F(Http2E2ETest, FloodingConnectionsAreHeldAtMostSoManyThenClosed) {
  std::string resets;
  for (uint32_t s = 1; s < 2 * 400; s += 2)
    resets += h2::get(s, "/small.txt") + h2::frame(h2::kRstStream, 0, s, h2::u32(8));
  std::vector<std::unique_ptr<RawConnection>> floods;
  for (int i = 0; i < 160; ++i) {
    floods.push_back(std::make_unique<RawConnection>(edge_->port()));
    floods.back()->send(h2::preface() + resets);
  }
  for (auto& c : floods)
    ASSERT_TRUE(c->until(h2::kGoaway, 10s));
  othersAreServed();
  const std::string m = edge_->metrics();
  EXPECT_EQ(metric(m, "surge_edge_http2_defences_total{defence=\"rapid_reset\"}"), 160u) << m;
  const uint64_t held = metric(m, "surge_edge_http2_held_connections");
  EXPECT_GE(held, 1u);
  EXPECT_LE(held, 128u);
  for (auto& c : floods)
    EXPECT_TRUE(c->closedWithin(5s));
  EXPECT_EQ(metric(edge_->metrics(), "surge_edge_http2_held_connections"), 0u);
}

TEST_F(Http2E2ETest, RequestsCancelledInTheSameReadCostNothingButParsing) {
  RawConnection c(edge_->port());
  std::string cancelled;
  for (uint32_t s = 1; s <= 199; s += 2)  // 100 requests, each reset at once: under the bucket
    cancelled += h2::get(s, "/small.txt") + h2::frame(h2::kRstStream, 0, s, h2::u32(8));
  ASSERT_TRUE(c.send(h2::preface() + cancelled + h2::get(201, "/small.txt")));
  ASSERT_TRUE(c.until(h2::kData, 5s, 201));
  const std::string m = edge_->metrics();
  // Handed to the edge: the last request, and at most those a read boundary split from their
  // reset (the 100 pairs are 7 KB: a read or two).
  EXPECT_LT(metric(m, "surge_edge_requests_by_protocol_total{protocol=\"HTTP/2.0\"}"), 10u) << m;
  EXPECT_EQ(metric(m, "surge_edge_http2_resets_total{reason=\"client\"}"), 100u);
}

TEST_F(Http2E2ETest, AShutWindowIsClosedAfterSendTimeout) {
  RawConnection c(edge_->port());
  // INITIAL_WINDOW_SIZE 0: the answer's head comes, its body never may.
  ASSERT_TRUE(
      c.send(h2::preface({{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0}}) + h2::get(1, "/big.bin")));
  ASSERT_TRUE(c.until(h2::kHeaders, 5s, 1));
  EXPECT_TRUE(c.closedWithin(10s));  // send_timeout 2s, checked each second
  EXPECT_EQ(metric(edge_->metrics(), "surge_edge_http2_defences_total{defence=\"send_timeout\"}"),
            1u);
  othersAreServed();
}

TEST_F(Http2E2ETest, ARequestThatStopsArrivingIsResetAndTheConnectionGoesOn) {
  RawConnection c(edge_->port());
  // A body announced and never sent; and a header block cut in the middle of its frame.
  const std::string block = h2::requestBlock("GET", "/small.txt");
  const std::string headers = h2::frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 3, block);
  ASSERT_TRUE(c.send(h2::preface() +
                     h2::frame(h2::kHeaders, h2::kEndHeaders, 1, h2::requestBlock("POST", "/x")) +
                     headers.substr(0, 20)));
  auto reset = c.until(h2::kRstStream, 8s);
  ASSERT_TRUE(reset);
  EXPECT_EQ(h2::u32(NGHTTP2_PROTOCOL_ERROR), reset->payload);
  auto second = c.until(h2::kRstStream, 8s);  // client_header_timeout and _body_ are both 2 s
  ASSERT_TRUE(second);
  EXPECT_NE(second->stream, reset->stream);
  // The connection still works: the rest of the cut frame, then a new request.
  ASSERT_TRUE(c.send(headers.substr(20) + h2::get(5, "/small.txt")));
  ASSERT_TRUE(c.until(h2::kData, 5s, 5));
  EXPECT_EQ(c.headers[5][":status"], "200");
}

// A stream's window is SETTINGS_INITIAL_WINDOW_SIZE (64 KiB, nginx's preread); one that sends a
// body gets one WINDOW_UPDATE of 64 KiB at its first DATA, so a body past 64 KiB flows without
// waiting for an update per 32 KiB (nginx-tests' h2_request_body.t asks for one of at least 64
// KiB).
TEST_F(Http2E2ETest, AStreamSendingABodyHasItsWindowOpenedOnce) {
  start("    location = /rl { client_max_body_size 200k; return 200 $request_length; }\n");
  RawConnection c(edge_->port());
  ASSERT_TRUE(c.send(h2::preface()));
  auto settings = c.until(h2::kSettings, 5s);
  ASSERT_TRUE(settings);
  bool window_announced = false;
  for (size_t i = 0; i + 6 <= settings->payload.size(); i += 6) {
    const std::string entry = settings->payload.substr(i, 6);
    if (entry.substr(0, 2) == std::string("\0\4", 2)) {
      window_announced = true;
      EXPECT_EQ(entry.substr(2), h2::u32(65536));
    }
  }
  EXPECT_TRUE(window_announced);
  const std::string block = h2::requestBlock("POST", "/rl");
  const std::string chunk(16384, 'b');
  ASSERT_TRUE(c.send(h2::frame(h2::kHeaders, h2::kEndHeaders, 1, block) +
                     h2::frame(h2::kData, 0, 1, chunk)));
  auto update = c.until(h2::kWindowUpdate, 5s, 1);
  ASSERT_TRUE(update);
  EXPECT_EQ(update->payload, h2::u32(65536));
  // 80 KiB in all: past the first 64 KiB, within the opened window.
  std::string rest;
  for (int i = 0; i < 4; ++i)
    rest += h2::frame(h2::kData, i == 3 ? h2::kEndStream : 0, 1, chunk);
  ASSERT_TRUE(c.send(rest));
  auto answer = c.until(h2::kData, 5s, 1);
  ASSERT_TRUE(answer);
  EXPECT_EQ(c.headers[1][":status"], "200");
  EXPECT_EQ(answer->payload, std::to_string(block.size() + 5 * chunk.size()));
}

// http2_chunk_size: DATA frames of at most that size, within the client's SETTINGS_MAX_FRAME_SIZE;
// 16 KiB without it, whatever the client allows.
TEST_F(Http2E2ETest, DataFramesFollowHttp2ChunkSize) {
  start(
      "    location = /small.txt { http2_chunk_size 1; }\n"
      "    location = /big.bin { http2_chunk_size 64k; }\n");
  writeFile(edge_->path("html/big2.bin"), big_.substr(0, 100000));
  RawConnection c(edge_->port());
  // The connection's window opened wide: the two large answers must not take it from the small.
  ASSERT_TRUE(c.send(h2::preface({{NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 32768}}) +
                     h2::frame(h2::kWindowUpdate, 0, 0, h2::u32(1u << 24)) +
                     h2::get(1, "/small.txt") + h2::get(3, "/big.bin") + h2::get(5, "/big2.bin")));
  std::map<uint32_t, std::vector<size_t>> sizes;
  while (sizes[1].size() < 6 || sizes[3].empty() || sizes[5].empty()) {
    auto f = c.next(10s);
    ASSERT_TRUE(f) << sizes[1].size() << " " << sizes[3].size() << " " << sizes[5].size();
    if (f->type == h2::kData) sizes[f->stream].push_back(f->payload.size());
  }
  EXPECT_EQ(sizes[1], std::vector<size_t>(6, 1));  // "small\n", a byte a frame
  EXPECT_EQ(sizes[3].front(), 32768u);             // 64k, within the client's 32 KiB
  EXPECT_EQ(sizes[5].front(), 16384u);             // the default
}

TEST_F(Http2E2ETest, TraceAndConnectAreRefusedAsNginxDoes) {
  RawConnection c(edge_->port());
  ASSERT_TRUE(c.send(h2::preface() + h2::get(1, "/small.txt") +
                     h2::frame(h2::kHeaders, h2::kEndHeaders | h2::kEndStream, 3,
                               h2::requestBlock("TRACE", "/small.txt"))));
  ASSERT_TRUE(c.until(h2::kHeaders, 5s, 3));
  EXPECT_EQ(c.headers[3][":status"], "405");
}

// nghttp2's HTTP messaging checks are off and H2RequestCheck makes them: a malformed request is
// answered 400, as nginx answers it (nghttp2 reset the stream, so error_page, the access log and
// nginx's tests never saw a request), and the connection goes on. What nginx takes is served.
TEST_F(Http2E2ETest, MalformedRequestsAreAnswered400AndTheConnectionGoesOn) {
  using h2::literal;
  const std::string m = literal(":method", "GET"), sc = literal(":scheme", "http"),
                    au = literal(":authority", "localhost"), pa = literal(":path", "/small.txt");
  struct Case {
    const char* what;
    std::string block;
    std::string body;
    const char* status;
  };
  const std::vector<Case> cases = {
      {"no :scheme", m + au + pa, "", "400"},
      {"an empty :authority", m + sc + literal(":authority", "") + pa, "", "400"},
      {"a relative :path", m + sc + au + literal(":path", "small.txt"), "", "400"},
      {"a control in :path", m + sc + au + literal(":path", "/small.txt\x02"), "", "400"},
      {"a lower-case method", literal(":method", "get") + sc + au + pa, "", "400"},
      {"an unknown pseudo-header", m + sc + au + literal(":protocol", "x") + pa, "", "400"},
      {"a pseudo-header after a field", m + sc + au + literal("x-a", "1") + pa, "", "400"},
      {"a second :path", m + sc + au + pa + pa, "", "400"},
      {"upper case in a name", m + sc + au + pa + literal("X-Foo", "1"), "", "400"},
      {"CR in a value", m + sc + au + pa + literal("x-foo", "a\rb"), "", "400"},
      {"a connection-specific field", m + sc + au + pa + literal("connection", "close"), "", "400"},
      {"te other than trailers", m + sc + au + pa + literal("te", "gzip"), "", "400"},
      {"a body shorter than its content-length", m + sc + au + pa + literal("content-length", "5"),
       "TEST", "400"},
      {"a body longer than its content-length", m + sc + au + pa + literal("content-length", "3"),
       "TEST", "400"},
      {"CONNECT", literal(":method", "CONNECT") + sc + au + pa, "", "405"},
      {"a control in a value, which nginx takes",
       m + sc + au + pa +
           literal("x-foo",
                   "a\x01"
                   "b"),
       "", "200"},
      {"te: trailers", m + sc + au + pa + literal("te", "trailers"), "", "200"},
      {"a body as long as its content-length", m + sc + au + pa + literal("content-length", "4"),
       "TEST", "200"},
  };
  RawConnection c(edge_->port());
  ASSERT_TRUE(c.send(h2::preface()));
  uint32_t id = 1;
  for (const Case& k : cases) {
    std::string frames = h2::frame(
        h2::kHeaders, h2::kEndHeaders | (k.body.empty() ? h2::kEndStream : 0), id, k.block);
    if (!k.body.empty()) frames += h2::frame(h2::kData, h2::kEndStream, id, k.body);
    ASSERT_TRUE(c.send(frames)) << k.what;
    ASSERT_TRUE(c.until(h2::kHeaders, 5s, id)) << k.what << ": no answer";
    EXPECT_EQ(c.headers[id][":status"], k.status) << k.what;
    id += 2;
  }
  ASSERT_TRUE(c.send(h2::get(id, "/small.txt")));
  ASSERT_TRUE(c.until(h2::kHeaders, 5s, id));
  EXPECT_EQ(c.headers[id][":status"], "200");
}

// A request refused while its body is still coming: answered at once, then RST_STREAM(NO_ERROR)
// tells the client to stop sending (RFC 9113 8.1), as nginx does; error_page acts on the 400, and
// its `return 444` resets the stream instead of answering.
TEST_F(Http2E2ETest, ARefusedRequestIsAnsweredThenResetAndErrorPageMayDropIt) {
  const std::string bad =
      h2::requestBlock("POST", "/small.txt", {{"connection", "close"}, {"content-length", "9"}});
  {
    RawConnection c(edge_->port());
    ASSERT_TRUE(c.send(h2::preface() + h2::frame(h2::kHeaders, h2::kEndHeaders, 1, bad)));
    ASSERT_TRUE(c.until(h2::kHeaders, 5s, 1));
    EXPECT_EQ(c.headers[1][":status"], "400");
    auto reset = c.until(h2::kRstStream, 5s, 1);
    ASSERT_TRUE(reset);
    EXPECT_EQ(reset->payload, h2::u32(NGHTTP2_NO_ERROR));
  }
  start("    error_page 400 = /close;\n    location = /close { return 444; }\n");
  RawConnection c(edge_->port());
  ASSERT_TRUE(c.send(h2::preface() + h2::frame(h2::kHeaders, h2::kEndHeaders, 1, bad)));
  auto reset = c.until(h2::kRstStream, 5s, 1);
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->payload, h2::u32(NGHTTP2_INTERNAL_ERROR));
  EXPECT_EQ(c.headers.count(1), 0u) << "444 answers nothing";
  ASSERT_TRUE(c.send(h2::get(3, "/small.txt")));
  ASSERT_TRUE(c.until(h2::kHeaders, 5s, 3));
  EXPECT_EQ(c.headers[3][":status"], "200");
  // Over HTTP/1.1, 444 closes the connection without a word.
  Command http1 = run(curl("-s -o /dev/null -w '%{http_code}' " + h2c("/close")));
  EXPECT_NE(http1.output.find("Empty reply from server"), std::string::npos) << http1.output;
}

// large_client_header_buffers N SIZE on HTTP/2, as nginx applies it: a field longer than SIZE,
// or names and values adding up to more than N x SIZE, end the connection with
// GOAWAY(ENHANCE_YOUR_CALM).
TEST_F(Http2E2ETest, LargeClientHeaderBuffersBoundFieldsAndTheListOverHttp2) {
  start("    large_client_header_buffers 2 512;\n");
  auto goawayFor = [&](const std::vector<std::pair<std::string, std::string>>& extra) {
    RawConnection c(edge_->port());
    EXPECT_TRUE(c.send(h2::preface() + h2::get(1, "/small.txt", extra)));
    auto goaway = c.until(h2::kGoaway, 5s);
    return goaway ? RawConnection::goawayCode(*goaway) : UINT32_MAX;
  };
  // The pseudo-headers (GET, http, localhost, /small.txt) count 55 bytes.
  {
    RawConnection c(edge_->port());
    ASSERT_TRUE(c.send(h2::preface() + h2::get(1, "/small.txt",
                                               {{"x-a", std::string(512, 'x')},
                                                {"x-b", std::string(451, 'x')}})));  // 1024 in all
    ASSERT_TRUE(c.until(h2::kHeaders, 5s, 1));
    EXPECT_EQ(c.headers[1][":status"], "200");
  }
  EXPECT_EQ(goawayFor({{"x-a", std::string(513, 'x')}}), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(goawayFor({{std::string(513, 'x'), "v"}}), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(goawayFor({{"x-a", std::string(512, 'x')}, {"x-b", std::string(452, 'x')}}),
            NGHTTP2_ENHANCE_YOUR_CALM);
  othersAreServed();
}

// A connection the edge ends (here at keepalive_requests) is closed lingering, as nginx closes
// it: a client that sends while it reads (a PING) used to make the kernel reset the connection,
// and lose the end of the last answer and the GOAWAY.
TEST_F(Http2E2ETest, AConnectionEndedByTheEdgeDeliversAllItSentThoughTheClientSendsMore) {
  const int port = testing::freeLoopbackPort();
  start("    listen 127.0.0.1:" + std::to_string(port) +
        " sndbuf=1m;\n    keepalive_requests 1;\n");
  writeFile(edge_->path("html/400k.bin"), std::string(400000, 'z'));
  RawConnection c(port, 64 * 1024);
  ASSERT_TRUE(c.send(h2::preface({{0x4, 1u << 20}}) +
                     h2::frame(h2::kWindowUpdate, 0, 0, h2::u32(1u << 21)) +
                     h2::get(1, "/400k.bin")));
  std::this_thread::sleep_for(100ms);  // the answer is in the edge's socket; the client reads none
  ASSERT_TRUE(c.send(h2::frame(h2::kPing, 0, 0, "SEE-THIS")));
  size_t data = 0;
  bool goaway = false;
  while (auto f = c.next(5s)) {
    if (f->type == h2::kData && f->stream == 1) data += f->payload.size();
    if (f->type == h2::kGoaway) goaway = true;
  }
  EXPECT_EQ(data, 400000u);
  EXPECT_TRUE(goaway);
}

TEST_F(Http2E2ETest, KeepaliveRequestsAndReloadEndAConnectionWithGoaway) {
  start("    keepalive_requests 2;\n");
  RawConnection c(edge_->port());
  ASSERT_TRUE(c.send(h2::preface() + h2::get(1, "/small.txt") + h2::get(3, "/small.txt")));
  auto goaway = c.until(h2::kGoaway, 5s);
  ASSERT_TRUE(goaway);
  EXPECT_EQ(RawConnection::goawayCode(*goaway), NGHTTP2_NO_ERROR);
  EXPECT_EQ(h2::u32(3), goaway->payload.substr(0, 4));  // the last stream it took
  EXPECT_TRUE(c.closedWithin(5s));
  EXPECT_EQ(c.headers[3][":status"], "200");

  // A reload: every HTTP/2 client is told to reconnect, as nginx's reload does.
  RawConnection idle(edge_->port());
  ASSERT_TRUE(idle.send(h2::preface() + h2::get(1, "/small.txt")));
  ASSERT_TRUE(idle.until(h2::kData, 5s, 1));
  edge_->signal(SIGHUP);
  auto told = idle.until(h2::kGoaway, 5s);
  ASSERT_TRUE(told);
  EXPECT_EQ(RawConnection::goawayCode(*told), NGHTTP2_NO_ERROR);
  EXPECT_TRUE(idle.closedWithin(5s));
  othersAreServed();
}

TEST_F(Http2E2ETest, SigtermSendsGoawayAndTheStreamInFlightFinishes) {
  testing::HttpRecorder upstream;
  upstream.respond([](const std::string&) {
    std::this_thread::sleep_for(1500ms);  // in flight when SIGTERM comes
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow");
  });
  start("", upstream.port());
  RawConnection c(edge_->port());
  ASSERT_TRUE(c.send(h2::preface() + h2::get(1, "/slow/x")));
  ASSERT_TRUE(c.until(h2::kSettings, 5s));
  while (upstream.count() == 0)
    std::this_thread::sleep_for(10ms);
  edge_->signal(SIGTERM);
  auto goaway = c.until(h2::kGoaway, 5s);
  ASSERT_TRUE(goaway);
  EXPECT_EQ(RawConnection::goawayCode(*goaway), NGHTTP2_NO_ERROR);
  auto data = c.until(h2::kData, 10s, 1);
  ASSERT_TRUE(data);
  EXPECT_EQ(data->payload, "slow");
  EXPECT_EQ(c.headers[1][":status"], "200");
  EXPECT_TRUE(c.closedWithin(10s));
  EXPECT_EQ(edge_->wait(10s), 0);
}

TEST(Http2ConfigTest, BothSpellingsAndTheLimitsAreRead) {
  // Checked by surge-edge -t as an operator would.
  std::string dir =
      std::filesystem::temp_directory_path() / ("surge-h2cfg-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto check = [&](const std::string& server) {
    writeFile(dir + "/edge.conf", "http { server { " + server + " location / { } } }\n");
    return run(std::string(SURGE_EDGE_BIN) + " -t -c " + dir + "/edge.conf");
  };
  EXPECT_EQ(check("listen 127.0.0.1:8080 http2; http2_max_concurrent_streams 64;").exit, 0);
  EXPECT_EQ(check("listen 127.0.0.1:8080; http2 on; http2_chunk_size 8k; http2_push off;").exit, 0);
  Command push = check("listen 127.0.0.1:8080; http2_push on;");
  EXPECT_NE(push.exit, 0);
  EXPECT_NE(push.output.find("edge.conf:1"), std::string::npos) << push.output;
  EXPECT_NE(push.output.find("\"http2_push\" needs a path"), std::string::npos) << push.output;
  EXPECT_EQ(check("listen 127.0.0.1:8080; http2_push /a.css; http2_push $arg_p; "
                  "http2_push_preload on; http2_max_concurrent_pushes 4;")
                .exit,
            0);
  Command bad = check("listen 127.0.0.1:8080; http2 maybe;");
  EXPECT_NE(bad.exit, 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace surge::edge::test
