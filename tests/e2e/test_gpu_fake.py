"""The gpu collector against the fake libnvidia-ml.so.1 (tests/fake-nvml/): exact output for two
GPUs, fields NVML does not support, a GPU lost mid-run, no library or no driver, MIG, an old
driver without newer symbols, the counters file and the host label.

Needs FAKE_NVML_LIB (the fake built by CMake; ctest sets it) and optionally FAKE_NVML_OLD_LIB
(the -DFAKE_NVML_OLD_DRIVER build). Golden files live in tests/fake-nvml/golden/; rewrite them
with ODIN_UPDATE_GOLDEN=1 and review the diff."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402

FAKE_DIR = os.path.join(odintest.source_dir(), "tests", "fake-nvml")
BASE_ARGS = ["agent", "--collector.disable-defaults", "--collector.gpu",
             "--web.disable-exporter-metrics", "--collector.gpu.hostname=node1",
             "--collector.gpu.interval=100ms"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def script(name, tmp, **subst):
    with open(os.path.join(FAKE_DIR, "scripts", name)) as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace("@%s@" % k, v)
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def gpu_lines(text):
    """The series and metadata of the GPU families, minus the sample's time and duration."""
    keep = []
    for line in text.splitlines():
        if "odin_gpu_sample_" in line:
            continue
        name = line.split(" ")[2] if line.startswith("#") else line.split("{")[0].split(" ")[0]
        if name.startswith("DCGM_") or name.startswith("odin_gpu_"):
            keep.append(line)
    return keep


def golden(name, lines):
    path = os.path.join(FAKE_DIR, "golden", name)
    text = "\n".join(lines) + "\n"
    if os.environ.get("ODIN_UPDATE_GOLDEN") == "1":
        with open(path, "w") as f:
            f.write(text)
        return
    with open(path) as f:
        want = f.read()
    if want != text:
        import difflib
        diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True),
                                            "golden/" + name, "got"))
        check(False, "%s differs:\n%s" % (name, diff))


def start(odin, lib, script_path, extra=(), env_lib_path=None):
    os.environ["FAKE_NVML_SCRIPT"] = script_path
    if env_lib_path:
        os.environ["LD_LIBRARY_PATH"] = env_lib_path
        args = BASE_ARGS + list(extra)
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)
        args = BASE_ARGS + ["--collector.gpu.nvml-library=" + lib] + list(extra)
    return odintest.Agent(odin, args)


def wait_for(agent, pred, timeout=10):
    deadline = time.time() + timeout
    text = agent.scrape()
    while not pred(text) and time.time() < deadline:
        time.sleep(0.1)
        text = agent.scrape()
    return text


def has_line(text, prefix):
    return any(l.startswith(prefix) for l in text.splitlines())


def test_two_gpus_and_loss(odin, lib, tmp):
    lost = os.path.join(tmp, "lose-gpu1")
    # through LD_LIBRARY_PATH: the library is found by the normal search path
    with start(odin, lib, script("two_gpus.txt", tmp, LOST_FILE=lost),
               env_lib_path=os.path.dirname(lib)) as a:
        # GPM values need two samples: wait for the second
        text = wait_for(a, lambda t: "DCGM_FI_PROF_GR_ENGINE_ACTIVE{" in t)
        golden("two_gpus.prom", gpu_lines(text))
        check('node_scrape_collector_success{collector="gpu"} 1' in text, "gpu collector success")
        check(not has_line(text, 'DCGM_FI_DEV_GPU_TEMP{') or
              'gpu="1"' not in "".join(l for l in text.splitlines()
                                      if l.startswith("DCGM_FI_DEV_GPU_TEMP{")),
              "NOT_SUPPORTED temperature of GPU 1 is omitted")
        open(lost, "w").close()
        text = wait_for(a, lambda t: any(l.startswith("odin_gpu_up{") and 'gpu="1"' in l and
                                         l.endswith(" 0") for l in t.splitlines()))
        golden("two_gpus_lost.prom", gpu_lines(text))
        check('node_scrape_collector_success{collector="gpu"} 1' in text,
              "collector still succeeds with one GPU lost")
        check("GPU lost" in a.output(), "GPU loss is logged")


def test_unavailable(odin, lib, tmp):
    cases = [
        ("no library", ["--collector.gpu.nvml-library=" + os.path.join(tmp, "nope", "libnvidia-ml.so.1")],
         None, "cannot load"),
        ("no driver", [], "fail nvmlInit_v2 9\n", "Driver Not Loaded"),
        ("no GPU", [], "gpus 0\n", "no NVIDIA GPU found"),
    ]
    for name, extra, text, why in cases:
        path = os.path.join(tmp, "unavail.txt")
        with open(path, "w") as f:
            f.write(text or "")
        args = list(extra) + ["--collector.loadavg"]
        # a later --collector.gpu.nvml-library overrides the one start() gives
        with start(odin, lib, path, args) as a:
            out = a.scrape()
            check('node_scrape_collector_success{collector="gpu"} 0' in out,
                  name + ": gpu collector reports failure")
            check('node_scrape_collector_success{collector="loadavg"} 1' in out,
                  name + ": other collectors keep working")
            check("node_load1 " in out, name + ": loadavg served")
            check("DCGM_" not in out, name + ": no GPU series")
            a.scrape()
            log = a.output()
            check(log.count("GPU metrics unavailable") == 1,
                  name + ": reason logged exactly once, got:\n" + log)
            check(why in log, name + ": log says why (%r)" % why)


def test_mig(odin, lib, tmp):
    with start(odin, lib, script("mig.txt", tmp)) as a:
        text = wait_for(a, lambda t: t.count("DCGM_FI_PROF_GR_ENGINE_ACTIVE{") == 2)
        golden("mig.prom", gpu_lines(text))


def test_old_driver(odin, old_lib, tmp):
    if not old_lib:
        print("note: FAKE_NVML_OLD_LIB unset, old-driver case skipped")
        return
    with start(odin, old_lib, script("old_driver.txt", tmp)) as a:
        time.sleep(0.3)
        golden("old_driver.prom", gpu_lines(a.scrape()))


def test_counters_file(odin, lib, tmp):
    csv = os.path.join(tmp, "counters.csv")
    with open(csv, "w") as f:
        f.write("# mine\n"
                "DCGM_FI_DEV_GPU_TEMP, gauge, Temp.\n"
                "DCGM_FI_DEV_FB_USED , gauge , Used MiB.\n"
                "DCGM_FI_DEV_SERIAL, label, Serial\n"
                "DCGM_FI_DEV_NOT_A_FIELD, gauge, Unknown.\n"
                "DCGM_EXP_XID_ERRORS_COUNT, counter, Not from NVML.\n")
    path = script("two_gpus.txt", tmp, LOST_FILE=os.path.join(tmp, "never"))
    with open(path, "a") as f:
        f.write("gpu 0 serial 1650123456789\n")
    with start(odin, lib, path, ["--collector.gpu.counters-file=" + csv,
                                 "--collector.gpu.hostname-label=hostname"]) as a:
        golden("counters_file.prom", gpu_lines(a.scrape()))
        check("DCGM_FI_DEV_NOT_A_FIELD" in a.output(), "skipped fields are logged")
    with start(odin, lib, path, ["--collector.gpu.hostname-label="]) as a:
        check("Hostname=" not in a.scrape(), "empty host label name omits the label")
    bad = os.path.join(tmp, "bad.csv")
    with open(bad, "w") as f:
        f.write("DCGM_FI_DEV_GPU_TEMP, gauge, ok\n\nDCGM_FI_DEV_FB_USED, gauge\n")
    import subprocess
    r = subprocess.run([odin] + BASE_ARGS + ["--collector.gpu.counters-file=" + bad,
                                             "--collector.gpu.nvml-library=" + lib],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode != 0 and (bad + ":3:") in r.stderr,
          "malformed counters file fails start naming file:line, got %d %r" %
          (r.returncode, r.stderr))


def series_value(text, name):
    for l in text.splitlines():
        if l.startswith(name + "{"):
            return float(l.rsplit(" ", 1)[1])
    return None


def test_slow_field(odin, lib, tmp):
    """A call that takes over 1 ms twice in a row is read every slow-field-interval, its last value
    served in between; the cheap ones keep the sampling interval; 0s reads it every sample."""
    energy, power = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_POWER_USAGE"
    path = script("slow_energy.txt", tmp)
    with start(odin, lib, path, ["--collector.gpu.slow-field-interval=30s"]) as a:
        wait_for(a, lambda t: (series_value(t, energy) or 0) >= 1001)
        time.sleep(0.5)  # at 100 ms, five more samples
        first = series_value(a.scrape(), energy)
        time.sleep(1.0)
        text = a.scrape()
        check(first == 1001 and series_value(text, energy) == 1001,
              "slow energy read twice, then served from its last read: %r then %r" %
              (first, series_value(text, energy)))
        check(series_value(text, power) == 70.709, "fast power read still served")
    with start(odin, lib, path, ["--collector.gpu.slow-field-interval=0s"]) as a:
        wait_for(a, lambda t: series_value(t, energy) is not None)
        first = series_value(a.scrape(), energy)
        time.sleep(1.0)
        later = series_value(a.scrape(), energy)
        check(first is not None and later is not None and later >= first + 5,
              "slow-field-interval=0s reads energy every 100 ms sample: %r then %r" %
              (first, later))


def main():
    lib = os.environ.get("FAKE_NVML_LIB")
    if not lib:
        odintest.skip("FAKE_NVML_LIB is unset (ctest sets it to the fake libnvidia-ml.so.1)")
    if not os.path.exists(lib):
        print("FAIL: FAKE_NVML_LIB=%s does not exist" % lib)
        sys.exit(1)
    lib = os.path.abspath(lib)
    old_lib = os.environ.get("FAKE_NVML_OLD_LIB")
    odin = odintest.odin_bin()
    tmp = odintest.tempdir("odin-gpu-")
    test_two_gpus_and_loss(odin, lib, tmp)
    test_unavailable(odin, lib, tmp)
    test_mig(odin, lib, tmp)
    test_old_driver(odin, old_lib and os.path.abspath(old_lib), tmp)
    test_counters_file(odin, lib, tmp)
    test_slow_field(odin, lib, tmp)
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
