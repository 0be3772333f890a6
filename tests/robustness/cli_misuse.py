"""Runs attnbench with wrong command lines, one table row each, and checks
that every one exits with status 2, names the offending option or value on
stderr and prints a "usage:" line, without running anything.

usage: /usr/bin/python3 cli_misuse.py PATH/TO/attnbench
"""
import os
import subprocess
import sys
import tempfile

ATTNBENCH = sys.argv[1]

tmp = tempfile.TemporaryDirectory()
TEXT = os.path.join(tmp.name, "notes.txt")
EMPTY_OBJECT = os.path.join(tmp.name, "empty_object.json")
TOP_LEVEL_ARRAY = os.path.join(tmp.name, "array.json")
BENCHMARKS_NOT_ARRAY = os.path.join(tmp.name, "benchmarks_not_array.json")
NAMELESS_RUN = os.path.join(tmp.name, "nameless_run.json")
TRUNCATED = os.path.join(tmp.name, "truncated.json")
for path, text in ((TEXT, "this is not JSON\n"), (EMPTY_OBJECT, "{}\n"),
                   (TOP_LEVEL_ARRAY, "[1, 2]\n"),
                   (BENCHMARKS_NOT_ARRAY, '{"context": {}, "benchmarks": "x"}\n'),
                   (NAMELESS_RUN, '{"context": {}, "benchmarks": [{"real_time": 1}]}\n'),
                   (TRUNCATED, '{"context": {"date": "2026-01-01"}, "benchmarks": [{"na')):
    with open(path, "w") as f:
        f.write(text)
OUT_DIR = os.path.join(tmp.name, "report")

# (arguments, words that stderr must contain)
CASES = [
    (["bench", "--no-such-option"], ["--no-such-option"]),
    (["bench", "--seq", "0"], ["--seq", "'0'"]),
    (["bench", "--seq", "abc"], ["--seq", "'abc'"]),
    (["bench", "--seq", "99999999999"], ["--seq", "99999999999"]),
    (["bench", "--seq", "-5"], ["--seq", "-5"]),
    (["bench", "--seq", "1,,2"], ["--seq", "1,,2"]),
    (["bench", "--seq"], ["--seq"]),
    (["bench", "--threads", "0"], ["--threads", "'0'"]),
    (["bench", "--head-dim", "0"], ["--head-dim", "'0'"]),
    (["bench", "--batch", "1x"], ["--batch", "1x"]),
    (["bench", "--op", "bogus"], ["--op", "bogus"]),
    (["bench", "--preset", "bogus"], ["--preset", "bogus"]),
    (["bench", "--causal", "diagonal"], ["--causal", "diagonal"]),
    (["bench", "--impl", "("], ["--impl", "("]),
    (["bench", "--benchmark_no_such_flag=1"], ["--benchmark_no_such_flag"]),
    (["check", "--no-such-option", "x.h5"], ["--no-such-option"]),
    (["check", "--threads", "0"], ["--threads", "'0'"]),
    (["check", "--threads", "many"], ["--threads", "'many'"]),
    (["check", "--op", "bogus"], ["--op", "bogus"]),
    (["check", "--impl", "("], ["--impl", "'('"]),
    (["check", "--case", "[z-a]"], ["--case", "[z-a]"]),
    (["check", "--memory-budget", "x"], ["--memory-budget", "'x'"]),
    (["check", "--memory-budget", "-1"], ["--memory-budget", "-1"]),
    (["check", "--json"], ["--json"]),
    (["list", "--no-such-option"], ["--no-such-option"]),
    (["peak", "--no-such-option"], ["--no-such-option"]),
    (["report"], ["results file"]),
    (["report", TEXT, "-o", OUT_DIR], [TEXT, "JSON"]),
    (["report", EMPTY_OBJECT, "-o", OUT_DIR], [EMPTY_OBJECT, "benchmarks"]),
    (["report", TOP_LEVEL_ARRAY, "-o", OUT_DIR], [TOP_LEVEL_ARRAY]),
    (["report", BENCHMARKS_NOT_ARRAY, "-o", OUT_DIR], [BENCHMARKS_NOT_ARRAY, "benchmarks"]),
    (["report", NAMELESS_RUN, "-o", OUT_DIR], [NAMELESS_RUN, "name"]),
    (["report", TRUNCATED, "-o", OUT_DIR], [TRUNCATED]),
    (["report", "/nonexistent/results.json", "-o", OUT_DIR], ["/nonexistent/results.json"]),
    (["compare", TEXT, TEXT], [TEXT, "JSON"]),
    (["compare", EMPTY_OBJECT, EMPTY_OBJECT], [EMPTY_OBJECT]),
    (["compare", TRUNCATED, TRUNCATED], [TRUNCATED]),
    (["compare", EMPTY_OBJECT], ["two files"]),
    (["compare", "/nonexistent/a.json", "/nonexistent/b.json"], ["/nonexistent/a.json"]),
    (["no-such-command"], ["no-such-command"]),
    ([], []),
]

failures = []
for args, words in CASES:
    shown = " ".join(["attnbench"] + args)
    try:
        proc = subprocess.run([ATTNBENCH] + args, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        failures.append(f"{shown}: still running after 60 s (misuse must fail at once)")
        continue
    problems = []
    if proc.returncode != 2:
        problems.append(f"exit status {proc.returncode}, expected 2")
    for word in words:
        if word not in proc.stderr:
            problems.append(f"stderr does not name {word!r}")
    if "usage:" not in proc.stderr:
        problems.append("stderr has no 'usage:' line")
    if "Traceback" in proc.stderr or "Sanitizer" in proc.stderr:
        problems.append("stderr contains a crash report")
    if problems:
        failures.append(f"{shown}: " + "; ".join(problems) + f"\n  stderr: {proc.stderr[:400]!r}")
    else:
        print(f"ok   {shown}")

if not os.path.exists(OUT_DIR) or not os.listdir(OUT_DIR):
    print(f"ok   no report was written to {OUT_DIR} by a failed 'report'")
else:
    failures.append(f"a failed 'report' left files in {OUT_DIR}: {os.listdir(OUT_DIR)}")

for failure in failures:
    print("FAIL " + failure)
print(f"{len(CASES) - len(failures)} of {len(CASES)} command lines rejected as expected")
sys.exit(1 if failures else 0)
