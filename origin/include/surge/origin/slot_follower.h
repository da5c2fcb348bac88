// SlotFollower: every origin's view of the seats when several origins share a PostgreSQL store.
//
// The store announces each committed change of a seat count (NOTIFY surge_slots "id:booked,...",
// in commit order). The follower listens on a connection of its own and applies each count to the
// catalog index (what this origin answers and publishes) and hands the changed slots to the
// publisher, whichever origin made the booking: every origin publishes every change, so a
// snapshot ends up current even when two origins wrote it with counts a moment apart.
//
// Notifications sent while the follower was not listening (a restart of PostgreSQL, a lost
// connection) are gone: after each (re)connect it reads every slot's count once and applies
// those that differ, then goes on from the notifications.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "surge/cache/metrics.h"
#include "surge/origin/booking_writer.h"

namespace surge::origin {

class SlotFollower {
 public:
  using Listener = std::function<void(const std::vector<SlotChange>&)>;
  SlotFollower(std::string conninfo, BookingWriter& writer, cache::MetricsRegistry& metrics,
               Listener listener);
  ~SlotFollower();
  // Connects, listens and reads every count once before it returns (false: cannot connect).
  cache::Result<cache::Done, std::string> start();
  void stop();

 private:
  // Applies "id:booked,..." (a notification) or a full read; changed slots go to the listener.
  void apply(const std::vector<SlotChange>& counts);

  std::string conninfo_;
  BookingWriter& writer_;
  Listener listener_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  cache::Counter& notifications_;
  cache::Counter& resyncs_;
};

// "12:3,14:0" -> {{12,3},{14,0}}; malformed pairs are skipped.
std::vector<SlotChange> parseSlotCounts(std::string_view payload);

}  // namespace surge::origin
