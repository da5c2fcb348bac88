// MemcachedClient: one libmemcached handle configured once from a server list.
//
// Keys are spread over the servers by consistent hashing (ketama), so adding or losing a node moves
// only that node's share. Timeouts are tight (tens of milliseconds): a dead, stopped or black-holed
// cluster answers with an error value within the bound, never a hang. A server that fails is taken
// out of the ring and retried after `retry_after_failure`.
//
// Invariant: a MemcachedClient is used by one thread at a time. Each thread that talks to memcached
// owns its own client, made with clone() from a configured one.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "surge/base/result.h"

struct memcached_st;

namespace surge::cache {

struct MemcachedOptions {
  std::vector<std::string> servers;  // "host:port", at least one
  std::chrono::milliseconds connect_timeout{50};
  std::chrono::milliseconds io_timeout{50};
  std::chrono::seconds retry_after_failure{2};
  // memcached's -I (item_size_max). A value whose item would not fit is refused before sending.
  size_t item_limit = 1u << 20;
};

// Parses "host:port[,host:port...]" (whitespace around entries allowed; port defaults to 11211).
base::Result<std::vector<std::string>, std::string> parseServerList(std::string_view list);

enum class CacheErrorKind {
  kUnavailable,  // no server answered within the bound (down, stopped, removed after failure)
  kTooLarge,     // the value does not fit in one memcached item
  kBadKey,       // empty, longer than 250 bytes, or containing spaces or control characters
  kNotStored,    // the server declined (e.g. add on an existing key)
  kProtocol,     // anything else the server or library reported
};

struct CacheError {
  CacheErrorKind kind;
  std::string message;
};

const char* cacheErrorKindName(CacheErrorKind kind);

// Items overhead that memcached adds to key + value (item header, CAS, flags, "\r\n").
inline constexpr size_t kMemcachedItemOverhead = 96;
inline constexpr size_t kMemcachedMaxKeyLength = 250;

// What a value says its version is, for writers that race on a key; nullopt when the value is not
// to be trusted (not sealed by a key this node holds, not a snapshot at all).
using VersionOf = std::function<std::optional<uint64_t>(std::string_view value)>;

struct NewerWrites {
  std::vector<std::string> failed;  // not decided: server unreachable, or still racing
  size_t superseded = 0;            // memcached already held a newer version: left as it was
};

// What addMany did with each item, in order.
enum class AddOutcome : uint8_t { kAdded, kExisted, kFailed };

struct MultiGetResult {
  std::unordered_map<std::string, std::string> values;  // keys not found are absent
  bool partial = false;  // some server failed: an absent key may exist there
};

class MemcachedClient {
 public:
  static base::Result<std::unique_ptr<MemcachedClient>, std::string> create(
      const MemcachedOptions& options);
  ~MemcachedClient();
  MemcachedClient(const MemcachedClient&) = delete;
  MemcachedClient& operator=(const MemcachedClient&) = delete;

  // A new handle with the same configuration, for another thread.
  base::Result<std::unique_ptr<MemcachedClient>, std::string> clone() const;

  // nullopt when the key is not stored.
  base::Result<std::optional<std::string>, CacheError> get(std::string_view key);
  // One round trip per server for any number of keys.
  base::Result<MultiGetResult, CacheError> getMulti(const std::vector<std::string>& keys);
  // ttl 0: no expiry.
  base::Result<base::Done, CacheError> set(std::string_view key, std::string_view value,
                                           std::chrono::seconds ttl = std::chrono::seconds(0));
  // Writes many values with one pipelined exchange per server (all commands in one write, then
  // all replies), instead of a round trip each: for republishing thousands of snapshots a
  // second. Returns the keys that were not stored (refused, or their server unreachable: those
  // are retried one by one, which lets the ring route around a dead server).
  std::vector<std::string> setMany(const std::vector<std::pair<std::string, std::string>>& items,
                                   std::chrono::seconds ttl = std::chrono::seconds(0));
  // setMany for values several writers race on (origins sharing one store): a value is stored
  // only where memcached does not hold a newer version of it, and atomically so (gets, then cas
  // or add, pipelined per server like setMany; a write that lost a race is read and decided
  // again, a few rounds at most). A held value `version_of` does not trust is overwritten.
  NewerWrites setManyNewer(const std::vector<std::pair<std::string, std::string>>& items,
                           const VersionOf& version_of,
                           std::chrono::seconds ttl = std::chrono::seconds(0));
  base::Result<base::Done, CacheError> add(std::string_view key, std::string_view value,
                                           std::chrono::seconds ttl = std::chrono::seconds(0));
  // add for many keys, pipelined per server as setMany: each added, already there (another
  // claimed it first), or failed (its server unreachable, after one-by-one retries).
  std::vector<AddOutcome> addMany(const std::vector<std::pair<std::string, std::string>>& items,
                                  std::chrono::seconds ttl = std::chrono::seconds(0));
  // Adds `value` at the end of the value under `key`, or stores it there when there is none
  // (memcached's append then add, and append again if another writer's add came first: writers
  // racing on one key all land). ttl applies when this call creates the value.
  base::Result<base::Done, CacheError> appendOrAdd(std::string_view key, std::string_view value,
                                                   std::chrono::seconds ttl);
  // base::Result<true>: removed; base::Result<false>: was not there.
  base::Result<bool, CacheError> remove(std::string_view key);
  // Atomic increment; nullopt when the key does not exist (memcached does not create it).
  base::Result<std::optional<uint64_t>, CacheError> increment(std::string_view key, uint32_t delta);

  // kTooLarge when a value of `value_size` bytes under `key` would not fit in one item.
  base::Result<base::Done, CacheError> checkFits(std::string_view key, size_t value_size) const;

  const MemcachedOptions& options() const { return options_; }

  // True once each time a server that failed a bulk write (setMany, setManyNewer) has taken one
  // again. While it was out, the ring sent its keys to the other servers; readers that have it
  // back look for them on it, where nothing was written (and a restarted memcached holds
  // nothing). A writer that keeps memcached complete, the snapshot publisher, writes everything
  // again when this says so.
  bool takeServerBack();

 private:
  MemcachedClient(MemcachedOptions options, memcached_st* handle);
  base::Result<base::Done, CacheError> store(bool add_only, std::string_view key,
                                             std::string_view value, std::chrono::seconds ttl);
  // After an mget, before its fetch: did the ring hold a server for these keys that was not sent
  // its share (its connect failed, or it is waiting out its retry delay)?
  bool someServerWasNotAsked(const std::vector<std::string>& keys);

  // One plain connection per server for setMany, opened on first use.
  struct BulkConnection;
  BulkConnection* bulkConnection(const std::string& host, int port);
  void dropBulkConnection(const std::string& address);
  // The items' indexes by the server the ring gives their key ("host:port"); keys that cannot be
  // stored at all go to `failed`.
  struct ServerShare {
    std::string host;
    int port = 0;
    std::vector<size_t> indexes;
  };
  // setMany and addMany: the items sent pipelined per server; what became of each, in order
  // (kAdded: stored). Keys no server takes stay kFailed.
  std::vector<AddOutcome> storeMany(bool add_only,
                                    const std::vector<std::pair<std::string, std::string>>& items,
                                    std::chrono::seconds ttl);
  std::unordered_map<std::string, ServerShare> shareByServer(
      const std::vector<std::pair<std::string, std::string>>& items,
      std::vector<std::string>& failed);
  // Sends `out` on the server's bulk connection while reading its replies into `parse`, until
  // parse says they are all in (true). False: the connection broke or was too slow (dropped).
  enum class Parsed { kMore, kDone, kBroken };
  bool exchange(const std::string& address, const ServerShare& share, const std::string& out,
                const std::function<Parsed(std::string_view in, size_t& used)>& parse);
  // One key of setManyNewer through libmemcached, when its server's bulk connection failed.
  // base::Result<true>: stored; base::Result<false>: memcached holds a newer version.
  base::Result<bool, CacheError> storeIfNewer(const std::string& key, const std::string& value,
                                              uint64_t version, const VersionOf& version_of,
                                              std::chrono::seconds ttl);

  // Rebuilds the ring, at most once a second, so that a server back from a failure is in it.
  void refreshRing();

  MemcachedOptions options_;
  memcached_st* handle_;
  std::unordered_map<std::string, std::unique_ptr<BulkConnection>> bulk_;
  int64_t ring_refreshed_ms_ = 0;                // steady clock
  std::unordered_set<std::string> bulk_failed_;  // "host:port" whose last bulk exchange failed
  bool server_back_ = false;
};

using MemcachedClientPtr = std::unique_ptr<MemcachedClient>;

}  // namespace surge::cache
