#include "surge/origin/snapshot_builder.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "surge/origin/calendar.h"
#include "surge/origin/json_text.h"

namespace surge::origin {
namespace {

void appendInt(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

int32_t remaining(const IndexedSlot& s) {
  return std::max(0, s.capacity - s.booked.load(std::memory_order_acquire));
}

// The first of a clinic's slots (ordered by day and minute) that has not begun at `now`.
std::span<const IndexedSlot>::iterator firstToCome(std::span<const IndexedSlot> slots,
                                                   LocalTime now) {
  return std::partition_point(slots.begin(), slots.end(), [&](const IndexedSlot& s) {
    return CatalogIndex::hasBegun(s.day, s.minute, now);
  });
}

}  // namespace

std::string snapshotWithHeader(uint64_t version, int64_t generated_ms, std::string_view tail) {
  std::string out;
  out.reserve(tail.size() + 64);
  out += "{\"version\":";
  appendInt(out, static_cast<int64_t>(version));
  out += ",\"generated_at\":\"";
  out += formatTimestamp(generated_ms);
  out += '"';
  out += tail;
  return out;
}

std::string buildRegionsSnapshot(const CatalogIndex& index, uint64_t version, int64_t now_ms) {
  return snapshotWithHeader(version, now_ms, regionsSnapshotTail(index));
}

std::string buildRegionSnapshot(const CatalogIndex& index, const Region& region, uint64_t version,
                                int64_t now_ms) {
  return snapshotWithHeader(version, now_ms,
                            regionSnapshotTail(index, region, index.timeZone().localTime(now_ms)));
}

std::string buildClinicSnapshot(const CatalogIndex& index, const Clinic& clinic, uint64_t version,
                                int64_t now_ms) {
  return snapshotWithHeader(version, now_ms,
                            clinicSnapshotTail(index, clinic, index.timeZone().localTime(now_ms)));
}

std::string regionsSnapshotTail(const CatalogIndex& index) {
  std::string out;
  out.reserve(index.regions().size() * 80 + 64);
  out += ",\"regions\":[";
  bool first = true;
  for (const Region& r : index.regions()) {
    if (!first) out += ',';
    first = false;
    out += "{\"code\":";
    appendJsonString(out, r.code);
    out += ",\"name\":";
    appendJsonString(out, r.name);
    out += ",\"parent\":";
    if (r.parent.empty()) {
      out += "null";
    } else {
      appendJsonString(out, r.parent);
    }
    out += ",\"clinics\":";
    appendInt(out, static_cast<int64_t>(index.clinicsOf(r.code).size()));
    out += '}';
  }
  out += "]}";
  return out;
}

std::string regionSnapshotTail(const CatalogIndex& index, const Region& region, LocalTime now) {
  const std::vector<const Clinic*>& clinics = index.clinicsOf(region.code);
  const std::vector<int32_t>& all_days = index.daysOf(region.code);
  // Days before today are gone. Today stays while some clinic has a slot still to begin; its
  // seats left are those of the slots still to begin (the day totals count the whole day).
  auto first_day = std::lower_bound(all_days.begin(), all_days.end(), now.day);
  std::vector<int32_t> today_left;  // per clinic; -1: nothing left to begin today
  bool today_listed = false;
  if (first_day != all_days.end() && *first_day == now.day) {
    today_left.assign(clinics.size(), -1);
    for (size_t ci = 0; ci < clinics.size(); ++ci) {
      std::span<const IndexedSlot> slots = index.slotsOf(clinics[ci]->id);
      for (auto it = firstToCome(slots, now); it != slots.end() && it->day == now.day; ++it) {
        today_left[ci] = std::max(today_left[ci], 0) + remaining(*it);
      }
      today_listed = today_listed || today_left[ci] >= 0;
    }
    if (!today_listed) ++first_day;
  }
  const std::span<const int32_t> days(first_day, all_days.end());
  std::string out;
  out.reserve(clinics.size() * (180 + days.size() * 4) + days.size() * 14 + 128);
  out += ",\"region\":";
  appendJsonString(out, region.code);
  out += ",\"dates\":[";
  for (size_t i = 0; i < days.size(); ++i) {
    if (i) out += ',';
    out += '"';
    appendDate(out, days[i]);
    out += '"';
  }
  out += "],\"clinics\":[";
  for (size_t ci = 0; ci < clinics.size(); ++ci) {
    const Clinic& c = *clinics[ci];
    if (ci) out += ',';
    out += index.clinicFragment(c);
    // The clinic's days are a sorted subset of the region's: walk both, 0 where it has none.
    std::span<const DayTotal> totals = index.dayTotalsOf(c.id);
    size_t t = static_cast<size_t>(
        std::lower_bound(totals.begin(), totals.end(), days.empty() ? INT32_MAX : days.front(),
                         [](const DayTotal& total, int32_t day) { return total.day < day; }) -
        totals.begin());
    for (size_t d = 0; d < days.size(); ++d) {
      if (d) out += ',';
      int32_t left = 0;
      if (t < totals.size() && totals[t].day == days[d]) {
        left = days[d] == now.day
                   ? std::max(0, today_left[ci])
                   : std::max(0, totals[t].remaining.load(std::memory_order_acquire));
        ++t;
      }
      appendInt(out, left);
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

std::string clinicSnapshotTail(const CatalogIndex& index, const Clinic& clinic, LocalTime now) {
  std::span<const IndexedSlot> all = index.slotsOf(clinic.id);
  std::span<const IndexedSlot> slots(firstToCome(all, now), all.end());
  std::string out;
  out += ",\"id\":";
  appendInt(out, clinic.id);
  out += ",\"name\":";
  appendJsonString(out, clinic.name);
  out += ",\"address\":";
  appendJsonString(out, clinic.address);
  out += ",\"region\":";
  appendJsonString(out, clinic.region);
  out += ",\"dates\":[";

  // The slot list is most of the body and is rebuilt for every clinic on every publish pass, so
  // it is written through a raw pointer into room sized for the worst case: appending its few
  // hundred small pieces one std::string::append at a time cost more than compressing them.
  constexpr size_t kMaxDayBytes = sizeof "{\"date\":\"YYYY-MM-DD\",\"slots\":[]},";
  constexpr size_t kMaxSlotBytes =
      sizeof "{\"time\":\"HH:MM\",\"capacity\":-2147483648,\"remaining\":-2147483648},";
  const size_t start = out.size();
  out.resize(start + slots.size() * (kMaxSlotBytes + kMaxDayBytes) + 8);
  char* p = out.data() + start;
  auto put = [&p]<size_t N>(const char(&literal)[N]) {
    std::memcpy(p, literal, N - 1);
    p += N - 1;
  };
  auto putInt = [&p](int32_t v) {
    if (v >= 0 && v < 10) {
      *p++ = static_cast<char>('0' + v);
    } else if (v >= 10 && v < 100) {
      *p++ = static_cast<char>('0' + v / 10);
      *p++ = static_cast<char>('0' + v % 10);
    } else {
      p = std::to_chars(p, p + 12, v).ptr;
    }
  };
  int32_t current_day = INT32_MIN;
  for (const IndexedSlot& s : slots) {
    if (s.day != current_day) {
      if (current_day != INT32_MIN) put("]},");
      current_day = s.day;
      put("{\"date\":\"");
      p = writeDate(p, s.day);
      put("\",\"slots\":[");
    } else {
      *p++ = ',';
    }
    put("{\"time\":\"");
    p = writeTime(p, s.minute);
    put("\",\"capacity\":");
    putInt(s.capacity);
    put(",\"remaining\":");
    putInt(remaining(s));
    *p++ = '}';
  }
  if (current_day != INT32_MIN) put("]}");
  put("]}");
  out.resize(static_cast<size_t>(p - out.data()));
  return out;
}

}  // namespace surge::origin
