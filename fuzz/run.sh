#!/bin/sh
# Builds the golden-file fuzz target with clang and runs it for a bounded
# time, then sorts every crash input it found by where the fault is:
#
#   attnbench  the faulting frame is in attnbench's own code: a bug to fix.
#              The script exits 1.
#   libhdf5    the fault is inside HDF5 itself on a damaged file. HDF5
#              1.10.8 is not memory-safe on hostile files; these are listed
#              and kept, and do not fail the run.
#
# usage: fuzz/run.sh SECONDS WORK_DIR
#   WORK_DIR receives the build, the grown corpus and the crash inputs.
# Environment: CC (default clang).
set -eu
seconds=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work/corpus" "$work/artifacts"

# === Build ===
if [ ! -x "$work/build/fuzz_golden_image" ] || [ -n "$(find "$here" "$here/../harness" -newer "$work/build/fuzz_golden_image" -name '*.[ch]' | head -1)" ]; then
    cmake -S "$here" -B "$work/build" -DCMAKE_C_COMPILER="${CC:-clang}" >"$work/configure.log" 2>&1 ||
        { cat "$work/configure.log"; exit 1; }
    cmake --build "$work/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
fi
fuzzer=$work/build/fuzz_golden_image

export LSAN_OPTIONS="suppressions=$here/lsan.supp"
export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer || command -v llvm-symbolizer-14 || echo)}"

# === Replay: every seed must load without any fault ===
# fuzz/regressions/ contains inputs that crash HDF5 itself, so the CTest
# check_survives_hdf5_faults runs those through attnbench check instead.
"$fuzzer" -runs=0 "$here/corpus/golden_image" >"$work/replay.log" 2>&1 ||
    { cat "$work/replay.log"; echo "fuzz/run.sh: the seed corpus does not load cleanly" >&2; exit 1; }

# === Fuzz ===
# Fork mode keeps going after a crash, so one HDF5-internal fault does not
# end the run; -ignore_* keep the crash inputs for the triage below.
cd "$work/artifacts"
"$fuzzer" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$seconds" -timeout=3 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$work/artifacts/" \
    "$work/corpus" "$here/corpus/golden_image" >"$work/fuzz.log" 2>&1 || true
grep -E '^#[0-9]+' "$work/fuzz.log" | tail -1 || true

# === Triage ===
# The first stack frame that is not in the sanitizer runtime, libFuzzer or
# libc (the signal trampoline of a timeout, memcpy) identifies whose code
# faulted.
n_ours=0
n_hdf5=0
n_other=0
for input in "$work"/artifacts/crash-* "$work"/artifacts/leak-* "$work"/artifacts/timeout-* "$work"/artifacts/oom-*; do
    [ -e "$input" ] || continue
    report=$input.report
    [ -e "$report" ] || "$fuzzer" -timeout=3 -rss_limit_mb=2048 "$input" >"$report" 2>&1 || true
    frames=$(grep -E '^ +#[0-9]+ ' "$report" |
        grep -v -E 'in __interceptor_|in __asan|in __sanitizer|in __lsan|in __ubsan|in (malloc|calloc|realloc|free) |in fuzzer::|compiler-rt|libclang_rt|libc\.so' || true)
    # Without llvm-symbolizer, sanitizer interceptors such as strdup show
    # only as an offset in the fuzz binary, like attnbench's own code. So
    # the first frame that names libhdf5 or a project source file decides,
    # and an unnamed frame in the fuzz binary counts only when none does.
    frame=$(printf '%s\n' "$frames" | grep -E 'libhdf5|harness/|fuzz_golden_image\.c' | head -1)
    [ -n "$frame" ] || frame=$(printf '%s\n' "$frames" | grep -E 'fuzz_golden_image\+0x' | head -1)
    case $frame in
        *libhdf5*) n_hdf5=$((n_hdf5 + 1)) ;;
        *harness/* | *fuzz_golden_image.c* | *fuzz_golden_image+0x*)
            n_ours=$((n_ours + 1))
            echo "fuzz/run.sh: fault in attnbench for input $input:" >&2
            grep -E 'ERROR|SUMMARY|^ +#[0-9]+ ' "$report" | head -12 >&2 ;;
        *)
            # No stack (a timeout in the middle of a library call, or an
            # out-of-memory): counted apart and shown, but not a failure.
            n_other=$((n_other + 1))
            echo "fuzz/run.sh: unclassified finding $input: $(grep -m1 -E 'ERROR|SUMMARY' "$report")" >&2 ;;
    esac
done
echo "fuzz/run.sh: findings: $n_ours in attnbench, $n_hdf5 inside libhdf5, $n_other unclassified"
[ "$n_ours" -eq 0 ]
