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
//
// A catalog imported through any origin bumps the store's catalog generation and announces it
// (NOTIFY surge_catalog "generation"): the follower hands it to `on_catalog`, which reloads this
// origin's catalog (new clinics and slots, changed capacities), and so does a (re)connect that
// finds a generation other than the last one seen. The origin that imported reloads once more.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "surge/base/metrics.h"
#include "surge/origin/booking_writer.h"
#include "surge/origin/postgres_connection.h"

namespace surge::origin {

class SlotFollower {
 public:
  using Listener = std::function<void(const std::vector<SlotChange>&)>;
  // On the follower's thread; returns when the reloaded catalog is installed (or given up on).
  using CatalogListener = std::function<void()>;
  SlotFollower(std::string conninfo, BookingWriter& writer, base::MetricsRegistry& metrics,
               Listener listener, CatalogListener on_catalog = nullptr);
  ~SlotFollower();
  // Connects, listens and reads every count once before it returns (false: cannot connect).
  base::Result<base::Done, std::string> start();
  void stop();

 private:
  // Applies "id:booked,..." (a notification) or a full read; changed slots go to the listener.
  void apply(const std::vector<SlotChange>& counts);
  // A catalog generation seen (a notification or a read after a reconnect): a new one goes to
  // on_catalog, then every count is read again on `conn`.
  void catalogGeneration(PostgresConnection& conn, const std::string& generation);

  std::string conninfo_;
  BookingWriter& writer_;
  Listener listener_;
  CatalogListener on_catalog_;
  std::string generation_;  // the catalog generation last seen; the follower's thread only
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  base::Counter& notifications_;
  base::Counter& resyncs_;
  base::Counter& catalog_reloads_;
};

// "12:3,14:0" -> {{12,3},{14,0}}; malformed pairs are skipped.
std::vector<SlotChange> parseSlotCounts(std::string_view payload);

}  // namespace surge::origin
