// nginx's HTTP/2 directives, read into the server's HTTP/2 options (http and server level):
//   http2 on|off                     1.25.1's spelling: this server's listens speak HTTP/2
//   listen ... http2                 1.22's spelling (read by listen, marked with markHttp2)
//   http2_max_concurrent_streams N   streams a connection may have open (default 128)
//   http2_max_field_size, http2_max_header_size SIZE
//                                    the request's header list (nginx: one field / the whole
//                                    list; surge limits the list, to the larger of the two)
// Over TLS a listener with HTTP/2 offers "h2" by ALPN; a plain one takes HTTP/2 from a client
// that starts with its preface (h2c with prior knowledge), and HTTP/1.1 from any other.
// Read per level with the locations' settings: http2_chunk_size (edge_config.cc), http2_push,
// http2_push_preload, http2_max_concurrent_pushes (http2_push.h). Accepted without a meaning in
// surge (nghttp2 sizes its own buffers and windows): http2_recv_buffer_size,
// http2_body_preread_size, http2_idle_timeout, http2_recv_timeout, http2_max_requests,
// http2_streams_index_size.
#pragma once

#include "surge/edge/config_reader.h"
#include "surge/http/server.h"

namespace surge::edge {

// One of the directives above into `options`, and `on` for `http2`; false in `handled` for any
// other directive.
bool readHttp2Directive(ConfigReader& reader, const Directive& d, http::Http2Options& options,
                        bool& on, bool& handled);

// `port` speaks HTTP/2: by ALPN when `tls`, else to a client that starts with the preface.
void markHttp2(http::ServerOptions& server, int port, bool tls);

}  // namespace surge::edge
