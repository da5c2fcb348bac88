// The pre-queue draw, which anyone can check (issue 21).
//
// When an operator sets an opening time, origin draws a secret seed (32 random bytes, written as
// 64 lower-case hex digits) and publishes its commitment at once: the hex SHA-256 of the seed's
// text (`printf %s SEED | sha256sum`), in the queue state and at GET /api/v1/queue/draw. Nobody
// can know the pre-queue then. At the opening the P pre-queue tickets - numbered 1..P as they were
// taken - get places shufflePosition(seed, number, P) (queue.h: a Feistel permutation keyed by
// the seed, "surge-feistel-sha256-4"), and the seed itself is published. Anyone who saved the
// commitment before the opening checks the draw from the published data alone: the seed matches
// the commitment, the list names every ticket 1..P once, and each place is the one the seed gives.
//
// Published data (GET /api/v1/queue/draw?from=N&count=M, pages of up to kDrawPage entries):
//   {"function":"surge-feistel-sha256-4","commitment":HEX|null,"opening_s":S,"opened":BOOL,
//    "prequeue":P|null,"seed":HEX|null,"from":N,"entries":[[number,place],...],"next":N|null}
// The same fields in one document (entries of every page) is what `surgectl queue verify` reads
// from a file, and writes with --save.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "surge/base/result.h"

namespace surge::cache {

inline constexpr std::string_view kDrawFunction = "surge-feistel-sha256-4";
inline constexpr uint64_t kDrawPage = 1000;  // 4 SHA-256 per entry: ~1 ms of an edge's worker

// Lower-case hex SHA-256 of the seed's text.
std::string seedCommitment(std::string_view seed_hex);

struct QueueDraw {
  std::string commitment;
  std::string seed;
  uint64_t prequeue = 0;
  std::vector<std::pair<uint64_t, uint64_t>> entries;  // (ticket number, place)
};

// Done when the seed's commitment is the draw's, and `committed` too when it is given (the one
// saved before the opening: a draw published with another seed and its own commitment is
// refused); every number 1..P is listed once; and each place is the one the seed gives. Else the
// first thing that does not hold.
base::Result<base::Done, std::string> verifyQueueDraw(const QueueDraw& draw,
                                                      std::string_view committed = {});

// `[[number,place],...]` for numbers [from, from + count) within 1..prequeue.
std::string drawEntriesJson(std::string_view seed, uint64_t prequeue, uint64_t from,
                            uint64_t count);

}  // namespace surge::cache
