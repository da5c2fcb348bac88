// Fixed-width big-endian integers in the signed texts the waiting room hands out (tickets,
// proof-of-work challenges): one way to write and read them.
#pragma once

#include <cstdint>
#include <string>

namespace surge::cache {

inline void putBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

inline uint64_t getBigEndian(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v = (v << 8) | p[i];
  return v;
}

}  // namespace surge::cache
