// MemcachedClient's bulk writes: thousands of snapshots a second go out as one pipelined exchange
// per server (every command in one write, then every reply) on a plain connection of their own,
// routed by the same ring as libmemcached's single-key calls.
#include <libmemcached/memcached.h>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "memcached_bulk_connection.h"
#include "surge/cache/memcached_client.h"

namespace surge::cache {
namespace {

// Rounds of setManyNewer before a key still racing is reported failed (its writer retries later).
constexpr int kNewerRounds = 4;

std::string_view lineAt(std::string_view in, size_t pos, size_t* end) {
  size_t eol = in.find("\r\n", pos);
  if (eol == std::string_view::npos) return {};
  *end = eol + 2;
  return in.substr(pos, eol - pos);
}

// The fields of "VALUE <key> <flags> <bytes> [<cas>]".
struct ValueHeader {
  size_t bytes = 0;
  uint64_t cas = 0;
};

std::optional<ValueHeader> parseValueHeader(std::string_view line) {
  // Skip "VALUE", the key and the flags; then bytes and cas.
  std::string_view fields[5];
  size_t n = 0;
  while (!line.empty() && n < 5) {
    size_t sp = line.find(' ');
    fields[n++] = line.substr(0, sp);
    if (sp == std::string_view::npos) break;
    line.remove_prefix(sp + 1);
  }
  if (n != 5 || fields[0] != "VALUE") return std::nullopt;
  ValueHeader h;
  auto bytes = std::from_chars(fields[3].data(), fields[3].data() + fields[3].size(), h.bytes);
  auto cas = std::from_chars(fields[4].data(), fields[4].data() + fields[4].size(), h.cas);
  if (bytes.ec != std::errc() || cas.ec != std::errc()) return std::nullopt;
  return h;
}

void appendStorage(std::string& out, std::string_view verb, const std::string& key,
                   const std::string& value, std::chrono::seconds ttl, const uint64_t* cas) {
  out += verb;
  out += ' ';
  out += key;
  out += " 0 ";
  out += std::to_string(ttl.count());
  out += ' ';
  out += std::to_string(value.size());
  if (cas != nullptr) {
    out += ' ';
    out += std::to_string(*cas);
  }
  out += "\r\n";
  out += value;
  out += "\r\n";
}

}  // namespace

MemcachedClient::BulkConnection* MemcachedClient::bulkConnection(const std::string& host,
                                                                 int port) {
  std::string address = host + ":" + std::to_string(port);
  auto it = bulk_.find(address);
  if (it != bulk_.end()) return it->second.get();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) {
    return nullptr;
  }
  int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  bool ok = fd >= 0;
  if (ok && ::connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      ok = false;
    } else {
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      ok = ::poll(&p, 1, static_cast<int>(options_.connect_timeout.count())) == 1 &&
           ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
  }
  freeaddrinfo(res);
  if (!ok) {
    if (fd >= 0) ::close(fd);
    return nullptr;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto conn = std::make_unique<BulkConnection>();
  conn->fd = fd;
  BulkConnection* out = conn.get();
  bulk_[address] = std::move(conn);
  return out;
}

void MemcachedClient::dropBulkConnection(const std::string& address) {
  bulk_.erase(address);
}

// libmemcached takes a failed server out of the ring (auto-eject) and puts it back only when one
// of its own operations rebuilds the ring after the retry delay. Bulk writes route with
// memcached_server_by_key, which never rebuilds it: a publisher that only wrote in bulk kept a
// memcached node that had come back out of its ring for as long as no single operation ran (about
// a minute in the cluster's kill -9 of a node), and wrote that node's keys where no reader looks,
// gap fills and full publishes included. Setting the distribution rebuilds the ring the way
// libmemcached's operations do (a server still within its retry delay stays out).
void MemcachedClient::refreshRing() {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  if (now - ring_refreshed_ms_ < 1000) return;
  ring_refreshed_ms_ = now;
  memcached_behavior_set(handle_, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                         MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
}

std::unordered_map<std::string, MemcachedClient::ServerShare> MemcachedClient::shareByServer(
    const std::vector<std::pair<std::string, std::string>>& items,
    std::vector<std::string>& failed) {
  refreshRing();
  // Group by the server the ring gives each key: the one get() will ask.
  std::unordered_map<std::string, ServerShare> by_server;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string& key = items[i].first;
    if (!checkFits(key, items[i].second.size())) {
      failed.push_back(key);
      continue;
    }
    memcached_return_t rc = MEMCACHED_SUCCESS;
    const memcached_instance_st* server =
        memcached_server_by_key(handle_, key.data(), key.size(), &rc);
    if (server == nullptr) {
      failed.push_back(key);
      continue;
    }
    std::string host = memcached_server_name(server);
    int port = static_cast<int>(memcached_server_port(server));
    ServerShare& share = by_server[host + ":" + std::to_string(port)];
    share.host = std::move(host);
    share.port = port;
    share.indexes.push_back(i);
  }
  return by_server;
}

bool MemcachedClient::exchange(
    const std::string& address, const ServerShare& share, const std::string& out,
    const std::function<Parsed(std::string_view in, size_t& used)>& parse) {
  BulkConnection* conn = bulkConnection(share.host, share.port);
  if (conn == nullptr) {
    bulk_failed_.insert(address);
    return false;
  }
  auto deadline = std::chrono::steady_clock::now() + options_.io_timeout * 4 +
                  std::chrono::milliseconds(out.size() / 100000);
  // Send and read together: memcached answers while we still send, and a full socket buffer in
  // one direction must not stall the other.
  size_t sent = 0;
  std::string in;
  size_t used = 0;  // bytes of `in` parse has consumed
  Parsed state = Parsed::kMore;
  while (state == Parsed::kMore) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{conn->fd, static_cast<short>(POLLIN | (sent < out.size() ? POLLOUT : 0)), 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) {
      state = Parsed::kBroken;
      break;
    }
    if (sent < out.size()) {
      ssize_t n = ::send(conn->fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        state = Parsed::kBroken;
        break;
      }
    }
    char buf[16384];
    ssize_t n = ::recv(conn->fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      state = Parsed::kBroken;
      break;
    }
    if (n < 0) continue;
    if (used > 0 && used >= in.size() / 2) {
      in.erase(0, used);
      used = 0;
    }
    in.append(buf, static_cast<size_t>(n));
    state = parse(in, used);
  }
  if (state == Parsed::kBroken) {
    dropBulkConnection(address);
    bulk_failed_.insert(address);
  } else if (bulk_failed_.erase(address) > 0) {
    server_back_ = true;
  }
  return state == Parsed::kDone;
}

bool MemcachedClient::takeServerBack() {
  return std::exchange(server_back_, false);
}

std::vector<std::string> MemcachedClient::setMany(
    const std::vector<std::pair<std::string, std::string>>& items, std::chrono::seconds ttl) {
  std::vector<AddOutcome> outcome = storeMany(false, items, ttl);
  std::vector<std::string> failed;
  for (size_t i = 0; i < items.size(); ++i) {
    if (outcome[i] != AddOutcome::kAdded) failed.push_back(items[i].first);
  }
  return failed;
}

std::vector<AddOutcome> MemcachedClient::addMany(
    const std::vector<std::pair<std::string, std::string>>& items, std::chrono::seconds ttl) {
  return storeMany(true, items, ttl);
}

std::vector<AddOutcome> MemcachedClient::storeMany(
    bool add_only, const std::vector<std::pair<std::string, std::string>>& items,
    std::chrono::seconds ttl) {
  std::vector<AddOutcome> outcome(items.size(), AddOutcome::kFailed);
  std::vector<std::string> unplaced;  // keys no server takes: left kFailed
  // Not a structured binding: the parser below captures them (clang 15 cannot capture a binding).
  for (auto& entry : shareByServer(items, unplaced)) {
    const std::string& address = entry.first;
    const ServerShare& share = entry.second;
    std::string out;
    size_t bytes = 0;
    for (size_t i : share.indexes)
      bytes += items[i].first.size() + items[i].second.size() + 48;
    out.reserve(bytes);
    for (size_t i : share.indexes)
      appendStorage(out, add_only ? "add" : "set", items[i].first, items[i].second, ttl, nullptr);
    std::vector<AddOutcome> answers;
    answers.reserve(share.indexes.size());
    auto parse = [&](std::string_view in, size_t& used) {
      size_t end = 0;
      while (answers.size() < share.indexes.size()) {
        std::string_view line = lineAt(in, used, &end);
        if (end <= used) return Parsed::kMore;
        answers.push_back(line == "STORED"       ? AddOutcome::kAdded
                          : line == "NOT_STORED" ? AddOutcome::kExisted
                                                 : AddOutcome::kFailed);
        used = end;
      }
      return Parsed::kDone;
    };
    if (exchange(address, share, out, parse)) {
      for (size_t k = 0; k < share.indexes.size(); ++k)
        outcome[share.indexes[k]] = answers[k];
      continue;
    }
    // Unreachable or too slow: one by one through libmemcached, which marks a dead server and
    // moves its keys along the ring, as readers will.
    for (size_t i : share.indexes) {
      auto r = store(add_only, items[i].first, items[i].second, ttl);
      outcome[i] = r                                              ? AddOutcome::kAdded
                   : r.error().kind == CacheErrorKind::kNotStored ? AddOutcome::kExisted
                                                                  : AddOutcome::kFailed;
    }
  }
  return outcome;
}

NewerWrites MemcachedClient::setManyNewer(
    const std::vector<std::pair<std::string, std::string>>& items, const VersionOf& version_of,
    std::chrono::seconds ttl) {
  NewerWrites result;
  for (auto& entry : shareByServer(items, result.failed)) {
    const std::string& address = entry.first;
    const ServerShare& share = entry.second;
    std::vector<uint64_t> ours(items.size(), 0);
    std::vector<size_t> pending;
    for (size_t i : share.indexes) {
      std::optional<uint64_t> v = version_of(items[i].second);
      if (!v) {
        result.failed.push_back(items[i].first);  // our own value unreadable: a bug at the caller
        continue;
      }
      ours[i] = *v;
      pending.push_back(i);
    }
    bool bulk_ok = true;
    for (int round = 0; round < kNewerRounds && !pending.empty() && bulk_ok; ++round) {
      // 1. What each key holds now, with its CAS unique (one "gets" per key, all pipelined).
      std::string out;
      for (size_t i : pending) {
        out += "gets ";
        out += items[i].first;
        out += "\r\n";
      }
      struct Held {
        bool present = false;
        uint64_t cas = 0;
        std::optional<uint64_t> version;
      };
      std::vector<Held> held;
      held.reserve(pending.size());
      auto parse_gets = [&](std::string_view in, size_t& used) {
        while (held.size() < pending.size()) {
          size_t end = 0;
          std::string_view line = lineAt(in, used, &end);
          if (end <= used) return Parsed::kMore;
          if (line == "END") {
            held.emplace_back();
            used = end;
            continue;
          }
          std::optional<ValueHeader> h = parseValueHeader(line);
          if (!h) return Parsed::kBroken;
          // The value, its "\r\n", then "END\r\n".
          if (in.size() < end + h->bytes + 7) return Parsed::kMore;
          if (in.compare(end + h->bytes, 7, "\r\nEND\r\n") != 0) return Parsed::kBroken;
          held.push_back(Held{true, h->cas, version_of(in.substr(end, h->bytes))});
          used = end + h->bytes + 7;
        }
        return Parsed::kDone;
      };
      if (!exchange(address, share, out, parse_gets)) {
        bulk_ok = false;
        break;
      }
      // 2. Ours where it is newer or equal (a republish of the same version, e.g. under a new
      // key): cas over what was read, add where nothing was.
      out.clear();
      std::vector<size_t> writing;
      for (size_t k = 0; k < pending.size(); ++k) {
        size_t i = pending[k];
        const Held& h = held[k];
        if (h.present && h.version && *h.version > ours[i]) {
          ++result.superseded;
          continue;
        }
        appendStorage(out, h.present ? "cas" : "add", items[i].first, items[i].second, ttl,
                      h.present ? &h.cas : nullptr);
        writing.push_back(i);
      }
      std::vector<size_t> lost;  // another writer came between our gets and our write
      size_t replies = 0;
      auto parse_writes = [&](std::string_view in, size_t& used) {
        while (replies < writing.size()) {
          size_t end = 0;
          std::string_view line = lineAt(in, used, &end);
          if (end <= used) return Parsed::kMore;
          if (line == "EXISTS" || line == "NOT_STORED" || line == "NOT_FOUND") {
            lost.push_back(writing[replies]);
          } else if (line != "STORED") {
            result.failed.push_back(items[writing[replies]].first);
          }
          ++replies;
          used = end;
        }
        return Parsed::kDone;
      };
      if (!writing.empty() && !exchange(address, share, out, parse_writes)) {
        bulk_ok = false;
        pending = std::move(writing);  // the superseded ones are decided already
        break;
      }
      pending = std::move(lost);
    }
    if (bulk_ok) {
      for (size_t i : pending)
        result.failed.push_back(items[i].first);
      continue;
    }
    // Unreachable or too slow: one by one through libmemcached, which marks a dead server and
    // moves its keys along the ring, as readers will.
    for (size_t i : pending) {
      auto stored = storeIfNewer(items[i].first, items[i].second, ours[i], version_of, ttl);
      if (!stored) {
        result.failed.push_back(items[i].first);
      } else if (!stored.value()) {
        ++result.superseded;
      }
    }
  }
  return result;
}

}  // namespace surge::cache
