#!/usr/bin/env bash
# Fault tests on the cluster (cluster/cluster.sh: 3 memcached, 2 origins on PostgreSQL, 3 edges,
# HAProxy, each in its own network namespace and cgroup). For each fault, people book and read
# through HAProxy (build/bench/surge-bench, closed loop, from the root namespace's 10.77.0.1 to
# the namespaces' addresses only) while the fault is injected and healed; then a checker reads the
# database:
#   - every 201 a client received is a row;
#   - no slot over capacity, no person with two active bookings, no ticket used twice, every
#     slot's count equal to its rows;
#   - no read failed within the stale bound: every fault here is shorter than the edges'
#     surge_stale_if_error (300 s), so an edge serves what it holds, and HAProxy retries a read
#     that met a dead edge. The one answer allowed is 503 + Retry-After for a snapshot the edge
#     never held when memcached lost it (nothing stale exists to serve; the edge reports the gap
#     and origin refills it), and only in the faults that take memcached away;
#   - bookings went on being made after the fault healed.
# Each fault is a row in RELIABILITY.md ($SURGE_RELIABILITY_LOG). Bounded: about 20 s per fault.
#   tests/cluster/faults.sh [FAULT...]     (all of them when none is named; root)
set -uo pipefail
cd "$(dirname "$0")/../.."
source cluster/cluster.sh
CLUSTER_DIR=$PWD/build/cluster-test
CLUSTER_CLINICS=${CLUSTER_CLINICS:-300}
OUT=$CLUSTER_DIR/faults
BEFORE=${FAULT_BEFORE:-4} DURING=${FAULT_SECONDS:-6} AFTER=${FAULT_AFTER:-6}

FAULTS=(kill9-origin kill9-edge kill9-memcached kill9-postgres origin-cut-from-postgres
  edge-cut-from-memcached memcached-cut-from-everyone postgres-latency postgres-loss
  postgres-restart)
((${#@} > 0)) && FAULTS=("$@")

# What each fault does, and what heals it.
inject() {
  case $1 in
    kill9-origin) cluster_kill9 or1 ;;
    kill9-edge) cluster_kill9 ed2 ;;
    kill9-memcached) cluster_kill9 mc3 ;;
    kill9-postgres) cluster_kill9 db ;;  # the postmaster: crash recovery at the restart
    origin-cut-from-postgres) cluster_partition or2 "$(cluster_ip db)" ;;
    edge-cut-from-memcached) cluster_partition ed1 "$(cluster_ip mc1)" "$(cluster_ip mc2)" "$(cluster_ip mc3)" ;;
    memcached-cut-from-everyone) cluster_link_down mc2 ;;
    postgres-latency) cluster_db_proxy delay 50 30 ;;
    postgres-loss) cluster_db_proxy loss 10 ;;
    postgres-restart)
      kill -INT "$(cluster_pid db)"
      local i
      for i in $(seq 300); do cluster_alive db || break; sleep 0.1; done ;;
  esac
}
heal() {
  case $1 in
    kill9-origin) cluster_start or1 ;;
    kill9-edge) cluster_start ed2 ;;
    # A memcached node back empty: its keys are gone. Edges answer 503 + Retry-After for the
    # ones they never held and report them; the playbook's step (docs/OPERATIONS.md) republishes
    # everything at once instead of at the next full publish (60 s), so no gap outlives the fault
    # into the next one.
    kill9-memcached) cluster_start mc3; republish ;;
    kill9-postgres | postgres-restart)
      # A postmaster killed with -9 leaves its backends until they notice; a new one refuses to
      # start while they hold the shared memory. In db's namespace only they and the proxy run.
      local i
      for i in $(seq 300); do
        ip netns pids sg-db | grep -vx "$(cluster_pid proxy)" | grep -q . || break
        sleep 0.1
      done
      cluster_start db ;;
    origin-cut-from-postgres) cluster_heal or2 ;;
    edge-cut-from-memcached) cluster_heal ed1 ;;
    memcached-cut-from-everyone) cluster_link_up mc2; republish ;;
    postgres-latency | postgres-loss) cluster_db_proxy pass ;;
  esac
}

# Did the fault take? Checked at the end of the fault, before it heals: a fault test whose fault
# never happened would pass on anything (it once did: the pid killed was a wrapper shell's).
took() {
  case $1 in
    kill9-origin) ! cluster_reachable or1 ;;
    kill9-edge) ! cluster_reachable ed2 ;;
    kill9-memcached) ! cluster_reachable mc3 ;;
    kill9-postgres | postgres-restart) ! cluster_reachable db ;;
    origin-cut-from-postgres) ! cluster_reachable --from or2 proxy && cluster_reachable proxy ;;
    edge-cut-from-memcached) ! cluster_reachable --from ed1 mc1 && cluster_reachable mc1 ;;
    memcached-cut-from-everyone) ! cluster_reachable mc2 ;;
    postgres-latency) (($(proxy_seen delayed) > PROXY_SEEN_BEFORE)) ;;
    postgres-loss) (($(proxy_seen lost) > PROXY_SEEN_BEFORE)) ;;
  esac
}

# What the fault proxy has done to real traffic so far: proxy_seen delayed|lost.
proxy_seen() {
  local line
  line=$(cat "$CLUSTER_DIR/db-proxy.mode.seen" 2>/dev/null) || line=""
  case $1 in
    delayed) awk '{print $2 + 0}' <<<"$line" ;;
    lost) awk '{print $4 + 0}' <<<"$line" ;;
  esac
}

# The playbook's republish, repeated until it reports nothing left unwritten: right after a
# memcached node comes back, origin's client may still hold it as failed for a moment, and the
# keys it could not write are otherwise only retried later. A fault that follows and takes the
# store (kill9-postgres) then met a gap origin could not fill: a test of the next fault failing
# for this one's heal.
republish() {
  local i
  for i in $(seq 30); do
    build/origin/surgectl --config "$CLUSTER_DIR/surgectl.conf" publish >/dev/null && return 0
    sleep 1
  done
  echo "republish: surgectl publish still left snapshots unwritten after 30 tries" >&2
  return 1
}

json() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$@"; }

# One fault: load, inject, heal, load on, check. Prints a line and appends a reliability row.
run_fault() {
  local name=$1 dir=$OUT/$1 rc=0
  mkdir -p "$dir"
  local seconds=$((BEFORE + DURING + AFTER))
  build/bench/surge-bench "$(cluster_ip lb):80" --catalog "$CLUSTER_DIR/catalog.csv" --closed \
    --connections 120 --seconds "$seconds" --think-ms 200 --out "$dir" --prefix "$name-$RUN-$FAULT_INDEX" \
    >"$dir/bench.log" 2>&1 &
  local bench=$!
  sleep "$BEFORE"
  case $name in
    postgres-latency) PROXY_SEEN_BEFORE=$(proxy_seen delayed) ;;
    postgres-loss) PROXY_SEEN_BEFORE=$(proxy_seen lost) ;;
  esac
  inject "$name"
  sleep "$DURING"
  local took=true
  took "$name" || took=false
  heal "$name"
  local healed_at
  healed_at=$(cluster_psql -c "SELECT count(*) FROM bookings" 2>/dev/null || echo 0)
  wait "$bench"
  # The checker, straight from the database.
  cut -d' ' -f1 "$dir/booked.txt" >"$dir/acked.txt"
  local acked missing over double tickets counts after reads read_errors
  acked=$(wc -l <"$dir/acked.txt")
  read -r missing over double tickets counts < <(cluster_check "$dir/acked.txt")
  after=$(cluster_psql -c "SELECT count(*) FROM bookings")
  reads=$(json "$dir/summary.json" reads)
  read_errors=$(json "$dir/summary.json" read_errors)
  local gaps failed_reads
  gaps=$(json "$dir/summary.json" read_503_retry_after)
  failed_reads=$((read_errors - gaps))
  case $name in
    kill9-memcached | memcached-cut-from-everyone | edge-cut-from-memcached) ;;
    *) failed_reads=$read_errors ;;  # nothing lost from memcached: no gap may open
  esac
  local made_after=$((after - healed_at))
  local ok=true
  if [[ $took != true || $missing != 0 || $over != 0 || $double != 0 || $tickets != 0 ||
    $counts != 0 || $failed_reads != 0 || $made_after -le 0 || $acked -le 0 ]]; then
    ok=false
    rc=1
  fi
  [[ $took == true ]] || echo "$name: the fault did not take (checked before healing it)"
  printf '%-28s %s: %s acknowledged, %s missing, %s overbooked, %s booked twice, %s tickets twice, %s counts off; %s reads, %s failed, %s gaps (503 + Retry-After); %s bookings after healing\n' \
    "$name" "$([[ $ok == true ]] && echo ok || echo FAILED)" "$acked" "$missing" "$over" "$double" \
    "$tickets" "$counts" "$reads" "$failed_reads" "$gaps" "$made_after"
  if [[ -n ${SURGE_RELIABILITY_LOG:-} ]]; then
    printf '{"area":"cluster","what":"%s under a booking storm and reads (3 edges, 2 origins on PostgreSQL, 3 memcached)","tries":1,"counts":{"acknowledged":%s,"lost":%s,"overbooked slots":%s,"people booked twice":%s,"tickets used twice":%s,"reads":%s,"failed reads":%s,"gaps: 503 + Retry-After for a snapshot never held":%s,"bookings after healing":%s},"outcome":"every 201 in the database, no slot over capacity, nobody booked twice, no read failed within the stale bound","ok":%s,"test":"tests/cluster/faults.sh %s","build":"%s"}\n' \
      "$(describe "$name")" "$acked" "$missing" "$over" "$double" "$tickets" "$reads" \
      "$failed_reads" "$gaps" "$made_after" "$ok" "$name" "${SURGE_BUILD_KIND:-plain}" >>"$SURGE_RELIABILITY_LOG"
  fi
  [[ $ok == true ]] || explain_failure "$dir"
  return $rc
}

# What a failed fault leaves for whoever reads the CI log: the load's last seconds and, per edge,
# what memcached did to its reads (a gap is a 503 for a snapshot the edge never held).
explain_failure() {
  tail -n 5 "$1/bench.log"
  local h
  for h in ed1 ed2 ed3; do
    printf '%s: %s\n' "$h" "$(curl -s --max-time 2 "http://$(cluster_ip "$h"):8080/metrics" |
      grep -E '^surge_edge_(memcached_errors|snapshot_gaps|snapshot_unknown)_total' | tr '\n' ' ')"
    grep -E 'memcached|snapshot' "$CLUSTER_DIR/logs/$h.log" | tail -n 5 || true
  done
}

describe() {
  case $1 in
    kill9-origin) echo "kill -9 of an origin" ;;
    kill9-edge) echo "kill -9 of an edge" ;;
    kill9-memcached) echo "kill -9 of a memcached node" ;;
    kill9-postgres) echo "kill -9 of PostgreSQL's postmaster (crash recovery)" ;;
    origin-cut-from-postgres) echo "an origin cut off from PostgreSQL (nft drop, ${DURING} s)" ;;
    edge-cut-from-memcached) echo "an edge cut off from every memcached node (nft drop, ${DURING} s)" ;;
    memcached-cut-from-everyone) echo "a memcached node cut off from everyone (veth down, ${DURING} s)" ;;
    postgres-latency) echo "origin-to-PostgreSQL latency 50-80 ms (fault proxy, ${DURING} s)" ;;
    postgres-loss) echo "origin-to-PostgreSQL loss 10% (fault proxy: a lost segment costs 200-400 ms)" ;;
    postgres-restart) echo "PostgreSQL restarted (fast shutdown, start)" ;;
  esac
}

[[ $(id -u) == 0 ]] || { echo "faults.sh: needs root (namespaces, cgroups)"; exit 2; }
trap cluster_down EXIT
cluster_up >"$CLUSTER_DIR.up.log" 2>&1 || { cat "$CLUSTER_DIR.up.log"; exit 1; }
rm -rf "$OUT"
RUN=$(date +%s)  # people of this run are new to the store (it is kept between runs)
failed=0
FAULT_INDEX=0  # and of this fault: one named twice (faults.sh kill9-postgres kill9-postgres)
for fault in "${FAULTS[@]}"; do  # would otherwise reuse Idempotency-Keys and read 422s as shed
  FAULT_INDEX=$((FAULT_INDEX + 1))
  run_fault "$fault" || failed=$((failed + 1))
done
echo "cluster faults: $((${#FAULTS[@]} - failed)) of ${#FAULTS[@]} passed"
((failed == 0))
