// The one parser of answers (response_head.h): what the origin pool and the blocking client read.
#include "surge/http/response_head.h"

#include <gtest/gtest.h>

namespace surge::http {
namespace {

TEST(ResponseHeadTest, ReadsStatusLengthAndConnection) {
  ResponseHead h;
  std::string in =
      "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nConnection: keep-alive, X-Hop\r\n"
      "X-Hop: 1\r\n\r\nhello";
  ASSERT_EQ(parseResponseHead(in, h), 1);
  EXPECT_EQ(h.status, 201);
  EXPECT_EQ(h.header_bytes, in.size() - 5);
  ASSERT_TRUE(h.content_length);
  EXPECT_EQ(*h.content_length, 5u);
  EXPECT_FALSE(h.close);
  EXPECT_FALSE(h.chunked);
  EXPECT_TRUE(containsToken(h.connection, "x-hop"));
  ASSERT_EQ(h.fields.size(), 3u);
  EXPECT_EQ(h.fields[2].first, "X-Hop");
  EXPECT_EQ(h.fields[2].second, "1");
}

TEST(ResponseHeadTest, ClosesOnHttp10AndConnectionClose) {
  ResponseHead h;
  ASSERT_EQ(parseResponseHead("HTTP/1.0 200 OK\r\n\r\n", h), 1);
  EXPECT_TRUE(h.close);
  ASSERT_EQ(parseResponseHead("HTTP/1.1 200 OK\r\nconnection: Close\r\n\r\n", h), 1);
  EXPECT_TRUE(h.close);
  ASSERT_EQ(parseResponseHead("HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\n", h), 1);
  EXPECT_TRUE(h.chunked);
}

TEST(ResponseHeadTest, WaitsForMoreAndRefusesMalformed) {
  ResponseHead h;
  EXPECT_EQ(parseResponseHead("HTTP/1.1 200 OK\r\nContent-Le", h), 0);
  EXPECT_EQ(parseResponseHead(std::string(70000, 'x'), h), -1);          // no end in 64 KiB
  EXPECT_EQ(parseResponseHead(std::string(70000, 'x'), h, 1 << 20), 0);  // a larger budget
  EXPECT_EQ(parseResponseHead("HTTP/2 200\r\n\r\n", h), -1);
  EXPECT_EQ(parseResponseHead("HTTP/1.1 20x OK\r\n\r\n", h), -1);
  EXPECT_EQ(parseResponseHead("HTTP/1.1 099 Low\r\n\r\n", h), -1);
  EXPECT_EQ(parseResponseHead("HTTP/1.1 200OK\r\n\r\n", h), -1);
  EXPECT_EQ(parseResponseHead("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", h), -1);
  EXPECT_EQ(parseResponseHead("HTTP/1.1 200 OK\r\n: empty\r\n\r\n", h), -1);
  EXPECT_EQ(parseResponseHead("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", h), -1);
  EXPECT_EQ(
      parseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", h),
      -1);
  EXPECT_EQ(parseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", h), -1);
  // The same length twice is one length.
  EXPECT_EQ(
      parseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", h), 1);
}

TEST(ResponseHeadTest, BareLfEndsALineAsNginxReadsIt) {
  // RFC 9112 2.2: a recipient may take a bare LF for a line end; nginx does, and nginx's own
  // test backends answer that way. A CR anywhere but before the LF is still refused.
  ResponseHead h;
  const std::string in = "HTTP/1.1 200 OK\nConnection: close\r\nX-Headers: abc\n\nbody";
  ASSERT_EQ(parseResponseHead(in, h), 1);
  EXPECT_EQ(h.status, 200);
  EXPECT_TRUE(h.close);
  EXPECT_EQ(in.substr(h.header_bytes), "body");
  ASSERT_EQ(h.fields.size(), 2u);
  EXPECT_EQ(h.fields[1].second, "abc");
  EXPECT_EQ(parseResponseHead("HTTP/1.1 200 OK\nX: y\n", h), 0);
  EXPECT_EQ(parseResponseHead("HTTP/1.1 200 OK\rX: y\r\n\r\n", h), -1);
  EXPECT_EQ(parseResponseHead("\r\n", h), -1);
}

TEST(ResponseHeadTest, WhichAnswersHaveABody) {
  EXPECT_TRUE(responseHasBody(200, false));
  EXPECT_FALSE(responseHasBody(200, true));
  EXPECT_FALSE(responseHasBody(204, false));
  EXPECT_FALSE(responseHasBody(304, false));
  EXPECT_FALSE(responseHasBody(101, false));
  EXPECT_TRUE(responseHasBody(404, false));
}

TEST(ResponseHeadTest, DecodesChunkedBodies) {
  std::string body;
  size_t pos = 0;
  std::string in = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nNEXT";
  ASSERT_EQ(decodeChunked(in, pos, body), 1);
  EXPECT_EQ(body, "hello world");
  EXPECT_EQ(in.substr(pos), "NEXT");
  // Each prefix of a whole body asks for more; none is taken for the whole.
  std::string whole = "3\r\nabc\r\n0\r\n\r\n";
  for (size_t n = 0; n < whole.size(); ++n) {
    std::string b;
    size_t p = 0;
    EXPECT_EQ(decodeChunked(whole.substr(0, n), p, b), 0) << n;
  }
  for (const char* bad : {"zz\r\nabc\r\n", "3\r\nabcXY0\r\n\r\n", "\r\n"}) {
    std::string b;
    size_t p = 0;
    EXPECT_EQ(decodeChunked(bad, p, b), -1) << bad;
  }
}

}  // namespace
}  // namespace surge::http
