#!/bin/sh
# The standard FIX load measurements against `haihe serve` (bench/README-fix-load.md):
#   (a) throughput: 4 sessions, as fast as acknowledged (window 64 each);
#   (b) latency:    1 session, one order at a time (window 1);
# each with --sync full and --sync none, RUNS times (default 3), every run
# on a fresh data directory; prints every JSON line, then the medians.
#
# usage: bench/fix_load_runs.sh [BUILD_DIR] [RUNS]
#   BUILD_DIR  holds app/haihe and bench/fix_load (default build/release)
#   env FIX_LOAD_PORT (default 19878), FIX_LOAD_ORDERS_A (orders per session
#   in (a), default 25000), FIX_LOAD_ORDERS_B (orders in (b), default 10000)
set -eu

cd "$(dirname "$0")/.."
BUILD=${1:-build/release}
RUNS=${2:-3}
HAIHE=$BUILD/app/haihe
LOAD=$BUILD/bench/fix_load
RULES=bench/fix_load_market.toml
CONF=bench/fix_load_haihe.conf
PORT=${FIX_LOAD_PORT:-19878}
ORDERS_A=${FIX_LOAD_ORDERS_A:-25000}
ORDERS_B=${FIX_LOAD_ORDERS_B:-10000}

for f in "$HAIHE" "$LOAD"; do
  [ -x "$f" ] || { echo "fix_load_runs: $f not built (cmake --build $BUILD --target haihe fix_load)" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/haihe-fix-load-XXXXXX")
SERVER=""
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# The parties' passwords, once (PBKDF2 is slow on purpose); copied into
# every fresh data directory.
TEMPLATE=$WORK/template
for i in 1 2 3 4 5 6 7 8; do
  echo "load-bench-$i" | "$HAIHE" passwd --data "$TEMPLATE" --rules "$RULES" --party "LOAD_$i" --password-stdin >/dev/null
done

# start_server SYNC NAME: a fresh exchange on PORT; sets SERVER.
start_server() {
  data=$WORK/$2
  mkdir -m 700 "$data"
  : >"$data.log"
  cp -p "$TEMPLATE/fix-passwords" "$data/"
  "$HAIHE" serve --data "$data" --rules "$RULES" --port "$PORT" --sync "$1" --open --no-schedule \
    >"$data.log" 2>&1 &
  SERVER=$!
  n=0
  until grep -q "haihe serve: ready" "$data.log"; do
    n=$((n + 1))
    if [ $n -gt 300 ] || ! kill -0 "$SERVER" 2>/dev/null; then
      echo "fix_load_runs: haihe serve did not start:" >&2
      cat "$data.log" >&2
      exit 1
    fi
    sleep 0.1
  done
}

stop_server() {
  kill "$SERVER"
  wait "$SERVER" || true
  SERVER=""
}

RESULTS=$WORK/results.jsonl
for sync in full none; do
  for run in $(seq "$RUNS"); do
    start_server "$sync" "a-$sync-$run"
    "$LOAD" --config "$CONF" --port "$PORT" --sessions 4 --window 64 --orders "$ORDERS_A" \
      --label "a sync=$sync run=$run" | tee -a "$RESULTS"
    stop_server
    start_server "$sync" "b-$sync-$run"
    "$LOAD" --config "$CONF" --port "$PORT" --sessions 1 --window 1 --orders "$ORDERS_B" \
      --label "b sync=$sync run=$run" | tee -a "$RESULTS"
    stop_server
  done
done

# median LABEL_PREFIX KEY: the median of a numeric field over the runs.
median() {
  grep "\"label\":\"$1 " "$RESULTS" | sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo
echo "medians of $RUNS runs:"
for sync in full none; do
  echo "  sync=$sync (a) 4 sessions, window 64: $(median "a sync=$sync" acked_per_s) acked orders/s," \
    "latency p50 $(median "a sync=$sync" p50) us, p99 $(median "a sync=$sync" p99) us"
  echo "  sync=$sync (b) 1 session, window 1:  p50 $(median "b sync=$sync" p50) us," \
    "p99 $(median "b sync=$sync" p99) us, p99.9 $(median "b sync=$sync" p999) us," \
    "$(median "b sync=$sync" acked_per_s) orders/s"
done
