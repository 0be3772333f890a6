#!/usr/bin/python3
"""End-to-end checks of `attnbench bench` and `attnbench peak`.

usage: check_bench.py ATTNBENCH WORK_DIR CASE

Cases: quick, faulty, misuse, sigint, sigterm, memory, filter, budget,
oversubscribed, peak, peak_misuse.
Each case uses its own files under WORK_DIR.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

ATTENTION_NAME = re.compile(
    r"^attention/(?P<impl>[A-Za-z0-9_.+-]+)/B:\d+/H:\d+/Hkv:\d+/Lq:\d+/Lk:\d+/D:\d+/"
    r"causal:(none|top_left|bottom_right)/threads:\d+$")
ENCODER_NAME = re.compile(
    r"^encoder_layer/(?P<impl>[A-Za-z0-9_.+-]+)/B:\d+/L:\d+/E:\d+/H:\d+/F:\d+/"
    r"act:(relu|gelu)/norm_first:[01]/causal:(none|top_left)/threads:\d+$")

CONTEXT_KEYS = [
    "cpu_model", "attnbench_version", "attnbench_compiler", "attnbench_c_flags",
    "attnbench_build_type", "openblas_version", "openblas_corename", "onednn_version",
    "hdf5_version", "benchmark_version", "cpu_isa_used", "peak_source",
]


def fail(message):
    sys.exit("FAIL: " + message)


def expect(condition, message):
    if not condition:
        fail(message)


def run(cmd, env=None, timeout=600):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def load(path):
    with open(path) as f:
        return json.load(f)


def impl_of(name):
    m = ATTENTION_NAME.match(name) or ENCODER_NAME.match(name)
    return m.group("impl") if m else None


def check_results(results, require_timed_impls=True):
    """Checks names, counters and context of a results file."""
    context = results["context"]
    for key in CONTEXT_KEYS:
        expect(key in context and context[key], f"context key {key} missing or empty")
    expect(any(k.startswith("peak_gflops_") for k in context),
           "no peak_gflops_* entry in the context")
    impls = sorted(k[len("impl."):] for k in context if k.startswith("impl."))
    expect(impls, "no impl.* entry in the context")

    timed = set()
    for b in results["benchmarks"]:
        name = b["name"]
        expect(impl_of(name) is not None, f"name {name!r} does not follow the naming scheme")
        if b.get("error_occurred"):
            expect(b.get("error_message"), f"{name}: error without a message")
            expect("GFLOPS" not in b, f"{name}: an error run reports GFLOPS")
            continue
        for counter in ["GFLOPS", "peak_fraction", "flops"]:
            expect(counter in b and b[counter] > 0,
                   f"{name}: counter {counter} missing or not positive ({b.get(counter)})")
        expect("plan_ms" in b and b["plan_ms"] >= 0, f"{name}: plan_ms missing")
        timed.add(impl_of(name))
    if require_timed_impls:
        for impl in impls:
            if context["impl." + impl].startswith("this CPU lacks") or "disabled by" in context["impl." + impl]:
                continue
            expect(impl in timed, f"implementation {impl} has no timed benchmark")
    return timed


def check_bandwidth_fraction(results):
    # Every benchmark with GBps compares it with the triad bandwidth that the
    # same run measured for its thread count; the others have neither.
    context = results["context"]
    expect("triad" in context.get("bandwidth_source", ""),
           f"context bandwidth_source: {context.get('bandwidth_source')!r}")
    n_decode = 0
    for b in results["benchmarks"]:
        if b.get("error_occurred"):
            continue
        if "GBps" not in b:
            expect("bandwidth_fraction" not in b, f"{b['name']}: bandwidth_fraction without GBps")
            continue
        threads = re.search(r"/threads:(\d+)", b["name"]).group(1)
        bandwidth = float(context[f"bandwidth_gbps_threads_{threads}"])
        best = float(context[f"bandwidth_best_gbps_threads_{threads}"])
        expect(bandwidth > 0, f"bandwidth for {threads} threads: {bandwidth}")
        expect(best >= bandwidth, f"best bandwidth {best} below the median {bandwidth}")
        fraction = b.get("bandwidth_fraction", 0)
        # The context rounds the bandwidth to 0.1 GB/s.
        expect(abs(fraction * bandwidth - b["GBps"]) <= 0.06 / bandwidth * b["GBps"] + 1e-9,
               f"{b['name']}: bandwidth_fraction {fraction} is not GBps {b['GBps']} / "
               f"{bandwidth}")
        n_decode += 1
    expect(n_decode > 0, "no benchmark with GBps and bandwidth_fraction")


def case_given_peak(exe, work):
    # With --peak-gflops nothing is measured at startup, so a decode shape
    # has GBps but no bandwidth_fraction and the context has no bandwidth.
    out = os.path.join(work, "given_peak.json")
    proc = run([exe, "bench", "--impl", "^naive$", "--op", "attention", "--q-len", "1",
                "--kv-len", "256", "--heads", "2", "--head-dim", "16", "--causal", "none",
                "--threads", "1", "--min-time", "0.01", "--peak-gflops", "100", "--quiet",
                "--out", out], timeout=120)
    expect(proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr}")
    results = load(out)
    expect(not [k for k in results["context"] if k.startswith("bandwidth")],
           f"bandwidth in the context although --peak-gflops was given: {results['context']}")
    runs = [b for b in results["benchmarks"] if not b.get("error_occurred")]
    expect(runs and all("GBps" in b and "bandwidth_fraction" not in b for b in runs),
           f"decode counters with --peak-gflops: {runs}")


def case_decode_bytes(exe, work):
    # GBps counts q, the output, and the K and V rows that some query row
    # may attend: one key under top_left with Lq = 1, all of them otherwise.
    out = os.path.join(work, "decode_bytes.json")
    proc = run([exe, "bench", "--impl", "^naive$", "--op", "attention", "--q-len", "1",
                "--kv-len", "512", "--heads", "4", "--kv-heads", "2", "--head-dim", "16",
                "--causal", "none,top_left,bottom_right", "--threads", "1", "--min-time", "0.01",
                "--peak-gflops", "100", "--quiet", "--out", out], timeout=120)
    expect(proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr}")
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    seen = set()
    for b in load(out)["benchmarks"]:
        causal = re.search(r"/causal:(\w+)/", b["name"]).group(1)
        keys = 1 if causal == "top_left" else 512
        expected = 4 * (2 * 4 * 1 * 16 + 2 * 2 * keys * 16)
        moved = b["GBps"] * 1e9 * b["real_time"] * scale[b["time_unit"]]
        expect(abs(moved - expected) <= 1e-6 * expected,
               f"{b['name']}: GBps x time is {moved:.1f} bytes, expected {expected}")
        seen.add(causal)
    expect(seen == {"none", "top_left", "bottom_right"}, f"causal rules timed: {seen}")


def case_min_time_unit(exe, work):
    # Google Benchmark 1.8 takes "0.5s" and 1.7 does not. With 1.7, bench must
    # print one error naming the version, not call the flag unrecognized.
    out = os.path.join(work, "version.json")
    proc = run([exe, "bench", "--impl", "^naive$", "--op", "attention", "--seq", "8",
                "--heads", "1", "--head-dim", "8", "--causal", "none", "--threads", "1",
                "--min-time", "0.01", "--peak-gflops", "100", "--quiet", "--out", out],
               timeout=120)
    expect(proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr}")
    version = load(out)["context"]["benchmark_version"]
    major, minor = (int(x) for x in version.split(".")[:2])
    proc = run([exe, "bench", "--impl", "^naive$", "--op", "attention", "--seq", "8",
                "--heads", "1", "--head-dim", "8", "--causal", "none", "--threads", "1",
                "--peak-gflops", "100", "--quiet", "--benchmark_min_time=0.05s"], timeout=120)
    if (major, minor) < (1, 8):
        expect(proc.returncode == 2, f"'0.05s' with Google Benchmark {version}: exit "
                                     f"{proc.returncode}")
        expect(f"Google Benchmark {version} takes --benchmark_min_time in plain seconds"
               in proc.stderr, f"no message naming the version:\n{proc.stderr}")
        expect("unrecognized" not in proc.stderr, f"flag called unrecognized:\n{proc.stderr}")
    else:
        expect(proc.returncode == 0, f"'0.05s' with Google Benchmark {version}: exit "
                                     f"{proc.returncode}\n{proc.stderr}")


def case_quick(exe, work):
    out = os.path.join(work, "quick.json")
    proc = run([exe, "bench", "--preset", "quick", "--out", out, "--quiet"])
    expect(proc.returncode == 0, f"bench exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    results = load(out)
    timed = check_results(results)
    expect("naive" in timed, "naive was not timed")
    ops = {b["name"].split("/")[0] for b in results["benchmarks"]}
    expect(ops == {"attention", "encoder_layer"}, f"operations in the results: {ops}")
    expect(any("/Lq:1/" in b["name"] and "GBps" in b for b in results["benchmarks"]
               if not b.get("error_occurred")), "no decode benchmark with a GBps counter")
    check_bandwidth_fraction(results)
    expect(not [f for f in os.listdir(work) if ".tmp-" in f or ".probe-" in f],
           "a temporary file was left behind")


def case_faulty(exe, work):
    out = os.path.join(work, "faulty.json")
    env = dict(os.environ, ATTNBENCH_TEST_FAULTY_IMPL="1")
    proc = run([exe, "bench", "--impl", "^naive$|^naive-broken-scale$", "--op", "attention",
                "--seq", "64,128", "--heads", "2", "--head-dim", "32", "--threads", "1",
                "--causal", "none", "--min-time", "0.01", "--out", out, "--quiet"], env=env)
    expect(proc.returncode == 1,
           f"bench with a wrong implementation exited {proc.returncode}, expected 1:\n"
           f"{proc.stderr[-3000:]}")
    runs = {b["name"]: b for b in load(out)["benchmarks"]}
    broken = [b for n, b in runs.items() if "/naive-broken-scale/" in n]
    good = [b for n, b in runs.items() if "/naive/" in n]
    expect(len(broken) == 2 and len(good) == 2, f"results: {sorted(runs)}")
    for b in broken:
        expect(b.get("error_occurred") is True, f"{b['name']}: not reported as an error")
        expect(b.get("error_message", "").startswith("wrong result:"),
               f"{b['name']}: error_message {b.get('error_message')!r}")
        expect("GFLOPS" not in b and "peak_fraction" not in b,
               f"{b['name']}: a wrong result reports a speed")
    for b in good:
        expect(not b.get("error_occurred") and b.get("GFLOPS", 0) > 0,
               f"{b['name']}: the correct naive was not timed")


MISUSE = [
    (["--no-such-option"], "--no-such-option"),
    # Both operations by default, but no attention shape is valid: not a
    # silent encoder_layer-only run.
    (["--heads", "3", "--kv-heads", "2", "--seq", "64"], "no valid attention shape"),
    (["--benchmark_repetitions=abc"], "invalid value 'abc' for --benchmark_repetitions"),
    (["--benchmark_min_time=-1"], "--benchmark_min_time"),
    (["--benchmark_min_time=abc"], "--benchmark_min_time"),
    (["--seq", "0"], "--seq"),
    (["--seq", "abc"], "--seq"),
    (["--seq", "99999999999"], "--seq"),
    (["--seq"], "--seq"),
    (["--threads", "0"], "--threads"),
    (["--threads", "two"], "--threads"),
    (["--preset", "fastest"], "--preset"),
    (["--causal", "upper"], "--causal"),
    (["--act", "tanh"], "--act"),
    (["--norm-first", "2"], "--norm-first"),
    (["--op", "matmul"], "--op"),
    (["--impl", "no-such-impl"], "--impl"),
    (["--impl", "("], "--impl"),
    (["--budget-seconds", "-1"], "--budget-seconds"),
    (["--heads", "6", "--kv-heads", "4", "--op", "attention"], "--kv-heads"),
    (["--benchmark_no_such_flag=1"], "--benchmark_no_such_flag"),
    (["--benchmark_format=xml"], "--benchmark_format"),
]


def case_misuse(exe, work):
    for args, named in MISUSE:
        proc = run([exe, "bench", *args], timeout=60)
        expect(proc.returncode == 2, f"bench {' '.join(args)}: exit {proc.returncode}, expected 2"
                                     f"\n{proc.stderr}")
        expect(named in proc.stderr, f"bench {' '.join(args)}: stderr does not name {named}:"
                                     f"\n{proc.stderr}")
        expect("usage: attnbench bench" in proc.stderr,
               f"bench {' '.join(args)}: no usage line:\n{proc.stderr}")


def interrupt(exe, work, sig):
    """Starts a sweep of slow benchmarks, signals it after the first result
    is written, and checks the exit status and the file."""
    out = os.path.join(work, f"interrupted-{sig.name}.json")
    if os.path.exists(out):
        os.remove(out)
    n_total = 8
    cmd = [exe, "bench", "--impl", "^naive$", "--op", "attention", "--seq",
           "32,48,64,80,96,112,128,144", "--heads", "1", "--head-dim", "16", "--causal", "none",
           "--threads", "1", "--min-time", "0.4", "--peak-gflops", "100", "--out", out,
           "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    # Wait for the first finished benchmark in the results file.
    deadline = time.time() + 120
    n_before = 0
    while time.time() < deadline:
        try:
            n_before = len(load(out)["benchmarks"])
        except (OSError, ValueError):
            n_before = 0
        if n_before >= 1:
            break
        time.sleep(0.02)
    expect(n_before >= 1, "no benchmark finished within 120 s")

    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    expect(proc.returncode == 128 + sig.value,
           f"exit status {proc.returncode} after {sig.name}, expected {128 + sig.value}:\n{stderr}")

    results = load(out)
    names = [b["name"] for b in results["benchmarks"]]
    expect(n_before <= len(names) < n_total,
           f"{len(names)} benchmarks in the file after {sig.name}; expected {n_before} to "
           f"{n_total - 1}")
    for b in results["benchmarks"]:
        expect(not b.get("error_occurred") and b.get("GFLOPS", 0) > 0,
               f"{b['name']}: an unfinished benchmark is in the file")
    expect(not [f for f in os.listdir(work) if ".tmp-" in f], "a temporary file was left behind")


def case_sigint(exe, work):
    interrupt(exe, work, signal.SIGINT)


def case_sigterm(exe, work):
    interrupt(exe, work, signal.SIGTERM)


def case_memory(exe, work):
    out = os.path.join(work, "memory.json")
    proc = run([exe, "bench", "--impl", "^naive$", "--op", "attention", "--seq", "2000000",
                "--heads", "64", "--head-dim", "256", "--causal", "none", "--threads", "1",
                "--peak-gflops", "100", "--out", out, "--quiet"], timeout=120)
    expect(proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr}")
    runs = load(out)["benchmarks"]
    expect(len(runs) == 1 and runs[0].get("error_occurred"), f"results: {runs}")
    expect("MiB" in runs[0]["error_message"] and runs[0]["error_message"].startswith("skipped:"),
           f"error_message {runs[0]['error_message']!r}")


def case_budget(exe, work):
    out = os.path.join(work, "budget.json")
    proc = run([exe, "bench", "--impl", "^naive$", "--op", "attention", "--seq", "64,4096",
                "--heads", "16", "--head-dim", "128", "--causal", "none", "--threads", "1",
                "--budget-seconds", "0.5", "--min-time", "0.01", "--peak-gflops", "100",
                "--out", out], timeout=120)
    expect(proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr}")
    runs = {b["name"]: b for b in load(out)["benchmarks"]}
    small = runs["attention/naive/B:1/H:16/Hkv:16/Lq:64/Lk:64/D:128/causal:none/threads:1"]
    large = runs["attention/naive/B:1/H:16/Hkv:16/Lq:4096/Lk:4096/D:128/causal:none/threads:1"]
    expect(not small.get("error_occurred") and small.get("GFLOPS", 0) > 0,
           "the small shape was not timed")
    expect(large.get("error_occurred") is True, "the 137 GFLOP shape was not skipped")
    expect(large["error_message"].startswith("skipped: estimated")
           and "--budget-seconds" in large["error_message"],
           f"error_message {large['error_message']!r}")
    expect("skipped: estimated" in proc.stderr, "the skip reason was not printed on stderr")


def case_calibrated(exe, work):
    # A lone large shape has no smaller shape to learn a rate from: the
    # bench must measure one on a small problem instead of skipping the
    # fast implementation on a pessimistic guess, and still skip naive.
    out = os.path.join(work, "calibrated.json")
    proc = run([exe, "bench", "--impl", "^(naive|blocked)$", "--op", "attention", "--seq", "2048",
                "--heads", "8", "--head-dim", "64", "--causal", "none", "--threads", "1",
                "--budget-seconds", "2", "--min-time", "0.01", "--peak-gflops", "100",
                "--out", out], timeout=240)
    expect(proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr}")
    results = load(out)
    runs = {b["name"]: b for b in results["benchmarks"]}
    shape = "B:1/H:8/Hkv:8/Lq:2048/Lk:2048/D:64/causal:none/threads:1"
    blocked = runs[f"attention/blocked/{shape}"]
    naive = runs[f"attention/naive/{shape}"]
    # Every budget decision rests on a measured rate, never on the prior
    # of 1 GFLOP/s per thread.
    for b in (blocked, naive):
        expect("at about 1 GFLOP/s" not in b.get("error_message", ""),
               f"{b['name']} was judged on the prior: {b.get('error_message')}")
    expect(naive.get("error_occurred") is True
           and naive["error_message"].startswith("skipped: estimated"),
           f"naive was not skipped by the budget: {naive}")
    # A sanitizer build runs blocked far below its normal speed, so only an
    # optimized build must time it within the budget.
    if "-fsanitize" in results["context"].get("attnbench_c_flags", ""):
        print("note: sanitizer build, blocked may be skipped by the budget")
    else:
        expect(not blocked.get("error_occurred") and blocked.get("GFLOPS", 0) > 0,
               f"blocked was not timed: {blocked.get('error_message')}")


def case_above_peak(exe, work):
    # A peak far below what the code reaches must be called out, since
    # every peak_fraction computed from it would be wrong.
    proc = run([exe, "bench", "--impl", "^naive$", "--op", "attention", "--seq", "64",
                "--heads", "1", "--head-dim", "64", "--causal", "none", "--threads", "1",
                "--min-time", "0.01", "--peak-gflops", "0.001", "--quiet"], timeout=120)
    expect(proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr}")
    expect("above the peak of 0.0 GFLOP/s" in proc.stderr,
           f"no warning for a result above the peak:\n{proc.stderr}")
    expect("1 benchmarks ran faster than the FMA peak" in proc.stderr,
           f"no summary of results above the peak:\n{proc.stderr}")


def case_denormal_inputs(exe, work):
    # Denormal-heavy inputs still validate against the reference, and the
    # results file says which inputs were used.
    out = os.path.join(work, "denormal.json")
    proc = run([exe, "bench", "--impl", "^(naive|blocked)$", "--op", "attention,encoder_layer",
                "--seq", "64", "--heads", "2", "--head-dim", "16", "--causal", "none",
                "--threads", "1", "--min-time", "0.01", "--peak-gflops", "100",
                "--inputs", "denormal", "--quiet", "--out", out], timeout=120)
    expect(proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr}")
    results = load(out)
    expect(results["context"].get("bench_inputs") == "denormal",
           f"context bench_inputs: {results['context'].get('bench_inputs')!r}")
    runs = [b for b in results["benchmarks"] if b.get("run_type") == "iteration"]
    expect(len(runs) == 4, f"expected 4 runs, got {[b['name'] for b in runs]}")
    for b in runs:
        expect(not b.get("error_occurred") and b.get("GFLOPS", 0) > 0,
               f"{b['name']}: {b.get('error_message')}")
    bad = run([exe, "bench", "--inputs", "subnormal"], timeout=60)
    expect(bad.returncode == 2 and "--inputs" in bad.stderr and "usage:" in bad.stderr,
           f"--inputs subnormal: exit {bad.returncode}\n{bad.stderr}")


def case_ffn_default(exe, work):
    # Without --ffn-dim the layer's F is 4E for whatever E the options give.
    proc = run([exe, "bench", "--impl", "^naive$", "--op", "encoder_layer", "--heads", "2",
                "--head-dim", "32", "--seq", "16", "--threads", "1", "--benchmark_list_tests"],
               timeout=60)
    expect(proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr}")
    expect("/E:64/H:2/F:256/" in proc.stdout, f"expected F = 4E = 256:\n{proc.stdout}")


def case_unwritable_out(exe, work):
    # An --out that cannot be written is rejected before anything is timed,
    # so no measurement is lost at the end.
    for out, reason in [(work, "it is a directory"),
                        (os.path.join(work, "no-such-dir", "r.json"), "cannot create files")]:
        proc = run([exe, "bench", "--preset", "quick", "--out", out], timeout=60)
        expect(proc.returncode == 1, f"--out {out}: exit {proc.returncode}")
        expect(reason in proc.stderr and out in proc.stderr,
               f"--out {out}: stderr:\n{proc.stderr}")
        expect("[1/" not in proc.stderr, f"--out {out}: benchmarks ran:\n{proc.stderr}")


def case_oversubscribed(exe, work):
    threads = len(os.sched_getaffinity(0)) + 1
    proc = run([exe, "bench", "--impl", "^naive$", "--op", "attention", "--seq", "16",
                "--heads", "1", "--head-dim", "8", "--causal", "none", "--threads",
                str(threads), "--min-time", "0.01", "--peak-gflops", "100", "--quiet"],
               env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=120)
    expect(proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr}")
    expect("oversubscribe" in proc.stderr, f"no oversubscription warning:\n{proc.stderr}")
    expect("OMP_NUM_THREADS=1 differs" in proc.stderr,
           f"no warning about OMP_NUM_THREADS:\n{proc.stderr}")


def case_filter(exe, work):
    proc = run([exe, "bench", "--preset", "quick", "--impl", "^naive$",
                "--benchmark_filter=threads:1$", "--benchmark_list_tests"], timeout=120)
    expect(proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr}")
    names = proc.stdout.split()
    expect(names, "--benchmark_list_tests listed nothing")
    for name in names:
        expect(impl_of(name) == "naive", f"listed name {name!r} does not follow the naming scheme")
        expect(name.endswith("/threads:1"), f"listed name {name!r} does not match 'threads:1$'")
    proc = run([exe, "bench", "--preset", "quick", "--impl", "^naive$",
                "--benchmark_filter=-threads:1$", "--benchmark_list_tests"], timeout=120)
    for name in proc.stdout.split():
        expect(not name.endswith("/threads:1"), f"'-threads:1$' listed {name!r}")
    # A filter that selects nothing is a mistake, not an empty success.
    out = os.path.join(work, "nothing.json")
    proc = run([exe, "bench", "--preset", "quick", "--impl", "^naive$",
                "--benchmark_filter=no-such-benchmark", "--out", out], timeout=120)
    expect(proc.returncode == 2, f"a filter matching nothing exited {proc.returncode}")
    expect("--benchmark_filter matches none" in proc.stderr and "usage:" in proc.stderr,
           f"no message naming the filter:\n{proc.stderr}")
    expect(not os.path.exists(out), "a results file was written for an empty selection")


def case_peak(exe, work):
    proc = run([exe, "peak", "--json", "--repetitions", "2", "--threads", "1",
                "--no-bandwidth"], timeout=120)
    expect(proc.returncode == 0, f"peak exited {proc.returncode}:\n{proc.stderr}")
    data = json.loads(proc.stdout)
    isas = {row["isa"] for row in data["fma"]}
    expect("sse2" in isas, f"ISAs measured: {isas}")
    for row in data["fma"]:
        expect(row["gflops"] > 0 and row["threads"] == 1, f"row {row}")
    env = dict(os.environ, ATTNBENCH_MAX_ISA="scalar")
    proc = run([exe, "peak", "--json", "--repetitions", "1", "--threads", "1", "--no-bandwidth"],
               env=env, timeout=120)
    isas = {row["isa"] for row in json.loads(proc.stdout)["fma"]}
    expect(isas == {"sse2"}, f"with ATTNBENCH_MAX_ISA=scalar the ISAs measured are {isas}")
    # More threads than CPUs overstate the peak, so peak must print a warning.
    threads = len(os.sched_getaffinity(0)) + 1
    proc = run([exe, "peak", "--repetitions", "1", "--threads", str(threads), "--no-bandwidth"],
               env=env, timeout=120)
    expect(proc.returncode == 0, f"peak --threads {threads} exited {proc.returncode}")
    expect(f"{threads} threads on {threads - 1} CPUs" in proc.stderr,
           f"no oversubscription warning:\n{proc.stderr}")


def case_peak_misuse(exe, work):
    for args, named in [(["--threads", "0"], "--threads"), (["--repetitions", "x"],
                         "--repetitions"), (["--bogus"], "--bogus")]:
        proc = run([exe, "peak", *args], timeout=60)
        expect(proc.returncode == 2, f"peak {' '.join(args)}: exit {proc.returncode}")
        expect(named in proc.stderr and "usage: attnbench peak" in proc.stderr,
               f"peak {' '.join(args)}: stderr:\n{proc.stderr}")


CASES = {
    "quick": case_quick,
    "faulty": case_faulty,
    "misuse": case_misuse,
    "sigint": case_sigint,
    "sigterm": case_sigterm,
    "memory": case_memory,
    "filter": case_filter,
    "budget": case_budget,
    "calibrated": case_calibrated,
    "above_peak": case_above_peak,
    "denormal_inputs": case_denormal_inputs,
    "ffn_default": case_ffn_default,
    "unwritable_out": case_unwritable_out,
    "oversubscribed": case_oversubscribed,
    "peak": case_peak,
    "peak_misuse": case_peak_misuse,
    "given_peak": case_given_peak,
    "decode_bytes": case_decode_bytes,
    "min_time_unit": case_min_time_unit,
}

if __name__ == "__main__":
    attnbench, work_dir, case = sys.argv[1:4]
    os.makedirs(work_dir, exist_ok=True)
    CASES[case](attnbench, work_dir)
    print("ok")
