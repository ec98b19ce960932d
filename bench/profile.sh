#!/bin/sh
# Profiles one sessionwarden store under one route with perf (call graphs), for the "why" behind
# a missed target. Usage: bench/profile.sh STORE PATH [SECONDS]   e.g. bench/profile.sh memory /set-session
# Prints the top of `perf report`; the data stays in bench/out/perf-STORE.data.
set -eu
store=$1; path=$2; secs=${3:-5}
bin=${CARGO_TARGET_DIR:-/var/cache/sessionwarden/target}/release/sessionwarden
here=$(cd "$(dirname "$0")" && pwd); mkdir -p "$here/out"; data=$(mktemp -d)
out=$(mktemp); RUST_LOG=warn "$bin" serve --listen 127.0.0.1:0 --data-dir "$data" --insecure-cookies --throttle-mode off --store "$store" >"$out" &
pid=$!; trap 'kill $pid 2>/dev/null; rm -rf "$data" "$out"' EXIT
while ! grep -q listening "$out"; do sleep 0.1; done
addr=$(sed -n 's/.*http:\/\///p' "$out" | head -1)
cookie=$(curl -si "http://$addr/set-session?user=bench" | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | tr -d '\r' | paste -sd';')
changing=0; [ "$path" = /set-session ] && changing=1
BENCH_COOKIE="$cookie" BENCH_CHANGING=$changing wrk -t1 -c32 -d"$((secs + 2))s" -s "$here/wrk/session.lua" "http://$addr$path" >/dev/null &
sleep 1
perf record -F 1999 -g -p $pid -o "$here/out/perf-$store.data" -- sleep "$secs" 2>/dev/null
wait $! 2>/dev/null || true
perf report -i "$here/out/perf-$store.data" --no-children --sort symbol --stdio 2>/dev/null | grep -v '^$' | grep '%' | head -40
