// The waiting room's shared pieces: signed tickets (made and checked by edges), the queue state
// origin publishes in memcached, and the memcached keys both use.
//
// Ticket, as a cookie value or the X-Surge-Ticket header: base64url (no padding) of
//   u8 format (1) | u8 key-id length | key id | u64 number | i64 issued (unix s) | u32 epoch |
//   16 bytes client binding (first half of SHA-256 of the client id) | HMAC-SHA256 of all before
// Numbers come from one global sequence (memcached incr on kQueueSequenceKey). Nothing about a
// ticket is stored anywhere: an edge that never saw it checks it with the keyring alone.
//
// Queue state (kQueueStateKey), written by origin's pacer, read by every edge in the background:
//   "surge-queue 1 open=<0|1> epoch=<E> admitted=<N> rate=<R> issued=<S> updated=<unix ms>"
// admitted: every ticket number <= N may book. rate: tickets admitted per second (ETA = people
// ahead / rate). epoch: raising it (surgectl queue revoke) invalidates every ticket issued before.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "surge/cache/keyring.h"
#include "surge/cache/result.h"

namespace surge::cache {

inline constexpr std::string_view kQueueSequenceKey = "surge:queue:seq";
inline constexpr std::string_view kQueueStateKey = "surge:queue:state";

using ClientBinding = std::array<uint8_t, 16>;
ClientBinding clientBinding(std::string_view client_id);

struct QueueTicket {
  std::string key_id;
  uint64_t number = 0;
  int64_t issued_s = 0;
  uint32_t epoch = 0;
  ClientBinding client{};
};

enum class TicketError { kMalformed, kUnknownKey, kBadMac };
const char* ticketErrorName(TicketError e);

// Signed with the keyring's newest key (its id goes into the ticket).
std::string encodeTicket(const Keyring& keyring, QueueTicket ticket);
Result<QueueTicket, TicketError> decodeTicket(const Keyring& keyring, std::string_view text);

struct QueueState {
  bool open = false;
  uint32_t epoch = 0;
  uint64_t admitted = 0;
  double rate = 0;
  uint64_t issued = 0;
  int64_t updated_ms = 0;
};
std::string encodeQueueState(const QueueState& state);
std::optional<QueueState> decodeQueueState(std::string_view text);

std::string base64UrlEncode(std::string_view bytes);
std::optional<std::string> base64UrlDecode(std::string_view text);

}  // namespace surge::cache
