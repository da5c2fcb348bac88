#include "surge/edge/snapshot_handler.h"

#include "surge/cache/memcached_client.h"
#include "surge/cache/snapshot_names.h"
#include "surge/edge/config_reader.h"
#include "surge/edge/edge_config.h"
#include "surge/edge/handler_directives.h"
#include "surge/edge/static_files.h"

namespace surge::edge {
namespace {

using http::jsonError;

bool allDigits(std::string_view s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

std::string snapshotNameForPath(std::string_view path) {
  constexpr std::string_view kApi = "/api/v1/";
  if (path.substr(0, kApi.size()) != kApi) return {};
  std::string_view rest = path.substr(kApi.size());
  if (rest == "regions") return "regions";
  if (rest.size() > 16 && rest.substr(0, 8) == "regions/" && rest.ends_with("/clinics")) {
    std::string_view code = rest.substr(8, rest.size() - 8 - 8);
    if (allDigits(code, 2, 10)) return "region/" + std::string(code);
    return {};
  }
  if (rest.substr(0, 8) == "clinics/") {
    std::string_view id = rest.substr(8);
    if (allDigits(id, 1, 16) && id[0] != '0') return "clinic/" + std::string(id);
    return {};
  }
  if (rest.substr(0, 10) == "snapshots/") {
    std::string_view name = rest.substr(10);
    if (cache::isValidNamedSnapshot(name)) return "named/" + std::string(name);
  }
  return {};
}

SnapshotHandler::SnapshotHandler(Dispatcher& dispatcher, const EdgeConfig& config,
                                 cache::Keyring keyring, base::MetricsRegistry& metrics)
    : dispatcher_(dispatcher), uses_memcached_(!config.memcached.empty()) {
  cache::MemcachedOptions mc;
  mc.servers = config.memcached;
  snapshots_ = std::make_unique<SnapshotCache>(mc, std::move(keyring), config.snapshots, metrics);
}

base::Result<base::Done, std::string> SnapshotHandler::start() {
  if (!uses_memcached_) return base::Done{};
  auto ok = snapshots_->start({std::string(cache::kCatalogSnapshot), "regions"});
  if (!ok) return base::fail("memcached: " + ok.error());
  return base::Done{};
}

std::vector<std::string> SnapshotHandler::reload(const EdgeConfig& now, const EdgeConfig& next,
                                                 const EdgeKeys& keys) {
  std::vector<std::string> kept;
  if (now.memcached != next.memcached) kept.push_back("surge_memcached changes on restart only");
  snapshots_->setKeyring(keys.snapshots);
  snapshots_->setOptions(next.snapshots);
  return kept;
}

void SnapshotHandler::stop() {
  snapshots_->stop();
}

void SnapshotHandler::handle(Exchange& ex, const Location& location) {
  AnswerContext ctx = dispatcher_.context(ex, kSnapshot);
  if (ex.method() != "GET" && ex.method() != "HEAD") {
    return dispatcher_.answer(ctx, http::methodNotAllowed("snapshots: GET or HEAD", "GET, HEAD"));
  }
  std::string name = snapshotNameForPath(ex.request.path);
  if (name.empty()) {
    return dispatcher_.answer(ctx, jsonError(404, "not_found", "no such snapshot"));
  }
  serve(ex, name, ctx, location.cdn);
}

void SnapshotHandler::serve(const Exchange& ex, const std::string& name, const AnswerContext& ctx,
                            const CdnSettings& cdn) {
  const http::Request& request = ex.request;
  if (auto found = snapshots_->get(name)) {
    return dispatcher_.answer(ctx, response(*found, request.header("Accept-Encoding"),
                                            request.header("If-None-Match"), cdn));
  }
  // Not in origin's catalog: a 404 now, without asking memcached (junk ids cost nothing).
  if (snapshots_->known(name) == SnapshotCache::Known::kNo) {
    return dispatcher_.answer(ctx, notFoundAnswer(name));
  }
  // Miss: park until the refresher has fetched it (coalesced with other misses for the name).
  AnswerContext async = dispatcher_.asyncContext(ex, kSnapshot);
  std::string accept(request.header("Accept-Encoding"));
  std::string inm(request.header("If-None-Match"));
  bool parked = snapshots_->waitFor(
      name, ex.worker,
      [this, async = std::move(async), accept = std::move(accept), inm = std::move(inm),
       cdn](std::optional<SnapshotLookup> found) {
        if (!found) {
          // Known (or not yet decidable) and not in memcached: a gap origin is told about.
          return dispatcher_.answer(
              async, jsonError(503, "snapshot_unavailable",
                               "the snapshot cannot be read right now; retry shortly", 1));
        }
        dispatcher_.answer(async, response(*found, accept, inm, cdn));
      });
  if (!parked) {
    dispatcher_.answer(ctx,
                       jsonError(503, "overloaded", "too many requests are waiting; retry", 1));
  }
}

http::Response SnapshotHandler::notFoundAnswer(const std::string& name) const {
  const char* what = name.rfind("clinic/", 0) == 0   ? "unknown clinic"
                     : name.rfind("region/", 0) == 0 ? "unknown region"
                                                     : "no such snapshot";
  http::Response r = jsonError(404, "not_found", what);
  // Origin's word, as fresh as the catalog: shared caches may keep it as long as a snapshot.
  http::setCacheControl(r, "public, max-age=2, s-maxage=2");
  return r;
}

http::Response SnapshotHandler::response(const SnapshotLookup& found,
                                         std::string_view accept_encoding,
                                         std::string_view if_none_match,
                                         const CdnSettings& cdn) const {
  const CachedSnapshot& s = *found.snapshot;
  if (s.not_found) return notFoundAnswer(s.name);
  const EdgeConfig& cfg = *dispatcher_.workerConfig();
  Coding coding = chooseCoding(accept_encoding, !s.zstd.empty(), false, !s.gzip.empty());
  if (coding == Coding::kIdentity && s.gzip.empty() &&
      chooseCoding(accept_encoding, !s.zstd.empty(), false, true) == Coding::kGzip) {
    snapshots_->wantGzip(s.name);  // identity this time; gzip from the refresher's next pass
  }
  http::Response r;
  std::string& h = r.headers;
  h.reserve(320);
  h += "Content-Type: ";
  h += s.content_type;
  h += "\r\nETag: ";
  if (coding != Coding::kIdentity) h += "W/";  // as nginx marks what it compressed
  h += s.etag;
  h += "\r\nCache-Control: public, max-age=";
  h += std::to_string(s.max_age_s);
  h += ", s-maxage=";
  h += std::to_string(s.max_age_s);
  h += ", stale-while-revalidate=";
  h += std::to_string(cfg.stale_while_revalidate.count());
  h += ", stale-if-error=";
  h += std::to_string(cfg.snapshots.stale_if_error.count());
  h += "\r\nAge: ";
  h += std::to_string(found.age_s);
  h += "\r\nVary: Accept-Encoding\r\n";
  if (found.stale) h += "Warning: 110 - \"Response is Stale\"\r\n";
  if (cdn.max_age_s >= 0 || cdn.tag_headers != 0) {
    // A stale copy gets no longer a CDN life than a browser's: purges do not reach it.
    appendCdnHeaders(h, cdn, s.tags, found.stale ? s.max_age_s : cdn.max_age_s,
                     cfg.stale_while_revalidate.count(), cfg.snapshots.stale_if_error.count());
  }
  if (!if_none_match.empty() && etagMatches(if_none_match, s.etag)) {
    r.status = 304;
    return r;
  }
  if (coding != Coding::kIdentity) {
    h += "Content-Encoding: ";
    h += codingName(coding);
    h += "\r\n";
  }
  r.status = 200;
  const std::string& body = coding == Coding::kZstd   ? s.zstd
                            : coding == Coding::kGzip ? s.gzip
                                                      : s.identity;
  r.shared_owner = found.snapshot;
  r.shared_body = body;
  return r;
}

// The snapshot locations' settings: memcached, the keys that open snapshots, the L1.
bool readSnapshotDirective(ConfigReader& r, const Directive& d, EdgeConfig& c, bool& handled) {
  handled = true;
  if (d.name == "surge_memcached") {
    if (d.args.empty() || d.has_block) return r.args(d, 1, 1);
    c.memcached.clear();
    for (const std::string& a : d.args) {
      auto list = cache::parseServerList(a);
      if (!list) return r.fail(d, list.error());
      for (auto& s : list.value())
        c.memcached.push_back(s);
    }
  } else if (d.name == "surge_snapshot_keys") {
    if (!r.args(d, 1, 1)) return false;
    c.snapshot_keys = r.resolve(d.args[0]);
  } else if (d.name == "surge_refresh_interval") {
    if (!r.duration(d, c.snapshots.refresh_interval)) return false;
    if (c.snapshots.refresh_interval.count() < 10) return r.fail(d, "at least 10ms");
  } else if (d.name == "surge_stale_if_error") {
    if (!r.seconds(d, c.snapshots.stale_if_error)) return false;
  } else if (d.name == "surge_stale_while_revalidate") {
    if (!r.seconds(d, c.stale_while_revalidate)) return false;
  } else if (d.name == "surge_snapshot_idle") {
    if (!r.seconds(d, c.snapshots.idle_evict)) return false;
  } else if (d.name == "surge_snapshot_max_waiting") {
    if (!r.args(d, 1, 1)) return false;
    uint64_t v = 0;
    if (!r.number(d, d.args[0], 1, 10000000, v)) return false;
    c.snapshots.max_waiting = v;
  } else {
    handled = false;
  }
  return true;
}

}  // namespace surge::edge
