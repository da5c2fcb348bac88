#include "surge/edge/pull_handler.h"

#include <fcntl.h>
#include <unistd.h>

#include "surge/edge/edge_config.h"
#include "surge/edge/handler_directives.h"
#include "surge/http/server.h"
#include "surge/nginx_compat/config_parser.h"

namespace surge::edge {

PullHandler::PullHandler(Dispatcher& dispatcher, const EdgeConfig& config,
                         base::MetricsRegistry& metrics)
    : dispatcher_(dispatcher) {
  for (const PullSettings& p : config.pulls)
    caches_.push_back(std::make_unique<PullCache>(p, metrics));
  for (int i = 0; i < config.server.workers; ++i)
    files_.push_back(std::make_unique<StaticFiles>(StaticFiles::Options{}));
}

base::Result<base::Done, std::string> PullHandler::start() {
  for (auto& c : caches_) {
    if (auto ok = c->start(); !ok) return ok;
  }
  return base::Done{};
}

std::vector<std::string> PullHandler::reload(const EdgeConfig& now, const EdgeConfig& next,
                                             const EdgeKeys&) {
  if (now.pulls != next.pulls)
    return {"surge_pull_through and surge_pull_cache change on restart only"};
  return {};
}

void PullHandler::stop() {
  for (auto& c : caches_)
    c->stop();
}

http::Response PullHandler::serve(const http::Request& request, const Location& location,
                                  const std::string& uri, int worker) {
  // As a file of the location, its root the cache's directory (made once, at load).
  return files_.at(static_cast<size_t>(worker))->serve(request, location.pull_files, uri);
}

std::optional<http::Response> PullHandler::fromPartial(PullCache& cache, const std::string& uri,
                                                       std::string_view range) {
  constexpr uint64_t kMaxPartialAnswer = 1u << 20;  // read into memory: a player's range
  auto part = cache.partial(uri);
  if (!part || part->total == 0) return std::nullopt;
  std::vector<ByteRange> ranges;
  if (parseRange(range, part->total, ranges) != RangeOutcome::kRanges || ranges.size() != 1) {
    return std::nullopt;
  }
  const ByteRange want = ranges[0];
  const uint64_t size = want.last - want.first + 1;
  if (want.last >= part->written.load(std::memory_order_acquire) || size > kMaxPartialAnswer) {
    return std::nullopt;
  }
  int fd = ::open(part->path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;  // placed (or given up) meanwhile: the usual path answers
  std::string body(size, '\0');
  ssize_t n = ::pread(fd, body.data(), body.size(), static_cast<off_t>(want.first));
  ::close(fd);
  if (n != static_cast<ssize_t>(size)) return std::nullopt;
  http::Response r;
  r.status = 206;
  r.headers =
      "Content-Type: " +
      (part->content_type.empty() ? std::string("application/octet-stream") : part->content_type) +
      "\r\nContent-Range: bytes " + std::to_string(want.first) + "-" + std::to_string(want.last) +
      "/" + std::to_string(part->total) + "\r\nAccept-Ranges: bytes\r\n";
  r.body = std::move(body);
  return r;
}

void PullHandler::handle(Exchange& ex, const Location& location) {
  PullCache& cache = *caches_.at(static_cast<size_t>(location.pull));
  if (cache.holds(ex.uri)) {
    return dispatcher_.answer(dispatcher_.context(ex, kStatic),
                              serve(ex.request, location, ex.uri, ex.worker.index()));
  }
  if (std::string_view range = ex.request.header("Range"); !range.empty() && ex.method() == "GET") {
    if (auto r = fromPartial(cache, ex.uri, range)) {
      return dispatcher_.answer(dispatcher_.context(ex, kStatic), std::move(*r));
    }
  }
  // The request waits for the fetch with its own copy (the connection's buffer moves on) and the
  // configuration it was matched in.
  auto held = std::make_shared<HeldExchange>(dispatcher_.workerConfig(), ex);
  AnswerContext async = dispatcher_.asyncContext(ex, kStatic);
  http::Worker* worker = &ex.worker;
  bool queued = cache.fetch(ex.uri, [this, held, async, worker](PullCache::Outcome outcome) {
    worker->post([this, held, async, outcome, worker] {
      const Exchange& e = held->ex;
      switch (outcome) {
        case PullCache::Outcome::kReady:
          return dispatcher_.answer(async, serve(e.request, *e.location, e.uri, worker->index()));
        case PullCache::Outcome::kNotFound:
          return dispatcher_.answer(async, http::htmlError(404));
        case PullCache::Outcome::kFailed:
          return dispatcher_.answer(async, http::htmlError(502));
      }
    });
  });
  if (!queued) {
    http::Response r = http::htmlError(503);
    r.headers += "Retry-After: 1\r\n";
    dispatcher_.answer(async, std::move(r));
  }
}

bool readPullDirective(ConfigReader& r, const Directive& d, PullSettings& out, bool& handled) {
  handled = true;
  if (d.name == "surge_pull_through") {
    if (!r.args(d, 1, 1)) return false;
    const std::string& url = d.args[0];
    if (!url.starts_with("http://") && !url.starts_with("https://")) {
      return r.fail(d, "the content origin is http://HOST[:PORT][/PATH] or https://...");
    }
    std::string_view rest = std::string_view(url).substr(url.find("//") + 2);
    if (rest.empty() || rest[0] == '/' || rest[0] == ':')
      return r.fail(d, "no host in \"" + url + "\"");
    out.origin = url;
  } else if (d.name == "surge_pull_cache") {
    if (!r.args(d, 2, 2)) return false;
    auto size = nginx_compat::parseSize(d.args[1]);
    if (!size || size.value() == 0) return r.fail(d, "invalid size \"" + d.args[1] + "\"");
    out.directory = r.resolve(d.args[0]);
    while (out.directory.size() > 1 && out.directory.back() == '/')
      out.directory.pop_back();
    out.max_bytes = size.value();
  } else {
    handled = false;
  }
  return true;
}

}  // namespace surge::edge
