// The edge's half of the waiting room (the other half is origin's pacer): tickets, queue status
// from memory, and the booking gate.
//
// - Tickets: POST /api/v1/queue/tickets gives the next number of the global sequence (memcached
//   incr, done by this edge's queue thread, never on a worker) inside a signed ticket
//   (surge/cache/queue.h), set as the `surge_ticket` cookie and returned as JSON. The ticket is
//   bound to the client id (`surge_client` cookie, made on first contact, or the X-Surge-Client
//   header for apps): the same client asking again - another tab, a reload - gets the same ticket
//   and keeps its place. Before the opening time (set by origin) arrivals get pre-queue tickets;
//   their places are shuffled at the opening (surge/cache/queue.h), so arriving early or on a
//   faster connection gains nothing.
// - Numbers are taken in blocks of `block` per incr. Order across edges then holds within one
//   block: a ticket can be admitted before one issued up to (block - 1) x (edges - 1) earlier
//   elsewhere. block = 1 (the default) is strict FIFO at one memcached round trip per ticket.
// - Status: GET /api/v1/queue/tickets/current answers from memory: the queue state (admitted
//   cursor, rate, epoch) is re-read by the queue thread every `refresh`. GET /api/v1/queue/state
//   is that state alone, the same for everyone and cacheable for a second (a CDN in front of the
//   edges answers the waiting crowd's polls); a ticket's answers carry its "place" in the line,
//   from which a page computes its position.
// - Gate: with the waiting room open, a booking needs a ticket that verifies, belongs to the
//   client, is of the current epoch, is admitted (number <= cursor), and was admitted less than
//   `session` ago (the edge remembers when the cursor passed each point; an edge younger than
//   `session` treats what it has not seen as still valid).
// - Presence: with origin's --queue-absent-after, every ticket given and every status asked
//   notes the ticket's place; the queue thread appends them to memcached once a second
//   (surge/cache/queue_presence.h) so the pacer passes over places whose page left.
// - Sold out: once origin's state says the last seat went, new tickets are refused (410
//   sold_out); tickets already held are still answered, and every status says "sold_out" with
//   the time. Seats given back by cancellations clear it at origin's next tick.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "surge/base/metrics.h"
#include "surge/cache/keyring.h"
#include "surge/cache/memcached_client.h"
#include "surge/cache/queue.h"
#include "surge/cache/queue_presence.h"
#include "surge/http/attempt_limiter.h"
#include "surge/http/server.h"

namespace surge::edge {

struct WaitingRoomOptions {
  bool enabled = false;
  std::string keys;  // keyring file for tickets
  std::chrono::seconds session{600};
  uint32_t block = 1;
  std::chrono::milliseconds refresh{200};
  size_t max_pending = 10000;  // ticket requests waiting for the queue thread
};

class WaitingRoom {
 public:
  WaitingRoom(cache::MemcachedOptions memcached, cache::Keyring keyring, WaitingRoomOptions options,
              base::MetricsRegistry& metrics);
  ~WaitingRoom();
  base::Result<base::Done, std::string> start();
  void stop();
  void setKeyring(cache::Keyring keyring);
  // The snapshot keyring: the queue state origin writes to memcached is sealed with it.
  void setStateKeyring(cache::Keyring keyring);

  using Done = std::function<void(http::Response)>;
  // Worker thread. `done` runs on the same worker (now, or posted later).
  void issue(http::Worker& worker, const http::Request& request, Done done);
  http::Response current(const http::Request& request);
  // POST /api/v1/queue/tickets/resume?code=ABCD-EFGH-J: the place of a resume code (queue.h) as a
  // ticket for this client, the same number - never a new one. Wrong codes are counted per client
  // address (10 a minute, then 429).
  http::Response resume(const http::Request& request);
  // GET /api/v1/queue/challenge: {bits, challenge} for the "under attack" mode (queue_pow.h); a
  // new ticket then needs X-Surge-Proof. {bits: 0, challenge: null} while the mode is off.
  http::Response challenge(const http::Request& request);
  // GET /api/v1/queue/state: the queue as everyone sees it (open, epoch, admitted cursor, rate,
  // issued, opening), cacheable by a CDN for a second. A page with its ticket's "place" computes
  // its position from it.
  http::Response shared() const;
  // GET /api/v1/queue/draw?from=N&count=M: the pre-queue draw as anyone checks it
  // (surge/cache/queue_draw.h): the commitment from when an opening time is set, the seed and
  // the pages of (ticket number, place) from the opening.
  http::Response draw(const http::Request& request) const;

  struct Gate {
    bool ok = false;
    // missing, forged, other_client, revoked, not_admitted, expired, sold_out
    const char* reason = "";
    uint64_t number = 0;  // the ticket's place in the queue (unique per ticket), for origin
  };
  Gate check(const http::Request& request);
  http::Response refuse(const Gate& gate) const;

  cache::QueueState state() const;

 private:
  struct Pending {
    http::Worker* worker;
    cache::ClientBinding client;
    std::string client_id;
    bool new_client;
    bool prequeue;
    Done done;
    std::string proof_id;  // hex id of the proof of work paid, claimed in memcached first
  };
  struct Presented {
    std::string text;
    std::string client_id;
    bool new_client = false;  // the id was made now (identify): it goes out as a cookie
  };
  // Gives a client without an id a new one; false when no randomness is available.
  static bool identify(Presented& p);
  // The Set-Cookie line of a client id just made.
  static std::string clientCookie(const std::string& client_id);
  Presented presented(const http::Request& request) const;
  http::Response ticketAnswer(int status, const std::string& ticket_text,
                              const cache::QueueTicket& ticket, const std::string& client_id,
                              bool set_client_cookie);
  std::string resumeCodeField(const cache::QueueTicket& ticket) const;
  // A new ticket of `number`, signed, as its 201 answer (any thread).
  http::Response newTicket(uint64_t number, bool prequeue, uint32_t epoch,
                           const cache::ClientBinding& client, const std::string& client_id,
                           bool new_client);
  static std::string statusFields(const cache::QueueTicket& ticket, const cache::QueueState& s);
  static std::string seatFields(const cache::QueueState& s);
  static uint32_t heartbeatSeconds(const cache::QueueState& s);
  void loop();
  void readState();
  int64_t admittedAtMs(uint64_t number) const;  // mutex_ held
  // Was `place` admitted more than a session ago?
  bool sessionOver(uint64_t place, const cache::QueueState& s) const;
  cache::Keyring keyring() const;

  cache::MemcachedOptions memcached_options_;
  std::unique_ptr<cache::MemcachedClient> memcached_;  // queue thread only
  mutable std::mutex keyring_mutex_;
  cache::Keyring keyring_;
  cache::Keyring state_keyring_;  // keyring_mutex_
  WaitingRoomOptions options_;

  mutable std::mutex mutex_;  // pending requests, the local block, the state, the history
  std::condition_variable wake_;
  std::deque<Pending> pending_;
  uint64_t block_next_ = 0, block_end_ = 0;  // numbers [next, end) reserved by this edge
  cache::QueueState state_;
  bool have_state_ = false;
  std::deque<std::pair<int64_t, uint64_t>> history_;  // (unix ms, admitted) when it moved
  int64_t started_ms_ = 0;
  bool stopping_ = false;
  cache::PresenceLog presence_;  // places pages asked about, for origin's pacer
  std::thread thread_;

  base::Counter& issued_;
  base::Counter& reissued_;
  base::Counter& shed_;
  base::Counter& memcached_errors_;
  base::Counter& state_refused_;
  base::Counter& sold_out_refused_;
  base::Counter& resumed_;
  base::Counter& challenges_;
  base::Counter* proof_refused_[8];
  base::Counter* resume_refused_[4];
  http::AttemptLimiter wrong_codes_{{10, std::chrono::seconds(60), 100000}};
  base::Counter* refused_[7];
  base::Gauge& admitted_gauge_;
  base::Gauge& length_gauge_;
  base::Gauge& rate_gauge_;
  base::Gauge& seats_gauge_;
};

}  // namespace surge::edge
