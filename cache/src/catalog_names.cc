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

void CatalogNames::addRegion(std::string code) {
  regions_.push_back(std::move(code));
  sorted_ = false;
}

void CatalogNames::addClinic(int64_t id) {
  loose_clinics_.push_back(id);
  sorted_ = false;
}

void CatalogNames::addNamed(std::string name) {
  named_.push_back(std::move(name));
  sorted_ = false;
}

void CatalogNames::normalize() const {
  if (sorted_) return;
  for (auto* list : {&regions_, &named_}) {
    std::sort(list->begin(), list->end());
    list->erase(std::unique(list->begin(), list->end()), list->end());
  }
  std::vector<int64_t> ids = std::move(loose_clinics_);
  loose_clinics_.clear();
  for (const auto& [first, last] : clinics_) {
    for (int64_t id = first; id <= last; ++id)
      ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  clinics_.clear();
  for (int64_t id : ids) {
    if (!clinics_.empty() && clinics_.back().second + 1 == id) {
      clinics_.back().second = id;
    } else {
      clinics_.emplace_back(id, id);
    }
  }
  sorted_ = true;
}

std::string CatalogNames::tail() const {
  normalize();
  std::string out = ",\"regions\":[";
  for (size_t i = 0; i < regions_.size(); ++i) {
    if (i) out += ',';
    appendQuoted(out, regions_[i]);
  }
  out += "],\"clinics\":[";
  for (size_t i = 0; i < clinics_.size(); ++i) {
    if (i) out += ',';
    out += '[' + std::to_string(clinics_[i].first) + ',' + std::to_string(clinics_[i].second) + ']';
  }
  out += "],\"named\":[";
  for (size_t i = 0; i < named_.size(); ++i) {
    if (i) out += ',';
    appendQuoted(out, named_[i]);
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
  normalize();
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
  normalize();
  size_t n = 0;
  for (const auto& [first, last] : clinics_)
    n += static_cast<size_t>(last - first + 1);
  return n;
}

}  // namespace surge::cache
