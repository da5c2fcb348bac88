/* surge operator dashboard. Polls Prometheus text documents every 2 s, in parallel (same-origin, Basic auth):
 *  GET /ops/metrics/edge    this edge: surge_edge_requests_total{route,code}, surge_edge_l1_{hits,stale,
 *                           misses}_total, surge_edge_origin_inflight, surge_edge_origin_shed_total,
 *                           surge_edge_queue_{length,admitted,rate_milli} (absent when the waiting room is
 *                           off), surge_edge_queue_refused_total{reason}, surge_edge_memcached_errors_total,
 *                           surge_edge_snapshot_verify_failures_total.
 *  GET /ops/metrics/origin  origin's /metrics proxied by the edge (502/503/504 = origin down):
 *                           surge_origin_requests_total{route,status}, surge_origin_bookings_in_flight,
 *                           surge_origin_publish_delay_seconds_{sum,count}.
 *  GET /ops/metrics/peer/<name>  another edge's metrics, same families (502/503/504 = that edge down).
 * The edges come once from GET /ops/peers {"self":name,"peers":[names]} (retried every 10 s; 404 = this edge only).
 * Tiles and charts are the overall view: edge figures summed over the edges that answered this poll, except the
 * queue gauges (one shared queue: this edge's). The per-edge table shows each edge on its own.
 * Rates = per-series counter deltas between two successful polls of one document / seconds between them
 * (negative = restart, ignored). */
"use strict";
(function () {
  var POLL = 2000, WIN = 300e3;
  var $ = function (t) { return document.querySelector('[data-testid="' + t + '"]'); };
  var me = { name: "this", url: "/ops/metrics/edge" }, edges = [me], org = {}, peersErr = "";

  function parse(text) {
    var m = new Map(), re = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
    text.split("\n").forEach(function (line) {
      line = line.trim();
      if (!line || line[0] === "#") return;
      var r = re.exec(line), l = {};
      if (!r) return;
      (r[2] || "").replace(/(\w+)="((?:[^"\\]|\\.)*)"/g, function (_, k, v) { l[k] = v; return ""; });
      m.set(r[1] + "{" + (r[2] || "") + "}", { n: r[1], l: l, v: parseFloat(r[3]) });
    });
    return m;
  }
  function get(url, json) {
    var ac = new AbortController(), to = setTimeout(function () { ac.abort(); }, 5000);
    return fetch(url, { credentials: "same-origin", cache: "no-store", signal: ac.signal })
      .then(function (r) {
        if (!r.ok) { var e = new Error("HTTP " + r.status); e.status = r.status; throw e; }
        return json ? r.json() : r.text();
      })
      .then(function (t) { return { v: json ? t : { m: parse(t), t: Date.now() } }; },
            function (e) { return { err: e.name === "AbortError" ? "timeout" : e.message, status: e.status }; })
      .finally(function () { clearTimeout(to); });
  }
  // Sum of the current values (gauge or counter total); null if no series or no fresh document.
  function G(st, name, f) {
    if (!st.ok) return null;
    var s = 0, n = 0;
    st.cur.m.forEach(function (x) { if (x.n === name && (!f || f(x.l))) { s += x.v; n++; } });
    return n ? s : null;
  }
  // Counter delta since the previous poll, summed over series; resets (negative) are ignored.
  function D(st, name, f) {
    if (!st.ok || !st.prev) return null;
    var d = 0;
    st.cur.m.forEach(function (x, k) {
      var p = st.prev.m.get(k);
      if (x.n === name && (!f || f(x.l)) && p && x.v >= p.v) d += x.v - p.v;
    });
    return d;
  }
  function R(st, name, f) {
    var d = D(st, name, f);
    return d == null ? null : d / Math.max(0.001, (st.cur.t - st.prev.t) / 1000);
  }
  // fn (G, D or R) summed over the edges where it has a value; null if none has.
  function sum(list, fn, name, f) {
    var s = null;
    list.forEach(function (st) { var v = fn(st, name, f); if (v != null) s = (s || 0) + v; });
    return s;
  }
  function fmt(v, d) {
    if (v == null || !isFinite(v)) return "–";
    var a = Math.abs(v);
    return v.toFixed(d != null ? d : a >= 100 ? 0 : a >= 10 ? 1 : 2);
  }
  function set(t, v, d) { $(t).textContent = typeof v === "string" ? v : fmt(v, d); }
  // Ratio over the interval, else since start; [value, note].
  function ratio(dn, dd, gn, gd, k) {
    if (dd > 0) return [dn / dd * k, ""];
    if (gd > 0) return [gn / gd * k, "since start"];
    return [gd == null ? null : 0, "no lookups"];
  }
  // L1 hit % of a list of edges: [value, note, hits, lookups] over the interval.
  function hit(list) {
    var q = function (fn, n) { return sum(list, fn, "surge_edge_l1_" + n + "_total"); };
    var h = q(D, "hits"), dd = h == null ? null : h + q(D, "stale") + q(D, "misses"), gh = q(G, "hits");
    var gd = gh == null ? null : gh + q(G, "stale") + q(G, "misses");
    return ratio(h, dd, gh, gd, 100).concat([h, dd]);
  }

  var tbody = $("ops-edges").tBodies[0];
  var heads = Array.prototype.map.call($("ops-edges").tHead.rows[0].cells, function (th) { return th.textContent; });
  function rows() {
    tbody.textContent = "";
    edges.forEach(function (st) {
      var tr = tbody.insertRow();
      tr.setAttribute("data-testid", "edge-row-" + st.name);
      tr.setAttribute("role", "row");
      st.tr = tr;
      // data-label: the column's name, shown beside the value when the table is stacked (narrow screens).
      st.c = [0, 1, 2, 3, 4, 5, 6].map(function (i) {
        var td = tr.insertCell();
        td.textContent = "–";
        td.setAttribute("data-label", heads[i]);
        td.setAttribute("role", "cell");
        return td;
      });
      st.c[0].textContent = st.name;
      if (st === me) st.c[0].insertAdjacentHTML("beforeend", " <small>(this edge)</small>");
    });
  }
  function loadPeers() {
    return get("/ops/peers", true).then(function (res) {
      var j = res.v;
      peersErr = "";
      if (j && Array.isArray(j.peers)) {
        if (typeof j.self === "string" && j.self) me.name = j.self;
        edges = [me].concat(j.peers.filter(function (n) { return typeof n === "string" && n; }).map(function (n) {
          return { name: n, url: "/ops/metrics/peer/" + encodeURIComponent(n) };
        }));
      } else if (res.status !== 404) {
        peersErr = "edge list unavailable (" + (res.err || "bad answer") + "), retrying";
        setTimeout(loadPeers, 10000);
      }
      rows();
    });
  }

  var COL = ["#2f7de1", "#e0632f"];
  var charts = {};
  [["requests", ["req/s"]], ["hit-ratio", ["hit %"], 100], ["stale", ["stale/s"]],
   ["origin", ["in-flight", "shed/s"]], ["queue", ["length", "403/s"]], ["bookings", ["201/s", "409/s"]]]
    .forEach(function (c) {
      var el = $("chart-" + c[0]), lg = document.createElement("div");
      lg.className = "legend";
      c[1].forEach(function (n, i) {
        var s = document.createElement("span"), sw = document.createElement("i");
        sw.style.background = COL[i];
        s.appendChild(sw); s.appendChild(document.createTextNode(n)); lg.appendChild(s);
      });
      el.parentNode.insertBefore(lg, el);
      el.setAttribute("role", "img");
      el.setAttribute("aria-label", c[1].join(", ") + ", last 5 minutes");
      charts[c[0]] = { el: el, max: c[2], d: [] };
    });
  function nice(v) {
    if (!(v > 0)) return 1;
    var e = Math.pow(10, Math.floor(Math.log10(v)));
    return [1, 2, 2.5, 5, 10].map(function (m) { return m * e; }).filter(function (x) { return x >= v; })[0];
  }
  function draw(ch) {
    var cv = ch.el, r = window.devicePixelRatio || 1, w = cv.clientWidth, h = cv.clientHeight;
    if (!w || !h) return;
    cv.width = Math.round(w * r); cv.height = Math.round(h * r);
    var g = cv.getContext("2d"), now = Date.now(), top = 14, bot = h - 2, mx = ch.max || 0;
    g.setTransform(r, 0, 0, r, 0, 0);
    if (!ch.max) ch.d.forEach(function (p) { p.v.forEach(function (v) { if (v > mx) mx = v; }); });
    mx = ch.max || nice(mx);
    var fg = getComputedStyle(cv).color;
    g.strokeStyle = fg; g.globalAlpha = 0.2; g.lineWidth = 1;
    g.beginPath();
    [top, (top + bot) / 2, bot].forEach(function (y) { g.moveTo(0, y + 0.5); g.lineTo(w, y + 0.5); });
    g.stroke();
    g.globalAlpha = 0.75; g.fillStyle = fg; g.font = "10px system-ui,sans-serif"; g.textBaseline = "bottom";
    g.fillText("max " + fmt(mx), 2, top - 1);
    g.textAlign = "right"; g.fillText("−5 min … now", w - 2, top - 1);
    g.globalAlpha = 1; g.lineWidth = 1.5; g.lineJoin = "round";
    COL.forEach(function (c, i) {
      g.strokeStyle = c; g.beginPath();
      var pen = false;
      ch.d.forEach(function (p) {
        var v = p.v[i];
        if (v == null || !isFinite(v)) { pen = false; return; }
        var x = w - (now - p.t) / WIN * w, y = bot - Math.min(v, mx) / mx * (bot - top);
        if (pen) g.lineTo(x, y); else g.moveTo(x, y);
        pen = true;
      });
      g.stroke();
    });
  }
  function push(name, v) {
    var ch = charts[name], now = Date.now();
    ch.d.push({ t: now, v: v });
    while (ch.d.length && ch.d[0].t < now - WIN) ch.d.shift();
  }
  function take(st, res) {
    if (res.v) { st.prev = st.cur; st.cur = res.v; st.ok = true; } else st.ok = false;
  }

  function tick() {
    var t0 = Date.now(), list = edges;
    Promise.all(list.map(function (st) { return get(st.url); }).concat([get("/ops/metrics/origin")])).then(function (res) {
      list.forEach(function (st, i) { take(st, res[i]); st.err = res[i].err; });
      take(org, res[list.length]);
      var errs = [], up = 0;
      list.forEach(function (st) {
        if (st.ok) up++;
        else errs.push(st === me ? "edge metrics failed (" + st.err + ")" : st.name + " unreachable (" + st.err + ")");
      });
      if (!org.ok) errs.push("origin unreachable (" + res[list.length].err + ")");
      if (peersErr) errs.push(peersErr);
      set("ops-error", errs.join(" · "));
      set("ops-scope", list.length > 1 ? "overall: " + up + "/" + list.length + " edges answered" : "");
      document.querySelector('[data-src="origin"]').classList.toggle("down", !org.ok);

      var REQ = "surge_edge_requests_total", L = "surge_edge_l1_", IF = "surge_edge_origin_inflight",
          SH = "surge_edge_origin_shed_total";
      list.forEach(function (st) {
        if (!st.c) return;
        [R(st, REQ), hit([st])[0], R(st, L + "stale_total"), G(st, IF), R(st, SH)].forEach(function (v, i) {
          st.c[i + 1].textContent = fmt(v, i === 1 ? 1 : i === 3 ? 0 : null);
        });
        st.c[6].textContent = st.ok ? "ok" : "unreachable (" + st.err + ")";
        st.tr.classList.toggle("down", !st.ok);
      });

      var req = sum(list, R, REQ), r5 = sum(list, R, REQ, function (l) { return /^5/.test(l.code || ""); });
      set("ops-requests", req);
      set("ops-5xx", req == null ? null : req > 0 ? r5 / req * 100 : 0, 1);
      if (req != null) set("ops-routes", ["static", "snapshot", "booking", "queue", "ops", "other"].map(function (rt) {
        return rt + " " + fmt(sum(list, R, REQ, function (l) { return l.route === rt; }));
      }).join(" · "));

      var hr = hit(list), stale = sum(list, R, L + "stale_total");
      set("ops-hit-ratio", hr[0], 1); set("ops-hit-note", hr[0] == null ? "" : hr[1]);
      set("ops-stale", stale);

      var inf = sum(list, G, IF), shed = sum(list, R, SH);
      set("ops-origin-inflight", inf, 0); set("ops-shed", shed);

      var Q = "surge_edge_queue_", ql = G(me, Q + "length"), off = me.ok && ql == null;
      var z = function (v) { return off ? 0 : v; };
      set("ops-queue-note", off ? "(waiting room off)" : "");
      ql = z(ql);
      set("ops-queue-length", ql, 0);
      set("ops-admitted", z(G(me, Q + "admitted")), 0);
      var rm = z(G(me, Q + "rate_milli"));
      set("ops-rate", rm == null ? null : rm / 1000);
      var ref = sum(list, R, Q + "refused_total"), reasons = [];
      list.forEach(function (st) {
        if (st.ok) st.cur.m.forEach(function (x) {
          if (x.n === Q + "refused_total" && reasons.indexOf(x.l.reason) < 0) reasons.push(x.l.reason);
        });
      });
      set("ops-refused", z(ref));
      set("ops-refused-reasons", ref == null || !reasons.length ? "" : "403/s by reason: " + reasons.map(function (rs) {
        return rs + " " + fmt(sum(list, R, Q + "refused_total", function (l) { return l.reason === rs; }));
      }).join(" · "));

      var OR = "surge_origin_requests_total";
      var bk = R(org, OR, function (l) { return l.route === "booking_create" && l.status === "201"; });
      var cf = R(org, OR, function (l) { return l.route === "booking_create" && l.status === "409"; });
      set("ops-bookings", bk); set("ops-conflicts", cf);
      set("ops-origin-bookings-inflight", G(org, "surge_origin_bookings_in_flight"), 0);
      var P = "surge_origin_publish_delay_seconds_";
      set("ops-publish-delay", ratio(D(org, P + "sum"), D(org, P + "count"), G(org, P + "sum"), G(org, P + "count"), 1000)[0], 1);

      set("ops-memcached-errors", sum(list, R, "surge_edge_memcached_errors_total"));
      set("ops-verify-failures", sum(list, G, "surge_edge_snapshot_verify_failures_total"), 0);

      push("requests", [req]);
      push("hit-ratio", [hr[3] > 0 ? hr[2] / hr[3] * 100 : null]);
      push("stale", [stale]);
      push("origin", [inf, shed]);
      push("queue", [ql, z(ref)]);
      push("bookings", [bk, cf]);
      Object.keys(charts).forEach(function (k) { draw(charts[k]); });

      if (me.ok) set("ops-updated", "last updated " + new Date().toTimeString().slice(0, 8));
    }).catch(function (e) {
      set("ops-error", "dashboard error: " + e.message);
    }).then(function () {
      setTimeout(tick, Math.max(200, POLL - (Date.now() - t0)));
    });
  }
  window.addEventListener("resize", function () { Object.keys(charts).forEach(function (k) { draw(charts[k]); }); });
  rows();
  loadPeers().then(tick);
})();
