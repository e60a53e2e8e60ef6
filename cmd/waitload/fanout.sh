#!/usr/bin/env bash
# fanout.sh makes the figures of BENCHMARKS.md's "Subscriptions by
# interest": what keyspace notifications cost Redis and the replicas as
# replicas multiply, under JOBWAIT_SUBSCRIBE=keys and =pattern in one
# sitting, and what churn, a Redis restart and a Sentinel failover cost.
# Redis and the replicas run on core 1, the load (waitload fanout and
# waitload) on core 0; every process is private, on loopback.
#
#   cmd/waitload/fanout.sh [OUT_DIR]   (default: fanout-out; results in OUT_DIR/results.jsonl)
#
# Needs redis-server, redis-cli and redis-sentinel, taskset and ss, and a
# file limit of 20,000 (the 18,000 held streams). RUNS=steady,churn,restart,
# failover,tail picks some of them (all by default); MODES="keys pattern".
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(realpath -m "${1:-fanout-out}")
RUNS=${RUNS:-steady,churn,restart,failover,tail}
MODES=${MODES:-keys pattern}
REPLICAS=${REPLICAS:-1 4 16}
SHARES=${SHARES:-0.001 0.01 0.1}
RATE=${RATE:-2000}         # steady: job writes a second
DURATION=${DURATION:-10s}  # steady, churn
HOLD=${HOLD:-18000}        # restart, failover
mkdir -p "$OUT"
BIN=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; for p in $RPORT 16610 16611 16612; do redis-cli -p $p shutdown nosave >/dev/null 2>&1 || true; done; rm -rf "$BIN"' EXIT

go build -o "$BIN/jobwait" ./cmd/jobwait
go build -o "$BIN/waitload" ./cmd/waitload
ON_REDIS="taskset -c 1"
ON_LOAD="taskset -c 0"
RPORT=16601
REDIS=redis://127.0.0.1:$RPORT/0
RESULTS=$OUT/results.jsonl

wait_ping() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done; echo "redis on $1 not up" >&2; exit 1; }

# start_redis PORT [ARGS...]: a private redis-server on core 1.
start_redis() {
  local port=$1; shift
  mkdir -p "$OUT/redis-$port"
  $ON_REDIS redis-server --port "$port" --bind 127.0.0.1 --dir "$OUT/redis-$port" --save '' --appendonly no \
    --logfile "$OUT/redis-$port/log" --daemonize yes "$@"
  wait_ping "$port"
}

# start_replicas MODE K URL: K jobwait processes on core 1; sets PIDS and TARGETS.
start_replicas() {
  local mode=$1 k=$2 url=$3
  PIDS=""; TARGETS=""
  for i in $(seq "$k"); do
    local port=$((18600 + i))
    JOBWAIT_ADDR=127.0.0.1:$port REDIS_URL=$url JOBWAIT_DEMO=false JOBWAIT_WAIT_BUDGET=120s \
      JOBWAIT_SUBSCRIBE=$mode $ON_REDIS "$BIN/jobwait" 2>"$OUT/jobwait-$mode-$i.log" &
    PIDS="$PIDS${PIDS:+,}$!"; TARGETS="$TARGETS${TARGETS:+,}http://127.0.0.1:$port"
  done
  for t in ${TARGETS//,/ }; do
    for _ in $(seq 100); do curl -sf "$t/readyz" >/dev/null && break; sleep 0.1; done
  done
}

stop_replicas() { kill -TERM ${PIDS//,/ } 2>/dev/null || true; wait ${PIDS//,/ } 2>/dev/null || true; }

# fanout runs one measurement; one that finds completions lost is reported
# (exit 3) and the others still run.
fanout() { $ON_LOAD "$BIN/waitload" fanout -json "$RESULTS" "$@" | tee -a "$OUT/results.txt" || echo "fanout: exit $?" | tee -a "$OUT/results.txt"; }

# wait_synced PORT: the replica on PORT has finished its first sync.
wait_synced() { for _ in $(seq 300); do redis-cli -p "$1" info replication | grep -q master_link_status:up && return; sleep 0.1; done; echo "replica on $1 not synced" >&2; exit 1; }

if [[ $RUNS == *steady* ]]; then
  start_redis $RPORT
  for k in $REPLICAS; do
    for share in $SHARES; do
      for mode in $MODES; do
        redis-cli -p $RPORT flushall >/dev/null
        start_replicas "$mode" "$k" "$REDIS"
        fanout -run steady -label "$mode" -targets "$TARGETS" -pids "$PIDS" -redis "$REDIS" \
          -rate "$RATE" -duration "$DURATION" -watched "$share"
        stop_replicas
      done
    done
  done
  redis-cli -p $RPORT shutdown nosave >/dev/null
fi

if [[ $RUNS == *churn* ]]; then
  start_redis $RPORT
  for mode in $MODES; do
    redis-cli -p $RPORT flushall >/dev/null
    start_replicas "$mode" 4 "$REDIS"
    fanout -run churn -label "$mode" -targets "$TARGETS" -redis "$REDIS" -rate 1000 -duration "$DURATION"
    stop_replicas
  done
  redis-cli -p $RPORT shutdown nosave >/dev/null
fi

if [[ $RUNS == *restart* ]]; then
  for mode in $MODES; do
    start_redis $RPORT
    start_replicas "$mode" 1 "$REDIS"
    # A restart that keeps the data: SHUTDOWN SAVE, then the same dump.
    fanout -run disrupt -label "$mode restart" -targets "$TARGETS" -redis "$REDIS" -hold "$HOLD" -sources 8 \
      -disrupt "redis-cli -p $RPORT shutdown save >/dev/null; $ON_REDIS redis-server --port $RPORT --bind 127.0.0.1 --dir $OUT/redis-$RPORT --save '' --appendonly no --logfile $OUT/redis-$RPORT/log --daemonize yes"
    stop_replicas
    redis-cli -p $RPORT shutdown nosave >/dev/null
    rm -f "$OUT/redis-$RPORT/dump.rdb"
  done
fi

if [[ $RUNS == *failover* ]]; then
  SPORT=16610 P1=16611 P2=16612
  for mode in $MODES; do
    start_redis $P1 --repl-diskless-sync-delay 0
    start_redis $P2 --replicaof 127.0.0.1 $P1
    wait_synced $P2
    mkdir -p "$OUT/sentinel"
    printf 'port %s\nbind 127.0.0.1\nsentinel monitor fo 127.0.0.1 %s 1\nsentinel down-after-milliseconds fo 1000\nsentinel failover-timeout fo 10000\n' \
      $SPORT $P1 >"$OUT/sentinel/sentinel.conf"
    $ON_REDIS redis-sentinel "$OUT/sentinel/sentinel.conf" --daemonize yes --logfile "$OUT/sentinel/log"
    wait_ping $SPORT
    SURL="redis://127.0.0.1:$SPORT/0?master_name=fo"
    start_replicas "$mode" 1 "$SURL"
    fanout -run disrupt -label "$mode failover" -targets "$TARGETS" -redis "$SURL" -hold "$HOLD" -sources 8 \
      -disrupt "redis-cli -p $P1 wait 1 5000 >/dev/null; redis-cli -p $SPORT sentinel failover fo >/dev/null"
    stop_replicas
    for p in $SPORT $P1 $P2; do redis-cli -p $p shutdown nosave >/dev/null 2>&1 || true; done
  done
fi

if [[ $RUNS == *tail* ]]; then
  # The delivery tail at 18,000 waiters, one replica, the modes in turns.
  start_redis $RPORT
  for round in 1 2; do
    for mode in $MODES; do
      redis-cli -p $RPORT flushall >/dev/null
      start_replicas "$mode" 1 "$REDIS"
      echo "== tail $mode round $round" | tee -a "$OUT/results.txt"
      $ON_LOAD "$BIN/waitload" -target "${TARGETS}" -redis "$REDIS" -quiet -timeout 5m -budget 120s \
        -mode sse -waiters 18000 -jobs 18000 -rate 1000 -cpu-pids "$PIDS" \
        -json "$OUT/tail-$mode-$round.json" | tee -a "$OUT/results.txt"
      stop_replicas
    done
  done
  redis-cli -p $RPORT shutdown nosave >/dev/null
fi
echo "results in $OUT"
