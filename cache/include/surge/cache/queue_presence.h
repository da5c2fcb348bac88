// Who is still there: the waiting room's record of which places in the line a page asked about
// lately, so that origin's pacer passes over people who left instead of spending admissions on
// them (origin/queue_pacer.h).
//
// Edges note the place of every ticket a page asks about (its status, a resume, a ticket given
// again) and, once a second, append the places they saw to memcached, one value per block of
// kPresenceBlock places and per time bucket:
//   key   surge:queue:here:<epoch>:<bucket>:<block>    bucket = unix s / (absent_after / 2)
//   value the places' offsets in the block, 2 bytes each (big-endian), appended by every edge
// The pacer reads the current bucket and the two before it for the blocks it looks at: a place is
// there when any of them has it - it asked within the last absent_after seconds at least (and
// 1.5 x absent_after at most). Values live 4 x absent_after. Nothing here is trusted for more than
// pacing: a forged entry only keeps a place from being passed over, which is how it was before.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "surge/cache/memcached_client.h"

namespace surge::cache {

inline constexpr uint64_t kPresenceBlock = 8192;

// The time bucket of `unix_ms` for an absence time of `absent_after_s` (> 0).
int64_t presenceBucket(int64_t unix_ms, uint32_t absent_after_s);
std::string presenceKey(uint32_t epoch, int64_t bucket, uint64_t block);

// Edge side: places noted by workers, written by the queue thread.
class PresenceLog {
 public:
  void note(uint64_t place);  // any thread; place 0 (none yet) is ignored
  // Queue thread: appends what was noted since the last flush (each place once) to the bucket
  // of `now_ms`. Places noted under another epoch are dropped by the caller's revoke. Returns
  // false when memcached refused some of it (those places are lost for this bucket only).
  bool flush(MemcachedClient& memcached, uint32_t epoch, uint32_t absent_after_s, int64_t now_ms);
  void clear();

 private:
  std::mutex mutex_;
  std::vector<uint64_t> places_;
};

// Origin side: which places are there, read block by block, each block at most once per
// `refresh`. Of a block memcached could not give nothing is known: present() says nullopt and
// countPresent() leaves it out.
class PresenceView {
 public:
  explicit PresenceView(std::chrono::milliseconds refresh = std::chrono::milliseconds(1000))
      : refresh_(refresh) {}
  // Starts again (an epoch change, another absence time).
  void reset(uint32_t epoch, uint32_t absent_after_s);
  // Whether the place's page asked lately; nullopt when memcached could not say.
  std::optional<bool> present(MemcachedClient& memcached, uint64_t place, int64_t now_ms);
  // Places in (from, to] that are there; reads at most `max_blocks` blocks (the rest counted as
  // not known: left out).
  uint64_t countPresent(MemcachedClient& memcached, uint64_t from, uint64_t to, int64_t now_ms,
                        size_t max_blocks);

 private:
  struct Block {
    std::vector<uint64_t> bits;  // kPresenceBlock bits; empty: not known (read failed)
    std::chrono::steady_clock::time_point read_at;
  };
  const Block& block(MemcachedClient& memcached, uint64_t index, int64_t now_ms);

  std::chrono::milliseconds refresh_;
  uint32_t epoch_ = 0;
  uint32_t absent_after_s_ = 0;
  std::unordered_map<uint64_t, Block> blocks_;
};

}  // namespace surge::cache
