#include "surge/edge/trailers.h"

#include "surge/edge/static_files.h"

namespace surge::edge {

void applyAddTrailers(const std::vector<AddHeaderRule>& rules, const Exchange& exchange,
                      http::Response& response) {
  const bool applies = addHeaderApplies(response.status);
  for (const AddHeaderRule& rule : rules) {
    if (!applies && !rule.always) continue;
    std::string value = http::headerSafe(rule.value.evaluate(exchange));
    if (value.empty()) continue;  // as nginx: an empty value adds nothing
    response.trailers += rule.name;
    response.trailers += ": ";
    response.trailers += value;
    response.trailers += "\r\n";
  }
}

}  // namespace surge::edge
