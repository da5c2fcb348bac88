#include "surge/origin/slot_follower.h"

#include <poll.h>
#include <pthread.h>

#include <charconv>
#include <chrono>
#include <cstdio>

#include "surge/origin/postgres_connection.h"

namespace surge::origin {

std::vector<SlotChange> parseSlotCounts(std::string_view payload) {
  std::vector<SlotChange> out;
  while (!payload.empty()) {
    size_t comma = payload.find(',');
    std::string_view pair = payload.substr(0, comma);
    payload = comma == std::string_view::npos ? std::string_view() : payload.substr(comma + 1);
    size_t colon = pair.find(':');
    if (colon == std::string_view::npos) continue;
    SlotChange c;
    auto a = std::from_chars(pair.data(), pair.data() + colon, c.slot_id);
    auto b = std::from_chars(pair.data() + colon + 1, pair.data() + pair.size(), c.booked);
    if (a.ec != std::errc() || b.ec != std::errc() || a.ptr != pair.data() + colon ||
        b.ptr != pair.data() + pair.size()) {
      continue;
    }
    out.push_back(c);
  }
  return out;
}

SlotFollower::SlotFollower(std::string conninfo, BookingWriter& writer,
                           base::MetricsRegistry& metrics, Listener listener,
                           CatalogListener on_catalog)
    : conninfo_(std::move(conninfo)),
      writer_(writer),
      listener_(std::move(listener)),
      on_catalog_(std::move(on_catalog)),
      notifications_(metrics.counter("surge_origin_slot_notifications_total",
                                     "Seat-count notifications from the shared store")),
      resyncs_(metrics.counter("surge_origin_slot_resyncs_total",
                               "Times every seat count was read again (after a reconnect)")),
      catalog_reloads_(metrics.counter(
          "surge_origin_catalog_follows_total",
          "Catalogs imported through another origin (or this one) that this origin reloaded")) {}

SlotFollower::~SlotFollower() {
  stop();
}

void SlotFollower::apply(const std::vector<SlotChange>& counts) {
  CatalogIndexPtr index = writer_.catalog();
  std::vector<SlotChange> changed;
  for (const SlotChange& c : counts) {
    IndexedSlot* slot = index->slotById(c.slot_id);
    if (slot == nullptr || slot->booked.load(std::memory_order_relaxed) == c.booked) continue;
    index->applyBooked(*slot, c.booked);
    changed.push_back(c);
  }
  if (!changed.empty() && listener_) listener_(changed);
}

namespace {

base::Result<std::vector<SlotChange>, std::string> readCounts(PostgresConnection& db) {
  PgResult all = db.exec("SELECT id, booked FROM slots");
  if (!all.ok()) return base::fail(all.error());
  std::vector<SlotChange> counts;
  counts.reserve(static_cast<size_t>(all.rows()));
  for (int i = 0; i < all.rows(); ++i)
    counts.push_back(SlotChange{all.int64(i, 0), static_cast<int32_t>(all.int64(i, 1))});
  return counts;
}

struct StoreState {
  std::vector<SlotChange> counts;
  std::string generation;  // of the catalog; "0" before the first import that set one
};

// LISTEN, then every count and the catalog's generation: nothing committed in between is missed
// (a change after LISTEN comes as a notification too, applied after the read; counts only ever
// move to the latest, and a generation seen twice reloads once).
base::Result<StoreState, std::string> listenAndRead(PostgresConnection& db) {
  PgResult listen = db.exec("LISTEN surge_slots; LISTEN surge_catalog");
  if (!listen.ok()) return base::fail(listen.error());
  PgResult generation = db.exec(
      "SELECT coalesce((SELECT value FROM catalog_settings WHERE name = 'generation'), '0')");
  if (!generation.ok()) return base::fail(generation.error());
  auto counts = readCounts(db);
  if (!counts) return base::fail(counts.error());
  return StoreState{std::move(counts.value()), generation.text(0, 0)};
}

}  // namespace

// A count committed while the new catalog was loading may have reached the old index only, so
// once on_catalog has installed it (it returns then) every count is read again.
void SlotFollower::catalogGeneration(PostgresConnection& conn, const std::string& generation) {
  if (generation == generation_) return;
  generation_ = generation;
  catalog_reloads_.add();
  if (!on_catalog_) return;
  on_catalog_();
  // A failed read means the connection is gone: the reconnect reads every count.
  if (auto counts = readCounts(conn); counts) apply(counts.value());
}

base::Result<base::Done, std::string> SlotFollower::start() {
  auto db = PostgresConnection::connect(conninfo_, "surge-origin follower");
  if (!db) return base::fail(db.error());
  auto state = listenAndRead(db.value());
  if (!state) return base::fail("follow seat counts: " + state.error());
  // The catalog this origin loaded at its start is the store's: this generation is the one it has
  // (an import committed between that load and this read is the one case left to the next).
  generation_ = state->generation;
  apply(state->counts);
  thread_ = std::thread([this, db = std::move(db.value())]() mutable {
    pthread_setname_np(pthread_self(), "slot-follower");
    PostgresConnection conn = std::move(db);
    while (!stopping_.load()) {
      if (!conn.connected()) {
        auto again = conn.ensure();
        auto state = again ? listenAndRead(conn) : base::fail(again.error());
        if (!state) {
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          continue;
        }
        resyncs_.add();
        apply(state->counts);
        catalogGeneration(conn, state->generation);  // after: its read is the newer
      }
      pollfd p{PQsocket(conn.raw()), POLLIN, 0};
      int ready = ::poll(&p, 1, 200);  // 200 ms: how long stop() may wait
      if (ready < 0) continue;
      if (ready > 0 && PQconsumeInput(conn.raw()) == 0) {
        // The connection is gone; the next round reconnects and reads every count again.
        PQreset(conn.raw());
        if (!conn.connected()) continue;
        auto state = listenAndRead(conn);
        if (state) {
          resyncs_.add();
          apply(state->counts);
          catalogGeneration(conn, state->generation);
        }
        continue;
      }
      while (PGnotify* n = PQnotifies(conn.raw())) {
        notifications_.add();
        if (std::string_view(n->relname) == "surge_catalog") {
          catalogGeneration(conn, n->extra);
        } else {
          apply(parseSlotCounts(n->extra));
        }
        PQfreemem(n);
      }
    }
  });
  return base::Done{};
}

void SlotFollower::stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
}

}  // namespace surge::origin
