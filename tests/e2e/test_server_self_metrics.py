#!/usr/bin/env python3
"""The server's own /metrics against Prometheus 2.42's: both scrape the same target under the
same configuration, whose jobs hit the sample, label and body size limits and whose explicit
timestamps repeat (duplicates) and go backwards (out of order). Every family Odin exposes must
exist in Prometheus with the same type, help text and label names; the families Prometheus'
own dashboards and alerts use must be there; the counters must move where Prometheus' move, and
the target and discovery gauges must agree. Skips (77) without /usr/bin/prometheus."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402

PROMETHEUS = os.environ.get("PROMETHEUS_BIN", "/usr/bin/prometheus")

# Families that Odin exposes beyond Prometheus 2.42's set.
ODIN_ONLY = {"prometheus_tsdb_wal_storage_size_bytes"}

# What Prometheus' mixin (alerts and the overview dashboard) reads, where Odin has the quantity.
REQUIRED = [
    "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
    "process_max_fds", "process_start_time_seconds", "process_virtual_memory_bytes",
    "prometheus_build_info", "prometheus_ready", "prometheus_config_last_reload_successful",
    "prometheus_config_last_reload_success_timestamp_seconds",
    "prometheus_sd_discovered_targets", "prometheus_target_interval_length_seconds",
    "prometheus_target_scrape_pool_targets", "prometheus_target_scrape_pool_sync_total",
    "prometheus_target_scrape_pool_exceeded_label_limits_total",
    "prometheus_target_scrape_pool_exceeded_target_limit_total",
    "prometheus_target_scrapes_exceeded_body_size_limit_total",
    "prometheus_target_scrapes_exceeded_sample_limit_total",
    "prometheus_target_scrapes_sample_duplicate_timestamp_total",
    "prometheus_target_scrapes_sample_out_of_order_total",
    "prometheus_target_scrapes_sample_out_of_bounds_total",
    "prometheus_tsdb_head_series", "prometheus_tsdb_head_chunks",
    "prometheus_tsdb_head_samples_appended_total", "prometheus_tsdb_compactions_failed_total",
    "prometheus_tsdb_wal_corruptions_total", "prometheus_tsdb_wal_fsync_duration_seconds",
    "prometheus_tsdb_head_min_time_seconds", "prometheus_tsdb_head_max_time_seconds",
    "prometheus_tsdb_lowest_timestamp_seconds", "prometheus_tsdb_storage_blocks_bytes",
    "prometheus_tsdb_time_retentions_total", "prometheus_tsdb_size_retentions_total",
]

# Counters the configuration below makes move in both servers.
MOVING = [
    "prometheus_target_scrapes_exceeded_sample_limit_total",
    "prometheus_target_scrapes_exceeded_body_size_limit_total",
    "prometheus_target_scrape_pool_exceeded_label_limits_total",
    "prometheus_target_scrapes_sample_duplicate_timestamp_total",
    "prometheus_target_scrapes_sample_out_of_order_total",
]


class Target:
    """Each answer's explicit timestamps: the same one with a new value every scrape (a duplicate
    from the second scrape on), and one a second earlier every scrape (out of order from the
    second on)."""
    start_ms = int(time.time() * 1000)
    count = 0
    lock = threading.Lock()

    @classmethod
    def body(cls):
        with cls.lock:
            cls.count += 1
            n = cls.count
        return ("# TYPE plain gauge\nplain{a=\"1\"} 1\nplain{a=\"2\"} 2\n"
                "same_ts %d %d\nbackwards %d %d\n" % (n, cls.start_ms, n, cls.start_ms - 1000 * n))


def parse(text):
    """{family: {"type": t, "help": h, "samples": [(name, {labels}, value)]}}."""
    fams, cur = {}, None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            cur = fams.setdefault(name, {"type": None, "help": None, "samples": []})
            cur["help"] = help_text
        elif line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            cur = fams.setdefault(name, {"type": None, "help": None, "samples": []})
            cur["type"] = typ
        elif line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            name, labels = series, {}
            if "{" in series:
                name, rest = series.split("{", 1)
                for pair in rest.rstrip("}").split('",'):
                    if pair:
                        k, v = pair.split("=", 1)
                        labels[k] = v.strip('"')
            cur["samples"].append((name, labels, float(value)))
    return fams


def value(fams, name, **labels):
    """The first sample named `name` (a family's or its _sum/_count) with these label values."""
    for fam in fams.values():
        for n, ls, v in fam["samples"]:
            if n == name and all(ls.get(k) == x for k, x in labels.items()):
                return v
    return None


def main():
    if not os.path.exists(PROMETHEUS):
        odintest.skip("prometheus not installed (Debian package prometheus)")
    odin = odintest.odin_bin()
    srv, target_port = odintest.serve_text(Target.body)
    target = "127.0.0.1:%d" % target_port
    work = odintest.tempdir("odin-self-")
    config = os.path.join(work, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n"
                "  - job_name: plain\n    static_configs: [{targets: ['%s']}]\n"
                "  - job_name: samples\n    sample_limit: 1\n"
                "    static_configs: [{targets: ['%s']}]\n"
                "  - job_name: labels\n    label_limit: 2\n"
                "    static_configs: [{targets: ['%s']}]\n"
                "  - job_name: body\n    body_size_limit: 10B\n"
                "    static_configs: [{targets: ['%s', '127.0.0.1:1']}]\n"
                % (target, target, target, target))
    got = {}
    procs = [("odin", [odin, "server"]), ("prometheus", [PROMETHEUS])]
    servers = []
    for name, argv in procs:
        port = odintest.free_port()
        servers.append((name, odintest.Process(
            argv + ["--config.file=" + config,
                    "--storage.tsdb.path=" + os.path.join(work, name),
                    "--web.listen-address=127.0.0.1:%d" % port], port, "/-/ready")))
    for _, p in servers:
        p.__enter__()
    try:
        time.sleep(12)  # Prometheus' scrape manager takes its first targets after 5 s
        for name, p in servers:
            got[name] = parse(odintest.http_get(p.url("/metrics"))[2].decode())
    finally:
        for _, p in servers:
            p.stop()
        srv.shutdown()
    mine, prom = got["odin"], got["prometheus"]
    errors = []
    for fam, f in sorted(mine.items()):
        if fam in ODIN_ONLY:
            continue
        if fam not in prom:
            errors.append("%s: not a Prometheus 2.42 family" % fam)
            continue
        p = prom[fam]
        if f["type"] != p["type"] or f["help"] != p["help"]:
            errors.append("%s: type/help %r %r, Prometheus %r %r" % (
                fam, f["type"], f["help"], p["type"], p["help"]))
        keys = {(n, tuple(sorted(ls))) for n, ls, _ in f["samples"]}
        pkeys = {(n, tuple(sorted(ls))) for n, ls, _ in p["samples"]}
        if pkeys and not keys <= pkeys:
            errors.append("%s: label names %s, Prometheus %s" % (fam, sorted(keys),
                                                                 sorted(pkeys)))
    for fam in REQUIRED:
        if fam not in mine:
            errors.append("%s: missing" % fam)
    for fam in MOVING:
        o, p = value(mine, fam), value(prom, fam)
        if not (o and p):
            errors.append("%s: odin %s, Prometheus %s (both should count)" % (fam, o, p))
    for job in ("plain", "samples", "labels", "body"):
        for fam, lab in (("prometheus_target_scrape_pool_targets", {"scrape_job": job}),
                         ("prometheus_sd_discovered_targets", {"config": job})):
            o, p = value(mine, fam, **lab), value(prom, fam, **lab)
            if o is None or o != p:
                errors.append("%s%s: odin %s, Prometheus %s" % (fam, lab, o, p))
    for fam in ("prometheus_ready", "prometheus_config_last_reload_successful",
                "prometheus_target_scrape_pools_total"):
        if value(mine, fam) != value(prom, fam):
            errors.append("%s: odin %s, Prometheus %s" % (fam, value(mine, fam),
                                                          value(prom, fam)))
    n = value(mine, "prometheus_target_interval_length_seconds_count", interval="1s")
    q = value(mine, "prometheus_target_interval_length_seconds", interval="1s", quantile="0.5")
    if not n or not q or abs(q - 1) > 0.1:
        errors.append("interval length 1s: count %s, median %s" % (n, q))
    for e in errors:
        print("FAIL: " + e)
    if errors:
        sys.exit(1)
    print("PASS: %d families match Prometheus 2.42's (type, help, labels)" % len(mine))


if __name__ == "__main__":
    main()
