// The handler of file locations (`root`, `alias`): nginx's index and try_files modules in front
// of StaticFiles (one per worker). A directory path is handed back to the dispatcher as an
// internal redirect to its index file, so the index is matched against the locations as nginx
// matches it ($uri becomes "/dir/index.html").
#pragma once

#include <memory>
#include <vector>

#include "surge/edge/config_reader.h"
#include "surge/edge/exchange.h"
#include "surge/edge/location.h"
#include "surge/edge/static_files.h"

namespace surge::edge {

class StaticHandler {
 public:
  explicit StaticHandler(int workers);
  // GET and HEAD (any method once an error page is being served: nginx makes it a GET); 405
  // with Allow otherwise.
  Step handle(Exchange& exchange, const Location& location);
  size_t cachedFiles(int worker) const {
    return files_.at(static_cast<size_t>(worker))->cachedFiles();
  }

 private:
  Step index(Exchange& exchange, const Location& location, StaticFiles& files,
             const StaticLocation& settings);
  Step tryFiles(Exchange& exchange, const Location& location, StaticFiles& files,
                const StaticLocation& settings);
  std::vector<std::unique_ptr<StaticFiles>> files_;
};

// The file directives of a level (http, server, location): root, index, if_modified_since,
// expires, charset, source_charset, max_ranges, types, default_type, gzip_static. False in
// `handled` for any other directive.
// `alias` holding variables (the core reads alias itself, before nested locations inherit it).
bool readAliasWithVariables(ConfigReader& reader, const Directive& d, LocationSettings& level);
bool readFileDirective(ConfigReader& reader, const Directive& d, LocationSettings& level,
                       bool& handled);
// A location's own: try_files, internal, surge_immutable_hashed. (alias is read by
// edge_config.cc before the location's nested ones, which inherit it.)
bool readLocationFileDirective(ConfigReader& reader, const Directive& d, Location& location,
                               bool& handled);

}  // namespace surge::edge
