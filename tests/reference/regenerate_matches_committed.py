#!/usr/bin/python3
"""Check that `attnbench vectors generate` reproduces the committed files.

Runs the generator into a temporary folder and compares each file with the
committed one: root attributes, case names, every case attribute, and every
dataset's dtype, shape and bytes (so NaN payloads count too). Compressed
bytes may differ between zlib versions, so the files themselves are not
compared byte for byte.

Usage: regenerate_matches_committed.py ATTNBENCH COMMITTED_DIR
"""

import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
except ImportError as error:
    sys.exit(f"FAIL: /usr/bin/python3 needs numpy and h5py "
             f"(apt-get install python3-numpy python3-h5py): {error}")

FILES = ("attention.h5", "encoder_layer.h5")


def attribute_value(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def compare_files(committed_path, fresh_path):
    problems = []
    with h5py.File(committed_path, "r") as old, h5py.File(fresh_path, "r") as new:
        for key in ("format", "format_version"):
            if attribute_value(old.attrs[key]) != attribute_value(new.attrs[key]):
                problems.append(f"root attribute {key}: committed {old.attrs[key]!r}, "
                                f"generated {new.attrs[key]!r}")
        if list(old) != list(new):
            problems.append(f"case names differ: committed {sorted(set(old) - set(new))} "
                            f"only, generated {sorted(set(new) - set(old))} only")
        for name in sorted(set(old) & set(new)):
            a, b = old[name], new[name]
            old_attrs = {k: attribute_value(v) for k, v in a.attrs.items()}
            new_attrs = {k: attribute_value(v) for k, v in b.attrs.items()}
            if old_attrs != new_attrs:
                problems.append(f"{name}: attributes differ: {old_attrs} vs {new_attrs}")
            if sorted(a) != sorted(b):
                problems.append(f"{name}: datasets differ: {sorted(a)} vs {sorted(b)}")
            for dataset in sorted(set(a) & set(b)):
                x, y = a[dataset][()], b[dataset][()]
                if x.dtype != y.dtype or x.shape != y.shape:
                    problems.append(f"{name}/{dataset}: committed {x.dtype}{x.shape}, "
                                    f"generated {y.dtype}{y.shape}")
                elif x.tobytes() != y.tobytes():
                    n = int(np.sum(x.view(np.uint8) != y.view(np.uint8)))
                    problems.append(f"{name}/{dataset}: {n} bytes of the values differ")
        n_cases = len(old)
    return problems, n_cases


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    attnbench, committed_dir = argv[1], argv[2]
    with tempfile.TemporaryDirectory() as out_dir:
        run = subprocess.run([attnbench, "vectors", "generate", "--out-dir", out_dir],
                             capture_output=True, text=True)
        if run.returncode != 0:
            print(f"FAIL: attnbench vectors generate exited {run.returncode}:\n{run.stderr}")
            return 1
        failed = False
        for file in FILES:
            problems, n_cases = compare_files(os.path.join(committed_dir, file),
                                              os.path.join(out_dir, file))
            if n_cases == 0:
                problems.append("the committed file has no cases")
            for problem in problems[:20]:
                print(f"FAIL: {file}: {problem}")
            if problems:
                failed = True
                print(f"{file}: {len(problems)} differences; regenerate with "
                      f"./build/attnbench vectors generate --out-dir vectors")
            else:
                print(f"{file}: {n_cases} cases reproduced exactly")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
