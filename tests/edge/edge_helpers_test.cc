// The edge's small pure helpers: origin answer heads, snapshot names for API paths, access log
// lines, and gzip.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <regex>
#include <string>

#include "surge/edge/edge_server.h"
#include "surge/edge/log_format.h"
#include "surge/edge/origin_forwarder.h"
#include "surge/edge/snapshot_cache.h"

namespace surge::edge {
namespace {

// ---------------------------------------------------------------------------------------------
// parseUpstreamHead, isHopByHop

TEST(UpstreamHeadTest, CompleteHeadWithContentLength) {
  const std::string head_text =
      "HTTP/1.1 201 Created\r\n"
      "Content-Type: application/json\r\n"
      "Content-Length: 5\r\n"
      "X-Request-Id: abc\r\n"
      "\r\n";
  UpstreamHead head;
  head.headers = "stale";
  EXPECT_EQ(parseUpstreamHead(head_text + "hello", head), 1);
  EXPECT_EQ(head.status, 201);
  EXPECT_EQ(head.header_bytes, head_text.size());
  EXPECT_EQ(head.content_length, std::optional<size_t>(5));
  EXPECT_FALSE(head.chunked);
  EXPECT_FALSE(head.close);
  EXPECT_EQ(head.headers, "Content-Type: application/json\r\nX-Request-Id: abc\r\n");
}

TEST(UpstreamHeadTest, NoBodyFramingAndNoReason) {
  UpstreamHead head;
  EXPECT_EQ(parseUpstreamHead("HTTP/1.1 204\r\n\r\n", head), 1);
  EXPECT_EQ(head.status, 204);
  EXPECT_EQ(head.header_bytes, 16u);
  EXPECT_EQ(head.content_length, std::nullopt);
  EXPECT_EQ(head.headers, "");
  EXPECT_EQ(parseUpstreamHead("HTTP/1.1 404 \r\n\r\n", head), 1);
  EXPECT_EQ(head.status, 404);
}

TEST(UpstreamHeadTest, IncompleteHeadNeedsMore) {
  UpstreamHead head;
  EXPECT_EQ(parseUpstreamHead("", head), 0);
  EXPECT_EQ(parseUpstreamHead("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", head), 0);
  EXPECT_EQ(parseUpstreamHead("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r", head), 0);
  // A bare LF ends a line, as nginx reads an upstream (RFC 9112 2.2).
  EXPECT_EQ(parseUpstreamHead("HTTP/1.1 200 OK\n\n", head), 1);
  EXPECT_EQ(parseUpstreamHead("HTTP/1.1 200 OK\nX: 1\n", head), 0);
  // An endless head is malformed, not "need more".
  std::string huge = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(70000, 'a');
  EXPECT_EQ(parseUpstreamHead(huge, head), -1);
}

TEST(UpstreamHeadTest, BadStatusLines) {
  UpstreamHead head;
  for (std::string_view bad :
       {"HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTX/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 999 Nope\r\n\r\n", "HTTP/1.1 099 Low\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n", "HTTP/1.1-200 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n", "\r\n\r\n", "garbage\r\n\r\n"}) {
    EXPECT_EQ(parseUpstreamHead(bad, head), -1) << bad;
  }
}

TEST(UpstreamHeadTest, BadHeaderLines) {
  UpstreamHead head;
  for (std::string_view bad :
       {"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", "HTTP/1.1 200 OK\r\n: empty-name\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "HTTP/1.1 200 OK\r\nX-A : x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n"}) {
    EXPECT_EQ(parseUpstreamHead(bad, head), -1) << bad;
  }
}

TEST(UpstreamHeadTest, ContentLength) {
  UpstreamHead head;
  EXPECT_EQ(
      parseUpstreamHead("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", head),
      -1);
  EXPECT_EQ(
      parseUpstreamHead("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n", head),
      1);
  EXPECT_EQ(head.content_length, std::optional<size_t>(5));
  EXPECT_EQ(parseUpstreamHead("HTTP/1.1 200 OK\r\nContent-Length:  12 \r\n\r\n", head), 1);
  EXPECT_EQ(head.content_length, std::optional<size_t>(12));
  EXPECT_EQ(parseUpstreamHead("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", head), 1);
  EXPECT_EQ(head.content_length, std::optional<size_t>(0));
  for (std::string_view bad : {"abc", "-1", "+5", "5 5", "", "5,5", "0x10"}) {
    std::string text = "HTTP/1.1 200 OK\r\nContent-Length: " + std::string(bad) + "\r\n\r\n";
    EXPECT_EQ(parseUpstreamHead(text, head), -1) << bad;
  }
}

TEST(UpstreamHeadTest, TransferEncodingSetsChunked) {
  UpstreamHead head;
  EXPECT_EQ(
      parseUpstreamHead("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n", head),
      1);
  EXPECT_TRUE(head.chunked);
  EXPECT_FALSE(head.close);
  EXPECT_EQ(head.headers, "X-A: 1\r\n");
}

TEST(UpstreamHeadTest, ConnectionClose) {
  UpstreamHead head;
  EXPECT_EQ(parseUpstreamHead("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", head), 1);
  EXPECT_TRUE(head.close);
  EXPECT_EQ(head.headers, "");
  EXPECT_EQ(parseUpstreamHead("HTTP/1.1 200 OK\r\nconnection: Keep-Alive, CLOSE\r\n\r\n", head), 1);
  EXPECT_TRUE(head.close);
  EXPECT_EQ(parseUpstreamHead("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n", head), 1);
  EXPECT_FALSE(head.close);
  EXPECT_EQ(parseUpstreamHead("HTTP/1.1 200 OK\r\nConnection: closed\r\n\r\n", head), 1);
  EXPECT_FALSE(head.close);
}

TEST(UpstreamHeadTest, Http10Closes) {
  UpstreamHead head;
  EXPECT_EQ(parseUpstreamHead("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", head), 1);
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.close);
  EXPECT_EQ(parseUpstreamHead("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", head), 1);
  EXPECT_FALSE(head.close);
}

TEST(UpstreamHeadTest, HopByHopHeadersAreDropped) {
  UpstreamHead head;
  EXPECT_EQ(parseUpstreamHead("HTTP/1.1 200 OK\r\n"
                              "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                              "Server: surge-origin\r\n"
                              "X-First: 1\r\n"
                              "Connection: keep-alive, X-Secret\r\n"
                              "Keep-Alive: timeout=5\r\n"
                              "Cache-Control: no-store\r\n"
                              "x-secret: hidden\r\n"
                              "Content-Length: 2\r\n"
                              "Set-Cookie: a=1\r\n"
                              "Trailer: X-T\r\n"
                              "Upgrade: h2c\r\n"
                              "Set-Cookie: b=2\r\n"
                              "X-Empty:\r\n"
                              "\r\nok",
                              head),
            1);
  EXPECT_EQ(head.headers,
            "X-First: 1\r\n"
            "Cache-Control: no-store\r\n"
            "Set-Cookie: a=1\r\n"
            "Set-Cookie: b=2\r\n"
            "X-Empty: \r\n");
  EXPECT_EQ(head.content_length, std::optional<size_t>(2));
  EXPECT_FALSE(head.close);
}

TEST(UpstreamHeadTest, IsHopByHop) {
  for (std::string_view name :
       {"Connection", "connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade",
        "Transfer-Encoding", "Proxy-Authenticate", "Proxy-Authorization", "Content-Length", "Host",
        "Date", "Server", "Expect", "SERVER"}) {
    EXPECT_TRUE(isHopByHop(name)) << name;
  }
  for (std::string_view name : {"Content-Type", "X-Request-Id", "Cache-Control", "Set-Cookie",
                                "Location", "Retry-After", "ETag", "Trailers", "", "Dates"}) {
    EXPECT_FALSE(isHopByHop(name)) << name;
  }
}

TEST(BacklogRetryAfterTest, SpreadOutsideItsRangeIsClamped) {
  EXPECT_EQ(backlogRetryAfter(3000, 1500, -5), 3);
  EXPECT_EQ(backlogRetryAfter(3000, 1500, 7), 4);  // 4.5
}

// ---------------------------------------------------------------------------------------------
// snapshotNameForPath

TEST(SnapshotNameTest, Regions) {
  EXPECT_EQ(snapshotNameForPath("/api/v1/regions"), "regions");
  EXPECT_EQ(snapshotNameForPath("/api/v1/regions/"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/regionsx"), "");
}

TEST(SnapshotNameTest, RegionClinics) {
  EXPECT_EQ(snapshotNameForPath("/api/v1/regions/11/clinics"), "region/11");
  EXPECT_EQ(snapshotNameForPath("/api/v1/regions/11110/clinics"), "region/11110");
  EXPECT_EQ(snapshotNameForPath("/api/v1/regions/1234567890/clinics"), "region/1234567890");
  EXPECT_EQ(snapshotNameForPath("/api/v1/regions/x/clinics"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/regions/1/clinics"), "");  // at least 2 digits
  EXPECT_EQ(snapshotNameForPath("/api/v1/regions/12345678901/clinics"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/regions/11/clinics/"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/regions/11/clinic"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/regions//clinics"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/regions/clinics"),
            "");  // "regions/" and "/clinics" overlap
  EXPECT_EQ(snapshotNameForPath("/api/v1/regions/1a/clinics"), "");
}

TEST(SnapshotNameTest, Clinics) {
  EXPECT_EQ(snapshotNameForPath("/api/v1/clinics/100001"), "clinic/100001");
  EXPECT_EQ(snapshotNameForPath("/api/v1/clinics/7"), "clinic/7");
  EXPECT_EQ(snapshotNameForPath("/api/v1/clinics/1234567890123456"), "clinic/1234567890123456");
  EXPECT_EQ(snapshotNameForPath("/api/v1/clinics/12345678901234567"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/clinics/0123"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/clinics/0"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/clinics/"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/clinics"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/clinics/12a"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/clinics/7/slots"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/clinics/-7"), "");
}

TEST(SnapshotNameTest, Named) {
  EXPECT_EQ(snapshotNameForPath("/api/v1/snapshots/notice"), "named/notice");
  EXPECT_EQ(snapshotNameForPath("/api/v1/snapshots/faq-2026.v1_ko"), "named/faq-2026.v1_ko");
  EXPECT_EQ(snapshotNameForPath("/api/v1/snapshots/" + std::string(64, 'a')),
            "named/" + std::string(64, 'a'));
  EXPECT_EQ(snapshotNameForPath("/api/v1/snapshots/" + std::string(65, 'a')), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/snapshots/"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/snapshots/.hidden"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/snapshots/Notice"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/snapshots/a/b"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/snapshots/a%20b"), "");
  EXPECT_EQ(snapshotNameForPath("/api/v1/snapshots"), "");
}

TEST(SnapshotNameTest, OtherPaths) {
  for (std::string_view path :
       {"", "/", "/api", "/api/v1", "/api/v1/", "/api/v2/regions", "/api/v1/bookings",
        "/API/v1/regions", "/api/v1/regions?x=1", "api/v1/regions", "//api/v1/regions"}) {
    EXPECT_EQ(snapshotNameForPath(path), "") << path;
  }
}

// ---------------------------------------------------------------------------------------------
// LogFormat

// Sets TZ for the test and restores it afterwards.
class ScopedTz {
 public:
  explicit ScopedTz(const char* tz) {
    const char* old = std::getenv("TZ");
    if (old != nullptr) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ScopedTz() {
    if (old_) {
      ::setenv("TZ", old_->c_str(), 1);
    } else {
      ::unsetenv("TZ");
    }
    ::tzset();
  }
  ScopedTz(const ScopedTz&) = delete;
  ScopedTz& operator=(const ScopedTz&) = delete;

 private:
  std::optional<std::string> old_;
};

// A log line for a request with `request_line`'s parts, answered with `status` and `body`.
struct LoggedRequest {
  std::string method = "GET", target = "/", remote = "10.0.0.1";
  int minor = 1;
  std::vector<std::pair<std::string, std::string>> headers;
  int status = 200;
  std::string body;
  std::string response_headers;
  int64_t keep_alive_s = -1;

  std::string line(const LogFormat& format) const {
    http::Request r;
    r.method = method;
    r.target = target;
    r.path = std::string_view(target).substr(0, target.find('?'));
    r.version_minor = minor;
    r.remote_addr = remote;
    for (const auto& [n, v] : headers)
      r.headers.push_back(http::Header{n, v});
    http::Worker worker(nullptr, nullptr, 0);
    Exchange ex(worker, r, http::ResponseSlot{}, std::chrono::steady_clock::now());
    if (size_t q = target.find('?'); q != std::string::npos) ex.args = target.substr(q + 1);
    http::Response response;
    response.status = status;
    response.body = body;
    response.headers = response_headers;
    response.keep_alive_header_s = keep_alive_s;
    return format.line(ex, response, ex.start);
  }
};

// "[06/Nov/1994:08:49:37 " (the offset follows).
const char* kTimeLocal = R"(\[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} )";

TEST(LogFormatTest, CombinedAsNginxWritesIt) {
  ScopedTz tz("UTC");
  LoggedRequest q;
  q.target = "/index.html";
  q.headers = {{"Referer", "https://example.com/"}, {"User-Agent", "Mozilla/5.0 (X11)"}};
  q.body = std::string(1234, 'x');
  std::string line = q.line(*LogFormat::combined());
  EXPECT_TRUE(
      std::regex_match(line, std::regex(std::string("10\\.0\\.0\\.1 - - ") + kTimeLocal +
                                        R"re(\+0000\] "GET /index\.html HTTP/1\.1" 200 1234 )re"
                                        R"re("https://example\.com/" "Mozilla/5\.0 \(X11\)")re")))
      << line;
}

TEST(LogFormatTest, DashForEmptyValuesAndNoBodyForHead) {
  ScopedTz tz("UTC");
  LoggedRequest q;
  q.method = "HEAD";
  q.minor = 0;
  q.remote = "::1";
  q.status = 304;
  std::string line = q.line(*LogFormat::combined());
  EXPECT_TRUE(line.ends_with("] \"HEAD / HTTP/1.0\" 304 0 \"-\" \"-\"")) << line;
  EXPECT_TRUE(line.starts_with("::1 - - [")) << line;
}

TEST(LogFormatTest, LocalTimeZone) {
  ScopedTz tz("KST-9");  // POSIX form: UTC+9, no tzdata needed
  std::string line = LoggedRequest().line(*LogFormat::combined());
  EXPECT_NE(line.find(" +0900] "), std::string::npos) << line;
}

TEST(LogFormatTest, EscapingAsTheFormatSays) {
  LoggedRequest q;
  q.target = "/\"a\\b";
  q.status = 400;
  q.body = "0123456789";
  q.headers = {{"Referer", "r\"e\\f"}, {"User-Agent", "ua\t\r\n\x01\x1f\x7f\xc3\xa9 ok"}};
  EXPECT_TRUE(q.line(*LogFormat::combined())
                  .ends_with("\"GET /\\x22a\\x5Cb HTTP/1.1\" 400 10 \"r\\x22e\\x5Cf\" "
                             "\"ua\\x09\\x0D\\x0A\\x01\\x1F\\x7F\\xC3\\xA9 ok\""));
  // Printable ASCII is kept as it is, including the separators of the log format.
  LoggedRequest p;
  p.target = "/a?b=[c]&d='e'";
  p.headers = {{"Referer", "-"}, {"User-Agent", " "}};
  EXPECT_TRUE(p.line(*LogFormat::combined())
                  .ends_with("\"GET /a?b=[c]&d='e' HTTP/1.1\" 200 0 \"-\" \" \""));
  auto json = LogFormat::compile("j", LogFormat::Escape::kJson, "{\"ua\":\"$http_user_agent\"}");
  ASSERT_TRUE(json);
  EXPECT_EQ(q.line(json.value()), "{\"ua\":\"ua\\t\\r\\n\\u0001\\u001F\x7f\xc3\xa9 ok\"}");
  auto none = LogFormat::compile("n", LogFormat::Escape::kNone, "$http_referer");
  ASSERT_TRUE(none);
  EXPECT_EQ(q.line(none.value()), "r\"e\\f");
}

TEST(VariablesTest, HostAsNginxHasIt) {
  for (auto [host, want] : std::vector<std::pair<std::string, std::string>>{
           {"Example.COM.:8080", "example.com"},
           {"[ABCD::ef98:0:7654:321]:80", "[abcd::ef98:0:7654:321]"},
           {"[::123.45.67.89]", "[::123.45.67.89]"},
           {"l", "l"}}) {
    http::Request r;
    r.headers.push_back(http::Header{"Host", host});
    EXPECT_EQ(requestHost(r), want) << host;
  }
}

TEST(LogFormatTest, AnswerVariables) {
  auto f = LogFormat::compile("t", LogFormat::Escape::kDefault,
                              "$status $body_bytes_sent $sent_http_x_cache "
                              "$sent_http_connection $sent_http_keep_alive $arg_a $request_time");
  ASSERT_TRUE(f);
  LoggedRequest q;
  q.target = "/p?a=1";
  q.status = 404;
  q.body = "abc";
  q.response_headers = "X-Cache: HIT\r\n";
  q.keep_alive_s = 9;
  // $request_time: seconds with milliseconds since the request began (here, a moment ago).
  std::string line = q.line(f.value());
  EXPECT_TRUE(std::regex_match(line, std::regex("404 3 HIT keep-alive timeout=9 1 0\\.0[0-9]{2}")))
      << line;
  EXPECT_EQ(f.value().declaredNames(), std::vector<std::string>{});
}

// ---------------------------------------------------------------------------------------------
// gzipCompress

std::optional<std::string> gunzip(const std::string& compressed) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return std::nullopt;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - zs.avail_out);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // truncated input
  }
  bool consumed_all = zs.avail_in == 0;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || !consumed_all) return std::nullopt;
  return out;
}

TEST(GzipTest, RoundTrip) {
  std::string text;
  for (int i = 0; i < 5000; ++i)
    text += "{\"slot\":" + std::to_string(i) + ",\"remaining\":" + std::to_string(i % 7) + "},";
  std::string binary;
  uint32_t x = 12345;
  for (int i = 0; i < 300000; ++i) {
    x = x * 1103515245u + 12345u;
    binary += static_cast<char>(x >> 24);
  }
  for (const std::string& input :
       {std::string(), std::string("hello"), text, binary, std::string("\0\0\xff", 3)}) {
    for (int level : {1, 6, 9}) {
      std::string gz = gzipCompress(input, level);
      ASSERT_GE(gz.size(), 18u) << input.size();  // gzip header and trailer at least
      EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
      EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
      std::optional<std::string> back = gunzip(gz);
      ASSERT_TRUE(back.has_value()) << input.size() << " level " << level;
      EXPECT_EQ(*back, input) << input.size() << " level " << level;
    }
  }
  EXPECT_LT(gzipCompress(text).size(), text.size() / 4);
}

TEST(GzipTest, DefaultLevelIsSix) {
  std::string text(100000, 'x');
  EXPECT_EQ(gzipCompress(text), gzipCompress(text, 6));
}

// gzip on: a whole answer compressed in place, up to 4 MiB (larger ones would stall the worker's
// loop while they are deflated: they go as they are).
TEST(GzipAnswerTest, CompressesWholeAnswersUpToTheCap) {
  GzipSettings gzip;
  gzip.on = true;
  gzip.vary = true;
  http::Request request;
  request.method = "GET";
  request.headers = {{"Accept-Encoding", "gzip"}};
  auto page = [](size_t size) {
    http::Response r;
    r.headers = "Content-Type: text/html\r\nETag: \"e\"\r\nAccept-Ranges: bytes\r\n";
    r.body = std::string(size, 'x');
    return r;
  };
  http::Response small = page(100000);
  gzipAnswer(gzip, request, small);
  EXPECT_NE(small.headers.find("Content-Encoding: gzip\r\n"), std::string::npos) << small.headers;
  EXPECT_NE(small.headers.find("ETag: W/\"e\"\r\n"), std::string::npos) << small.headers;
  EXPECT_EQ(small.headers.find("Accept-Ranges"), std::string::npos) << small.headers;
  EXPECT_NE(small.headers.find("Vary: Accept-Encoding\r\n"), std::string::npos);
  EXPECT_LT(small.shared_body.size(), 1000u);
  http::Response big = page((4u << 20) + 1);
  gzipAnswer(gzip, request, big);
  EXPECT_EQ(big.headers.find("Content-Encoding"), std::string::npos) << big.headers;
  EXPECT_EQ(big.body.size(), (4u << 20) + 1);
  http::Response other_type = page(100000);
  other_type.headers = "Content-Type: image/png\r\n";
  gzipAnswer(gzip, request, other_type);
  EXPECT_EQ(other_type.headers, "Content-Type: image/png\r\n");  // nor Vary: not a gzip type
}

}  // namespace
}  // namespace surge::edge
