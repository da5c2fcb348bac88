#include "surge/origin/queue_passing.h"

#include <algorithm>

namespace surge::origin {
namespace {

using Clock = std::chrono::steady_clock;

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Bounds on the pacer's work per tick and on what it remembers: a line of millions moves past
// absent people a few tens of thousands at a time, and passed places beyond a million are
// forgotten (they are counted passed; if they come back they book, uncounted as returned).
constexpr uint64_t kMaxPassesPerCall = 50000;
constexpr size_t kMaxRemembered = 1000000;
constexpr size_t kMaxBlocksCounted = 256;  // 2 million places ahead of the cursor

}  // namespace

QueuePassing::QueuePassing(std::chrono::seconds absent_after, std::chrono::seconds grace,
                           base::MetricsRegistry& metrics)
    : absent_after_(absent_after),
      grace_(grace),
      since_(Clock::now()),
      passed_counter_(metrics.counter(
          "surge_origin_queue_passed_over_total",
          "Places passed over by admission: their page had not asked for --queue-absent-after")),
      returned_counter_(
          metrics.counter("surge_origin_queue_returned_total",
                          "Places passed over whose page came back within the booking session")),
      waiting_(metrics.gauge("surge_origin_queue_waiting", "Places issued and not admitted yet")),
      active_(metrics.gauge("surge_origin_queue_active",
                            "Waiting places whose page asked within --queue-absent-after (-1: "
                            "not counted)")) {
  view_.reset(epoch_, absentAfterSeconds());
  active_.set(-1);
}

void QueuePassing::observe(uint64_t issued, uint32_t epoch, bool admitting) {
  if (absent_after_.count() == 0) return;
  auto now = Clock::now();
  if (epoch != epoch_ || (admitting && !admitting_)) {
    // A new epoch's places, or admission just starting (the opening): pages need absent_after
    // to have said they are here.
    if (epoch != epoch_) {
      view_.reset(epoch, absentAfterSeconds());
      passed_.clear();
    }
    epoch_ = epoch;
    since_ = now;
  }
  admitting_ = admitting;
  if (issued_at_.empty() || issued_at_.back().second != issued)
    issued_at_.emplace_back(now, issued);
  // Keep the last mark at or before now - absent_after: it says which places are old enough.
  while (issued_at_.size() > 1 && issued_at_[1].first <= now - absent_after_)
    issued_at_.pop_front();
}

QueuePassing::Counts QueuePassing::counts() const {
  return {passed_counter_.value(), returned_counter_.value(), active_.value()};
}

bool QueuePassing::mayPass(uint64_t place, Clock::time_point now) const {
  if (absent_after_.count() == 0 || now - since_ < absent_after_) return false;
  if (issued_at_.empty() || issued_at_.front().first > now - absent_after_) return false;
  return place <= issued_at_.front().second;
}

uint64_t QueuePassing::advance(cache::MemcachedClient& memcached, uint64_t from, uint64_t issued,
                               uint64_t seat_cap, uint64_t credits) {
  if (absent_after_.count() == 0)
    return std::max(from, std::min({issued, seat_cap, from + credits}));
  auto now = Clock::now();
  int64_t now_ms = wallMs();
  uint64_t at = from, passes = 0;
  // seat_cap + passes, saturating: an uncounted bound is UINT64_MAX.
  auto limit = [&] { return seat_cap > UINT64_MAX - passes ? UINT64_MAX : seat_cap + passes; };
  while (at < issued && at < limit()) {
    uint64_t place = at + 1;
    if (passes < kMaxPassesPerCall && mayPass(place, now) &&
        !view_.present(memcached, place, now_ms).value_or(true)) {
      ++passes;
      passed_.emplace_back(now, place);
    } else if (credits > 0) {
      --credits;
    } else {
      break;
    }
    at = place;
  }
  while (passed_.size() > kMaxRemembered)
    passed_.pop_front();
  passed_total_ += passes;
  passed_counter_.add(passes);
  return at;
}

void QueuePassing::review(cache::MemcachedClient& memcached, uint64_t admitted, uint64_t issued) {
  waiting_.set(static_cast<int64_t>(issued > admitted ? issued - admitted : 0));
  if (absent_after_.count() == 0) return;
  auto now = Clock::now();
  if (now - reviewed_ < std::chrono::seconds(1)) return;
  reviewed_ = now;
  int64_t now_ms = wallMs();
  while (!passed_.empty() && passed_.front().first < now - grace_)
    passed_.pop_front();  // their session is over: they can no longer come back to book
  // Absent when passed; there now: the page asked since.
  uint64_t back = 0;
  auto kept = std::remove_if(passed_.begin(), passed_.end(), [&](const auto& p) {
    bool here = view_.present(memcached, p.second, now_ms).value_or(false);
    back += here ? 1 : 0;
    return here;
  });
  passed_.erase(kept, passed_.end());
  returned_total_ += back;
  returned_counter_.add(back);
  if (now - counted_ >= std::chrono::seconds(2)) {
    counted_ = now;
    active_.set(static_cast<int64_t>(
        view_.countPresent(memcached, admitted, issued, now_ms, kMaxBlocksCounted)));
  }
}

}  // namespace surge::origin
