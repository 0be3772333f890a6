#!/usr/bin/python3
"""Write a golden-vector file the way a user would with h5py.

One attention case and one encoder_layer case, with attributes given as
plain Python values: str attributes become h5py's default variable-length
UTF-8 strings, int becomes int64 and float becomes float64. The expected
outputs are computed with numpy (the implementation in
crosscheck_golden.py). With --check-with ATTNBENCH the file is then passed
to `ATTNBENCH check --impl ^naive$` and that command's exit status is
returned, so the test proves that attnbench reads what h5py writes.

Usage: write_h5py_case.py OUT.h5 [--check-with ATTNBENCH]
"""

import os
import subprocess
import sys

try:
    import h5py
    import numpy as np
except ImportError as error:
    sys.exit(f"FAIL: /usr/bin/python3 needs numpy and h5py "
             f"(apt-get install python3-numpy python3-h5py): {error}")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crosscheck_golden  # noqa: E402  (the numpy implementation)


def uniform(rng, shape, bound=1.0):
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


def write_attention(f, rng):
    batch, heads, kv_heads, q_len, kv_len, head_dim = 2, 4, 2, 5, 9, 8
    g = f.create_group("h5py_attention_gqa4x2_Lq5_Lk9_D8_causal_bottom_right_padded")
    g.attrs["op"] = "attention"
    g.attrs["dtype"] = "f32"
    g.attrs["seed"] = 7
    g.attrs["description"] = "written by h5py with default string types"
    for key, value in (("batch", batch), ("heads", heads), ("kv_heads", kv_heads),
                       ("q_len", q_len), ("kv_len", kv_len), ("head_dim", head_dim)):
        g.attrs[key] = value
    g.attrs["scale"] = 1.0 / np.sqrt(head_dim)
    g.attrs["causal"] = "bottom_right"
    g["q"] = uniform(rng, (batch, heads, q_len, head_dim))
    g["k"] = uniform(rng, (batch, kv_heads, kv_len, head_dim))
    g["v"] = uniform(rng, (batch, kv_heads, kv_len, head_dim))
    g["kv_valid_len"] = np.array([9, 4], dtype=np.int32)
    expected, _ = crosscheck_golden.attention(g)
    g["expected"] = expected


def write_encoder_layer(f, rng):
    batch, seq_len, embed, heads, ffn = 2, 6, 8, 2, 16
    g = f.create_group("h5py_encoder_E8_H2_F16_L6_gelu_pre_causal_pe_padded")
    g.attrs["op"] = "encoder_layer"
    g.attrs["dtype"] = "f32"
    g.attrs["seed"] = 11
    g.attrs["description"] = "written by h5py with default string types"
    for key, value in (("batch", batch), ("seq_len", seq_len), ("embed_dim", embed),
                       ("heads", heads), ("ffn_dim", ffn), ("norm_first", 1)):
        g.attrs[key] = value
    g.attrs["activation"] = "gelu"
    g.attrs["layer_norm_eps"] = 1e-5
    g.attrs["causal"] = "top_left"
    g.attrs["positional_encoding"] = "sinusoidal"
    g["x"] = uniform(rng, (batch, seq_len, embed))
    g["in_proj_weight"] = uniform(rng, (3 * embed, embed), embed ** -0.5)
    g["in_proj_bias"] = uniform(rng, (3 * embed,), embed ** -0.5)
    g["out_proj_weight"] = uniform(rng, (embed, embed), embed ** -0.5)
    g["out_proj_bias"] = uniform(rng, (embed,), embed ** -0.5)
    g["linear1_weight"] = uniform(rng, (ffn, embed), embed ** -0.5)
    g["linear1_bias"] = uniform(rng, (ffn,), embed ** -0.5)
    g["linear2_weight"] = uniform(rng, (embed, ffn), ffn ** -0.5)
    g["linear2_bias"] = uniform(rng, (embed,), ffn ** -0.5)
    for norm in ("norm1", "norm2"):
        g[f"{norm}_weight"] = (1.0 + uniform(rng, (embed,), 0.25)).astype(np.float32)
        g[f"{norm}_bias"] = uniform(rng, (embed,), 0.1)
    g["kv_valid_len"] = np.array([6, 3], dtype=np.int32)
    g["expected"] = crosscheck_golden.encoder_layer(g)


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--check-with"):
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[1]
    rng = np.random.default_rng(2026)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "attnbench-golden"
        f.attrs["format_version"] = 1
        f.attrs["generator"] = "tests/reference/write_h5py_case.py"
        write_attention(f, rng)
        write_encoder_layer(f, rng)
    print(f"wrote {path}")
    if len(argv) == 2:
        return 0
    run = subprocess.run([argv[3], "check", "--impl", "^naive$", path])
    if run.returncode != 0:
        print(f"FAIL: attnbench check exited {run.returncode} on the h5py-written file")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
