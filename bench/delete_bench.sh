#!/bin/bash
# How long /api/v1/admin/tsdb/delete_series takes while `odin server` scrapes, and the longest
# scrape around it: 50 targets x 2000 series at 1 s (bench_scrape_targets), then, after WAIT_S,
# the delete of one target's series.
# Usage: bench/delete_bench.sh [BUILD_DIR] [WAIT_S]    (defaults: build, 120)
set -eu
B=${1:-build}
W=${2:-120}
D=$(mktemp -d /tmp/odin-delete-bench.XXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
    kill "$SP" "$TP" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$D"
}
"$B/bench_scrape_targets" --targets 50 --series 2000 --ports-file "$D/ports" >"$D/targets.log" 2>&1 &
TP=$!
SP=0
trap cleanup EXIT
for _ in $(seq 50); do [ -s "$D/ports" ] && break; sleep 0.1; done
T=$(for p in $(cat "$D/ports"); do printf "'127.0.0.1:%s'," "$p"; done)
printf "global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n  - job_name: bench\n    static_configs: [{targets: [%s]}]\n" "${T%,}" >"$D/prometheus.yml"
"$B/odin" server --config.file="$D/prometheus.yml" --storage.tsdb.path="$D/data" \
    --web.listen-address="127.0.0.1:$PORT" --web.enable-admin-api >"$D/server.log" 2>&1 &
SP=$!
sleep "$W"
FIRST=$(head -1 "$D/ports")
echo "delete_series (HTTP code, seconds): $(curl -s -o /dev/null -w '%{http_code} %{time_total}' -X POST -g \
    "http://127.0.0.1:$PORT/api/v1/admin/tsdb/delete_series?match[]={instance=\"127.0.0.1:$FIRST\"}")"
sleep 15
curl -s -g "http://127.0.0.1:$PORT/api/v1/query" \
    --data-urlencode 'query=max(max_over_time(scrape_duration_seconds[30s]))' |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print("longest scrape in the last 30 s:", r[0]["value"][1] if r else "none")'
