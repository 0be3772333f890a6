"""Checks what `attnbench check` writes: the exit status, the per-result
lines, the failure details with a reproducing command, and the --json and
--junit files, using the deliberately broken naive variants that
ATTNBENCH_TEST_FAULTY_IMPL=1 registers.

usage: /usr/bin/python3 check_outputs.py PATH/TO/attnbench
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ATTNBENCH = sys.argv[1]
CASE = "^attn_gqa8x2_L129_D32_causal_top_left$"
failures = []


def expect(condition, what, detail=""):
    if not condition:
        failures.append(what)
        print(f"FAILED: {what}\n{detail}")


def run(args, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    proc = subprocess.run([ATTNBENCH] + args, capture_output=True, text=True, env=env,
                          timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


faulty = {"ATTNBENCH_TEST_FAULTY_IMPL": "1"}
with tempfile.TemporaryDirectory() as tmp:
    json_path = os.path.join(tmp, "check.json")
    junit_path = os.path.join(tmp, "check.xml")
    code, out, err = run(["check", "--impl", "^naive(-broken-scale)?$", "--case", CASE,
                          "--json", json_path, "--junit", junit_path], faulty)
    expect(code == 1, f"a FAIL gives exit status 1 (got {code})", out + err)
    lines = out.splitlines()
    expect(any(l.startswith("PASS") and " naive " in l for l in lines), "naive PASS line", out)
    expect(any(l.startswith("FAIL") and "naive-broken-scale" in l for l in lines),
           "broken variant FAIL line", out)
    mismatch_lines = [l for l in lines if l.strip().startswith("at [b=")]
    expect(1 <= len(mismatch_lines) <= 5, "between one and five first mismatches printed", out)
    expect(all("expected" in l and "got" in l for l in mismatch_lines),
           "mismatch lines give expected and got", out)
    repro = [l.split("reproduce: ", 1)[1] for l in lines if "reproduce: " in l]
    expect(len(repro) == 1, "one reproduce line", out)

    # The reproduce line, run as printed, fails the same pair and only it.
    if repro:
        args = shlex.split(repro[0])
        expect(args[0] == "attnbench", "reproduce line starts with attnbench", repro[0])
        code2, out2, _ = run(args[1:], faulty)
        results2 = [l for l in out2.splitlines() if l[:5].strip() in ("PASS", "FAIL", "SKIP", "ERROR")]
        expect(code2 == 1 and len(results2) == 1 and results2[0].startswith("FAIL"),
               "the reproduce command fails exactly that pair", out2)

    # JSON: both results, with every metric.
    with open(json_path) as f:
        report = json.load(f)
    expect(report.get("attnbench_check") == 1, "JSON has attnbench_check = 1", str(report)[:300])
    expect("cpu_model" in report.get("context", {}), "JSON context names the CPU")
    by_impl = {r["impl"]: r for r in report["results"]}
    expect(set(by_impl) == {"naive", "naive-broken-scale"}, "JSON holds both results",
           str(by_impl.keys()))
    for name, status in [("naive", "PASS"), ("naive-broken-scale", "FAIL")]:
        r = by_impl.get(name, {})
        expect(r.get("status") == status, f"JSON status of {name} is {status}", str(r))
        for key in ("max_abs_error", "max_rel_error", "nmse", "budget_used"):
            expect(isinstance(r.get(key), (int, float)), f"JSON {name} has numeric {key}", str(r))
    expect(by_impl["naive"]["budget_used"] <= 1.0, "naive uses at most its budget")
    expect(by_impl["naive-broken-scale"]["budget_used"] > 1.0, "the broken variant exceeds it")
    expect(by_impl["naive-broken-scale"]["error_vs_naive"] is None,
           "no error ratio is claimed for a failing result")

    # JUnit: well-formed, one testcase per result, the failure marked.
    root = ET.parse(junit_path).getroot()
    cases = root.findall(".//testcase")
    expect(len(cases) == 2, "JUnit has two testcases", ET.tostring(root, encoding="unicode"))
    expect(root.get("failures") == "1", "JUnit counts one failure")
    failed = [c for c in cases if c.find("failure") is not None]
    expect(len(failed) == 1 and failed[0].get("classname") == "naive-broken-scale",
           "JUnit marks the broken variant as failed")

    # Only skips: exit status 0.
    code, out, _ = run(["check", "--impl", "^naive$", "--case", CASE, "--op", "encoder_layer"])
    expect(code == 0, f"no selected case gives exit status 0 (got {code})", out)

    # An --impl that matches nothing is misuse.
    code, _, err = run(["check", "--impl", "^no-such-impl$"])
    expect(code == 2 and "--impl" in err and "usage:" in err,
           "an --impl matching nothing exits 2 with the usage line", err)

# An unknown option is named as unknown, even as the last argument, and an
# option that needs a value says so.
code, _, err = run(["check", "--bogus"])
expect(code == 2 and "unknown option '--bogus'" in err and "usage:" in err,
       "check --bogus is reported as an unknown option", err)
code, _, err = run(["check", "--impl"])
expect(code == 2 and "'--impl' needs a value" in err, "check --impl without a value", err)

# A --case that matches nothing is misuse, like an --impl that matches nothing.
code, _, err = run(["check", "--case", "^no-such-case$"])
expect(code == 2 and "--case" in err and "matches no case" in err and "usage:" in err,
       "a --case matching nothing exits 2 with the usage line", err)

print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
