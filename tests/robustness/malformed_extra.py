"""Golden files that stock writers produce or that a hostile author could
craft, beyond the attention cases of tests/conformance/malformed_files.py.
They cover broken encoder_layer cases, odd attribute and dataset kinds,
links and case names. They also cover layouts (chunked, compressed, sparse)
that must be accepted, or rejected before any data is read.

Each file holds a good attention case and, for error rows, one broken case
named "bad". `attnbench check` must give the broken case exactly one ERROR
that names the file, the case and the field, while the good case passes;
accepted variants must PASS.

usage: /usr/bin/python3 malformed_extra.py PATH/TO/attnbench
"""
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

ATTNBENCH = sys.argv[1]
rng = np.random.default_rng(23)
ASCII_FIXED = "ascii-fixed"
UTF8_FIXED = "utf8-fixed"
ASCII_VARIABLE = "ascii-variable"


def attention_f64(q, k, v, scale):
    s = scale * np.einsum("bhid,bhjd->bhij", q.astype(np.float64), k.astype(np.float64))
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    return np.einsum("bhij,bhjd->bhid", p, v.astype(np.float64))


def string_value(text, encoding):
    """A string attribute value in one of the four encodings readers accept."""
    if encoding == ASCII_FIXED:
        return np.array(text.encode("ascii"), dtype=f"S{len(text)}")
    if encoding == UTF8_FIXED:
        return np.array(text.encode("utf-8"),
                        dtype=h5py.string_dtype("utf-8", len(text.encode("utf-8"))))
    if encoding == ASCII_VARIABLE:
        return np.array(text.encode("ascii"), dtype=h5py.string_dtype("ascii"))
    return text  # h5py writes a str as variable-length UTF-8


def attention_case(f, name, strings=None, dataset_options=None):
    B, H, L, D = 1, 2, 9, 8
    q, k, v = (rng.uniform(-1, 1, (B, H, L, D)).astype(np.float32) for _ in range(3))
    g = f.create_group(name)
    for key, text in dict(op="attention", dtype="f32", causal="none").items():
        g.attrs[key] = string_value(text, strings)
    for key, value in dict(seed=1, batch=B, heads=H, kv_heads=H, q_len=L, kv_len=L,
                           head_dim=D).items():
        g.attrs[key] = np.int64(value)
    g.attrs["scale"] = 1 / np.sqrt(D)
    data = dict(q=q, k=k, v=v, expected=attention_f64(q, k, v, 1 / np.sqrt(D)))
    for key, value in data.items():
        g.create_dataset(key, data=value, **(dataset_options or {}))
    return g


def encoder_case(f, name, B=1, L=4, E=8, H=2, F=16, pe="none"):
    g = f.create_group(name)
    for key, text in dict(op="encoder_layer", dtype="f32", activation="relu", causal="none",
                          positional_encoding=pe).items():
        g.attrs[key] = text
    for key, value in dict(seed=2, batch=B, seq_len=L, embed_dim=E, heads=H, ffn_dim=F,
                           norm_first=0).items():
        g.attrs[key] = np.int64(value)
    g.attrs["layer_norm_eps"] = 1e-5
    shapes = dict(x=(B, L, E), in_proj_weight=(3 * E, E), in_proj_bias=(3 * E,),
                  out_proj_weight=(E, E), out_proj_bias=(E,), linear1_weight=(F, E),
                  linear1_bias=(F,), linear2_weight=(E, F), linear2_bias=(E,),
                  norm1_weight=(E,), norm1_bias=(E,), norm2_weight=(E,), norm2_bias=(E,))
    for key, shape in shapes.items():
        g[key] = rng.uniform(-1, 1, shape).astype(np.float32)
    g["expected"] = np.zeros((B, L, E))  # never compared: every use here is broken
    return g


def replace(g, key, value):
    del g[key]
    g[key] = value


def write_file(path, bad=None):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "attnbench-golden"
        f.attrs["format_version"] = 1
        f.attrs["generator"] = "malformed_extra.py"
        attention_case(f, "good")
        if bad:
            bad(f)


def encoder(mutate, **shape):
    def bad(f):
        mutate(encoder_case(f, "bad", **shape))
    return bad


def attention(mutate):
    def bad(f):
        mutate(attention_case(f, "bad"))
    return bad


def set_attr(key, value):
    return lambda g: g.attrs.__setitem__(key, value)


def set_element(key, value):
    """Overwrites the last element of a dataset."""
    def mutate(g):
        data = g[key][()]
        data.flat[-1] = value
        replace(g, key, data)
    return mutate


def nan_query(g):
    """A NaN query element: the NaN it puts in expected is right, not a
    corrupt file."""
    q = g["q"][()]
    q.flat[-1] = np.nan
    expected = attention_f64(q, g["k"][()], g["v"][()], g.attrs["scale"])
    assert np.isnan(expected).any()
    replace(g, "q", q)
    replace(g, "expected", expected)


def group_as_dataset(g):
    del g["q"]
    g.create_group("q")


def external_link(g):
    del g["k"]
    g["k"] = h5py.ExternalLink("/etc/hostname", "/k")


def soft_link(g):
    del g["v"]
    g["v"] = h5py.SoftLink("/good/v")


def sparse_terabytes(g):
    """Attributes and chunked datasets for q of 2^35 elements (128 GiB as f32)
    with no chunk written: a small file that claims terabytes in all."""
    shape = (1, 8, 2**26, 64)
    for key, value in dict(q_len=shape[2], kv_len=shape[2], heads=8, kv_heads=8,
                           head_dim=64).items():
        g.attrs[key] = np.int64(value)
    for key in ("q", "k", "v", "expected"):
        del g[key]
        g.create_dataset(key, shape=shape, chunks=(1, 1, 4096, 64),
                         dtype=np.float64 if key == "expected" else np.float32)


# (name, broken case writer, word the message must name)
CASE_ERRORS = [
    ("encoder_weight_transposed",
     encoder(lambda g: replace(g, "linear1_weight", np.zeros((8, 16), np.float32))),
     "field linear1_weight"),
    ("encoder_bias_missing", encoder(lambda g: g.__delitem__("norm2_bias")), "field norm2_bias"),
    ("encoder_x_rank_2", encoder(lambda g: replace(g, "x", np.zeros((4, 8), np.float32))),
     "field x"),
    ("encoder_odd_embed_dim_with_pe",
     encoder(lambda g: None, E=9, H=3, pe="sinusoidal"), "field embed_dim"),
    ("encoder_norm_first_2", encoder(set_attr("norm_first", np.int64(2))), "field norm_first"),
    ("encoder_negative_eps", encoder(set_attr("layer_norm_eps", -1e-5)),
     "field layer_norm_eps"),
    ("encoder_nan_eps", encoder(set_attr("layer_norm_eps", np.nan)), "field layer_norm_eps"),
    ("encoder_unknown_activation", encoder(set_attr("activation", "swish")),
     "field activation"),
    ("encoder_bottom_right_causal", encoder(set_attr("causal", "bottom_right")),
     "field causal"),
    ("encoder_heads_not_dividing", encoder(lambda g: None, E=8, H=3), "field embed_dim"),
    ("attribute_with_two_values", attention(set_attr("heads", np.array([2, 2], np.int64))),
     "field heads"),
    ("attribute_empty", attention(set_attr("batch", h5py.Empty("i8"))), "field batch"),
    ("scale_as_integer", attention(set_attr("scale", np.int64(1))), "field scale"),
    ("scale_infinite", attention(set_attr("scale", np.inf)), "field scale"),
    ("dataset_is_a_group", attention(group_as_dataset), "field q"),
    ("dataset_is_external_link", attention(external_link), "field k"),
    ("dataset_is_soft_link", attention(soft_link), "field v"),
    ("q_as_float16", attention(lambda g: replace(g, "q", g["q"][()].astype(np.float16))),
     "field q"),
    ("q_scalar", attention(lambda g: replace(g, "q", np.float32(1))), "field q"),
    ("valid_len_unsigned",
     attention(lambda g: g.create_dataset("kv_valid_len", data=np.array([3], np.uint32))),
     "field kv_valid_len"),
    ("sparse_terabytes", attention(sparse_terabytes), "memory budget"),
    ("expected_nan_with_finite_inputs", attention(set_element("expected", np.nan)),
     "field expected"),
    ("expected_inf_with_finite_inputs", attention(set_element("expected", np.inf)),
     "field expected"),
    ("encoder_expected_nan_with_finite_inputs", encoder(set_element("expected", np.nan)),
     "field expected"),
]

# Files whose every case must pass: layouts and encodings writers may use.
ACCEPTED = [
    ("strings_ascii_fixed", lambda f: attention_case(f, "bad", strings=ASCII_FIXED)),
    ("strings_utf8_fixed", lambda f: attention_case(f, "bad", strings=UTF8_FIXED)),
    ("strings_ascii_variable", lambda f: attention_case(f, "bad", strings=ASCII_VARIABLE)),
    ("chunked_deflate_shuffle",
     lambda f: attention_case(f, "bad", dataset_options=dict(chunks=(1, 1, 4, 8),
                                                             compression="gzip",
                                                             compression_opts=9,
                                                             shuffle=True,
                                                             fletcher32=True))),
    ("nan_input_nan_expected", lambda f: nan_query(attention_case(f, "bad"))),
    ("unknown_extras_ignored", lambda f: (attention_case(f, "bad").attrs.__setitem__(
        "tolerance_override", 1.0), f["bad"].create_dataset("notes", data=np.arange(3)),
        f.create_dataset("root_table", data=np.arange(4)))),
]

failures = []


def run_check(path):
    start = time.monotonic()
    proc = subprocess.run([ATTNBENCH, "check", "--impl", "^naive$", "--threads", "1", path],
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


def expect(condition, what, output=""):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        failures.append(what)
        print(f"--- output ---\n{output}\n--------------")


with tempfile.TemporaryDirectory() as tmp:
    for name, bad, field in CASE_ERRORS:
        path = os.path.join(tmp, f"{name}.h5")
        write_file(path, bad)
        code, out, seconds = run_check(path)
        lines = out.splitlines()
        errors = [l for l in lines if l.startswith("ERROR") and " bad " in l]
        expect(code == 1, f"{name}: exit status 1 (got {code})", out)
        expect(any(l.startswith("PASS") and " good " in l for l in lines),
               f"{name}: the good case still passes", out)
        expect(len(errors) == 1 and path in errors[0] and "case bad" in errors[0]
               and field in errors[0], f"{name}: one ERROR naming the file, the case and "
               f"'{field}'", out)
        expect(seconds < 60, f"{name}: rejected in {seconds:.1f} s, without reading data", out)

    for name, body in ACCEPTED:
        path = os.path.join(tmp, f"{name}.h5")
        write_file(path, body)
        code, out, _ = run_check(path)
        lines = out.splitlines()
        expect(code == 0 and sum(l.startswith("PASS") for l in lines) == 2,
               f"{name}: both cases pass", out)

    # A case whose name breaks the naming rule, and one longer than the
    # reader keeps: each gets an ERROR of its own instead of vanishing.
    for name, case_name, word in (("case_name_with_space", "bad case!", "letters, digits"),
                                  ("case_name_too_long", "x" * 300, "longer than")):
        path = os.path.join(tmp, f"{name}.h5")
        write_file(path, lambda f: attention_case(f, case_name))
        code, out, _ = run_check(path)
        errors = [l for l in out.splitlines() if l.startswith("ERROR")]
        expect(code == 1 and len(errors) == 1 and word in errors[0],
               f"{name}: one ERROR saying '{word}'", out)

    # A soft link at the root is not a case: it neither runs nor errors.
    path = os.path.join(tmp, "root_soft_link.h5")
    write_file(path, lambda f: f.__setitem__("alias", h5py.SoftLink("/good")))
    code, out, _ = run_check(path)
    expect(code == 0 and "alias" not in out and "1 PASS" in out,
           "root_soft_link: only the real case runs", out)

n_files = len(CASE_ERRORS) + len(ACCEPTED) + 3
print(f"{n_files} files, {len(failures)} failed checks")
sys.exit(1 if failures else 0)
