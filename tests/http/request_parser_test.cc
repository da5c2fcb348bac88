#include "surge/http/request_parser.h"

#include <gtest/gtest.h>

namespace surge::http {
namespace {

struct Parsed {
  ParseResult result;
  Request request;
  size_t consumed = 0;
  ParseError error;
};

Parsed parse(std::string_view in, ParseLimits limits = {}) {
  Parsed p;
  p.result = parseRequest(in, limits, p.request, p.consumed, p.error);
  return p;
}

void expectError(std::string_view in, int status, const char* what) {
  Parsed p = parse(in);
  EXPECT_EQ(p.result, ParseResult::kError) << what;
  EXPECT_EQ(p.error.status, status) << what << ": " << p.error.reason;
}

TEST(RequestParserTest, ParsesASimpleGet) {
  std::string_view text = "GET /api/v1/regions?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n";
  std::string input = std::string(text) + "GET /next";  // views point into it
  Parsed p = parse(input);
  ASSERT_EQ(p.result, ParseResult::kComplete);
  EXPECT_EQ(p.request.method, "GET");
  EXPECT_EQ(p.request.path, "/api/v1/regions");
  EXPECT_EQ(p.request.query, "x=1");
  EXPECT_EQ(p.request.header("accept"), "*/*");
  EXPECT_TRUE(p.request.keep_alive);
  EXPECT_EQ(p.consumed, text.size());
}

TEST(RequestParserTest, BodiesByLengthAndChunked) {
  Parsed cl = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET");
  ASSERT_EQ(cl.result, ParseResult::kComplete);
  EXPECT_EQ(cl.request.body, "hello");
  Parsed chunked = parse(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n");
  ASSERT_EQ(chunked.result, ParseResult::kComplete) << chunked.error.reason;
  EXPECT_EQ(chunked.request.body, "hello world");
}

TEST(RequestParserTest, IncompleteUntilEverythingArrives) {
  std::string full = "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
  for (size_t n = 0; n < full.size(); ++n) {
    EXPECT_EQ(parse(full.substr(0, n)).result, ParseResult::kIncomplete) << n;
  }
  EXPECT_EQ(parse(full).result, ParseResult::kComplete);
}

TEST(RequestParserTest, ConnectionAndVersions) {
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\n\r\n").request.keep_alive);
  EXPECT_TRUE(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").request.keep_alive);
  expectError("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP/2.0");
  expectError("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "HTTP/1.2");
  expectError("GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400, "bad protocol");
  expectError("GET / http/1.1\r\nHost: a\r\n\r\n", 400, "lower-case version");
}

TEST(RequestParserTest, RefusesSmugglingForms) {
  expectError(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
      "CL + TE");
  expectError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
              400, "duplicate CL");
  expectError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400, "signed CL");
  expectError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3 3\r\n\r\nabc", 400, "CL list");
  expectError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\nabc", 400, "hex CL");
  expectError(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \x01"
      "3\r\n\r\nabc",
      400, "control byte in CL");
  expectError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 501,
              "chunked, identity");
  expectError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "gzip TE");
  expectError("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 501,
              "obfuscated TE");
  expectError(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
      "chunked\r\n\r\n",
      501, "duplicate TE");
  expectError("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "TE on 1.0");
  expectError("POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\nabc", 400,
              "space before colon");
  expectError("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n", 400, "obs-fold");
  expectError("GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n", 400, "bare CR");
  expectError(std::string_view("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 29), 400, "NUL");
  expectError("GET / HTTP/1.1\r\nX: a\x7f\r\nHost: a\r\n\r\n", 400, "DEL in value");
  expectError("GET / HTTP/1.1\r\n\r\n", 400, "no Host");
  expectError("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "two Hosts");
  expectError("GET ftp://evil/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "other scheme");
  expectError("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad method");
  expectError("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "space in target");
  expectError("GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "8-bit target");
  expectError("POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", 417, "expectation");
}

// RFC 9112 2.2 lets a recipient take a bare LF as a line end; nginx does, and nginx's own tests
// send such requests. A bare CR stays refused (above).
TEST(RequestParserTest, ABareLfEndsALineAsInNginx) {
  std::string text = "\nGET /a HTTP/1.1\nHost: a\r\nX: 1\n\n";
  std::string input = text + "GET /next";  // views point into it
  Parsed p = parse(input);
  ASSERT_EQ(p.result, ParseResult::kComplete) << p.error.reason;
  EXPECT_EQ(p.request.path, "/a");
  EXPECT_EQ(p.request.header("x"), "1");
  EXPECT_EQ(p.consumed, text.size());
  Parsed chunked =
      parse("POST / HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n5\nhello\n0\nT: 1\n\n");
  ASSERT_EQ(chunked.result, ParseResult::kComplete) << chunked.error.reason;
  EXPECT_EQ(chunked.request.body, "hello");
  EXPECT_EQ(parse("GET / HTTP/1.1\nHost: a\n").result, ParseResult::kIncomplete);
}

// RFC 9112 3.2.2: a server must accept the absolute form; its authority is the host.
TEST(RequestParserTest, AbsoluteFormTargetsGiveTheirHost) {
  Parsed p = parse("GET http://Example.COM:8080/a/b?c=d HTTP/1.1\r\nHost: other\r\n\r\n");
  ASSERT_EQ(p.result, ParseResult::kComplete) << p.error.reason;
  EXPECT_EQ(p.request.target, "/a/b?c=d");
  EXPECT_EQ(p.request.path, "/a/b");
  EXPECT_EQ(p.request.query, "c=d");
  EXPECT_EQ(p.request.authority, "Example.COM:8080");
  EXPECT_EQ(p.request.host(), "Example.COM:8080");
  Parsed bare = parse("GET HTTPS://h HTTP/1.0\r\n\r\n");
  ASSERT_EQ(bare.result, ParseResult::kComplete) << bare.error.reason;
  EXPECT_EQ(bare.request.path, "/");
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n").request.host(), "h");
  expectError("GET http:// HTTP/1.1\r\nHost: a\r\n\r\n", 400, "no authority");
  expectError("GET http://a..b/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "empty label");
  expectError("GET http://u@h/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "userinfo");
  // nginx's request-line grammar for the authority: a name or an IP literal, then digits.
  for (const char* bad : {"example.com.:1.2", "1.2.3.4:9000:80", "[::1].", "[::1].:98",
                          "extra[::1]", "[::1", "a_b"}) {
    expectError("GET http://" + std::string(bad) + "/ HTTP/1.0\r\n\r\n", 400, bad);
  }
  for (const char* good : {"a:", "[abcd::ef98:0:7654:321]:5", "[::ffff:1.2.3.4]", "a-b.c:80"}) {
    EXPECT_EQ(parse("GET http://" + std::string(good) + "/ HTTP/1.0\r\n\r\n").result,
              ParseResult::kComplete)
        << good;
  }
  // nginx reads "http://h?x" as the path "/" with the query "x"; a fragment is dropped.
  Parsed q = parse("GET http://h?x HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(q.result, ParseResult::kComplete);
  EXPECT_EQ(q.request.path, "/");
  EXPECT_EQ(q.request.query, "x");
  Parsed f = parse("GET /a/..#frag HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(f.result, ParseResult::kComplete);
  EXPECT_EQ(f.request.path, "/a/..");
  EXPECT_EQ(f.request.target, "/a/..");
  expectError("GET #frag HTTP/1.1\r\nHost: a\r\n\r\n", 400, "empty target");
}

TEST(RequestParserTest, InvalidHostsAndTraceAreRefusedAsNginxDoes) {
  for (const char* host : {"", ".", ".a", "a..b", "a/b", "a\\b"}) {
    expectError("GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n", 400, host);
  }
  for (const char* host : {"a", "a.", "a.b:80", "[::1]:8080", "127.0.0.1", "xn--bcher-kva.example"})
    EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n").result,
              ParseResult::kComplete)
        << host;
  EXPECT_EQ(parse("GET / HTTP/1.0\r\n\r\n").result, ParseResult::kComplete) << "1.0 without Host";
  expectError("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", 405, "TRACE");
}

TEST(RequestParserTest, RefusesBadChunks) {
  std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  expectError(head + "zz\r\n", 400, "non-hex size");
  expectError(head + "fffffffff\r\n", 413, "huge size");
  expectError(head + "3\r\nabcd\r\n", 400, "data longer than size");
  expectError(head + "\r\n", 400, "empty size");
  ParseLimits small;
  small.max_body = 10;
  Parsed p = parse(head + "6\r\nabcdef\r\n6\r\nabcdef\r\n0\r\n\r\n", small);
  EXPECT_EQ(p.result, ParseResult::kError);
  EXPECT_EQ(p.error.status, 413);
}

TEST(RequestParserTest, Limits) {
  ParseLimits limits;
  limits.max_target = 100;
  limits.max_head = 1000;
  limits.max_body = 10;
  Parsed long_target =
      parse("GET /" + std::string(200, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", limits);
  EXPECT_EQ(long_target.error.status, 414);
  Parsed long_unfinished = parse("GET /" + std::string(200, 'a'), limits);
  EXPECT_EQ(long_unfinished.error.status, 414);
  Parsed big_head =
      parse("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(2000, 'b') + "\r\n\r\n", limits);
  EXPECT_EQ(big_head.error.status, 431);
  Parsed big_body = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", limits);
  EXPECT_EQ(big_body.error.status, 413);
}

TEST(RequestParserTest, PipelinedRequestsParseOneAtATime) {
  std::string two = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
  Parsed first = parse(two);
  ASSERT_EQ(first.result, ParseResult::kComplete);
  EXPECT_EQ(first.request.path, "/1");
  Parsed second = parse(std::string_view(two).substr(first.consumed));
  ASSERT_EQ(second.result, ParseResult::kComplete);
  EXPECT_EQ(second.request.path, "/2");
}

}  // namespace
}  // namespace surge::http
