#!/bin/sh
# Runs `attnbench check` on the committed vectors under valgrind memcheck,
# one thread: any invalid read or write, use of an uninitialised value, bad
# free or definitely lost block fails the test.
#
# Every implementation runs except onednn. oneDNN 2.6.3's JIT kernels read
# full 32-byte vectors up to 64 bytes past the end of buffers that oneDNN
# allocated itself (its memory objects), which memcheck reports as invalid
# reads in code without symbols. Those reads are inside the library; the
# ASan build still runs onednn on every case.
#
# Valgrind does not emulate AVX-512, and its CPUID reports no AVX-512. So
# simd-avx512 reports SKIP here and the libraries pick their AVX2 code. The
# ASan build covers the AVX-512 code paths instead.
#
# usage: valgrind_check.sh PATH/TO/valgrind PATH/TO/attnbench WORK_DIR
set -eu
valgrind=$1
attnbench=$2
work=$3
mkdir -p "$work"
rm -f "$work"/memcheck.*.log

set +e
OMP_NUM_THREADS=1 "$valgrind" --tool=memcheck --error-exitcode=99 --leak-check=full \
    --show-leak-kinds=definite --errors-for-leak-kinds=definite --track-origins=yes \
    --log-file="$work/memcheck.%p.log" \
    "$attnbench" check --threads 1 --impl '^(naive|blocked|simd-avx2|simd-avx512|blas)$' \
    --json "$work/check.json" >"$work/check.txt" 2>&1
status=$?
set -e
tail -3 "$work/check.txt"

failed=0
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
[ "$failed" -eq 0 ] && echo "ok   memcheck is clean ($(ls "$work"/memcheck.*.log | wc -l) processes)"
exit "$failed"
