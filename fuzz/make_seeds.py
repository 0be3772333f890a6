"""Writes the seed corpus of the golden-file fuzz target: small golden files
that cover both operations, the optional dataset, both string encodings,
chunked and compressed layouts, both HDF5 file-format generations and a few
files the reader must reject. The expected outputs are placeholders: the
reader checks types and shapes, not values.

usage: /usr/bin/python3 make_seeds.py OUTPUT_DIR
"""
import os
import sys

import h5py
import numpy as np

out_dir = sys.argv[1]
rng = np.random.default_rng(11)
ASCII = h5py.string_dtype("ascii")


def root_attrs(f, version=1):
    f.attrs["format"] = "attnbench-golden"
    f.attrs["format_version"] = version
    f.attrs["generator"] = "make_seeds.py"


def attention_case(f, name, B=1, H=2, Hkv=1, Lq=3, Lk=4, D=2, valid=None, fixed_strings=False,
                   chunked=False):
    g = f.create_group(name)
    text = (lambda s: np.array(s.encode(), dtype=f"S{len(s)}")) if fixed_strings else str
    g.attrs["op"] = text("attention")
    g.attrs["dtype"] = text("f32")
    g.attrs["causal"] = text("bottom_right")
    g.attrs["description"] = text("fuzz seed")
    for key, value in dict(seed=1, batch=B, heads=H, kv_heads=Hkv, q_len=Lq, kv_len=Lk,
                           head_dim=D).items():
        g.attrs[key] = np.int64(value)
    g.attrs["scale"] = 1 / np.sqrt(D)
    options = dict(chunks=True, compression="gzip", shuffle=True) if chunked else {}
    for key, shape in (("q", (B, H, Lq, D)), ("k", (B, Hkv, Lk, D)), ("v", (B, Hkv, Lk, D))):
        g.create_dataset(key, data=rng.uniform(-1, 1, shape).astype(np.float32), **options)
    g.create_dataset("expected", data=np.zeros((B, H, Lq, D)), **options)
    if valid is not None:
        g["kv_valid_len"] = np.array(valid, dtype=np.int32)


def encoder_case(f, name, B=1, L=2, E=4, H=2, F=4):
    g = f.create_group(name)
    for key, value in dict(op="attention", dtype="f32", activation="gelu", causal="top_left",
                           positional_encoding="sinusoidal").items():
        g.attrs[key] = value
    g.attrs["op"] = "encoder_layer"
    for key, value in dict(seed=2, batch=B, seq_len=L, embed_dim=E, heads=H, ffn_dim=F,
                           norm_first=1).items():
        g.attrs[key] = np.int64(value)
    g.attrs["layer_norm_eps"] = 1e-5
    shapes = dict(in_proj_weight=(3 * E, E), in_proj_bias=(3 * E,), out_proj_weight=(E, E),
                  out_proj_bias=(E,), linear1_weight=(F, E), linear1_bias=(F,),
                  linear2_weight=(E, F), linear2_bias=(E,), norm1_weight=(E,),
                  norm1_bias=(E,), norm2_weight=(E,), norm2_bias=(E,), x=(B, L, E))
    for key, shape in shapes.items():
        g[key] = rng.uniform(-1, 1, shape).astype(np.float32)
    g["expected"] = np.zeros((B, L, E))
    g["kv_valid_len"] = np.array([1] * B, dtype=np.int32)


def write(name, body, **file_options):
    with h5py.File(os.path.join(out_dir, name), "w", **file_options) as f:
        body(f)


def both_ops(f):
    root_attrs(f)
    attention_case(f, "attention_gqa", valid=[2])
    encoder_case(f, "encoder_pre_norm")


def empty_keys(f):
    root_attrs(f)
    attention_case(f, "kv_len_zero", Lk=0, valid=[0])


def fixed_strings(f):
    f.attrs["format"] = np.array(b"attnbench-golden", dtype="S16")
    f.attrs["format_version"] = np.int64(1)
    attention_case(f, "fixed_ascii", fixed_strings=True)


def chunked(f):
    root_attrs(f)
    attention_case(f, "chunked_deflate", B=2, valid=[4, 1], chunked=True)


def newer_version(f):
    root_attrs(f, version=2)
    attention_case(f, "never_read")


def wrong_types(f):
    root_attrs(f)
    attention_case(f, "string_batch")
    f["string_batch"].attrs["batch"] = "one"
    attention_case(f, "group_as_q")
    del f["group_as_q/q"]
    f["group_as_q"].create_group("q")
    attention_case(f, "pair_heads")
    f["pair_heads"].attrs["heads"] = np.array([2, 2], dtype=np.int64)
    f["soft_link"] = h5py.SoftLink("/string_batch")


write("both_ops.h5", both_ops)
write("both_ops_latest_format.h5", both_ops, libver="latest")
write("kv_len_zero.h5", empty_keys)
write("fixed_length_strings.h5", fixed_strings)
write("chunked_deflate.h5", chunked)
write("newer_version.h5", newer_version)
write("wrong_types.h5", wrong_types)
