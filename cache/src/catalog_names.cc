#include "surge/cache/catalog_names.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace surge::cache {
namespace {

void appendQuoted(std::string& out, std::string_view s) {
  // Region codes are digits and named snapshots [a-z0-9._-]: nothing to escape, but the text is
  // written through a JSON encoder anyway rather than trusted.
  out += nlohmann::json(std::string(s)).dump();
}

}  // namespace

std::string CatalogNames::tail(std::vector<std::string> regions, std::vector<int64_t> clinic_ids,
                               std::vector<std::string> named) {
  for (auto* list : {&regions, &named}) {
    std::sort(list->begin(), list->end());
    list->erase(std::unique(list->begin(), list->end()), list->end());
  }
  std::sort(clinic_ids.begin(), clinic_ids.end());
  clinic_ids.erase(std::unique(clinic_ids.begin(), clinic_ids.end()), clinic_ids.end());
  std::string out = ",\"regions\":[";
  for (size_t i = 0; i < regions.size(); ++i) {
    if (i) out += ',';
    appendQuoted(out, regions[i]);
  }
  // Ids as inclusive ranges: a catalog's ids are mostly consecutive.
  out += "],\"clinics\":[";
  for (size_t i = 0; i < clinic_ids.size();) {
    size_t j = i;
    while (j + 1 < clinic_ids.size() && clinic_ids[j + 1] == clinic_ids[j] + 1)
      ++j;
    if (i) out += ',';
    out += '[' + std::to_string(clinic_ids[i]) + ',' + std::to_string(clinic_ids[j]) + ']';
    i = j + 1;
  }
  out += "],\"named\":[";
  for (size_t i = 0; i < named.size(); ++i) {
    if (i) out += ',';
    appendQuoted(out, named[i]);
  }
  out += "]}";
  return out;
}

std::optional<CatalogNames> CatalogNames::parse(std::string_view body) {
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return std::nullopt;
  auto regions = json.find("regions");
  auto clinics = json.find("clinics");
  auto named = json.find("named");
  if (regions == json.end() || !regions->is_array() || clinics == json.end() ||
      !clinics->is_array() || named == json.end() || !named->is_array()) {
    return std::nullopt;
  }
  CatalogNames names;
  for (const auto& r : *regions) {
    if (!r.is_string()) return std::nullopt;
    names.regions_.push_back(r.get<std::string>());
  }
  for (const auto& range : *clinics) {
    if (!range.is_array() || range.size() != 2 || !range[0].is_number_integer() ||
        !range[1].is_number_integer()) {
      return std::nullopt;
    }
    int64_t first = range[0].get<int64_t>(), last = range[1].get<int64_t>();
    if (first > last) return std::nullopt;
    names.clinics_.emplace_back(first, last);
  }
  for (const auto& n : *named) {
    if (!n.is_string()) return std::nullopt;
    names.named_.push_back(n.get<std::string>());
  }
  std::sort(names.regions_.begin(), names.regions_.end());
  std::sort(names.named_.begin(), names.named_.end());
  std::sort(names.clinics_.begin(), names.clinics_.end());
  return names;
}

bool CatalogNames::contains(std::string_view name) const {
  if (name == "regions" || name == kCatalogSnapshot) return true;
  if (name.substr(0, 7) == "region/") {
    return std::binary_search(regions_.begin(), regions_.end(), name.substr(7));
  }
  if (name.substr(0, 6) == "named/") {
    return std::binary_search(named_.begin(), named_.end(), name.substr(6));
  }
  if (name.substr(0, 7) == "clinic/") {
    std::string_view digits = name.substr(7);
    int64_t id = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    if (ec != std::errc() || end != digits.data() + digits.size()) return false;
    auto after = std::upper_bound(clinics_.begin(), clinics_.end(), id,
                                  [](int64_t v, const auto& range) { return v < range.first; });
    return after != clinics_.begin() && id <= std::prev(after)->second;
  }
  return false;
}

size_t CatalogNames::clinicCount() const {
  size_t n = 0;
  for (const auto& [first, last] : clinics_)
    n += static_cast<size_t>(last - first + 1);
  return n;
}

}  // namespace surge::cache
