// The http-level directives of each kind of location, read in its handler's file (as h2o pairs a
// handler with its configurator) and declared here, so that the configuration's reader
// (edge_config.cc) calls them without depending on the handlers themselves.
#pragma once

namespace surge::nginx_compat {
struct Directive;
}

namespace surge::edge {

class ConfigReader;
struct EdgeConfig;
struct PullSettings;
using nginx_compat::Directive;

// surge_memcached, surge_snapshot_keys and the L1's surge_* settings (http level) into `c`; false
// in `handled` for any other directive.
bool readSnapshotDirective(ConfigReader& reader, const Directive& d, EdgeConfig& c, bool& handled);

// surge_waiting_room and surge_queue_* (http level) into `c`; false in `handled` for any other
// directive.
bool readQueueDirective(ConfigReader& reader, const Directive& d, EdgeConfig& c, bool& handled);

// surge_name, surge_ops_peer and surge_ops_keys (http level) into `c`; false in `handled` for any
// other directive.
bool readOpsDirective(ConfigReader& reader, const Directive& d, EdgeConfig& c, bool& handled);

// surge_origin_max_inflight and surge_lookup_limit (http level) into `c`; false in `handled` for
// any other directive.
bool readOriginDirective(ConfigReader& reader, const Directive& d, EdgeConfig& c, bool& handled);

// surge_pull_through and surge_pull_cache (a file location's) into `out`; false in `handled` for
// any other directive (pull_handler.cc).
bool readPullDirective(ConfigReader& reader, const Directive& d, PullSettings& out, bool& handled);

}  // namespace surge::edge
