#!/bin/sh
# Stands in for gnuplot in the test of `attnbench report` when plotting
# fails: writes an error like gnuplot's to stderr and exits 1.
echo "\"$1\" line 12: undefined variable: fake_failure" >&2
exit 1
