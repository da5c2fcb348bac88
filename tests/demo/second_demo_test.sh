#!/usr/bin/env bash
# Regression: `./surge demo` run twice started a second origin and edge on the same ports and the
# same var/origin.db. The second must say the demo is already running, name its pid, and exit
# non-zero before it builds or starts anything, in plain text when its output is not a terminal.
# Runs a copy of the script in a scratch directory while a stand-in for the first demo holds its
# lock.
set -euo pipefail
script=${1:?usage: second_demo_test.sh PATH/TO/surge}
dir=$(mktemp -d)
trap 'kill "$holder" 2>/dev/null || true; rm -rf "$dir"' EXIT
cp "$script" "$dir/surge"
mkdir -p "$dir/var"
# The first demo: holds var/demo.lock as cmd_demo does, with its pid inside.
(exec 9<>"$dir/var/demo.lock" && flock -n 9 && echo $BASHPID >"$dir/var/demo.lock" && exec sleep 60) &
holder=$!
for _ in $(seq 50); do [[ -s $dir/var/demo.lock ]] && break; sleep 0.1; done
rc=0
out=$("$dir/surge" demo 2>&1) || rc=$?
echo "$out"
[[ $rc -ne 0 ]] || { echo "FAIL: the second demo exited 0"; exit 1; }
grep -q "already running (pid $holder)" <<<"$out" || { echo "FAIL: no 'already running (pid $holder)'"; exit 1; }
[[ ! -e $dir/build ]] || { echo "FAIL: the second demo began to build"; exit 1; }
# Not a terminal here (captured): plain text, no colour codes in logs.
if grep -q $'\033' <<<"$out"; then echo "FAIL: escape codes in output that is not a terminal"; exit 1; fi
kill -0 "$holder" || { echo "FAIL: the first demo was disturbed"; exit 1; }
echo "ok: the second demo refused and the first kept its lock"
