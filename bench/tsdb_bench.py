#!/usr/bin/env python3
"""Drives bench_tsdb_bench: Odin's append CPU per sample, RSS per active series and bytes per
sample on disk; and, on the same generated samples written as OpenMetrics, the bytes per sample of
the blocks Prometheus' `promtool tsdb create-blocks-from openmetrics` writes.

  python3 bench/tsdb_bench.py --build build [--series 100000] [--minutes 240] [--om-series 5000]
                              [--data hard|realistic]

--data realistic gives the series a real node_exporter's share of constant and moving series
(bench_tsdb_bench's --data); hard, the default, is the data of earlier figures.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile


def block_totals(root):
    total = samples = 0
    for meta in glob.glob(os.path.join(root, "*", "meta.json")):
        d = os.path.dirname(meta)
        with open(meta) as f:
            samples += json.load(f)["stats"].get("numSamples", 0)
        for path, _, files in os.walk(d):
            total += sum(os.path.getsize(os.path.join(path, x)) for x in files)
    return total, samples


def odin_run(tool, series, minutes, data, tmp):
    d = os.path.join(tmp, "odin-%d" % series)
    out = subprocess.run([tool, "--dir", d, "--series", str(series), "--minutes", str(minutes),
                          "--data", data],
                         capture_output=True, text=True, check=True).stdout
    shutil.rmtree(d, True)
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--series", type=int, default=100000)
    ap.add_argument("--minutes", type=int, default=240)
    ap.add_argument("--om-series", type=int, default=5000)
    ap.add_argument("--promtool", default="/usr/bin/promtool")
    ap.add_argument("--data", choices=("hard", "realistic"), default="hard")
    a = ap.parse_args()
    tool = os.path.join(a.build, "bench_tsdb_bench")
    tmp = tempfile.mkdtemp(prefix="odin-tsdb-bench-")
    try:
        big = odin_run(tool, a.series, a.minutes, a.data, tmp)
        small = odin_run(tool, a.om_series, a.minutes, a.data, tmp)
        om = os.path.join(tmp, "data.om")
        subprocess.run([tool, "--dir", tmp, "--series", str(a.om_series), "--minutes",
                        str(a.minutes), "--data", a.data, "--om", om], check=True)
        pdir = os.path.join(tmp, "promtool")
        subprocess.run([a.promtool, "tsdb", "create-blocks-from", "openmetrics", om, pdir],
                       check=True, capture_output=True)
        pbytes, psamples = block_totals(pdir)
        pbps = pbytes / psamples
        print("odin %d series (%s data): %.1f ns CPU/sample, %.0f B RSS/series, "
              "%.3f B/sample on disk" % (a.series, a.data, big["ns_per_sample"],
                                         big["rss_bytes_per_series"], big["bytes_per_sample"]))
        print("same data, %d series: odin %.3f B/sample, promtool %.3f B/sample (ratio %.3f)" %
              (a.om_series, small["bytes_per_sample"], pbps, small["bytes_per_sample"] / pbps))
    finally:
        shutil.rmtree(tmp, True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
