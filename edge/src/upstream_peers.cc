#include "surge/edge/upstream_peers.h"

namespace surge::edge {

UpstreamPeers::UpstreamPeers(std::vector<UpstreamServer> servers) {
  peers_.reserve(servers.size());
  for (UpstreamServer& s : servers) {
    Peer p;
    p.effective_weight = s.weight;
    p.server = std::move(s);
    peers_.push_back(std::move(p));
  }
}

bool UpstreamPeers::available(const Peer& p, Clock::time_point now) const {
  if (p.server.down) return false;
  if (peers_.size() == 1) return true;  // nginx's single peer: never out
  return p.server.max_fails == 0 || p.fails < p.server.max_fails ||
         now - p.checked > p.server.fail_timeout;
}

std::optional<size_t> UpstreamPeers::pickAmong(bool backup, uint64_t tried, Clock::time_point now) {
  // nginx's smooth weighted round robin: each candidate gains its effective weight, the largest
  // current weight wins and gives back the total. Over any window the servers are chosen in
  // proportion to their weights, interleaved rather than in runs.
  Peer* best = nullptr;
  size_t best_i = 0;
  int total = 0;
  for (size_t i = 0; i < peers_.size(); ++i) {
    Peer& p = peers_[i];
    if (p.server.backup != backup || !available(p, now)) continue;
    if (tried & (uint64_t{1} << i)) continue;
    p.current_weight += p.effective_weight;
    total += p.effective_weight;
    if (p.effective_weight < p.server.weight) ++p.effective_weight;  // recovering after failures
    if (best == nullptr || p.current_weight > best->current_weight) {
      best = &p;
      best_i = i;
    }
  }
  if (best == nullptr) return std::nullopt;
  best->current_weight -= total;
  // A server out since its fail_timeout ended is back for this one request: the others see it out
  // until this one succeeds (which forgets its failures) or another fail_timeout has passed.
  if (now - best->checked > best->server.fail_timeout) best->checked = now;
  return best_i;
}

std::optional<size_t> UpstreamPeers::pick(uint64_t tried, Clock::time_point now) {
  if (peers_.size() == 1) {
    // The common case, one origin: nothing to choose and nothing to count, so no lock shared by
    // the workers on every request.
    if ((tried & 1) != 0 || peers_[0].server.down) return std::nullopt;
    return 0;
  }
  std::lock_guard lock(mutex_);
  if (auto i = pickAmong(false, tried, now)) return i;
  return pickAmong(true, tried, now);
}

void UpstreamPeers::failed(size_t i, Clock::time_point now) {
  if (peers_.size() == 1) return;  // never taken out
  std::lock_guard lock(mutex_);
  Peer& p = peers_[i];
  ++p.fails;
  p.checked = p.accessed = now;
  if (p.server.max_fails > 0) {
    p.effective_weight -= p.server.weight / p.server.max_fails;
    if (p.effective_weight < 0) p.effective_weight = 0;
  }
}

void UpstreamPeers::succeeded(size_t i) {
  if (peers_.size() == 1) return;
  std::lock_guard lock(mutex_);
  Peer& p = peers_[i];
  if (p.accessed < p.checked) p.fails = 0;  // no failure since it was last let through
}

}  // namespace surge::edge
