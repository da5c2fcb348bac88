#include "surge/origin/catalog_import.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <nlohmann/json.hpp>

#include "surge/origin/calendar.h"
#include "surge/origin/time_zone.h"

namespace surge::origin {
namespace {

using Json = nlohmann::json;
using Faults = std::vector<std::string>;

constexpr int64_t kMaxClinicId = int64_t{1} << 53;  // the largest id a JSON number holds exactly
constexpr size_t kMaxNameBytes = 200;
constexpr size_t kMaxAddressBytes = 300;
constexpr int64_t kMinCapacity = 1;
constexpr int64_t kMaxCapacity = 10000;
constexpr int64_t kMinStep = 5;
constexpr int64_t kMaxStep = 720;
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// ---- Text -------------------------------------------------------------------------------------

// Length of the well-formed UTF-8 sequence at s[i] (its code point in `cp`), or 0. Overlong forms,
// surrogates and code points past U+10FFFF are refused, as RFC 3629 requires.
size_t utf8Sequence(std::string_view s, size_t i, char32_t& cp) {
  const auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) {
    cp = lead;
    return 1;
  }
  size_t length = 0;
  char32_t smallest = 0;  // anything below is an overlong form
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    cp = lead & 0x1F;
    smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    cp = lead & 0x0F;
    smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    cp = lead & 0x07;
    smallest = 0x10000;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(s[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (next & 0x3F);
  }
  if (cp < smallest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return length;
}

// C0, DEL and C1: nothing a name or an address needs, and each would corrupt a page or a log line.
bool isControl(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

enum class TextFault { kNone, kControl, kInvalidUtf8 };

TextFault inspectText(std::string_view s) {
  TextFault fault = TextFault::kNone;
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t length = utf8Sequence(s, i, cp);
    if (length == 0) return TextFault::kInvalidUtf8;
    if (isControl(cp)) fault = TextFault::kControl;
    i += length;
  }
  return fault;
}

// Text as a problem report shows it: control characters and broken UTF-8 escaped so the report
// stays one readable line, and cut short so a runaway field cannot flood it.
std::string escaped(std::string_view s, size_t max_bytes) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (i >= max_bytes) {
      out += "...";
      break;
    }
    char32_t cp = 0;
    size_t length = utf8Sequence(s, i, cp);
    if (length == 0 || isControl(cp)) {
      length = std::max<size_t>(length, 1);
      for (size_t k = 0; k < length; ++k) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<unsigned char>(s[i + k]));
        out += hex;
      }
    } else {
      if (cp == '"' || cp == '\\') out += '\\';
      out.append(s.substr(i, length));
    }
    i += length;
  }
  return out;
}

std::string quote(std::string_view s) {
  return "\"" + escaped(s, 60) + "\"";
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A key as it names a row in a report: bare when it is a plain token ("region 11110"), quoted when
// it could confuse the reader ("clinic \"12 3\"").
std::string token(std::string_view s) {
  const bool plain = !s.empty() && s.size() <= 20 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_' || c == '.';
  });
  return plain ? std::string(s) : quote(s);
}

std::string decimal(double value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, end) : "?";
}

// ---- Field checks, shared by the CSV and JSON readers and by validateCatalog
// ---------------------

void checkText(std::string_view value, std::string_view field, size_t max_bytes, bool required,
               Faults& faults) {
  const std::string name(field);
  if (value.empty()) {
    if (required) faults.push_back(name + " is empty");
    return;
  }
  if (value.size() > max_bytes) {
    faults.push_back(name + " is " + std::to_string(value.size()) + " bytes, over the limit of " +
                     std::to_string(max_bytes));
    return;
  }
  switch (inspectText(value)) {
    case TextFault::kNone:
      break;
    case TextFault::kControl:
      faults.push_back(name + " " + quote(value) + " has a control character");
      break;
    case TextFault::kInvalidUtf8:
      faults.push_back(name + " " + quote(value) + " is not valid UTF-8");
      break;
  }
}

bool checkRange(int64_t value, std::string_view field, int64_t min, int64_t max, Faults& faults) {
  if (value >= min && value <= max) return true;
  faults.push_back(std::string(field) + " " + std::to_string(value) + " is outside " +
                   std::to_string(min) + ".." + std::to_string(max));
  return false;
}

void checkCoordinate(double value, std::string_view field, double limit, Faults& faults) {
  if (std::isfinite(value) && value >= -limit && value <= limit) return;
  faults.push_back(std::string(field) + " " + decimal(value) + " is outside " + decimal(-limit) +
                   ".." + decimal(limit));
}

// The shape of a code and its parent; whether the parent exists is a cross-row question.
void checkRegion(const Region& region, Faults& faults) {
  const std::string_view code = region.code;
  if (!allDigits(code) || (code.size() != 2 && code.size() != 5)) {
    faults.push_back("code " + quote(code) +
                     " is neither 2 digits (시/도) nor 5 digits (시/군/구)");
  } else if (code.size() == 2 && !region.parent.empty()) {
    faults.push_back("parent " + quote(region.parent) + " given, but a 시/도 has no parent");
  } else if (code.size() == 5 && region.parent != code.substr(0, 2)) {
    faults.push_back("parent " + quote(region.parent) + " is not " + quote(code.substr(0, 2)) +
                     ", the 시/도 in the code's first two digits");
  }
  checkText(region.name, "name", kMaxNameBytes, true, faults);
}

void checkClinicFields(const Clinic& clinic, Faults& faults) {
  checkRange(clinic.id, "id", 1, kMaxClinicId, faults);
  checkText(clinic.name, "name", kMaxNameBytes, true, faults);
  checkText(clinic.address, "address", kMaxAddressBytes, false, faults);
  checkText(clinic.region, "region", kMaxNameBytes, true, faults);
  checkCoordinate(clinic.lat, "lat", 90, faults);
  checkCoordinate(clinic.lng, "lng", 180, faults);
}

int32_t firstCatalogDay() {
  static const int32_t day = *parseDate("2000-01-01");
  return day;
}

int32_t lastCatalogDay() {
  static const int32_t day = *parseDate("2199-12-31");
  return day;
}

void checkSlotFields(const Slot& slot, Faults& faults) {
  checkRange(slot.clinic_id, "clinic id", 1, kMaxClinicId, faults);
  if (slot.day < firstCatalogDay() || slot.day > lastCatalogDay()) {
    faults.push_back("day " + std::to_string(slot.day) + " is outside 2000-01-01..2199-12-31");
  }
  if (slot.minute < 0 || slot.minute >= 24 * 60) {
    faults.push_back("minute " + std::to_string(slot.minute) + " is outside 00:00..23:59");
  }
  checkRange(slot.capacity, "capacity", kMinCapacity, kMaxCapacity, faults);
}

// ---- Problems and the rows they point at ------------------------------------------------------

class ProblemList {
 public:
  explicit ProblemList(std::string_view source) : source_(source) {}

  bool full() const { return problems_.size() >= kMaxCatalogProblems; }
  bool empty() const { return problems_.empty(); }

  void add(size_t line, std::string reason) {
    if (!full()) problems_.push_back(CatalogProblem{source_, line, std::move(reason)});
  }
  void add(size_t line, const std::string& label, const Faults& faults) {
    for (const std::string& fault : faults) {
      add(line, label + ": " + fault);
    }
  }

  std::vector<CatalogProblem> take() { return std::move(problems_); }

 private:
  std::string source_;
  std::vector<CatalogProblem> problems_;
};

// Where each accepted row came from, so that cross-row problems name a line.
struct RowLines {
  size_t time_zone = 0;
  std::vector<size_t> regions;
  std::vector<size_t> clinics;
  std::vector<std::pair<size_t, size_t>> slot_rows;  // (index of the row's first slot, line)

  size_t slotLine(size_t index) const {
    auto after = std::upper_bound(slot_rows.begin(), slot_rows.end(), index,
                                  [](size_t i, const auto& row) { return i < row.first; });
    return after == slot_rows.begin() ? 0 : std::prev(after)->second;
  }
};

// Keys of refused rows. A row that refers to one is not reported as well: the reader fixes the
// refused row, not the rows that point at it.
struct RefusedKeys {
  std::unordered_set<std::string> regions;
  std::unordered_set<int64_t> clinics;
};

std::string onLine(size_t line) {
  return line == 0 ? std::string() : " (first on line " + std::to_string(line) + ")";
}

std::string slotLabel(int64_t clinic_id) {
  return "slot for clinic " + std::to_string(clinic_id);
}

// ---- Cross-row validation ---------------------------------------------------------------------

void validateRegions(const CatalogData& catalog, const RowLines* lines, const RefusedKeys* refused,
                     ProblemList& problems) {
  auto lineOf = [&](size_t i) { return lines ? lines->regions[i] : 0; };
  std::unordered_map<std::string_view, size_t> first_with_code;
  for (size_t i = 0; i < catalog.regions.size(); ++i) {
    first_with_code.emplace(catalog.regions[i].code, i);
  }
  for (size_t i = 0; i < catalog.regions.size() && !problems.full(); ++i) {
    const Region& region = catalog.regions[i];
    Faults faults;
    checkRegion(region, faults);
    if (faults.empty() && !region.parent.empty() && !first_with_code.count(region.parent) &&
        !(refused && refused->regions.count(region.parent))) {
      faults.push_back("unknown parent " + quote(region.parent));
    }
    const size_t first = first_with_code.at(region.code);
    if (first != i) faults.push_back("duplicate code" + onLine(lineOf(first)));
    problems.add(lineOf(i), "region " + token(region.code), faults);
  }
}

void validateClinics(const CatalogData& catalog, const RowLines* lines, const RefusedKeys* refused,
                     ProblemList& problems) {
  auto lineOf = [&](size_t i) { return lines ? lines->clinics[i] : 0; };
  std::unordered_set<std::string_view> region_codes;
  for (const Region& region : catalog.regions) {
    region_codes.insert(region.code);
  }
  std::unordered_map<int64_t, size_t> first_with_id;
  for (size_t i = 0; i < catalog.clinics.size(); ++i) {
    first_with_id.emplace(catalog.clinics[i].id, i);
  }
  for (size_t i = 0; i < catalog.clinics.size() && !problems.full(); ++i) {
    const Clinic& clinic = catalog.clinics[i];
    Faults faults;
    checkClinicFields(clinic, faults);
    const size_t first = first_with_id.at(clinic.id);
    if (first != i) faults.push_back("duplicate id" + onLine(lineOf(first)));
    if (!clinic.region.empty()) {
      if (!region_codes.count(clinic.region)) {
        if (!(refused && refused->regions.count(clinic.region))) {
          faults.push_back("unknown region " + quote(clinic.region));
        }
      } else if (clinic.region.size() != 5) {
        faults.push_back("region " + quote(clinic.region) + " is a 시/도, not a 시/군/구");
      }
    }
    problems.add(lineOf(i), "clinic " + std::to_string(clinic.id), faults);
  }
}

bool slotBefore(const Slot& a, const Slot& b) {
  return std::tie(a.clinic_id, a.day, a.minute) < std::tie(b.clinic_id, b.day, b.minute);
}

// Reports each (clinic, row, earlier row) once: repeating a `slots` row would otherwise produce a
// problem per slot and bury everything else under the cap.
void validateSlotDuplicates(const CatalogData& catalog, const RowLines* lines,
                            ProblemList& problems) {
  const std::vector<Slot>& slots = catalog.slots;
  // Catalogs are usually written clinic by clinic, date by date: one pass proves there is no
  // duplicate without sorting millions of slots.
  bool increasing = true;
  for (size_t i = 1; i < slots.size() && increasing; ++i) {
    increasing = slotBefore(slots[i - 1], slots[i]);
  }
  if (increasing) return;

  std::vector<size_t> order(slots.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return slotBefore(slots[a], slots[b]); });

  // Keyed by (line, clinic, line of the earlier slot), so the map also orders the report by line.
  struct Repeats {
    size_t example;  // index of the first repeated slot
    size_t more = 0;
  };
  auto lineOf = [&](size_t i) { return lines ? lines->slotLine(i) : 0; };
  std::map<std::tuple<size_t, int64_t, size_t>, Repeats> repeats;
  for (size_t k = 1, group = 0; k < order.size(); ++k) {
    const Slot& previous = slots[order[k - 1]];
    const Slot& current = slots[order[k]];
    if (slotBefore(previous, current)) {
      group = k;
      continue;
    }
    const size_t original = order[group];
    const size_t repeat = order[k];
    auto key = std::make_tuple(lineOf(repeat), current.clinic_id, lineOf(original));
    auto [it, inserted] = repeats.try_emplace(key, Repeats{repeat});
    if (!inserted) ++it->second.more;
  }
  for (const auto& [key, entry] : repeats) {
    if (problems.full()) break;
    const auto& [line, clinic_id, first_line] = key;
    const Slot& slot = slots[entry.example];
    std::string reason =
        slotLabel(clinic_id) + ": " + formatDate(slot.day) + " " + formatTime(slot.minute);
    if (entry.more > 0) {
      reason += " and " + std::to_string(entry.more) + " more of this row's slots are";
    } else {
      reason += " is";
    }
    problems.add(line, reason + " listed twice" + onLine(first_line));
  }
}

void validateSlots(const CatalogData& catalog, const RowLines* lines, const RefusedKeys* refused,
                   ProblemList& problems) {
  std::unordered_set<int64_t> clinic_ids;
  for (const Clinic& clinic : catalog.clinics) {
    clinic_ids.insert(clinic.id);
  }
  std::unordered_set<int64_t> reported_unknown;
  int64_t last_known = 0;  // slots come in runs of one clinic: skip the lookup within a run
  for (size_t i = 0; i < catalog.slots.size() && !problems.full(); ++i) {
    const Slot& slot = catalog.slots[i];
    Faults faults;
    checkSlotFields(slot, faults);
    if (slot.clinic_id != last_known) {
      if (clinic_ids.count(slot.clinic_id)) {
        last_known = slot.clinic_id;
      } else if (!(refused && refused->clinics.count(slot.clinic_id)) &&
                 reported_unknown.insert(slot.clinic_id).second) {
        faults.push_back("unknown clinic");
      }
    }
    if (!faults.empty()) {
      problems.add(lines ? lines->slotLine(i) : 0, slotLabel(slot.clinic_id), faults);
    }
  }
  if (!problems.full()) validateSlotDuplicates(catalog, lines, problems);
}

void validateInto(const CatalogData& catalog, const RowLines* lines, const RefusedKeys* refused,
                  ProblemList& problems) {
  if (!catalog.time_zone.empty()) {
    auto zone = TimeZone::load(catalog.time_zone);
    if (!zone) problems.add(lines ? lines->time_zone : 0, zone.error());
  }
  validateRegions(catalog, lines, refused, problems);
  if (!problems.full()) validateClinics(catalog, lines, refused, problems);
  if (!problems.full()) validateSlots(catalog, lines, refused, problems);
  if (!problems.full() && catalog.slots.size() > kMaxCatalogSlots) {
    problems.add(0, "the catalog has " + std::to_string(catalog.slots.size()) +
                        " slots, over the limit of " + std::to_string(kMaxCatalogSlots));
  }
}

// ---- Building a catalog from rows -------------------------------------------------------------

// A `slot` row is a grid of one date and one time.
struct SlotGrid {
  int64_t clinic_id = 0;
  int32_t first_day = 0;
  int32_t last_day = 0;
  int16_t first_minute = 0;
  int16_t last_minute = 0;
  int16_t step = 30;
  int32_t capacity = 0;

  size_t slotCount() const {
    const auto days = static_cast<size_t>(last_day - first_day + 1);
    const auto times = static_cast<size_t>((last_minute - first_minute) / step + 1);
    return days * times;
  }
};

// Collects rows as the readers accept or refuse them, then validates the whole.
class CatalogBuilder {
 public:
  explicit CatalogBuilder(std::string_view source) : problems_(source) {}

  bool full() const { return problems_.full(); }

  void problem(size_t line, std::string reason) { problems_.add(line, std::move(reason)); }

  void setTimeZone(size_t line, std::string name) {
    if (lines_.time_zone != 0) {
      problems_.add(line, "the time zone is given twice (first on line " +
                              std::to_string(lines_.time_zone) + ")");
      return;
    }
    data_.time_zone = std::move(name);
    lines_.time_zone = line == 0 ? 1 : line;
  }

  void addRegion(size_t line, Region region, const std::string& label, const Faults& faults) {
    if (!faults.empty()) {
      problems_.add(line, label, faults);
      if (!region.code.empty()) refused_.regions.insert(std::move(region.code));
      return;
    }
    data_.regions.push_back(std::move(region));
    lines_.regions.push_back(line);
  }

  // `id_known`: the id was read, so rows that refer to it can be spared when this one is refused.
  void addClinic(size_t line, Clinic clinic, bool id_known, const std::string& label,
                 const Faults& faults) {
    if (!faults.empty()) {
      problems_.add(line, label, faults);
      if (id_known) refused_.clinics.insert(clinic.id);
      return;
    }
    data_.clinics.push_back(std::move(clinic));
    lines_.clinics.push_back(line);
  }

  void addSlots(size_t line, const SlotGrid& grid, const std::string& label, const Faults& faults) {
    if (!faults.empty()) {
      problems_.add(line, label, faults);
      return;
    }
    // Counted now, expanded at the end: a file past the limit costs no memory, and the final
    // vector is allocated once at its exact size.
    slot_count_ += grid.slotCount();
    if (slot_count_ > kMaxCatalogSlots && !over_slot_limit_) {
      over_slot_limit_ = true;
      problems_.add(line, label + ": its " + std::to_string(grid.slotCount()) +
                              " slots take the catalog past the limit of " +
                              std::to_string(kMaxCatalogSlots));
    }
    slot_rows_.push_back(SlotRow{grid, line});
  }

  base::Result<CatalogData, std::vector<CatalogProblem>> finish() {
    if (!over_slot_limit_) expandSlots();
    if (!problems_.full()) validateInto(data_, &lines_, &refused_, problems_);
    if (!problems_.empty()) return base::fail(problems_.take());
    return std::move(data_);
  }

 private:
  struct SlotRow {
    SlotGrid grid;
    size_t line;
  };

  void expandSlots() {
    data_.slots.reserve(slot_count_);
    lines_.slot_rows.reserve(slot_rows_.size());
    for (const auto& [grid, line] : slot_rows_) {
      lines_.slot_rows.emplace_back(data_.slots.size(), line);
      for (int32_t day = grid.first_day; day <= grid.last_day; ++day) {
        for (int minute = grid.first_minute; minute <= grid.last_minute; minute += grid.step) {
          data_.slots.push_back(
              Slot{grid.clinic_id, day, static_cast<int16_t>(minute), grid.capacity});
        }
      }
    }
    slot_rows_.clear();
    slot_rows_.shrink_to_fit();
  }

  CatalogData data_;
  RowLines lines_;
  RefusedKeys refused_;
  ProblemList problems_;
  std::vector<SlotRow> slot_rows_;
  size_t slot_count_ = 0;
  bool over_slot_limit_ = false;
};

// ---- CSV --------------------------------------------------------------------------------------

// Splits text into RFC 4180 records, skipping comment and blank lines, and knows the line each
// record starts on (a quoted field may span lines).
class CsvReader {
 public:
  enum class Next { kRecord, kEnd, kMalformed };

  explicit CsvReader(std::string_view text) : text_(text) {
    if (text_.substr(0, kUtf8Bom.size()) == kUtf8Bom) pos_ = kUtf8Bom.size();
  }

  // kMalformed: `error` says why; the reader has moved on to the next line.
  Next next(std::vector<std::string>& fields, size_t& line, std::string& error) {
    fields.clear();
    if (!skipCommentsAndBlankLines()) return Next::kEnd;
    line = line_;
    while (true) {
      std::string& field = fields.emplace_back();
      if (pos_ < text_.size() && text_[pos_] == '"') {
        if (!readQuoted(field)) {
          error = "field " + std::to_string(fields.size()) + " has an unterminated quote";
          return Next::kMalformed;
        }
        if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n') {
          error = "field " + std::to_string(fields.size()) + " has text after its closing quote";
          skipLine();
          return Next::kMalformed;
        }
      } else {
        size_t end = text_.find_first_of(",\n", pos_);
        if (end == std::string_view::npos) end = text_.size();
        std::string_view raw = text_.substr(pos_, end - pos_);
        const bool ends_line = end == text_.size() || text_[end] == '\n';
        if (ends_line && !raw.empty() && raw.back() == '\r') raw.remove_suffix(1);  // CRLF
        if (raw.find('"') != std::string_view::npos) {
          error = "field " + std::to_string(fields.size()) +
                  " has a quote but does not start with one (quote the field, double the quote)";
          skipLine();
          return Next::kMalformed;
        }
        field.assign(raw);
        pos_ = end;
      }
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size()) {  // the '\n' ending the record
        ++pos_;
        ++line_;
      }
      return Next::kRecord;
    }
  }

 private:
  bool skipCommentsAndBlankLines() {
    while (pos_ < text_.size()) {
      size_t end = text_.find('\n', pos_);
      if (end == std::string_view::npos) end = text_.size();
      const std::string_view physical = text_.substr(pos_, end - pos_);
      const bool blank = physical.find_first_not_of(" \t\r") == std::string_view::npos;
      if (!blank && physical[0] != '#') return true;
      pos_ = end;
      skipLine();
    }
    return false;
  }

  // Prereq: text_[pos_] is the opening quote. Leaves pos_ after the closing quote (and after a '\r'
  // that ends a CRLF line).
  bool readQuoted(std::string& field) {
    ++pos_;
    while (true) {
      const size_t close = text_.find('"', pos_);
      const std::string_view chunk = text_.substr(
          pos_, close == std::string_view::npos ? std::string_view::npos : close - pos_);
      line_ += static_cast<size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
      if (close == std::string_view::npos) {
        pos_ = text_.size();
        return false;
      }
      field.append(chunk);
      pos_ = close + 1;
      if (pos_ < text_.size() && text_[pos_] == '"') {  // "" is a quote inside the field
        field += '"';
        ++pos_;
        continue;
      }
      if (text_.substr(pos_, 2) == "\r\n") ++pos_;
      return true;
    }
  }

  void skipLine() {
    const size_t end = text_.find('\n', pos_);
    if (end == std::string_view::npos) {
      pos_ = text_.size();
    } else {
      pos_ = end + 1;
      ++line_;
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t line_ = 1;
};

std::optional<int64_t> readInteger(std::string_view text, std::string_view field, int64_t min,
                                   int64_t max, Faults& faults) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (stop != end || text.empty() || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    faults.push_back(std::string(field) + " " + quote(text) + " is not a number");
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range) {
    faults.push_back(std::string(field) + " " + quote(text) + " is outside " + std::to_string(min) +
                     ".." + std::to_string(max));
    return std::nullopt;
  }
  if (!checkRange(value, field, min, max, faults)) return std::nullopt;
  return value;
}

std::optional<double> readDecimal(std::string_view text, std::string_view field, double limit,
                                  Faults& faults) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (stop != end || text.empty() || ec != std::errc() || !std::isfinite(value)) {
    faults.push_back(std::string(field) + " " + quote(text) + " is not a number");
    return std::nullopt;
  }
  const size_t before = faults.size();
  checkCoordinate(value, field, limit, faults);
  if (faults.size() != before) return std::nullopt;
  return value;
}

std::optional<int32_t> readDate(std::string_view text, std::string_view field, Faults& faults) {
  auto day = parseDate(text);
  if (!day) {
    faults.push_back(std::string(field) + " " + quote(text) + " is not a date (YYYY-MM-DD)");
  }
  return day;
}

std::optional<int16_t> readTime(std::string_view text, std::string_view field, Faults& faults) {
  auto minute = parseTime(text);
  if (!minute) faults.push_back(std::string(field) + " " + quote(text) + " is not a time (HH:MM)");
  return minute;
}

// The fields of a `slot` or `slots` row (either format) that could be read.
struct GridFields {
  std::optional<int64_t> clinic_id;
  std::optional<int32_t> first_day, last_day;
  std::optional<int16_t> first_minute, last_minute;
  std::optional<int64_t> step;
  std::optional<int64_t> capacity;
};

// Checks that the grid's ranges are not reversed, naming the fields as the file does.
SlotGrid makeGrid(const GridFields& f, std::string_view last_date_field,
                  std::string_view last_time_field, Faults& faults) {
  SlotGrid grid;
  grid.clinic_id = f.clinic_id.value_or(0);
  grid.first_day = f.first_day.value_or(0);
  grid.last_day = f.last_day.value_or(grid.first_day);
  grid.first_minute = f.first_minute.value_or(0);
  grid.last_minute = f.last_minute.value_or(grid.first_minute);
  grid.step = static_cast<int16_t>(f.step.value_or(30));
  grid.capacity = static_cast<int32_t>(f.capacity.value_or(0));
  if (f.first_day && f.last_day && *f.last_day < *f.first_day) {
    faults.push_back(std::string(last_date_field) + " " + formatDate(*f.last_day) +
                     " is before the first " + formatDate(*f.first_day));
  }
  if (f.first_minute && f.last_minute && *f.last_minute < *f.first_minute) {
    faults.push_back(std::string(last_time_field) + " " + formatTime(*f.last_minute) +
                     " is before the first " + formatTime(*f.first_minute));
  }
  return grid;
}

std::string slotsLabel(std::string_view kind, const std::optional<int64_t>& clinic_id,
                       std::string_view raw_id) {
  return std::string(kind) + " for clinic " +
         (clinic_id ? std::to_string(*clinic_id) : token(raw_id));
}

void readCsvRecord(const std::vector<std::string>& f, size_t line, bool first_record,
                   CatalogBuilder& builder) {
  const std::string& kind = f[0];
  if (first_record && kind == "kind") return;  // a spreadsheet's header line

  struct Shape {
    std::string_view kind;
    size_t fields;
    std::string_view columns;
  };
  static constexpr Shape kShapes[] = {
      {"time_zone", 2, "time_zone,name"},
      {"region", 4, "region,code,name,parent"},
      {"clinic", 7, "clinic,id,name,address,region,lat,lng"},
      {"slot", 5, "slot,clinic id,date,time,capacity"},
      {"slots", 8,
       "slots,clinic id,first date,last date,first time,last time,step minutes,capacity"},
  };
  const Shape* shape = nullptr;
  for (const Shape& candidate : kShapes) {
    if (candidate.kind == kind) shape = &candidate;
  }
  if (!shape) {
    builder.problem(line, "unknown record kind " + quote(kind) +
                              " (expected time_zone, region, clinic, slot or slots)");
    return;
  }
  if (f.size() != shape->fields) {
    builder.problem(line, std::string(kind) + " row has " + std::to_string(f.size()) +
                              " fields, expected " + std::to_string(shape->fields) + ": " +
                              std::string(shape->columns));
    return;
  }

  Faults faults;
  if (kind == "time_zone") {
    builder.setTimeZone(line, f[1]);
  } else if (kind == "region") {
    Region region{f[1], f[2], f[3]};
    checkRegion(region, faults);
    const std::string label = "region " + token(region.code);
    builder.addRegion(line, std::move(region), label, faults);
  } else if (kind == "clinic") {
    Clinic clinic;
    auto id = readInteger(f[1], "id", 1, kMaxClinicId, faults);
    clinic.id = id.value_or(0);
    clinic.name = f[2];
    clinic.address = f[3];
    clinic.region = f[4];
    checkText(clinic.name, "name", kMaxNameBytes, true, faults);
    checkText(clinic.address, "address", kMaxAddressBytes, false, faults);
    checkText(clinic.region, "region", kMaxNameBytes, true, faults);
    clinic.lat = readDecimal(f[5], "lat", 90, faults).value_or(0);
    clinic.lng = readDecimal(f[6], "lng", 180, faults).value_or(0);
    const std::string label = "clinic " + (id ? std::to_string(*id) : token(f[1]));
    builder.addClinic(line, std::move(clinic), id.has_value(), label, faults);
  } else if (kind == "slot") {
    GridFields g;
    g.clinic_id = readInteger(f[1], "clinic id", 1, kMaxClinicId, faults);
    g.first_day = readDate(f[2], "date", faults);
    g.first_minute = readTime(f[3], "time", faults);
    g.capacity = readInteger(f[4], "capacity", kMinCapacity, kMaxCapacity, faults);
    const SlotGrid grid = makeGrid(g, "date", "time", faults);
    builder.addSlots(line, grid, slotsLabel("slot", g.clinic_id, f[1]), faults);
  } else {
    GridFields g;
    g.clinic_id = readInteger(f[1], "clinic id", 1, kMaxClinicId, faults);
    g.first_day = readDate(f[2], "first date", faults);
    g.last_day = readDate(f[3], "last date", faults);
    g.first_minute = readTime(f[4], "first time", faults);
    g.last_minute = readTime(f[5], "last time", faults);
    g.step = readInteger(f[6], "step minutes", kMinStep, kMaxStep, faults);
    g.capacity = readInteger(f[7], "capacity", kMinCapacity, kMaxCapacity, faults);
    const SlotGrid grid = makeGrid(g, "last date", "last time", faults);
    builder.addSlots(line, grid, slotsLabel("slots", g.clinic_id, f[1]), faults);
  }
}

void readCsv(std::string_view text, CatalogBuilder& builder) {
  CsvReader reader(text);
  std::vector<std::string> fields;
  std::string error;
  size_t line = 0;
  bool first_record = true;
  while (!builder.full()) {
    const CsvReader::Next next = reader.next(fields, line, error);
    if (next == CsvReader::Next::kEnd) break;
    if (next == CsvReader::Next::kMalformed) {
      builder.problem(line, error);
    } else {
      readCsvRecord(fields, line, first_record, builder);
    }
    first_record = false;
  }
}

// ---- JSON -------------------------------------------------------------------------------------

// Keys of one JSON object, for spotting duplicates (nlohmann keeps the last one silently).
class KeySet {
 public:
  bool insert(std::string_view key) {
    if (many_.empty() && few_.size() < 16) {
      if (std::find(few_.begin(), few_.end(), key) != few_.end()) return false;
      few_.push_back(key);
      return true;
    }
    if (many_.empty()) {
      many_.insert(few_.begin(), few_.end());
      few_.clear();
    }
    return many_.insert(key).second;
  }
  void clear() {
    few_.clear();
    many_.clear();
  }

 private:
  std::vector<std::string_view> few_;
  std::set<std::string_view> many_;
};

// Line numbers nlohmann does not keep: where each top-level value and each element of a top-level
// array starts.
struct JsonLines {
  std::map<std::string, size_t, std::less<>> values;
  std::map<std::string, std::vector<size_t>, std::less<>> elements;
  std::vector<std::pair<size_t, std::string>> duplicate_keys;  // (line, raw key)
};

bool isTrackedArray(std::string_view key) {
  return key == "regions" || key == "clinics" || key == "slots";
}

// Prereq: `text` is well-formed JSON (nlohmann accepted it), so the scanner trusts the syntax and
// only follows strings, nesting and newlines.
JsonLines scanJsonLines(std::string_view text) {
  struct Frame {
    bool object = false;
    bool awaiting_key = false;
    std::string_view key;
    std::vector<size_t>* elements = nullptr;  // set for a tracked top-level array
    KeySet keys;
  };
  JsonLines out;
  std::vector<Frame> stack;  // frames are reused, so stack.size() may exceed depth
  size_t depth = 0;
  size_t line = 1;

  // Returns the element list to fill when the value starting here is a tracked array.
  auto valueStarts = [&](bool is_array) -> std::vector<size_t>* {
    if (depth == 0) return nullptr;
    Frame& parent = stack[depth - 1];
    if (parent.elements) parent.elements->push_back(line);
    if (depth == 1 && parent.object) {
      out.values[std::string(parent.key)] = line;
      if (is_array && isTrackedArray(parent.key)) {
        std::vector<size_t>& elements = out.elements[std::string(parent.key)];
        elements.clear();  // a repeated key: nlohmann keeps the last array, so do we
        return &elements;
      }
    }
    return nullptr;
  };

  size_t i = text.substr(0, kUtf8Bom.size()) == kUtf8Bom ? kUtf8Bom.size() : 0;
  while (i < text.size()) {
    const char c = text[i];
    switch (c) {
      case '\n':
        ++line;
        ++i;
        break;
      case ' ':
      case '\t':
      case '\r':
      case ':':
        ++i;
        break;
      case ',':
        if (depth > 0 && stack[depth - 1].object) stack[depth - 1].awaiting_key = true;
        ++i;
        break;
      case '"': {
        const size_t start = ++i;
        while (i < text.size() && text[i] != '"')
          i += text[i] == '\\' ? 2 : 1;
        const std::string_view content = text.substr(start, std::min(i, text.size()) - start);
        ++i;
        if (depth > 0 && stack[depth - 1].object && stack[depth - 1].awaiting_key) {
          Frame& frame = stack[depth - 1];
          frame.awaiting_key = false;
          frame.key = content;
          if (!frame.keys.insert(content)) {
            out.duplicate_keys.emplace_back(line, std::string(content));
          }
        } else {
          valueStarts(false);
        }
        break;
      }
      case '{':
      case '[': {
        std::vector<size_t>* elements = valueStarts(c == '[');
        if (stack.size() <= depth) stack.emplace_back();
        Frame& frame = stack[depth++];
        frame.object = c == '{';
        frame.awaiting_key = frame.object;
        frame.key = {};
        frame.elements = elements;
        frame.keys.clear();
        ++i;
        break;
      }
      case '}':
      case ']':
        if (depth > 0) --depth;
        ++i;
        break;
      default:  // a number, true, false or null
        valueStarts(false);
        while (i < text.size() &&
               std::string_view(",]} \t\r\n").find(text[i]) == std::string_view::npos) {
          ++i;
        }
        break;
    }
  }
  return out;
}

// Finds where and why nlohmann refused the text; the DOM parser does not say.
class SyntaxErrorFinder final : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::json::exception& error) override {
    position_ = position;
    message_ = error.what();
    return false;
  }

  size_t position() const { return position_; }

  // nlohmann's message without its id and its own position, which counts columns in bytes.
  std::string reason() const {
    std::string_view message = message_;
    const size_t position_part = message.find("parse error at line ");
    if (position_part != std::string_view::npos) {
      const size_t colon = message.find(": ", position_part);
      if (colon != std::string_view::npos) message.remove_prefix(colon + 2);
    } else if (const size_t bracket = message.find("] "); bracket != std::string_view::npos) {
      message.remove_prefix(bracket + 2);
    }
    return escaped(message, 300);  // its last_token may hold broken UTF-8
  }

 private:
  size_t position_ = 0;
  std::string message_ = "syntax error";
};

void reportJsonSyntaxError(std::string_view text, CatalogBuilder& builder) {
  SyntaxErrorFinder finder;
  Json::sax_parse(text.data(), text.data() + text.size(), &finder);
  // nlohmann's position counts the bytes read, the offending one (or the end of input) included.
  const size_t offending = std::min(finder.position() > 0 ? finder.position() - 1 : 0, text.size());
  const size_t line =
      1 + static_cast<size_t>(std::count(text.begin(), text.begin() + offending, '\n'));
  builder.problem(line, "invalid JSON: " + finder.reason());
}

const char* jsonTypeName(const Json& value) {
  if (value.is_string()) return "a string";
  if (value.is_number()) return "a number";
  if (value.is_boolean()) return "a boolean";
  if (value.is_null()) return "null";
  if (value.is_array()) return "an array";
  return "an object";
}

void checkJsonKeys(const Json& object, std::initializer_list<std::string_view> allowed,
                   Faults& faults) {
  for (const auto& item : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end()) {
      faults.push_back("unknown key " + quote(item.key()));
    }
  }
}

const Json* jsonMember(const Json& object, std::string_view key, bool required, Faults& faults) {
  auto it = object.find(key);
  if (it == object.end()) {
    if (required) faults.push_back("missing " + quote(key));
    return nullptr;
  }
  return &*it;
}

// `required` false: a missing key reads as "".
std::optional<std::string> jsonString(const Json& object, std::string_view key, bool required,
                                      Faults& faults) {
  const Json* value = jsonMember(object, key, required, faults);
  if (!value) return required ? std::nullopt : std::optional<std::string>("");
  if (!value->is_string()) {
    faults.push_back(std::string(key) + " must be a string, not " + jsonTypeName(*value));
    return std::nullopt;
  }
  return value->get<std::string>();
}

std::optional<int64_t> jsonInteger(const Json& object, std::string_view key, int64_t min,
                                   int64_t max, Faults& faults) {
  const Json* value = jsonMember(object, key, true, faults);
  if (!value) return std::nullopt;
  if (!value->is_number_integer()) {
    faults.push_back(std::string(key) + " must be an integer, not " +
                     (value->is_number() ? std::string("a fraction") : jsonTypeName(*value)));
    return std::nullopt;
  }
  if (value->is_number_unsigned() && value->get<uint64_t>() > static_cast<uint64_t>(max)) {
    faults.push_back(std::string(key) + " " + std::to_string(value->get<uint64_t>()) +
                     " is outside " + std::to_string(min) + ".." + std::to_string(max));
    return std::nullopt;
  }
  const auto number = value->get<int64_t>();
  if (!checkRange(number, key, min, max, faults)) return std::nullopt;
  return number;
}

std::optional<double> jsonDecimal(const Json& object, std::string_view key, double limit,
                                  Faults& faults) {
  const Json* value = jsonMember(object, key, true, faults);
  if (!value) return std::nullopt;
  if (!value->is_number()) {
    faults.push_back(std::string(key) + " must be a number, not " + jsonTypeName(*value));
    return std::nullopt;
  }
  const auto number = value->get<double>();
  const size_t before = faults.size();
  checkCoordinate(number, key, limit, faults);
  if (faults.size() != before) return std::nullopt;
  return number;
}

std::optional<int32_t> jsonDate(const Json& object, std::string_view key, std::string_view field,
                                Faults& faults) {
  auto text = jsonString(object, key, true, faults);
  return text ? readDate(*text, field, faults) : std::nullopt;
}

std::optional<int16_t> jsonTime(const Json& object, std::string_view key, std::string_view field,
                                Faults& faults) {
  auto text = jsonString(object, key, true, faults);
  return text ? readTime(*text, field, faults) : std::nullopt;
}

std::string elementName(std::string_view array, size_t index) {
  return std::string(array) + "[" + std::to_string(index) + "]";
}

void readJsonRegion(const Json& element, size_t index, size_t line, CatalogBuilder& builder) {
  if (!element.is_object()) {
    builder.problem(
        line, elementName("regions", index) + " must be an object, not " + jsonTypeName(element));
    return;
  }
  Faults faults;
  checkJsonKeys(element, {"code", "name", "parent"}, faults);
  auto code = jsonString(element, "code", true, faults);
  auto name = jsonString(element, "name", true, faults);
  auto parent = jsonString(element, "parent", false, faults);  // a 시/도 may leave it out
  Region region{code.value_or(""), name.value_or(""), parent.value_or("")};
  if (code && name && parent) checkRegion(region, faults);
  const std::string label =
      code && !code->empty() ? "region " + token(*code) : elementName("regions", index);
  builder.addRegion(line, std::move(region), label, faults);
}

void readJsonClinic(const Json& element, size_t index, size_t line, CatalogBuilder& builder) {
  if (!element.is_object()) {
    builder.problem(
        line, elementName("clinics", index) + " must be an object, not " + jsonTypeName(element));
    return;
  }
  Faults faults;
  checkJsonKeys(element, {"id", "name", "address", "region", "lat", "lng"}, faults);
  Clinic clinic;
  auto id = jsonInteger(element, "id", 1, kMaxClinicId, faults);
  clinic.id = id.value_or(0);
  if (auto name = jsonString(element, "name", true, faults)) {
    clinic.name = std::move(*name);
    checkText(clinic.name, "name", kMaxNameBytes, true, faults);
  }
  if (auto address = jsonString(element, "address", true, faults)) {
    clinic.address = std::move(*address);
    checkText(clinic.address, "address", kMaxAddressBytes, false, faults);
  }
  if (auto region = jsonString(element, "region", true, faults)) {
    clinic.region = std::move(*region);
    checkText(clinic.region, "region", kMaxNameBytes, true, faults);
  }
  clinic.lat = jsonDecimal(element, "lat", 90, faults).value_or(0);
  clinic.lng = jsonDecimal(element, "lng", 180, faults).value_or(0);
  const std::string label = id ? "clinic " + std::to_string(*id) : elementName("clinics", index);
  builder.addClinic(line, std::move(clinic), id.has_value(), label, faults);
}

void readJsonSlot(const Json& element, size_t index, size_t line, CatalogBuilder& builder) {
  if (!element.is_object()) {
    builder.problem(
        line, elementName("slots", index) + " must be an object, not " + jsonTypeName(element));
    return;
  }
  Faults faults;
  GridFields g;
  const bool grid_form = element.contains("dates") || element.contains("times");
  if (grid_form && (element.contains("date") || element.contains("time"))) {
    faults.push_back("mixes \"date\"/\"time\" (one slot) with \"dates\"/\"times\" (a grid)");
  } else if (grid_form) {
    checkJsonKeys(element, {"clinic_id", "dates", "times", "capacity"}, faults);
  } else {
    checkJsonKeys(element, {"clinic_id", "date", "time", "capacity"}, faults);
  }
  g.clinic_id = jsonInteger(element, "clinic_id", 1, kMaxClinicId, faults);
  if (grid_form) {
    const Json* dates = jsonMember(element, "dates", true, faults);
    if (dates && !dates->is_object()) {
      faults.push_back(std::string("dates must be an object, not ") + jsonTypeName(*dates));
    } else if (dates) {
      checkJsonKeys(*dates, {"from", "to"}, faults);
      g.first_day = jsonDate(*dates, "from", "dates.from", faults);
      g.last_day = jsonDate(*dates, "to", "dates.to", faults);
    }
    const Json* times = jsonMember(element, "times", true, faults);
    if (times && !times->is_object()) {
      faults.push_back(std::string("times must be an object, not ") + jsonTypeName(*times));
    } else if (times) {
      checkJsonKeys(*times, {"from", "to", "step_minutes"}, faults);
      g.first_minute = jsonTime(*times, "from", "times.from", faults);
      g.last_minute = jsonTime(*times, "to", "times.to", faults);
      g.step = jsonInteger(*times, "step_minutes", kMinStep, kMaxStep, faults);
    }
  } else {
    g.first_day = jsonDate(element, "date", "date", faults);
    g.first_minute = jsonTime(element, "time", "time", faults);
  }
  g.capacity = jsonInteger(element, "capacity", kMinCapacity, kMaxCapacity, faults);
  const SlotGrid grid = makeGrid(g, "dates.to", "times.to", faults);
  const std::string label = g.clinic_id ? slotsLabel(grid_form ? "slots" : "slot", g.clinic_id, "")
                                        : elementName("slots", index);
  builder.addSlots(line, grid, label, faults);
}

void readJson(std::string_view text, CatalogBuilder& builder) {
  const Json document = Json::parse(text.data(), text.data() + text.size(), nullptr,
                                    /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    reportJsonSyntaxError(text, builder);
    return;
  }
  const JsonLines lines = scanJsonLines(text);
  for (const auto& [line, key] : lines.duplicate_keys) {
    builder.problem(line, "duplicate key " + quote(key));
  }
  if (!document.is_object()) {
    builder.problem(1, std::string("the top level must be an object with \"regions\", "
                                   "\"clinics\" and \"slots\", not ") +
                           jsonTypeName(document));
    return;
  }
  auto valueLine = [&](const std::string& key) {
    auto it = lines.values.find(key);
    return it == lines.values.end() ? size_t{0} : it->second;
  };
  using ElementReader = void (*)(const Json&, size_t, size_t, CatalogBuilder&);
  struct TopLevelArray {
    size_t line;
    const Json* elements;
    const std::vector<size_t>* element_lines;
    ElementReader reader;
  };
  std::vector<TopLevelArray> arrays;
  for (const auto& item : document.items()) {
    const std::string& key = item.key();
    const size_t line = valueLine(key);
    if (key == "time_zone") {
      if (!item.value().is_string()) {
        builder.problem(
            line, "\"time_zone\" must be a string, not " + std::string(jsonTypeName(item.value())));
      } else {
        builder.setTimeZone(line, item.value().get<std::string>());
      }
    } else if (!isTrackedArray(key)) {
      builder.problem(line, "unknown key " + quote(key) + " at the top level");
    } else if (!item.value().is_array()) {
      builder.problem(line, quote(key) + " must be an array, not " + jsonTypeName(item.value()));
    } else {
      ElementReader reader = key == "regions"   ? readJsonRegion
                             : key == "clinics" ? readJsonClinic
                                                : readJsonSlot;
      auto known = lines.elements.find(key);
      arrays.push_back(TopLevelArray{
          line, &item.value(), known == lines.elements.end() ? nullptr : &known->second, reader});
    }
  }
  // In file order, so that problems come out in line order as they do for CSV.
  std::sort(arrays.begin(), arrays.end(),
            [](const TopLevelArray& a, const TopLevelArray& b) { return a.line < b.line; });
  for (const TopLevelArray& array : arrays) {
    for (size_t i = 0; i < array.elements->size() && !builder.full(); ++i) {
      const size_t line =
          array.element_lines && i < array.element_lines->size() ? (*array.element_lines)[i] : 0;
      array.reader((*array.elements)[i], i, line, builder);
    }
  }
}

}  // namespace

std::string CatalogProblem::toString() const {
  if (line == 0) return source + ": " + reason;
  return source + ":" + std::to_string(line) + ": " + reason;
}

base::Result<CatalogData, std::vector<CatalogProblem>> parseCatalog(std::string_view text,
                                                                    CatalogFormat format,
                                                                    std::string_view source) {
  CatalogBuilder builder(source);
  if (format == CatalogFormat::kJson) {
    readJson(text, builder);
  } else {
    readCsv(text, builder);
  }
  return builder.finish();
}

CatalogFormat catalogFormatFor(std::string_view file_name) {
  constexpr std::string_view kSuffix = ".json";
  if (file_name.size() < kSuffix.size()) return CatalogFormat::kCsv;
  const std::string_view tail = file_name.substr(file_name.size() - kSuffix.size());
  const bool json = std::equal(tail.begin(), tail.end(), kSuffix.begin(), [](char a, char b) {
    return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
  });
  return json ? CatalogFormat::kJson : CatalogFormat::kCsv;
}

std::vector<CatalogProblem> validateCatalog(const CatalogData& catalog, std::string_view source) {
  ProblemList problems(source);
  validateInto(catalog, nullptr, nullptr, problems);
  return problems.take();
}

}  // namespace surge::origin
