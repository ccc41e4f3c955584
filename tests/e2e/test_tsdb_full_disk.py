#!/usr/bin/env python3
"""Full disk: the tsdb on a tiny tmpfs. A commit that hits ENOSPC is an error to the appender,
nothing acknowledged is lost or deleted, queries keep working, and appends resume once space
returns; a block cut that hits ENOSPC fails, keeps the head, and succeeds later. Needs root to
mount (skipped with 77 otherwise)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402

SERIES = 200


class Filler:
    def __init__(self, tool, data):
        self.p = subprocess.Popen([tool, data], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = self.p.stdout.readline().strip()
        if not out:
            raise AssertionError("tool died: %s" % self.p.stderr.read())
        return out

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        self.p.wait(timeout=30)


def ballast(mnt):
    """Fills the file system up to the last byte; returns the file's path."""
    path = os.path.join(mnt, "ballast")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    size = 65536
    try:
        while size >= 1:
            try:
                os.write(fd, b"\0" * size)
            except OSError:
                size //= 2
    finally:
        os.close(fd)
    return path


def main():
    tool = os.environ.get("TSDB_FILL_TOOL")
    if not tool or not os.path.exists(tool):
        print("FAIL: TSDB_FILL_TOOL not set (ctest sets it)")
        return 1
    if os.geteuid() != 0:
        odintest.skip("mounting a tmpfs needs root")
    mnt = odintest.tempdir("odin-full-disk-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        odintest.skip("cannot mount tmpfs: " + r.stderr.strip())
    try:
        return run(tool, mnt)
    finally:
        subprocess.run(["umount", "-l", mnt])


def run(tool, mnt):
    data = os.path.join(mnt, "data")
    f = Filler(tool, data)
    acked = 0
    for r in range(100):
        assert f.cmd("append %d" % r) == "ok"
        acked += 1
    path = ballast(mnt)
    # the disk is full: commits fail with an error (not a crash), acknowledged data stays
    failed = None
    for r in range(acked, acked + 4000):
        out = f.cmd("append %d" % r)
        if out != "ok":
            failed = out
            break
        acked += 1
    assert failed is not None, "appends never failed on a full disk"
    assert "No space left" in failed or "ENOSPC" in failed, failed
    assert f.cmd("count") == "count %d" % (acked * SERIES), "queries lost data on a full disk"
    # more than 2h of data: a block cut now fails too, and keeps everything
    os.remove(path)
    nxt = acked
    while nxt < 800:
        if f.cmd("append %d" % nxt) == "ok":
            acked += 1
        nxt += 1
    before = f.cmd("count")
    path = ballast(mnt)
    out = f.cmd("compact")
    assert out.startswith("err"), "a block cut on a full disk did not fail: " + out
    assert f.cmd("count") == before, "a failed block cut lost data"
    blocks = [d for d in os.listdir(data) if len(d) == 26]
    assert not blocks, "a partial block was left behind: %s" % blocks
    leftovers = [d for d in os.listdir(data) if "tmp-for-creation" in d]
    assert not leftovers, leftovers
    # space returns: appends and block cuts resume
    os.remove(path)
    assert f.cmd("append %d" % nxt) == "ok"
    acked += 1
    assert f.cmd("compact") == "ok"
    got = f.cmd("count")
    assert got == "count %d" % (acked * SERIES), "after space returned: %s, acked %d" % (got, acked)
    f.close()
    # a restart finds every acknowledged sample
    f = Filler(tool, data)
    got = f.cmd("count")
    f.close()
    assert got == "count %d" % (acked * SERIES), "after restart: %s, acked %d" % (got, acked)
    print("ok: %d rounds acknowledged, full-disk errors reported, nothing lost" % acked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
