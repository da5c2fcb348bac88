// The HTTP/1.1 core over real sockets.
#include "surge/http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace surge::http {
namespace {

using namespace std::chrono_literals;

// Answers with the path; "/slow/N" answers N ms later from another thread; counts requests.
class TestHandler : public Handler {
 public:
  std::atomic<int> handled{0};
  void handle(Worker& worker, const Request& request, ResponseSlot slot) override {
    ++handled;
    std::string path(request.path);
    std::string body = path + (request.body.empty() ? "" : ":" + std::string(request.body));
    if (path.rfind("/slow/", 0) == 0) {
      int ms = std::stoi(path.substr(6));
      Worker* w = &worker;
      std::thread([w, slot, body, ms] {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        w->post([w, slot, body] { w->respond(slot, Response::json(200, body)); });
      }).detach();
      return;
    }
    worker.respond(slot, Response::json(200, body));
  }
};

class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(std::string_view data) { (void)!::send(fd_, data.data(), data.size(), MSG_NOSIGNAL); }
  // Everything until the peer closes or `quiet` passes without a byte.
  std::string read(std::chrono::milliseconds quiet = 300ms) {
    std::string out;
    char buf[65536];
    while (true) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(quiet.count())) <= 0) break;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  bool closed() const { return closed_; }

 private:
  int fd_;
  bool connected_ = false;
  bool closed_ = false;
};

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions options = {}) {
    options.port = 0;
    server_ = std::make_unique<Server>(options, handler_);
    auto ok = server_->start();
    ASSERT_TRUE(ok.ok()) << ok.error();
  }
  TestHandler handler_;
  std::unique_ptr<Server> server_;
};

TEST(SetHeaderTest, ReplacesEveryLineOfTheNameInAnyCaseAndNoOther) {
  Response r;
  r.headers =
      "x-request-id: a\r\nX-Request-Ids: keep\r\nContent-Type: text/plain\r\n"
      "X-REQUEST-ID: b\r\n";
  setHeader(r, "X-Request-Id", "c");
  EXPECT_EQ(r.headers, "X-Request-Ids: keep\r\nContent-Type: text/plain\r\nX-Request-Id: c\r\n");
  setCacheControl(r, "no-store");
  setCacheControl(r, "public, max-age=2");
  EXPECT_EQ(r.headers,
            "X-Request-Ids: keep\r\nContent-Type: text/plain\r\nX-Request-Id: c\r\n"
            "Cache-Control: public, max-age=2\r\n");
}

TEST_F(ServerTest, KeepAliveAndPipeliningAnswerInOrder) {
  start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.connected());
  // The first answer comes late from another thread; the second must still come after it.
  c.send("GET /slow/200 HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\n\r\n");
  std::string out = c.read(600ms);
  size_t slow = out.find("/slow/200"), fast = out.find("/fast");
  ASSERT_NE(slow, std::string::npos) << out;
  ASSERT_NE(fast, std::string::npos) << out;
  EXPECT_LT(slow, fast);
  EXPECT_EQ(count(out, "HTTP/1.1 200 OK"), 2u);
  EXPECT_FALSE(c.closed());
  c.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_NE(c.read().find("/echo:hi"), std::string::npos);
}

// nginx confirms an HTTP/1.0 client's keep-alive; without the header the client would close.
TEST_F(ServerTest, Http10KeepAliveIsConfirmedAndKept) {
  start();
  RawClient c(server_->port());
  ASSERT_TRUE(c.connected());
  c.send("GET /fast HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  std::string out = c.read();
  EXPECT_NE(out.find("\r\nConnection: keep-alive\r\n"), std::string::npos) << out;
  EXPECT_FALSE(c.closed());
  c.send("GET /fast HTTP/1.0\r\n\r\n");  // no keep-alive: answered, then closed
  out = c.read();
  EXPECT_NE(out.find("\r\nConnection: close\r\n"), std::string::npos) << out;
  EXPECT_TRUE(c.closed());
  RawClient d(server_->port());
  d.send("GET /fast HTTP/1.1\r\nHost: a\r\n\r\n");  // 1.1 keeps alive without saying so
  EXPECT_EQ(d.read().find("Connection:"), std::string::npos);
}

TEST_F(ServerTest, ABadRequestInAPipelineStopsEverythingAfterIt) {
  start();
  RawClient c(server_->port());
  c.send(
      "GET /ok HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /smuggle HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\nGET /victim HTTP/1.1\r\nHost: a\r\n\r\n");
  std::string out = c.read();
  EXPECT_NE(out.find("/ok"), std::string::npos);
  EXPECT_NE(out.find("HTTP/1.1 400 Bad Request"), std::string::npos) << out;
  EXPECT_EQ(out.find("/victim"), std::string::npos) << out;
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(handler_.handled.load(), 1);
}

TEST_F(ServerTest, HeadHasNoBodyAndErrorsAreJson) {
  start();
  RawClient c(server_->port());
  c.send("HEAD /thing HTTP/1.1\r\nHost: a\r\n\r\n");
  std::string out = c.read();
  EXPECT_NE(out.find("Content-Length: 6\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("/thing"), std::string::npos) << out;
  RawClient bad(server_->port());
  bad.send("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(20000, 'x') + "\r\n\r\n");
  std::string refused = bad.read();
  EXPECT_NE(refused.find("HTTP/1.1 431"), std::string::npos);
  EXPECT_NE(refused.find("{\"error\":{\"code\":\"headers_too_large\""), std::string::npos);
  EXPECT_NE(refused.find("Cache-Control: private, no-store\r\n"), std::string::npos);
  EXPECT_TRUE(bad.closed());
}

TEST_F(ServerTest, SlowHeadsAndIdleConnectionsAreClosed) {
  ServerOptions options;
  options.head_timeout = 1000ms;
  options.idle_timeout = 1500ms;
  start(options);
  RawClient slow(server_->port());
  slow.send("GET / HTTP/1.1\r\nHost: a\r\n");  // never finishes its head
  RawClient idle(server_->port());
  std::string out = slow.read(3000ms);
  EXPECT_NE(out.find("HTTP/1.1 408"), std::string::npos) << out;
  EXPECT_TRUE(slow.closed());
  idle.read(3000ms);
  EXPECT_TRUE(idle.closed());
  EXPECT_EQ(handler_.handled.load(), 0);
}

TEST_F(ServerTest, ConnectionCapShedsTheExcess) {
  ServerOptions options;
  options.max_connections = 3;
  options.workers = 1;
  start(options);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>(server_->port()));
    held.back()->send("GET /held HTTP/1.1\r\nHost: a\r\n\r\n");
    held.back()->read(200ms);
  }
  RawClient extra(server_->port());
  extra.send("GET /extra HTTP/1.1\r\nHost: a\r\n\r\n");
  std::string out = extra.read(500ms);
  EXPECT_TRUE(out.empty()) << out;
  EXPECT_TRUE(extra.closed());
  EXPECT_EQ(server_->connections(), 3u);
}

TEST_F(ServerTest, ExpectContinueGetsAnInterimAnswer) {
  start();
  RawClient c(server_->port());
  c.send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_NE(c.read(300ms).find("HTTP/1.1 100 Continue"), std::string::npos);
  c.send("abc");
  EXPECT_NE(c.read().find("/up:abc"), std::string::npos);
}

TEST_F(ServerTest, AnswersForVanishedClientsAreDropped) {
  start();
  {
    RawClient c(server_->port());
    c.send("GET /slow/200 HTTP/1.1\r\nHost: a\r\n\r\n");
    c.read(50ms);
  }  // closed before the answer
  std::this_thread::sleep_for(400ms);
  RawClient after(server_->port());
  after.send("GET /still-fine HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_NE(after.read().find("/still-fine"), std::string::npos);
}

TEST_F(ServerTest, AnswersPostedAfterStopAreDroppedSafely) {
  start();
  {
    RawClient c(server_->port());
    c.send("GET /slow/300 HTTP/1.1\r\nHost: a\r\n\r\n");
    c.read(50ms);
    server_->stop();  // the answer is still on its way from the other thread
    std::this_thread::sleep_for(400ms);
  }
  server_.reset();  // frees the workers with the late answer in their mailbox
  SUCCEED();
}

}  // namespace
}  // namespace surge::http
