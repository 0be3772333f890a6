#!/usr/bin/python3
"""Recompute every `expected` dataset of golden-vector files with numpy.

This is an implementation of attention and of the encoder layer written
separately from reference/reference.c, in float64 from the stored float32
inputs. It fails when any element disagrees.

Comparison of one element, expected e (from the file) and recomputed r:
  - NaN matches only NaN, +Inf only +Inf, -Inf only -Inf;
  - finite values match when |e - r| <= 1e-12 * max(|r|, row_max), where
    row_max is the largest finite magnitude in r's output row (the last
    axis). The row term keeps round-off from cancellation near zero from
    counting as a disagreement; a row of zeros must match exactly.
Rows of attention with no allowed key must be exactly 0.0 in the file.

Usage: crosscheck_golden.py FILE.h5 [FILE.h5 ...]
Exit status 0 when every file agrees, 1 otherwise.
"""

import math
import sys

import h5py
import numpy as np

RELATIVE_TOLERANCE = 1e-12


def text(value):
    """Return an attribute as str whether h5py gives str or bytes."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return text(value[()])
    return str(value)


def allowed_mask(causal, q_len, kv_len, valid):
    """Boolean [q_len, kv_len] matrix: True where query i may use key j."""
    rows = np.arange(q_len)[:, None]
    cols = np.arange(kv_len)[None, :]
    mask = np.broadcast_to(cols < valid, (q_len, kv_len))
    if causal == "top_left":
        mask = mask & (cols <= rows)
    elif causal == "bottom_right":
        mask = mask & (cols <= rows + (kv_len - q_len))
    elif causal != "none":
        raise ValueError(f"unknown causal rule {causal!r}")
    return mask


def softmax_rows_then_values(logits, values, mask):
    """Attention output of each row: logits [n, m], values [m, d], mask [n, m].

    Keys outside a row's mask are dropped before any arithmetic, so a NaN in
    a masked key never reaches the row. The row maximum is subtracted before
    exp; np.max returns NaN when any selected logit is NaN, which makes the
    whole row NaN, and a +Inf logit gives Inf - Inf = NaN.
    """
    out = np.zeros((logits.shape[0], values.shape[1]))
    for i in range(logits.shape[0]):
        keys = np.flatnonzero(mask[i])
        if keys.size == 0:
            continue
        s = logits[i, keys]
        with np.errstate(invalid="ignore", over="ignore"):
            e = np.exp(s - np.max(s))
            p = e / np.sum(e)
            out[i] = p @ values[keys]
    return out


def attention(group):
    """Recompute the attention output of one case; returns (out, masks)."""
    a = group.attrs
    batch, heads, kv_heads = int(a["batch"]), int(a["heads"]), int(a["kv_heads"])
    q_len, kv_len, head_dim = int(a["q_len"]), int(a["kv_len"]), int(a["head_dim"])
    scale = float(a["scale"])
    causal = text(a["causal"])
    q = group["q"][()].astype(np.float64)
    k = group["k"][()].astype(np.float64)
    v = group["v"][()].astype(np.float64)
    assert q.shape == (batch, heads, q_len, head_dim), q.shape
    assert k.shape == v.shape == (batch, kv_heads, kv_len, head_dim), k.shape
    valid = group["kv_valid_len"][()] if "kv_valid_len" in group else np.full(batch, kv_len)

    out = np.zeros((batch, heads, q_len, head_dim))
    empty_rows = np.zeros((batch, heads, q_len), dtype=bool)
    group_size = heads // kv_heads
    for b in range(batch):
        mask = allowed_mask(causal, q_len, kv_len, int(valid[b]))
        for h in range(heads):
            kv_head = h // group_size
            with np.errstate(invalid="ignore", over="ignore"):
                logits = scale * (q[b, h] @ k[b, kv_head].T)
            out[b, h] = softmax_rows_then_values(logits, v[b, kv_head], mask)
            empty_rows[b, h] = ~mask.any(axis=1)
    return out, empty_rows


def layer_norm(y, weight, bias, eps):
    mean = y.mean(axis=-1, keepdims=True)
    var = ((y - mean) ** 2).mean(axis=-1, keepdims=True)
    return (y - mean) / np.sqrt(var + eps) * weight + bias


def sinusoid(seq_len, embed_dim):
    position = np.arange(seq_len, dtype=np.float64)[:, None]
    even = np.arange(0, embed_dim, 2, dtype=np.float64)[None, :]
    angle = position / np.power(10000.0, even / embed_dim)
    pe = np.zeros((seq_len, embed_dim))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle)
    return pe


ERF = np.vectorize(math.erf, otypes=[np.float64])


def encoder_layer(group):
    """Recompute nn.TransformerEncoderLayer (eval, batch_first) for one case."""
    a = group.attrs
    batch, seq_len, embed = int(a["batch"]), int(a["seq_len"]), int(a["embed_dim"])
    heads, ffn = int(a["heads"]), int(a["ffn_dim"])
    activation = text(a["activation"])
    norm_first = int(a["norm_first"])
    eps = float(a["layer_norm_eps"])
    causal = text(a["causal"])
    pe = text(a["positional_encoding"])
    w = {name: group[name][()].astype(np.float64) for name in (
        "in_proj_weight", "in_proj_bias", "out_proj_weight", "out_proj_bias",
        "linear1_weight", "linear1_bias", "linear2_weight", "linear2_bias",
        "norm1_weight", "norm1_bias", "norm2_weight", "norm2_bias")}
    x = group["x"][()].astype(np.float64)
    assert x.shape == (batch, seq_len, embed), x.shape
    assert w["in_proj_weight"].shape == (3 * embed, embed)
    assert w["linear1_weight"].shape == (ffn, embed)
    assert np.all(np.isfinite(x)), "the layer cross-check assumes finite inputs"
    valid = group["kv_valid_len"][()] if "kv_valid_len" in group else np.full(batch, seq_len)

    if pe == "sinusoidal":
        x = x + sinusoid(seq_len, embed)[None]
    elif pe != "none":
        raise ValueError(f"unknown positional_encoding {pe!r}")

    def act(t):
        if activation == "relu":
            return np.maximum(t, 0.0)
        if activation == "gelu":
            return 0.5 * t * (1.0 + ERF(t / math.sqrt(2.0)))
        raise ValueError(f"unknown activation {activation!r}")

    def self_attention(y):
        head_dim = embed // heads
        qkv = y @ w["in_proj_weight"].T + w["in_proj_bias"]
        q, k, v = qkv[..., :embed], qkv[..., embed:2 * embed], qkv[..., 2 * embed:]
        concat = np.zeros_like(q)
        for b in range(batch):
            mask = allowed_mask(causal, seq_len, seq_len, int(valid[b]))
            for h in range(heads):
                cols = slice(h * head_dim, (h + 1) * head_dim)
                logits = (q[b, :, cols] @ k[b, :, cols].T) / math.sqrt(head_dim)
                concat[b, :, cols] = softmax_rows_then_values(logits, v[b, :, cols], mask)
        return concat @ w["out_proj_weight"].T + w["out_proj_bias"]

    def feed_forward(y):
        hidden = act(y @ w["linear1_weight"].T + w["linear1_bias"])
        return hidden @ w["linear2_weight"].T + w["linear2_bias"]

    def norm1(y):
        return layer_norm(y, w["norm1_weight"], w["norm1_bias"], eps)

    def norm2(y):
        return layer_norm(y, w["norm2_weight"], w["norm2_bias"], eps)

    if norm_first:
        x1 = x + self_attention(norm1(x))
        return x1 + feed_forward(norm2(x1))
    x1 = norm1(x + self_attention(x))
    return norm2(x1 + feed_forward(x1))


def compare(expected, recomputed):
    """Return a list of (index, expected, recomputed) for elements that disagree."""
    bad = []
    if expected.shape != recomputed.shape:
        return [("shape", expected.shape, recomputed.shape)]
    if expected.size == 0:
        return bad
    finite = np.isfinite(recomputed)
    magnitude = np.where(finite, np.abs(recomputed), 0.0)
    row_max = magnitude.max(axis=-1, keepdims=True)
    bound = RELATIVE_TOLERANCE * np.maximum(magnitude, row_max)
    with np.errstate(invalid="ignore"):
        ok_finite = finite & np.isfinite(expected) & (np.abs(expected - recomputed) <= bound)
    ok_nan = np.isnan(expected) & np.isnan(recomputed)
    ok_inf = np.isinf(expected) & np.isinf(recomputed) & (np.sign(expected) == np.sign(recomputed))
    ok = ok_finite | ok_nan | ok_inf
    for index in np.argwhere(~ok)[:5]:
        index = tuple(int(i) for i in index)
        bad.append((index, float(expected[index]), float(recomputed[index])))
    if not ok.all():
        bad.append(("count", int((~ok).sum()), expected.size))
    return bad


def check_file(path):
    failures = 0
    counts = {"attention": 0, "encoder_layer": 0}
    with h5py.File(path, "r") as f:
        if text(f.attrs.get("format", "")) != "attnbench-golden":
            print(f"{path}: FAIL: root attribute format is not attnbench-golden")
            return 1, counts
        if int(f.attrs.get("format_version", -1)) != 1:
            print(f"{path}: FAIL: format_version is not 1")
            return 1, counts
        for name in f:
            group = f[name]
            op = text(group.attrs["op"])
            expected = group["expected"][()]
            if expected.dtype != np.float64:
                print(f"{path}: {name}: FAIL: expected is {expected.dtype}, not float64")
                failures += 1
                continue
            problems = []
            if op == "attention":
                recomputed, empty_rows = attention(group)
                nonzero = np.any(expected[empty_rows] != 0.0, axis=-1)
                if np.any(nonzero) or np.any(np.isnan(expected[empty_rows])):
                    problems.append(("rows with no allowed key are not exactly 0", "", ""))
            elif op == "encoder_layer":
                recomputed = encoder_layer(group)
            else:
                print(f"{path}: {name}: FAIL: unknown op {op!r}")
                failures += 1
                continue
            counts[op] += 1
            problems += compare(expected, recomputed)
            if problems:
                failures += 1
                print(f"{path}: {name}: FAIL")
                for index, want, got in problems:
                    print(f"    at {index}: file {want!r}, numpy {got!r}")
            else:
                n_nonfinite = int(np.sum(~np.isfinite(expected)))
                print(f"{path}: {name}: ok ({expected.size} elements, "
                      f"{n_nonfinite} non-finite)")
    return failures, counts


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    failures = 0
    for path in argv[1:]:
        file_failures, counts = check_file(path)
        failures += file_failures
        n_cases = counts["attention"] + counts["encoder_layer"]
        if n_cases == 0:
            print(f"{path}: FAIL: no case was checked")
            failures += 1
        else:
            print(f"{path}: checked {counts['attention']} attention and "
                  f"{counts['encoder_layer']} encoder_layer cases, {file_failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
