"""Checks that the committed suites contain non-finite inputs of each kind
(NaN in q, Inf in k, NaN and Inf in v, NaN in masked padding keys) and that
every implementation that runs here passes all of those cases.

usage: /usr/bin/python3 nonfinite_cases.py PATH/TO/attnbench VECTORS_DIR WORK_DIR
"""
import json
import os
import subprocess
import sys

import h5py
import numpy as np

ATTNBENCH, VECTORS_DIR, WORK_DIR = sys.argv[1:4]
failures = []


def expect(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)


def nonfinite_kinds(group):
    """Returns a set like {"nan:q", "inf:k", "nan:masked"} for one case."""
    kinds = set()
    for name in ("q", "k", "v", "x"):
        if name in group:
            data = group[name][()]
            if np.isnan(data).any():
                kinds.add(f"nan:{name}")
            if np.isinf(data).any():
                kinds.add(f"inf:{name}")
    expected = group["expected"][()]
    if kinds and np.isfinite(expected).all():
        kinds.add("nan:masked")  # non-finite inputs that no output depends on
    return kinds


cases = {}
for suite in ("attention.h5", "encoder_layer.h5"):
    with h5py.File(os.path.join(VECTORS_DIR, suite), "r") as f:
        for name in f:
            kinds = nonfinite_kinds(f[name])
            if kinds:
                cases[name] = kinds
all_kinds = set().union(*cases.values()) if cases else set()
for kind in ("nan:q", "inf:k", "nan:v", "inf:v", "nan:masked"):
    expect(kind in all_kinds, f"the suites contain a case with {kind}")

os.makedirs(WORK_DIR, exist_ok=True)
json_path = os.path.join(WORK_DIR, "nonfinite.json")
pattern = "^(" + "|".join(sorted(cases)) + ")$"
proc = subprocess.run([ATTNBENCH, "check", "--threads", "2", "--case", pattern, "--json",
                       json_path], capture_output=True, text=True, timeout=1800)
expect(proc.returncode == 0, f"check exits 0 on the non-finite cases (got {proc.returncode})")
with open(json_path) as f:
    results = json.load(f)["results"]
expect({r["case"] for r in results} == set(cases), f"check ran all {len(cases)} cases")
for r in results:
    if r["status"] == "SKIP":
        expect("does not implement" in r["reason"] or "ISA" in r["reason"]
               or "avx" in r["reason"], f"{r['impl']} {r['case']}: SKIP only for a missing "
               f"operation or ISA ({r['reason']})")
    else:
        expect(r["status"] == "PASS", f"{r['impl']} {r['case']}: PASS (got {r['status']})")

print(f"{len(cases)} non-finite cases, {len(failures)} failed checks")
sys.exit(1 if failures else 0)
