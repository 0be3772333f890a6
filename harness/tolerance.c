/*
 * Conformance comparison. Each finite expected element gets its own allowed
 * absolute error, a forward error bound for float32 evaluation computed
 * from the inputs in float64; docs/accuracy.md derives every term.
 *
 * attention, element (row, d), allowed keys j = 0 .. n-1, softmax weights
 * p_j, logits s_j, row max m, sigma_j = |scale| * sum_d |q_d k_jd|:
 *   bound = C_ATTN * u * ( sum_j p_j |v_jd - o_d| * ((sqrt(D) + 2) sigma_j
 *                                                    + |s_j - m| + EXP_ULPS)
 *                        + (sqrt(n) + 2) * (sum_j p_j |v_jd| + |o_d|) )
 * The first term is the output's sensitivity to logit and exp errors, the
 * second the rounding of the two length-n sums (values and normalizer).
 *
 * encoder_layer, element (row, c), with K = 3E + F + n the total length of
 * the reductions the element depends on:
 *   post-norm: bound = C_LAYER * u * sqrt(K) * (|w2_c| + |o_c - b2_c|)
 *   pre-norm:  bound = C_LAYER * u * sqrt(K) * (|o_c| + rms(o_row))
 * i.e. a relative error of sqrt(K) u against the scale of the last
 * LayerNorm's output (post-norm) or of the residual stream (pre-norm).
 */
#include "harness/tolerance.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Unit roundoff of float32 (round to nearest): 2^-24. */
#define UNIT_ROUNDOFF_F32 5.9604644775390625e-8

/* Safety factor over the probabilistic (sqrt-length) rounding model. The
   rounding error of a length-n sum has a standard deviation near
   sqrt(n/3) u times its magnitude. A factor 4 over sqrt(n) puts the bound
   about 7 standard deviations out, so millions of elements pass, while
   half-precision accumulation stays far over it. */
#define C_ATTN 4.0

/* The layer chains five reductions and two LayerNorms, whose 1/std scaling
   can amplify an error by a small factor on rows with a smaller spread. */
#define C_LAYER 8.0

/* Relative error allowed for exp(), in units of u: covers polynomial and
   table-based vector exps of up to about 4 ULP with a factor 2 margin. */
#define EXP_ULPS 8.0

/* Smallest bound: errors below this are exact for any practical purpose and
   keep a zero bound (all-zero values) from failing a bit-exact zero. */
#define MIN_BOUND 1e-30

typedef struct {
    atb_compare_result *r;
    double sum_sq_err;
    double sum_sq_expected;
} accumulator;

static void record_element(accumulator *acc, int64_t index, double expected, float got_f32,
                           double bound)
{
    atb_compare_result *r = acc->r;
    const double got = (double)got_f32;
    int failed = 0;
    r->n_checked++;

    if (isnan(expected) || isinf(expected)) {
        /* NaN must stay NaN, and an infinity must be the same infinity. */
        const int same = isnan(expected) ? isnan(got) : got == expected;
        if (!same) {
            r->n_nonfinite_mismatch++;
            failed = 1;
        }
        bound = NAN;
    } else if (!isfinite(got)) {
        r->n_nonfinite_mismatch++;
        failed = 1;
    } else {
        const double err = fabs(got - expected);
        if (!(bound > MIN_BOUND))
            bound = MIN_BOUND;
        const double rel = expected != 0.0 ? err / fabs(expected) : (err == 0.0 ? 0.0 : INFINITY);
        if (err > r->max_abs_error)
            r->max_abs_error = err;
        if (rel > r->max_rel_error)
            r->max_rel_error = rel;
        if (err / bound > r->budget_used)
            r->budget_used = err / bound;
        acc->sum_sq_err += err * err;
        acc->sum_sq_expected += expected * expected;
        failed = err > bound;
    }

    if (failed) {
        r->n_failed++;
        if (r->n_mismatches < ATB_MAX_MISMATCHES) {
            atb_mismatch *m = &r->first[r->n_mismatches++];
            m->index = index;
            m->expected = expected;
            m->got = got;
            m->bound = bound;
        }
    }
}

/* === attention === */

typedef struct {
    double *p;      /* softmax weights, n */
    double *weight; /* per-key sensitivity factor, n */
} attention_work;

static void compare_attention_row(const atb_tensors *t, int64_t row, const double *expected,
                                  const float *got, attention_work *w, accumulator *acc)
{
    const atb_attention_shape *s = &t->problem.attention;
    const int64_t D = s->head_dim, Lq = s->q_len, Lk = s->kv_len;
    const int64_t i = row % Lq, h = row / Lq % s->heads, b = row / Lq / s->heads;
    const int64_t g = h / (s->heads / s->kv_heads);
    const float *qi = t->q + row * D;
    const float *kh = t->k + (b * s->kv_heads + g) * Lk * D;
    const float *vh = t->v + (b * s->kv_heads + g) * Lk * D;
    const int64_t valid = t->kv_valid_len ? t->kv_valid_len[b] : Lk;
    const int64_t n = atb_attention_allowed_keys(s, valid, i);

    /* Logits, their magnitudes and the softmax, in float64. */
    double m = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        double dot = 0.0, mag = 0.0;
        for (int64_t d = 0; d < D; d++) {
            dot += (double)qi[d] * (double)kh[j * D + d];
            mag += fabs((double)qi[d] * (double)kh[j * D + d]);
        }
        w->p[j] = s->scale * dot;
        w->weight[j] = fabs(s->scale) * mag;
        if (w->p[j] > m)
            m = w->p[j];
    }
    double sum = 0.0;
    for (int64_t j = 0; j < n; j++) {
        const double logit = w->p[j];
        w->p[j] = exp(logit - m);
        sum += w->p[j];
        w->weight[j] = (sqrt((double)D) + 2.0) * w->weight[j] + fabs(logit - m) + EXP_ULPS;
    }
    for (int64_t j = 0; j < n; j++)
        w->p[j] /= sum;

    for (int64_t d = 0; d < D; d++) {
        const double o = expected[d];
        double sensitivity = 0.0, magnitude = 0.0;
        if (isfinite(o)) {
            for (int64_t j = 0; j < n; j++) {
                /* A key with zero weight (a logit of -inf) cannot move the
                   output, and its infinite sensitivity must not be multiplied
                   by that zero. */
                if (w->p[j] == 0.0)
                    continue;
                const double vj = (double)vh[j * D + d];
                sensitivity += w->p[j] * fabs(vj - o) * w->weight[j];
                magnitude += w->p[j] * fabs(vj);
            }
        }
        const double bound = C_ATTN * UNIT_ROUNDOFF_F32
                             * (sensitivity + (sqrt((double)n) + 2.0) * (magnitude + fabs(o)));
        record_element(acc, row * D + d, o, got[row * D + d], bound);
    }
}

/* === encoder_layer === */

static void compare_encoder_row(const atb_tensors *t, int64_t row, const double *expected,
                                const float *got, accumulator *acc)
{
    const atb_encoder_shape *s = &t->problem.encoder;
    const int64_t E = s->embed_dim, L = s->seq_len;
    const int64_t i = row % L, b = row / L;
    const int64_t valid = t->kv_valid_len ? t->kv_valid_len[b] : L;
    const atb_attention_shape as = {.q_len = L, .kv_len = L, .causal = s->causal};
    const int64_t n = atb_attention_allowed_keys(&as, valid, i);
    const double reduction = sqrt((double)(3 * E + s->ffn_dim + n));
    const float *norm2_weight = t->weights[10], *norm2_bias = t->weights[11];

    double sum_sq = 0.0;
    int64_t n_finite = 0;
    for (int64_t c = 0; c < E; c++)
        if (isfinite(expected[c])) {
            sum_sq += expected[c] * expected[c];
            n_finite++;
        }
    const double rms = n_finite ? sqrt(sum_sq / (double)n_finite) : 0.0;

    for (int64_t c = 0; c < E; c++) {
        const double o = expected[c];
        double scale;
        if (!s->norm_first)
            scale = fabs((double)norm2_weight[c]) + fabs(o - (double)norm2_bias[c]);
        else
            scale = fabs(o) + rms;
        const double bound = C_LAYER * UNIT_ROUNDOFF_F32 * reduction * scale;
        record_element(acc, row * E + c, o, got[row * E + c], bound);
    }
}

atb_status atb_compare(const atb_tensors *t, const double *expected, const float *got,
                       int64_t n_rows, const int64_t *rows, atb_compare_result *result,
                       char *err, size_t err_len)
{
    const atb_problem *p = &t->problem;
    memset(result, 0, sizeof(*result));
    accumulator acc = {.r = result};

    int64_t row_len, total_rows;
    if (p->op == ATB_OP_ATTENTION) {
        row_len = p->attention.head_dim;
        total_rows = p->attention.batch * p->attention.heads * p->attention.q_len;
    } else {
        row_len = p->encoder.embed_dim;
        total_rows = p->encoder.batch * p->encoder.seq_len;
    }
    if (!rows)
        n_rows = total_rows;

    attention_work work = {0};
    if (p->op == ATB_OP_ATTENTION) {
        const size_t n = (size_t)p->attention.kv_len + 1;
        work.p = malloc(n * sizeof(double));
        work.weight = malloc(n * sizeof(double));
        if (!work.p || !work.weight) {
            free(work.p);
            free(work.weight);
            snprintf(err, err_len, "cannot allocate the comparison's work space");
            return ATB_ERR_NOMEM;
        }
    }

    for (int64_t r = 0; r < n_rows; r++) {
        const int64_t row = rows ? rows[r] : r;
        if (row < 0 || row >= total_rows) {
            free(work.p);
            free(work.weight);
            snprintf(err, err_len, "row %lld is outside the output (%lld rows)", (long long)row,
                     (long long)total_rows);
            return ATB_ERR_INVALID;
        }
        /* expected is packed by position in rows[], or the full output. */
        const double *expected_row = expected + (rows ? r : row) * row_len;
        if (p->op == ATB_OP_ATTENTION)
            compare_attention_row(t, row, expected_row, got, &work, &acc);
        else
            compare_encoder_row(t, row, expected_row, got, &acc);
    }
    free(work.p);
    free(work.weight);

    if (acc.sum_sq_expected > 0.0)
        result->nmse = acc.sum_sq_err / acc.sum_sq_expected;
    else
        result->nmse = acc.sum_sq_err;
    result->pass = result->n_failed == 0;
    return ATB_OK;
}
