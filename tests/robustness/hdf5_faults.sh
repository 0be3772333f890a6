#!/bin/sh
# Feeds `attnbench check` the damaged files under fuzz/regressions/. Each
# makes HDF5 1.10.8 itself crash, hang or fail to read an object. The test
# checks that each becomes an ERROR for that file (or its cases) and that a
# good file given after it still passes.
#
# usage: hdf5_faults.sh PATH/TO/attnbench REGRESSIONS_DIR
set -eu
attnbench=$1
regressions=$2
here=$(cd "$(dirname "$0")" && pwd)
good=$here/../../fuzz/corpus/golden_image/kv_len_zero.h5
failed=0

for input in "$regressions"/*.h5; do
    name=$(basename "$input")
    set +e
    output=$("$attnbench" check --impl '^naive$' --threads 1 "$input" "$good" 2>&1)
    status=$?
    set -e
    problems=""
    [ "$status" -eq 1 ] || problems="$problems; exit status $status, expected 1"
    echo "$output" | grep -q "^ERROR .*$input" || problems="$problems; no ERROR names the file"
    echo "$output" | grep -q "^PASS .* kv_len_zero " || problems="$problems; the good file after it did not pass"
    # The summary line shows that the parent process finished. (In a
    # sanitizer build the child's report of the HDF5 fault appears above it.)
    echo "$output" | grep -q "^[0-9]* results: " || problems="$problems; no summary line: check did not finish"
    if [ -n "$problems" ]; then
        echo "FAIL $name${problems}"
        echo "$output" | head -20
        failed=1
    else
        echo "ok   $name: $(echo "$output" | grep -m1 "^ERROR" | sed 's/.*\.h5: //')"
    fi
done
exit "$failed"
