#include "surge/origin/snapshot_builder.h"

#include <algorithm>
#include <charconv>

#include "surge/origin/calendar.h"
#include "surge/origin/json_text.h"

namespace surge::origin {
namespace {

void appendInt(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void appendCoordinate(std::string& out, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 6);
  out.append(buf, end);
}

void appendHeader(std::string& out, uint64_t version, int64_t now_ms) {
  out += "{\"version\":";
  appendInt(out, static_cast<int64_t>(version));
  out += ",\"generated_at\":\"";
  out += formatTimestamp(now_ms);
  out += "\"";
}

int32_t remaining(const IndexedSlot& s) {
  return std::max(0, s.capacity - s.booked.load(std::memory_order_acquire));
}

}  // namespace

std::string buildRegionsSnapshot(const CatalogIndex& index, uint64_t version, int64_t now_ms) {
  std::string out;
  out.reserve(index.regions().size() * 80 + 64);
  appendHeader(out, version, now_ms);
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
    appendInt(out, static_cast<int64_t>(index.clinicsIn(r.code).size()));
    out += '}';
  }
  out += "]}";
  return out;
}

std::string buildRegionSnapshot(const CatalogIndex& index, const Region& region, uint64_t version,
                                int64_t now_ms) {
  std::vector<const Clinic*> clinics = index.clinicsIn(region.code);
  std::vector<int32_t> days;
  for (const Clinic* c : clinics) {
    for (const IndexedSlot& s : index.slotsOf(c->id)) {
      if (days.empty() || days.back() != s.day) days.push_back(s.day);
    }
  }
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());

  std::string out;
  out.reserve(clinics.size() * (160 + days.size() * 4) + days.size() * 14 + 128);
  appendHeader(out, version, now_ms);
  out += ",\"region\":";
  appendJsonString(out, region.code);
  out += ",\"dates\":[";
  for (size_t i = 0; i < days.size(); ++i) {
    if (i) out += ',';
    out += '"' + formatDate(days[i]) + '"';
  }
  out += "],\"clinics\":[";
  std::vector<int32_t> per_day(days.size());
  for (size_t ci = 0; ci < clinics.size(); ++ci) {
    const Clinic& c = *clinics[ci];
    std::fill(per_day.begin(), per_day.end(), 0);
    size_t d = 0;
    for (const IndexedSlot& s : index.slotsOf(c.id)) {
      while (d < days.size() && days[d] < s.day)
        ++d;
      if (d < days.size()) per_day[d] += remaining(s);
    }
    if (ci) out += ',';
    out += "{\"id\":";
    appendInt(out, c.id);
    out += ",\"name\":";
    appendJsonString(out, c.name);
    out += ",\"address\":";
    appendJsonString(out, c.address);
    out += ",\"lat\":";
    appendCoordinate(out, c.lat);
    out += ",\"lng\":";
    appendCoordinate(out, c.lng);
    out += ",\"remaining\":[";
    for (size_t i = 0; i < per_day.size(); ++i) {
      if (i) out += ',';
      appendInt(out, per_day[i]);
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

std::string buildClinicSnapshot(const CatalogIndex& index, const Clinic& clinic, uint64_t version,
                                int64_t now_ms) {
  std::span<const IndexedSlot> slots = index.slotsOf(clinic.id);
  std::string out;
  out.reserve(slots.size() * 48 + 256);
  appendHeader(out, version, now_ms);
  out += ",\"id\":";
  appendInt(out, clinic.id);
  out += ",\"name\":";
  appendJsonString(out, clinic.name);
  out += ",\"address\":";
  appendJsonString(out, clinic.address);
  out += ",\"region\":";
  appendJsonString(out, clinic.region);
  out += ",\"dates\":[";
  int32_t current_day = INT32_MIN;
  for (const IndexedSlot& s : slots) {
    if (s.day != current_day) {
      if (current_day != INT32_MIN) out += "]},";
      current_day = s.day;
      out += "{\"date\":\"" + formatDate(s.day) + "\",\"slots\":[";
    } else {
      out += ',';
    }
    out += "{\"time\":\"" + formatTime(s.minute) + "\",\"capacity\":";
    appendInt(out, s.capacity);
    out += ",\"remaining\":";
    appendInt(out, remaining(s));
    out += '}';
  }
  if (current_day != INT32_MIN) out += "]}";
  out += "]}";
  return out;
}

}  // namespace surge::origin
