// HttpClient: surge's blocking HTTP/1.1 client with keep-alive, for surgectl, origin's CDN
// purges and the end-to-end tests (answers read by response_head.h, the parser the edge's origin
// pool uses too). Over TLS once useTls() is called: the server's certificate is verified against
// the system's CAs (or a given CA file) and its name against the host, SNI sent. Never used on
// an event loop.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "surge/base/result.h"

struct ssl_ctx_st;
struct ssl_st;

namespace surge::http {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpClient {
 public:
  HttpClient(std::string host, int port,
             std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads the whole answer. Reuses the connection when the server keeps it
  // open. Fails on connect/IO errors or timeouts, or a malformed answer.
  base::Result<HttpResponse, std::string> request(
      const std::string& method, const std::string& target,
      const std::vector<std::pair<std::string, std::string>>& headers = {},
      const std::string& body = "");

  // The same, with the body handed to `sink` as it arrives instead of kept in the answer (a large
  // download to disk); a sink that returns false stops the transfer (the connection is closed).
  // `head`, when given, sees the status and headers before any of the body (false stops too).
  using BodySink = std::function<bool(std::string_view chunk)>;
  using HeadSink = std::function<bool(const HttpResponse& head)>;
  base::Result<HttpResponse, std::string> request(
      const std::string& method, const std::string& target,
      const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body,
      const BodySink& sink, const HeadSink& head = HeadSink());

  // TLS from the next connection on: the certificate must chain to `ca_file` (PEM), or to the
  // system's CAs when empty, and name the host. Fails when the CA file cannot be read.
  base::Result<base::Done, std::string> useTls(const std::string& ca_file = "");

  // Parses "http://host:port" (no path). Port defaults to 80.
  static base::Result<std::pair<std::string, int>, std::string> parseOrigin(const std::string& url);

 private:
  base::Result<base::Done, std::string> connect();
  void close();
  base::Result<HttpResponse, std::string> readResponse(bool head, const BodySink* sink,
                                                       const HeadSink* on_head);

  ssize_t sendSome(const char* data, size_t size);
  ssize_t recvSome(char* data, size_t size);

  std::string host_;
  int port_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::string buffer_;
  ssl_ctx_st* tls_ = nullptr;  // set by useTls
  ssl_st* ssl_ = nullptr;      // the connection's, with fd_
};

}  // namespace surge::http
