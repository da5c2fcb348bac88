#include "surge/cache/queue.h"

#include <algorithm>
#include <cmath>

#include <charconv>
#include <cstdio>
#include <cstring>

#include "big_endian.h"
#include "surge/base/crockford.h"
#include "surge/cache/hmac.h"
#include "surge/cache/snapshot_envelope.h"

namespace surge::cache {

using base::base64UrlDecode;
using base::base64UrlEncode;

using base::fail;
using base::Result;
namespace {

constexpr uint8_t kTicketFormat = 1;
constexpr size_t kMaxTicketText = 256;

}  // namespace

ClientBinding clientBinding(std::string_view client_id) {
  auto digest = sha256({client_id});
  ClientBinding b{};
  std::memcpy(b.data(), digest.data(), b.size());
  return b;
}

namespace {

uint64_t resumeMac(const KeyringKey& key, uint32_t epoch, uint64_t number, bool prequeue) {
  std::string fields;
  putBigEndian(fields, epoch, 4);
  fields.push_back(static_cast<char>(prequeue ? 1 : 0));
  putBigEndian(fields, number, 8);
  HmacSha256Digest mac = hmacSha256(key.secret, {"surge-resume-1", fields});
  return (uint64_t{mac[0]} << 7 | mac[1] >> 1) & 0x7fff;  // 15 bits
}

}  // namespace

std::optional<std::string> resumeCode(const Keyring& keyring, uint32_t epoch, uint64_t number,
                                      bool prequeue) {
  if (keyring.empty() || number == 0 || number > kResumeMaxNumber) return std::nullopt;
  // The MAC first: codes of neighbouring places look nothing alike.
  uint64_t bits = resumeMac(keyring.signingKey(), epoch, number, prequeue) << 25 |
                  uint64_t{prequeue ? 1u : 0u} << 24 | number;
  std::string code = base::crockfordEncode(bits, 8);
  return code.substr(0, 4) + "-" + code.substr(4) + "-" + base::crockfordCheckSymbol(bits);
}

Result<ResumedPlace, ResumeError> readResumeCode(const Keyring& keyring, uint32_t epoch,
                                                 std::string_view typed) {
  auto symbols = base::crockfordNormalize(typed);
  if (!symbols || symbols->size() != 9) return fail(ResumeError::kMistyped);
  auto bits = base::crockfordDecode(std::string_view(*symbols).substr(0, 8));
  if (!bits || base::crockfordCheckSymbol(*bits) != (*symbols)[8]) {
    return fail(ResumeError::kMistyped);
  }
  ResumedPlace place{*bits & kResumeMaxNumber, ((*bits >> 24) & 1) != 0};
  uint64_t mac = *bits >> 25;
  for (const KeyringKey& key : keyring.keys()) {  // a code made before a key rotation still works
    if (place.number != 0 && resumeMac(key, epoch, place.number, place.prequeue) == mac) {
      return place;
    }
  }
  return fail(ResumeError::kUnknown);
}

const char* ticketErrorName(TicketError e) {
  switch (e) {
    case TicketError::kMalformed:
      return "malformed";
    case TicketError::kUnknownKey:
      return "unknown_key";
    case TicketError::kBadMac:
      return "bad_mac";
  }
  return "malformed";
}

std::string encodeTicket(const Keyring& keyring, QueueTicket ticket) {
  const KeyringKey& key = keyring.signingKey();
  std::string raw;
  raw.push_back(static_cast<char>(kTicketFormat));
  raw.push_back(static_cast<char>(key.id.size()));
  raw += key.id;
  putBigEndian(raw, ticket.number, 8);
  putBigEndian(raw, static_cast<uint64_t>(ticket.issued_s), 8);
  putBigEndian(raw, ticket.epoch, 4);
  raw.push_back(static_cast<char>(ticket.prequeue ? 1 : 0));
  raw.append(reinterpret_cast<const char*>(ticket.client.data()), ticket.client.size());
  HmacSha256Digest mac = hmacSha256(key.secret, {raw});
  raw.append(reinterpret_cast<const char*>(mac.data()), mac.size());
  return base64UrlEncode(raw);
}

Result<QueueTicket, TicketError> decodeTicket(const Keyring& keyring, std::string_view text) {
  if (text.empty() || text.size() > kMaxTicketText) return fail(TicketError::kMalformed);
  auto raw = base64UrlDecode(text);
  if (!raw || raw->size() < 2) return fail(TicketError::kMalformed);
  const auto* p = reinterpret_cast<const uint8_t*>(raw->data());
  if (p[0] != kTicketFormat) return fail(TicketError::kMalformed);
  size_t id_len = p[1];
  size_t body = 2 + id_len + 8 + 8 + 4 + 1 + 16;
  if (raw->size() != body + kHmacSha256Size) return fail(TicketError::kMalformed);
  std::string_view key_id(raw->data() + 2, id_len);
  const KeyringKey* key = keyring.find(key_id);
  if (key == nullptr) return fail(TicketError::kUnknownKey);
  HmacSha256Digest mac = hmacSha256(key->secret, {std::string_view(raw->data(), body)});
  if (!digestEquals(mac, std::string_view(raw->data() + body, kHmacSha256Size))) {
    return fail(TicketError::kBadMac);
  }
  QueueTicket t;
  t.key_id = std::string(key_id);
  const uint8_t* q = p + 2 + id_len;
  t.number = getBigEndian(q, 8);
  t.issued_s = static_cast<int64_t>(getBigEndian(q + 8, 8));
  t.epoch = static_cast<uint32_t>(getBigEndian(q + 16, 4));
  if (q[20] > 1) return fail(TicketError::kMalformed);
  t.prequeue = q[20] == 1;
  std::memcpy(t.client.data(), q + 21, t.client.size());
  return t;
}

std::string encodeQueueState(const QueueState& s) {
  char buf[640];
  char seats[24] = "-";
  if (s.seats >= 0) std::snprintf(seats, sizeof seats, "%lld", static_cast<long long>(s.seats));
  std::snprintf(buf, sizeof buf,
                "surge-queue 1 open=%d epoch=%u admitted=%llu rate=%.3f issued=%llu updated=%lld "
                "opening=%lld pre=%llu opened=%d shuffle=%s seats=%s sold=%lld commit=%s pow=%u "
                "here=%u",
                s.open ? 1 : 0, s.epoch, static_cast<unsigned long long>(s.admitted), s.rate,
                static_cast<unsigned long long>(s.issued), static_cast<long long>(s.updated_ms),
                static_cast<long long>(s.opening_s), static_cast<unsigned long long>(s.prequeue),
                s.opened ? 1 : 0, s.shuffle.empty() ? "-" : s.shuffle.c_str(), seats,
                static_cast<long long>(s.sold_out_ms),
                s.commitment.empty() ? "-" : s.commitment.c_str(), s.pow_bits, s.absent_after_s);
  return buf;
}

namespace {

// Seeds and commitments are lower-case hex: anything else would not be written back the same.
bool lowerHex(std::string_view v) {
  return !v.empty() && v.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

std::optional<QueueState> decodeQueueState(std::string_view text) {
  constexpr std::string_view kPrefix = "surge-queue 1 ";
  if (text.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  text.remove_prefix(kPrefix.size());
  QueueState s;
  // Each required field exactly once (a duplicate must not stand in for a missing one); values
  // that would not survive being written back (negative times, NaN rates) are refused.
  enum : unsigned { kOpen = 1, kEpoch = 2, kAdmitted = 4, kRate = 8, kIssued = 16, kUpdated = 32 };
  unsigned seen = 0;
  while (!text.empty()) {
    size_t space = text.find(' ');
    std::string_view item = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view name = item.substr(0, eq), value = item.substr(eq + 1);
    auto u64 = [&](uint64_t& out) {
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
      return ec == std::errc() && ptr == value.data() + value.size();
    };
    auto once = [&](unsigned bit) {
      if (seen & bit) return false;
      seen |= bit;
      return true;
    };
    uint64_t v = 0;
    if (name == "open") {
      if (!once(kOpen) || !u64(v) || v > 1) return std::nullopt;
      s.open = v == 1;
    } else if (name == "epoch") {
      if (!once(kEpoch) || !u64(v) || v > UINT32_MAX) return std::nullopt;
      s.epoch = static_cast<uint32_t>(v);
    } else if (name == "admitted") {
      if (!once(kAdmitted) || !u64(s.admitted)) return std::nullopt;
    } else if (name == "rate") {
      if (!once(kRate)) return std::nullopt;
      std::string copy(value);
      char* end = nullptr;
      s.rate = std::strtod(copy.c_str(), &end);
      if (copy.empty() || end != copy.c_str() + copy.size() || !std::isfinite(s.rate) ||
          s.rate < 0) {
        return std::nullopt;
      }
    } else if (name == "issued") {
      if (!once(kIssued) || !u64(s.issued)) return std::nullopt;
    } else if (name == "updated") {
      if (!once(kUpdated) || !u64(v) || v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
      s.updated_ms = static_cast<int64_t>(v);
    } else if (name == "opening") {  // the rest are optional
      if (!u64(v) || v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
      s.opening_s = static_cast<int64_t>(v);
    } else if (name == "pre") {
      if (!u64(s.prequeue)) return std::nullopt;
    } else if (name == "opened") {
      if (!u64(v) || v > 1) return std::nullopt;
      s.opened = v == 1;
    } else if (name == "shuffle") {
      if (value.size() > 64 || (value != "-" && !lowerHex(value))) return std::nullopt;
      s.shuffle = value == "-" ? std::string() : std::string(value);
    } else if (name == "pow") {
      if (!u64(v) || v > 32) return std::nullopt;
      s.pow_bits = static_cast<uint32_t>(v);
    } else if (name == "here") {
      if (!u64(v) || v > 86400) return std::nullopt;
      s.absent_after_s = static_cast<uint32_t>(v);
    } else if (name == "commit") {
      if (value.size() > 64 || (value != "-" && !lowerHex(value))) return std::nullopt;
      s.commitment = value == "-" ? std::string() : std::string(value);
    } else if (name == "seats") {
      if (value == "-") {
        s.seats = -1;
      } else if (!u64(v) || v > static_cast<uint64_t>(INT64_MAX)) {
        return std::nullopt;
      } else {
        s.seats = static_cast<int64_t>(v);
      }
    } else if (name == "sold") {
      if (!u64(v) || v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
      s.sold_out_ms = static_cast<int64_t>(v);
    }
    // Other names: fields may be added.
  }
  if (seen != (kOpen | kEpoch | kAdmitted | kRate | kIssued | kUpdated)) return std::nullopt;
  return s;
}

Result<std::string, std::string> sealQueueState(const Keyring& snapshot_keyring,
                                                const QueueState& state) {
  SnapshotFields fields;
  fields.version = static_cast<uint64_t>(std::max<int64_t>(state.updated_ms, 1));
  fields.created_unix_ms = state.updated_ms;
  fields.content_type = std::string(kQueueStateContentType);
  return sealSnapshot(snapshot_keyring, fields, encodeQueueState(state), BodyEncoding::kIdentity);
}

std::optional<QueueState> openQueueState(const Keyring& snapshot_keyring, std::string_view bytes) {
  auto opened = openSnapshot(snapshot_keyring, bytes);
  if (!opened || opened->content_type != kQueueStateContentType ||
      opened->encoding != BodyEncoding::kIdentity) {
    return std::nullopt;
  }
  return decodeQueueState(opened->body);
}

uint64_t shufflePosition(std::string_view seed, uint64_t p, uint64_t n) {
  if (n <= 1 || p < 1 || p > n) return p;
  // A keyed permutation of [0, 2^bits) (balanced Feistel, 4 rounds of SHA-256), walked until
  // it lands inside [0, n): a bijection of [0, n) because the cycle containing x < n returns
  // to [0, n) before it could repeat.
  int bits = 2;
  while ((uint64_t{1} << bits) < n)
    bits += 2;
  int half = bits / 2;
  uint64_t mask = (uint64_t{1} << half) - 1;
  auto round = [&](int r, uint64_t x) {
    char in[9];
    in[0] = static_cast<char>(r);
    for (int i = 0; i < 8; ++i)
      in[1 + i] = static_cast<char>((x >> (8 * i)) & 0xff);
    Sha256Digest d = sha256({seed, std::string_view(in, sizeof in)});
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v = (v << 8) | d[static_cast<size_t>(i)];
    return v & mask;
  };
  uint64_t x = p - 1;
  do {
    uint64_t l = x >> half, r = x & mask;
    for (int i = 0; i < 4; ++i) {
      uint64_t next = l ^ round(i, r);
      l = r;
      r = next;
    }
    x = (l << half) | r;
  } while (x >= n);
  return x + 1;
}

uint64_t queuePosition(const QueueTicket& ticket, const QueueState& state) {
  if (!ticket.prequeue) return state.prequeue + ticket.number;
  if (!state.opened) return 0;  // before the opening: no place yet
  // Taken after P was fixed (an edge that had not seen the opening yet): no place - giving it
  // P + number would collide with main ticket `number`.
  if (ticket.number == 0 || ticket.number > state.prequeue) return 0;
  return shufflePosition(state.shuffle, ticket.number, state.prequeue);
}

}  // namespace surge::cache
