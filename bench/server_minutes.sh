#!/bin/bash
# `odin server` alone on bench_scrape_targets for a number of minutes: each minute its VmRSS,
# RssAnon and RssFile (kB), its CPU ticks so far, and how long a GET /api/v1/status/tsdb took
# (STATUS=0 leaves the request out).
# Usage: bench/server_minutes.sh BUILD_DIR TARGETS INTERVAL_S MINUTES
#   e.g. bench/server_minutes.sh build 500 15 125      (1M series at 15 s, 2 h after start)
set -eu
B=$1 N=$2 I=$3 M=$4
D=$(mktemp -d /tmp/odin-server-minutes.XXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SP=0
cleanup() {
    kill "$SP" "$TP" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$D"
}
"$B/bench_scrape_targets" --targets "$N" --series 2000 --ports-file "$D/ports" >"$D/targets.log" 2>&1 &
TP=$!
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$D/ports" ] && break; sleep 0.1; done
T=$(for p in $(cat "$D/ports"); do printf "'127.0.0.1:%s', " "$p"; done)
TO=$((I < 10 ? I : 10))
printf "global: {scrape_interval: %ss, scrape_timeout: %ss}\nscrape_configs:\n  - job_name: bench\n    static_configs: [{targets: [%s]}]\n" \
    "$I" "$TO" "${T%, }" >"$D/prometheus.yml"
"$B/odin" server --config.file="$D/prometheus.yml" --storage.tsdb.path="$D/data" \
    --web.listen-address=127.0.0.1:"$PORT" >"$D/server.log" 2>&1 &
SP=$!
for m in $(seq "$M"); do
    sleep 60
    mem=$(awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s %s ", $1, $2}' /proc/$SP/status)
    st=-
    if [ "${STATUS:-1}" = 1 ]; then
        st=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$PORT/api/v1/status/tsdb")
    fi
    echo "min $m ${mem}cpu_ticks $(awk '{print $14+$15}' /proc/$SP/stat) status_tsdb_s $st"
done
