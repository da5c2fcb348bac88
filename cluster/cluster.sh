# surge as a multi-host cluster on one machine. Sourced by ./surge (cluster) and by the cluster's
# fault tests (tests/cluster/faults.sh): one way to make the topology, for the browser, the tests
# and the opening-day benchmark.
#
# Every "host" is a network namespace with its own address on a bridge (veth pairs, made and
# removed here), and its own cgroup with a CPU quota and weight, as separate machines would be:
#
#   lb   10.77.0.10   HAProxy, :80 -> the three edges (health check /readyz)
#   ed1-3 10.77.0.11-13 surge-edge :8080
#   db   10.77.0.20   PostgreSQL 15 :5432, and the fault proxy :6432 the origins go through
#   mc1-3 10.77.0.21-23 memcached :11211
#   or1-2 10.77.0.31-32 surge-origin :8081, on PostgreSQL (via the fault proxy)
#
# The root namespace has 10.77.0.1 on the bridge (where the browser and the load drivers are), and
# 10.77.0.2-9 for the opening day's crowd (8 addresses: the kernel's search for a free ephemeral
# port to one destination made each connect() cost 2 ms with 25,000 sockets on one address).
# Nothing is routed out of the namespaces: they have no default route.
#
# State (keys, configs, logs, pids) lives in $CLUSTER_DIR (var/cluster), PostgreSQL's data in
# cluster_pg_home. Needs root.

CLUSTER_DIR=${CLUSTER_DIR:-$PWD/var/cluster}
CLUSTER_NET=10.77.0
CLUSTER_BRIDGE=sgbr0
CLUSTER_HOSTS=(lb ed1 ed2 ed3 db mc1 mc2 mc3 or1 or2)
declare -gA CLUSTER_IP=([lb]=10 [ed1]=11 [ed2]=12 [ed3]=13 [db]=20 [mc1]=21 [mc2]=22 [mc3]=23
  [or1]=31 [or2]=32)
# CPU quota of each host, in percent of one core (the machine has two: the quotas are caps); 0 for
# no cap (the host then shares the cores by the scheduler's fair weights only).
declare -gA CLUSTER_CPU=([lb]=40 [ed1]=40 [ed2]=40 [ed3]=40 [db]=60 [mc1]=15 [mc2]=15 [mc3]=15
  [or1]=35 [or2]=35)
# The edges' access log: a file per edge, or "off" (the opening-day benchmark, as nginx's are run).
CLUSTER_ACCESS_LOG=${CLUSTER_ACCESS_LOG:-on}
# CPU weight of each host (cgroup v1 cpu.shares; v2 cpu.weight is this / 10.24): how the cores
# are shared while they are all busy, below the caps. Equal unless a run says otherwise (the
# opening day gives the read path precedence over the booking path).
declare -gA CLUSTER_SHARES=([lb]=1024 [ed1]=1024 [ed2]=1024 [ed3]=1024 [db]=1024 [mc1]=1024
  [mc2]=1024 [mc3]=1024 [or1]=1024 [or2]=1024)
# Cores a host may run on (taskset lists), from CLUSTER_PINS="ed1=0 db=1 ..."; a host not named
# runs on every core. Unset by default: hosts share both cores as separate machines share none.
declare -gA CLUSTER_PIN=()
for pin in ${CLUSTER_PINS:-}; do CLUSTER_PIN[${pin%%=*}]=${pin#*=}; done
unset pin
CLUSTER_URL=http://$CLUSTER_NET.${CLUSTER_IP[lb]}/
CLUSTER_STORE=postgresql://postgres@$CLUSTER_NET.${CLUSTER_IP[db]}:6432/surge
CLUSTER_DIRECT_STORE=postgresql://postgres@$CLUSTER_NET.${CLUSTER_IP[db]}:5432/surge

cluster_ip() { echo "$CLUSTER_NET.${CLUSTER_IP[$1]}"; }

# PostgreSQL's data and socket folder. The server runs as the postgres user, who may not reach
# into the checkout (a clone under /root is mode 700), so it lives under /var/tmp, one folder per
# $CLUSTER_DIR, kept between runs like the rest of the cluster's state.
cluster_pg_home() { echo "/var/tmp/surge-cluster-$(printf %s "$CLUSTER_DIR" | md5sum | cut -c1-12)"; }
# Everything a cluster keeps (a fresh one starts with a new database).
cluster_forget() { rm -rf "$(cluster_pg_home)" "$CLUSTER_DIR"; }
cluster_say() { printf 'cluster: %s\n' "$*"; }

# cgroup v1 (cpu controller) or v2: the folder of HOST's cgroup.
cluster_cgroup() {
  if [[ -d /sys/fs/cgroup/cpu && -w /sys/fs/cgroup/cpu ]]; then
    echo "/sys/fs/cgroup/cpu/surge-cluster/$1"
  else
    echo "/sys/fs/cgroup/surge-cluster/$1"
  fi
}

cluster_cgroups_up() {
  local h cg
  if [[ ! -d /sys/fs/cgroup/cpu ]]; then
    mkdir -p /sys/fs/cgroup/surge-cluster
    echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    echo +cpu >/sys/fs/cgroup/surge-cluster/cgroup.subtree_control 2>/dev/null || true
  fi
  for h in "${CLUSTER_HOSTS[@]}"; do
    cg=$(cluster_cgroup "$h")
    mkdir -p "$cg"
    cluster_cgroup_cpu "$cg" "${CLUSTER_CPU[$h]}" "${CLUSTER_SHARES[$h]}"
  done
}

# cluster_cgroup_cpu CGROUP PERCENT SHARES: caps the cgroup folder at PERCENT of one core (0: no
# cap) and gives it weight SHARES (v1 cpu.shares; v2 cpu.weight is SHARES / 10.24).
cluster_cgroup_cpu() {
  local cg=$1 quota=$(($2 * 1000)) shares=$3
  if [[ -f $cg/cpu.cfs_quota_us ]]; then
    echo 100000 >"$cg/cpu.cfs_period_us"
    echo $((quota > 0 ? quota : -1)) >"$cg/cpu.cfs_quota_us"
    echo "$shares" >"$cg/cpu.shares"
  else
    if ((quota > 0)); then echo "$quota 100000"; else echo "max 100000"; fi >"$cg/cpu.max"
    echo $(((shares * 100 + 512) / 1024)) >"$cg/cpu.weight"
  fi
}

# cluster_in_cgroup CGROUP CMD...: CMD in the cgroup folder, with as many descriptors as the hard
# limit allows (20,000 in this container; root cannot raise it). It execs, replacing the calling
# shell: call it in the background (cluster_run, whose $! is then CMD's own pid) or in a subshell.
# Without the exec, $! was a shell's pid and kill -9 killed the shell, not the host's process.
cluster_in_cgroup() {
  exec sh -c 'echo $$ >"$0/cgroup.procs"; ulimit -n "$(ulimit -Hn)"; exec "$@"' "$@"
}

cluster_cgroups_down() {
  local h cg
  for h in "${CLUSTER_HOSTS[@]}"; do
    cg=$(cluster_cgroup "$h")
    [[ -d $cg ]] && rmdir "$cg" 2>/dev/null
  done
  rmdir "$(dirname "$(cluster_cgroup lb)")" 2>/dev/null || true
}

cluster_net_up() {
  local h
  ip link add "$CLUSTER_BRIDGE" type bridge
  ip addr add "$CLUSTER_NET.1/24" dev "$CLUSTER_BRIDGE"
  for h in $(seq 2 9); do ip addr add "$CLUSTER_NET.$h/24" dev "$CLUSTER_BRIDGE"; done
  ip link set "$CLUSTER_BRIDGE" up
  for h in "${CLUSTER_HOSTS[@]}"; do
    ip netns add "sg-$h"
    ip link add "sgv-$h" type veth peer name eth0 netns "sg-$h"
    ip link set "sgv-$h" master "$CLUSTER_BRIDGE" up
    ip -n "sg-$h" addr add "$(cluster_ip "$h")/24" dev eth0
    ip -n "sg-$h" link set eth0 up
    ip -n "sg-$h" link set lo up
  done
}

cluster_net_down() {
  local h
  for h in "${CLUSTER_HOSTS[@]}"; do
    ip netns del "sg-$h" 2>/dev/null
    ip link del "sgv-$h" 2>/dev/null
  done
  ip link del "$CLUSTER_BRIDGE" 2>/dev/null
  return 0
}

# cluster_run HOST NAME CMD...: CMD in HOST's namespace and cgroup, in the background; its pid in
# $CLUSTER_DIR/pids/NAME, its output in $CLUSTER_DIR/logs/NAME.log. The cgroup is joined first
# (inside the namespace /sys is the namespace's own, without the cgroup tree), then ip netns exec
# execs CMD: the pid is CMD's own.
cluster_run() {
  local h=$1 name=$2 pin=()
  shift 2
  [[ -n ${CLUSTER_PIN[$h]:-} ]] && pin=(taskset -c "${CLUSTER_PIN[$h]}")
  cluster_in_cgroup "$(cluster_cgroup "$h")" "${pin[@]}" ip netns exec "sg-$h" "$@" \
    >>"$CLUSTER_DIR/logs/$name.log" 2>&1 &
  echo $! >"$CLUSTER_DIR/pids/$name"
  disown $!  # stopped by pid (cluster_kill9, cluster_down), never waited for by this shell
}

cluster_pid() { cat "$CLUSTER_DIR/pids/$1" 2>/dev/null; }
cluster_alive() { local p; p=$(cluster_pid "$1") && [[ -n $p ]] && kill -0 "$p" 2>/dev/null; }

# Waits up to 60 s until URL answers 200 (from the root namespace).
cluster_wait_http() {
  local url=$1 i
  for i in $(seq 300); do
    curl -sf -o /dev/null --max-time 1 "$url" && return 0
    sleep 0.2
  done
  cluster_say "no answer from $url"
  return 1
}

cluster_wait_pg() {
  local i
  for i in $(seq 150); do
    pg_isready -q -h "$(cluster_ip db)" -p "${1:-5432}" && return 0
    sleep 0.2
  done
  cluster_say "PostgreSQL did not start"
  return 1
}

cluster_keys() {
  local f
  for f in snapshot-keys admin-keys queue-keys; do
    [[ -s $CLUSTER_DIR/$f.conf ]] || (umask 077 && echo "cluster-1 $(openssl rand -hex 32)" >"$CLUSTER_DIR/$f.conf")
  done
}

cluster_edge_config() {
  local h=$1 mc
  mc="$(cluster_ip mc1):11211 $(cluster_ip mc2):11211 $(cluster_ip mc3):11211"
  cat >"$CLUSTER_DIR/conf/$h.conf" <<EOF
# $h of the cluster (cluster/cluster.sh): three memcached nodes, two origins.
worker_processes ${CLUSTER_EDGE_WORKERS:-2};
events { worker_connections 16000; }
http {
    gzip_static on;
    access_log $([[ $CLUSTER_ACCESS_LOG == off ]] && echo off || echo "$CLUSTER_DIR/logs/$h-access.log combined");
    client_max_body_size 16k;
    keepalive_timeout 60s;
    surge_memcached $mc;
    surge_snapshot_keys $CLUSTER_DIR/snapshot-keys.conf;
    surge_refresh_interval 1s;
    surge_stale_if_error 300s;
    surge_stale_while_revalidate 10s;
    surge_waiting_room on;
    surge_queue_keys $CLUSTER_DIR/queue-keys.conf;
    surge_queue_session 10m;
    surge_ops_keys $CLUSTER_DIR/admin-keys.conf;
    # The origins behind the load balancer's internal frontend (an edge's upstream has one
    # server; HAProxy spreads and fails over between the two origins).
    upstream origin {
        server $(cluster_ip lb):8081;
        keepalive 64;
    }
    surge_origin_max_inflight 512;
    proxy_connect_timeout 1s;
    proxy_read_timeout 10s;
    server {
        listen $(cluster_ip "$h"):8080 backlog=4096;
        root $PWD/build/html;
        location / { expires 60s; }
        location /assets/ { surge_immutable_hashed on; expires 1h; }
        location /ops/ { surge_ops; }
        location /api/v1/ { surge_snapshots; }
        location /api/v1/queue/ { surge_queue; }
        location /api/v1/bookings { proxy_pass http://origin; }
        location ~ ^/(healthz|readyz|metrics)\$ { surge_status; }
    }
}
EOF
}

cluster_lb_config() {
  cat >"$CLUSTER_DIR/conf/haproxy.cfg" <<EOF
# The cluster's load balancer: round robin over the edges, an edge out while its /readyz is not
# 200; GETs that meet a dead edge are retried on another (retry-on, redispatch). Inside, :8081
# spreads the edges' bookings over the two origins the same way (no retry: a booking that met a
# dead origin gets its 503 and is retried by the client with its Idempotency-Key).
global
    # 2 x 9,000 + checks and listeners stays under the 20,000 descriptors a process may have here;
    # lb runs two HAProxy processes on the same ports (SO_REUSEPORT) for the opening day's 10,000.
    maxconn 9000
defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 30s
    option http-keep-alive
    option redispatch
    retries 3
    retry-on conn-failure empty-response response-timeout
frontend www
    bind $(cluster_ip lb):80
    default_backend edges
backend edges
    balance roundrobin
    # An edge's keep-alive connection serves any client's next request (GETs, and bookings that
    # carry their own Idempotency-Key): without it HAProxy opened a connection per client session
    # and the opening day spent its CPU on handshakes (7,000 connections to the edges, 38,000
    # closed).
    http-reuse always
    option httpchk GET /readyz
    http-check expect status 200
    server ed1 $(cluster_ip ed1):8080 check inter 500 fall 2 rise 2
    server ed2 $(cluster_ip ed2):8080 check inter 500 fall 2 rise 2
    server ed3 $(cluster_ip ed3):8080 check inter 500 fall 2 rise 2
frontend origins
    bind $(cluster_ip lb):8081
    default_backend origins
backend origins
    balance roundrobin
    retry-on none
    option httpchk GET /readyz
    http-check expect status 200
    server or1 $(cluster_ip or1):8081 check inter 500 fall 2 rise 2
    server or2 $(cluster_ip or2):8081 check inter 500 fall 2 rise 2
EOF
}

# Each process, by name: how to start it (again, after a kill).
cluster_start() {
  local name=$1 pg=/usr/lib/postgresql/15/bin
  case $name in
    db)
      cluster_run db db setpriv --reuid=postgres --regid=postgres --init-groups -- "$pg/postgres" \
        -D "$(cluster_pg_home)/data" -p 5432 -k "$(cluster_pg_home)" -c "listen_addresses=$(cluster_ip db)" \
        -c max_connections=300 -c tcp_keepalives_idle=5 -c tcp_keepalives_interval=1 \
        -c tcp_keepalives_count=3
      cluster_wait_pg 5432 ;;
    proxy)
      cluster_run db proxy python3 "$PWD/cluster/fault_proxy.py" "$(cluster_ip db):6432" \
        "$(cluster_ip db):5432" "$CLUSTER_DIR/db-proxy.mode"
      cluster_wait_pg 6432 ;;
    mc1 | mc2 | mc3)
      cluster_run "$name" "$name" memcached -l "$(cluster_ip "$name")" -p 11211 -U 0 -m 256 -c 8192 \
        -t 1 -u nobody ;;
    or1 | or2)
      local catalog=()
      [[ $name == or1 ]] && catalog=(--catalog "$CLUSTER_DIR/catalog.csv")
      cluster_run "$name" "$name" "$PWD/build/origin/surge-origin" --listen "$(cluster_ip "$name"):8081" \
        --store "$CLUSTER_STORE" --memcached \
        "$(cluster_ip mc1):11211,$(cluster_ip mc2):11211,$(cluster_ip mc3):11211" \
        --snapshot-keys "$CLUSTER_DIR/snapshot-keys.conf" --admin-keys "$CLUSTER_DIR/admin-keys.conf" \
        "${catalog[@]}" --status-allow "$CLUSTER_NET.0/24" ${CLUSTER_ORIGIN_FLAGS:-}
      cluster_wait_http "http://$(cluster_ip "$name"):8081/readyz" ;;
    ed1 | ed2 | ed3)
      cluster_run "$name" "$name" "$PWD/build/edge/surge-edge" -c "$CLUSTER_DIR/conf/$name.conf"
      cluster_wait_http "http://$(cluster_ip "$name"):8080/readyz" ;;
    lb)
      cluster_start_lb
      cluster_wait_http "$CLUSTER_URL" ;;
  esac
}

# Two HAProxy processes with one configuration, both bound to lb's ports (HAProxy binds with
# SO_REUSEPORT; the kernel spreads new connections over them): each may hold 9,000 connections.
cluster_start_lb() {
  cluster_run lb lb haproxy -db -f "$CLUSTER_DIR/conf/haproxy.cfg"
  cluster_run lb lb2 haproxy -db -f "$CLUSTER_DIR/conf/haproxy.cfg"
}

# SIGKILL, and wait (up to 10 s) until it is gone.
cluster_kill9() {
  local p i
  p=$(cluster_pid "$1") || return 0
  kill -9 "$p" 2>/dev/null
  for i in $(seq 200); do
    kill -0 "$p" 2>/dev/null || return 0
    sleep 0.05
  done
  cluster_say "$1 (pid $p) still there 10 s after kill -9"
  return 1
}

# The port each host's process serves.
cluster_port() {
  case $1 in
    db) echo 5432 ;; proxy) echo 6432 ;; mc*) echo 11211 ;; or*) echo 8081 ;; ed*) echo 8080 ;;
    lb*) echo 80 ;;
  esac
}

# cluster_reachable [--from HOST] NAME: a TCP connection to NAME's port opens within 1 s (from the
# root namespace, or from HOST's). What a fault test checks to see its fault take.
cluster_reachable() {
  local from=()
  [[ $1 == --from ]] && { from=(ip netns exec "sg-$2"); shift 2; }
  local ip port
  [[ $1 == proxy ]] && ip=$(cluster_ip db) || ip=$(cluster_ip "$1")
  port=$(cluster_port "$1")
  "${from[@]}" timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$ip" "$port" 2>/dev/null
}

cluster_up() {
  local catalog_clinics=${CLUSTER_CLINICS:-2000} h
  cluster_down >/dev/null 2>&1
  mkdir -p "$CLUSTER_DIR"/{pids,logs,conf} "$(cluster_pg_home)"
  chown postgres "$(cluster_pg_home)"
  chmod 700 "$(cluster_pg_home)"
  echo pass >"$CLUSTER_DIR/db-proxy.mode"
  cluster_keys
  [[ -s $CLUSTER_DIR/catalog.csv ]] ||
    build/origin/surgectl catalog generate --first-date today --clinics "$catalog_clinics" \
      >"$CLUSTER_DIR/catalog.csv"
  cluster_say "network: bridge $CLUSTER_BRIDGE ($CLUSTER_NET.1/24), one namespace per host"
  cluster_net_up
  cluster_cgroups_up
  if [[ ! -s $(cluster_pg_home)/data/PG_VERSION ]]; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- /usr/lib/postgresql/15/bin/initdb \
      -D "$(cluster_pg_home)/data" -A trust -U postgres -E UTF8 --locale=C >"$CLUSTER_DIR/logs/initdb.log"
    echo "host all all $CLUSTER_NET.0/24 trust" >>"$(cluster_pg_home)/data/pg_hba.conf"
    NEW_DATABASE=1
  fi
  cluster_say "db: PostgreSQL 15 on $(cluster_ip db):5432 (origins through the fault proxy, :6432)"
  cluster_start db
  cluster_start proxy
  if [[ ${NEW_DATABASE:-0} == 1 ]]; then
    psql -q -h "$(cluster_ip db)" -U postgres -c "CREATE DATABASE surge"
  fi
  build/origin/surgectl store migrate --store "$CLUSTER_DIRECT_STORE"
  for h in mc1 mc2 mc3; do cluster_start "$h"; done
  cluster_say "memcached on $(cluster_ip mc1), $(cluster_ip mc2), $(cluster_ip mc3)"
  cluster_say "origins on $(cluster_ip or1) and $(cluster_ip or2) (the first imports the catalog)"
  cluster_start or1
  cluster_start or2
  cluster_lb_config
  cluster_start_lb
  for h in ed1 ed2 ed3; do
    cluster_edge_config "$h"
    cluster_start "$h"
  done
  cluster_say "edges on $(cluster_ip ed1), $(cluster_ip ed2), $(cluster_ip ed3)"
  cluster_wait_http "$CLUSTER_URL"
  printf 'origin http://%s:8081\nadmin_keys admin-keys.conf\n' "$(cluster_ip or1)" \
    >"$CLUSTER_DIR/surgectl.conf"
  cluster_say "ready: point a browser at $CLUSTER_URL (HAProxy in front of three edges)"
  cluster_say "operators: build/origin/surgectl --config $CLUSTER_DIR/surgectl.conf stats"
}

cluster_down() {
  local f
  for f in "$CLUSTER_DIR"/pids/*; do
    [[ -e $f ]] || continue
    kill -9 "$(cat "$f")" 2>/dev/null
    rm -f "$f"
  done
  # Anything left in the namespaces (a process started outside cluster_run).
  local h
  for h in "${CLUSTER_HOSTS[@]}"; do
    ip netns pids "sg-$h" 2>/dev/null | xargs -r kill -9 2>/dev/null
  done
  sleep 0.3
  cluster_net_down
  cluster_cgroups_down
}

# Faults. A partition is an nft drop inside the namespace (both directions for its address).
cluster_partition() {  # HOST PEER-IP...: HOST drops everything to and from those addresses
  local h=$1
  shift
  local set
  set=$(IFS=,; echo "$*")
  ip netns exec "sg-$h" nft -f - <<EOF
table inet surge_fault {
  chain input { type filter hook input priority 0; ip saddr { $set } drop; }
  chain output { type filter hook output priority 0; ip daddr { $set } drop; }
}
EOF
}
cluster_heal() { ip netns exec "sg-$1" nft delete table inet surge_fault 2>/dev/null || true; }
cluster_link_down() { ip link set "sgv-$1" down; }
cluster_link_up() { ip link set "sgv-$1" up; }
cluster_db_proxy() { echo "$*" >"$CLUSTER_DIR/db-proxy.mode"; }

# The checker, straight from the database: cluster_check ACKED prints
#   missing overbooked double tickets counts
# (ACKED: one booking id per line, every 201 a client received): acknowledged bookings not in the
# store, slots over capacity, people with two active bookings, tickets used twice, slots whose
# count differs from their rows. The fault tests and the opening-day benchmark both use it.
cluster_psql() { psql -X -q -A -t -h "$(cluster_ip db)" -p 5432 -U postgres -d surge "$@"; }
cluster_check() {
  local acked=$1 missing over double tickets counts
  missing=$(cluster_psql <<SQL
CREATE TEMP TABLE acked(id text);
\copy acked FROM '$acked'
SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM bookings b WHERE b.id = a.id);
SQL
)
  over=$(cluster_psql -c "SELECT count(*) FROM slots s JOIN (SELECT slot_id, count(*) n FROM bookings
    WHERE canceled_ms IS NULL GROUP BY slot_id) b ON b.slot_id = s.id WHERE b.n > s.capacity")
  double=$(cluster_psql -c "SELECT count(*) FROM (SELECT person_id FROM bookings WHERE canceled_ms IS NULL
    GROUP BY person_id HAVING count(*) > 1) x")
  tickets=$(cluster_psql -c "SELECT count(*) FROM (SELECT ticket FROM bookings WHERE ticket IS NOT NULL
    GROUP BY ticket HAVING count(*) > 1) x")
  counts=$(cluster_psql -c "SELECT count(*) FROM slots s LEFT JOIN (SELECT slot_id, count(*) n FROM bookings
    WHERE canceled_ms IS NULL GROUP BY slot_id) b ON b.slot_id = s.id WHERE s.booked <> coalesce(b.n, 0)")
  echo "$missing $over $double $tickets $counts"
}
