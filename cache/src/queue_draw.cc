#include "surge/cache/queue_draw.h"

#include <algorithm>

#include "surge/cache/hmac.h"
#include "surge/cache/keyring.h"
#include "surge/cache/queue.h"

namespace surge::cache {

std::string seedCommitment(std::string_view seed_hex) {
  Sha256Digest d = sha256({seed_hex});
  return encodeHex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

base::Result<base::Done, std::string> verifyQueueDraw(const QueueDraw& draw,
                                                      std::string_view committed) {
  if (draw.seed.empty()) return base::fail(std::string("no seed published (before the opening?)"));
  std::string commitment = seedCommitment(draw.seed);
  if (commitment != draw.commitment) {
    return base::fail("the seed's commitment is " + commitment + ", the draw says " +
                      draw.commitment);
  }
  if (!committed.empty() && commitment != committed) {
    return base::fail("the seed's commitment is " + commitment + ", the one saved before the " +
                      "opening is " + std::string(committed));
  }
  if (draw.entries.size() != draw.prequeue) {
    return base::fail("the list has " + std::to_string(draw.entries.size()) + " tickets, the " +
                      "pre-queue " + std::to_string(draw.prequeue));
  }
  std::vector<bool> number_seen(draw.prequeue + 1), place_seen(draw.prequeue + 1);
  for (const auto& [number, place] : draw.entries) {
    std::string which = "ticket " + std::to_string(number);
    if (number < 1 || number > draw.prequeue) return base::fail(which + " is not in 1..P");
    if (number_seen[number]) return base::fail(which + " is listed twice");
    number_seen[number] = true;
    uint64_t expected = shufflePosition(draw.seed, number, draw.prequeue);
    if (place != expected) {
      return base::fail(which + ": place " + std::to_string(place) + " in the list, " +
                        std::to_string(expected) + " by the seed");
    }
    if (place_seen[place]) return base::fail("place " + std::to_string(place) + " is given twice");
    place_seen[place] = true;
  }
  return base::Done{};
}

std::string drawEntriesJson(std::string_view seed, uint64_t prequeue, uint64_t from,
                            uint64_t count) {
  std::string out = "[";
  uint64_t end = from > prequeue ? from : std::min(prequeue + 1, from + count);
  for (uint64_t n = std::max<uint64_t>(from, 1); n < end; ++n) {
    if (out.size() > 1) out += ',';
    out += '[' + std::to_string(n) + ',' + std::to_string(shufflePosition(seed, n, prequeue)) + ']';
  }
  return out + ']';
}

}  // namespace surge::cache
