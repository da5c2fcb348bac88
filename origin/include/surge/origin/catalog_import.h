// Reading a catalog from CSV or JSON, row by row. A file with any bad row imports nothing: every
// problem is reported with its line number and reason.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "surge/base/result.h"
#include "surge/origin/catalog.h"

namespace surge::origin {

// A catalog file may expand to at most this many slots (1.2 GB in memory): a mistyped date range
// in one `slots` row is refused instead of exhausting the origin's memory.
inline constexpr size_t kMaxCatalogSlots = 50'000'000;

// parseCatalog and validateCatalog stop after this many problems.
inline constexpr size_t kMaxCatalogProblems = 100;

enum class CatalogFormat { kCsv, kJson };

struct CatalogProblem {
  std::string source;  // file name as given
  size_t line = 0;     // 1-based; 0 when the problem is about the file as a whole
  std::string reason;
  std::string toString() const;  // "catalog.csv:12: clinic 100: unknown region \"99999\""
};

// Parses `text` and validates the result (validateCatalog). Stops collecting after 100 problems.
base::Result<CatalogData, std::vector<CatalogProblem>> parseCatalog(std::string_view text,
                                                                    CatalogFormat format,
                                                                    std::string_view source);

// Format from the file name: ".json" -> JSON, anything else -> CSV.
CatalogFormat catalogFormatFor(std::string_view file_name);

// Cross-row checks: duplicate codes/ids/slots, unknown parents, clinics outside a 시/군/구, slots
// of unknown clinics, bad dates or times, capacities outside 1..10000. Also checks every field as
// parseCatalog does, so a catalog from any source can be vetted. Problems carry line 0.
std::vector<CatalogProblem> validateCatalog(const CatalogData& catalog, std::string_view source);

}  // namespace surge::origin
