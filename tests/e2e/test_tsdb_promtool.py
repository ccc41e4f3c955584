"""Block format compatibility with Prometheus 2.42 in both directions: blocks written by Odin's
block_write (through tests/tools/tsdb_write_block) are analyzed and dumped by promtool, and blocks
made by `promtool tsdb create-blocks-from openmetrics` are read back by Odin's block reader. In both
directions the series and samples must equal what was written, and Prometheus' blocks rewritten by
Odin must come out byte for byte the same. The same series written in Odin's optional chunk
encoding read back equal through Odin's reader, and the default writes XOR chunks only. Skips when
promtool is absent."""
import ast
import math
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402

BASE_MS = 1700000000000
STEP_MS = 15000


def find_tool():
    cands = [os.environ.get("TSDB_WRITE_BLOCK_TOOL", "")]
    if os.environ.get("ODIN_BIN"):
        cands.append(os.path.join(os.path.dirname(os.environ["ODIN_BIN"]), "tsdb_write_block"))
    cands.append(os.path.join(odintest.source_dir(), "build", "tsdb_write_block"))
    for c in cands:
        if c and os.path.exists(c):
            return os.path.abspath(c)
    odintest.skip("tsdb_write_block not built (set TSDB_WRITE_BLOCK_TOOL)")
    return None


def gen_series():
    """{labels tuple: [(t_ms, value)]}: enough series that a label name has more than 32 values
    (promtool keeps every 32nd postings entry in memory), odd floats, and multi-chunk series."""
    data = {}
    for i in range(70):
        ls = (("__name__", "node_cpu_seconds_total"), ("cpu", str(i)), ("mode", "idle"))
        data[ls] = [(BASE_MS + k * STEP_MS, float(k * (i + 1))) for k in range(300)]
    specials = [math.nan, math.inf, -math.inf, 1e300, -0.5, 5e-324, 0.1, 123456789.125]
    data[(("__name__", "odd_values"), ("note", "a b:c/é"))] = [
        (BASE_MS + k * STEP_MS, specials[k % len(specials)]) for k in range(40)]
    # what Go's strconv.Quote escapes in dump output: quote, backslash, DEL, a C1 control, line
    # separator, no-break space, byte order mark; an emoji it keeps
    data[(("__name__", "quoted"), ("v", 'say "hi" \\ \x7f\x85\u2028\u00a0\ufeff \U0001f600'))] = [
        (BASE_MS + k * STEP_MS, float(k)) for k in range(3)]
    data[(("__name__", "sparse"), ("job", "x"))] = [
        (BASE_MS + k * 3600000, float(k)) for k in range(2)]
    data[(("__name__", "up"), ("instance", "h:9100"), ("job", "node"))] = [
        (BASE_MS + k * STEP_MS, float(k % 2)) for k in range(479)]
    return data


def tool_input(data):
    lines = []
    for ls, samples in data.items():
        lines.append("S\t" + "\t".join(n + "\t" + v for n, v in ls))
        for t, v in samples:
            lines.append("P\t%d\t%r" % (t, v) if not math.isnan(v) and not math.isinf(v)
                         else "P\t%d\t%s" % (t, "NaN" if math.isnan(v) else
                                             ("+Inf" if v > 0 else "-Inf")))
    return "\n".join(lines) + "\n"


def parse_labels(s):
    """{a="b", c="d"} as promtool prints it (Go-quoted values) into a tuple of pairs. Go's
    escapes of valid UTF-8 are Python's too."""
    assert s[0] == "{" and s[-1] == "}", s
    out, i, body = [], 0, s[1:-1]
    while i < len(body):
        eq = body.index("=", i)
        name = body[i:eq]
        assert body[eq + 1] == '"', s
        j = eq + 2
        while body[j] != '"':
            j += 2 if body[j] == "\\" else 1
        out.append((name, ast.literal_eval(body[eq + 1:j + 1])))
        i = j + 1
        if body[i:i + 2] == ", ":
            i += 2
    return tuple(out)


def parse_dump(text):
    data = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        labels, value, ts = line.rsplit(" ", 2)
        data.setdefault(parse_labels(labels), []).append((int(ts), float(value)))
    for v in data.values():
        v.sort(key=lambda p: p[0])
    return data


def same_value(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


def compare(what, want, got):
    errors = []
    for ls in sorted(set(want) | set(got)):
        w, g = want.get(ls), got.get(ls)
        if w is None or g is None:
            errors.append("%s: series %s %s" % (what, ls, "unexpected" if w is None else "missing"))
            continue
        if len(w) != len(g) or any(tw != tg or not same_value(vw, vg)
                                   for (tw, vw), (tg, vg) in zip(w, g)):
            errors.append("%s: series %s: %d samples want %d; first diff %s" % (
                what, ls, len(g), len(w),
                next(((a, b) for a, b in zip(w, g) if a[0] != b[0] or not same_value(a[1], b[1])),
                     None)))
    return errors


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr[-2000:]))
    return p.stdout


def odin_to_promtool(tool, promtool, data, seg_bytes):
    errors = []
    parent = odintest.tempdir("odin-blk-")
    cmd = [tool, "write", parent] + (["--segment-bytes", str(seg_bytes)] if seg_bytes else [])
    ulid = run(cmd, input=tool_input(data)).strip()
    block = os.path.join(parent, ulid)
    nsegs = len(os.listdir(os.path.join(block, "chunks")))
    if seg_bytes and nsegs < 2:
        errors.append("segment size %d gave only %d chunk file(s)" % (seg_bytes, nsegs))
    out = run([promtool, "tsdb", "analyze", parent, ulid])
    if "Series: %d" % len(data) not in out:
        errors.append("analyze: want 'Series: %d' in:\n%s" % (len(data), out[:500]))
    os.mkdir(os.path.join(parent, "wal"))  # promtool 2.42's dump opens the WAL too
    dump = run([promtool, "tsdb", "dump", parent])
    got = parse_dump(dump)
    errors += compare("promtool dump of odin block (segments %d)" % nsegs, data, got)
    # `odin tsdb dump` prints what promtool prints, quoting included
    mine = run([odintest.odin_bin(), "tsdb", "dump", parent])
    if mine != dump:
        diff = next((a, b) for a, b in zip(mine.splitlines() + [""], dump.splitlines() + [""])
                    if a != b)
        errors.append("odin tsdb dump differs from promtool's: %r, promtool %r" % diff)
    # our reader over our block, for symmetry
    errors += compare("odin read of odin block", data, parse_dump(run([tool, "read", block])))
    return errors


def chunk_encodings(block):
    """(encoding bytes of every chunk, chunk file bytes) of a block's chunk segments."""
    encs, total = [], 0
    cdir = os.path.join(block, "chunks")
    for seg in sorted(os.listdir(cdir)):
        with open(os.path.join(cdir, seg), "rb") as f:
            b = f.read()
        total += len(b)
        pos = 8
        while pos < len(b):
            n, shift = 0, 0
            while True:
                c = b[pos]
                pos += 1
                n |= (c & 0x7f) << shift
                shift += 7
                if c < 0x80:
                    break
            encs.append(b[pos])
            pos += 1 + n + 4
    return encs, total


def odin_encoding(tool, data):
    errors = []
    parent = odintest.tempdir("odin-enc-")
    sizes = {}
    for name, flags, want in (("xor", [], 1), ("odin", ["--odin"], 0x4f)):
        ulid = run([tool, "write", parent] + flags, input=tool_input(data)).strip()
        block = os.path.join(parent, ulid)
        encs, sizes[name] = chunk_encodings(block)
        if not encs or set(encs) != {want}:
            errors.append("%s block: chunk encodings %s, want only %d" % (name, sorted(set(encs)),
                                                                          want))
        errors += compare("odin read of %s-encoded block" % name, data,
                          parse_dump(run([tool, "read", block])))
    if sizes["odin"] >= sizes["xor"]:
        errors.append("odin-encoded chunks take %d bytes, XOR %d" % (sizes["odin"], sizes["xor"]))
    return errors


def openmetrics(data):
    by_name = {}
    for ls, samples in data.items():
        by_name.setdefault(dict(ls)["__name__"], []).append((ls, samples))
    lines = []
    for name, series in sorted(by_name.items()):
        lines.append("# TYPE %s gauge" % name)
        for ls, samples in series:
            lab = ",".join('%s="%s"' % (n, v.replace("\\", "\\\\").replace('"', '\\"'))
                           for n, v in ls if n != "__name__")
            for t, v in samples:
                vs = "NaN" if math.isnan(v) else ("+Inf" if v == math.inf else
                                                  "-Inf" if v == -math.inf else repr(v))
                lines.append("%s{%s} %s %d.%03d" % (name, lab, vs, t // 1000, t % 1000))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def promtool_to_odin(tool, promtool, data):
    errors = []
    src = os.path.join(odintest.tempdir("odin-om-"), "data.om")
    with open(src, "w") as f:
        f.write(openmetrics(data))
    out = odintest.tempdir("odin-pblk-")
    run([promtool, "tsdb", "create-blocks-from", "openmetrics", src, out])
    blocks = [d for d in os.listdir(out) if len(d) == 26]
    if not blocks:
        return ["promtool created no block"]
    got = parse_dump(run([tool, "read", out]))
    # a series cut across blocks shows as one list: merge and sort happened in parse_dump
    errors += compare("odin read of promtool blocks (%d)" % len(blocks), data, got)
    # rewritten through block_select and block_write, Prometheus' blocks come out byte for byte
    copies = odintest.tempdir("odin-copy-")
    for b in sorted(blocks):
        ulid = run([tool, "copy", os.path.join(out, b), copies]).strip()
        errors += same_files(os.path.join(out, b), b, os.path.join(copies, ulid), ulid)
    return errors


def same_files(want_dir, want_ulid, got_dir, got_ulid):
    errors = []
    names = ["index", "tombstones", "meta.json"] + [
        os.path.join("chunks", c) for c in sorted(os.listdir(os.path.join(want_dir, "chunks")))]
    got_chunks = sorted(os.listdir(os.path.join(got_dir, "chunks")))
    if got_chunks != sorted(os.listdir(os.path.join(want_dir, "chunks"))):
        errors.append("copy of %s: chunk files %s" % (want_ulid, got_chunks))
    for n in names:
        with open(os.path.join(want_dir, n), "rb") as f:
            want = f.read()
        if not os.path.exists(os.path.join(got_dir, n)):
            continue
        with open(os.path.join(got_dir, n), "rb") as f:
            got = f.read()
        if n == "meta.json":
            got = got.replace(got_ulid.encode(), want_ulid.encode())
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b),
                      min(len(want), len(got)))
            errors.append("copy of %s: %s differs from Prometheus' at byte %d (%d vs %d bytes)"
                          % (want_ulid, n, at, len(got), len(want)))
    return errors


def main():
    promtool = shutil.which("promtool") or ("/usr/bin/promtool"
                                            if os.path.exists("/usr/bin/promtool") else None)
    if not promtool:
        odintest.skip("promtool not installed (Debian package prometheus)")
    tool = find_tool()
    data = gen_series()
    errors = []
    errors += odin_to_promtool(tool, promtool, data, 0)
    errors += odin_to_promtool(tool, promtool, data, 4096)
    errors += promtool_to_odin(tool, promtool, data)
    errors += odin_encoding(tool, data)
    for e in errors:
        print("FAIL: " + e)
    if errors:
        sys.exit(1)
    print("PASS: %d series round-trip through promtool 2.42 both ways" % len(data))


if __name__ == "__main__":
    main()
