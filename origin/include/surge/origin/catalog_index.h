// CatalogIndex: the catalog in memory, indexed for request validation and snapshot building, with
// each slot's booked count.
//
// Invariant: the structure is immutable once built and shared by every thread; only the booked
// counts change, written by the booking writer after a commit and read by the publisher. A catalog
// import builds a new index and swaps the pointer.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "surge/origin/catalog.h"
#include "surge/origin/time_zone.h"

namespace surge::origin {

struct IndexedSlot {
  int64_t id = 0;  // the store's slot id
  int64_t clinic_id = 0;
  int32_t day = 0;
  int16_t minute = 0;
  int32_t capacity = 0;
  std::atomic<int32_t> booked{0};
  uint32_t day_total = 0;  // position of its clinic's (day, remaining) entry
};

// Seats left in one clinic on one day, kept up to date with each change so that region snapshots
// never rescan slots.
struct DayTotal {
  int32_t day = 0;
  std::atomic<int32_t> remaining{0};
};

// One row as the store loads it.
struct StoredSlot {
  int64_t id = 0;
  Slot slot;
  int32_t booked = 0;
};

// The catalog's seats at a moment, for the waiting room's admission (queue_pacer.h).
struct SeatCount {
  int64_t left = 0;    // seats still bookable: in slots that have not begun
  int64_t booked = 0;  // seats booked since this index was built; a cancellation does not
                       // lower it (the seat is left again instead)
  int64_t slots = 0;   // slots in the catalog (0: nothing to sell yet)
};

class CatalogIndex {
 public:
  CatalogIndex(std::vector<Region> regions, std::vector<Clinic> clinics,
               std::vector<StoredSlot> slots, TimeZone zone = TimeZone());

  // The zone of the slots' dates and times.
  const TimeZone& timeZone() const { return zone_; }
  // Has the slot begun at local time `now` (a slot is bookable until its start)?
  static bool hasBegun(int32_t day, int16_t minute, LocalTime now) {
    return day < now.day || (day == now.day && minute <= now.minute());
  }

  const std::vector<Region>& regions() const { return regions_; }
  const std::vector<Clinic>& clinics() const { return clinics_; }
  const Region* region(std::string_view code) const;
  const Clinic* clinic(int64_t id) const;

  // Precomputed for snapshots: `{"id":..,"name":..,"address":..,"lat":..,"lng":..,"remaining":[`
  const std::string& clinicFragment(const Clinic& clinic) const;
  // Clinics of a 시/군/구, or of every 시/군/구 of a 시/도, in id order; and the days any of them
  // has, sorted.
  const std::vector<const Clinic*>& clinicsOf(std::string_view region_code) const;
  const std::vector<int32_t>& daysOf(std::string_view region_code) const;
  // A clinic's seats left per day, ordered by day.
  std::span<const DayTotal> dayTotalsOf(int64_t clinic_id) const;

  // Writer thread (or the slot follower's): records a slot's new booked count and moves its day
  // total by the difference.
  void applyBooked(IndexedSlot& slot, int32_t booked);

  // A clinic's slots ordered by (day, minute).
  std::span<IndexedSlot> slotsOf(int64_t clinic_id);
  std::span<const IndexedSlot> slotsOf(int64_t clinic_id) const;
  IndexedSlot* findSlot(int64_t clinic_id, int32_t day, int16_t minute);
  IndexedSlot* slotById(int64_t slot_id);
  size_t slotCount() const { return slot_count_; }
  // Reads the day totals, and the slots of the day under way only: a few thousand loads for a
  // country's catalog, so the pacer can ask at every tick.
  SeatCount seats(LocalTime now) const;

 private:
  TimeZone zone_;
  std::vector<Region> regions_;
  std::vector<Clinic> clinics_;  // by id
  std::unordered_map<std::string, size_t> region_by_code_;
  std::unordered_map<int64_t, size_t> clinic_by_id_;
  std::unordered_map<std::string, std::vector<size_t>> clinics_by_region_;         // leaf regions
  std::unordered_map<std::string, std::vector<const Clinic*>> clinics_of_region_;  // all regions
  std::unordered_map<std::string, std::vector<int32_t>> days_of_region_;
  std::vector<std::string> clinic_fragments_;  // by clinic index
  std::unique_ptr<DayTotal[]> day_totals_;
  size_t day_total_count_ = 0;
  std::atomic<int64_t> booked_since_built_{0};
  std::vector<std::pair<size_t, size_t>> clinic_day_range_;  // [begin, end) per clinic index
  std::unique_ptr<IndexedSlot[]> slots_;  // grouped by clinic, then (day, minute)
  size_t slot_count_ = 0;
  std::vector<std::pair<size_t, size_t>> clinic_slot_range_;  // [begin, end) per clinic index
  std::vector<int64_t> slot_position_by_id_;  // slot id -> position in slots_, -1 if none
};

using CatalogIndexPtr = std::shared_ptr<CatalogIndex>;

}  // namespace surge::origin
