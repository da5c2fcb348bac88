// The servers of an `upstream` block and nginx's choice among them, apart from the wire code
// (origin_forwarder.cc): smooth weighted round robin over the primary servers that are neither
// `down` nor failed, the `backup` servers only when no primary is left, and passive health as
// nginx's max_fails / fail_timeout: `max_fails` failures within `fail_timeout` take a server out
// for `fail_timeout`, after which one request tries it again. A lone server is never taken out
// (as in nginx: there is nothing else to send to; the circuit breaker guards it).
//
// Shared by every worker of an edge; each call holds a small mutex for a few comparisons.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace surge::edge {

struct UpstreamServer {
  std::string host;     // as configured
  std::string address;  // `host` resolved at config load (IPv4); "" when a literal
  int port = 80;
  int weight = 1;
  int max_fails = 1;  // 0: never taken out
  std::chrono::milliseconds fail_timeout{10000};
  bool backup = false;
  bool down = false;
  bool operator==(const UpstreamServer&) const = default;
};

class UpstreamPeers {
 public:
  using Clock = std::chrono::steady_clock;
  explicit UpstreamPeers(std::vector<UpstreamServer> servers);

  // At most this many servers in an upstream: the ones a request tried are bits of a word.
  static constexpr size_t kMaxServers = 64;
  // The server to try next, not one of `tried` (bit i: server i); nullopt when none is left
  // (every server down, failed or tried: nginx's "no live upstreams").
  std::optional<size_t> pick(uint64_t tried, Clock::time_point now);
  // What an exchange with server `i` came to: a failure counts towards max_fails (connect
  // error, timeout, a connection lost before the answer); a success after the server was let
  // through again forgets its failures.
  void failed(size_t i, Clock::time_point now);
  void succeeded(size_t i);

  const UpstreamServer& server(size_t i) const { return peers_[i].server; }
  size_t size() const { return peers_.size(); }

 private:
  struct Peer {
    UpstreamServer server;
    int current_weight = 0;
    int effective_weight = 1;
    int fails = 0;
    Clock::time_point checked{};   // the last failure, or the last time it was let through
    Clock::time_point accessed{};  // the last failure
  };
  bool available(const Peer& p, Clock::time_point now) const;
  std::optional<size_t> pickAmong(bool backup, uint64_t tried, Clock::time_point now);

  std::mutex mutex_;
  std::vector<Peer> peers_;
};

}  // namespace surge::edge
