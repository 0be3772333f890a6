#!/bin/sh
# Runs `attnbench check` on the committed vectors under valgrind memcheck,
# one thread: any invalid read or write, use of an uninitialised value, bad
# free or definitely lost block fails the test.
#
# Every implementation runs. oneDNN 2.6.3's run-time generated kernels read
# full 32-byte vectors up to 64 bytes past the end of scratch buffers that
# oneDNN allocated itself, in code that belongs to no file. onednn_jit.supp
# suppresses exactly those reads (see its comment). To show that the
# suppression hides nothing else, a control program makes the same kind of
# read in ordinary code, and memcheck must report it.
#
# Valgrind does not emulate AVX-512, and its CPUID reports no AVX-512. So
# simd-avx512 reports SKIP here and the libraries pick their AVX2 code. The
# ASan build covers the AVX-512 code paths instead.
#
# usage: valgrind_check.sh VALGRIND ATTNBENCH WORK_DIR OVERREAD_CONTROL WITH_ONEDNN
# WITH_ONEDNN is 1 when the build has the onednn implementation, 0 if not.
set -eu
valgrind=$1
attnbench=$2
work=$3
control=$4
with_onednn=$5
suppressions=$(dirname "$0")/onednn_jit.supp
mkdir -p "$work"
rm -f "$work"/memcheck.*.log "$work"/control.log

memcheck() {
    OMP_NUM_THREADS=1 "$valgrind" --tool=memcheck --error-exitcode=99 --leak-check=full \
        --show-leak-kinds=definite --errors-for-leak-kinds=definite --track-origins=yes \
        --suppressions="$suppressions" "$@"
}

failed=0

# The control must be reported, or the suppression hides too much.
set +e
memcheck --log-file="$work/control.log" "$control" >/dev/null 2>&1
status=$?
set -e
if [ "$status" -ne 99 ] || ! grep -q 'Invalid read of size 32' "$work/control.log"; then
    echo "FAIL the control over-read was not reported (exit status $status), see $work/control.log"
    failed=1
else
    echo "ok   the control over-read is reported despite the suppressions"
fi

set +e
memcheck --log-file="$work/memcheck.%p.log" \
    "$attnbench" check --threads 1 --json "$work/check.json" >"$work/check.txt" 2>&1
status=$?
set -e
tail -3 "$work/check.txt"
if [ "$with_onednn" = 1 ] && ! grep -q '^PASS  onednn ' "$work/check.txt"; then
    echo "FAIL onednn did not run under valgrind"
    failed=1
fi
for log in "$work"/memcheck.*.log; do
    if grep -q -E 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]' "$log"; then
        echo "FAIL memcheck found errors, see $log:"
        grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Mismatched|Source and|.*definitely lost)' "$log" | head -20
        failed=1
    fi
done
case $status in
    0) ;;
    99) echo "FAIL valgrind reported errors (exit status 99)"; failed=1 ;;
    *) echo "FAIL attnbench check exited with status $status under valgrind"; failed=1 ;;
esac
suppressed=$(sed -n 's/.*(suppressed: \([0-9]*\) from.*/\1/p' "$work"/memcheck.*.log |
    awk '{ n += $1 } END { print n + 0 }')
[ "$failed" -eq 0 ] && echo "ok   memcheck is clean ($(ls "$work"/memcheck.*.log | wc -l) processes;" \
    "$suppressed oneDNN JIT reads suppressed)"
exit "$failed"
