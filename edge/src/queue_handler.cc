#include "surge/edge/queue_handler.h"

#include "surge/edge/config_reader.h"
#include "surge/edge/edge_config.h"
#include "surge/edge/handler_directives.h"

namespace surge::edge {

using http::jsonError;

QueueHandler::QueueHandler(Dispatcher& dispatcher, const EdgeConfig& config, const EdgeKeys& keys,
                           base::MetricsRegistry& metrics)
    : dispatcher_(dispatcher) {
  if (!config.waiting_room.enabled) return;
  cache::MemcachedOptions mc;
  mc.servers = config.memcached;
  room_ = std::make_unique<WaitingRoom>(mc, keys.queue, config.waiting_room, metrics);
  room_->setStateKeyring(keys.snapshots);
}

QueueHandler::~QueueHandler() {
  stop();
}

base::Result<base::Done, std::string> QueueHandler::start() {
  if (!room_) return base::Done{};
  auto ok = room_->start();
  if (!ok) return base::fail("memcached: " + ok.error());
  return base::Done{};
}

std::vector<std::string> QueueHandler::reload(const EdgeConfig& now, const EdgeConfig& next,
                                              const EdgeKeys& keys) {
  std::vector<std::string> kept;
  if (now.waiting_room.enabled != next.waiting_room.enabled ||
      now.waiting_room.block != next.waiting_room.block) {
    kept.push_back("surge_waiting_room and surge_queue_block change on restart only");
  }
  if (room_) {
    if (!keys.queue.empty()) room_->setKeyring(keys.queue);
    room_->setStateKeyring(keys.snapshots);
  }
  return kept;
}

void QueueHandler::stop() {
  if (room_) room_->stop();
}

void QueueHandler::handle(Exchange& ex, const Location&) {
  AnswerContext ctx = dispatcher_.context(ex, kQueue);
  if (!room_) {
    // A `surge_queue` location needs `surge_waiting_room on` (the configuration checks it).
    return dispatcher_.answer(ctx, jsonError(404, "not_found", "nothing is served here"));
  }
  std::string_view path = ex.request.path;
  if (path == "/api/v1/queue/tickets/current") {
    if (ex.method() != "GET" && ex.method() != "HEAD") {
      return dispatcher_.answer(ctx, http::methodNotAllowed("use GET", "GET, HEAD"));
    }
    return dispatcher_.answer(ctx, room_->current(ex.request));
  }
  if (path == "/api/v1/queue/challenge") {
    if (ex.method() != "GET") {
      return dispatcher_.answer(ctx, http::methodNotAllowed("use GET", "GET"));
    }
    return dispatcher_.answer(ctx, room_->challenge(ex.request));
  }
  if (path == "/api/v1/queue/state" || path == "/api/v1/queue/draw") {
    if (ex.method() != "GET" && ex.method() != "HEAD") {
      return dispatcher_.answer(ctx, http::methodNotAllowed("use GET", "GET, HEAD"));
    }
    return dispatcher_.answer(
        ctx, path == "/api/v1/queue/state" ? room_->shared() : room_->draw(ex.request));
  }
  if (path == "/api/v1/queue/tickets/resume") {
    if (ex.method() != "POST") {
      return dispatcher_.answer(ctx, http::methodNotAllowed("use POST", "POST"));
    }
    return dispatcher_.answer(ctx, room_->resume(ex.request));
  }
  if (path == "/api/v1/queue/tickets") {
    if (ex.method() != "POST") {
      return dispatcher_.answer(ctx, http::methodNotAllowed("use POST", "POST"));
    }
    AnswerContext async = dispatcher_.asyncContext(ex, kQueue);
    return room_->issue(ex.worker, ex.request, [this, async, hold = ex.hold](http::Response r) {
      dispatcher_.answer(async, std::move(r));
    });
  }
  dispatcher_.answer(ctx, jsonError(404, "not_found", "no such queue resource"));
}

// The waiting room's settings.
bool readQueueDirective(ConfigReader& r, const Directive& d, EdgeConfig& c, bool& handled) {
  handled = true;
  if (d.name == "surge_waiting_room") {
    if (!r.args(d, 1, 1)) return false;
    if (d.args[0] != "on" && d.args[0] != "off") return r.fail(d, "expected on or off");
    c.waiting_room.enabled = d.args[0] == "on";
  } else if (d.name == "surge_queue_keys") {
    if (!r.args(d, 1, 1)) return false;
    c.waiting_room.keys = r.resolve(d.args[0]);
  } else if (d.name == "surge_queue_session") {
    if (!r.seconds(d, c.waiting_room.session)) return false;
  } else if (d.name == "surge_queue_block") {
    if (!r.args(d, 1, 1)) return false;
    uint64_t v = 0;
    if (!r.number(d, d.args[0], 1, 1000, v)) return false;
    c.waiting_room.block = static_cast<uint32_t>(v);
  } else {
    handled = false;
  }
  return true;
}

}  // namespace surge::edge
