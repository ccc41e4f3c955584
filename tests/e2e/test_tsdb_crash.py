#!/usr/bin/env python3
"""Crash tests for the tsdb: a writer killed with SIGKILL at random points, 50 times, must find
every sample it had acknowledged after each restart; the same 30 times for a writer whose samples
are a minute apart and that compacts as it goes, so kills land in block cuts and WAL checkpoints;
and a WAL truncated at many offsets or with flipped bits still opens, keeping everything before
the damage."""
import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402

SERIES = 50


def tool():
    path = os.environ.get("TSDB_CRASH_TOOL")
    if not path or not os.path.exists(path):
        print("FAIL: TSDB_CRASH_TOOL not set (ctest sets it)")
        sys.exit(1)
    return path


def write_until_killed(t, data, rng, step=None):
    argv = [t, "write", data, str(SERIES)] + ([str(step)] if step else [])
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    last = -1
    deadline = time.time() + rng.uniform(0.05, 0.4)
    os.set_blocking(p.stdout.fileno(), False)
    buf = b""
    while time.time() < deadline and p.poll() is None:
        try:
            chunk = p.stdout.read()
        except BlockingIOError:
            chunk = None
        if chunk:
            buf += chunk
        time.sleep(0.002)
    p.send_signal(signal.SIGKILL)
    p.wait()
    rest = p.stdout.read() or b""
    buf += rest
    for line in buf.decode().splitlines():
        if line.startswith("ack "):
            last = int(line[4:])
    if p.returncode != -signal.SIGKILL:
        raise AssertionError("writer exited by itself: %s" % p.stderr.read().decode())
    return last


def check(t, data, rounds, step=None):
    argv = [t, "check", data, str(SERIES), str(rounds)] + ([str(step)] if step else [])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def crash_through_cuts(t, rng):
    """Samples a minute apart: a 2 h block is cut (and the WAL checkpointed) every ~180 rounds."""
    step = 60000
    data = odintest.tempdir("odin-crash-cuts-")
    acked = -1
    failures = 0
    for i in range(30):
        acked = max(acked, write_until_killed(t, data, rng, step))
        rc, out = check(t, data, acked, step)
        if rc != 0:
            failures += 1
            print("cuts kill %d: acknowledged up to round %d: %s" % (i, acked, out.strip()))
    blocks = [d for d in os.listdir(data) if len(d) == 26]
    wal = sorted(os.listdir(os.path.join(data, "wal")))
    print("SIGKILL restarts through block cuts: %d of 30 kept every acknowledged sample "
          "(%d rounds, %d blocks, wal: %s ... %s)" % (30 - failures, acked + 1, len(blocks),
                                                      wal[:2], wal[-1:]))
    if len(blocks) < 3:
        print("FAIL: only %d blocks were cut; the kills did not cross block cuts" % len(blocks))
        failures += 1
    return failures


def main():
    t = tool()
    rng = random.Random(int(os.environ.get("ODIN_SEED", "1")))
    failures = 0
    data = odintest.tempdir("odin-crash-")
    acked = -1
    for i in range(50):
        last = write_until_killed(t, data, rng)
        acked = max(acked, last)
        rc, out = check(t, data, acked)
        if rc != 0:
            failures += 1
            print("kill %d: acknowledged up to round %d: %s" % (i, acked, out.strip()))
    print("SIGKILL restarts: %d of 50 kept every acknowledged sample" % (50 - failures))
    failures += crash_through_cuts(t, rng)

    # damage: truncate the newest segment at many offsets, flip bits; it must still open and keep
    # whatever precedes the damage
    wal = os.path.join(data, "wal")
    segs = sorted(s for s in os.listdir(wal) if s.isdigit())
    target = None
    for s in reversed(segs):
        if os.path.getsize(os.path.join(wal, s)) > 0:
            target = os.path.join(wal, s)
            break
    if target is None:
        print("FAIL: no WAL segment written")
        return 1
    with open(target, "rb") as f:
        original = f.read()
    damaged_ok = 0
    cases = 0
    offsets = sorted(set(rng.randrange(0, len(original)) for _ in range(25)))
    for off in offsets:
        for mode in ("truncate", "flip"):
            cases += 1
            copy = odintest.tempdir("odin-damage-")
            subprocess.run(["cp", "-a", data + "/.", copy], check=True)
            seg = os.path.join(copy, "wal", os.path.basename(target))
            if mode == "truncate":
                os.truncate(seg, off)
            else:
                with open(seg, "r+b") as f:
                    f.seek(off)
                    b = f.read(1)
                    f.seek(off)
                    f.write(bytes([b[0] ^ 0x10]))
            # -1 rounds: only that it opens and answers; series may be cut at the damage
            rc, out = check(t, copy, -1)
            if rc == 0:
                damaged_ok += 1
            else:
                print("%s at %d: %s" % (mode, off, out.strip()))
    print("damaged WAL opened: %d of %d" % (damaged_ok, cases))
    failures += cases - damaged_ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
