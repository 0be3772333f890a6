#!/usr/bin/python3
"""Checks the JSON that the Google Benchmark wrapper writes.

usage: check_gbench_wrapper.py DEMO_PROGRAM WORK_DIR CASE

CASE is one of: counters, pause, errors, context, names, stop, bad_flag.
Each runs gbench_wrapper_demo and checks one property of its results file.
"""
import json
import os
import subprocess
import sys

PAUSED_SLEEP_MS = 30.0


def run_demo(demo, out, *extra):
    proc = subprocess.run([demo, "--out", out, *extra], capture_output=True, text=True,
                          timeout=120)
    return proc


def load(demo, work, *extra):
    out = os.path.join(work, "wrapper.json")
    if os.path.exists(out):
        os.remove(out)
    proc = run_demo(demo, out, *extra)
    if proc.returncode != 0:
        sys.exit(f"demo exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    with open(out) as f:
        return json.load(f)


def by_name(results):
    return {b["name"]: b for b in results["benchmarks"]}


def expect(condition, message):
    if not condition:
        sys.exit("FAIL: " + message)


def case_counters(demo, work):
    runs = by_name(load(demo, work))
    c = runs["demo/counters"]
    expect(c.get("plain_value") == 42.0, f"plain_value is {c.get('plain_value')}, expected 42")
    seconds = c["real_time"] / 1e3 * c["iterations"]  # time_unit is ms
    rate = c["per_iteration_rate"]
    expected = 1000.0 * c["iterations"] / seconds
    expect(abs(rate - expected) <= 0.02 * expected,
           f"per_iteration_rate is {rate}, expected about {expected}")
    total = c["total_rate"]
    expect(abs(total - 5.0 / seconds) <= 0.02 * 5.0 / seconds,
           f"total_rate is {total}, expected about {5.0 / seconds}")
    expect(c.get("items_per_second", 0) > 0, "items_per_second missing")
    expect(c.get("bytes_per_second", 0) > 0, "bytes_per_second missing")
    expect(c.get("label") == "label with 'quotes'", f"label is {c.get('label')!r}")
    expect(c["time_unit"] == "ms", f"time_unit is {c['time_unit']}")


def case_pause(demo, work):
    runs = by_name(load(demo, work))
    p = runs["demo/paused"]
    expect(not p.get("error_occurred"), "the paused benchmark reported an error")
    expect(p["real_time"] < PAUSED_SLEEP_MS / 2,
           f"paused benchmark real_time {p['real_time']} ms includes the {PAUSED_SLEEP_MS} ms "
           "paused sleep")


def case_errors(demo, work):
    runs = by_name(load(demo, work))
    for name, message in [("demo/error_in_loop", "wrong result: deliberate"),
                          ("demo/error_before_loop", "skipped: deliberate, before the loop"),
                          ("demo/returns_early",
                           "the benchmark function returned before its timing loop ended")]:
        r = runs[name]
        expect(r.get("error_occurred") is True, f"{name}: error_occurred is {r.get('error_occurred')}")
        expect(r.get("error_message") == message,
               f"{name}: error_message is {r.get('error_message')!r}, expected {message!r}")
        expect("GFLOPS" not in r, f"{name}: an error run reports GFLOPS")
    expect(not runs["demo/counters"].get("error_occurred"), "demo/counters reported an error")


def case_context(demo, work):
    context = load(demo, work)["context"]
    expect(context.get("demo_key") == "demo 'value' with / backslash",
           f"demo_key is {context.get('demo_key')!r}")
    expect("library_build_type" in context, "Google Benchmark's own context is missing")


def case_names(demo, work):
    names = [b["name"] for b in load(demo, work)["benchmarks"]]
    expect(names == ["demo/counters", "demo/paused", "demo/error_in_loop",
                     "demo/error_before_loop", "demo/returns_early"],
           f"names are {names}")
    # The console output must use the clean names too.
    out = os.path.join(work, "wrapper.json")
    proc = run_demo(demo, out)
    expect("min_time" not in proc.stdout and "real_time" not in proc.stdout,
           "console output carries name suffixes:\n" + proc.stdout)


def case_stop(demo, work):
    names = [b["name"] for b in load(demo, work, "--stop-after-first")["benchmarks"]]
    expect(names == ["demo/counters"], f"after a stop request the results hold {names}")


def case_filter(demo, work):
    names = [b["name"] for b in load(demo, work, "--benchmark_filter=paused")["benchmarks"]]
    expect(names == ["demo/paused"], f"--benchmark_filter=paused gave {names}")


def case_bad_flag(demo, work):
    out = os.path.join(work, "wrapper.json")
    for flag in ["--benchmark_no_such_flag=1", "--benchmark_format=xml"]:
        proc = run_demo(demo, out, flag)
        expect(proc.returncode == 2, f"{flag}: exit {proc.returncode}, expected 2")
        expect(flag.split("=")[0] in proc.stderr or "xml" in proc.stderr,
               f"{flag}: stderr does not name it:\n{proc.stderr}")


CASES = {
    "counters": case_counters,
    "pause": case_pause,
    "errors": case_errors,
    "context": case_context,
    "names": case_names,
    "stop": case_stop,
    "filter": case_filter,
    "bad_flag": case_bad_flag,
}

if __name__ == "__main__":
    demo_program, work_dir, case = sys.argv[1:4]
    os.makedirs(work_dir, exist_ok=True)
    CASES[case](demo_program, work_dir)
    print("ok")
