#include "surge/http/proxy_protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace surge::http {

namespace {

constexpr std::string_view kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);

bool validAddress(const std::string& text, bool v6) {
  unsigned char buf[16];
  return inet_pton(v6 ? AF_INET6 : AF_INET, text.c_str(), buf) == 1;
}

bool validPort(std::string_view text, int& port) {
  if (text.empty() || text.size() > 5) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && end == text.data() + text.size() && port >= 0 && port <= 65535;
}

// "PROXY TCP4 SRC DST SPORT DPORT\r\n" or "PROXY UNKNOWN ...\r\n".
int parseV1(std::string_view in, ProxyHeader& out) {
  const size_t end = in.find("\r\n");
  if (end == std::string_view::npos) return in.size() > 107 ? -1 : 0;
  if (end + 2 > 107) return -1;
  std::string_view line = in.substr(6, end - 6);  // after "PROXY "
  out = ProxyHeader{};
  out.size = end + 2;
  if (line.starts_with("UNKNOWN")) return 1;
  std::string_view fields[5];
  for (int i = 0; i < 5; ++i) {
    const size_t space = line.find(' ');
    if ((space == std::string_view::npos) != (i == 4)) return -1;
    fields[i] = line.substr(0, space);
    if (i < 4) line.remove_prefix(space + 1);
  }
  const bool v6 = fields[0] == "TCP6";
  if (!v6 && fields[0] != "TCP4") return -1;
  int sport = 0, dport = 0;
  std::string src(fields[1]), dst(fields[2]);
  if (!validAddress(src, v6) || !validAddress(dst, v6) || !validPort(fields[3], sport) ||
      !validPort(fields[4], dport)) {
    return -1;
  }
  out.addr = std::move(src);
  out.port = sport;
  return 1;
}

// The binary header: signature, version and command, family, length, addresses.
int parseV2(std::string_view in, ProxyHeader& out) {
  if (in.size() < 16) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  if ((p[12] >> 4) != 2) return -1;
  const unsigned command = p[12] & 0x0f;
  const size_t length = (size_t{p[14]} << 8) | p[15];
  if (16 + length > kMaxProxyHeader) return -1;
  if (in.size() < 16 + length) return 0;
  out = ProxyHeader{};
  out.size = 16 + length;
  if (command == 0) return 1;  // LOCAL: the balancer's own connection (a health check)
  if (command != 1) return -1;
  const unsigned family = p[13];
  const unsigned char* a = p + 16;
  char text[INET6_ADDRSTRLEN];
  if (family == 0x11 && length >= 12) {  // TCP over IPv4
    if (inet_ntop(AF_INET, a, text, sizeof text) == nullptr) return -1;
    out.addr = text;
    out.port = (a[8] << 8) | a[9];
  } else if (family == 0x21 && length >= 36) {  // TCP over IPv6
    if (inet_ntop(AF_INET6, a, text, sizeof text) == nullptr) return -1;
    out.addr = text;
    out.port = (a[32] << 8) | a[33];
  }
  return 1;  // another family (UDP, unix): the connection's own address stays
}

}  // namespace

int parseProxyHeader(std::string_view in, ProxyHeader& out) {
  const size_t n = std::min(in.size(), kV2Signature.size());
  if (in.substr(0, n) == kV2Signature.substr(0, n)) {
    return n < kV2Signature.size() ? 0 : parseV2(in, out);
  }
  const std::string_view v1 = "PROXY ";
  const size_t m = std::min(in.size(), v1.size());
  if (in.substr(0, m) != v1.substr(0, m)) return -1;
  return m < v1.size() ? 0 : parseV1(in, out);
}

}  // namespace surge::http
