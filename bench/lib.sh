# Sourced by the bench scripts (after they cd to the checkout): what they share.

# Catalogs the benchmarks generate start here: far enough ahead that no slot has begun (origin
# refuses those with 409 slot_past), and fixed, so a run books the same dates on any day.
# bench/booking.lua and build/bench/booking-load book December of this year.
BENCH_FIRST_DATE=2099-12-01

# A free port on 127.0.0.1 (the kernel's pick, released at once for the server to take).
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits until something listens on 127.0.0.1:PORT, up to TRIES tenths of a second (default 100).
wait_port() {
  local tries=${2:-100}
  for _ in $(seq "$tries"); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Keyrings for origin and edge: DIR/NAME.conf holding "NAME-1 <64 hex digits>", for each NAME.
bench_keys() {
  local dir=$1
  shift
  for f in "$@"; do echo "$f-1 $(openssl rand -hex 32)" >"$dir/$f.conf"; done
}

# memcached on 127.0.0.1:PORT with MB megabytes and THREADS threads (memcached's default 4); its
# pid joins the calling script's `pids`, which its EXIT trap kills.
bench_memcached() {
  memcached -l 127.0.0.1 -p "$1" -U 0 -m "$2" -t "${3:-4}" -u nobody &
  pids+=($!)
}
