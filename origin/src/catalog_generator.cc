#include "surge/origin/catalog_generator.h"

#include <algorithm>
#include <charconv>
#include <numeric>
#include <string_view>

#include "surge/origin/calendar.h"
#include "surge/origin/catalog_import.h"

namespace surge::origin {
namespace {

constexpr int64_t kFirstClinicId = 100001;
constexpr int kSlotStepMinutes = 30;

// splitmix64: tiny, fast, and defined by its arithmetic alone, so a seed means the same catalog on
// every machine and standard library (std:: distributions do not promise that).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n) by multiply-shift; the bias (n / 2^64) is far below anything a catalog shows.
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

  int64_t between(int64_t low, int64_t high) {
    return low + static_cast<int64_t>(below(static_cast<uint64_t>(high - low) + 1));
  }

  template <typename T, size_t N>
  const T& pick(const T (&choices)[N]) {
    return choices[below(N)];
  }

 private:
  uint64_t state_;
};

// Places a clinic's name may start with: a district's own name is added to these.
constexpr std::string_view kNeighborhoods[] = {
    "중앙",     "역전",     "시청", "터미널", "신시가지", "시장", "대학로", "공단",
    "호수공원", "강변",     "남문", "북문",   "동문",     "서문", "구청",   "법원",
    "신도시",   "혁신도시", "문화", "평화",   "명륜",     "신흥", "대신",   "남산",
    "송정",     "월평",     "화정", "봉명",   "중동",     "상동", "신촌",   "새마을",
};

constexpr std::string_view kBrands[] = {
    "연세", "서울", "열린", "튼튼", "365",    "우리",   "하나", "제일", "밝은",
    "좋은", "미래", "바른", "참",   "늘봄",   "온누리", "한빛", "미소", "사랑",
    "희망", "새봄", "푸른", "햇살", "건강한", "가족",   "편한",
};

struct Specialty {
  std::string_view suffix;
  int weight;
};

// Roughly the mix of clinics that take part in national vaccination programs.
constexpr Specialty kSpecialties[] = {
    {"내과의원", 36}, {"가정의학과의원", 20}, {"소아청소년과의원", 16}, {"이비인후과의원", 10},
    {"의원", 8},      {"병원", 10},
};

constexpr std::string_view kRoads[] = {
    "중앙", "시청",   "역전",   "번영",   "평화", "희망", "문화", "대학", "공원", "산업",
    "충효", "강변",   "호수",   "새마을", "중흥", "태평", "동문", "서문", "남문", "북문",
    "신흥", "월드컵", "올림픽", "시민",   "학교", "구청", "동산", "장터", "통일", "광장",
    "은행", "사직",   "대흥",   "봉황",   "행복", "하늘", "꽃길", "푸른", "미래", "솔빛",
};

std::string_view pickSpecialty(SplitMix64& random) {
  int total = 0;
  for (const Specialty& s : kSpecialties) {
    total += s.weight;
  }
  auto roll = static_cast<int>(random.below(static_cast<uint64_t>(total)));
  for (const Specialty& s : kSpecialties) {
    if (roll < s.weight) return s.suffix;
    roll -= s.weight;
  }
  return kSpecialties[0].suffix;
}

// "종로구" -> "종로": how locals shorten a district in a clinic's name. One-syllable stems ("중구")
// stay whole, and 세종특별자치시 is called 세종.
std::string districtStem(std::string_view name) {
  constexpr size_t kSyllableBytes = 3;  // every Hangul syllable is 3 bytes of UTF-8
  if (name == "세종특별자치시") return "세종";
  if (name.size() >= 3 * kSyllableBytes) return std::string(name.substr(0, name.size() - 3));
  return std::string(name);
}

// How many clinics each 시/군/구 gets: one each, the rest by population (largest remainder, with
// integers only so that the split is exact and the same everywhere).
std::vector<size_t> clinicsPerDistrict(const std::vector<size_t>& districts, size_t clinics) {
  const auto& facts = koreanRegionFacts();
  std::vector<size_t> counts(districts.size(), 0);
  std::vector<size_t> by_population(districts.size());
  std::iota(by_population.begin(), by_population.end(), 0);
  std::stable_sort(by_population.begin(), by_population.end(), [&](size_t a, size_t b) {
    return facts[districts[a]].population_thousands > facts[districts[b]].population_thousands;
  });
  if (clinics < districts.size()) {  // too few to go round: the most populous get one
    for (size_t k = 0; k < clinics; ++k) {
      counts[by_population[k]] = 1;
    }
    return counts;
  }
  uint64_t total_population = 0;
  for (size_t index : districts) {
    total_population += facts[index].population_thousands;
  }
  const uint64_t rest = clinics - districts.size();
  std::vector<uint64_t> remainders(districts.size());
  size_t given = districts.size();
  for (size_t k = 0; k < districts.size(); ++k) {
    const uint64_t share = rest * static_cast<uint64_t>(facts[districts[k]].population_thousands);
    counts[k] = 1 + share / total_population;
    remainders[k] = share % total_population;
    given += counts[k] - 1;
  }
  std::vector<size_t> by_remainder(districts.size());
  std::iota(by_remainder.begin(), by_remainder.end(), 0);
  std::stable_sort(by_remainder.begin(), by_remainder.end(),
                   [&](size_t a, size_t b) { return remainders[a] > remainders[b]; });
  for (size_t k = 0; given < clinics; ++k, ++given) {
    ++counts[by_remainder[k]];
  }
  return counts;
}

std::vector<int16_t> slotMinutes(const CatalogGeneratorOptions& options) {
  std::vector<int16_t> minutes;
  const int16_t first = *parseTime(options.first_time);
  const int16_t last = *parseTime(options.last_time);
  for (int minute = first; minute <= last; minute += kSlotStepMinutes) {
    minutes.push_back(static_cast<int16_t>(minute));
  }
  return minutes;
}

// ---- CSV writing ------------------------------------------------------------------------------

void appendField(std::string& out, std::string_view value) {
  out += ',';
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(value);
    return;
  }
  out += '"';
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

template <typename Number>
void appendNumber(std::string& out, Number value) {
  char buffer[32];
  // The shortest form that reads back to the same double: the round trip is exact.
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out += ',';
  out.append(buffer, ec == std::errc() ? end : buffer);
}

// Whether slots[begin, end) — one clinic's — is exactly what one `slots` row expands to: every day
// from the first, each with the same times at one step, one capacity, date by date.
bool isGrid(const std::vector<Slot>& slots, size_t begin, size_t end, int& step, size_t& per_day) {
  const Slot& first = slots[begin];
  per_day = 0;
  while (begin + per_day < end && slots[begin + per_day].day == first.day)
    ++per_day;
  if ((end - begin) % per_day != 0) return false;
  step = per_day > 1 ? slots[begin + 1].minute - first.minute : kSlotStepMinutes;
  if (step < 5 || step > 720) return false;
  for (size_t k = 0; k < end - begin; ++k) {
    const Slot& slot = slots[begin + k];
    if (slot.day != first.day + static_cast<int32_t>(k / per_day) ||
        slot.minute != first.minute + static_cast<int>(k % per_day) * step ||
        slot.capacity != first.capacity) {
      return false;
    }
  }
  return true;
}

void appendSlotRun(std::string& out, const std::vector<Slot>& slots, size_t begin, size_t end) {
  int step = 0;
  size_t per_day = 0;
  if (end - begin > 1 && isGrid(slots, begin, end, step, per_day)) {
    const Slot& first = slots[begin];
    const Slot& last = slots[end - 1];
    out += "slots";
    appendNumber(out, first.clinic_id);
    appendField(out, formatDate(first.day));
    appendField(out, formatDate(last.day));
    appendField(out, formatTime(first.minute));
    appendField(out, formatTime(last.minute));
    appendNumber(out, step);
    appendNumber(out, first.capacity);
    out += '\n';
    return;
  }
  for (size_t k = begin; k < end; ++k) {
    out += "slot";
    appendNumber(out, slots[k].clinic_id);
    appendField(out, formatDate(slots[k].day));
    appendField(out, formatTime(slots[k].minute));
    appendNumber(out, slots[k].capacity);
    out += '\n';
  }
}

}  // namespace

std::optional<std::string> checkGeneratorOptions(const CatalogGeneratorOptions& options) {
  const auto first_day = parseDate(options.first_date);
  if (!first_day) return "first date \"" + options.first_date + "\" is not a date (YYYY-MM-DD)";
  if (options.days < 1) return "days must be at least 1";
  if (*first_day + static_cast<int64_t>(options.days) - 1 > *parseDate("2199-12-31")) {
    return "the last day would be after 2199-12-31";
  }
  const auto first_minute = parseTime(options.first_time);
  const auto last_minute = parseTime(options.last_time);
  if (!first_minute) return "first time \"" + options.first_time + "\" is not a time (HH:MM)";
  if (!last_minute) return "last time \"" + options.last_time + "\" is not a time (HH:MM)";
  if (*last_minute < *first_minute) return "last time is before first time";
  if (options.min_capacity < 1 || options.max_capacity > 10000 ||
      options.min_capacity > options.max_capacity) {
    return "capacities must satisfy 1 <= min <= max <= 10000";
  }
  const uint64_t per_clinic =
      static_cast<uint64_t>(options.days) *
      static_cast<uint64_t>((*last_minute - *first_minute) / kSlotStepMinutes + 1);
  if (options.clinics > kMaxCatalogSlots / per_clinic) {
    return "more than " + std::to_string(kMaxCatalogSlots) + " slots";
  }
  return std::nullopt;
}

CatalogData generateCatalog(const CatalogGeneratorOptions& options) {
  CatalogData catalog;
  if (checkGeneratorOptions(options)) return catalog;

  const std::vector<Region>& regions = koreanRegions();
  const std::vector<RegionFacts>& facts = koreanRegionFacts();
  catalog.regions = regions;

  std::vector<size_t> districts;  // indexes of 시/군/구 rows
  std::vector<size_t> province_of(regions.size(), 0);
  for (size_t i = 0, province = 0; i < regions.size(); ++i) {
    if (regions[i].parent.empty()) {
      province = i;
    } else {
      districts.push_back(i);
    }
    province_of[i] = province;
  }
  const std::vector<size_t> counts = clinicsPerDistrict(districts, options.clinics);

  SplitMix64 random(options.seed);
  catalog.clinics.reserve(options.clinics);
  int64_t next_id = kFirstClinicId;
  for (size_t k = 0; k < districts.size(); ++k) {
    const Region& district = regions[districts[k]];
    const Region& province = regions[province_of[districts[k]]];
    const RegionFacts& place = facts[districts[k]];
    const std::string stem = districtStem(district.name);
    // 세종 is its own 시/군/구: "세종특별자치시 세종특별자치시 ..." would read as a typo.
    const std::string address_prefix = district.name == province.name
                                           ? province.name + " "
                                           : province.name + " " + district.name + " ";
    for (size_t n = 0; n < counts[k]; ++n) {
      Clinic clinic;
      clinic.id = next_id++;
      clinic.region = district.code;
      if (n == 0) {
        clinic.name = district.name + " 보건소";  // every district runs a public health center
      } else {
        const bool local = random.below(5) < 2;
        const std::string neighborhood = local ? stem : std::string(random.pick(kNeighborhoods));
        // Draws in statements of their own: the operands of an operator+ chain are unsequenced,
        // and GCC and clang draw them in opposite orders. The order below is the one GCC used
        // for the shipped sample.
        const std::string_view specialty = pickSpecialty(random);
        const std::string_view brand = random.pick(kBrands);
        clinic.name = neighborhood + " " + std::string(brand) + std::string(specialty);
      }
      const int64_t number = random.between(1, 250);
      const std::string_view road = random.pick(kRoads);
      clinic.address = address_prefix + std::string(road) + "로 " + std::to_string(number);
      // Whole micro-degrees: an integer divided by 1e6 rounds the same everywhere.
      clinic.lat = static_cast<double>(place.center_lat +
                                       random.between(-place.spread_lat, place.spread_lat)) /
                   1e6;
      clinic.lng = static_cast<double>(place.center_lng +
                                       random.between(-place.spread_lng, place.spread_lng)) /
                   1e6;
      catalog.clinics.push_back(std::move(clinic));
    }
  }

  const int32_t first_day = *parseDate(options.first_date);
  const std::vector<int16_t> minutes = slotMinutes(options);
  catalog.slots.reserve(catalog.clinics.size() * static_cast<size_t>(options.days) *
                        minutes.size());
  for (const Clinic& clinic : catalog.clinics) {
    const auto capacity =
        static_cast<int32_t>(random.between(options.min_capacity, options.max_capacity));
    for (int32_t day = first_day; day < first_day + options.days; ++day) {
      for (int16_t minute : minutes) {
        catalog.slots.push_back(Slot{clinic.id, day, minute, capacity});
      }
    }
  }
  return catalog;
}

std::string writeCatalogCsv(const CatalogData& catalog) {
  std::string out;
  out.reserve(catalog.regions.size() * 40 + catalog.clinics.size() * 120 + 4096);
  if (!catalog.time_zone.empty()) {
    out += "time_zone";
    appendField(out, catalog.time_zone);
    out += '\n';
  }
  out += "# region,code,name,parent\n";
  for (const Region& region : catalog.regions) {
    out += "region";
    appendField(out, region.code);
    appendField(out, region.name);
    appendField(out, region.parent);
    out += '\n';
  }
  out += "# clinic,id,name,address,region,lat,lng\n";
  for (const Clinic& clinic : catalog.clinics) {
    out += "clinic";
    appendNumber(out, clinic.id);
    appendField(out, clinic.name);
    appendField(out, clinic.address);
    appendField(out, clinic.region);
    appendNumber(out, clinic.lat);
    appendNumber(out, clinic.lng);
    out += '\n';
  }
  out += "# slots,clinic id,first date,last date,first time,last time,step minutes,capacity\n";
  out += "# slot,clinic id,date,time,capacity\n";
  const std::vector<Slot>& slots = catalog.slots;
  for (size_t begin = 0; begin < slots.size();) {
    size_t end = begin + 1;
    while (end < slots.size() && slots[end].clinic_id == slots[begin].clinic_id)
      ++end;
    appendSlotRun(out, slots, begin, end);
    begin = end;
  }
  return out;
}

std::string generatedCatalogComment(const CatalogGeneratorOptions& options) {
  const size_t districts = std::count_if(koreanRegions().begin(), koreanRegions().end(),
                                         [](const Region& r) { return !r.parent.empty(); });
  const CatalogGeneratorOptions defaults;
  const bool default_options =
      options.clinics == defaults.clinics && options.first_date == defaults.first_date &&
      options.days == defaults.days && options.first_time == defaults.first_time &&
      options.last_time == defaults.last_time && options.min_capacity == defaults.min_capacity &&
      options.max_capacity == defaults.max_capacity;
  std::string out;
  out += "# A booking catalog generated by surge::origin::generateCatalog with seed " +
         std::to_string(options.seed) + (default_options ? " and the default options" : "") + ":\n";
  out += "# " + std::to_string(options.clinics) + " clinics over 17 시/도 and " +
         std::to_string(districts) + " 시/군/구; " + std::to_string(options.days) + " days from " +
         options.first_date + ",\n";
  out += "# slots every 30 minutes " + options.first_time + ".." + options.last_time +
         ", capacity " + std::to_string(options.min_capacity) + ".." +
         std::to_string(options.max_capacity) + " per slot.\n";
  out += "# `surgectl catalog generate` recreates it; the format is in origin/CATALOG.md.\n";
  return out;
}

}  // namespace surge::origin
