#!/bin/sh
# Runs `attnbench check` and `attnbench bench` under a 700 MB address-space
# limit (ulimit -v) on shapes whose allocations cannot fit. Each failure must
# be reported for that (implementation, case) pair or benchmark, never as a
# crash, and the small shapes around them must still pass or be timed.
# bench must skip a shape whose inputs exceed the limit before allocating.
#
#   big:  inputs and expected of about 1.3 GB in all (sparse chunked
#         datasets, so the file is a few KiB); the loader's allocation fails.
#   wide: 16 KiB keys at head_dim 1 loads in under a MB, but a full score
#         matrix would take 1 GiB; implementations that need one must skip
#         it, naming the memory limit, or report that they cannot
#         allocate it.
#
# usage: low_memory.sh PATH/TO/attnbench WORK_DIR
set -eu
attnbench=$1
work=$2
mkdir -p "$work"

/usr/bin/python3 - "$work" <<'PY'
import os, sys
import h5py
import numpy as np


def sparse_case(f, name, B, H, L, D):
    g = f.create_group(name)
    for key, text in dict(op="attention", dtype="f32", causal="none").items():
        g.attrs[key] = text
    for key, value in dict(seed=1, batch=B, heads=H, kv_heads=H, q_len=L, kv_len=L,
                           head_dim=D).items():
        g.attrs[key] = np.int64(value)
    g.attrs["scale"] = 1.0
    # No chunk is written: every element reads as 0, and the output of
    # attention over zero inputs is exactly 0, so expected is right too.
    for key in ("q", "k", "v", "expected"):
        g.create_dataset(key, shape=(B, H, L, D), chunks=(1, 1, min(L, 4096), D),
                         dtype=np.float64 if key == "expected" else np.float32)


with h5py.File(os.path.join(sys.argv[1], "low_memory.h5"), "w") as f:
    f.attrs["format"] = "attnbench-golden"
    f.attrs["format_version"] = 1
    f.attrs["generator"] = "low_memory.sh"
    sparse_case(f, "big", 1, 4, 262144, 64)
    sparse_case(f, "wide", 1, 1, 16384, 1)
    sparse_case(f, "zz_small", 1, 2, 8, 4)
PY

set +e
(ulimit -v 700000 && exec "$attnbench" check --threads 1 --json "$work/low_memory.json" \
    "$work/low_memory.h5") >"$work/stdout.txt" 2>"$work/stderr.txt"
status=$?
set -e
cat "$work/stdout.txt" "$work/stderr.txt"

failed=0
fail() {
    echo "FAIL $*"
    failed=1
}
[ "$status" -eq 1 ] || fail "exit status $status, expected 1 (an ERROR, and no crash)"
grep -q Sanitizer "$work/stderr.txt" && fail "a sanitizer report on stderr"
n_impls=$(grep -c ' zz_small ' "$work/stdout.txt" || true)
[ "$n_impls" -ge 1 ] || fail "no result for the small case after the failed ones"
[ "$(grep ' zz_small ' "$work/stdout.txt" | grep -c '^PASS')" -eq "$n_impls" ] ||
    fail "the small case does not pass for every implementation"
[ "$(grep ' big ' "$work/stdout.txt" | grep -c '^ERROR.*cannot allocate')" -eq "$n_impls" ] ||
    fail "the big case is not an allocation ERROR for every implementation"
# The wide case: every implementation passes, reports the failed
# allocation, or skips the case. onednn skips it, because its 1 GiB score
# matrix cannot fit the memory left. Any other result fails the test.
grep ' wide ' "$work/stdout.txt" | grep -v -E '^PASS|^ERROR.*(allocate|memory)|^SKIP.*memory left' &&
    fail "the wide case got a result other than PASS, an allocation ERROR or a memory SKIP"
[ -s "$work/low_memory.json" ] || fail "no JSON results were written"

# The committed vectors with OpenBLAS and oneDNN in one run: in a single
# process, OpenBLAS's buffers left oneDNN too little address space and it
# segfaulted creating a primitive. Under the limit, check runs each pair
# in a child process and prints a note about it, and every pair passes.
set +e
(ulimit -v 700000 && exec "$attnbench" check --impl '^(blas|onednn)$' --threads 2) \
    >"$work/libs_stdout.txt" 2>"$work/libs_stderr.txt"
status=$?
set -e
tail -1 "$work/libs_stdout.txt"
[ "$status" -eq 0 ] || fail "check of blas and onednn exited $status under the limit, expected 0"
grep -q 'address-space limit (ulimit -v) is set' "$work/libs_stderr.txt" ||
    fail "check did not say it isolates the cases under the limit"
grep -q -E '^[0-9]+ results: [0-9]+ PASS, 0 FAIL, 0 SKIP, 0 ERROR' "$work/libs_stdout.txt" ||
    fail "not every blas and onednn pair passed under the limit"

# Runs naive and blocked in bench under the limit, with the options both
# runs below share, into $work/NAME.json; sets status to the exit status.
limited_bench() {
    name=$1
    shift
    set +e
    (ulimit -v 700000 && exec "$attnbench" bench --impl '^(naive|blocked)$' "$@" \
        --causal none --threads 1 --peak-gflops 100 --budget-seconds 1000000 \
        --min-time 0.01 --quiet --out "$work/$name.json") \
        >"$work/${name}_stdout.txt" 2>"$work/${name}_stderr.txt"
    status=$?
    set -e
    tail -2 "$work/${name}_stderr.txt"
}

# bench under the same limit. First, a shape whose inputs (1 GiB) cannot
# fit is skipped before anything is allocated, and the reason names the
# address-space limit. The small shape is still timed.
limited_bench bench --op attention --seq 8,65536 --heads 16 --head-dim 64
[ "$status" -eq 0 ] || fail "bench exit status $status, expected 0 (timed or skipped)"
/usr/bin/python3 - "$work/bench.json" <<'PY' || fail "bench results file: see above"
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
small = [r for r in runs if "/Lq:8/" in r["name"]]
big = [r for r in runs if "/Lq:65536/" in r["name"]]
problems = []
if len(small) != 2 or any(r.get("error_occurred") or not r.get("real_time") for r in small):
    problems.append(f"the small shape is not timed for both implementations: {small}")
if len(big) != 2 or any(not r.get("error_message", "").startswith("skipped:")
                        or "ulimit -v" not in r["error_message"] for r in big):
    problems.append(f"the big shape is not skipped naming the address-space limit: {big}")
for p in problems:
    print("FAIL bench.json: " + p)
sys.exit(1 if problems else 0)
PY

# Second, an encoder layer whose input is 128 KiB but whose feed-forward
# scratch (L x F floats) is 512 MiB. The plan's allocation fails, and each
# such benchmark must be a failed run naming the allocation, not a crash.
# The small shape is timed.
limited_bench bench_wide --op encoder_layer --seq 8,4096 --heads 1 --head-dim 8 --ffn-dim 32768
[ "$status" -eq 1 ] || fail "bench exit status $status, expected 1 (a failed benchmark, no crash)"
/usr/bin/python3 - "$work/bench_wide.json" <<'PY' || fail "bench results file: see above"
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
failed = [r for r in runs if r.get("error_occurred")]
timed = [r for r in runs if not r.get("error_occurred") and r.get("real_time")]
problems = []
if sorted(r["name"].split("/")[1] for r in failed if "/L:4096/" in r["name"]) != ["blocked", "naive"] \
        or len(failed) != 2:
    problems.append(f"expected failed runs for naive and blocked at L 4096: {failed}")
for r in failed:
    if "allocat" not in r.get("error_message", ""):
        problems.append(f"the failed run does not name the allocation: {r}")
if sorted(r["name"].split("/")[1] for r in timed if "/L:8/" in r["name"]) != ["blocked", "naive"] \
        or len(timed) != 2:
    problems.append(f"expected 2 timed runs at L 8, got {[r['name'] for r in timed]}")
for p in problems:
    print("FAIL bench_wide.json: " + p)
sys.exit(1 if problems else 0)
PY
[ "$failed" -eq 0 ] && echo "ok   under ulimit -v 700000 every allocation failure is reported" \
    "and bench skips what cannot fit"
exit "$failed"
