#include "surge/origin/catalog_index.h"

#include <algorithm>
#include <cstdio>

#include "surge/origin/json_text.h"

namespace surge::origin {

CatalogIndex::CatalogIndex(std::vector<Region> regions, std::vector<Clinic> clinics,
                           std::vector<StoredSlot> slots, TimeZone zone)
    : zone_(std::move(zone)), regions_(std::move(regions)), clinics_(std::move(clinics)) {
  std::sort(regions_.begin(), regions_.end(),
            [](const Region& a, const Region& b) { return a.code < b.code; });
  std::sort(clinics_.begin(), clinics_.end(),
            [](const Clinic& a, const Clinic& b) { return a.id < b.id; });
  for (size_t i = 0; i < regions_.size(); ++i)
    region_by_code_.emplace(regions_[i].code, i);
  for (size_t i = 0; i < clinics_.size(); ++i) {
    clinic_by_id_.emplace(clinics_[i].id, i);
    clinics_by_region_[clinics_[i].region].push_back(i);
  }

  std::sort(slots.begin(), slots.end(), [](const StoredSlot& a, const StoredSlot& b) {
    if (a.slot.clinic_id != b.slot.clinic_id) return a.slot.clinic_id < b.slot.clinic_id;
    if (a.slot.day != b.slot.day) return a.slot.day < b.slot.day;
    return a.slot.minute < b.slot.minute;
  });
  slot_count_ = slots.size();
  slots_ = std::make_unique<IndexedSlot[]>(slot_count_);
  clinic_slot_range_.assign(clinics_.size(), {0, 0});
  int64_t max_id = 0;
  for (const StoredSlot& s : slots)
    max_id = std::max(max_id, s.id);
  slot_position_by_id_.assign(static_cast<size_t>(max_id) + 1, -1);
  for (size_t i = 0; i < slot_count_; ++i) {
    const StoredSlot& s = slots[i];
    IndexedSlot& out = slots_[i];
    out.id = s.id;
    out.clinic_id = s.slot.clinic_id;
    out.day = s.slot.day;
    out.minute = s.slot.minute;
    out.capacity = s.slot.capacity;
    out.booked.store(s.booked, std::memory_order_relaxed);
    slot_position_by_id_[static_cast<size_t>(s.id)] = static_cast<int64_t>(i);
    auto it = clinic_by_id_.find(s.slot.clinic_id);
    if (it == clinic_by_id_.end()) continue;  // the store never keeps orphan slots
    auto& range = clinic_slot_range_[it->second];
    if (range.first == range.second) range.first = i;
    range.second = i + 1;
  }

  // Day totals: slots are sorted by (clinic, day), so each clinic's days are consecutive runs.
  size_t day_count = 0;
  for (size_t i = 0; i < slot_count_; ++i) {
    if (i == 0 || slots_[i].clinic_id != slots_[i - 1].clinic_id ||
        slots_[i].day != slots_[i - 1].day) {
      ++day_count;
    }
  }
  day_totals_ = std::make_unique<DayTotal[]>(day_count);
  day_total_count_ = day_count;
  clinic_day_range_.assign(clinics_.size(), {0, 0});
  size_t d = 0;
  for (size_t i = 0; i < slot_count_; ++i) {
    IndexedSlot& slot = slots_[i];
    bool new_day =
        i == 0 || slot.clinic_id != slots_[i - 1].clinic_id || slot.day != slots_[i - 1].day;
    if (new_day) {
      day_totals_[d].day = slot.day;
      ++d;
      auto it = clinic_by_id_.find(slot.clinic_id);
      if (it != clinic_by_id_.end()) {
        auto& range = clinic_day_range_[it->second];
        if (range.first == range.second) range.first = d - 1;
        range.second = d;
      }
    }
    slot.day_total = static_cast<uint32_t>(d - 1);
    day_totals_[d - 1].remaining.fetch_add(
        std::max(0, slot.capacity - slot.booked.load(std::memory_order_relaxed)),
        std::memory_order_relaxed);
  }

  // Per-region clinic lists and day unions, and the static part of each clinic's JSON.
  for (const Region& r : regions_) {
    std::vector<const Clinic*>& list = clinics_of_region_[r.code];
    auto add = [&](const std::string& leaf) {
      auto it = clinics_by_region_.find(leaf);
      if (it == clinics_by_region_.end()) return;
      for (size_t i : it->second)
        list.push_back(&clinics_[i]);
    };
    if (r.parent.empty()) {
      for (const Region& child : regions_) {
        if (child.parent == r.code) add(child.code);
      }
      std::sort(list.begin(), list.end(),
                [](const Clinic* a, const Clinic* b) { return a->id < b->id; });
    } else {
      add(r.code);
    }
    std::vector<int32_t>& days = days_of_region_[r.code];
    for (const Clinic* c : list) {
      for (const DayTotal& t : dayTotalsOf(c->id))
        days.push_back(t.day);
    }
    std::sort(days.begin(), days.end());
    days.erase(std::unique(days.begin(), days.end()), days.end());
  }
  clinic_fragments_.reserve(clinics_.size());
  for (const Clinic& c : clinics_) {
    std::string f = "{\"id\":" + std::to_string(c.id) + ",\"name\":";
    appendJsonString(f, c.name);
    f += ",\"address\":";
    appendJsonString(f, c.address);
    char coords[96];
    std::snprintf(coords, sizeof coords, ",\"lat\":%.6f,\"lng\":%.6f,\"remaining\":[", c.lat,
                  c.lng);
    f += coords;
    clinic_fragments_.push_back(std::move(f));
  }
}

const std::string& CatalogIndex::clinicFragment(const Clinic& clinic) const {
  return clinic_fragments_[static_cast<size_t>(&clinic - clinics_.data())];
}

const std::vector<const Clinic*>& CatalogIndex::clinicsOf(std::string_view region_code) const {
  static const std::vector<const Clinic*> kNone;
  auto it = clinics_of_region_.find(std::string(region_code));
  return it == clinics_of_region_.end() ? kNone : it->second;
}

const std::vector<int32_t>& CatalogIndex::daysOf(std::string_view region_code) const {
  static const std::vector<int32_t> kNone;
  auto it = days_of_region_.find(std::string(region_code));
  return it == days_of_region_.end() ? kNone : it->second;
}

std::span<const DayTotal> CatalogIndex::dayTotalsOf(int64_t clinic_id) const {
  auto it = clinic_by_id_.find(clinic_id);
  if (it == clinic_by_id_.end()) return {};
  auto [begin, end] = clinic_day_range_[it->second];
  return {day_totals_.get() + begin, end - begin};
}

SeatCount CatalogIndex::seats(LocalTime now) const {
  SeatCount c;
  c.slots = static_cast<int64_t>(slot_count_);
  c.booked = booked_since_built_.load(std::memory_order_acquire);
  for (size_t ci = 0; ci < clinics_.size(); ++ci) {
    auto [first, last] = clinic_day_range_[ci];
    for (size_t d = first; d < last; ++d) {
      const DayTotal& t = day_totals_[d];
      if (t.day > now.day) {
        c.left += t.remaining.load(std::memory_order_acquire);
      } else if (t.day == now.day) {  // today: only the slots still to begin
        auto [begin, end] = clinic_slot_range_[ci];
        for (size_t i = begin; i < end; ++i) {
          const IndexedSlot& s = slots_[i];
          if (s.day == now.day && !hasBegun(s.day, s.minute, now)) {
            c.left += std::max(0, s.capacity - s.booked.load(std::memory_order_acquire));
          }
        }
      }
    }
  }
  return c;
}

void CatalogIndex::applyBooked(IndexedSlot& slot, int32_t booked) {
  int32_t before = slot.booked.load(std::memory_order_relaxed);
  int32_t remaining_before = std::max(0, slot.capacity - before);
  int32_t remaining_after = std::max(0, slot.capacity - booked);
  slot.booked.store(booked, std::memory_order_release);
  if (booked > before) booked_since_built_.fetch_add(booked - before, std::memory_order_release);
  day_totals_[slot.day_total].remaining.fetch_add(remaining_after - remaining_before,
                                                  std::memory_order_release);
}

const Region* CatalogIndex::region(std::string_view code) const {
  auto it = region_by_code_.find(std::string(code));
  return it == region_by_code_.end() ? nullptr : &regions_[it->second];
}

const Clinic* CatalogIndex::clinic(int64_t id) const {
  auto it = clinic_by_id_.find(id);
  return it == clinic_by_id_.end() ? nullptr : &clinics_[it->second];
}

std::span<IndexedSlot> CatalogIndex::slotsOf(int64_t clinic_id) {
  auto it = clinic_by_id_.find(clinic_id);
  if (it == clinic_by_id_.end()) return {};
  auto [begin, end] = clinic_slot_range_[it->second];
  return {slots_.get() + begin, end - begin};
}

std::span<const IndexedSlot> CatalogIndex::slotsOf(int64_t clinic_id) const {
  return const_cast<CatalogIndex*>(this)->slotsOf(clinic_id);
}

IndexedSlot* CatalogIndex::findSlot(int64_t clinic_id, int32_t day, int16_t minute) {
  std::span<IndexedSlot> slots = slotsOf(clinic_id);
  auto it = std::lower_bound(slots.begin(), slots.end(), std::pair(day, minute),
                             [](const IndexedSlot& s, const std::pair<int32_t, int16_t>& key) {
                               return std::pair(s.day, s.minute) < key;
                             });
  if (it == slots.end() || it->day != day || it->minute != minute) return nullptr;
  return &*it;
}

IndexedSlot* CatalogIndex::slotById(int64_t slot_id) {
  if (slot_id < 0 || static_cast<size_t>(slot_id) >= slot_position_by_id_.size()) return nullptr;
  int64_t pos = slot_position_by_id_[static_cast<size_t>(slot_id)];
  return pos < 0 ? nullptr : &slots_[static_cast<size_t>(pos)];
}

}  // namespace surge::origin
