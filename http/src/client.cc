#include "surge/http/client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>

#include "surge/http/response_head.h"

namespace surge::http {

using base::Done;
using base::fail;
using base::Result;

HttpClient::HttpClient(std::string host, int port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout) {}

HttpClient::~HttpClient() {
  close();
  if (tls_ != nullptr) SSL_CTX_free(tls_);
}

void HttpClient::close() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  ssl_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

Result<Done, std::string> HttpClient::useTls(const std::string& ca_file) {
  close();
  if (tls_ != nullptr) SSL_CTX_free(tls_);
  tls_ = SSL_CTX_new(TLS_client_method());
  if (tls_ == nullptr) return fail(std::string("SSL_CTX_new failed"));
  SSL_CTX_set_min_proto_version(tls_, TLS1_2_VERSION);
  SSL_CTX_set_verify(tls_, SSL_VERIFY_PEER, nullptr);
  int ok = ca_file.empty() ? SSL_CTX_set_default_verify_paths(tls_)
                           : SSL_CTX_load_verify_locations(tls_, ca_file.c_str(), nullptr);
  if (ok != 1) return fail("cannot read the CA certificates " + ca_file);
  return Done{};
}

ssize_t HttpClient::sendSome(const char* data, size_t size) {
  if (ssl_ == nullptr) return ::send(fd_, data, size, MSG_NOSIGNAL);
  int n = SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(size, INT32_MAX)));
  return n > 0 ? n : -1;
}

ssize_t HttpClient::recvSome(char* data, size_t size) {
  if (ssl_ == nullptr) return ::recv(fd_, data, size, 0);
  int n = SSL_read(ssl_, data, static_cast<int>(std::min<size_t>(size, INT32_MAX)));
  if (n > 0) return n;
  int why = SSL_get_error(ssl_, n);
  return why == SSL_ERROR_ZERO_RETURN ? 0 : -1;  // a clean close_notify, or a failure
}

Result<std::pair<std::string, int>, std::string> HttpClient::parseOrigin(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  while (!rest.empty() && rest.back() == '/')
    rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos) {
    return fail("bad origin URL \"" + url + "\" (expected http://host:port)");
  }
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return std::pair(rest, 80);
  int port = std::atoi(rest.c_str() + colon + 1);
  if (port <= 0 || port > 65535) return fail("bad port in \"" + url + "\"");
  return std::pair(rest.substr(0, colon), port);
}

Result<Done, std::string> HttpClient::connect() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &res) != 0 || !res) {
    return fail("cannot resolve " + host_);
  }
  std::string error = "connect failed";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    timeval tv{static_cast<time_t>(timeout_.count() / 1000),
               static_cast<suseconds_t>(timeout_.count() % 1000 * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      fd_ = fd;
      freeaddrinfo(res);
      if (tls_ == nullptr) return Done{};
      // Blocking handshake (the socket's timeouts bound it); the name checked is the host's.
      ssl_ = SSL_new(tls_);
      SSL_set_fd(ssl_, fd_);
      in6_addr ip6{};
      in_addr ip4{};
      bool is_ip = ::inet_pton(AF_INET, host_.c_str(), &ip4) == 1 ||
                   ::inet_pton(AF_INET6, host_.c_str(), &ip6) == 1;
      if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host_.c_str());
      } else {
        SSL_set_tlsext_host_name(ssl_, host_.c_str());  // SNI names hosts, never addresses
        SSL_set1_host(ssl_, host_.c_str());
      }
      if (SSL_connect(ssl_) != 1) {
        long verify = SSL_get_verify_result(ssl_);
        std::string why =
            verify != X509_V_OK ? X509_verify_cert_error_string(verify) : "handshake failed";
        close();
        return fail("TLS to " + host_ + ":" + std::to_string(port_) + ": " + why);
      }
      return Done{};
    }
    error = std::string("connect to ") + host_ + ":" + std::to_string(port_) + ": " +
            std::strerror(errno);
    ::close(fd);
  }
  freeaddrinfo(res);
  return fail(error);
}

Result<HttpResponse, std::string> HttpClient::request(
    const std::string& method, const std::string& target,
    const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body) {
  return request(method, target, headers, body, BodySink());
}

Result<HttpResponse, std::string> HttpClient::request(
    const std::string& method, const std::string& target,
    const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body,
    const BodySink& sink, const HeadSink& head) {
  // Host without the port when it is the scheme's own (what servers and request signatures,
  // Akamai's EdgeGrid among them, expect).
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host_;
  if (port_ != (tls_ != nullptr ? 443 : 80)) req += ":" + std::to_string(port_);
  req += "\r\n";
  for (const auto& [k, v] : headers)
    req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n";
  req += body;

  // A kept-alive connection may have been closed by the server meanwhile: one fresh retry, but
  // only when nothing of the answer arrived (so the request was not processed).
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = fd_ >= 0;
    if (!reused) {
      auto c = connect();
      if (!c) return fail(c.error());
    }
    size_t sent = 0;
    while (sent < req.size()) {
      ssize_t n = sendSome(req.data() + sent, req.size() - sent);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    if (sent < req.size()) {
      std::string err = std::strerror(errno);
      close();
      if (reused) continue;
      return fail("send: " + err);
    }
    auto r = readResponse(method == "HEAD", sink ? &sink : nullptr, head ? &head : nullptr);
    if (!r && reused && r.error() == "connection closed before the answer") {
      close();
      continue;
    }
    if (!r) close();
    return r;
  }
  return fail(std::string("connection closed twice"));
}

Result<HttpResponse, std::string> HttpClient::readResponse(bool head, const BodySink* sink,
                                                           const HeadSink* on_head) {
  auto fill = [&]() -> int {
    char chunk[65536];
    ssize_t n = recvSome(chunk, sizeof chunk);
    if (n > 0) buffer_.append(chunk, static_cast<size_t>(n));
    return static_cast<int>(n);
  };
  ResponseHead parsed;
  int rc;
  while ((rc = parseResponseHead(buffer_, parsed, 1u << 20)) == 0) {
    int n = fill();
    if (n == 0 && buffer_.empty()) return fail(std::string("connection closed before the answer"));
    if (n <= 0) {
      return fail(n == 0 ? std::string("connection closed in the headers")
                         : std::string("read: ") + std::strerror(errno));
    }
  }
  if (rc < 0) return fail("malformed answer: " + buffer_.substr(0, buffer_.find("\r\n")));
  HttpResponse resp;
  resp.status = parsed.status;
  for (const auto& [name, value] : parsed.fields) {
    std::string lower(name);
    for (char& c : lower)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    resp.headers[lower] = std::string(value);
  }
  const bool close_after = parsed.close;
  buffer_.erase(0, parsed.header_bytes);
  if (on_head != nullptr && !(*on_head)(resp)) {
    close();
    return fail(std::string("the answer was refused"));
  }
  if (!responseHasBody(parsed.status, head)) {
    // nothing
  } else if (parsed.chunked) {
    size_t pos = 0;
    while ((rc = decodeChunked(buffer_, pos, resp.body)) == 0) {
      resp.body.clear();
      pos = 0;
      if (fill() <= 0) return fail(std::string("connection closed in a chunk"));
    }
    if (rc < 0) return fail(std::string("malformed chunked body"));
    buffer_.erase(0, pos);
  } else if (parsed.content_length && sink != nullptr) {
    // Streamed: what has arrived goes to the sink, never more than a read's worth held here.
    size_t want = *parsed.content_length;
    while (want > 0) {
      if (buffer_.empty() && fill() <= 0) {
        close();
        return fail(std::string("connection closed in the body"));
      }
      size_t n = std::min(want, buffer_.size());
      if (!(*sink)(std::string_view(buffer_.data(), n))) {
        close();
        return fail(std::string("the body was refused"));
      }
      buffer_.erase(0, n);
      want -= n;
    }
  } else if (parsed.content_length) {
    size_t want = *parsed.content_length;
    while (buffer_.size() < want) {
      if (fill() <= 0) return fail(std::string("connection closed in the body"));
    }
    resp.body = buffer_.substr(0, want);
    buffer_.erase(0, want);
  } else {
    while (fill() > 0) {
    }
    resp.body = std::move(buffer_);
    buffer_.clear();
    close();
  }
  if (sink != nullptr && !resp.body.empty()) {
    // Chunked or to the close: whole, then handed over.
    if (!(*sink)(resp.body)) {
      close();
      return fail(std::string("the body was refused"));
    }
    resp.body.clear();
  }
  if (close_after) close();
  return resp;
}

}  // namespace surge::http
