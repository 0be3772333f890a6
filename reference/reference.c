/*
 * Float64 reference for attention and the encoder layer, written for
 * clarity from the operation definitions rather than for speed.
 *
 * Inputs are the exact float32 values, widened to double before any
 * arithmetic; every intermediate and the output are double. Single-threaded.
 * Tensors are row-major and contiguous as described in attnbench/impl.h.
 *
 * Softmax rule, which also fixes how non-finite inputs propagate:
 *   m   = max of the allowed logits; NaN if any allowed logit is NaN
 *   p_j = exp(s_j - m) / sum over allowed k of exp(s_k - m)
 *   out = sum over allowed j of p_j * v_j
 * evaluated in IEEE double arithmetic. So a NaN logit makes the whole row
 * NaN, a +Inf logit makes it NaN too (Inf - Inf), a -Inf logit gets weight
 * 0, and an Inf or NaN in v reaches the output column it sits in. A row
 * with no allowed key is exactly 0.0, and keys that are not allowed are
 * never read, so whatever they hold cannot reach the output.
 */
#include "reference/reference.h"

#include "harness/problem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* === Shared pieces === */

/* Returns 1 when key j is allowed for query row i (0-based) given the
   batch's valid key count. */
static int key_allowed(atb_causal causal, int64_t q_len, int64_t kv_len, int64_t valid,
                       int64_t i, int64_t j)
{
    if (j >= valid)
        return 0;
    if (causal == ATB_CAUSAL_TOP_LEFT)
        return j <= i;
    if (causal == ATB_CAUSAL_BOTTOM_RIGHT)
        return j <= i + (kv_len - q_len);
    return 1;
}

/* Replaces the n logits by their softmax, following the rule in the file
   comment. Subtracting the maximum keeps exp() finite for finite logits. */
static void softmax_in_place(double *s, int64_t n)
{
    double m = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        if (isnan(s[j])) {
            m = NAN;
            break;
        }
        if (s[j] > m)
            m = s[j];
    }

    double sum = 0.0;
    for (int64_t j = 0; j < n; j++) {
        s[j] = exp(s[j] - m);
        sum += s[j];
    }
    for (int64_t j = 0; j < n; j++)
        s[j] /= sum;
}

static atb_status check_valid_lengths(const int32_t *kv_valid_len, int has_kv_valid_len,
                                      int64_t batch, int64_t kv_len)
{
    if (!has_kv_valid_len)
        return ATB_OK;
    if (!kv_valid_len)
        return ATB_ERR_INVALID;
    for (int64_t b = 0; b < batch; b++)
        if (kv_valid_len[b] < 0 || kv_valid_len[b] > kv_len)
            return ATB_ERR_INVALID;
    return ATB_OK;
}

/* === Attention === */

static atb_status check_attention(const atb_attention_shape *shape, const int32_t *kv_valid_len)
{
    atb_problem problem = {.op = ATB_OP_ATTENTION, .attention = *shape, .n_threads = 1};
    char err[160];
    atb_status st = atb_problem_validate(&problem, err, sizeof(err));
    if (st != ATB_OK)
        return st;
    return check_valid_lengths(kv_valid_len, shape->has_kv_valid_len, shape->batch,
                               shape->kv_len);
}

/* One output row (b, h, i) of a validated problem. logits has kv_len
   entries (at least one, so kv_len = 0 still gets a valid pointer). */
static void attention_row(const atb_attention_shape *s, const float *q, const float *k,
                          const float *v, const int32_t *kv_valid_len, int64_t b, int64_t h,
                          int64_t i, double *logits, double *out_row)
{
    const int64_t D = s->head_dim;
    const int64_t g = h / (s->heads / s->kv_heads); /* key/value head read by query head h */
    const float *q_row = q + ((b * s->heads + h) * s->q_len + i) * D;
    const float *k_head = k + (b * s->kv_heads + g) * s->kv_len * D;
    const float *v_head = v + (b * s->kv_heads + g) * s->kv_len * D;
    const int64_t valid = s->has_kv_valid_len ? kv_valid_len[b] : s->kv_len;

    /* Logits of the allowed keys. They form a prefix 0 .. n-1, because the
       causal rule and the valid length are both upper bounds on j, but
       every key is tested against the rule so the code does not rely on it. */
    int64_t n = 0;
    for (int64_t j = 0; j < s->kv_len; j++) {
        if (!key_allowed(s->causal, s->q_len, s->kv_len, valid, i, j))
            continue;
        double dot = 0.0;
        for (int64_t d = 0; d < D; d++)
            dot += (double)q_row[d] * (double)k_head[j * D + d];
        logits[n++] = s->scale * dot;
    }

    for (int64_t d = 0; d < D; d++)
        out_row[d] = 0.0;
    if (n == 0)
        return; /* no allowed key: exactly zero */

    softmax_in_place(logits, n);

    /* Weighted sum of the allowed values, in the same order as the logits. */
    int64_t r = 0;
    for (int64_t j = 0; j < s->kv_len; j++) {
        if (!key_allowed(s->causal, s->q_len, s->kv_len, valid, i, j))
            continue;
        for (int64_t d = 0; d < D; d++)
            out_row[d] += logits[r] * (double)v_head[j * D + d];
        r++;
    }
}

atb_status atb_ref_attention(const atb_attention_shape *shape, const float *q, const float *k,
                             const float *v, const int32_t *kv_valid_len, double *out)
{
    atb_status st = check_attention(shape, kv_valid_len);
    if (st != ATB_OK)
        return st;

    double *logits = malloc((size_t)(shape->kv_len + 1) * sizeof(double));
    if (!logits)
        return ATB_ERR_NOMEM;

    const int64_t D = shape->head_dim;
    for (int64_t b = 0; b < shape->batch; b++)
        for (int64_t h = 0; h < shape->heads; h++)
            for (int64_t i = 0; i < shape->q_len; i++)
                attention_row(shape, q, k, v, kv_valid_len, b, h, i, logits,
                              out + ((b * shape->heads + h) * shape->q_len + i) * D);
    free(logits);
    return ATB_OK;
}

atb_status atb_ref_attention_row(const atb_attention_shape *shape, const float *q,
                                 const float *k, const float *v, const int32_t *kv_valid_len,
                                 int64_t b, int64_t h, int64_t i, double *out_row)
{
    atb_status st = check_attention(shape, kv_valid_len);
    if (st != ATB_OK)
        return st;
    if (b < 0 || b >= shape->batch || h < 0 || h >= shape->heads || i < 0 || i >= shape->q_len)
        return ATB_ERR_INVALID;

    double *logits = malloc((size_t)(shape->kv_len + 1) * sizeof(double));
    if (!logits)
        return ATB_ERR_NOMEM;
    attention_row(shape, q, k, v, kv_valid_len, b, h, i, logits, out_row);
    free(logits);
    return ATB_OK;
}

/* === Encoder layer === */

/* y [n_out] = W [n_out, n_in] * x [n_in] + bias: PyTorch's nn.Linear. */
static void linear(const float *weight, const float *bias, const double *x, int64_t n_in,
                   int64_t n_out, double *y)
{
    for (int64_t o = 0; o < n_out; o++) {
        double acc = (double)bias[o];
        for (int64_t c = 0; c < n_in; c++)
            acc += (double)weight[o * n_in + c] * x[c];
        y[o] = acc;
    }
}

/* LayerNorm over n values with the biased variance (divided by n). */
static void layer_norm(const double *x, const float *weight, const float *bias, int64_t n,
                       double eps, double *y)
{
    double mean = 0.0;
    for (int64_t c = 0; c < n; c++)
        mean += x[c];
    mean /= (double)n;

    double var = 0.0;
    for (int64_t c = 0; c < n; c++)
        var += (x[c] - mean) * (x[c] - mean);
    var /= (double)n;

    const double inv_std = 1.0 / sqrt(var + eps);
    for (int64_t c = 0; c < n; c++)
        y[c] = (x[c] - mean) * inv_std * (double)weight[c] + (double)bias[c];
}

static double activate(atb_activation act, double x)
{
    if (act == ATB_ACT_GELU)
        return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); /* the exact (erf) form */
    return x > 0.0 ? x : 0.0;
}

/* Row p of x0: x plus, when asked for, the sinusoidal positional encoding
   PE[p, 2i] = sin(p / 10000^(2i/E)), PE[p, 2i+1] = cos(same angle). */
static void input_row(const atb_encoder_shape *s, const float *x, int64_t b, int64_t p,
                      double *x0)
{
    const int64_t E = s->embed_dim;
    const float *row = x + (b * s->seq_len + p) * E;
    for (int64_t c = 0; c < E; c++)
        x0[c] = (double)row[c];
    if (!s->positional_encoding)
        return;
    for (int64_t c = 0; c + 1 < E; c += 2) {
        const double angle = (double)p / pow(10000.0, (double)c / (double)E);
        x0[c] += sin(angle);
        x0[c + 1] += cos(angle);
    }
}

/* Working memory of the layer. Keys and values cover one batch entry. */
typedef struct {
    double *keys;   /* [L, E] */
    double *values; /* [L, E] */
    double *x0, *y, *q, *attn, *sa, *x1, *z, *hidden, *ff; /* one row each */
    double *logits; /* [L] */
} encoder_work;

static void encoder_work_free(encoder_work *w)
{
    free(w->keys);
    free(w->values);
    free(w->x0);
    free(w->y);
    free(w->q);
    free(w->attn);
    free(w->sa);
    free(w->x1);
    free(w->z);
    free(w->hidden);
    free(w->ff);
    free(w->logits);
}

static atb_status encoder_work_alloc(encoder_work *w, const atb_encoder_shape *s)
{
    const size_t L = (size_t)s->seq_len, E = (size_t)s->embed_dim, F = (size_t)s->ffn_dim;
    memset(w, 0, sizeof(*w));
    w->keys = malloc(L * E * sizeof(double));
    w->values = malloc(L * E * sizeof(double));
    double **rows[] = {&w->x0, &w->y, &w->q, &w->attn, &w->sa, &w->x1, &w->z, &w->ff};
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
        *rows[r] = malloc(E * sizeof(double));
    w->hidden = malloc(F * sizeof(double));
    w->logits = malloc(L * sizeof(double));

    int ok = w->keys && w->values && w->hidden && w->logits;
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++)
        ok = ok && *rows[r];
    if (!ok) {
        encoder_work_free(w);
        return ATB_ERR_NOMEM;
    }
    return ATB_OK;
}

/* The input of self-attention for row p: x0, or LN1(x0) when norm_first. */
static void attention_input_row(const atb_encoder_shape *s, const atb_encoder_weights *wt,
                                const float *x, int64_t b, int64_t p, double *x0, double *y)
{
    input_row(s, x, b, p, x0);
    if (s->norm_first)
        layer_norm(x0, wt->norm1_weight, wt->norm1_bias, s->embed_dim, s->layer_norm_eps, y);
    else
        memcpy(y, x0, (size_t)s->embed_dim * sizeof(double));
}

/* Keys and values of every position of batch entry b. */
static void encoder_keys_values(const atb_encoder_shape *s, const atb_encoder_weights *wt,
                                const float *x, int64_t b, encoder_work *w)
{
    const int64_t E = s->embed_dim;
    for (int64_t p = 0; p < s->seq_len; p++) {
        attention_input_row(s, wt, x, b, p, w->x0, w->y);
        linear(wt->in_proj_weight + E * E, wt->in_proj_bias + E, w->y, E, E, w->keys + p * E);
        linear(wt->in_proj_weight + 2 * E * E, wt->in_proj_bias + 2 * E, w->y, E, E,
               w->values + p * E);
    }
}

/* Output row i of batch entry b, with keys and values of b already in w. */
static void encoder_row(const atb_encoder_shape *s, const atb_encoder_weights *wt,
                        const float *x, const int32_t *kv_valid_len, int64_t b, int64_t i,
                        encoder_work *w, double *out_row)
{
    const int64_t E = s->embed_dim, L = s->seq_len, Dh = E / s->heads;
    const int64_t valid = s->has_kv_valid_len ? kv_valid_len[b] : L;
    const double scale = 1.0 / sqrt((double)Dh);

    /* Query of this row. */
    attention_input_row(s, wt, x, b, i, w->x0, w->y);
    linear(wt->in_proj_weight, wt->in_proj_bias, w->y, E, E, w->q);

    /* Each head attends over its Dh columns of the keys and values. */
    for (int64_t h = 0; h < s->heads; h++) {
        const int64_t col = h * Dh;
        int64_t n = 0;
        for (int64_t j = 0; j < L; j++) {
            if (!key_allowed(s->causal, L, L, valid, i, j))
                continue;
            double dot = 0.0;
            for (int64_t d = 0; d < Dh; d++)
                dot += w->q[col + d] * w->keys[j * E + col + d];
            w->logits[n++] = scale * dot;
        }

        for (int64_t d = 0; d < Dh; d++)
            w->attn[col + d] = 0.0;
        if (n == 0)
            continue; /* every key masked: this head contributes zeros */
        softmax_in_place(w->logits, n);
        int64_t r = 0;
        for (int64_t j = 0; j < L; j++) {
            if (!key_allowed(s->causal, L, L, valid, i, j))
                continue;
            for (int64_t d = 0; d < Dh; d++)
                w->attn[col + d] += w->logits[r] * w->values[j * E + col + d];
            r++;
        }
    }
    linear(wt->out_proj_weight, wt->out_proj_bias, w->attn, E, E, w->sa);

    /* Residual and the first norm; z is the input of the feed-forward block. */
    const double eps = s->layer_norm_eps;
    for (int64_t c = 0; c < E; c++)
        w->sa[c] += w->x0[c];
    if (s->norm_first) {
        memcpy(w->x1, w->sa, (size_t)E * sizeof(double));
        layer_norm(w->x1, wt->norm2_weight, wt->norm2_bias, E, eps, w->z);
    } else {
        layer_norm(w->sa, wt->norm1_weight, wt->norm1_bias, E, eps, w->x1);
        memcpy(w->z, w->x1, (size_t)E * sizeof(double));
    }

    /* FF(z) = act(z W1^T + b1) W2^T + b2. */
    linear(wt->linear1_weight, wt->linear1_bias, w->z, E, s->ffn_dim, w->hidden);
    for (int64_t f = 0; f < s->ffn_dim; f++)
        w->hidden[f] = activate(s->activation, w->hidden[f]);
    linear(wt->linear2_weight, wt->linear2_bias, w->hidden, s->ffn_dim, E, w->ff);

    if (s->norm_first) {
        for (int64_t c = 0; c < E; c++)
            out_row[c] = w->x1[c] + w->ff[c];
    } else {
        for (int64_t c = 0; c < E; c++)
            w->ff[c] += w->x1[c];
        layer_norm(w->ff, wt->norm2_weight, wt->norm2_bias, E, eps, out_row);
    }
}

atb_status atb_ref_encoder_layer_rows(const atb_encoder_shape *shape,
                                      const atb_encoder_weights *w, const float *x,
                                      const int32_t *kv_valid_len, int64_t n_rows,
                                      const int64_t *rows, double *out)
{
    atb_problem problem = {.op = ATB_OP_ENCODER_LAYER, .encoder = *shape, .n_threads = 1};
    char err[160];
    atb_status st = atb_problem_validate(&problem, err, sizeof(err));
    if (st != ATB_OK)
        return st;
    st = check_valid_lengths(kv_valid_len, shape->has_kv_valid_len, shape->batch,
                             shape->seq_len);
    if (st != ATB_OK)
        return st;
    const int64_t n_positions = shape->batch * shape->seq_len;
    if (n_rows < 0 || (n_rows > 0 && !rows))
        return ATB_ERR_INVALID;
    for (int64_t r = 0; r < n_rows; r++)
        if (rows[r] < 0 || rows[r] >= n_positions)
            return ATB_ERR_INVALID;

    encoder_work work;
    st = encoder_work_alloc(&work, shape);
    if (st != ATB_OK)
        return st;

    /* Keys and values are computed once per batch entry that has a
       requested row; the rest of the layer only for the requested rows. */
    for (int64_t b = 0; b < shape->batch; b++) {
        int computed = 0;
        for (int64_t r = 0; r < n_rows; r++) {
            if (rows[r] / shape->seq_len != b)
                continue;
            if (!computed) {
                encoder_keys_values(shape, w, x, b, &work);
                computed = 1;
            }
            encoder_row(shape, w, x, kv_valid_len, b, rows[r] % shape->seq_len, &work,
                        out + r * shape->embed_dim);
        }
    }
    encoder_work_free(&work);
    return ATB_OK;
}

atb_status atb_ref_encoder_layer(const atb_encoder_shape *shape, const atb_encoder_weights *w,
                                 const float *x, const int32_t *kv_valid_len, double *out)
{
    atb_problem problem = {.op = ATB_OP_ENCODER_LAYER, .encoder = *shape, .n_threads = 1};
    char err[160];
    atb_status st = atb_problem_validate(&problem, err, sizeof(err));
    if (st != ATB_OK)
        return st;

    const int64_t n_rows = shape->batch * shape->seq_len;
    int64_t *rows = malloc((size_t)n_rows * sizeof(int64_t));
    if (!rows)
        return ATB_ERR_NOMEM;
    for (int64_t r = 0; r < n_rows; r++)
        rows[r] = r;
    st = atb_ref_encoder_layer_rows(shape, w, x, kv_valid_len, n_rows, rows, out);
    free(rows);
    return st;
}
