// The waiting room's shared pieces: signed tickets (made and checked by edges), the queue state
// origin publishes in memcached, and the memcached keys both use.
//
// Ticket, as a cookie value or the X-Surge-Ticket header: base64url (no padding) of
//   u8 format (1) | u8 key-id length | key id | u64 number | i64 issued (unix s) | u32 epoch |
//   u8 pre-queue (0/1) | 16 bytes client binding (first half of SHA-256 of the client id) |
//   HMAC-SHA256 of all before
// Numbers come from one global sequence (memcached incr on kQueueSequenceKey). Nothing about a
// ticket is stored anywhere: an edge that never saw it checks it with the keyring alone.
//
// Queue state (kQueueStateKey), written by origin's pacer, read by every edge in the background:
//   "surge-queue 1 open=<0|1> epoch=<E> admitted=<N> rate=<R> issued=<S> updated=<unix ms>
//    opening=<unix s> pre=<P> opened=<0|1> shuffle=<hex|-> seats=<left|-> sold=<unix ms|0>
//    commit=<hex|-> pow=<bits> here=<seconds>"
// Positions: the P pre-queue tickets (taken before the opening, numbered 1..P by
// kQueuePreSequenceKey) hold places 1..P in an order shuffled at the opening with a seed origin
// draws then (so arriving early or fast gains nothing); ticket n of the main sequence holds place
// P + n. admitted: every place <= N may book. rate: places admitted per second (ETA = places
// ahead / rate). epoch: raising it (surgectl queue revoke) invalidates every ticket issued before.
// commit: the seed's commitment (queue_draw.h), published from when the seed is drawn (an opening
// time is set); the seed itself (shuffle) only from the opening.
// pow: the proof of work a new ticket needs (queue_pow.h), in bits; 0: none (the attack mode off).
// here: a place whose page has not asked about it for this many seconds is passed over by
// admission (queue_presence.h); pages ask at least three times as often. 0: nobody is.
// seats: seats still bookable (slots not begun), "-" when origin does not count them; sold: when
// origin saw the last one go (0 while some are left): edges stop issuing tickets and every status
// says sold_out.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "surge/base/base64.h"
#include "surge/base/result.h"
#include "surge/cache/keyring.h"

namespace surge::cache {

inline constexpr std::string_view kQueueSequenceKey = "surge:queue:seq";
inline constexpr std::string_view kQueueStateKey = "surge:queue:state";
inline constexpr std::string_view kQueuePreSequenceKey = "surge:queue:preseq";

using ClientBinding = std::array<uint8_t, 16>;
ClientBinding clientBinding(std::string_view client_id);

struct QueueTicket {
  std::string key_id;
  uint64_t number = 0;
  int64_t issued_s = 0;
  uint32_t epoch = 0;
  bool prequeue = false;  // taken before the opening: its number is in the pre-queue sequence
  ClientBinding client{};
};

enum class TicketError { kMalformed, kUnknownKey, kBadMac };
const char* ticketErrorName(TicketError e);

// Signed with the keyring's newest key (its id goes into the ticket).
std::string encodeTicket(const Keyring& keyring, QueueTicket ticket);
base::Result<QueueTicket, TicketError> decodeTicket(const Keyring& keyring, std::string_view text);

// Resume codes: a ticket's place as a person writes it down and types it on another device, where
// any edge gives that device a ticket for the same place (no new number: never a second place).
// 8 symbols of Crockford base32 (base/crockford.h) carrying 40 bits - MAC (15, HMAC-SHA256 with a
// queue key over "surge-resume-1", the epoch, pre-queue and number) | pre-queue (1) | number (24)
// - and Crockford's check symbol, shown "ABCD-EFGH-J". The check symbol catches a mistyped code
// before it costs a try; the MAC, with the edge counting wrong codes per client address, keeps
// guessing someone's place far out of reach. A code lives as long as its epoch: a revoke ends it.
// Numbers past 2^24 - 1 (16.7 million places in one epoch) get no code.
inline constexpr uint64_t kResumeMaxNumber = (uint64_t{1} << 24) - 1;
std::optional<std::string> resumeCode(const Keyring& keyring, uint32_t epoch, uint64_t number,
                                      bool prequeue);
struct ResumedPlace {
  uint64_t number = 0;
  bool prequeue = false;
};
// kMistyped: not 8 code symbols and a check symbol that agrees (a typo, not a guess);
// kUnknown: well formed, but no key of the keyring made it for this epoch.
enum class ResumeError { kMistyped, kUnknown };
base::Result<ResumedPlace, ResumeError> readResumeCode(const Keyring& keyring, uint32_t epoch,
                                                       std::string_view typed);

struct QueueState {
  bool open = false;
  uint32_t epoch = 0;
  uint64_t admitted = 0;
  double rate = 0;
  uint64_t issued = 0;  // places issued so far: P + the main sequence
  int64_t updated_ms = 0;
  int64_t opening_s = 0;        // 0: no opening time (tickets are main tickets)
  uint64_t prequeue = 0;        // P, fixed at the opening; 0 before it
  bool opened = false;          // the opening has passed and P is fixed (P may be 0)
  std::string shuffle;          // hex seed of the pre-queue order, published at the opening
  std::string commitment;       // SHA-256 of the seed (queue_draw.h), published before the opening
  uint32_t pow_bits = 0;        // proof of work for a new ticket (queue_pow.h); 0: not asked
  uint32_t absent_after_s = 0;  // queue_presence.h; 0: nobody is passed over
  int64_t seats = -1;           // seats still bookable; -1: not counted (no catalog, bound off)
  int64_t sold_out_ms = 0;      // when the last seat went (unix ms); 0: not sold out
  bool soldOut() const { return sold_out_ms > 0; }
};
std::string encodeQueueState(const QueueState& state);
std::optional<QueueState> decodeQueueState(std::string_view text);

// The state as it sits in memcached (kQueueStateKey): the text above in a snapshot envelope sealed
// with the snapshot keyring origin and every edge already share. memcached has no authentication;
// an unsealed "admitted=" would let anyone who can reach it admit the whole queue, or stop it.
inline constexpr std::string_view kQueueStateContentType = "application/vnd.surge.queue-state";
base::Result<std::string, std::string> sealQueueState(const Keyring& snapshot_keyring,
                                                      const QueueState& state);
// nullopt unless the envelope verifies, is a queue state, and decodes.
std::optional<QueueState> openQueueState(const Keyring& snapshot_keyring, std::string_view bytes);

// Place 1..n of pre-queue number p (1..n) under `seed`: a bijection of [1, n].
uint64_t shufflePosition(std::string_view seed, uint64_t p, uint64_t n);
// A ticket's place in the queue. 0: a pre-queue ticket before the opening, or one taken too late
// (numbered after P was fixed) - that one has no place and must join again.
uint64_t queuePosition(const QueueTicket& ticket, const QueueState& state);

}  // namespace surge::cache
