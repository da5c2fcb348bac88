// One HTTP/2 connection's protocol state (RFC 9113), on the server side: nghttp2 does the framing,
// HPACK, flow control and stream states; this class turns its streams into the same Request and
// Response the HTTP/1.1 path uses, and holds the defences an internet-facing server needs (see
// H2Defences). It does no I/O: the server's connection code feeds it what it read (receive) and
// writes what it produces (produce), so plain and TLS connections, timeouts and back-pressure stay
// the connection's, as for HTTP/1.1.
//
// Worker thread only. A stream's Request is handed to `dispatch` once its END_STREAM arrives, or
// once its head has come when StreamsBody says its body is to follow (Request::body_stream); the
// answer comes back through respond(stream id) at once or later. An answer that pushes
// (Response::http2_pushes) promises streams whose requests are dispatched alike. A stream the
// peer reset, or a connection gone, drops the late answer.
#pragma once

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "surge/http/server.h"

namespace surge::http {

class H2Session {
 public:
  using Clock = std::chrono::steady_clock;
  // The client connection preface (RFC 9113 3.4).
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  // A complete request of stream `stream` (its views valid during the call).
  using Dispatch = std::function<void(Request& request, int32_t stream)>;
  // An answer made by the session itself (a refused request): built as the server builds errors.
  using ErrorPage = std::function<Response(int status, const char* reason)>;
  // Whether a request whose head has come, and its body not, is handed over now with its body
  // to follow (Handler::streamsBody). nullptr: never.
  using StreamsBody = std::function<bool(Request& head)>;
  // A request refused with `status` before it was handed over, offered to the handler
  // (Handler::routeRefusal). true: its answer comes through respond(stream).
  using RouteRefusal = std::function<bool(Request& request, int32_t stream, int status)>;

  H2Session(const Http2Options& options, const ParseLimits& limits, Http2Stats& stats,
            Dispatch dispatch, ErrorPage error_page, StreamsBody streams_body = nullptr,
            RouteRefusal route_refusal = nullptr);
  ~H2Session();
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  // Bytes read from the peer (starting with the client preface). false: the connection is beyond
  // saving (a protocol error or a flood); what produce() still gives (a GOAWAY) goes out, then the
  // connection closes.
  bool receive(std::string_view bytes);
  // Appends frames to send to `out` until it holds about `budget` bytes or nothing is ready.
  // Response bodies are read from their source one frame at a time, within the peer's windows.
  bool produce(std::string& out, size_t budget);
  // The answer to stream `stream`. `date` is the Date header's value.
  void respond(int32_t stream, Response response, std::string_view date);
  // Graceful close (drain, reload): GOAWAY naming the last stream taken; streams in flight
  // finish, no new one is taken, and done() turns true when the last one is out.
  void drain();
  bool goingAway() const { return going_away_; }
  // The session was ended for a flood (a defence of Http2Options): the client is abusive.
  bool flooded() const { return flooded_; }
  // GOAWAY with an error (a timeout): nothing more is taken or answered.
  void terminate(uint32_t error_code);
  // Nothing more to read or write: the connection may close.
  bool done() const;
  // Streams open (requests being read, handled or answered).
  size_t openStreams() const { return streams_.size(); }
  // An answer is being sent (or waits for the peer's window) on some stream.
  bool sending() const { return answering_ > 0; }
  // When produce() last gave bytes of an answer: what send_timeout measures for a peer that
  // stops reading or keeps its window shut.
  Clock::time_point lastProgress() const { return last_progress_; }
  uint64_t streamsTaken() const { return streams_taken_; }
  // Streams whose request stopped arriving: headers not whole `head_timeout` after they began,
  // or no body bytes for `body_timeout`, are reset (PROTOCOL_ERROR, as nginx), the connection
  // kept. How many were.
  size_t resetStalled(Clock::time_point now, std::chrono::milliseconds head_timeout,
                      std::chrono::milliseconds body_timeout);

 private:
  struct Stream;
  class Callbacks;
  friend class Callbacks;

  void dispatchStream(Stream& s);
  // PUSH_PROMISE on `parent` for each of `paths` (Response::http2_pushes), as far as the limits
  // let; the promised streams wait in pushed_ for dispatchPushes().
  void promise(Stream& parent, const std::vector<std::string>& paths, uint32_t max_pushes);
  void dispatchPushes();
  // Why a stream's request is answered by the session itself (status 0: it is not).
  struct Refusal {
    int status = 0;
    const char* reason = "";
  };
  // The request `s` carries, its views into `s`; or why it is refused: a method never served, or
  // no host named (neither :authority nor Host).
  Refusal buildRequest(Stream& s, Request& r);
  // Heads whose body is to follow it (StreamsBody): handed over now.
  void dispatchHeads();
  // A streamed body got something in this read: its listener is told once the read is parsed.
  void fed(Stream& s);
  void refuse(Stream& s, int status, const char* reason);
  // A streamed body that will not be whole (refused): its reader sees it end unfinished.
  void cutBody(Stream& s);
  // A flood: GOAWAY(ENHANCE_YOUR_CALM), counted by `reason`.
  int flooded(base::Counter& counter);
  // A bucket of `burst` frames refilled at `per_second`: false when it is empty.
  struct Budget {
    double tokens;
    double burst;
    double per_second;
    Clock::time_point last;
    bool take(Clock::time_point now);
  };

  const Http2Options& options_;
  const ParseLimits& limits_;
  Http2Stats& stats_;
  Dispatch dispatch_;
  ErrorPage error_page_;
  StreamsBody streams_body_;
  RouteRefusal route_refusal_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  Budget resets_;                    // RST_STREAM from the peer (rapid reset, CVE-2023-44487)
  Budget control_;                   // SETTINGS, PING, PRIORITY and empty DATA frames
  uint32_t refused_streams_ = 0;     // over the concurrent streams limit
  int continuations_ = 0;            // CONTINUATION frames of the header block being read
  uint64_t header_block_bytes_ = 0;  // and its bytes
  size_t answering_ = 0;
  std::vector<int32_t> complete_;  // streams whose request ended during the read being parsed
  std::vector<int32_t> heads_;     // streams whose head ended, and not their body, in that read
  std::vector<int32_t> fed_;       // streams whose streamed body got something in that read
  uint64_t streams_taken_ = 0;
  uint32_t pushes_open_ = 0;     // promised streams not yet closed
  std::vector<int32_t> pushed_;  // promised, their requests not yet handed over
  bool failed_ = false;
  bool flooded_ = false;
  bool going_away_ = false;    // drain() sent GOAWAY
  bool opening_read_ = false;  // the preface and the first frame's header have been seen
  std::string opening_;        // until then, what came
  Clock::time_point last_progress_ = Clock::now();
};

}  // namespace surge::http
