// nginx's server and location semantics in a running surge-edge: several servers chosen by port
// and host name, locations in nginx's order (exact, ^~, longest prefix, nested, regex), `return`
// and add_header with variables.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <optional>
#include <thread>

#include "command.h"
#include "edge_process.h"
#include "surge/testing/http_recorder.h"
#include "surge/testing/process.h"
#include "surge/testing/temp_dir.h"

namespace surge::edge::test {
namespace {

// surge-edge started as nginx-tests start nginx (`-p DIR/ -c nginx.conf -e DIR/error.log`) on an
// nginx.conf in `dir` of the suite's shape: `daemon off;`, empty events and `http` holding
// `http_block`. Stopped by PID when the result goes.
testing::ChildProcess startAsNginx(testing::TempDir& dir, const std::string& http_block) {
  dir.write("nginx.conf", "daemon off;\nevents {\n}\nhttp {\n" + http_block + "}\n");
  const std::string d = dir.path();
  return testing::ChildProcess(
      {SURGE_EDGE_BIN, "-p", d + "/", "-c", "nginx.conf", "-e", d + "/error.log"}, d + "/out.log");
}

// What it said, when it did not start.
std::string startLog(const testing::TempDir& dir) {
  return readFile(dir.path() + "/out.log") + readFile(dir.path() + "/error.log");
}

// Sends `bytes` on the connected `fd` and reads until the server closes (3 s at most).
std::string exchangeOn(int fd, const std::string& bytes) {
  if (fd < 0) return "";
  (void)!::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  timeval tv{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

// One request as written, the whole answer (the server closes after it).
std::string rawExchange(int port, const std::string& bytes) {
  return exchangeOn(testing::connectLoopback(port), bytes);
}

// The same over IPv6 loopback ([::1]:port).
std::string rawExchange6(int port, const std::string& bytes) {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(static_cast<uint16_t>(port));
  a.sin6_addr = in6addr_loopback;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  return exchangeOn(fd, bytes);
}

// Debian's stock site listens as "listen 80; listen [::]:80;": both sockets, one server; an IPv6
// client is in $remote_addr as such, and allow/deny's "all" speaks for it.
TEST(NginxSemanticsE2ETest, ListensOnIpv4AndIpv6Alike) {
  testing::TempDir dir;
  const std::string d = dir.path();
  const int port = testing::freeLoopbackPort();
  const std::string p = std::to_string(port);
  dir.write("html/page.txt", "a page\n");
  testing::ChildProcess edge =
      startAsNginx(dir, " root " + d +
                            "/html;\n access_log off;\n"
                            " server {\n  listen 127.0.0.1:" +
                            p + " default_server;\n  listen [::1]:" + p +
                            " default_server;\n"
                            "  location /who { return 200 \"$remote_addr\"; }\n"
                            "  location /v4only/ { allow 127.0.0.1; deny all; alias " +
                            d +
                            "/html/; }\n"
                            "  location /open/ { allow 127.0.0.1; alias " +
                            d +
                            "/html/; }\n"
                            " }\n");
  ASSERT_TRUE(testing::waitForPort(port, std::chrono::milliseconds(10000))) << startLog(dir);
  const std::string get = "GET /page.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string v4 = rawExchange(port, get);
  std::string v6 = rawExchange6(port, get);
  EXPECT_EQ(v4.substr(0, 12), "HTTP/1.1 200") << v4;
  EXPECT_EQ(v6.substr(0, 12), "HTTP/1.1 200") << v6;
  EXPECT_NE(v6.find("\r\n\r\na page\n"), std::string::npos) << v6;
  std::string who = rawExchange6(port, "GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(who.find("\r\n\r\n::1"), std::string::npos) << who;
  std::string denied =
      rawExchange6(port, "GET /v4only/page.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(denied.substr(0, 12), "HTTP/1.1 403") << denied;
  std::string allowed =
      rawExchange(port, "GET /v4only/page.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(allowed.substr(0, 12), "HTTP/1.1 200") << allowed;
  std::string open =
      rawExchange6(port, "GET /open/page.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(open.substr(0, 12), "HTTP/1.1 200") << open;
  // Files only: a request the parser refuses gets nginx's page, and the connection closes after
  // a 400 page even when the client asked to keep it, as nginx closes it.
  std::string refused = rawExchange(port, "GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(refused.substr(0, 12), "HTTP/1.1 400") << refused;
  EXPECT_NE(refused.find("<head><title>400 Bad Request</title></head>"), std::string::npos)
      << refused;
  std::string climbing = rawExchange(port, "GET /../x HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(climbing.substr(0, 12), "HTTP/1.1 400") << climbing;
  EXPECT_NE(climbing.find("\r\nConnection: close\r\n"), std::string::npos) << climbing;
}

// A backend that keeps the requests it is sent and answers each with 204, closing.
struct HeadRecorder : testing::HttpRecorder {
  HeadRecorder() : HttpRecorder(204, true) {}
};

// nginx's ignore_invalid_headers (on by default) and underscores_in_headers, per server: which
// client headers reach origin and $http_NAME. A space, a control byte or a leading colon in a
// name is refused whatever they say.
TEST(NginxSemanticsE2ETest, InvalidHeaderNamesAsNginxTreatsThem) {
  HeadRecorder origin;
  testing::TempDir dir;
  const int on = testing::freeLoopbackPort(), off = testing::freeLoopbackPort(),
            under = testing::freeLoopbackPort();
  auto server = [&](int port, const std::string& setting) {
    return " server {\n  listen 127.0.0.1:" + std::to_string(port) + ";\n  " + setting +
           "\n  location / { proxy_pass http://127.0.0.1:" + std::to_string(origin.port()) +
           "; }\n  location /v { return 200 \"[$http_x_foo]\"; }\n }\n";
  };
  testing::ChildProcess edge = startAsNginx(dir, " access_log off;\n" + server(on, "") +
                                                     server(off, "ignore_invalid_headers off;") +
                                                     server(under, "underscores_in_headers on;"));
  for (int port : {on, off, under})
    ASSERT_TRUE(testing::waitForPort(port, 10000ms)) << startLog(dir);

  const std::string odd = "GET / HTTP/1.0\r\nx_foo: under\r\nx.foo: dot\r\nX-Ok: fine\r\n\r\n";
  auto reached = [&](int port) {
    std::string answer = rawExchange(port, odd);
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 204") << answer;
    return origin.last();
  };
  std::string head = reached(on);
  EXPECT_EQ(head.find("x_foo"), std::string::npos) << head;
  EXPECT_EQ(head.find("x.foo"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Ok: fine"), std::string::npos) << head;
  head = reached(off);
  EXPECT_NE(head.find("x_foo: under"), std::string::npos) << head;
  EXPECT_NE(head.find("x.foo: dot"), std::string::npos) << head;
  head = reached(under);
  EXPECT_NE(head.find("x_foo: under"), std::string::npos) << head;
  EXPECT_EQ(head.find("x.foo"), std::string::npos) << head;

  const std::string v = "GET /v HTTP/1.0\r\nx_foo: u\r\n\r\n";
  EXPECT_NE(rawExchange(on, v).find("\r\n\r\n[]"), std::string::npos);
  EXPECT_NE(rawExchange(under, v).find("\r\n\r\n[u]"), std::string::npos);
  for (const char* bad : {":foo: x", " foo: x", "foo\x02: x", "fo o: x"}) {
    std::string answer = rawExchange(off, std::string("GET / HTTP/1.0\r\n") + bad + "\r\n\r\n");
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 400") << bad << ": " << answer;
    // A configuration with an API location: the API's JSON error.
    EXPECT_NE(answer.find("{\"error\":"), std::string::npos) << answer;
  }
}

// An upstream of several servers as nginx runs it: round robin over the live ones, a refused
// connection sent on to the next server (any method: nothing was sent), the backup only once no
// primary is left, and the upstream's name as Host.
TEST(NginxSemanticsE2ETest, UpstreamWithSeveralServersAndABackup) {
  std::optional<HeadRecorder> a(std::in_place), b(std::in_place);
  HeadRecorder backup;
  const int dead = testing::freeLoopbackPort();  // nothing listens here
  testing::TempDir dir;
  const int port = testing::freeLoopbackPort();
  auto at = [](int p) { return "127.0.0.1:" + std::to_string(p); };
  testing::ChildProcess edge =
      startAsNginx(dir,
                   " access_log off;\n"
                   " upstream o {\n  server " +
                       at(dead) + ";\n  server " + at(a->port()) + ";\n  server " + at(b->port()) +
                       " max_fails=1 fail_timeout=30s;\n  server " + at(backup.port()) +
                       " backup;\n }\n server {\n  listen " + at(port) +
                       ";\n  location / { proxy_pass http://o; }\n }\n");
  ASSERT_TRUE(testing::waitForPort(port, 10000ms)) << startLog(dir);

  const std::string get = "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  for (int i = 0; i < 12; ++i) {
    std::string answer = rawExchange(port, get);
    ASSERT_EQ(answer.substr(0, 12), "HTTP/1.1 204") << i << ": " << answer;
  }
  EXPECT_GE(a->count(), 5u);
  EXPECT_GE(b->count(), 5u);
  EXPECT_EQ(a->count() + b->count(), 12u);
  EXPECT_EQ(backup.count(), 0u);
  EXPECT_NE(a->last().find("\r\nHost: o\r\n"), std::string::npos) << a->last();
  // A POST without an Idempotency-Key too: a refused connection never carried it.
  std::string post = rawExchange(
      port, "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
  EXPECT_EQ(post.substr(0, 12), "HTTP/1.1 204") << post;

  a.reset();
  b.reset();
  for (int i = 0; i < 3; ++i) {
    std::string answer = rawExchange(port, get);
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 204") << i << ": " << answer;
  }
  EXPECT_EQ(backup.count(), 3u);
}

// Locations proxying to different upstreams, as nginx configurations do: each request goes to
// its location's, with that upstream's Host, and each upstream's exchanges are counted apart.
TEST(NginxSemanticsE2ETest, LocationsProxyToDifferentUpstreams) {
  HeadRecorder api, content, other;
  testing::TempDir dir;
  const std::string d = dir.path();
  const int port = testing::freeLoopbackPort();
  auto at = [](int p) { return "127.0.0.1:" + std::to_string(p); };
  testing::ChildProcess edge =
      startAsNginx(dir,
                   " access_log off;\n"
                   " upstream content {\n  server " +
                       at(content.port()) + ";\n }\n upstream origin {\n  server " +
                       at(api.port()) + ";\n }\n server {\n  listen " + at(port) +
                       ";\n  location /static/ { proxy_pass http://content/files/; }\n"
                       "  location /other/ { proxy_pass http://" +
                       at(other.port()) +
                       "; }\n  location /api/ { proxy_pass http://origin; }\n"
                       "  location = /metrics { surge_status; }\n }\n");
  ASSERT_TRUE(testing::waitForPort(port, 10000ms)) << startLog(dir);
  auto get = [&](const std::string& path) {
    return rawExchange(port, "GET " + path + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  };
  for (const char* path : {"/api/a", "/static/b", "/other/c", "/api/d"}) {
    std::string answer = get(path);
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 204") << path << ": " << answer;
  }
  EXPECT_EQ(api.count(), 2u);
  EXPECT_EQ(content.count(), 1u);
  EXPECT_EQ(other.count(), 1u);
  EXPECT_NE(api.last().find("GET /api/d HTTP/1.1\r\n"), std::string::npos) << api.last();
  EXPECT_NE(api.last().find("\r\nHost: origin\r\n"), std::string::npos) << api.last();
  EXPECT_NE(content.last().find("GET /files/b HTTP/1.1\r\n"), std::string::npos) << content.last();
  EXPECT_NE(content.last().find("\r\nHost: content\r\n"), std::string::npos) << content.last();
  EXPECT_NE(other.last().find("\r\nHost: " + at(other.port()) + "\r\n"), std::string::npos)
      << other.last();
  const std::string m = get("/metrics");
  EXPECT_NE(m.find("surge_edge_origin_forwarded_total 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("surge_edge_origin_forwarded_total{upstream=\"content\"} 1\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("surge_edge_origin_forwarded_total{upstream=\"" + at(other.port()) + "\"} 1\n"),
            std::string::npos)
      << m;
}

// An upstream that answers in chunked coding (what ordinary HTTP backends do): its body is
// decoded and passed on with its length; a malformed one is origin's error, 502. An upstream
// other than the origin passes its own 5xx on as it came (the origin's become 503 + Retry-After:
// the booking contract).
TEST(NginxSemanticsE2ETest, AChunkedUpstreamAnswerIsPassedOnWhole) {
  testing::HttpRecorder failing;
  failing.respond([](const std::string&) {
    return std::string("HTTP/1.1 500 Internal\r\nContent-Length: 4\r\n\r\nfail");
  });
  testing::HttpRecorder upstream;
  upstream.respond([](const std::string& request) {
    if (request.find("GET /bad ") == 0) {
      return std::string(
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n");
    }
    return std::string(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Up: 1\r\n\r\n"
        "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
  });
  testing::TempDir dir;
  const int port = testing::freeLoopbackPort();
  testing::ChildProcess edge = startAsNginx(
      dir,
      " access_log off;\n server {\n"
      "  listen 127.0.0.1:" +
          std::to_string(port) +
          ";\n  location / { proxy_pass http://127.0.0.1:" + std::to_string(upstream.port()) +
          "; }\n  location /other/ { proxy_pass http://127.0.0.1:" +
          std::to_string(failing.port()) + "; }\n }\n");
  ASSERT_TRUE(testing::waitForPort(port, 10000ms)) << startLog(dir);
  std::string answer = rawExchange(port, "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
  EXPECT_NE(answer.find("\r\nContent-Length: 11\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("\r\nX-Up: 1\r\n"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("Transfer-Encoding"), std::string::npos) << answer;
  EXPECT_TRUE(answer.ends_with("\r\n\r\nhello world")) << answer;
  std::string bad = rawExchange(port, "GET /bad HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(bad.substr(0, 12), "HTTP/1.1 502") << bad;
  std::string other =
      rawExchange(port, "GET /other/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(other.substr(0, 12), "HTTP/1.1 500") << other;
  EXPECT_TRUE(other.ends_with("\r\n\r\nfail")) << other;
}

// A field of a raw HTTP/1.1 answer ("" when absent).
std::string fieldOf(const std::string& answer, const std::string& name) {
  size_t at = answer.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  at += name.size() + 4;
  return answer.substr(at, answer.find("\r\n", at) - at);
}

// client_body_in_file_only, client_body_buffer_size, client_body_temp_path with levels and
// proxy_request_buffering off, over both protocols: $request_body_file names a file holding the
// body (then $request_body is empty), `clean` removes it after the answer, the upstream gets the
// body either way, and a path that cannot be written answers 500 and changes nothing else.
TEST(NginxSemanticsE2ETest, RequestBodiesAreKeptInFilesAsNginxKeepsThem) {
  testing::HttpRecorder upstream;
  testing::TempDir dir;
  const std::string d = dir.path();
  const int port = testing::freeLoopbackPort(), h2_port = testing::freeLoopbackPort();
  const std::string up = "proxy_pass http://127.0.0.1:" + std::to_string(upstream.port()) + ";";
  const std::string show =
      "add_header X-File $request_body_file; add_header X-Body \"[$request_body]\";";
  testing::ChildProcess edge = startAsNginx(
      dir,
      " access_log off;\n client_body_buffer_size 1k;\n"
      " client_body_temp_path " +
          d +
          "/bodies 1 2;\n server {\n"
          "  listen 127.0.0.1:" +
          std::to_string(port) + ";\n  listen 127.0.0.1:" + std::to_string(h2_port) +
          " http2;\n"
          "  location /file/ { client_body_in_file_only on; " +
          show + up +
          " }\n"
          "  location /clean/ { client_body_in_file_only clean; " +
          show + up +
          " }\n"
          "  location /buffered/ { " +
          show + up +
          " }\n"
          "  location /unbuffered/ { proxy_request_buffering off; client_body_in_file_only on; " +
          show + up +
          " }\n"
          "  location /nowhere/ { client_body_in_file_only on; client_body_temp_path "
          "/proc/surge-nowhere; " +
          up + " }\n }\n");
  ASSERT_TRUE(testing::waitForPort(port, 10000ms)) << startLog(dir);
  auto post = [&](const std::string& path, const std::string& body) {
    return rawExchange(port, "POST " + path +
                                 " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
                                 "Content-Length: " +
                                 std::to_string(body.size()) + "\r\n\r\n" + body);
  };

  // on: the file stays, under the levels (the name's last digit, then the two before it).
  std::string a = post("/file/", "TEST");
  EXPECT_EQ(a.substr(0, 12), "HTTP/1.1 200") << a;
  const std::string file = fieldOf(a, "X-File");
  ASSERT_EQ(file.size(), d.size() + 23) << a;  // "/bodies/" + "N/NN/" + ten digits
  EXPECT_EQ(file.substr(0, d.size() + 8), d + "/bodies/");
  const std::string name = file.substr(file.size() - 10);
  EXPECT_EQ(file.substr(d.size() + 8, 5), name.substr(9, 1) + "/" + name.substr(7, 2) + "/");
  EXPECT_EQ(readFile(file), "TEST");
  EXPECT_EQ(fieldOf(a, "X-Body"), "[]");  // nginx's: the body is in the file
  EXPECT_NE(upstream.last().find("\r\nContent-Length: 4\r\n"), std::string::npos);
  EXPECT_TRUE(upstream.last().ends_with("\r\n\r\nTEST"));
  // An empty body announced is kept (an empty file) and forwarded with Content-Length: 0; a
  // request without a body has no file and sends none.
  std::string empty = post("/file/", "");
  ASSERT_FALSE(fieldOf(empty, "X-File").empty()) << empty;
  EXPECT_TRUE(std::filesystem::exists(fieldOf(empty, "X-File")));
  EXPECT_EQ(readFile(fieldOf(empty, "X-File")), "");
  EXPECT_NE(upstream.last().find("\r\nContent-Length: 0\r\n"), std::string::npos);
  std::string none =
      rawExchange(port, "GET /file/ HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(fieldOf(none, "X-File"), "") << none;
  EXPECT_EQ(upstream.last().find("Content-Length"), std::string::npos) << upstream.last();

  // clean: named during the answer, removed after it (by the writer's thread: waited for).
  std::string c = post("/clean/", "gone soon");
  const std::string cleaned = fieldOf(c, "X-File");
  ASSERT_FALSE(cleaned.empty()) << c;
  for (int i = 0; i < 500 && std::filesystem::exists(cleaned); ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(std::filesystem::exists(cleaned));

  // client_body_buffer_size: a body within it stays in memory, a larger one goes to a file too.
  const std::string small(1000, 's'), large(1500, 'L');
  std::string in_memory = post("/buffered/", small);
  EXPECT_EQ(fieldOf(in_memory, "X-File"), "");
  EXPECT_EQ(fieldOf(in_memory, "X-Body"), "[" + small + "]");
  std::string spilled = post("/buffered/", large);
  EXPECT_EQ(readFile(fieldOf(spilled, "X-File")), large) << spilled;
  EXPECT_EQ(fieldOf(spilled, "X-Body"), "[]");
  EXPECT_TRUE(upstream.last().ends_with("\r\n\r\n" + large));
  // proxy_request_buffering off: never a file.
  std::string unbuffered = post("/unbuffered/", large);
  EXPECT_EQ(unbuffered.substr(0, 12), "HTTP/1.1 200") << unbuffered;
  EXPECT_EQ(fieldOf(unbuffered, "X-File"), "");

  // Over HTTP/2 the same.
  Command h2 =
      run("curl -sS --max-time 10 --http2-prior-knowledge -D - -o /dev/null --data TWO "
          "http://127.0.0.1:" +
          std::to_string(h2_port) + "/file/");
  size_t at = h2.output.find("x-file: ");
  ASSERT_NE(at, std::string::npos) << h2.output;
  const std::string h2_file = h2.output.substr(at + 8, h2.output.find("\r\n", at) - at - 8);
  EXPECT_EQ(readFile(h2_file), "TWO");

  // A directory that cannot be made: 500, said in the error log; the edge goes on.
  const size_t before = upstream.count();
  std::string failed = post("/nowhere/", "x");
  EXPECT_EQ(failed.substr(0, 12), "HTTP/1.1 500") << failed;
  EXPECT_EQ(upstream.count(), before);  // nothing forwarded
  EXPECT_NE(readFile(d + "/error.log").find("/proc/surge-nowhere"), std::string::npos);
  EXPECT_EQ(post("/file/", "again").substr(0, 12), "HTTP/1.1 200");
}

// fastcgi_pass to a real FastCGI server (Debian's fcgiwrap running a shell script as CGI): the
// fastcgi_param values and the request's headers (HTTP_NAME) reach the application, the body
// reaches its standard input (read whole first, or as it comes with fastcgi_request_buffering
// off, over HTTP/2 too), and its CGI answer (Status, headers, body) comes back as the HTTP
// answer, a Location without Status being a 302.
TEST(NginxSemanticsE2ETest, FastcgiPassSpeaksToAFastcgiServer) {
  testing::TempDir dir;
  const std::string d = dir.path();
  writeFile(d + "/echo.sh",
            "#!/bin/sh\n"
            "if [ \"$QUERY_STRING\" = away ]; then printf 'Location: /elsewhere\\r\\n\\r\\n'; "
            "exit 0; fi\n"
            "printf 'Status: 201 Made\\r\\nContent-Type: text/plain\\r\\nX-Method: %s\\r\\n\\r\\n' "
            "\"$REQUEST_METHOD\"\n"
            "printf 'agent=%s query=%s body=' \"$HTTP_USER_AGENT\" \"$QUERY_STRING\"\n"
            "cat\n");
  std::filesystem::permissions(d + "/echo.sh", std::filesystem::perms::owner_all);
  const std::string fcgiwrap = "/usr/sbin/fcgiwrap";
  ASSERT_TRUE(std::filesystem::exists(fcgiwrap)) << "fcgiwrap (Debian's package) is needed";
  const int app_port = testing::freeLoopbackPort();
  testing::ChildProcess app({fcgiwrap, "-s", "tcp:127.0.0.1:" + std::to_string(app_port)},
                            d + "/fcgiwrap.log");
  ASSERT_TRUE(testing::waitForPort(app_port, 10000ms));
  const int port = testing::freeLoopbackPort(), h2_port = testing::freeLoopbackPort();
  const std::string params = "fastcgi_pass 127.0.0.1:" + std::to_string(app_port) +
                             "; fastcgi_param SCRIPT_FILENAME " + d +
                             "/echo.sh; fastcgi_param REQUEST_METHOD $request_method; "
                             "fastcgi_param QUERY_STRING $args; "
                             "fastcgi_param CONTENT_LENGTH $content_length; "
                             "fastcgi_param EMPTY \"\" if_not_empty;";
  testing::ChildProcess edge = startAsNginx(
      dir, " access_log off;\n server {\n  listen 127.0.0.1:" + std::to_string(port) +
               ";\n  listen 127.0.0.1:" + std::to_string(h2_port) + " http2;\n  location /cgi/ { " +
               params + " }\n  location /stream/ { fastcgi_request_buffering off; " + params +
               " }\n }\n");
  ASSERT_TRUE(testing::waitForPort(port, 10000ms)) << startLog(dir);

  std::string a = rawExchange(port,
                              "POST /cgi/x?q=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: tester\r\n"
                              "Connection: close\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(a.substr(0, 12), "HTTP/1.1 201") << a;
  EXPECT_EQ(fieldOf(a, "X-Method"), "POST");
  EXPECT_TRUE(a.ends_with("\r\n\r\nagent=tester query=q=1 body=hello")) << a;
  std::string away =
      rawExchange(port, "GET /cgi/x?away HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(away.substr(0, 12), "HTTP/1.1 302") << away;
  EXPECT_EQ(fieldOf(away, "Location"), "/elsewhere");

  // Unbuffered, over HTTP/2 and HTTP/1.1 (chunked: the application reads to STDIN's end).
  Command h2 =
      run("curl -sS --max-time 10 --http2-prior-knowledge -A two --data-binary streamed "
          "http://127.0.0.1:" +
          std::to_string(h2_port) + "/stream/y");
  EXPECT_EQ(h2.output, "agent=two query= body=streamed");
  std::string chunked =
      rawExchange(port,
                  "POST /stream/z HTTP/1.1\r\nHost: h\r\nUser-Agent: one\r\nConnection: close\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_TRUE(chunked.ends_with("agent=one query= body=abcde")) << chunked;
}

// realip and the PROXY protocol: a request from a trusted proxy takes its client's address from
// X-Forwarded-For (the last one, or with real_ip_recursive the last one not trusted) or from the
// PROXY header a real HAProxy sends (send-proxy and send-proxy-v2), and allow/deny then judge that
// address; $realip_remote_addr keeps the peer's. A connection without the header on a
// proxy_protocol port is closed.
TEST(NginxSemanticsE2ETest, RealIpTakesTheClientFromTrustedProxies) {
  testing::TempDir dir;
  const int port = testing::freeLoopbackPort(), pp_port = testing::freeLoopbackPort();
  const int v1_port = testing::freeLoopbackPort(), v2_port = testing::freeLoopbackPort();
  const std::string show = "return 200 \"$remote_addr $realip_remote_addr $proxy_protocol_addr\";";
  testing::ChildProcess edge = startAsNginx(
      dir, " access_log off;\n server {\n  listen 127.0.0.1:" + std::to_string(port) +
               ";\n  set_real_ip_from 127.0.0.1;\n  real_ip_header X-Forwarded-For;\n"
               "  location /last { " +
               show +
               " }\n  location /recursive { set_real_ip_from 127.0.0.1; set_real_ip_from "
               "203.0.113.0/24; real_ip_recursive on; " +
               show +
               " }\n  location /only { allow 203.0.113.7; deny all; }\n"
               "  location /untrusted { set_real_ip_from 10.0.0.0/8; " +
               show + " }\n }\n server {\n  listen 127.0.0.1:" + std::to_string(pp_port) +
               " proxy_protocol;\n  set_real_ip_from 127.0.0.0/8;\n"
               "  real_ip_header proxy_protocol;\n  location / { " +
               show + " }\n }\n");
  ASSERT_TRUE(testing::waitForPort(port, 10000ms)) << startLog(dir);
  auto get = [&](const std::string& path, const std::string& xff) {
    std::string a =
        rawExchange(port, "GET " + path + " HTTP/1.1\r\nHost: h\r\nConnection: close\r\n" +
                              "X-Forwarded-For: " + xff + "\r\n\r\n");
    return a.substr(a.find("\r\n\r\n") + 4);
  };
  const std::string xff = "198.51.100.1, 203.0.113.7";
  EXPECT_EQ(get("/last", xff), "203.0.113.7 127.0.0.1 ");
  EXPECT_EQ(get("/recursive", xff), "198.51.100.1 127.0.0.1 ");
  EXPECT_EQ(get("/recursive", "203.0.113.9, 203.0.113.7"), "203.0.113.9 127.0.0.1 ");
  EXPECT_EQ(get("/last", "not an address"), "127.0.0.1 127.0.0.1 ");
  EXPECT_EQ(get("/untrusted", xff), "127.0.0.1 127.0.0.1 ");  // its own list replaces the server's
  // allow/deny judge the client's address (a file location: `return` would answer before them,
  // in nginx's rewrite phase): allowed, the missing file's 404; denied, 403.
  EXPECT_EQ(rawExchange(port,
                        "GET /only HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
                        "X-Forwarded-For: " +
                            xff + "\r\n\r\n")
                .substr(0, 12),
            "HTTP/1.1 404");
  EXPECT_EQ(rawExchange(port,
                        "GET /only HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
                        "X-Forwarded-For: 203.0.113.8\r\n\r\n")
                .substr(0, 12),
            "HTTP/1.1 403");

  // A real HAProxy in front, both versions of the header; the client comes from 127.0.0.2.
  writeFile(
      dir.path() + "/haproxy.cfg",
      "defaults\n mode tcp\n timeout connect 5s\n timeout client 10s\n timeout server 10s\n"
      "frontend v1\n bind 127.0.0.1:" +
          std::to_string(v1_port) +
          "\n default_backend e1\nbackend e1\n server e 127.0.0.1:" + std::to_string(pp_port) +
          " send-proxy\nfrontend v2\n bind 127.0.0.1:" + std::to_string(v2_port) +
          "\n default_backend e2\nbackend e2\n server e 127.0.0.1:" + std::to_string(pp_port) +
          " send-proxy-v2\n");
  testing::ChildProcess haproxy({"/usr/sbin/haproxy", "-db", "-f", dir.path() + "/haproxy.cfg"},
                                dir.path() + "/haproxy.log");
  ASSERT_TRUE(testing::waitForPort(v2_port, 10000ms)) << readFile(dir.path() + "/haproxy.log");
  for (int through : {v1_port, v2_port}) {
    Command c = run("curl -sS --max-time 10 --interface 127.0.0.2 http://127.0.0.1:" +
                    std::to_string(through) + "/");
    EXPECT_EQ(c.output, "127.0.0.2 127.0.0.1 127.0.0.2") << through;
  }
  // Without the header: closed, nothing answered.
  EXPECT_EQ(rawExchange(pp_port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n"), "");
}

// add_header on a proxied answer is evaluated when the answer comes, as nginx's header filter:
// $upstream_cookie_NAME and $upstream_http_NAME are that answer's; the request's variables stay.
TEST(NginxSemanticsE2ETest, AddHeaderOnAProxiedAnswerSeesTheUpstreamAnswer) {
  testing::TempDir dir;
  const std::string d = dir.path();
  const int port = testing::freeLoopbackPort();
  const std::string p = std::to_string(port);
  testing::ChildProcess edge = startAsNginx(
      dir, " access_log off;\n server {\n  listen 127.0.0.1:" + p +
               ";\n  location /p/ {\n   proxy_pass http://127.0.0.1:" + p +
               "/give;\n   add_header X-UC-a $upstream_cookie_a;\n"
               "   add_header X-UC-c $upstream_cookie_c;\n   add_header X-UC-z "
               "\"[$upstream_cookie_z]\";\n"
               "   add_header X-UH $upstream_http_x_thing;\n   add_header X-Q $arg_q;\n  }\n"
               "  location /give {\n   add_header Set-Cookie \"a=b; Path=/\";\n"
               "   add_header Set-Cookie c=d;\n   add_header X-Thing hello;\n   return 200 ok;\n"
               "  }\n }\n");
  ASSERT_TRUE(testing::waitForPort(port, 10000ms)) << startLog(dir);
  std::string answer =
      rawExchange(port, "GET /p/?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
  for (const char* line : {"\r\nX-UC-a: b\r\n", "\r\nX-UC-c: d\r\n", "\r\nX-UC-z: []\r\n",
                           "\r\nX-UH: hello\r\n", "\r\nX-Q: 1\r\n"}) {
    EXPECT_NE(answer.find(line), std::string::npos) << line << answer;
  }
}

// limit_rate, limit_rate_after and an origin's X-Accel-Limit-Rate pace the body (nginx's rule: a
// second's worth at once, then the rate); $upstream_response_time says how long origin took.
// Only lower bounds on time are checked: a slow machine makes an answer longer, never shorter.
TEST(NginxSemanticsE2ETest, LimitRateAndXAccelLimitRatePaceTheBody) {
  testing::TempDir dir;
  const std::string d = dir.path();
  const int port = testing::freeLoopbackPort();
  const std::string p = std::to_string(port);
  const std::string big(30000, 'X');
  dir.write("html/big.bin", big);
  testing::ChildProcess edge = startAsNginx(
      dir, " access_log off;\n root " + d + "/html;\n server {\n  listen 127.0.0.1:" + p +
               ";\n"
               "  location /slow/ { alias " +
               d +
               "/html/; limit_rate 12k; limit_rate_after 256; }\n"
               "  location /var/ { alias " +
               d +
               "/html/; limit_rate $arg_l; }\n"
               "  location /xal { proxy_pass http://127.0.0.1:" +
               p +
               "/give; }\n"
               "  location /give {\n   add_header X-Accel-Redirect /files/big.bin;\n"
               "   add_header X-Accel-Limit-Rate 12000;\n   return 204;\n  }\n"
               "  location /files/ { internal; alias " +
               d +
               "/html/; add_header X-Up $upstream_response_time; }\n"
               " }\n");
  ASSERT_TRUE(testing::waitForPort(port, 10000ms)) << startLog(dir);
  auto timed = [&](const std::string& target, std::string& answer) {
    auto start = std::chrono::steady_clock::now();
    answer =
        rawExchange(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::string answer;
  // 30,000 bytes: 256 + 12,288 at once, the rest at 12,288 a second: 1.4 s at the least.
  EXPECT_GE(timed("/slow/big.bin", answer), 1.3);
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer.substr(0, 200);
  EXPECT_EQ(answer.substr(answer.size() - big.size()), big);
  EXPECT_GE(timed("/var/big.bin?l=15000", answer), 0.9);  // (30,000 - 15,000) / 15,000
  EXPECT_EQ(answer.substr(answer.size() - big.size()), big);
  // Origin's X-Accel-Limit-Rate carries over to where its X-Accel-Redirect leads.
  EXPECT_GE(timed("/xal", answer), 1.4);  // (30,000 - 12,000) / 12,000
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer.substr(0, 200);
  EXPECT_EQ(answer.substr(answer.size() - big.size()), big);
  EXPECT_EQ(answer.find("X-Accel-Limit-Rate"), std::string::npos);
  size_t up = answer.find("\r\nX-Up: 0.");
  EXPECT_NE(up, std::string::npos) << answer.substr(0, 300);
}

TEST(NginxSemanticsE2ETest, ServersLocationsReturnAndVariables) {
  testing::TempDir dir;
  const std::string d = dir.path();
  const int port = testing::freeLoopbackPort();
  const int other = testing::freeLoopbackPort();
  const std::string p = std::to_string(port);
  dir.write("html/page.txt", "a page\n");
  testing::ChildProcess edge =
      startAsNginx(dir, " root " + d +
                            "/html;\n"
                            " limit_req_zone $binary_remote_addr zone=slow:1m rate=1r/m;\n"
                            " limit_req_zone $binary_remote_addr zone=slow2:1m rate=1r/m;\n"
                            " limit_req_zone $binary_remote_addr zone=fast:1m rate=20r/s;\n"
                            " server {\n  listen 127.0.0.1:" +
                            p +
                            ";\n  server_name localhost;\n"
                            "  add_header X-Server $server_name;\n"
                            "  location = / { return 204; }\n"
                            "  location / { }\n"
                            "  location ^~ /images/ { return 200 \"images $uri\"; }\n"
                            "  location ~* \\.(gif|jpg)$ { return 200 \"regex $1\"; }\n"
                            "  location /u/ {\n"
                            "   location ~ ^/u/(?<who>[a-z]+)$ {\n"
                            "    add_header X-Who $who;\n"
                            "    return 200 \"$who $arg_x $http_x_test\";\n"
                            "   }\n"
                            "  }\n"
                            "  location /go { return 301 /elsewhere; }\n"
                            "  location /go/name { return 302 /x; server_name_in_redirect on; }\n"
                            "  location /go/port { return 302 /x; port_in_redirect off; }\n"
                            "  location /go/relative { return 302 /x; absolute_redirect off; }\n"
                            "  location /al/ { alias " +
                            d +
                            "/html/; }\n"
                            "  location /idx/ { index missing.html $server_name.html; }\n"
                            "  location /loop/ { index /loop/; }\n"
                            "  location /tf/ { try_files $uri /page.txt; }\n"
                            "  location /tfn/ { try_files /nothing @fallback; }\n"
                            "  location @fallback { return 200 \"named $uri\"; }\n"
                            "  location /ep/ { error_page 404 =200 /page.txt; }\n"
                            "  location /epurl/ { error_page 404 http://example.com/; }\n"
                            "  location /hidden/ { internal; }\n"
                            "  location /rw/ { rewrite ^/rw/(\\w+)$ /$1.txt last; }\n"
                            "  location /rwurl { rewrite ^ http://example.com/x; }\n"
                            "  location /rwp { rewrite ^ /target permanent; }\n"
                            "  location /ra { rewrite ^ /show?a=1 last; }\n"
                            "  location = /show { return 200 \"$args\"; }\n"
                            "  location /set { set $v \"v$arg_x\"; return 200 $v; }\n"
                            "  location /if {\n"
                            "   if ($arg_x = yes) { return 200 yes; }\n"
                            "   if ($arg_x ~ ^(n)o$) { return 200 \"no $1\"; }\n"
                            "   return 200 other;\n"
                            "  }\n"
                            "  if ($http_x_block) { return 403; }\n"
                            "  location /lim { limit_req zone=slow nodelay; }\n"
                            "  location /lim429/ { limit_req zone=slow2; limit_req_status 429; }\n"
                            "  location /wait { limit_req zone=fast burst=5; }\n"
                            "  location /gone { return 410; }\n"
                            " }\n"
                            " server {\n  listen 127.0.0.1:" +
                            p +
                            ";\n  server_name *.example.com;\n"
                            "  location / { return 200 \"wildcard $host\"; }\n"
                            " }\n"
                            " server {\n  listen 127.0.0.1:" +
                            std::to_string(other) +
                            ";\n  location / { return 200 \"other port $server_port\"; }\n"
                            "  location /api/ { proxy_pass http://127.0.0.1:9; }\n"
                            " }\n");
  ASSERT_TRUE(testing::waitForPort(port, 10000ms)) << startLog(dir);
  ASSERT_TRUE(testing::waitForPort(other, 10000ms)) << startLog(dir);
  HttpClient c("127.0.0.1", port, 2000ms);

  auto r = c.request("GET", "/");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("x-server"), "localhost");
  r = c.request("GET", "/page.txt");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "a page\n");
  EXPECT_EQ(r->header("x-server"), "localhost");  // inherited from the server
  r = c.request("GET", "/images/a.gif");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "images /images/a.gif");  // ^~ keeps the regexes out
  r = c.request("GET", "/x/%61.JPG");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "regex JPG");  // matched on the decoded path, caseless
  r = c.request("GET", "/u/ann?x=1", {{"X-Test", "t"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "ann 1 t");
  EXPECT_EQ(r->header("x-who"), "ann");
  EXPECT_EQ(r->header("x-server"), "");  // the nested location has add_header of its own
  r = c.request("GET", "/go");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 301);
  EXPECT_EQ(r->header("location"), "http://127.0.0.1:" + p + "/elsewhere");  // the Host's name
  r = c.request("GET", "/go/name");
  EXPECT_EQ(r->header("location"), "http://localhost:" + p + "/x");
  r = c.request("GET", "/go/port");
  EXPECT_EQ(r->header("location"), "http://127.0.0.1/x");
  r = c.request("GET", "/go/relative");
  EXPECT_EQ(r->header("location"), "/x");
  r = c.request("GET", "/al/page.txt");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "a page\n");
  dir.write("html/sub dir/index.html", "sub\n");
  r = c.request("GET", "/al/sub%20dir?a=b");
  EXPECT_EQ(r->status, 301);
  EXPECT_EQ(r->header("location"), "http://127.0.0.1:" + p + "/al/sub%20dir/?a=b");
  // index: an internal redirect to the first name that is a file ($uri becomes it).
  dir.write("html/idx/localhost.html", "by server name\n");
  r = c.request("GET", "/idx/");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "by server name\n");
  r = c.request("GET", "/loop/");
  EXPECT_EQ(r->status, 500);  // nginx: rewrite or internal redirection cycle
  r = c.request("GET", "/tf/none");
  EXPECT_EQ(r->body, "a page\n");
  r = c.request("GET", "/tfn/x");
  EXPECT_EQ(r->body, "named /tfn/x");
  r = c.request("GET", "/ep/none");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "a page\n");
  r = c.request("GET", "/epurl/none");
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->header("location"), "http://example.com/");
  dir.write("html/hidden/x.txt", "x\n");
  r = c.request("GET", "/hidden/x.txt");
  EXPECT_EQ(r->status, 404);
  // The rewrite module.
  r = c.request("GET", "/rw/page");
  EXPECT_EQ(r->body, "a page\n");
  r = c.request("GET", "/rwurl");
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->header("location"), "http://example.com/x");
  r = c.request("GET", "/rwp");
  EXPECT_EQ(r->status, 301);
  EXPECT_EQ(r->header("location"), "http://127.0.0.1:" + p + "/target");
  r = c.request("GET", "/ra?b=2");
  EXPECT_EQ(r->body, "a=1&b=2");
  r = c.request("GET", "/set?x=1");
  EXPECT_EQ(r->body, "v1");
  EXPECT_EQ(c.request("GET", "/if?x=yes")->body, "yes");
  EXPECT_EQ(c.request("GET", "/if?x=no")->body, "no n");
  EXPECT_EQ(c.request("GET", "/if")->body, "other");
  r = c.request("GET", "/page.txt", {{"X-Block", "1"}});
  EXPECT_EQ(r->status, 403);  // the server's own rewrites run before any location
  // limit_req: beyond the rate, refused (503, or limit_req_status); within a burst, delayed.
  // (A `return` would answer before it: nginx's rewrite phase comes first.)
  dir.write("html/lim.txt", "limited\n");
  dir.write("html/lim429/x.txt", "limited\n");
  dir.write("html/wait.txt", "waited\n");
  EXPECT_EQ(c.request("GET", "/lim.txt")->status, 200);
  EXPECT_EQ(c.request("GET", "/lim.txt")->status, 503);
  EXPECT_EQ(c.request("GET", "/lim429/x.txt")->status, 200);
  EXPECT_EQ(c.request("GET", "/lim429/x.txt")->status, 429);
  for (int i = 0; i < 3; ++i) {
    r = c.request("GET", "/wait.txt");  // the 2nd and 3rd wait 50 ms each, then are answered
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->body, "waited\n");
  }
  r = c.request("GET", "/gone");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 410);
  EXPECT_NE(r->body.find("<title>410 Gone</title>"), std::string::npos);
  std::string wild = rawExchange(port, "GET / HTTP/1.0\r\nHost: A.Example.COM.\r\n\r\n");
  EXPECT_NE(wild.find("\r\n\r\nwildcard a.example.com"), std::string::npos) << wild;
  r = c.request("GET", "/u/../page.txt");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "a page\n");

  HttpClient o("127.0.0.1", other, 2000ms);
  r = o.request("GET", "/anything");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->body, "other port " + std::to_string(other));
  r = o.request("GET", "/api?x=1");  // a proxy location's path without its slash
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->status, 301);
  EXPECT_EQ(r->header("location"), "http://127.0.0.1:" + std::to_string(other) + "/api/?x=1");
}

// How many times `needle` occurs in `hay`.
size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1))
    ++n;
  return n;
}

TEST(NginxSemanticsE2ETest, KeepAliveAccessLogsAndAccelRedirect) {
  testing::TempDir dir;
  const std::string d = dir.path();
  const int port = testing::freeLoopbackPort();
  const std::string p = std::to_string(port);
  dir.write("html/page.txt", "a page\n");
  dir.write("html/k/a.txt", "k\n");
  dir.write("html/zero/a.txt", "z\n");
  dir.write("html/quiet/a.txt", "q\n");
  dir.write("html/files/f.txt", "protected\n");
  testing::ChildProcess edge = startAsNginx(
      dir, " root " + d +
               "/html;\n"
               " log_format t '$request_method $uri $status $sent_http_connection';\n"
               " log_format j escape=json '{\"ua\":\"$http_user_agent\"}';\n"
               " access_log all.log;\n"
               " access_log some.log t if=$arg_log;\n"
               " keepalive_timeout 30s 9;\n"
               " server {\n  listen 127.0.0.1:" +
               p +
               ";\n"
               "  add_header X-Conn $connection_requests;\n"
               "  location /k/ { keepalive_requests 2; }\n"
               "  location /zero/ { keepalive_timeout 0; }\n"
               "  location /quiet/ { access_log off; }\n"
               "  location /typed/ { types { text/x-t t T2; } default_type application/x-d; }\n"
               "  location /gzon/ { gzip_static on; }\n"
               "  location /gzalways/ { gzip_static always; }\n"
               "  location /json/ { access_log json.log j; return 200 j; }\n"
               "  location /xar { proxy_pass http://127.0.0.1:" +
               p +
               "/give; }\n"
               "  location /give {\n"
               "   add_header X-Accel-Redirect $arg_to;\n"
               "   add_header Content-Type text/blah;\n"
               "   add_header X-Other other;\n"
               "   return 204;\n"
               "  }\n"
               "  location /files/ { internal; }\n"
               "  location /psh {\n"
               "   proxy_pass http://127.0.0.1:" +
               p +
               "/showhdr;\n"
               "   proxy_set_header X-From edge-$arg_v;\n"
               "   proxy_set_header User-Agent \"\";\n"
               "   proxy_set_header Host example.test;\n"
               "  }\n"
               "  location /viaproxy { proxy_pass http://127.0.0.1:" +
               p +
               "/rm; }\n"
               "  location = /rm { return 200 \"$request_method\"; }\n"
               "  location /inj { add_header X-U $uri; return 204; }\n"
               "  location /showhdr {\n"
               "   add_header X-Accel-Expires 10;\n"
               "   add_header X-Accel-Buffering no;\n"
               "   return 200 \"$http_x_from|$http_user_agent|$host\";\n"
               "  }\n"
               "  location @named { return 200 \"named $upstream_http_x_accel_redirect $uri\"; }\n"
               " }\n");
  ASSERT_TRUE(testing::waitForPort(port, 10000ms)) << startLog(dir);

  // keepalive_requests 2: of three pipelined requests two are answered, the second says close.
  const std::string get_k = "GET /k/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n";
  std::string three = rawExchange(port, get_k + get_k + get_k);
  EXPECT_EQ(count(three, "HTTP/1.1 200 OK"), 2u) << three;
  EXPECT_EQ(count(three, "Connection: keep-alive\r\n"), 1u) << three;
  EXPECT_EQ(count(three, "Keep-Alive: timeout=9\r\n"), 1u) << three;
  EXPECT_EQ(count(three, "Connection: close\r\n"), 1u) << three;
  EXPECT_NE(three.find("X-Conn: 1\r\n"), std::string::npos) << three;
  EXPECT_NE(three.find("X-Conn: 2\r\n"), std::string::npos) << three;
  // keepalive_timeout 0: no keep-alive at all.
  std::string zero =
      rawExchange(port, "GET /zero/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n" + get_k);
  EXPECT_EQ(count(zero, "HTTP/1.1 200 OK"), 1u) << zero;
  EXPECT_NE(zero.find("Connection: close\r\n"), std::string::npos) << zero;
  // keepalive_disable msie6 (the default): an old MSIE's POST closes.
  std::string msie = rawExchange(port,
                                 "POST /give?to= HTTP/1.1\r\nHost: localhost\r\nUser-Agent: "
                                 "Mozilla/4.0 (compatible; MSIE 5.0)\r\nContent-Length: 0\r\n\r\n" +
                                     get_k);
  EXPECT_EQ(count(msie, "HTTP/1.1 "), 1u) << msie;

  HttpClient c("127.0.0.1", port, 2000ms);
  // No surge_status location: /healthz is a file of the root like any other, /metrics nothing.
  dir.write("html/healthz", "a file\n");
  EXPECT_EQ(c.request("GET", "/healthz")->body, "a file\n");
  EXPECT_EQ(c.request("GET", "/metrics")->status, 404);
  // gzip_static: off (nginx's default) serves the file itself; on, its .gz to who takes gzip;
  // always, its .gz to anyone.
  for (const char* d2 : {"off", "gzon", "gzalways"}) {
    dir.write(std::string("html/") + d2 + "/f.txt", "plain\n");
    dir.write(std::string("html/") + d2 + "/f.txt.gz", "not really gzip\n");
  }
  auto gz = [&](const char* path, bool accept) {
    auto a = c.request(
        "GET", path,
        accept ? std::vector<std::pair<std::string, std::string>>{{"Accept-Encoding", "gzip"}}
               : std::vector<std::pair<std::string, std::string>>{});
    return a->header("content-encoding") + ":" + a->body;
  };
  EXPECT_EQ(gz("/off/f.txt", true), ":plain\n");
  EXPECT_EQ(gz("/gzon/f.txt", true), "gzip:not really gzip\n");
  EXPECT_EQ(gz("/gzon/f.txt", false), ":plain\n");
  EXPECT_EQ(gz("/gzalways/f.txt", false), "gzip:not really gzip\n");
  // types and default_type: the block replaces surge's own table.
  dir.write("html/typed/a.t", "t\n");
  dir.write("html/typed/b.t2", "t\n");
  dir.write("html/typed/c.html", "h\n");
  EXPECT_EQ(c.request("GET", "/typed/a.t")->header("content-type"), "text/x-t");
  EXPECT_EQ(c.request("GET", "/typed/b.t2")->header("content-type"), "text/x-t");
  EXPECT_EQ(c.request("GET", "/typed/c.html")->header("content-type"), "application/x-d");
  EXPECT_EQ(c.request("GET", "/page.txt")->header("content-type"), "text/plain; charset=utf-8");
  // X-Accel-Redirect: origin (here the edge itself) names an internal location; the answer is
  // its file, with origin's Content-Type and without origin's other headers.
  auto r = c.request("GET", "/xar?to=/files/f.txt&log=1");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "protected\n");
  EXPECT_EQ(r->header("content-type"), "text/blah");
  EXPECT_EQ(r->header("x-other"), "");
  r = c.request("POST", "/xar?to=/files/f.txt", {}, "body");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->status, 200);  // served as a GET
  r = c.request("GET", "/xar?to=/files/../page.txt");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->status, 404);  // unsafe
  r = c.request("GET", "/xar?to=@named");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->body, "named @named /xar");
  EXPECT_EQ(c.request("GET", "/files/f.txt")->status, 404);  // internal
  // A redirect by X-Accel-Redirect into a proxy location goes to origin as a GET, body dropped.
  r = c.request("POST", "/xar?to=/viaproxy", {}, "body");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->body, "GET");
  // A decoded CR LF in a variable never makes a header line of its own.
  std::string inj = rawExchange(port, "GET /inj%0d%0aX-Evil:%201 HTTP/1.0\r\n\r\n");
  EXPECT_NE(inj.find("X-U: /inj  X-Evil: 1\r\n"), std::string::npos) << inj;
  EXPECT_EQ(inj.find("\r\nX-Evil"), std::string::npos) << inj;
  // A closing answer says nothing of a keep-alive timeout.
  std::string closing =
      rawExchange(port, "GET /page.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(closing.find("Connection: close\r\n"), std::string::npos) << closing;
  EXPECT_EQ(closing.find("Keep-Alive:"), std::string::npos) << closing;
  // proxy_set_header: set (with variables), removed (empty), Host replaced; origin's X-Accel-*
  // instructions are the proxy's, not the client's.
  r = c.request("GET", "/psh?v=1", {{"User-Agent", "client"}, {"X-From", "client"}});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->body, "edge-1||example.test");
  EXPECT_EQ(r->header("x-accel-expires"), "");
  EXPECT_EQ(r->header("x-accel-buffering"), "");
  EXPECT_EQ(c.request("GET", "/quiet/a.txt?log=1")->status, 200);
  EXPECT_EQ(c.request("GET", "/page.txt?log=0")->status, 200);
  EXPECT_EQ(c.request("GET", "/json/", {{"User-Agent", "a\"b"}})->body, "j");

  // The writers flush every 100 ms.
  std::string some, all, json;
  for (int i = 0; i < 50 && (json.empty() || all.find("?log=0") == std::string::npos); ++i) {
    std::this_thread::sleep_for(100ms);
    all = readFile(d + "/all.log");
    json = readFile(d + "/json.log");
  }
  some = readFile(d + "/some.log");
  // if=$arg_log: only the request with log=1 outside /quiet/, origin's (the edge itself, asked
  // for /give with the same query); the client's took the redirect's empty query, as in nginx.
  EXPECT_EQ(some, "GET /give 204 keep-alive\n");
  EXPECT_NE(all.find("\"GET /xar?to=/files/f.txt&log=1 HTTP/1.1\" 200 10 "), std::string::npos)
      << all;
  EXPECT_EQ(json, "{\"ua\":\"a\\\"b\"}\n");
  EXPECT_NE(all.find("\"GET /page.txt?log=0 HTTP/1.1\" 200 7 "), std::string::npos) << all;
  EXPECT_EQ(all.find("/quiet/"), std::string::npos) << all;
  EXPECT_EQ(all.find("/json/"), std::string::npos) << all;
}

}  // namespace
}  // namespace surge::edge::test
