#include "h2_session.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "h2_request_check.h"

namespace surge::http {

namespace {

// Fields as nghttp2 sends them without copying: names (lower case, HTTP/2's rule) and values in
// one buffer that stays put until the stream closes, and their places in it (name, value, ...):
// no allocation per field.
struct FieldBlock {
  std::string text;
  std::vector<std::pair<uint32_t, uint32_t>> spans;

  void add(std::string_view piece, bool lower) {
    const size_t at = text.size();
    text.append(piece);
    if (lower) {
      for (size_t i = at; i < text.size(); ++i)
        text[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    }
    spans.emplace_back(static_cast<uint32_t>(at), static_cast<uint32_t>(piece.size()));
  }
  // "Name: value\r\n" lines (Response::headers, Response::trailers), but those `skip` names.
  template <typename Skip>
  void addLines(std::string_view lines, Skip skip) {
    while (!lines.empty()) {
      size_t end = lines.find("\r\n");
      std::string_view line = lines.substr(0, end);
      lines = end == std::string_view::npos ? std::string_view() : lines.substr(end + 2);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) continue;
      std::string_view name = line.substr(0, colon);
      if (skip(name)) continue;
      add(name, true);
      add(trimOws(line.substr(colon + 1)), false);
    }
  }
  std::vector<nghttp2_nv> fields() const;
};

}  // namespace

struct H2Session::Stream {
  int32_t id = 0;
  // The request's fields as they came (names lower case, HTTP/2's rule), pseudo-headers apart.
  std::string method, path, scheme, authority;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string cookies;  // RFC 9113 8.2.3: cookie fields joined for an HTTP/1.1 reader
  size_t header_bytes = 0;
  size_t field_bytes = 0;  // names and values only: nginx's count for large_client_header_buffers
  H2RequestCheck check;
  uint64_t wire_bytes = 0;  // header block and DATA payloads: $request_length
  std::string body;
  // Its body, when the request was handed over before it (H2Session::StreamsBody): what comes
  // goes here instead of `body`.
  std::shared_ptr<BodyStream> body_stream;
  bool fed = false;     // in H2Session::fed_
  bool pushed = false;  // a stream the server promised (even id): its request is the server's
  bool dispatched = false;
  bool refused = false;   // answered by the session (too large): what follows is dropped
  int refuse_status = 0;  // set while headers are read: answer this once the block ends
  const char* refuse_reason = "";
  // The answer being sent: its head fields and trailers (add_trailer), kept for nghttp2 until
  // they are out, and body.
  FieldBlock head;
  FieldBlock trailer;
  std::vector<nghttp2_nv> trailer_fields;
  Response response;
  std::string_view body_view;  // of response.body or response.shared_body
  uint64_t body_length = 0;
  uint64_t body_sent = 0;
  bool answering = false;
  bool headers_done = false;
  bool has_body = false;      // its request HEADERS did not end the stream
  bool window_grown = false;  // its receive window grew at its first DATA (onDataChunk)
  H2Session::Clock::time_point begun = H2Session::Clock::now();
  H2Session::Clock::time_point last_data = begun;
};

namespace {

constexpr int32_t kMaxWindow = 0x7fffffff;
constexpr uint32_t kDefaultChunk = 16384;  // DATA frames unless http2_chunk_size says
constexpr int32_t kInitialWindow = 65536;  // SETTINGS_INITIAL_WINDOW_SIZE, nginx's preread

// Connection-specific fields have no meaning in HTTP/2 (RFC 9113 8.2.2): never sent.
bool hopByHop(std::string_view name) {
  return equalsIgnoreCase(name, "connection") || equalsIgnoreCase(name, "keep-alive") ||
         equalsIgnoreCase(name, "proxy-connection") ||
         equalsIgnoreCase(name, "transfer-encoding") || equalsIgnoreCase(name, "upgrade");
}

nghttp2_nv field(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
}

std::vector<nghttp2_nv> FieldBlock::fields() const {
  std::vector<nghttp2_nv> out;
  out.reserve(spans.size() / 2);
  const std::string_view t = text;
  for (size_t i = 0; i + 1 < spans.size(); i += 2)
    out.push_back(field(t.substr(spans[i].first, spans[i].second),
                        t.substr(spans[i + 1].first, spans[i + 1].second)));
  return out;
}

}  // namespace

bool H2Session::Budget::take(Clock::time_point now) {
  const double elapsed = std::chrono::duration<double>(now - last).count();
  last = now;
  tokens = std::min(burst, tokens + elapsed * per_second);
  if (tokens < 1) return false;
  tokens -= 1;
  return true;
}

// nghttp2's callbacks, each a static function finding the session in user_data.
class H2Session::Callbacks {
 public:
  static H2Session& self(void* user) { return *static_cast<H2Session*>(user); }

  static int onBeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user) {
    H2Session& s = self(user);
    if (hd->type == NGHTTP2_HEADERS) {
      s.continuations_ = 0;
      s.header_block_bytes_ = hd->length;
    } else if (hd->type == NGHTTP2_CONTINUATION) {
      // CVE-2024-27316 class: a header block that never ends, in many small frames.
      s.header_block_bytes_ += hd->length;
      if (++s.continuations_ > s.options_.max_continuations ||
          s.header_block_bytes_ > 2 * static_cast<uint64_t>(s.options_.max_header_list)) {
        return s.flooded(s.stats_.flood_continuation);
      }
    }
    return 0;
  }

  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2Session& s = self(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto stream = std::make_unique<Stream>();
    stream->id = frame->hd.stream_id;
    s.streams_[stream->id] = std::move(stream);
    ++s.streams_taken_;
    s.stats_.streams.add();
    s.stats_.streams_open.add(1);
    return 0;
  }

  static int onHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name_p,
                      size_t name_len, const uint8_t* value_p, size_t value_len, uint8_t,
                      void* user) {
    H2Session& s = self(user);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    auto it = s.streams_.find(frame->hd.stream_id);
    if (it == s.streams_.end()) return 0;
    Stream& st = *it->second;
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;  // trailers: not used by surge
    if (st.refuse_status) return 0;
    std::string_view name(reinterpret_cast<const char*>(name_p), name_len);
    std::string_view value(reinterpret_cast<const char*>(value_p), value_len);
    st.header_bytes += name_len + value_len + 32;  // RFC 9113 6.5.2's size of a field
    if (st.header_bytes > s.options_.max_header_list) {
      s.stats_.header_lists_too_large.add();
      st.refuse_status = 431;
      st.refuse_reason = "request header fields too large";
      return 0;
    }
    if (s.limits_.h2_field_limits) {
      // large_client_header_buffers N SIZE, as nginx applies it to HTTP/2: a name or value
      // longer than SIZE, or names and values adding up to more than N x SIZE, end the
      // connection with ENHANCE_YOUR_CALM.
      st.field_bytes += name_len + value_len;
      if (name_len > s.limits_.max_target || value_len > s.limits_.max_target ||
          st.field_bytes > s.limits_.max_head) {
        s.stats_.header_lists_too_large.add();
        nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM);
        s.failed_ = true;
        return NGHTTP2_ERR_CALLBACK_FAILURE;
      }
    }
    const bool pseudo = st.check.field(name, value);
    if (st.check.error() != nullptr) {
      st.refuse_status = 400;
      st.refuse_reason = st.check.error();
      return 0;
    }
    if (pseudo) {
      if (name == ":method")
        st.method = value;
      else if (name == ":path")
        st.path = value;
      else if (name == ":scheme")
        st.scheme = value;
      else if (name == ":authority")
        st.authority = value;
      return 0;
    }
    if (st.fields.size() >= s.limits_.max_headers) {
      s.stats_.header_lists_too_large.add();  // too many fields: the same defence
      st.refuse_status = 431;
      st.refuse_reason = "too many header fields";
      return 0;
    }
    if (name == "cookie") {
      if (!st.cookies.empty()) st.cookies += "; ";
      st.cookies.append(value);
      return 0;
    }
    st.fields.emplace_back(std::string(name), std::string(value));
    return 0;
  }

  static int onDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                         size_t len, void* user) {
    H2Session& s = self(user);
    auto it = s.streams_.find(stream_id);
    if (it == s.streams_.end()) return 0;
    Stream& st = *it->second;
    if (st.refused || st.refuse_status) return 0;
    const uint64_t so_far = st.body_stream ? st.body_stream->received() : st.body.size();
    st.check.bodyReceived(so_far + len);
    if (st.check.error() != nullptr) {
      s.cutBody(st);
      s.refuse(st, 400, st.check.error());
      return 0;
    }
    if (so_far + len > s.limits_.max_body) {
      // A streamed body is cut where it stands (the upstream sees its request end unfinished);
      // the client gets the 413 either way, and a later answer for the stream is dropped.
      s.cutBody(st);
      s.refuse(st, 413, "request body too large");
      return 0;
    }
    if (!st.window_grown) {
      // A stream that sends a body gets twice the initial window at its first DATA, in one
      // WINDOW_UPDATE of 64 KiB (as nginx opens a stream's window once its preread buffer is
      // full): a body up to 128 KiB then needs no round trip per 32 KiB of nghttp2's updates.
      // Bodies stay bounded per stream by the body limit above.
      st.window_grown = true;
      nghttp2_submit_window_update(s.session_, NGHTTP2_FLAG_NONE, stream_id, kInitialWindow);
    }
    if (st.body_stream) {
      st.body_stream->append(std::string_view(reinterpret_cast<const char*>(data), len));
      s.fed(st);
    } else {
      st.body.append(reinterpret_cast<const char*>(data), len);
    }
    st.wire_bytes += len;
    st.last_data = Clock::now();
    return 0;
  }

  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2Session& s = self(user);
    const auto now = Clock::now();
    switch (frame->hd.type) {
      case NGHTTP2_RST_STREAM:
        s.stats_.resets_by_peer.add();
        if (!s.resets_.take(now)) return s.flooded(s.stats_.flood_rapid_reset);
        return 0;
      case NGHTTP2_PING:
      case NGHTTP2_SETTINGS:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK) return 0;
        [[fallthrough]];
      case NGHTTP2_PRIORITY:
        if (!s.control_.take(now)) return s.flooded(s.stats_.flood_control);
        return 0;
      case NGHTTP2_DATA:
        if (frame->hd.length == 0 && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
            !s.control_.take(now)) {
          return s.flooded(s.stats_.flood_control);  // empty frames cost work, carry nothing
        }
        break;
      case NGHTTP2_HEADERS:
        if (auto it = s.streams_.find(frame->hd.stream_id); it != s.streams_.end()) {
          Stream& st = *it->second;
          st.headers_done = true;
          if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
            st.has_body = !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM);
            if (st.refuse_status == 0) {
              st.check.headEnded(st.method, st.path, st.authority);
              if (st.check.error() != nullptr) {
                st.refuse_status = 400;
                st.refuse_reason = st.check.error();
              }
            }
            // Answered now, as nginx answers a bad head, not once a body nobody reads is in.
            if (st.refuse_status != 0) s.refuse(st, st.refuse_status, st.refuse_reason);
          }
          it->second->last_data = now;
          it->second->wire_bytes += s.header_block_bytes_;
        }
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST && frame->hd.length == 0 &&
            s.continuations_ == 0 && !(frame->hd.flags & NGHTTP2_FLAG_END_HEADERS) &&
            !s.control_.take(now)) {
          return s.flooded(s.stats_.flood_control);
        }
        break;
      default:
        return 0;
    }
    if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
          s.streams_body_) {
        s.heads_.push_back(frame->hd.stream_id);  // perhaps handed over before its body
      }
      return 0;
    }
    auto it = s.streams_.find(frame->hd.stream_id);
    if (it == s.streams_.end()) return 0;
    Stream& st = *it->second;
    if (st.refused) return 0;
    st.check.bodyEnded(st.body_stream ? st.body_stream->received() : st.body.size());
    if (st.check.error() != nullptr) {
      s.cutBody(st);
      s.refuse(st, 400, st.check.error());
      return 0;
    }
    if (st.body_stream) {
      st.body_stream->complete();
      s.fed(st);
      return 0;
    }
    if (st.dispatched) return 0;
    // Handed over once this read is parsed, if not reset by then: a request cancelled in the same
    // read (rapid reset, CVE-2023-44487) costs nghttp2's parsing and nothing else.
    st.dispatched = true;
    s.complete_.push_back(st.id);
    return 0;
  }

  // An answer complete while its request is still coming (a body nobody reads, a refusal):
  // RST_STREAM(NO_ERROR) tells the client to stop sending it (RFC 9113 8.1), as nginx does.
  static int onFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void*) {
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && frame->hd.stream_id % 2 == 1 &&
        nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    }
    return 0;
  }

  static int onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t, void* user) {
    H2Session& s = self(user);
    auto it = s.streams_.find(stream_id);
    if (it == s.streams_.end()) return 0;
    if (it->second->answering) --s.answering_;
    if (it->second->pushed) --s.pushes_open_;
    if (const auto& body = it->second->body_stream;
        body && body->state() == BodyStream::State::kArriving) {
      body->abort();  // reset, or closed before its END_STREAM
      body->notify();
    }
    s.streams_.erase(it);
    s.stats_.streams_open.add(-1);
    return 0;
  }

  static int onInvalidFrame(nghttp2_session*, const nghttp2_frame*, int lib_error, void* user) {
    H2Session& s = self(user);
    if (lib_error == NGHTTP2_ERR_REFUSED_STREAM) {
      // A stream over SETTINGS_MAX_CONCURRENT_STREAMS from a client that has not acknowledged
      // them yet (once it has, nghttp2 ends the connection): refused. A client racing the
      // SETTINGS refuses a few (more under a small limit: nginx's own tests refuse two under a
      // limit of 1); one that keeps opening streams past the limit costs a header block's
      // decoding and a RST_STREAM each, so past as many again (at least 128) it is closed.
      s.stats_.streams_refused.add();
      if (++s.refused_streams_ > std::max<uint32_t>(128, s.options_.max_concurrent_streams)) {
        return s.flooded(s.stats_.flood_streams);
      }
      return 0;
    }
    s.stats_.protocol_errors.add();
    return 0;
  }

  // How much of an answer's body the next DATA frame carries: within the windows and the
  // client's SETTINGS_MAX_FRAME_SIZE, at most the answer's http2_chunk_size (16 KiB unless set).
  static ssize_t dataLength(nghttp2_session*, uint8_t, int32_t stream_id, int32_t session_window,
                            int32_t stream_window, uint32_t max_frame, void* user) {
    H2Session& s = self(user);
    uint32_t chunk = kDefaultChunk;
    if (auto it = s.streams_.find(stream_id); it != s.streams_.end()) {
      if (it->second->response.http2_chunk_size > 0) chunk = it->second->response.http2_chunk_size;
    }
    const int64_t n = std::min<int64_t>({session_window, stream_window, max_frame, chunk});
    return static_cast<ssize_t>(std::max<int64_t>(n, 1));
  }

  static ssize_t readBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source* source, void* user) {
    H2Session& s = self(user);
    Stream& st = *static_cast<Stream*>(source->ptr);
    const uint64_t left = st.body_length - st.body_sent;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, length));
    if (st.response.file) {
      // One frame's worth read from the file: a large body is never all in memory.
      ssize_t got = ::pread(st.response.file->fd, buf, n,
                            static_cast<off_t>(st.response.file_offset + st.body_sent));
      if (got != static_cast<ssize_t>(n)) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    } else if (n > 0) {
      std::memcpy(buf, st.body_view.data() + st.body_sent, n);
    }
    st.body_sent += n;
    if (st.body_sent == st.body_length) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!st.trailer_fields.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (nghttp2_submit_trailer(s.session_, st.id, st.trailer_fields.data(),
                                   st.trailer_fields.size()) != 0) {
          return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
      }
    }
    s.last_progress_ = Clock::now();
    return static_cast<ssize_t>(n);
  }
};

H2Session::H2Session(const Http2Options& options, const ParseLimits& limits, Http2Stats& stats,
                     Dispatch dispatch, ErrorPage error_page, StreamsBody streams_body,
                     RouteRefusal route_refusal)
    : options_(options),
      limits_(limits),
      stats_(stats),
      dispatch_(std::move(dispatch)),
      error_page_(std::move(error_page)),
      streams_body_(std::move(streams_body)),
      route_refusal_(std::move(route_refusal)) {
  const auto now = Clock::now();
  resets_ =
      Budget{static_cast<double>(options.reset_burst), static_cast<double>(options.reset_burst),
             static_cast<double>(options.resets_per_second), now};
  control_ =
      Budget{static_cast<double>(options.control_burst), static_cast<double>(options.control_burst),
             static_cast<double>(options.control_per_second), now};
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cb, &Callbacks::onBeginFrame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &Callbacks::onBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cb, &Callbacks::onHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &Callbacks::onDataChunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &Callbacks::onFrameRecv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, &Callbacks::onStreamClose);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, &Callbacks::onFrameSend);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, &Callbacks::onInvalidFrame);
  nghttp2_session_callbacks_set_data_source_read_length_callback(cb, &Callbacks::dataLength);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  // Acknowledgements (SETTINGS, PING) the peer does not read are bounded: a session that would
  // queue more fails with NGHTTP2_ERR_FLOODED.
  nghttp2_option_set_max_outbound_ack(opt, 1000);
  nghttp2_option_set_max_settings(opt, 32);
  // nghttp2's own rapid-reset and CONTINUATION limits (Debian backports them) stay behind this
  // class's, which count what they stop; they are the second line.
  nghttp2_option_set_stream_reset_rate_limit(opt, 2 * options.reset_burst,
                                             2 * options.resets_per_second);
  nghttp2_option_set_max_continuations(opt, static_cast<size_t>(options.max_continuations) + 4);
  // A malformed request is answered 400 (H2RequestCheck), not reset by nghttp2.
  nghttp2_option_set_no_http_messaging(opt, 1);
  nghttp2_session_server_new2(&session_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, options.max_header_list},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kInitialWindow},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  // The connection's receive window opened wide at once, as nginx does (its streams keep
  // SETTINGS_INITIAL_WINDOW_SIZE each): request bodies are bounded per stream, not by a shared
  // window a slow stream could hold shut.
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kMaxWindow);
  stats_.connections.add();
}

H2Session::~H2Session() {
  for (const auto& [id, st] : streams_) {
    if (st->body_stream) {
      st->body_stream->abort();  // the connection is gone
      st->body_stream->notify();
    }
  }
  stats_.streams_open.add(-static_cast<int64_t>(streams_.size()));
  streams_.clear();
  nghttp2_session_del(session_);
}

bool H2Session::receive(std::string_view bytes) {
  if (failed_) return false;
  if (!opening_read_) {
    // RFC 9113 3.4: the preface is followed by the client's SETTINGS. A client that skips them
    // and goes on (nginx's own test client acknowledges ours first) is taken as nginx takes it:
    // as if it had sent empty SETTINGS. Held until the first frame's header has come.
    opening_.append(bytes);
    const size_t n = std::min(opening_.size(), kPreface.size());
    const bool preface = opening_.compare(0, n, kPreface.substr(0, n)) == 0;
    if (preface && opening_.size() < kPreface.size() + 9) return true;
    opening_read_ = true;
    std::string opening = std::move(opening_);
    if (preface) {
      const auto type = static_cast<uint8_t>(opening[kPreface.size() + 3]);
      const auto flags = static_cast<uint8_t>(opening[kPreface.size() + 4]);
      if (type != NGHTTP2_SETTINGS || (flags & NGHTTP2_FLAG_ACK)) {
        opening.insert(kPreface.size(), std::string("\0\0\0\x04\0\0\0\0\0", 9));
      }
    }
    return receive(opening);
  }
  ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()),
                                       bytes.size());
  if (n < 0) {
    if (n != NGHTTP2_ERR_CALLBACK_FAILURE) {
      // A malformed preface, a frame breaking the protocol, a flood of acknowledgements: GOAWAY
      // (nghttp2 queued it where the protocol says so) and close.
      stats_.protocol_errors.add();
      if (n == NGHTTP2_ERR_FLOODED) stats_.flood_control.add();
    }
    failed_ = true;
  }
  std::vector<int32_t> complete;
  complete.swap(complete_);
  for (int32_t id : complete) {
    auto it = streams_.find(id);  // gone: reset by the peer in this same read
    if (it != streams_.end() && !failed_) dispatchStream(*it->second);
  }
  dispatchHeads();
  std::vector<int32_t> fed;
  fed.swap(fed_);
  for (int32_t id : fed) {
    auto it = streams_.find(id);  // gone: its close told the listener
    if (it == streams_.end()) continue;
    it->second->fed = false;
    it->second->body_stream->notify();
  }
  return !failed_;
}

void H2Session::dispatchHeads() {
  std::vector<int32_t> heads;
  heads.swap(heads_);
  for (int32_t id : heads) {
    auto it = streams_.find(id);
    if (it == streams_.end() || failed_) continue;
    Stream& st = *it->second;
    // Ended in the same read (dispatched whole above), or refused: nothing to stream.
    if (st.dispatched || st.refused || st.refuse_status) continue;
    Request r;
    if (buildRequest(st, r).status != 0 || !streams_body_(r)) continue;  // refused at its end
    st.dispatched = true;
    st.body_stream = std::make_shared<BodyStream>();
    st.body_stream->append(st.body);  // what came with the head, in the same read
    st.body.clear();
    if (st.body_stream->received() > 0) fed(st);
    r.body = {};
    r.body_stream = st.body_stream;
    dispatch_(r, st.id);
  }
}

void H2Session::fed(Stream& st) {
  if (st.fed) return;
  st.fed = true;
  fed_.push_back(st.id);
}

bool H2Session::produce(std::string& out, size_t budget) {
  while (out.size() < budget) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      failed_ = true;
      return false;
    }
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  return true;
}

void H2Session::dispatchStream(Stream& st) {
  Request r;
  if (const Refusal refused = buildRequest(st, r); refused.status != 0) {
    refuse(st, refused.status, refused.reason);
    return;
  }
  dispatch_(r, st.id);
}

H2Session::Refusal H2Session::buildRequest(Stream& st, Request& r) {
  // As nginx, and as surge's HTTP/1.1 parser: neither is served.
  if (st.method == "TRACE" || st.method == "CONNECT") return {405, "method not allowed"};
  r.method = st.method;
  r.target = st.path;
  r.authority = st.authority;
  size_t q = st.path.find('?');
  r.path = std::string_view(st.path).substr(0, q);
  if (q != std::string::npos) r.query = std::string_view(st.path).substr(q + 1);
  r.version_major = 2;
  r.version_minor = 0;
  r.keep_alive = true;
  bool has_host = false;
  r.headers.reserve(st.fields.size() + 2);
  for (const auto& [name, value] : st.fields) {
    has_host = has_host || name == "host";
    r.headers.push_back(Header{name, value, headerNameFlags(name)});
  }
  // What an HTTP/1.1 reader of the request expects: a Host (from :authority, RFC 9113 8.3.1)
  // and one Cookie.
  static const std::string kHost = "host", kCookie = "cookie";
  // Neither :authority nor Host: nginx's 400, as HTTP/1.1's parser refuses a request without
  // Host.
  if (!has_host && st.authority.empty()) return {400, "no :authority or host"};
  if (!has_host) r.headers.push_back(Header{kHost, st.authority, 0});
  if (!st.cookies.empty()) r.headers.push_back(Header{kCookie, st.cookies, 0});
  r.body = st.body;
  r.has_body = st.has_body;
  r.length = st.wire_bytes;
  return {};
}

void H2Session::cutBody(Stream& st) {
  if (!st.body_stream) return;
  st.body_stream->abort();
  fed(st);
}

void H2Session::refuse(Stream& st, int status, const char* reason) {
  const bool handed_over = st.dispatched;
  st.refused = true;
  st.dispatched = true;
  if (status == 400 && route_refusal_ && !handed_over && !st.pushed) {
    // What of the request can be trusted: its authority and path when they are sound, no fields
    // (one may be the reason), no body. The error page is fetched with GET in any case.
    Request r;
    r.method = "GET";
    r.target =
        H2RequestCheck::pathIsSound(st.path) ? std::string_view(st.path) : std::string_view("/");
    const size_t q = r.target.find('?');
    r.path = r.target.substr(0, q);
    if (q != std::string_view::npos) r.query = r.target.substr(q + 1);
    r.version_major = 2;
    r.version_minor = 0;
    r.keep_alive = true;
    static const std::string kHost = "host";
    if (H2RequestCheck::authorityIsSound(st.authority)) {
      r.authority = st.authority;
      r.headers.push_back(Header{kHost, st.authority, 0});
    }
    r.length = st.wire_bytes;
    if (route_refusal_(r, st.id, status)) return;
  }
  respond(st.id, error_page_(status, reason), {});
}

void H2Session::respond(int32_t stream, Response response, std::string_view date) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;  // reset by the peer meanwhile
  Stream& st = *it->second;
  if (st.answering) return;
  if (response.drop) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream, NGHTTP2_INTERNAL_ERROR);
    return;
  }
  st.response = std::move(response);
  Response& r = st.response;
  const bool head_request = st.method == "HEAD";
  const bool no_body = r.status == 204 || r.status == 304 || r.status < 200;
  st.body_view = r.shared_owner ? r.shared_body : std::string_view(r.body);
  const uint64_t length = r.file                      ? r.file_length
                          : r.content_length_override ? *r.content_length_override
                                                      : st.body_view.size();
  st.body_length = head_request || no_body ? 0 : length;
  FieldBlock& head = st.head;
  head.text.reserve(96 + r.headers.size());
  head.spans.reserve(24);
  auto add = [&](std::string_view piece, bool lower) { head.add(piece, lower); };
  char number[24];
  add(":status", false);
  add(std::string_view(number,
                       static_cast<size_t>(std::snprintf(number, sizeof number, "%d", r.status))),
      false);
  add("server", false);
  add("surge", false);
  if (!date.empty()) {
    add("date", false);
    add(date, false);
  }
  if (!no_body) {
    add("content-length", false);
    add(std::string_view(
            number, static_cast<size_t>(std::snprintf(number, sizeof number, "%llu",
                                                      static_cast<unsigned long long>(length)))),
        false);
  }
  head.addLines(r.headers, [](std::string_view name) {
    return hopByHop(name) || equalsIgnoreCase(name, "content-length");
  });
  const std::vector<nghttp2_nv> nva = head.fields();
  if (!r.trailers.empty() && !head_request && !no_body) {
    // Trailers close the stream in their own HEADERS, after the body's DATA (readBody submits
    // them) or, with no body, right after the head.
    st.trailer.text.reserve(r.trailers.size());
    st.trailer.addLines(r.trailers, [](std::string_view) { return false; });
    st.trailer_fields = st.trailer.fields();
  }
  if (!r.http2_pushes.empty() && !st.pushed && !head_request) {
    promise(st, r.http2_pushes, r.http2_max_pushes);
  }
  nghttp2_data_provider provider{};
  provider.source.ptr = &st;
  provider.read_callback = &Callbacks::readBody;
  st.answering = true;
  ++answering_;
  last_progress_ = Clock::now();
  int rc = 0;
  if (st.body_length == 0 && !st.trailer_fields.empty()) {
    rc = nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, stream, nullptr, nva.data(),
                                nva.size(), nullptr);
    if (rc >= 0) {
      rc = nghttp2_submit_trailer(session_, stream, st.trailer_fields.data(),
                                  st.trailer_fields.size());
    }
  } else {
    rc = nghttp2_submit_response(session_, stream, nva.data(), nva.size(),
                                 st.body_length > 0 ? &provider : nullptr);
  }
  if (r.goaway) drain();  // keep-alive's limits: this connection takes no more streams
  if (rc != 0)
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream, NGHTTP2_INTERNAL_ERROR);
  dispatchPushes();  // after the answer that promised them is submitted (`st` may move on)
}

void H2Session::promise(Stream& parent, const std::vector<std::string>& paths,
                        uint32_t max_pushes) {
  if (going_away_ ||
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_ENABLE_PUSH) == 0) {
    return;
  }
  const uint32_t limit = std::min<uint32_t>(
      max_pushes > 0 ? max_pushes : 10,
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS));
  std::string_view authority = parent.authority;
  for (const auto& [name, value] : parent.fields) {
    if (authority.empty() && name == "host") authority = value;
  }
  for (const std::string& path : paths) {
    if (pushes_open_ >= limit) break;
    auto pushed = std::make_unique<Stream>();
    Stream& p = *pushed;
    p.method = "GET";
    p.path = path;
    p.scheme = parent.scheme;
    p.authority = authority;
    // nginx's: what makes the pushed answer the one the client would have asked for.
    for (const auto& [name, value] : parent.fields) {
      if (name == "accept-encoding" || name == "accept-language" || name == "user-agent") {
        p.fields.emplace_back(name, value);
      }
    }
    std::vector<nghttp2_nv> nva = {field(":method", p.method), field(":path", p.path),
                                   field(":scheme", p.scheme), field(":authority", p.authority)};
    for (const auto& [name, value] : p.fields)
      nva.push_back(field(name, value));
    for (nghttp2_nv& nv : nva)
      nv.flags = NGHTTP2_NV_FLAG_NONE;  // copied by nghttp2: the stream may go first
    const int32_t id = nghttp2_submit_push_promise(session_, NGHTTP2_FLAG_NONE, parent.id,
                                                   nva.data(), nva.size(), nullptr);
    if (id < 0) break;
    p.id = id;
    p.pushed = p.dispatched = p.headers_done = true;
    streams_[id] = std::move(pushed);
    ++pushes_open_;
    stats_.streams_open.add(1);
    pushed_.push_back(id);
  }
}

void H2Session::dispatchPushes() {
  std::vector<int32_t> pushed;
  pushed.swap(pushed_);
  for (int32_t id : pushed) {
    auto it = streams_.find(id);
    if (it != streams_.end()) dispatchStream(*it->second);
  }
}

int H2Session::flooded(base::Counter& counter) {
  counter.add();
  nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
  failed_ = true;
  flooded_ = true;
  return NGHTTP2_ERR_CALLBACK_FAILURE;
}

void H2Session::drain() {
  if (going_away_) return;
  going_away_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  stats_.goaways.add();
}

void H2Session::terminate(uint32_t error_code) {
  nghttp2_session_terminate_session(session_, error_code);
  stats_.goaways.add();
}

size_t H2Session::resetStalled(Clock::time_point now, std::chrono::milliseconds head_timeout,
                               std::chrono::milliseconds body_timeout) {
  size_t reset = 0;
  for (const auto& [id, st] : streams_) {
    const bool streaming =
        st->body_stream && st->body_stream->state() == BodyStream::State::kArriving;
    if (st->dispatched && !streaming) continue;
    const bool stalled =
        st->headers_done ? now - st->last_data > body_timeout : now - st->begun > head_timeout;
    if (!stalled) continue;
    st->dispatched = st->refused = true;  // whatever still comes for it is dropped
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_PROTOCOL_ERROR);
    ++reset;
  }
  return reset;
}

bool H2Session::done() const {
  return nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0;
}

}  // namespace surge::http
