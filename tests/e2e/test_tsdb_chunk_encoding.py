"""Odin's optional chunk encoding through the `odin` binary: `odin tsdb dump` and `analyze` read a
data directory whose block holds Odin-encoded chunks exactly as they read the same series in XOR
chunks, and `odin server` refuses an unknown --storage.tsdb.chunk-encoding before it starts.
`odin tsdb recode --encoding=xor` turns the Odin-encoded block back into one that promtool reads
(analyze, and dump with the same samples), and --encoding=odin turns it back again; a directory
with nothing to convert is left untouched.
Blocks come from tests/tools/tsdb_write_block (write --odin)."""
import math
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402
import test_prometheus_migration as mig  # noqa: E402
import test_tsdb_promtool as blk  # noqa: E402


def series():
    """Node-like series: integer and decimal counters, ms * 0.001 seconds, float gauges, a stale
    marker's NaN, constants, and jittered timestamps."""
    data = {}
    base, step = 1700000000000, 15000
    for i in range(12):
        ls = (("__name__", "node_network_receive_bytes_total"), ("device", "eth%d" % i))
        data[ls] = [(base + k * step + (k * 7 + i) % 5, float(1000000 + k * k * 1337 + i))
                    for k in range(600)]
        ls = (("__name__", "node_disk_io_time_seconds_total"), ("device", "vd%d" % i))
        data[ls] = [(base + k * step, (i * 1000 + k * 37) * 0.001) for k in range(600)]
    data[(("__name__", "node_load1"),)] = [(base + k * step, math.sin(k) + 1.5)
                                           for k in range(600)]
    data[(("__name__", "up"), ("job", "node"))] = [(base + k * step, 1.0) for k in range(600)]
    data[(("__name__", "gone"),)] = [(base + k * step, float(k)) for k in range(10)] + [
        (base + 10 * step, math.nan)]
    return data


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr[-2000:]))
    return p.stdout


def block_of(parent):
    ulids = [e for e in os.listdir(parent) if len(e) == 26]
    return ulids[0] if len(ulids) == 1 else None


def recode(odin, parent, data, want_dump):
    """Recodes the Odin-encoded block in parent to XOR and back; promtool reads the XOR one."""
    errors = []
    promtool = shutil.which("promtool") or ("/usr/bin/promtool"
                                            if os.path.exists("/usr/bin/promtool") else None)
    for enc, code in (("xor", 1), ("odin", 0x4f)):
        before = block_of(parent)
        out = run([odin, "tsdb", "recode", "--encoding=" + enc, parent])
        if not out.startswith("1 blocks rewritten in %s chunks, 0 already" % enc):
            errors.append("recode to %s: %r" % (enc, out))
        ulid = block_of(parent)
        if not ulid or ulid == before:
            errors.append("recode to %s: blocks %s (before %s)" % (enc, os.listdir(parent), before))
            continue
        encs, _ = blk.chunk_encodings(os.path.join(parent, ulid))
        if set(encs) != {code}:
            errors.append("recode to %s: chunk encodings %s" % (enc, sorted(set(encs))))
        if sorted(run([odin, "tsdb", "dump", parent]).splitlines()) != want_dump:
            errors.append("recode to %s: odin tsdb dump differs from the original's" % enc)
        again = run([odin, "tsdb", "recode", "--encoding=" + enc, parent])
        if not again.startswith("0 blocks rewritten in %s chunks, 1 already" % enc):
            errors.append("second recode to %s: %r" % (enc, again))
        if enc == "xor" and promtool:
            out = run([promtool, "tsdb", "analyze", parent, ulid])
            if "Series: %d" % len(data) not in out:
                errors.append("promtool analyze of the recoded block: %s" % out[:400])
            got = blk.parse_dump(run([promtool, "tsdb", "dump", parent]))
            errors += blk.compare("promtool dump of the recoded block", data, got)
    p = subprocess.run([odin, "tsdb", "recode", "--encoding=zstd", parent], capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 2 or "neither xor nor odin" not in p.stderr:
        errors.append("recode --encoding=zstd: exit %d, %s" % (p.returncode, p.stderr[-300:]))
    p = subprocess.run([odin, "tsdb", "recode", "--encoding=xor", os.path.join(parent, "nope")],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 1 or "not a directory" not in p.stderr:
        errors.append("recode of a missing dir: exit %d, %s" % (p.returncode, p.stderr[-300:]))
    return errors


def main():
    odin = odintest.odin_bin()
    tool = blk.find_tool()
    data = series()
    errors = []
    dumps = {}
    parents = {}
    for name, flags in (("xor", []), ("odin", ["--odin"])):
        parent = parents[name] = odintest.tempdir("odin-enc-%s-" % name)
        ulid = blk.run([tool, "write", parent] + flags, input=blk.tool_input(data)).strip()
        encs, _ = blk.chunk_encodings(os.path.join(parent, ulid))
        if set(encs) != {0x4f if name == "odin" else 1}:
            errors.append("%s: chunk encodings %s" % (name, sorted(set(encs))))
        dumps[name] = sorted(run([odin, "tsdb", "dump", parent]).splitlines())
        errors += blk.compare("odin tsdb dump of the %s block" % name, data,
                              blk.parse_dump("\n".join(dumps[name])))
        out = run([odin, "tsdb", "analyze", parent])
        if "Series: %d" % len(data) not in out or "Samples: %d" % sum(
                len(v) for v in data.values()) not in out:
            errors.append("%s: analyze: %s" % (name, out[:400]))
    if dumps["xor"] != dumps["odin"]:
        errors.append("dumps of the XOR and Odin blocks differ")
    os.mkdir(os.path.join(parents["odin"], "wal"))  # promtool 2.42's dump opens the WAL too
    errors += recode(odin, parents["odin"], data, dumps["odin"])
    # nothing to convert: the directory is only read (no WAL made, no file touched)
    before = sorted(os.listdir(parents["xor"]))
    out = run([odin, "tsdb", "recode", "--encoding=xor", parents["xor"]])
    if not out.startswith("0 blocks rewritten in xor chunks, 1 already") or sorted(
            os.listdir(parents["xor"])) != before:
        errors.append("recode of an XOR directory: %r, files %s (before %s)" % (
            out, sorted(os.listdir(parents["xor"])), before))
    srv = odintest.tempdir("odin-enc-srv-")
    cfg = os.path.join(srv, "prometheus.yml")
    mig.write_config(cfg, None)
    p = subprocess.run([odin, "server", "--config.file=" + cfg,
                        "--storage.tsdb.chunk-encoding=zstd",
                        "--storage.tsdb.path=" + os.path.join(srv, "data"),
                        "--web.listen-address=127.0.0.1:%d" % odintest.free_port()],
                       capture_output=True, text=True, timeout=60)
    if p.returncode == 0 or "--storage.tsdb.chunk-encoding" not in p.stderr:
        errors.append("server with an unknown encoding: exit %d, stderr %s" % (
            p.returncode, p.stderr[-400:]))
    for e in errors:
        print("FAIL: " + e)
    if errors:
        sys.exit(1)
    print("PASS: %d series read back equal from XOR and Odin-encoded blocks" % len(data))


if __name__ == "__main__":
    main()
