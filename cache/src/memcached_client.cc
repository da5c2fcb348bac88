#include "surge/cache/memcached_client.h"

#include <libmemcached/memcached.h>

#include "memcached_bulk_connection.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace surge::cache {

using base::Done;
using base::fail;
using base::Result;
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool isValidKey(std::string_view key) {
  if (key.empty() || key.size() > kMemcachedMaxKeyLength) return false;
  for (unsigned char c : key) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

CacheError badKey(std::string_view key) {
  return CacheError{CacheErrorKind::kBadKey,
                    "invalid memcached key \"" + std::string(key.substr(0, 64)) +
                        "\": 1-250 bytes, no spaces or control characters"};
}

// Failures that mean "no server could be reached in time": the caller treats them as a cache that
// is down (serve stale, retry later), never as a protocol problem.
bool isUnavailable(memcached_return_t rc) {
  switch (rc) {
    case MEMCACHED_CONNECTION_FAILURE:
    case MEMCACHED_CONNECTION_SOCKET_CREATE_FAILURE:
    case MEMCACHED_HOST_LOOKUP_FAILURE:
    case MEMCACHED_ERRNO:
    case MEMCACHED_TIMEOUT:
    case MEMCACHED_SERVER_MARKED_DEAD:
    case MEMCACHED_SERVER_TEMPORARILY_DISABLED:
    case MEMCACHED_NO_SERVERS:
    case MEMCACHED_UNKNOWN_READ_FAILURE:
    case MEMCACHED_WRITE_FAILURE:
    case MEMCACHED_READ_FAILURE:
    case MEMCACHED_PARTIAL_READ:
    case MEMCACHED_SOME_ERRORS:
    case MEMCACHED_FAIL_UNIX_SOCKET:
    case MEMCACHED_CONNECTION_BIND_FAILURE:
    case MEMCACHED_IN_PROGRESS:
    case MEMCACHED_SERVER_ERROR:
      return true;
    default:
      return false;
  }
}

CacheError errorFrom(memcached_st* handle, memcached_return_t rc, std::string_view what) {
  CacheErrorKind kind = CacheErrorKind::kProtocol;
  if (rc == MEMCACHED_E2BIG) {
    kind = CacheErrorKind::kTooLarge;
  } else if (rc == MEMCACHED_NOTSTORED || rc == MEMCACHED_DATA_EXISTS) {
    kind = CacheErrorKind::kNotStored;
  } else if (rc == MEMCACHED_BAD_KEY_PROVIDED) {
    kind = CacheErrorKind::kBadKey;
  } else if (isUnavailable(rc)) {
    kind = CacheErrorKind::kUnavailable;
  }
  const char* detail = memcached_last_error_message(handle);
  std::string message = std::string(what) + ": " + memcached_strerror(handle, rc);
  if (detail != nullptr && *detail != '\0') message += std::string(" (") + detail + ")";
  return CacheError{kind, std::move(message)};
}

// A server that has just been marked dead is taken out of the ketama ring by the next call, so
// with other servers left one immediate retry lands on the key's new home. No I/O happens for a
// dead server, so the retry cannot stretch the time bound.
template <typename Operation>
memcached_return_t withFailover(size_t server_count, Operation op) {
  memcached_return_t rc = op();
  for (int retry = 0; retry < 2 && server_count > 1; ++retry) {
    if (rc != MEMCACHED_SERVER_MARKED_DEAD && rc != MEMCACHED_SERVER_TEMPORARILY_DISABLED) break;
    rc = op();
  }
  return rc;
}

}  // namespace

const char* cacheErrorKindName(CacheErrorKind kind) {
  switch (kind) {
    case CacheErrorKind::kUnavailable:
      return "unavailable";
    case CacheErrorKind::kTooLarge:
      return "too_large";
    case CacheErrorKind::kBadKey:
      return "bad_key";
    case CacheErrorKind::kNotStored:
      return "not_stored";
    case CacheErrorKind::kProtocol:
      return "protocol";
  }
  return "unknown";
}

Result<std::vector<std::string>, std::string> parseServerList(std::string_view list) {
  std::vector<std::string> servers;
  while (true) {
    size_t comma = list.find(',');
    std::string_view entry = trim(list.substr(0, comma));
    if (entry.empty()) return fail(std::string("empty entry in memcached server list"));
    std::string_view host = entry;
    std::string port = "11211";
    if (size_t colon = entry.rfind(':'); colon != std::string_view::npos) {
      host = entry.substr(0, colon);
      port = std::string(entry.substr(colon + 1));
      char* end = nullptr;
      long value = std::strtol(port.c_str(), &end, 10);
      if (port.empty() || *end != '\0' || value < 1 || value > 65535) {
        return fail("bad port in memcached server \"" + std::string(entry) + "\"");
      }
    }
    if (host.empty() || host.find_first_of(" \t") != std::string_view::npos) {
      return fail("bad host in memcached server \"" + std::string(entry) + "\"");
    }
    servers.push_back(std::string(host) + ":" + port);
    if (comma == std::string_view::npos) break;
    list = list.substr(comma + 1);
  }
  return servers;
}

MemcachedClient::MemcachedClient(MemcachedOptions options, memcached_st* handle)
    : options_(std::move(options)), handle_(handle) {}

MemcachedClient::~MemcachedClient() {
  memcached_free(handle_);
}

Result<std::unique_ptr<MemcachedClient>, std::string> MemcachedClient::create(
    const MemcachedOptions& options) {
  if (options.servers.empty()) return fail(std::string("no memcached servers configured"));
  if (options.item_limit <= kMemcachedItemOverhead)
    return fail(std::string("item limit too small"));
  memcached_st* handle = memcached_create(nullptr);
  if (handle == nullptr) return fail(std::string("memcached_create failed"));
  std::unique_ptr<MemcachedClient> client(new MemcachedClient(options, handle));

  for (const std::string& server : options.servers) {
    size_t colon = server.rfind(':');
    std::string host = server.substr(0, colon);
    auto port = static_cast<in_port_t>(std::strtoul(server.c_str() + colon + 1, nullptr, 10));
    memcached_return_t rc = memcached_server_add(handle, host.c_str(), port);
    if (rc != MEMCACHED_SUCCESS) {
      return fail("memcached server " + server + ": " + memcached_strerror(handle, rc));
    }
  }

  auto ms = [](std::chrono::milliseconds d) { return static_cast<uint64_t>(d.count()); };
  struct Behavior {
    memcached_behavior_t flag;
    uint64_t value;
  };
  const Behavior behaviors[] = {
      // Non-blocking sockets: the only mode in which the connect and poll timeouts apply.
      {MEMCACHED_BEHAVIOR_NO_BLOCK, 1},
      {MEMCACHED_BEHAVIOR_TCP_NODELAY, 1},
      {MEMCACHED_BEHAVIOR_DISTRIBUTION, MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA},
      {MEMCACHED_BEHAVIOR_KETAMA_HASH, MEMCACHED_HASH_MD5},
      {MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, ms(options.connect_timeout)},
      {MEMCACHED_BEHAVIOR_POLL_TIMEOUT, ms(options.io_timeout)},
      {MEMCACHED_BEHAVIOR_SND_TIMEOUT, ms(options.io_timeout) * 1000},
      {MEMCACHED_BEHAVIOR_RCV_TIMEOUT, ms(options.io_timeout) * 1000},
      // Two connects in a row that fail (refused or timed out, on two calls) put a server in
      // timeout; libmemcached's default of none lets one connect that a loaded machine held past
      // connect_timeout take a healthy memcached away for retry_after_failure, and with it every
      // snapshot an edge has not yet held that lives there (503 + Retry-After). A dead server
      // costs one more refused connect, or one more connect_timeout, before it is left out.
      {MEMCACHED_BEHAVIOR_SERVER_TIMEOUT_LIMIT, 2},
      // Once in timeout, a server is taken out of the ring; it is tried again after the delay.
      {MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 1},
      {MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 1},
      {MEMCACHED_BEHAVIOR_RETRY_TIMEOUT,
       static_cast<uint64_t>(options.retry_after_failure.count())},
      {MEMCACHED_BEHAVIOR_DEAD_TIMEOUT, static_cast<uint64_t>(options.retry_after_failure.count())},
      {MEMCACHED_BEHAVIOR_VERIFY_KEY, 1},
      // Gets return CAS uniques: storeIfNewer writes over exactly what it read.
      {MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1},
  };
  for (const Behavior& b : behaviors) {
    memcached_return_t rc = memcached_behavior_set(handle, b.flag, b.value);
    if (rc != MEMCACHED_SUCCESS) {
      return fail(std::string("memcached behavior: ") + memcached_strerror(handle, rc));
    }
  }
  return client;
}

Result<std::unique_ptr<MemcachedClient>, std::string> MemcachedClient::clone() const {
  memcached_st* copy = memcached_clone(nullptr, handle_);
  if (copy == nullptr) return fail(std::string("memcached_clone failed"));
  return std::unique_ptr<MemcachedClient>(new MemcachedClient(options_, copy));
}

Result<std::optional<std::string>, CacheError> MemcachedClient::get(std::string_view key) {
  if (!isValidKey(key)) return fail(badKey(key));
  size_t length = 0;
  uint32_t flags = 0;
  char* value = nullptr;
  memcached_return_t rc = withFailover(options_.servers.size(), [&] {
    memcached_return_t get_rc = MEMCACHED_SUCCESS;
    value = memcached_get(handle_, key.data(), key.size(), &length, &flags, &get_rc);
    return get_rc;
  });
  if (value != nullptr) {
    std::string out(value, length);
    std::free(value);
    return std::optional<std::string>(std::move(out));
  }
  if (rc == MEMCACHED_NOTFOUND) return std::optional<std::string>();
  return fail(errorFrom(handle_, rc, "memcached get"));
}

Result<MultiGetResult, CacheError> MemcachedClient::getMulti(const std::vector<std::string>& keys) {
  MultiGetResult out;
  if (keys.empty()) return out;
  std::vector<const char*> key_ptrs;
  std::vector<size_t> key_lengths;
  key_ptrs.reserve(keys.size());
  key_lengths.reserve(keys.size());
  for (const std::string& key : keys) {
    if (!isValidKey(key)) return fail(badKey(key));
    key_ptrs.push_back(key.data());
    key_lengths.push_back(key.size());
  }
  memcached_return_t rc = memcached_mget(handle_, key_ptrs.data(), key_lengths.data(), keys.size());
  if (rc == MEMCACHED_SOME_ERRORS) {
    out.partial = true;  // the servers that answered still deliver their keys below
  } else if (rc != MEMCACHED_SUCCESS) {
    return fail(errorFrom(handle_, rc, "memcached mget"));
  }
  if (!out.partial && options_.servers.size() > 1 && someServerWasNotAsked(keys)) {
    out.partial = true;
  }
  // The library owns the result objects; the callback copies each hit out.
  memcached_execute_fn collect[] = {[](const memcached_st*, memcached_result_st* r, void* context) {
    static_cast<MultiGetResult*>(context)->values.emplace(
        std::string(memcached_result_key_value(r), memcached_result_key_length(r)),
        std::string(memcached_result_value(r), memcached_result_length(r)));
    return MEMCACHED_SUCCESS;
  }};
  memcached_return_t fetch_rc = memcached_fetch_execute(handle_, collect, &out, 1);
  if (fetch_rc != MEMCACHED_SUCCESS && fetch_rc != MEMCACHED_END &&
      fetch_rc != MEMCACHED_NOTFOUND) {
    out.partial = true;
  }
  if (out.partial && out.values.empty()) {
    return fail(CacheError{CacheErrorKind::kUnavailable, "memcached mget: no server answered"});
  }
  return out;
}

bool MemcachedClient::someServerWasNotAsked(const std::vector<std::string>& keys) {
  // libmemcached's mget skips a server it could not connect to (refused, timed out, or in its
  // retry delay) without saying so: it answers SUCCESS when another server was asked, and that
  // server's keys would read as misses. Each server asked holds a pending response until the
  // fetch; a key whose server holds none was not asked.
  for (const std::string& key : keys) {
    memcached_return_t rc = MEMCACHED_SUCCESS;
    const memcached_instance_st* server =
        memcached_server_by_key(handle_, key.data(), key.size(), &rc);
    if (server == nullptr || memcached_server_response_count(server) == 0) return true;
  }
  return false;
}

Result<Done, CacheError> MemcachedClient::checkFits(std::string_view key, size_t value_size) const {
  if (!isValidKey(key)) return fail(badKey(key));
  if (key.size() + value_size + kMemcachedItemOverhead > options_.item_limit) {
    return fail(CacheError{CacheErrorKind::kTooLarge,
                           "value of " + std::to_string(value_size) + " bytes for key \"" +
                               std::string(key) + "\" does not fit in a memcached item (limit " +
                               std::to_string(options_.item_limit) + " bytes including key and " +
                               std::to_string(kMemcachedItemOverhead) + " bytes of overhead)"});
  }
  return Done{};
}

Result<Done, CacheError> MemcachedClient::store(bool add_only, std::string_view key,
                                                std::string_view value, std::chrono::seconds ttl) {
  if (!isValidKey(key)) return fail(badKey(key));
  if (key.size() + value.size() + kMemcachedItemOverhead > options_.item_limit) {
    return fail(CacheError{CacheErrorKind::kTooLarge,
                           "value of " + std::to_string(value.size()) + " bytes for key \"" +
                               std::string(key) + "\" does not fit in a memcached item (limit " +
                               std::to_string(options_.item_limit) + " bytes including key and " +
                               std::to_string(kMemcachedItemOverhead) + " bytes of overhead)"});
  }
  auto expiry = static_cast<time_t>(ttl.count());
  memcached_return_t rc = withFailover(options_.servers.size(), [&] {
    return add_only ? memcached_add(handle_, key.data(), key.size(), value.data(), value.size(),
                                    expiry, 0)
                    : memcached_set(handle_, key.data(), key.size(), value.data(), value.size(),
                                    expiry, 0);
  });
  if (rc == MEMCACHED_SUCCESS) return Done{};
  return fail(errorFrom(handle_, rc, add_only ? "memcached add" : "memcached set"));
}

Result<Done, CacheError> MemcachedClient::appendOrAdd(std::string_view key, std::string_view value,
                                                      std::chrono::seconds ttl) {
  if (!isValidKey(key)) return fail(badKey(key));
  auto append = [&] {
    return withFailover(options_.servers.size(), [&] {
      return memcached_append(handle_, key.data(), key.size(), value.data(), value.size(), 0, 0);
    });
  };
  for (int round = 0; round < 3; ++round) {
    memcached_return_t rc = append();
    if (rc == MEMCACHED_SUCCESS) return Done{};
    if (rc != MEMCACHED_NOTSTORED) return fail(errorFrom(handle_, rc, "memcached append"));
    auto added = store(true, key, value, ttl);  // none there yet
    if (added) return Done{};
    if (added.error().kind != CacheErrorKind::kNotStored) return added;
  }
  return fail(CacheError{CacheErrorKind::kNotStored,
                         "memcached append: key \"" + std::string(key) + "\" kept changing"});
}

Result<Done, CacheError> MemcachedClient::set(std::string_view key, std::string_view value,
                                              std::chrono::seconds ttl) {
  return store(false, key, value, ttl);
}

Result<Done, CacheError> MemcachedClient::add(std::string_view key, std::string_view value,
                                              std::chrono::seconds ttl) {
  return store(true, key, value, ttl);
}

Result<bool, CacheError> MemcachedClient::storeIfNewer(const std::string& key,
                                                       const std::string& value, uint64_t version,
                                                       const VersionOf& version_of,
                                                       std::chrono::seconds ttl) {
  const char* keys[] = {key.data()};
  const size_t lengths[] = {key.size()};
  const auto expiry = static_cast<time_t>(ttl.count());
  memcached_return_t rc = MEMCACHED_SUCCESS;
  for (int round = 0; round < 4; ++round) {
    rc = withFailover(options_.servers.size(),
                      [&] { return memcached_mget(handle_, keys, lengths, 1); });
    if (rc != MEMCACHED_SUCCESS) return fail(errorFrom(handle_, rc, "memcached gets"));
    bool present = false;
    uint64_t cas = 0;
    std::optional<uint64_t> held;
    while (memcached_result_st* r = memcached_fetch_result(handle_, nullptr, &rc)) {
      present = true;
      cas = memcached_result_cas(r);
      held = version_of(std::string_view(memcached_result_value(r), memcached_result_length(r)));
      memcached_result_free(r);
    }
    if (rc != MEMCACHED_END && rc != MEMCACHED_NOTFOUND && rc != MEMCACHED_SUCCESS)
      return fail(errorFrom(handle_, rc, "memcached gets"));
    if (present && held && *held > version) return false;
    rc = present ? memcached_cas(handle_, key.data(), key.size(), value.data(), value.size(),
                                 expiry, 0, cas)
                 : memcached_add(handle_, key.data(), key.size(), value.data(), value.size(),
                                 expiry, 0);
    if (rc == MEMCACHED_SUCCESS) return true;
    // Another writer came between the read and the write: read again.
    if (rc != MEMCACHED_DATA_EXISTS && rc != MEMCACHED_NOTSTORED && rc != MEMCACHED_NOTFOUND) break;
  }
  return fail(errorFrom(handle_, rc, "memcached cas"));
}

Result<bool, CacheError> MemcachedClient::remove(std::string_view key) {
  if (!isValidKey(key)) return fail(badKey(key));
  memcached_return_t rc = withFailover(options_.servers.size(), [&] {
    return memcached_delete(handle_, key.data(), key.size(), 0);
  });
  if (rc == MEMCACHED_SUCCESS) return true;
  if (rc == MEMCACHED_NOTFOUND) return false;
  return fail(errorFrom(handle_, rc, "memcached delete"));
}

Result<std::optional<uint64_t>, CacheError> MemcachedClient::increment(std::string_view key,
                                                                       uint32_t delta) {
  if (!isValidKey(key)) return fail(badKey(key));
  uint64_t value = 0;
  memcached_return_t rc = withFailover(options_.servers.size(), [&] {
    return memcached_increment(handle_, key.data(), key.size(), delta, &value);
  });
  if (rc == MEMCACHED_SUCCESS) return std::optional<uint64_t>(value);
  if (rc == MEMCACHED_NOTFOUND) return std::optional<uint64_t>();
  return fail(errorFrom(handle_, rc, "memcached incr"));
}

}  // namespace surge::cache
