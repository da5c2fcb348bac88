# Varnish in front of surge-edges, configured as a CDN is for surge (issue 19): it keeps what the
# edges give it for as long as their CDN-Cache-Control says (purges keep that fresh), indexes every
# answer by its xkey tags, drops tags when origin purges them, and keeps serving within
# stale-if-error when every edge is down. Debian 12: varnish and varnish-modules (xkey).
#
# The edges: surge_cdn_max_age (their CDN life), surge_cache_tags varnish (the xkey header).
# Origin: `varnish http://THIS-VARNISH:PORT/` in its --cdn-purge file.
# Beside this file, surge-edges.vcl names the edges and who may purge, for example:
#
#   backend edge1 { .host = "10.0.0.11"; .port = "8080"; .probe = surge_probe; }
#   backend edge2 { .host = "10.0.0.12"; .port = "8080"; .probe = surge_probe; }
#   sub vcl_init { new edges = directors.round_robin(); edges.add_backend(edge1);
#                  edges.add_backend(edge2); }
#   acl surge_purgers { "10.0.0.31"; "10.0.0.32"; }
vcl 4.1;

import directors;
import std;
import xkey;

# An edge is out while /healthz fails: then every cached answer is served within its grace.
probe surge_probe {
  .url = "/healthz";
  .interval = 500ms;
  .timeout = 300ms;
  .window = 3;
  .threshold = 2;
}

include "surge-edges.vcl";

sub vcl_recv {
  if (req.method == "PURGE") {
    if (client.ip !~ surge_purgers) {
      return (synth(403, "Forbidden"));
    }
    # xkey-purge: gone now; xkey-softpurge: stale now (served while refetched, within grace).
    if (req.http.xkey-purge) {
      set req.http.x-purged = xkey.purge(req.http.xkey-purge);
    } elsif (req.http.xkey-softpurge) {
      set req.http.x-purged = xkey.softpurge(req.http.xkey-softpurge);
    } else {
      return (synth(400, "xkey-purge or xkey-softpurge"));
    }
    return (synth(200, "Purged " + req.http.x-purged));
  }
  set req.backend_hint = edges.backend();
  # Snapshots, the queue's shared state and files are the same for everyone: the cookies a page
  # holds (the waiting room's) must not make them uncacheable (Varnish passes what has a Cookie).
  # What reads a ticket or a booking keeps its cookies.
  if ((req.method == "GET" || req.method == "HEAD") &&
      req.url !~ "^/api/v1/(queue/tickets|bookings)") {
    unset req.http.Cookie;
  }
  # While the edges answer, a stale object is served for no longer than a revalidation takes;
  # once none answers, for as long as its stale-if-error (the object's grace).
  if (std.healthy(req.backend_hint)) {
    set req.grace = 10s;
  }
}

sub vcl_backend_response {
  # The CDN's own lifetime (RFC 9213), apart from the browsers' Cache-Control.
  if (beresp.http.CDN-Cache-Control ~ "max-age=[0-9]+") {
    set beresp.ttl = std.duration(
        regsub(beresp.http.CDN-Cache-Control, "^.*max-age=([0-9]+).*$", "\1") + "s", 0s);
    set beresp.grace = 0s;
    if (beresp.http.CDN-Cache-Control ~ "stale-if-error=[0-9]+") {
      set beresp.grace = std.duration(
          regsub(beresp.http.CDN-Cache-Control, "^.*stale-if-error=([0-9]+).*$", "\1") + "s",
          0s);
    }
  }
  # What a CDN reads is not the browsers' business.
  unset beresp.http.CDN-Cache-Control;
  unset beresp.http.Surrogate-Control;
}

sub vcl_deliver {
  unset resp.http.xkey;
  if (obj.hits > 0) {
    set resp.http.X-Cache = "HIT";
  } else {
    set resp.http.X-Cache = "MISS";
  }
}
