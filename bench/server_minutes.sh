#!/bin/bash
# `odin server` alone on bench_scrape_targets for a number of minutes: each minute its VmRSS,
# RssAnon and RssFile (kB), its CPU ticks so far, and how long a GET /api/v1/status/tsdb took
# (STATUS=0 leaves the request out).
# Usage: bench/server_minutes.sh BUILD_DIR TARGETS INTERVAL_S MINUTES
#   e.g. bench/server_minutes.sh build 500 15 125      (1M series at 15 s, 2 h after start)
set -eu
B=$1 N=$2 I=$3 M=$4
. "$(dirname "$0")/targets_lib.sh"
start_targets "$B" "$N" "$I"
PORT=$(free_port)
"$B/odin" server --config.file="$D/prometheus.yml" --storage.tsdb.path="$D/data" \
    --web.listen-address=127.0.0.1:"$PORT" >"$D/server.log" 2>&1 &
SP=$!
PIDS="$PIDS $SP"
for m in $(seq "$M"); do
    sleep 60
    mem=$(awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s %s ", $1, $2}' /proc/$SP/status)
    st=-
    if [ "${STATUS:-1}" = 1 ]; then
        st=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$PORT/api/v1/status/tsdb")
    fi
    echo "min $m ${mem}cpu_ticks $(awk '{print $14+$15}' /proc/$SP/stat) status_tsdb_s $st"
done
