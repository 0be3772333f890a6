#!/usr/bin/python3
"""Prove that crosscheck_golden.py fails on wrong expected values.

Copies committed cases into temporary files, one case a file, each with
one deliberate error in `expected` except the first, and requires the
cross-check to exit 1 on every broken copy and 0 on the unchanged one.

Usage: crosscheck_detects_errors.py ATTENTION.h5
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

HERE = os.path.dirname(os.path.abspath(__file__))


def relative_error(expected):
    expected[0, 0, 0, 0] *= 1.0 + 1e-10


def nan_made_finite(expected):
    expected[np.isnan(expected)] = 0.5


def inf_sign_flipped(expected):
    expected[np.isinf(expected)] *= -1.0


def masked_row_nonzero(expected):
    expected[0, 0, 0, :] = 1e-300  # row 0 has no allowed key


def finite_made_nan(expected):
    expected[0, 0, 1, 0] = np.nan


# (case in the committed file, perturbation or None for the unchanged copy)
CASES = [
    ("attn_mha4_L64_D64_scale0.3", None),
    ("attn_mha4_L64_D64_scale0.3", relative_error),
    ("attn_mha4_L16_D8_nan_q", nan_made_finite),
    ("attn_mha4_L16_D8_nan_inf_v", inf_sign_flipped),
    ("attn_mha1_Lq129_Lk128_D80_causal_bottom_right", masked_row_nonzero),
    ("attn_mha1_L128_D128", finite_made_nan),
]


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    failures = 0
    with tempfile.TemporaryDirectory() as work, h5py.File(argv[1], "r") as source:
        for index, (name, perturb) in enumerate(CASES):
            path = os.path.join(work, f"copy{index}.h5")
            with h5py.File(path, "w") as f:
                for key, value in source.attrs.items():
                    f.attrs[key] = value
                source.copy(source[name], f, name=name)
                if perturb:
                    expected = f[name]["expected"][()]
                    perturb(expected)
                    f[name]["expected"][...] = expected
            run = subprocess.run([sys.executable, os.path.join(HERE, "crosscheck_golden.py"),
                                  path], capture_output=True, text=True)
            label = perturb.__name__ if perturb else "unchanged"
            want = 1 if perturb else 0
            if run.returncode != want:
                print(f"FAIL: {name} {label}: cross-check exited {run.returncode}, "
                      f"expected {want}\n{run.stdout}")
                failures += 1
            else:
                print(f"ok: {name} {label}: exit {run.returncode}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
