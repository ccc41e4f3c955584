# Sourced by the server benches: bench_scrape_targets from BUILD_DIR with TARGETS targets of 2000
# series in a fresh directory $D, a prometheus.yml scraping them every INTERVAL_S, and removal of
# $D and of every process listed in $PIDS on exit.
# Usage: start_targets BUILD_DIR TARGETS INTERVAL_S
start_targets() {
    D=$(mktemp -d /tmp/odin-server-bench.XXXX)
    PIDS=""
    trap 'kill $PIDS 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$D"' EXIT
    "$1/bench_scrape_targets" --targets "$2" --series 2000 --ports-file "$D/ports" >"$D/targets.log" 2>&1 &
    PIDS="$PIDS $!"
    for _ in $(seq 100); do [ -s "$D/ports" ] && break; sleep 0.1; done
    local t to
    t=$(for p in $(cat "$D/ports"); do printf "'127.0.0.1:%s', " "$p"; done)
    to=$(($3 < 10 ? $3 : 10))
    printf "global: {scrape_interval: %ss, scrape_timeout: %ss}\nscrape_configs:\n  - job_name: bench\n    static_configs: [{targets: [%s]}]\n" \
        "$3" "$to" "${t%, }" >"$D/prometheus.yml"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
