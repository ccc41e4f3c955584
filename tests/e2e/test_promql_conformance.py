"""Runs the upstream PromQL test scripts through `odin promqltest`: the v2.42.0 set (what Debian's
reference binary does) and the current 3.x set. Passes when every eval passes except the entries of
the skip lists below, each with its reason; evals the runner reports as SKIP (native histograms)
are allowed. An entry that starts passing must be removed from its list (the test says so)."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import odintest  # noqa: E402

# file:line of the `eval` (or `load`) command -> why Odin differs. Odin follows Prometheus 3.x
# semantics, so 2.42 expectations that 3.x changed are listed, not "fixed".
SKIP_V2_42 = {
    '3.x left-open windows: (t-5m, t] lookback and (t-range, t] range selectors': [
        "aggregators.test:300", "aggregators.test:305", "aggregators.test:315",
        "aggregators.test:340", "aggregators.test:346", "aggregators.test:352",
        "aggregators.test:359", "aggregators.test:365", "at_modifier.test:80",
        "at_modifier.test:87", "at_modifier.test:95", "at_modifier.test:101",
        "at_modifier.test:116", "at_modifier.test:139", "at_modifier.test:147",
        "at_modifier.test:151", "at_modifier.test:156", "at_modifier.test:160",
        "at_modifier.test:164", "functions.test:8", "functions.test:18", "functions.test:31",
        "functions.test:36", "functions.test:41", "functions.test:46", "functions.test:51",
        "functions.test:64", "functions.test:76", "functions.test:104", "functions.test:108",
        "functions.test:450", "functions.test:461", "functions.test:520", "functions.test:523",
        "functions.test:591", "functions.test:601", "functions.test:604", "functions.test:612",
        "functions.test:615", "functions.test:618", "functions.test:640", "functions.test:645",
        "functions.test:650", "functions.test:655", "functions.test:790", "functions.test:889",
        "functions.test:894", "functions.test:896", "functions.test:951", "functions.test:957",
        "functions.test:961", "functions.test:983", "functions.test:987", "functions.test:991",
        "functions.test:995", "functions.test:999", "functions.test:1003", "functions.test:1007",
        "functions.test:1011", "functions.test:1015", "functions.test:1019", "functions.test:1023",
        "functions.test:1027", "functions.test:1031", "functions.test:1035", "histograms.test:96",
        "histograms.test:100", "histograms.test:104", "histograms.test:128", "histograms.test:131",
        "histograms.test:135", "histograms.test:138", "histograms.test:142", "histograms.test:146",
        "histograms.test:151", "histograms.test:155", "histograms.test:160", "histograms.test:166",
        "histograms.test:173", "histograms.test:179", "histograms.test:208", "histograms.test:212",
        "histograms.test:216", "histograms.test:225", "operators.test:116", "operators.test:311",
        "operators.test:314", "operators.test:317", "operators.test:320", "operators.test:324",
        "operators.test:328", "operators.test:334", "operators.test:340", "operators.test:344",
        "operators.test:348", "operators.test:354", "operators.test:360", "operators.test:364",
        "operators.test:369", "operators.test:377", "operators.test:382", "operators.test:390",
        "operators.test:396", "operators.test:402", "operators.test:408", "operators.test:414",
        "operators.test:420", "operators.test:435", "operators.test:439", "operators.test:442",
        "operators.test:460", "operators.test:463", "operators.test:466", "staleness.test:17",
        "staleness.test:32", "staleness.test:48", "subquery.test:12", "subquery.test:17",
        "subquery.test:23", "subquery.test:51", "subquery.test:56", "subquery.test:60",
        "subquery.test:80", "subquery.test:83", "subquery.test:86", "subquery.test:89",
        "subquery.test:104", "subquery.test:112", "trig_functions.test:8",
        "trig_functions.test:13", "trig_functions.test:18", "trig_functions.test:23",
        "trig_functions.test:28", "trig_functions.test:33", "trig_functions.test:38",
        "trig_functions.test:43", "trig_functions.test:48", "trig_functions.test:53",
        "trig_functions.test:58", "trig_functions.test:63", "trig_functions.test:68",
        "trig_functions.test:73", "trig_functions.test:78", "trig_functions.test:83",
        "trig_functions.test:88", "trig_functions.test:93",
    ],
    "3.x changed rate()'s zero-point extrapolation cutoff": [
        "functions.test:137",
    ],
    '3.x accepts any UTF-8 label name in label_replace()': [
        "functions.test:298",
    ],
    'holt_winters was renamed double_exponential_smoothing in 3.x': [
        "functions.test:482", "functions.test:496",
    ],
    '3.x delayed __name__ removal: no duplicate-labelset error': [
        "histograms.test:235",
    ],
    '3.x drops __name__ for atan2 like other arithmetic': [
        "operators.test:479", "operators.test:482",
    ],
}

SKIP_CURRENT = {
    'experimental duration expressions (--enable-feature=promql-duration-expr)': [
        "duration_expression.test:17", "duration_expression.test:23",
        "duration_expression.test:35", "duration_expression.test:41",
        "duration_expression.test:47", "duration_expression.test:53",
        "duration_expression.test:59", "duration_expression.test:65",
        "duration_expression.test:71", "duration_expression.test:77",
        "duration_expression.test:83", "duration_expression.test:89",
        "duration_expression.test:100", "duration_expression.test:104",
        "duration_expression.test:108", "duration_expression.test:112",
        "duration_expression.test:116", "duration_expression.test:132",
        "duration_expression.test:135", "duration_expression.test:141",
        "duration_expression.test:147", "duration_expression.test:155",
        "duration_expression.test:158", "duration_expression.test:161",
        "duration_expression.test:164", "duration_expression.test:167",
        "duration_expression.test:170", "duration_expression.test:173",
        "duration_expression.test:176", "duration_expression.test:179",
        "duration_expression.test:182", "duration_expression.test:185",
        "duration_expression.test:188", "duration_expression.test:191",
        "duration_expression.test:194", "duration_expression.test:197",
        "duration_expression.test:200", "duration_expression.test:203",
        "duration_expression.test:206", "duration_expression.test:209",
        "duration_expression.test:212", "duration_expression.test:215",
        "duration_expression.test:218", "duration_expression.test:221",
        "duration_expression.test:224", "duration_expression.test:227",
        "duration_expression.test:232", "duration_expression.test:235",
        "duration_expression.test:238", "duration_expression.test:241",
        "duration_expression.test:250",
    ],
    'experimental anchored/smoothed range selectors': [
        "extended_vectors.test:32", "extended_vectors.test:35", "extended_vectors.test:38",
        "extended_vectors.test:41", "extended_vectors.test:44", "extended_vectors.test:47",
        "extended_vectors.test:50", "extended_vectors.test:53", "extended_vectors.test:56",
        "extended_vectors.test:59", "extended_vectors.test:62", "extended_vectors.test:65",
        "extended_vectors.test:68", "extended_vectors.test:71", "extended_vectors.test:74",
        "extended_vectors.test:77", "extended_vectors.test:80", "extended_vectors.test:83",
        "extended_vectors.test:118", "extended_vectors.test:121", "extended_vectors.test:124",
        "extended_vectors.test:127", "extended_vectors.test:130", "extended_vectors.test:133",
        "extended_vectors.test:136", "extended_vectors.test:139", "extended_vectors.test:142",
        "extended_vectors.test:145", "extended_vectors.test:148", "extended_vectors.test:151",
        "extended_vectors.test:154", "extended_vectors.test:157", "extended_vectors.test:160",
        "extended_vectors.test:163", "extended_vectors.test:166", "extended_vectors.test:169",
        "extended_vectors.test:178", "extended_vectors.test:181", "extended_vectors.test:193",
        "extended_vectors.test:198", "extended_vectors.test:205", "extended_vectors.test:210",
        "extended_vectors.test:215", "extended_vectors.test:225", "extended_vectors.test:230",
        "extended_vectors.test:235", "extended_vectors.test:240", "extended_vectors.test:247",
        "extended_vectors.test:251", "extended_vectors.test:275", "extended_vectors.test:281",
        "extended_vectors.test:287", "extended_vectors.test:299", "extended_vectors.test:317",
        "extended_vectors.test:321", "extended_vectors.test:324", "extended_vectors.test:328",
        "extended_vectors.test:339", "extended_vectors.test:343", "extended_vectors.test:346",
        "extended_vectors.test:350", "extended_vectors.test:358", "extended_vectors.test:366",
        "extended_vectors.test:370", "extended_vectors.test:373", "extended_vectors.test:376",
        "extended_vectors.test:379", "extended_vectors.test:382", "extended_vectors.test:385",
        "extended_vectors.test:388", "extended_vectors.test:390", "extended_vectors.test:392",
        "extended_vectors.test:395", "extended_vectors.test:404", "extended_vectors.test:407",
        "extended_vectors.test:410", "extended_vectors.test:413", "extended_vectors.test:416",
        "extended_vectors.test:419", "extended_vectors.test:427", "extended_vectors.test:429",
        "extended_vectors.test:431", "extended_vectors.test:434", "extended_vectors.test:436",
        "extended_vectors.test:446", "extended_vectors.test:449", "extended_vectors.test:455",
        "extended_vectors.test:458", "extended_vectors.test:745", "extended_vectors.test:766",
    ],
    'experimental binary-operator fill modifiers': [
        "fill-modifier.test:15", "fill-modifier.test:22", "fill-modifier.test:28",
        "fill-modifier.test:34", "fill-modifier.test:41", "fill-modifier.test:48",
        "fill-modifier.test:55", "fill-modifier.test:64", "fill-modifier.test:68",
        "fill-modifier.test:74", "fill-modifier.test:80", "fill-modifier.test:87",
        "fill-modifier.test:94", "fill-modifier.test:112", "fill-modifier.test:119",
        "fill-modifier.test:125", "fill-modifier.test:131", "fill-modifier.test:151",
        "fill-modifier.test:159", "fill-modifier.test:167", "fill-modifier.test:185",
        "fill-modifier.test:191", "fill-modifier.test:197", "fill-modifier.test:215",
        "fill-modifier.test:230", "fill-modifier.test:237", "fill-modifier.test:242",
        "fill-modifier.test:255", "fill-modifier.test:269", "fill-modifier.test:274",
        "fill-modifier.test:278", "fill-modifier.test:294", "fill-modifier.test:301",
        "fill-modifier.test:307", "fill-modifier.test:323", "fill-modifier.test:336",
        "fill-modifier.test:341", "fill-modifier.test:344", "fill-modifier.test:349",
        "fill-modifier.test:352", "fill-modifier.test:356", "fill-modifier.test:375",
        "fill-modifier.test:385", "fill-modifier.test:391", "fill-modifier.test:396",
    ],
    'experimental info() function': [
        "info.test:9", "info.test:13", "info.test:17", "info.test:22", "info.test:27",
        "info.test:32", "info.test:36", "info.test:40", "info.test:46", "info.test:50",
        "info.test:56", "info.test:60", "info.test:64", "info.test:68", "info.test:71",
        "info.test:75", "info.test:79", "info.test:83", "info.test:89", "info.test:93",
        "info.test:98", "info.test:104", "info.test:116", "info.test:129", "info.test:133",
        "info.test:139", "info.test:144", "info.test:156", "info.test:169", "info.test:181",
        "info.test:186", "info.test:191", "info.test:213", "info.test:218", "info.test:222",
        "info.test:229", "info.test:241", "info.test:244", "info.test:249", "info.test:263",
        "info.test:269", "info.test:273", "info.test:278", "info.test:282", "info.test:297",
        "info.test:313", "info.test:318", "info.test:330", "info.test:339", "info.test:351",
        "info.test:365",
    ],
    'experimental start timestamps (@st lines, start_timestamp())': [
        "start_timestamps.test:4", "start_timestamps.test:8", "start_timestamps.test:13",
        "start_timestamps.test:18", "start_timestamps.test:24", "start_timestamps.test:42",
        "start_timestamps.test:56", "start_timestamps.test:58", "start_timestamps.test:60",
        "start_timestamps.test:62", "start_timestamps.test:66", "start_timestamps.test:74",
        "start_timestamps.test:82", "start_timestamps.test:107", "start_timestamps.test:109",
        "start_timestamps.test:111", "start_timestamps.test:113", "start_timestamps.test:116",
        "start_timestamps.test:118", "start_timestamps.test:120", "start_timestamps.test:122",
        "start_timestamps.test:125", "start_timestamps.test:127", "start_timestamps.test:129",
        "start_timestamps.test:131", "start_timestamps.test:134", "start_timestamps.test:136",
        "start_timestamps.test:138", "start_timestamps.test:140", "start_timestamps.test:144",
        "start_timestamps.test:166", "start_timestamps.test:169", "start_timestamps.test:180",
        "start_timestamps.test:182", "start_timestamps.test:184", "start_timestamps.test:186",
        "start_timestamps.test:189", "start_timestamps.test:204", "start_timestamps.test:225",
        "start_timestamps.test:227", "start_timestamps.test:229", "start_timestamps.test:231",
        "start_timestamps.test:256", "start_timestamps.test:267", "start_timestamps.test:269",
        "start_timestamps.test:272", "start_timestamps.test:276", "start_timestamps.test:284",
        "start_timestamps.test:289", "start_timestamps.test:300", "start_timestamps.test:302",
    ],
    'experimental __type__/__unit__ labels': [
        "type_and_unit.test:39", "type_and_unit.test:53", "type_and_unit.test:56",
        "type_and_unit.test:63", "type_and_unit.test:77", "type_and_unit.test:92",
        "type_and_unit.test:122", "type_and_unit.test:140", "type_and_unit.test:181",
        "type_and_unit.test:195", "type_and_unit.test:198", "type_and_unit.test:208",
        "type_and_unit.test:222", "type_and_unit.test:237", "type_and_unit.test:279",
    ],
}

LINE = re.compile(r"^(?P<file>[^\s:]+\.test):(?P<line>\d+): (?P<what>.*)$")


def flatten(groups):
    out = {}
    for reason, keys in groups.items():
        for k in keys:
            out[k] = reason
    return out


def run_set(odin, directory, skips):
    files = sorted(os.path.join(directory, f) for f in os.listdir(directory) if f.endswith(".test"))
    proc = subprocess.run([odin, "promqltest"] + files, capture_output=True, text=True, timeout=600)
    text = proc.stdout + proc.stderr
    failures, skipped, passed = [], 0, 0
    seen = set()
    for raw in text.splitlines():
        m = re.search(r"(\d+) passed, (\d+) failed, (\d+) skipped", raw)
        if m:
            passed += int(m.group(1))
            continue
        m = LINE.match(raw)
        if not m:
            continue
        key = "%s:%s" % (os.path.basename(m.group("file")), m.group("line"))
        if m.group("what").startswith("SKIP"):
            skipped += 1
            continue
        seen.add(key)
        if key not in skips:
            failures.append(raw)
    stale = sorted(set(skips) - seen)
    print("%s: %d passed, %d listed as known differences, %d skipped (unsupported)" %
          (os.path.basename(directory), passed, len(seen & set(skips)), skipped))
    return failures, stale


def main():
    odin = odintest.odin_bin()
    base = odintest.conformance_dir("promql")
    ok = True
    for sub, skips in (("testdata-v2.42.0", SKIP_V2_42), ("testdata", SKIP_CURRENT)):
        directory = os.path.join(base, sub)
        if not os.path.isdir(directory):
            odintest.skip("%s is absent" % directory)
        failures, stale = run_set(odin, directory, flatten(skips))
        for f in failures:
            print("FAIL: " + f)
        for s in stale:
            print("FAIL: %s/%s passes now: remove it from the skip list" % (sub, s))
        ok = ok and not failures and not stale
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
