#!/bin/bash
# Two builds of `odin server` at once on the same bench_scrape_targets (one prometheus.yml, two
# data directories): CPU ticks of each over WINDOW_S after WARM_S, and VmRSS (kB) at the end.
# Run it twice with the builds swapped: the one started first tends to get the better ticks.
# The targets come from BUILD_B.
# Usage: bench/server_ab.sh BUILD_A BUILD_B TARGETS INTERVAL_S WARM_S WINDOW_S
#   e.g. bench/server_ab.sh /tmp/before/build build 50 1 40 90   (100k series at 1 s)
set -eu
A=$1 B=$2 N=$3 I=$4 WARM=$5 WIN=$6
. "$(dirname "$0")/targets_lib.sh"
start_targets "$B" "$N" "$I"
"$A/odin" server --config.file="$D/prometheus.yml" --storage.tsdb.path="$D/a" \
    --web.listen-address=127.0.0.1:"$(free_port)" >"$D/a.log" 2>&1 &
PA=$!
PIDS="$PIDS $PA"
"$B/odin" server --config.file="$D/prometheus.yml" --storage.tsdb.path="$D/b" \
    --web.listen-address=127.0.0.1:"$(free_port)" >"$D/b.log" 2>&1 &
PB=$!
PIDS="$PIDS $PB"
sleep "$WARM"
ticks() { awk '{print $14+$15}' /proc/"$1"/stat; }
rss() { awk '/^VmRSS:/ {print $2}' /proc/"$1"/status; }
a0=$(ticks $PA) b0=$(ticks $PB)
sleep "$WIN"
a1=$(ticks $PA) b1=$(ticks $PB)
echo "A ticks $((a1 - a0)) rss_kib $(rss $PA)   B ticks $((b1 - b0)) rss_kib $(rss $PB)"
