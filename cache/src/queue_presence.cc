#include "surge/cache/queue_presence.h"

#include <algorithm>
#include <bit>

namespace surge::cache {

int64_t presenceBucket(int64_t unix_ms, uint32_t absent_after_s) {
  int64_t length_ms = std::max<int64_t>(1000, int64_t{absent_after_s} * 1000 / 2);
  return unix_ms / length_ms;
}

std::string presenceKey(uint32_t epoch, int64_t bucket, uint64_t block) {
  return "surge:queue:here:" + std::to_string(epoch) + ":" + std::to_string(bucket) + ":" +
         std::to_string(block);
}

void PresenceLog::note(uint64_t place) {
  if (place == 0) return;
  std::lock_guard lock(mutex_);
  // A flood of status requests for made-up places cannot grow this without end: past a million
  // noted in one second the rest wait for the next (the page asks again).
  if (places_.size() < 1000000) places_.push_back(place);
}

void PresenceLog::clear() {
  std::lock_guard lock(mutex_);
  places_.clear();
}

bool PresenceLog::flush(MemcachedClient& memcached, uint32_t epoch, uint32_t absent_after_s,
                        int64_t now_ms) {
  std::vector<uint64_t> places;
  {
    std::lock_guard lock(mutex_);
    places.swap(places_);
  }
  if (places.empty() || absent_after_s == 0) return true;
  std::sort(places.begin(), places.end());
  places.erase(std::unique(places.begin(), places.end()), places.end());
  int64_t bucket = presenceBucket(now_ms, absent_after_s);
  auto ttl = std::chrono::seconds(int64_t{absent_after_s} * 4);
  bool all = true;
  size_t i = 0;
  while (i < places.size()) {
    uint64_t index = places[i] / kPresenceBlock;
    std::string value;
    for (; i < places.size() && places[i] / kPresenceBlock == index; ++i) {
      auto offset = static_cast<uint16_t>(places[i] % kPresenceBlock);
      value.push_back(static_cast<char>(offset >> 8));
      value.push_back(static_cast<char>(offset & 0xff));
    }
    if (!memcached.appendOrAdd(presenceKey(epoch, bucket, index), value, ttl)) all = false;
  }
  return all;
}

void PresenceView::reset(uint32_t epoch, uint32_t absent_after_s) {
  epoch_ = epoch;
  absent_after_s_ = absent_after_s;
  blocks_.clear();
}

const PresenceView::Block& PresenceView::block(MemcachedClient& memcached, uint64_t index,
                                               int64_t now_ms) {
  auto now = std::chrono::steady_clock::now();
  auto it = blocks_.find(index);
  if (it != blocks_.end() && now - it->second.read_at < refresh_) return it->second;
  if (blocks_.size() > 4096) blocks_.clear();  // far more than a tick looks at: start over
  Block& b = blocks_[index];
  b.read_at = now;
  b.bits.clear();
  int64_t bucket = presenceBucket(now_ms, absent_after_s_);
  std::vector<std::string> keys;
  for (int64_t k = bucket - 2; k <= bucket; ++k)
    keys.push_back(presenceKey(epoch_, k, index));
  auto got = memcached.getMulti(keys);
  if (!got || got->partial) return b;  // not known: everyone there
  b.bits.assign(kPresenceBlock / 64, 0);
  for (const auto& [key, value] : got->values) {
    for (size_t j = 0; j + 1 < value.size(); j += 2) {
      unsigned offset =
          (static_cast<unsigned char>(value[j]) << 8) | static_cast<unsigned char>(value[j + 1]);
      if (offset < kPresenceBlock) b.bits[offset / 64] |= uint64_t{1} << (offset % 64);
    }
  }
  return b;
}

std::optional<bool> PresenceView::present(MemcachedClient& memcached, uint64_t place,
                                          int64_t now_ms) {
  const Block& b = block(memcached, place / kPresenceBlock, now_ms);
  if (b.bits.empty()) return std::nullopt;
  uint64_t offset = place % kPresenceBlock;
  return (b.bits[offset / 64] >> (offset % 64)) & 1;
}

uint64_t PresenceView::countPresent(MemcachedClient& memcached, uint64_t from, uint64_t to,
                                    int64_t now_ms, size_t max_blocks) {
  uint64_t count = 0;
  size_t read = 0;
  for (uint64_t index = (from + 1) / kPresenceBlock; index <= to / kPresenceBlock && from < to;
       ++index) {
    if (read++ == max_blocks) break;
    const Block& b = block(memcached, index, now_ms);
    if (b.bits.empty()) continue;
    uint64_t first = std::max(from + 1, index * kPresenceBlock);
    uint64_t last = std::min(to, index * kPresenceBlock + kPresenceBlock - 1);
    for (uint64_t p = first; p <= last;) {
      uint64_t offset = p % kPresenceBlock;
      uint64_t word = b.bits[offset / 64] >> (offset % 64);
      uint64_t span = std::min<uint64_t>(64 - offset % 64, last - p + 1);
      if (span < 64) word &= (uint64_t{1} << span) - 1;
      count += static_cast<uint64_t>(std::popcount(word));
      p += span;
    }
  }
  return count;
}

}  // namespace surge::cache
