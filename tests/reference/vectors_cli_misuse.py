#!/usr/bin/python3
"""Check that `attnbench vectors` rejects misuse with exit status 2, a
message naming the offending argument and a usage line on stderr, and that
an unwritable output folder is an error (status 1) naming the path.

Usage: vectors_cli_misuse.py ATTNBENCH
"""

import subprocess
import sys

MISUSE = [
    (["vectors"], "generate"),
    (["vectors", "frobnicate"], "frobnicate"),
    (["vectors", "generate", "--bogus"], "--bogus"),
    (["vectors", "generate", "--suite", "nope"], "nope"),
    (["vectors", "generate", "--suite"], "--suite"),
    (["vectors", "generate", "--out-dir"], "--out-dir"),
]


def main(argv):
    attnbench = argv[1]
    failures = 0
    for args, named in MISUSE:
        run = subprocess.run([attnbench] + args, capture_output=True, text=True)
        if run.returncode != 2 or named not in run.stderr or "usage:" not in run.stderr:
            print(f"FAIL: {' '.join(args)}: exit {run.returncode}, expected 2 with "
                  f"'{named}' and a usage line on stderr; stderr was:\n{run.stderr}")
            failures += 1

    run = subprocess.run([attnbench, "vectors", "--help"], capture_output=True, text=True)
    if run.returncode != 0 or "usage:" not in run.stdout or "--out-dir" not in run.stdout:
        print(f"FAIL: vectors --help: exit {run.returncode}, stdout:\n{run.stdout}")
        failures += 1

    missing = "/nonexistent-attnbench-folder"
    run = subprocess.run([attnbench, "vectors", "generate", "--suite", "attention",
                          "--out-dir", missing], capture_output=True, text=True)
    if run.returncode != 1 or missing not in run.stderr:
        print(f"FAIL: generate into a missing folder: exit {run.returncode}, expected 1 "
              f"with the path on stderr; stderr was:\n{run.stderr}")
        failures += 1

    print(f"{len(MISUSE) + 2} command lines checked, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
