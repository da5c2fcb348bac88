// HTTP/2 written and read by hand (RFC 9113 4.1), for tests that send an edge what no
// well-behaved client sends: floods, resets, header blocks that never end, shut windows. Requests
// are HPACK literal fields without indexing or Huffman (RFC 7541 6.2.2), which every decoder
// takes; answers are decoded with nghttp2's own HPACK inflater.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace surge::edge::test::h2 {

enum Type : uint8_t {
  kData = 0,
  kHeaders = 1,
  kPriority = 2,
  kRstStream = 3,
  kSettings = 4,
  kPushPromise = 5,
  kPing = 6,
  kGoaway = 7,
  kWindowUpdate = 8,
  kContinuation = 9,
};
constexpr uint8_t kEndStream = 0x1, kAck = 0x1, kEndHeaders = 0x4;
constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

inline std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string f;
  const size_t n = payload.size();
  f += static_cast<char>((n >> 16) & 0xff);
  f += static_cast<char>((n >> 8) & 0xff);
  f += static_cast<char>(n & 0xff);
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  f += static_cast<char>((stream >> 24) & 0x7f);
  f += static_cast<char>((stream >> 16) & 0xff);
  f += static_cast<char>((stream >> 8) & 0xff);
  f += static_cast<char>(stream & 0xff);
  f.append(payload);
  return f;
}

inline std::string u32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

inline std::string settings(const std::vector<std::pair<uint16_t, uint32_t>>& entries = {}) {
  std::string p;
  for (auto [id, value] : entries) {
    p += static_cast<char>(id >> 8);
    p += static_cast<char>(id & 0xff);
    p += u32(value);
  }
  return frame(kSettings, 0, 0, p);
}

// The connection preface and the client's SETTINGS.
inline std::string preface(const std::vector<std::pair<uint16_t, uint32_t>>& entries = {}) {
  return std::string(kPreface) + settings(entries);
}

// RFC 7541 5.1: an integer with an N-bit prefix (the prefix's other bits in `first`).
inline void hpackInt(std::string& out, uint8_t first, int prefix_bits, size_t value) {
  const size_t max = (1u << prefix_bits) - 1;
  if (value < max) {
    out += static_cast<char>(first | value);
    return;
  }
  out += static_cast<char>(first | max);
  value -= max;
  while (value >= 128) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

inline std::string literal(std::string_view name, std::string_view value) {
  std::string out(1, '\0');  // literal without indexing, new name
  hpackInt(out, 0, 7, name.size());
  out.append(name);
  hpackInt(out, 0, 7, value.size());
  out.append(value);
  return out;
}

inline std::string requestBlock(
    std::string_view method, std::string_view path,
    const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  std::string b = literal(":method", method) + literal(":scheme", "http") +
                  literal(":authority", "localhost") + literal(":path", path);
  for (const auto& [n, v] : extra)
    b += literal(n, v);
  return b;
}

inline std::string get(uint32_t stream, std::string_view path,
                       const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  return frame(kHeaders, kEndHeaders | kEndStream, stream, requestBlock("GET", path, extra));
}

struct Frame {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint32_t stream = 0;
  std::string payload;
};

// A client connection speaking HTTP/2 frame by frame.
class RawConnection {
 public:
  explicit RawConnection(int port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    nghttp2_hd_inflate_new(&inflater_);
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
    nghttp2_hd_inflate_del(inflater_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }

  // Sends all of `bytes`; false once the edge has closed (what it sent stays readable).
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // The next frame within `timeout`; nullopt at a timeout or once the edge closed.
  std::optional<Frame> next(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (in_.size() >= 9) {
        const size_t len = (static_cast<uint8_t>(in_[0]) << 16) |
                           (static_cast<uint8_t>(in_[1]) << 8) | static_cast<uint8_t>(in_[2]);
        if (in_.size() >= 9 + len) {
          Frame f;
          f.type = static_cast<uint8_t>(in_[3]);
          f.flags = static_cast<uint8_t>(in_[4]);
          f.stream = (static_cast<uint32_t>(static_cast<uint8_t>(in_[5]) & 0x7f) << 24) |
                     (static_cast<uint32_t>(static_cast<uint8_t>(in_[6])) << 16) |
                     (static_cast<uint32_t>(static_cast<uint8_t>(in_[7])) << 8) |
                     static_cast<uint8_t>(in_[8]);
          f.payload = in_.substr(9, len);
          in_.erase(0, 9 + len);
          if (f.type == kHeaders) decodeHeaders(f.stream, f.payload);
          if (f.type == kPushPromise && f.payload.size() >= 4) {
            // The promised stream's request, decoded with the same table as the answers.
            const uint32_t promised = (uint32_t{static_cast<uint8_t>(f.payload[0]) & 0x7fu} << 24) |
                                      (uint32_t{static_cast<uint8_t>(f.payload[1])} << 16) |
                                      (uint32_t{static_cast<uint8_t>(f.payload[2])} << 8) |
                                      static_cast<uint8_t>(f.payload[3]);
            promises[f.stream].push_back(promised);
            decodeHeaders(promised, std::string_view(f.payload).substr(4), &promised_requests);
          }
          return f;
        }
      }
      if (closed_) return std::nullopt;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        continue;
      }
      in_.append(buf, static_cast<size_t>(n));
    }
  }

  // Reads until a frame of `type` (on `stream`, unless 0) comes; nullopt when none does in time.
  std::optional<Frame> until(uint8_t type, std::chrono::milliseconds timeout, uint32_t stream = 0) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (auto f = next(std::chrono::duration_cast<std::chrono::milliseconds>(
               deadline - std::chrono::steady_clock::now()))) {
      if (f->type == type && (stream == 0 || f->stream == stream)) return f;
    }
    return std::nullopt;
  }

  // True once the edge has closed the connection (read to its end within `timeout`).
  bool closedWithin(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!closed_ && std::chrono::steady_clock::now() < deadline) {
      next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                 std::chrono::steady_clock::now()));
    }
    return closed_;
  }

  // The decoded fields of each HEADERS frame read so far, by stream (":status" among them).
  std::map<uint32_t, std::map<std::string, std::string>> headers;
  // PUSH_PROMISE frames: the streams promised on each stream, and each promised request's fields.
  std::map<uint32_t, std::vector<uint32_t>> promises;
  std::map<uint32_t, std::map<std::string, std::string>> promised_requests;
  // The GOAWAY's error code (RFC 9113 7), when one came.
  static uint32_t goawayCode(const Frame& f) {
    if (f.payload.size() < 8) return UINT32_MAX;
    const auto* p = reinterpret_cast<const uint8_t*>(f.payload.data()) + 4;
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  }

 private:
  void decodeHeaders(uint32_t stream, std::string_view block,
                     std::map<uint32_t, std::map<std::string, std::string>>* into = nullptr) {
    if (into == nullptr) into = &headers;
    const auto* in = reinterpret_cast<const uint8_t*>(block.data());
    size_t left = block.size();
    while (true) {
      nghttp2_nv nv;
      int flags = 0;
      ssize_t n = nghttp2_hd_inflate_hd2(inflater_, &nv, &flags, in, left, 1);
      if (n < 0) return;
      in += n;
      left -= static_cast<size_t>(n);
      if (flags & NGHTTP2_HD_INFLATE_EMIT) {
        (*into)[stream][std::string(reinterpret_cast<char*>(nv.name), nv.namelen)] =
            std::string(reinterpret_cast<char*>(nv.value), nv.valuelen);
      }
      if (flags & NGHTTP2_HD_INFLATE_FINAL) {
        nghttp2_hd_inflate_end_headers(inflater_);
        return;
      }
      if (n == 0 && left == 0) return;
    }
  }

  int fd_ = -1;
  std::string in_;
  bool closed_ = false;
  nghttp2_hd_inflater* inflater_ = nullptr;
};

}  // namespace surge::edge::test::h2
