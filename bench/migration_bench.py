"""Bytes per sample of Odin's blocks against Prometheus 2.42's for the same scraped data.

Prometheus and two `odin server`s (default XOR chunks, and --storage.tsdb.chunk-encoding=odin)
scrape one `odin agent` every second for --minutes (default 4) with --block-minutes blocks
(default 1), are stopped, and the blocks each wrote are measured: chunk bytes, index bytes and
whole-block bytes per sample (from meta.json's numSamples), plus how regular the scrape timestamps
were (share of timestamp deltas equal to the interval: a zero delta-of-delta costs 1 bit, a jittered
one 16 or more, which matters more than the value codec). Prints a Markdown table for
bench/RESULTS.md. When bench_chunk_codec is built next to the odin binary, the samples of
Prometheus' blocks also go through both chunk codecs (same data, chunk payload only, decode time).
Needs /usr/bin/prometheus; build odin first (ODIN_BIN or build/odin)."""
import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import odintest  # noqa: E402
import test_prometheus_migration as mig  # noqa: E402


def block_stats(data):
    st = collections.Counter()
    for b in os.listdir(data):
        meta_path = os.path.join(data, b, "meta.json")
        if len(b) != 26 or not os.path.exists(meta_path):
            continue
        with open(meta_path) as f:
            meta = json.load(f)
        st["blocks"] += 1
        st["samples"] += meta["stats"].get("numSamples", 0)
        st["series"] += meta["stats"].get("numSeries", 0)
        st["chunks"] += meta["stats"].get("numChunks", 0)
        st["index"] += os.path.getsize(os.path.join(data, b, "index"))
        cdir = os.path.join(data, b, "chunks")
        st["chunk_bytes"] += sum(os.path.getsize(os.path.join(cdir, c)) for c in os.listdir(cdir))
        st["total"] += sum(os.path.getsize(os.path.join(r, f))
                           for r, _, fs in os.walk(os.path.join(data, b)) for f in fs)
    return st


def regularity(odin, data):
    """Share of consecutive-sample timestamp deltas equal to 1000 ms (blocks and WAL)."""
    out = subprocess.run([odin, "tsdb", "dump", data], capture_output=True, text=True,
                         timeout=600).stdout
    last = {}
    same = total = 0
    for line in out.splitlines():
        head, _, rest = line.rpartition("} ")
        parts = rest.split()
        if len(parts) != 2:
            continue
        t = int(parts[1])
        if head in last:
            total += 1
            same += (t - last[head]) == 1000
        last[head] = t
    return same / total if total else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=4)
    ap.add_argument("--block-minutes", type=int, default=1)
    ap.add_argument("--keep", help="copy the data directories here for later analysis")
    args = ap.parse_args()
    if not mig.prometheus_present():
        odintest.skip("prometheus is not installed")
    odin = odintest.odin_bin()
    work = odintest.tempdir("odin-bpsample-")
    flags = ["--storage.tsdb.min-block-duration=%dm" % args.block_minutes,
             "--storage.tsdb.max-block-duration=%dm" % args.block_minutes]
    with odintest.Agent(odin, ["agent"]) as agent:
        target = "127.0.0.1:%d" % agent.port
        pcfg, ocfg = os.path.join(work, "p.yml"), os.path.join(work, "o.yml")
        mig.write_config(pcfg, target)
        mig.write_config(ocfg, target)
        pdata, odata = os.path.join(work, "prom"), os.path.join(work, "odin")
        cdata = os.path.join(work, "odin-chunks")
        with mig.prometheus(pcfg, pdata, flags), mig.odin_server(odin, ocfg, odata, flags), \
                mig.odin_server(odin, ocfg, cdata,
                                flags + ["--storage.tsdb.chunk-encoding=odin"]):
            time.sleep(args.minutes * 60)
    if args.keep:
        shutil.copytree(work, args.keep, dirs_exist_ok=True)
    print("| writer | blocks | series | samples | chunk B/sample | index B/sample | "
          "block B/sample | samples/chunk | 1 s deltas |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, data in (("Prometheus 2.42", pdata), ("Odin, XOR chunks", odata),
                       ("Odin, --storage.tsdb.chunk-encoding=odin", cdata)):
        st = block_stats(data)
        n = st["samples"] or 1
        print("| %s | %d | %d | %d | %.3f | %.3f | %.3f | %.1f | %.1f%% |" % (
            name, st["blocks"], st["series"], st["samples"], st["chunk_bytes"] / n,
            st["index"] / n, st["total"] / n, st["samples"] / max(st["chunks"], 1),
            100 * regularity(odin, data)))
    codec = os.path.join(os.path.dirname(os.path.abspath(odin)), "bench_chunk_codec")
    if os.path.exists(codec):
        dump = subprocess.run([odin, "tsdb", "dump", pdata], capture_output=True, text=True,
                              timeout=600).stdout
        for cut in (120, 480):
            print("\nPrometheus' samples through both codecs, Odin chunks cut at %d samples:\n"
                  % cut)
            print(subprocess.run([codec, "--odin-samples", str(cut)], input=dump,
                                 capture_output=True, text=True, timeout=600).stdout, end="")


if __name__ == "__main__":
    main()
