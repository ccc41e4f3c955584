#!/usr/bin/env python3
"""bench/agent: CPU per scrape and RSS of `odin agent` against Debian's node_exporter 1.5, run side by
side on this machine with the same collectors (those both have and enable by default), plain and gzip.

    python3 bench/agent_bench.py [--scrapes N] [--rounds R] [--odin build/odin] [--write bench/RESULTS.md]

CPU is the process's utime+stime (from /proc/<pid>/stat, in clock ticks) over N scrapes, after a
warm-up, taken in R batches alternated between the two exporters, and again in nanoseconds from the
threads' schedstat (finer: a tick is 10 ms, about 0.02 ms per scrape over 500 scrapes); RSS is
VmRSS after the run. Prints a table of absolute numbers and ratios (node_exporter / odin)."""
import argparse
import datetime
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import odintest  # noqa: E402

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_ns(pid):
    """Time on CPU of every live thread of pid, in nanoseconds (/proc/PID/task/*/schedstat): finer
    than the tick counts of /proc/PID/stat, but blind to threads that exited meanwhile."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def scrape(url, gzip):
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return len(r.read())


def collectors(odin):
    """Default-on collectors of odin that node_exporter 1.5 also has."""
    help_text = subprocess.run([odin, "agent", "--help"], capture_output=True, text=True).stdout
    ours = []
    lines = help_text.splitlines()
    for i, line in enumerate(lines):
        line = line.strip()
        if line.startswith("--[no-]collector.") and "." not in line[len("--[no-]collector."):]:
            name = line[len("--[no-]collector."):]
            if i + 1 < len(lines) and "default: enabled" in lines[i + 1]:
                ours.append(name)
    ne_help = subprocess.run([NODE_EXPORTER, "--help"], capture_output=True, text=True)
    ne_text = ne_help.stdout + ne_help.stderr
    return [c for c in ours if "--collector.%s " % c in ne_text]


def measure_batch(proc, url, n, gzip, acc):
    c0 = cpu_seconds(proc.proc.pid)
    s0 = cpu_ns(proc.proc.pid)
    t0 = time.time()
    for _ in range(n):
        acc["bytes"] = scrape(url, gzip)
    acc["wall"] += time.time() - t0
    acc["cpu"] += cpu_seconds(proc.proc.pid) - c0
    acc["sched"] += cpu_ns(proc.proc.pid) - s0
    acc["n"] += n


def measure_pair(theirs, ours, n, rounds, gzip):
    """Alternates batches of scrapes between the two exporters, so that load from other work on
    the machine falls on both alike; returns per-scrape figures for each."""
    accs = []
    for p in (theirs, ours):
        for _ in range(5):
            scrape(p.url("/metrics"), gzip)
        accs.append({"cpu": 0.0, "sched": 0, "wall": 0.0, "n": 0, "bytes": 0})
    per = max(1, n // rounds)
    for _ in range(rounds):
        for p, acc in zip((theirs, ours), accs):
            measure_batch(p, p.url("/metrics"), per, gzip, acc)
    out = []
    for p, acc in zip((theirs, ours), accs):
        n_done = acc["n"]
        out.append({"cpu_ms": acc["cpu"] * 1000 / n_done, "wall_ms": acc["wall"] * 1000 / n_done,
                    "sched_ms": acc["sched"] / 1e6 / n_done,
                    "bytes": acc["bytes"], "rss_kib": rss_kib(p.proc.pid)})
    return out


def mapped_libraries(pid):
    """Base names of the shared objects mapped into pid, sorted."""
    libs = set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and ".so" in parts[5]:
                libs.add(os.path.basename(parts[5]))
    return sorted(libs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scrapes", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5,
                    help="batches per exporter, alternated (default 5)")
    ap.add_argument("--odin", default=os.path.join(odintest.source_dir(), "build", "odin"))
    ap.add_argument("--write", help="append the result table to this markdown file")
    args = ap.parse_args()
    if not os.path.exists(NODE_EXPORTER):
        print("node_exporter not installed (scripts/setup)")
        return 1
    cols = collectors(args.odin)
    flags = ["--collector.disable-defaults"] + ["--collector." + c for c in cols]
    ne_port = odintest.free_port()
    rows = []
    with odintest.Process([NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % ne_port] + flags,
                          ne_port, "/") as ne, \
            odintest.Agent(args.odin, ["agent"] + flags) as ag:
        for gzip in (False, True):
            theirs, ours = measure_pair(ne, ag, args.scrapes, args.rounds, gzip)
            rows.append(("gzip" if gzip else "plain", theirs, ours))
        libs = mapped_libraries(ag.proc.pid)
    out = []
    out.append("Collectors (%d): %s" % (len(cols), " ".join(cols)))
    out.append("")
    out.append("Libraries mapped by odin: %s" % " ".join(libs))
    out.append("")
    out.append("Load average at the end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    out.append("")
    out.append("| encoding | node_exporter CPU/scrape | odin CPU/scrape | CPU ratio | "
               "node_exporter schedstat | odin schedstat | schedstat ratio | "
               "node_exporter RSS | odin RSS | RSS ratio | bytes (ne / odin) |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for enc, t, o in rows:
        out.append("| %s | %.3f ms | %.3f ms | %.1fx | %.3f ms | %.3f ms | %.2fx "
                   "| %.2f MiB | %.2f MiB | %.1fx | %d / %d |" % (
                       enc, t["cpu_ms"], o["cpu_ms"], t["cpu_ms"] / max(o["cpu_ms"], 1e-6),
                       t["sched_ms"], o["sched_ms"], t["sched_ms"] / max(o["sched_ms"], 1e-6),
                       t["rss_kib"] / 1024, o["rss_kib"] / 1024,
                       t["rss_kib"] / max(o["rss_kib"], 1), t["bytes"], o["bytes"]))
    text = "\n".join(out)
    print(text)
    if args.write:
        with open(args.write, "a") as f:
            f.write("\n## bench/agent: odin agent vs node_exporter 1.5 (%s)\n\n" %
                    datetime.date.today().isoformat())
            f.write("Command: `python3 bench/agent_bench.py --scrapes %d` on this 2-core machine; "
                    "CPU is utime+stime over the scrapes (HZ=%d, so small numbers are coarse); "
                    "schedstat is the threads' time on CPU in ns.\n\n"
                    % (args.scrapes, CLK_TCK))
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
