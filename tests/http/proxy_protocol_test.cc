// The PROXY protocol header as HAProxy sends it (nginx's listen proxy_protocol): both versions
// read to their exact end, what is not whole waits, and what is not a header is refused. (A real
// HAProxy in front of a real edge: NginxSemanticsE2ETest.RealIpTakesTheClientFromTrustedProxies.)
#include "surge/http/proxy_protocol.h"

#include <gtest/gtest.h>

namespace surge::http {
namespace {

TEST(ProxyProtocolTest, VersionOneIsReadToItsLineEnd) {
  ProxyHeader h;
  const std::string line = "PROXY TCP4 192.0.2.1 192.0.2.2 1234 5678\r\n";
  ASSERT_EQ(parseProxyHeader(line + "GET / HTTP/1.1\r\n", h), 1);
  EXPECT_EQ(h.addr, "192.0.2.1");
  EXPECT_EQ(h.port, 1234);
  EXPECT_EQ(h.size, line.size());
  ASSERT_EQ(parseProxyHeader("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n", h), 1);
  EXPECT_EQ(h.addr, "2001:db8::1");
  ASSERT_EQ(parseProxyHeader("PROXY UNKNOWN\r\n", h), 1);
  EXPECT_EQ(h.addr, "");
  EXPECT_EQ(parseProxyHeader("PRO", h), 0);
  EXPECT_EQ(parseProxyHeader("PROXY TCP4 192.0.2.1", h), 0);
  for (const char* bad :
       {"BOGUS TCP4 192.0.2.1 192.0.2.2 1234 5678\r\n", "GET / HTTP/1.1\r\n",
        "PROXY TCP4 192.0.2.1 192.0.2.2 1234\r\n", "PROXY TCP4 300.0.2.1 192.0.2.2 1 2\r\n",
        "PROXY TCP4 192.0.2.1 192.0.2.2 1 99999\r\n", "PROXY TCP9 192.0.2.1 192.0.2.2 1 2\r\n"}) {
    EXPECT_EQ(parseProxyHeader(bad, h), -1) << bad;
  }
  EXPECT_EQ(parseProxyHeader("PROXY TCP4 " + std::string(200, '1'), h), -1);  // no end in sight
}

TEST(ProxyProtocolTest, VersionTwoIsReadByItsLength) {
  std::string v2("\r\n\r\n\0\r\nQUIT\n", 12);
  v2 += '\x21';  // version 2, PROXY
  v2 += '\x11';  // TCP over IPv4
  v2 += std::string("\0\x0c", 2);
  v2 += std::string("\xc0\x00\x02\x01\xc0\x00\x02\x02\x04\xd2\x16\x2e", 12);
  ProxyHeader h;
  ASSERT_EQ(parseProxyHeader(v2 + "rest", h), 1);
  EXPECT_EQ(h.addr, "192.0.2.1");
  EXPECT_EQ(h.port, 1234);
  EXPECT_EQ(h.size, 28u);
  EXPECT_EQ(parseProxyHeader(v2.substr(0, 20), h), 0);
  std::string local = v2.substr(0, 12) + std::string("\x20\x00\x00\x00", 4);  // LOCAL
  ASSERT_EQ(parseProxyHeader(local, h), 1);
  EXPECT_EQ(h.addr, "");
  EXPECT_EQ(h.size, 16u);
  std::string wrong = v2;
  wrong[12] = '\x31';  // version 3
  EXPECT_EQ(parseProxyHeader(wrong, h), -1);
}

}  // namespace
}  // namespace surge::http
