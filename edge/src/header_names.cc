#include "surge/edge/header_names.h"

namespace surge::edge {

bool readHeaderNameDirective(ConfigReader& r, const Directive& d, HeaderNameRules& out,
                             bool& handled) {
  handled = true;
  if (d.name == "ignore_invalid_headers") return r.onOff(d, out.ignore_invalid);
  if (d.name == "underscores_in_headers") return r.onOff(d, out.underscores);
  handled = false;
  return true;
}

}  // namespace surge::edge
