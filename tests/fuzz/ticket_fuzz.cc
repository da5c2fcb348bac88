// libFuzzer target for the waiting room's untrusted inputs: the ticket verifier (cookie or
// X-Surge-Ticket header from any client), the queue state read from memcached (sealed and bare
// text), resume codes (?code= from anyone), proofs of work (X-Surge-Proof), and the base64
// decoders behind tickets and HTTP Basic.
//
// Input byte 0 chooses the mode: even -> the rest is checked as a ticket as it is (framing, key
// id, MAC); odd -> the rest is decoded as ticket fields and signed first, so the fuzzer also
// reaches what lies behind the MAC. Properties, not just "no crash": a ticket that verifies
// re-encodes to itself, and a queue state that decodes survives a round trip.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "surge/cache/queue.h"
#include "surge/cache/queue_pow.h"

namespace {

const surge::cache::Keyring& fuzzKeyring() {
  static const surge::cache::Keyring ring = [] {
    surge::cache::Keyring r;
    (void)r.add("q1", std::string(32, 'q'));
    (void)r.add("q2", std::string(32, 'r'));
    return r;
  }();
  return ring;
}

template <typename T>
T take(std::string_view& in) {
  T v{};
  size_t n = std::min(sizeof v, in.size());
  std::memcpy(&v, in.data(), n);
  in.remove_prefix(n);
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using namespace surge::cache;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string text(rest);
  if (data[0] & 1) {
    std::string_view in = rest;
    QueueTicket t;
    t.number = take<uint64_t>(in);
    t.issued_s = take<int64_t>(in);
    t.epoch = take<uint32_t>(in);
    t.prequeue = take<uint8_t>(in) & 1;
    t.client = clientBinding(in);
    text = encodeTicket(fuzzKeyring(), t);
  }
  auto ticket = decodeTicket(fuzzKeyring(), text);
  if (ticket.ok()) {
    if (encodeTicket(fuzzKeyring(), ticket.value()) != text) std::abort();
  } else if (data[0] & 1) {
    std::abort();  // a ticket the keyring just signed must verify
  }

  if (auto state = decodeQueueState(rest)) {
    auto again = decodeQueueState(encodeQueueState(*state));
    if (!again || again->admitted != state->admitted || again->epoch != state->epoch ||
        again->open != state->open || again->seats != state->seats ||
        again->sold_out_ms != state->sold_out_ms || again->commitment != state->commitment ||
        again->pow_bits != state->pow_bits) {
      std::abort();
    }
    if (ticket.ok()) (void)queuePosition(ticket.value(), *state);
    // Sealed as origin seals it, it opens to the same state.
    auto sealed = sealQueueState(fuzzKeyring(), *state);
    auto opened = sealed ? openQueueState(fuzzKeyring(), *sealed) : std::nullopt;
    if (!opened || opened->admitted != state->admitted) std::abort();
  }
  (void)openQueueState(fuzzKeyring(), rest);  // as an edge reads memcached
  // A resume code that reads names a place whose own code reads the same.
  if (auto place = readResumeCode(fuzzKeyring(), 7, rest)) {
    auto code = resumeCode(fuzzKeyring(), 7, place->number, place->prequeue);
    auto back = code ? readResumeCode(fuzzKeyring(), 7, *code) : place;
    if (!code || !back || back->number != place->number || back->prequeue != place->prequeue) {
      std::abort();
    }
  }
  // A proof that passes has the work it claims.
  ClientBinding who = clientBinding("fuzz-client-0000");
  if (auto paid = checkProof(fuzzKeyring(), rest, 0, 1000, who)) {
    if (zeroBits(rest) < paid->bits) std::abort();
  }
  if (auto bytes = surge::base::base64UrlDecode(rest)) {
    if (surge::base::base64UrlDecode(surge::base::base64UrlEncode(*bytes)) != bytes) std::abort();
  }
  if (auto bytes = surge::base::base64Decode(rest)) {
    if (surge::base::base64Decode(surge::base::base64Encode(*bytes)) != bytes) std::abort();
  }
  return 0;
}
