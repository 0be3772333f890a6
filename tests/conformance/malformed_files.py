"""Feeds `attnbench check` golden files with one good case and one broken
case (or a broken file) and checks that the broken part gets ERROR with a
message naming the file, the case and the field, while the good case still
runs and passes.

usage: /usr/bin/python3 malformed_files.py PATH/TO/attnbench
"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

ATTNBENCH = sys.argv[1]
rng = np.random.default_rng(7)


def attention_f64(q, k, v, scale):
    s = scale * np.einsum("bhid,bhjd->bhij", q.astype(np.float64), k.astype(np.float64))
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return np.einsum("bhij,bhjd->bhid", p, v.astype(np.float64))


def write_case(f, name, mutate=None):
    B, H, L, D = 1, 2, 9, 8
    q, k, v = (rng.uniform(-1, 1, (B, H, L, D)).astype(np.float32) for _ in range(3))
    attrs = dict(op="attention", dtype="f32", seed=1, batch=B, heads=H, kv_heads=H,
                 q_len=L, kv_len=L, head_dim=D, scale=1 / np.sqrt(D), causal="none")
    data = dict(q=q, k=k, v=v, expected=attention_f64(q, k, v, 1 / np.sqrt(D)))
    if mutate:
        mutate(attrs, data)
    g = f.create_group(name)
    for key, value in attrs.items():
        g.attrs[key] = value
    for key, value in data.items():
        g[key] = value


def write_file(path, mutate=None, root=None):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "attnbench-golden"
        f.attrs["format_version"] = 1
        f.attrs["generator"] = "malformed_files.py"
        if root:
            root(f)
        write_case(f, "good")
        if mutate:
            write_case(f, "bad", mutate)


def drop(key):
    return lambda attrs, data: (attrs.pop(key, None), data.pop(key, None))


def set_attr(key, value):
    return lambda attrs, data: attrs.__setitem__(key, value)


def set_data(key, value_of):
    return lambda attrs, data: data.__setitem__(key, value_of(data))


# (name, case mutation, root mutation, field or word the message must name)
CASE_ERRORS = [
    ("missing_attribute", drop("head_dim"), None, "field head_dim"),
    ("wrong_shape", set_data("q", lambda d: d["q"][:, :, :5, :]), None, "field q"),
    ("q_as_float64", set_data("q", lambda d: d["q"].astype(np.float64)), None, "field q"),
    ("missing_expected", drop("expected"), None, "field expected"),
    ("expected_as_float32", set_data("expected", lambda d: d["expected"].astype(np.float32)),
     None, "field expected"),
    ("absurd_size", set_attr("q_len", 2**40), None, "field q"),
    ("unknown_causal", set_attr("causal", "diagonal"), None, "field causal"),
    ("unknown_op", set_attr("op", "convolution"), None, "field op"),
    ("unknown_dtype", set_attr("dtype", "bf16"), None, "field dtype"),
    ("integer_as_string", set_attr("batch", "one"), None, "field batch"),
    ("heads_not_multiple", set_attr("kv_heads", 3), None, "field heads"),
    ("negative_kv_len", set_attr("kv_len", -4), None, "field kv_len"),
    ("zero_head_dim", set_attr("head_dim", 0), None, "field head_dim"),
    ("valid_len_out_of_range",
     set_data("kv_valid_len", lambda d: np.array([10], dtype=np.int32)), None,
     "field kv_valid_len"),
    ("valid_len_as_int64",
     set_data("kv_valid_len", lambda d: np.array([3], dtype=np.int64)), None,
     "field kv_valid_len"),
]

FILE_ERRORS = [
    ("newer_version", lambda f: f.attrs.__setitem__("format_version", 2), "format_version"),
    ("unknown_format", lambda f: f.attrs.__setitem__("format", "something-else"), "format"),
]

failures = []


def run_check(path):
    proc = subprocess.run([ATTNBENCH, "check", "--impl", "^naive$", path],
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def expect(condition, what, output):
    if not condition:
        failures.append(what)
        print(f"FAILED: {what}\n--- output ---\n{output}\n--------------")


with tempfile.TemporaryDirectory() as tmp:
    for name, mutate, root, field in CASE_ERRORS:
        path = os.path.join(tmp, f"{name}.h5")
        write_file(path, mutate, root)
        code, out = run_check(path)
        lines = out.splitlines()
        bad = [l for l in lines if l.startswith("ERROR") and " bad " in l]
        expect(code == 1, f"{name}: exit status 1, got {code}", out)
        expect(any(l.startswith("PASS") and " good " in l for l in lines),
               f"{name}: the good case still passes", out)
        expect(len(bad) == 1, f"{name}: one ERROR line for the bad case", out)
        expect(bad and path in bad[0] and "case bad" in bad[0] and field in bad[0],
               f"{name}: the message names the file, the case and '{field}'", out)

    for name, root, word in FILE_ERRORS:
        path = os.path.join(tmp, f"{name}.h5")
        write_file(path, None, root)
        code, out = run_check(path)
        expect(code == 1, f"{name}: exit status 1, got {code}", out)
        expect(any(l.startswith("ERROR") and path in l and word in l for l in out.splitlines()),
               f"{name}: an ERROR naming the file and '{word}'", out)

    # A truncated file and a file that is not HDF5 at all.
    good = os.path.join(tmp, "good.h5")
    write_file(good)
    data = open(good, "rb").read()
    for name, content in [("truncated", data[: len(data) // 2]), ("not_hdf5", b"hello\n" * 100)]:
        path = os.path.join(tmp, f"{name}.h5")
        with open(path, "wb") as f:
            f.write(content)
        code, out = run_check(path)
        expect(code == 1, f"{name}: exit status 1, got {code}", out)
        expect(any(l.startswith("ERROR") and path in l for l in out.splitlines()),
               f"{name}: an ERROR naming the file", out)

    # A missing file among good ones: the good file is still checked.
    code, out = run_check(os.path.join(tmp, "does_not_exist.h5"))
    expect(code == 1 and "cannot open" in out, "missing file: ERROR 'cannot open'", out)

print(f"{len(CASE_ERRORS) + len(FILE_ERRORS) + 3} malformed inputs, {len(failures)} failures")
sys.exit(1 if failures else 0)
