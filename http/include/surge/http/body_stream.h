// A request body still arriving when its request is handed over: nginx's `proxy_request_buffering
// off`, where the upstream gets the body as the client sends it instead of once it is whole. The
// protocol side (an HTTP/2 stream) appends what it reads, then completes or aborts the body; the
// consumer (the forwarder) takes what came whenever it is told something did. The producer is an
// HTTP/2 stream (h2_session.cc) or an HTTP/1.1 connection reading a Content-Length or chunked
// body (server.cc), which hands on the body decoded.
//
// Worker thread only. The listener is told once per read (pieces read together are taken
// together, as nginx sends a chunk per buffer), when the body completes, and when it is aborted (a
// reset stream, a connection gone: possibly while the producer is being destroyed). So the
// listener must only schedule work on the loop, never act at once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace surge::http {

class BodyStream {
 public:
  enum class State { kArriving, kComplete, kAborted };

  // Producer.
  void append(std::string_view piece) {
    if (state_ != State::kArriving) return;
    pending_.append(piece);
    received_ += piece.size();
  }
  void complete() {
    if (state_ == State::kArriving) state_ = State::kComplete;
  }
  void abort() {
    if (state_ != State::kArriving) return;
    state_ = State::kAborted;
    pending_.clear();
  }
  void notify() const {
    if (listener_) listener_();
  }

  // Consumer.
  void setListener(std::function<void()> listener) { listener_ = std::move(listener); }
  // What arrived since the last take.
  std::string take() { return std::exchange(pending_, {}); }
  State state() const { return state_; }
  uint64_t received() const { return received_; }

 private:
  std::string pending_;
  uint64_t received_ = 0;
  State state_ = State::kArriving;
  std::function<void()> listener_;
};

}  // namespace surge::http
