/*
 * The encoder layer in float32, step by step as nn.TransformerEncoderLayer
 * defines it: projections as plain triple loops, attention through
 * atb_naive_attention_f32, LayerNorm with a two-pass variance.
 * Single-threaded. The sinusoidal positional encoding is computed in double
 * and rounded once, because an f32 angle for positions in the hundreds
 * already carries errors near 1e-5.
 */
#include "impl/naive/naive.h"

#include <math.h>
#include <string.h>

/* y[n, out_dim] = x[n, in_dim] * w[out_dim, in_dim]^T + bias */
static void linear_f32(const float *x, const float *w, const float *bias, float *y, int64_t n,
                       int64_t in_dim, int64_t out_dim)
{
    for (int64_t r = 0; r < n; r++) {
        for (int64_t o = 0; o < out_dim; o++) {
            float acc = 0.0f;
            for (int64_t c = 0; c < in_dim; c++)
                acc += x[r * in_dim + c] * w[o * in_dim + c];
            y[r * out_dim + o] = acc + bias[o];
        }
    }
}

static void layer_norm_f32(const float *x, const float *weight, const float *bias, float *y,
                           int64_t n, int64_t dim, double eps, atb_naive_fault fault)
{
    const float divisor = fault == ATB_NAIVE_FAULT_LN_UNBIASED ? (float)(dim - 1) : (float)dim;
    for (int64_t r = 0; r < n; r++) {
        const float *xr = x + r * dim;
        float sum = 0.0f;
        for (int64_t c = 0; c < dim; c++)
            sum += xr[c];
        const float mean = sum / (float)dim;
        float sq = 0.0f;
        for (int64_t c = 0; c < dim; c++)
            sq += (xr[c] - mean) * (xr[c] - mean);
        const float inv_std = 1.0f / sqrtf(sq / divisor + (float)eps);
        for (int64_t c = 0; c < dim; c++)
            y[r * dim + c] = (xr[c] - mean) * inv_std * weight[c] + bias[c];
    }
}

static float activate(float x, atb_activation act, atb_naive_fault fault)
{
    if (act == ATB_ACT_RELU)
        return x > 0.0f ? x : 0.0f;
    if (fault == ATB_NAIVE_FAULT_GELU_TANH)
        return 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

size_t atb_naive_encoder_scratch_count(const atb_encoder_shape *s)
{
    const size_t rows = (size_t)(s->batch * s->seq_len);
    return rows * (size_t)(13 * s->embed_dim + s->ffn_dim) + (size_t)s->seq_len;
}

/* Self-attention block: sa[n, E] = MHA(y) including both projections. */
static void self_attention_f32(const atb_encoder_shape *s, const atb_encoder_weights *w,
                               const float *y, const int32_t *kv_valid_len, float *sa,
                               float *work, atb_naive_fault fault)
{
    const int64_t B = s->batch, L = s->seq_len, E = s->embed_dim, H = s->heads;
    const int64_t Dh = E / H, n = B * L;
    float *qkv = work;              /* [n, 3E] */
    float *q = qkv + n * 3 * E;     /* [B, H, L, Dh] */
    float *k = q + n * E;
    float *v = k + n * E;
    float *heads_out = v + n * E;   /* [B, H, L, Dh] */
    float *concat = heads_out + n * E; /* [n, E] */
    float *scores = concat + n * E; /* [L] */

    linear_f32(y, w->in_proj_weight, w->in_proj_bias, qkv, n, E, 3 * E);

    /* Split [n, 3E] into per-head tensors. */
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < L; i++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t d = 0; d < Dh; d++) {
                    const float *row = qkv + (b * L + i) * 3 * E;
                    const int64_t dst = ((b * H + h) * L + i) * Dh + d;
                    q[dst] = row[h * Dh + d];
                    k[dst] = row[E + h * Dh + d];
                    v[dst] = row[2 * E + h * Dh + d];
                }

    atb_attention_shape as = {
        .batch = B, .heads = H, .kv_heads = H, .q_len = L, .kv_len = L, .head_dim = Dh,
        .scale = 1.0 / sqrt((double)Dh), .causal = s->causal,
        .has_kv_valid_len = kv_valid_len != NULL,
    };
    atb_naive_attention_f32(&as, q, k, v, kv_valid_len, heads_out, scores, fault);

    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < L; i++)
            for (int64_t h = 0; h < H; h++)
                memcpy(concat + (b * L + i) * E + h * Dh, heads_out + ((b * H + h) * L + i) * Dh,
                       (size_t)Dh * sizeof(float));

    linear_f32(concat, w->out_proj_weight, w->out_proj_bias, sa, n, E, E);
}

/* Feed-forward block: ff[n, E] = act(y W1^T + b1) W2^T + b2. */
static void feed_forward_f32(const atb_encoder_shape *s, const atb_encoder_weights *w,
                             const float *y, float *ff, float *hidden, atb_naive_fault fault)
{
    const int64_t n = s->batch * s->seq_len, E = s->embed_dim, F = s->ffn_dim;
    linear_f32(y, w->linear1_weight, w->linear1_bias, hidden, n, E, F);
    for (int64_t idx = 0; idx < n * F; idx++)
        hidden[idx] = activate(hidden[idx], s->activation, fault);
    linear_f32(hidden, w->linear2_weight, w->linear2_bias, ff, n, F, E);
}

void atb_naive_encoder_f32(const atb_encoder_shape *s, const atb_encoder_weights *w,
                           const float *x, const int32_t *kv_valid_len, float *out,
                           float *scratch, atb_naive_fault fault)
{
    const int64_t L = s->seq_len, E = s->embed_dim, n = s->batch * L;
    float *x0 = scratch;          /* [n, E] */
    float *y = x0 + n * E;        /* [n, E] normalized input of a block */
    float *sa = y + n * E;        /* [n, E] */
    float *x1 = sa + n * E;       /* [n, E] */
    float *ff = x1 + n * E;       /* [n, E] */
    float *hidden = ff + n * E;   /* [n, F] */
    float *work = hidden + n * s->ffn_dim; /* 8 n E + L for self-attention */

    /* Input plus the optional sinusoidal positional encoding. */
    memcpy(x0, x, (size_t)(n * E) * sizeof(float));
    if (s->positional_encoding) {
        for (int64_t r = 0; r < n; r++) {
            const double p = (double)(r % L);
            for (int64_t c = 0; c < E; c += 2) {
                const double angle = p / pow(10000.0, (double)c / (double)E);
                x0[r * E + c] += (float)sin(angle);
                if (c + 1 < E)
                    x0[r * E + c + 1] += (float)cos(angle);
            }
        }
    }

    if (!s->norm_first) {
        /* x1 = LN1(x0 + SA(x0)); out = LN2(x1 + FF(x1)) */
        self_attention_f32(s, w, x0, kv_valid_len, sa, work, fault);
        for (int64_t idx = 0; idx < n * E; idx++)
            sa[idx] += x0[idx];
        layer_norm_f32(sa, w->norm1_weight, w->norm1_bias, x1, n, E, s->layer_norm_eps, fault);
        feed_forward_f32(s, w, x1, ff, hidden, fault);
        for (int64_t idx = 0; idx < n * E; idx++)
            ff[idx] += x1[idx];
        layer_norm_f32(ff, w->norm2_weight, w->norm2_bias, out, n, E, s->layer_norm_eps, fault);
    } else {
        /* x1 = x0 + SA(LN1(x0)); out = x1 + FF(LN2(x1)) */
        layer_norm_f32(x0, w->norm1_weight, w->norm1_bias, y, n, E, s->layer_norm_eps, fault);
        self_attention_f32(s, w, y, kv_valid_len, sa, work, fault);
        for (int64_t idx = 0; idx < n * E; idx++)
            x1[idx] = x0[idx] + sa[idx];
        layer_norm_f32(x1, w->norm2_weight, w->norm2_bias, y, n, E, s->layer_norm_eps, fault);
        feed_forward_f32(s, w, y, ff, hidden, fault);
        for (int64_t idx = 0; idx < n * E; idx++)
            out[idx] = x1[idx] + ff[idx];
    }
}
