// `surge_queue` locations: the waiting room's public endpoints (POST /api/v1/queue/tickets,
// GET /api/v1/queue/tickets/current), answered by this edge's half of the room
// (waiting_room.h). The room itself (surge_waiting_room, surge_queue_keys, surge_queue_session,
// surge_queue_block) is also the booking gate the proxy handler asks.
#pragma once

#include <memory>

#include "surge/base/metrics.h"
#include "surge/edge/location_handler.h"
#include "surge/edge/waiting_room.h"

namespace surge::edge {

class QueueHandler : public LocationHandler {
 public:
  // The room exists only when the configuration turns it on (`surge_waiting_room on`).
  QueueHandler(Dispatcher& dispatcher, const EdgeConfig& config, const EdgeKeys& keys,
               base::MetricsRegistry& metrics);
  ~QueueHandler() override;
  base::Result<base::Done, std::string> start() override;
  std::vector<std::string> reload(const EdgeConfig& now, const EdgeConfig& next,
                                  const EdgeKeys& keys) override;
  void stop() override;
  void handle(Exchange& exchange, const Location& location) override;

  // The booking gate; nullptr when the room is off.
  WaitingRoom* room() { return room_.get(); }

 private:
  Dispatcher& dispatcher_;
  std::unique_ptr<WaitingRoom> room_;
};

}  // namespace surge::edge
