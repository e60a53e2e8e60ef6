#!/usr/bin/env bash
# cpu.sh BIN MODE: one run of 10,000 waiters on 1,000 jobs at 1,000
# completions/s against the jobwait binary BIN (jobwait and a fresh Redis on
# core 1, waitload on core 0), printing jobwait's CPU time (utime + stime
# from /proc) from all waiters held to the run's end, and the latency.
# Needs a waitload binary at /tmp/prof/waitload (go build -o /tmp/prof/waitload
# ./cmd/waitload). Used for BENCHMARKS.md's "fewer hops" before/after, with
# the two binaries alternated three times:
#   for i in 1 2 3; do for b in base perf; do for m in sse longpoll; do
#     echo -n "$b "; cpu.sh /tmp/prof/jw-$b $m; done; done; done
set -u
BIN=$1; MODE=$2
taskset -c 1 redis-server --port 16498 --bind 127.0.0.1 --save '' --appendonly no --dir /tmp >/dev/null 2>&1 &
RP=$!
sleep 0.5
taskset -c 1 env JOBWAIT_ADDR=127.0.0.1:18198 REDIS_URL=redis://127.0.0.1:16498/0 JOBWAIT_DEMO=false JOBWAIT_WAIT_BUDGET=30s $BIN >/dev/null 2>&1 &
SP=$!
for i in $(seq 100); do curl -sf http://127.0.0.1:18198/readyz >/dev/null && break; sleep 0.1; done
taskset -c 0 /tmp/prof/waitload -target http://127.0.0.1:18198 -redis redis://127.0.0.1:16498/0 -mode $MODE -waiters 10000 -jobs 1000 -rate 1000 -hold 3s -budget 30s -sources 8 -quiet -timeout 5m > /tmp/prof/cpu-wl.txt 2>&1 &
WP=$!
for i in $(seq 300); do n=$(curl -s http://127.0.0.1:18198/metrics | grep '^jobwait_waiters{' | awk '{s+=$2} END {print int(s)}'); [ "${n:-0}" -ge 10000 ] 2>/dev/null && break; sleep 0.1; done
t0=$(awk '{print $14+$15}' /proc/$SP/stat)
wait $WP
t1=$(awk '{print $14+$15}' /proc/$SP/stat)
kill $SP; wait $SP 2>/dev/null
kill $RP; wait $RP 2>/dev/null
echo "$MODE cpu_ms=$(( (t1-t0)*10 )) $(grep -E 'delivered|latency p50|latency p99' /tmp/prof/cpu-wl.txt | awk '{printf "%s=%s ", $(NF-1), $NF}') load=$(cut -d' ' -f1 /proc/loadavg)"
