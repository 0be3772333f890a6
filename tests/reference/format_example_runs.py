#!/usr/bin/python3
"""Run the h5py example in vectors/FORMAT.md and check the file it writes.

Extracts the first ```python block, runs it in a temporary folder, then
recomputes its expected values with crosscheck_golden.py and passes the file
to `ATTNBENCH check --impl ^naive$`. Fails when any step fails, so the
documented example keeps working.

Usage: format_example_runs.py FORMAT.md ATTNBENCH
"""

import os
import re
import subprocess
import sys
import tempfile


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        blocks = re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)
    if not blocks:
        print(f"FAIL: {argv[1]} has no python example")
        return 1
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as work:
        script = os.path.join(work, "my_script.py")
        with open(script, "w", encoding="utf-8") as f:
            f.write(blocks[0])
        steps = [
            [sys.executable, script],
            [sys.executable, os.path.join(here, "crosscheck_golden.py"), "my_cases.h5"],
            [os.path.abspath(argv[2]), "check", "--impl", "^naive$", "my_cases.h5"],
        ]
        for step in steps:
            run = subprocess.run(step, cwd=work)
            if run.returncode != 0:
                print(f"FAIL: {' '.join(step)} exited {run.returncode}")
                return 1
    print("the FORMAT.md example writes a file that attnbench accepts")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
