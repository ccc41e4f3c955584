#!/usr/bin/env python3
"""Scrape-path cost of `odin server` next to Prometheus 2.42 on the same synthetic targets.

bench_scrape_targets serves N ports of node_exporter-like text (S series each, values changing
every scrape); Odin and Prometheus scrape all of them with one config (--interval, 1 s), each with
its own data directory and port, at the same time. After a warm-up, over a measured window:
CPU (utime+stime from /proc) per appended sample (prometheus_tsdb_head_samples_appended_total
from each one's /metrics), RSS at the end, and scrapes made vs expected
(count_over_time(up[window])), missed intervals and how late scrapes started after their tick
(from the `up` timestamps, see up_timing), RSS per active series (RSS over targets x series), and
WAL bytes per sample (the wal/ directory's size at the end over every sample appended since the
start; both write snappy records by default). Prints a Markdown table.

Usage: bench/scrape_bench.py [--targets 50] [--series 2000] [--interval 1] [--warmup 30]
                             [--duration 120] [--build build] [--only odin|prometheus]
                             [--odin-flag=--storage.tsdb.wal-compression=false ...]
Standard library only; every process it starts is stopped on exit."""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def wait_http(url, proc, what):
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %d" % (what, proc.returncode))
        try:
            http_get(url, timeout=2)
            return
        except Exception:  # noqa: BLE001 - polling until it answers
            time.sleep(0.1)
    raise RuntimeError("%s did not answer at %s" % (what, url))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def appended(port):
    total = 0.0
    for line in http_get("http://127.0.0.1:%d/metrics" % port).splitlines():
        if line.startswith("prometheus_tsdb_head_samples_appended_total"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass  # a segment deleted while walking
    return total


def query(port, q, t):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode(
        {"query": q, "time": "%.3f" % t}))
    res = json.loads(http_get(url, timeout=60))["data"]["result"]
    return float(res[0]["value"][1]) if res else 0.0


def up_timing(port, window, t, interval):
    """From the `up` timestamps over the window, per target: the share of consecutive ones exactly
    one interval apart (a scrape that starts more than 2 ms after its tick keeps its own time,
    which costs ~2 bytes per sample on disk), missed intervals (a gap of k intervals between
    samples misses k-1, and so does a window edge farther than 1.5 intervals from the nearest
    sample), and how late each scrape
    started after its tick: its distance past the target's phase, the millisecond offset most of
    its timestamps share (aligned scrapes read 0 late, so this shows the late tail)."""
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode(
        {"query": 'up{job="bench"}[%ds]' % window, "time": "%.3f" % t}))
    exact = total = missed = 0
    late = []
    iv = interval * 1000
    for s in json.loads(http_get(url, timeout=60))["data"]["result"]:
        ts = [round(float(v[0]) * 1000) for v in s["values"]]
        for a, b in zip(ts, ts[1:]):
            total += 1
            exact += (b - a) == iv
            missed += max(0, round((b - a) / iv) - 1)
        if ts:
            lo, hi = round((t - window) * 1000), round(t * 1000)
            missed += max(0, round((ts[0] - lo) / iv - 0.5)) + max(0, round((hi - ts[-1]) /
                                                                           iv - 0.5))
            phases = {}
            for x in ts:
                phases[x % iv] = phases.get(x % iv, 0) + 1
            phase = max(phases, key=phases.get)
            # within 100 ms before the phase reads as early (negative), the rest as late
            late += [((x - phase + 100) % iv) - 100 for x in ts]
    late.sort()

    def pct(q):
        return late[min(len(late) - 1, int(q * len(late)))] if late else float("nan")
    return {"on_interval": exact / total if total else float("nan"), "missed": missed,
            "late_p50": pct(0.5), "late_p90": pct(0.9), "late_p99": pct(0.99),
            "late_max": late[-1] if late else float("nan"),
            "late_over_2ms": sum(x > 2 for x in late) / len(late) if late else float("nan")}


class Runner:
    def __init__(self):
        self.procs = []

    def start(self, argv, log):
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=50)
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--interval", type=int, default=1, help="scrape interval in seconds")
    ap.add_argument("--warmup", type=float, default=30)
    ap.add_argument("--duration", type=float, default=120)
    ap.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build"))
    ap.add_argument("--prometheus", default=shutil.which("prometheus") or "/usr/bin/prometheus")
    ap.add_argument("--only", choices=["odin", "prometheus"])
    ap.add_argument("--odin-flag", action="append", default=[],
                    help="an extra flag for odin server (repeatable)")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="odin-scrape-bench-")
    run = Runner()
    try:
        ports_file = os.path.join(work, "ports")
        log = open(os.path.join(work, "targets.log"), "w")
        tgt = run.start([os.path.join(args.build, "bench_scrape_targets"), "--targets",
                         str(args.targets), "--series", str(args.series), "--ports-file",
                         ports_file], log)
        deadline = time.time() + 10
        while not os.path.exists(ports_file) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        with open(ports_file) as f:
            ports = [int(x) for x in f.read().split()]
        targets = ", ".join("'127.0.0.1:%d'" % p for p in ports)
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global: {scrape_interval: %ds, scrape_timeout: %ds}\n"
                    "scrape_configs:\n  - job_name: bench\n"
                    "    static_configs: [{targets: [%s]}]\n" % (args.interval,
                                                              min(args.interval, 10), targets))
        servers = []
        if args.only != "prometheus":
            port = free_port()
            argv = [os.path.join(args.build, "odin"), "server", "--config.file=" + config,
                    "--storage.tsdb.path=" + os.path.join(work, "odin-data"),
                    "--web.listen-address=127.0.0.1:%d" % port] + args.odin_flag
            servers.append(("odin", port, argv))
        if args.only != "odin" and os.path.exists(args.prometheus):
            port = free_port()
            argv = [args.prometheus, "--config.file=" + config,
                    "--storage.tsdb.path=" + os.path.join(work, "prom-data"),
                    "--web.listen-address=127.0.0.1:%d" % port]
            servers.append(("prometheus", port, argv))
        procs = {}
        data_dir = {}
        for name, port, argv in servers:
            data_dir[name] = next(a.split("=", 1)[1] for a in argv
                                  if a.startswith("--storage.tsdb.path="))
            p = run.start(argv, open(os.path.join(work, name + ".log"), "w"))
            wait_http("http://127.0.0.1:%d/-/ready" % port, p, name)
            procs[name] = p
        time.sleep(args.warmup)
        start = {}
        for name, port, _ in servers:
            start[name] = (time.time(), cpu_seconds(procs[name].pid), appended(port))
        tgt_cpu0 = cpu_seconds(tgt.pid)
        time.sleep(args.duration)
        rows = []
        window = int(args.duration)
        expected = args.targets * (window // args.interval)
        for name, port, _ in servers:
            t1, c1, a1 = time.time(), cpu_seconds(procs[name].pid), appended(port)
            t0, c0, a0 = start[name]
            samples = a1 - a0
            made = query(port, 'sum(count_over_time(up{job="bench"}[%ds]))' % window, t1)
            dur = query(port, 'avg(avg_over_time(scrape_duration_seconds{job="bench"}[%ds]))'
                        % window, t1)
            rows.append({"name": name, "cpu_s": c1 - c0, "samples": samples,
                         "us_per_sample": (c1 - c0) / samples * 1e6 if samples else float("nan"),
                         "samples_per_s": samples / (t1 - t0), "rss_mib": rss_mib(procs[name].pid),
                         "scrapes": made, "expected": expected, "scrape_s": dur,
                         "rss_per_series_b": rss_mib(procs[name].pid) * 1048576 /
                         (args.targets * args.series),
                         "wal_b_per_sample": dir_bytes(os.path.join(data_dir[name], "wal")) / a1,
                         **up_timing(port, window, t1, args.interval)})
        tgt_cpu = cpu_seconds(tgt.pid) - tgt_cpu0
    finally:
        run.stop_all()
        shutil.rmtree(work, True)

    print("%d targets x %d series at %d s, %.0f s warm-up, %.0f s window (target server: %.1f "
          "CPU-s)\n" % (args.targets, args.series, args.interval, args.warmup, args.duration,
                        tgt_cpu))
    print("| server | CPU-s | samples appended | us CPU/sample | samples/s | RSS MiB | RSS B/series "
          "| scrapes made/expected | missed | avg scrape s | on-interval deltas | late > 2 ms "
          "| late ms p50/p90/p99/max | WAL B/sample |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %.2f | %.0f | %.3f | %.0f | %.0f | %.0f | %.0f/%d | %d | %.4f | %.1f%% | "
              "%.1f%% | %d/%d/%d/%d | %.2f |" % (
                  r["name"], r["cpu_s"], r["samples"], r["us_per_sample"], r["samples_per_s"],
                  r["rss_mib"], r["rss_per_series_b"], r["scrapes"], r["expected"], r["missed"],
                  r["scrape_s"],
                  100 * r["on_interval"], 100 * r["late_over_2ms"], r["late_p50"], r["late_p90"],
                  r["late_p99"], r["late_max"], r["wal_b_per_sample"]))
    if len(rows) == 2:
        o, p = rows
        print("\nratios odin/prometheus: CPU per sample %.3f, RSS %.3f" % (
            o["us_per_sample"] / p["us_per_sample"], o["rss_mib"] / p["rss_mib"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
