#!/bin/bash
# Two builds of `odin server` at once on the same bench_scrape_targets (one prometheus.yml, two
# data directories): CPU ticks of each over WINDOW_S after WARM_S, and VmRSS (kB) at the end.
# Run it twice with the builds swapped: the one started first tends to get the better ticks.
# Usage: bench/server_ab.sh BUILD_A BUILD_B TARGETS INTERVAL_S WARM_S WINDOW_S
#   e.g. bench/server_ab.sh /tmp/before/build build 50 1 40 90   (100k series at 1 s)
set -eu
A=$1 B=$2 N=$3 I=$4 WARM=$5 WIN=$6
D=$(mktemp -d /tmp/odin-server-ab.XXXX)
PA=0 PB=0
cleanup() {
    kill "$PA" "$PB" "$TP" 2>/dev/null || true
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
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
"$A/odin" server --config.file="$D/prometheus.yml" --storage.tsdb.path="$D/a" \
    --web.listen-address=127.0.0.1:"$(port)" >"$D/a.log" 2>&1 &
PA=$!
"$B/odin" server --config.file="$D/prometheus.yml" --storage.tsdb.path="$D/b" \
    --web.listen-address=127.0.0.1:"$(port)" >"$D/b.log" 2>&1 &
PB=$!
sleep "$WARM"
ticks() { awk '{print $14+$15}' /proc/"$1"/stat; }
rss() { awk '/^VmRSS:/ {print $2}' /proc/"$1"/status; }
a0=$(ticks $PA) b0=$(ticks $PB)
sleep "$WIN"
a1=$(ticks $PA) b1=$(ticks $PB)
echo "A ticks $((a1 - a0)) rss_kib $(rss $PA)   B ticks $((b1 - b0)) rss_kib $(rss $PB)"
