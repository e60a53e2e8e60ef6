#!/usr/bin/env bash
# bench.sh runs the figures of BENCHMARKS.md: a private redis-server, a fresh
# jobwait for every run (so memory per waiter is measured from a clean
# baseline), and waitload. Loopback only; every run is bounded by -timeout.
#
#   cmd/waitload/bench.sh [OUT_DIR]        (default: bench-out)
#
# Needs redis-server on PATH (make deps installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-bench-out}
mkdir -p "$OUT"
BIN=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$BIN"' EXIT

go build -o "$BIN/jobwait" ./cmd/jobwait
go build -o "$BIN/waitload" ./cmd/waitload

RPORT=16399
redis-server --port $RPORT --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$OUT/redis.log" 2>&1 &
for _ in $(seq 50); do redis-cli -p $RPORT ping >/dev/null 2>&1 && break; sleep 0.1; done
REDIS=redis://127.0.0.1:$RPORT/0
ADDR=127.0.0.1:18099

# run NAME WAITLOAD_ARGS...: one waitload run against a fresh jobwait.
run() {
  local name=$1; shift
  redis-cli -p $RPORT flushall >/dev/null
  GOGC=${GOGC:-100} JOBWAIT_ADDR=$ADDR REDIS_URL=$REDIS JOBWAIT_DEMO=false JOBWAIT_WAIT_BUDGET=30s \
    "$BIN/jobwait" 2>"$OUT/$name.jobwait.log" &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://$ADDR/readyz" >/dev/null && break; sleep 0.1; done
  echo "== $name: waitload $*" | tee "$OUT/$name.txt"
  "$BIN/waitload" -target "http://$ADDR" -redis "$REDIS" -quiet -timeout 8m \
    -json "$OUT/$name.json" -html "$OUT/$name.html" "$@" | tee -a "$OUT/$name.txt"
  kill -TERM $pid; wait $pid || true
}

# Delivery at 1,000 completions/s, one waiter per job (every completion is a read).
run 1k-all   -mode all -waiters 1000  -jobs 1000  -rate 1000 -settle 5s
run 10k-all  -mode all -waiters 10000 -jobs 10000 -rate 1000 -settle 10s
for mode in sse longpoll poll; do
  run 18k-$mode -mode $mode -waiters 18000 -jobs 18000 -rate 1000
done
# Fan-out: 100 waiters on each job.
run 10k-fanout -mode all -waiters 10000 -jobs 100 -rate 100 -settle 10s
# Held for the whole budget: nothing completes before every waiter times out.
for mode in sse longpoll; do
  run 18k-$mode-hold -mode $mode -waiters 18000 -jobs 180 -rate 1000 -hold 31s
done
echo "results in $OUT"
