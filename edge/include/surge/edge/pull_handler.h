// Pull-through for large content (issue 19): a file location with `surge_pull_through URL;` and
// `surge_pull_cache DIR SIZE;` serves what its root holds as any file location does, and fetches
// what the root lacks from the content origin at URL, once, into DIR (pull_cache.h), then serves
// it from there like a file of its own (sendfile, ranges, validators). Requests for a file being
// fetched wait for that one fetch, except a single Range that lies in what has arrived (up to
// 1 MiB of it): answered from the partial download at once. The settings change on restart only.
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "surge/edge/config_reader.h"
#include "surge/edge/location_handler.h"
#include "surge/edge/pull_cache.h"
#include "surge/edge/static_files.h"

namespace surge::edge {

class PullHandler : public LocationHandler {
 public:
  PullHandler(Dispatcher& dispatcher, const EdgeConfig& config, base::MetricsRegistry& metrics);
  base::Result<base::Done, std::string> start() override;
  std::vector<std::string> reload(const EdgeConfig& now, const EdgeConfig& next,
                                  const EdgeKeys& keys) override;
  void stop() override;
  // A file `location`'s root lacks (its answer was 404): from the pull cache, fetched if needed.
  void handle(Exchange& exchange, const Location& location) override;

 private:
  http::Response serve(const http::Request& request, const Location& location,
                       const std::string& uri, int worker);
  // A single Range inside what has arrived of a file being fetched: its 206 from the partial
  // download; nullopt when it cannot be answered yet.
  static std::optional<http::Response> fromPartial(PullCache& cache, const std::string& uri,
                                                   std::string_view range);

  Dispatcher& dispatcher_;
  std::vector<std::unique_ptr<PullCache>> caches_;   // by Location::pull
  std::vector<std::unique_ptr<StaticFiles>> files_;  // per worker
};

}  // namespace surge::edge
