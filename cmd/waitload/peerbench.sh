#!/usr/bin/env bash
# peerbench.sh measures jobwait side by side with its peer, nginx + Nchan on
# the same Redis (nchan.conf), in one sitting, and prints the table of
# BENCHMARKS.md's "Side by side with Nchan": p50, p99 and memory per held
# waiter of each, and the ratios jobwait ÷ Nchan (waitload compare).
#
#   cmd/waitload/peerbench.sh [OUT_DIR]                  (default: bench-peer)
#   ROUNDS=1 WAITERS=1000 JOBS=100 cmd/waitload/peerbench.sh /tmp/smoke
#
#   ROUNDS     runs of each server per scenario (default 2); rounds alternate
#              which server goes first
#   WAITERS    waiters per run (default 18000: one process may hold 20,000
#              open files here, and so may the server)
#   JOBS       jobs per run (default 1800: 10 waiters per job)
#   SCENARIOS  mode:completions-per-second pairs (default
#              "sse:1000 longpoll:1000 sse:3000")
#
# Every run has a fresh redis-server and a fresh server (jobwait, or nginx
# with Nchan), both pinned to core 1, and waitload pinned to core 0, where
# taskset exists and there are at least 2 cores; it starts once the earlier
# runs' TIME_WAIT sockets are down to 2,000 (at most 70 s). Loopback only; every wait
# is bounded. Needs redis-server, redis-cli, curl, nginx and
# libnginx-mod-nchan: `make bench-peer` installs what is missing, then runs this.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-bench-peer}
ROUNDS=${ROUNDS:-2}
WAITERS=${WAITERS:-18000}
JOBS=${JOBS:-1800}
SCENARIOS=${SCENARIOS:-"sse:1000 longpoll:1000 sse:3000"}
NCHAN_MODULE=${NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
RPORT=16398
JPORT=18098
NPORT=18097
REDIS=redis://127.0.0.1:$RPORT/0

for need in redis-server redis-cli curl; do
  command -v $need >/dev/null || { echo "peerbench: $need missing (make bench-peer installs it)" >&2; exit 1; }
done
[ -x "$NGINX" ] && [ -f "$NCHAN_MODULE" ] ||
  { echo "peerbench: nginx or $NCHAN_MODULE missing: apt-get install -y nginx libnginx-mod-nchan (or make bench-peer)" >&2; exit 1; }

SRV=() CLI=() PINNED="no (taskset missing or fewer than 2 cores): server, Redis and waitload share the cores"
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  SRV=(taskset -c 1) CLI=(taskset -c 0) PINNED="server and its Redis on core 1, waitload on core 0"
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BIN=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$BIN"' EXIT
go build -o "$BIN/jobwait" ./cmd/jobwait
go build -o "$BIN/waitload" ./cmd/waitload

{
  echo "sitting: $(date -u +%FT%TZ), $(nproc) cores, pinned: $PINNED"
  echo "load before: $(uptime)"
  echo "$WAITERS waiters on $JOBS jobs; scenarios $SCENARIOS; $ROUNDS round(s) each"
} | tee "$OUT/conditions.txt"

# wait_for TRIES CMD...: CMD until it succeeds, at most TRIES × 0.1 s.
wait_for() {
  local tries=$1; shift
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# start_redis DIR: a fresh redis-server on $RPORT, on the server's core.
start_redis() {
  "${SRV[@]}" redis-server --port $RPORT --bind 127.0.0.1 --save '' --appendonly no --dir "$1" \
    >"$1/redis.log" 2>&1 &
  REDIS_PID=$!
  wait_for 50 redis-cli -p $RPORT ping || { echo "peerbench: redis-server did not start" >&2; cat "$1/redis.log" >&2; exit 1; }
}

# start_server SERVER DIR: a fresh jobwait or nginx + Nchan; sets TARGET.
start_server() {
  case $1 in
  jobwait)
    "${SRV[@]}" env JOBWAIT_ADDR=127.0.0.1:$JPORT REDIS_URL=$REDIS JOBWAIT_DEMO=false JOBWAIT_WAIT_BUDGET=30s \
      "$BIN/jobwait" >"$2/server.log" 2>&1 &
    SERVER_PID=$!
    TARGET=http://127.0.0.1:$JPORT
    wait_for 100 curl -sf "$TARGET/readyz" || { echo "peerbench: jobwait not ready" >&2; cat "$2/server.log" >&2; exit 1; }
    ;;
  nchan)
    sed -e "s#@MODULE@#$NCHAN_MODULE#" -e "s#@PREFIX@#$2#g" -e "s#@LISTEN@#127.0.0.1:$NPORT#" \
      -e "s#@REDIS@#redis://127.0.0.1:$RPORT#" cmd/waitload/nchan.conf >"$2/nginx.conf"
    "${SRV[@]}" "$NGINX" -p "$2/" -e "$2/error.log" -c "$2/nginx.conf" -g 'daemon off;' >"$2/server.log" 2>&1 &
    SERVER_PID=$!
    TARGET=http://127.0.0.1:$NPORT
    # Ready once Nchan has connected to its Redis.
    wait_for 100 sh -c "curl -sf $TARGET/nchan/status | grep -q '^redis connected servers: [1-9]'" ||
      { echo "peerbench: nginx + Nchan not ready" >&2; cat "$2/server.log" "$2/error.log" >&2; exit 1; }
    ;;
  esac
}

# drain_time_wait: wait, at most 70 s, until fewer than 2,000 TCP sockets
# are in TIME_WAIT. A run leaves 18,000 of them (whichever side closes
# first keeps them for 60 s); tens of thousands of them slow the next
# run's connections and deliveries, whichever server it measures.
drain_time_wait() {
  command -v ss >/dev/null || return 0
  for _ in $(seq 140); do
    [ "$(ss -tan state time-wait | wc -l)" -lt 2000 ] && return 0
    sleep 0.5
  done
}

# cpu_ms PID...: the CPU time (user + system) the processes have used, in ms.
cpu_ms() {
  local t=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo $((t * 1000 / $(getconf CLK_TCK)))
}

# pids PID: the process and its children (nginx's worker), comma-separated,
# for waitload's -cpu-pids.
pids() {
  echo "$1" $(pgrep -P "$1" 2>/dev/null) | tr ' ' ,
}

# stop PID: TERM (nginx's fast shutdown stops its worker too), then wait.
stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# run SERVER MODE RATE ROUND: one waitload run against a fresh Redis and server.
run() {
  local server=$1 mode=$2 rate=$3 round=$4
  local name=$mode-$rate-$server-r$round
  local dir
  dir=$(mktemp -d "$BIN/$name.XXXX")
  drain_time_wait
  start_redis "$dir"
  start_server "$server" "$dir"
  rm -f "$OUT/$name.json" "$OUT/$name.html" # never a report of an earlier sitting
  echo "== $name: $(uptime | sed 's/.*load/load/'), TIME_WAIT sockets $(ss -tan state time-wait 2>/dev/null | wc -l)" | tee "$OUT/$name.txt"
  "${CLI[@]}" "$BIN/waitload" -server "$server" -target "$TARGET" -redis "$REDIS" -cpu-pids "$(pids "$SERVER_PID")" \
    -mode "$mode" -waiters "$WAITERS" -jobs "$JOBS" -rate "$rate" -hold 2s -budget 30s -sources 8 \
    -quiet -timeout 5m -json "$OUT/$name.json" -html "$OUT/$name.html" >>"$OUT/$name.txt" 2>&1 ||
    echo "peerbench: $name failed (see $OUT/$name.txt)" >&2
  [ -f "$OUT/$name.json" ] && REPORTS+=("$OUT/$name.json")
  # The CPU each used over the whole run: the same work costs Redis the
  # same, so its figure also shows how fast core 1 was during the run.
  echo "    cpu ms: server $(cpu_ms "$SERVER_PID" $(pgrep -P "$SERVER_PID")), redis $(cpu_ms "$REDIS_PID")" |
    tee -a "$OUT/$name.txt"
  grep -E 'delivered|latency p(50|99)|KiB per held' "$OUT/$name.txt" | tr -s ' ' | sed 's/^ */    /; s/jobwait //' || true
  stop "$SERVER_PID"
  stop "$REDIS_PID"
  cp "$dir/server.log" "$OUT/$name.server.log" 2>/dev/null || true
}

REPORTS=()
for round in $(seq "$ROUNDS"); do
  order="jobwait nchan"
  [ $((round % 2)) -eq 0 ] && order="nchan jobwait"
  for sc in $SCENARIOS; do
    for server in $order; do
      run "$server" "${sc%%:*}" "${sc##*:}" "$round"
    done
  done
done

echo "load after: $(uptime)" | tee -a "$OUT/conditions.txt"
{
  echo
  sed 's/^/    /' "$OUT/conditions.txt"
  echo
  "$BIN/waitload" compare "${REPORTS[@]}"
} | tee "$OUT/sidebyside.md"
