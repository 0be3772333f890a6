/*
 * Problem shapes: validation against the operations' limits, element counts
 * with overflow checks, the FLOP convention, and tensor allocation.
 */
#include "harness/problem.h"

#include "reference/prng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest element count of any single tensor: 2^40 floats is 4 TiB, far past
   any machine this runs on, and keeps byte counts far from overflow. */
#define MAX_ELEMENTS (INT64_C(1) << 40)

static int mul_checked(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0)
        return 0;
    if (a != 0 && b > MAX_ELEMENTS / a)
        return 0;
    *out = a * b;
    return *out <= MAX_ELEMENTS;
}

static int product_checked(const int64_t *factors, int n, int64_t *out)
{
    int64_t acc = 1;
    for (int i = 0; i < n; i++)
        if (!mul_checked(acc, factors[i], &acc))
            return 0;
    *out = acc;
    return 1;
}

#define REQUIRE(cond, ...)                                                                 \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            snprintf(err, err_len, __VA_ARGS__);                                           \
            return ATB_ERR_INVALID;                                                        \
        }                                                                                  \
    } while (0)

static atb_status validate_attention(const atb_attention_shape *s, char *err, size_t err_len)
{
    REQUIRE(s->batch >= 1, "batch must be at least 1 (got %lld)", (long long)s->batch);
    REQUIRE(s->heads >= 1, "heads must be at least 1 (got %lld)", (long long)s->heads);
    REQUIRE(s->kv_heads >= 1, "kv_heads must be at least 1 (got %lld)", (long long)s->kv_heads);
    REQUIRE(s->heads % s->kv_heads == 0, "heads (%lld) must be a multiple of kv_heads (%lld)",
            (long long)s->heads, (long long)s->kv_heads);
    REQUIRE(s->q_len >= 1, "q_len must be at least 1 (got %lld)", (long long)s->q_len);
    REQUIRE(s->kv_len >= 0, "kv_len must be at least 0 (got %lld)", (long long)s->kv_len);
    REQUIRE(s->head_dim >= 1, "head_dim must be at least 1 (got %lld)", (long long)s->head_dim);
    REQUIRE(isfinite(s->scale), "scale must be finite (got %g)", s->scale);
    REQUIRE(s->causal >= ATB_CAUSAL_NONE && s->causal <= ATB_CAUSAL_BOTTOM_RIGHT,
            "causal has an unknown value %d", (int)s->causal);

    int64_t n;
    const int64_t qdims[] = {s->batch, s->heads, s->q_len, s->head_dim};
    const int64_t kdims[] = {s->batch, s->kv_heads, s->kv_len, s->head_dim};
    if (!product_checked(qdims, 4, &n)) {
        snprintf(err, err_len, "q [batch, heads, q_len, head_dim] would exceed 2^40 elements");
        return ATB_ERR_NOMEM;
    }
    if (!product_checked(kdims, 4, &n)) {
        snprintf(err, err_len, "k [batch, kv_heads, kv_len, head_dim] would exceed 2^40 elements");
        return ATB_ERR_NOMEM;
    }
    return ATB_OK;
}

static atb_status validate_encoder(const atb_encoder_shape *s, char *err, size_t err_len)
{
    REQUIRE(s->batch >= 1, "batch must be at least 1 (got %lld)", (long long)s->batch);
    REQUIRE(s->seq_len >= 1, "seq_len must be at least 1 (got %lld)", (long long)s->seq_len);
    REQUIRE(s->embed_dim >= 1, "embed_dim must be at least 1 (got %lld)",
            (long long)s->embed_dim);
    REQUIRE(s->heads >= 1, "heads must be at least 1 (got %lld)", (long long)s->heads);
    REQUIRE(s->embed_dim % s->heads == 0, "embed_dim (%lld) must be a multiple of heads (%lld)",
            (long long)s->embed_dim, (long long)s->heads);
    REQUIRE(s->ffn_dim >= 1, "ffn_dim must be at least 1 (got %lld)", (long long)s->ffn_dim);
    REQUIRE(s->activation == ATB_ACT_RELU || s->activation == ATB_ACT_GELU,
            "activation has an unknown value %d", (int)s->activation);
    REQUIRE(s->norm_first == 0 || s->norm_first == 1, "norm_first must be 0 or 1 (got %d)",
            s->norm_first);
    REQUIRE(isfinite(s->layer_norm_eps) && s->layer_norm_eps > 0,
            "layer_norm_eps must be positive and finite (got %g)", s->layer_norm_eps);
    REQUIRE(s->causal == ATB_CAUSAL_NONE || s->causal == ATB_CAUSAL_TOP_LEFT,
            "causal must be none or top_left for encoder_layer");
    REQUIRE(s->positional_encoding == 0 || s->positional_encoding == 1,
            "positional_encoding has an unknown value %d", s->positional_encoding);
    REQUIRE(!s->positional_encoding || s->embed_dim % 2 == 0,
            "embed_dim must be even for the sinusoidal positional encoding (got %lld)",
            (long long)s->embed_dim);

    REQUIRE(s->embed_dim <= MAX_ELEMENTS && s->ffn_dim <= MAX_ELEMENTS,
            "embed_dim or ffn_dim: the weights would exceed 2^40 elements");

    int64_t n;
    const int64_t xdims[] = {s->batch, s->seq_len, s->embed_dim};
    const int64_t hdims[] = {s->batch, s->seq_len, s->ffn_dim};
    const int64_t wdims[] = {3 * s->embed_dim, s->embed_dim};
    const int64_t w1dims[] = {s->ffn_dim, s->embed_dim};
    if (!product_checked(xdims, 3, &n)) {
        snprintf(err, err_len, "x [batch, seq_len, embed_dim] would exceed 2^40 elements");
        return ATB_ERR_NOMEM;
    }
    if (!product_checked(hdims, 3, &n) || !product_checked(wdims, 2, &n)
        || !product_checked(w1dims, 2, &n)) {
        snprintf(err, err_len,
                 "ffn_dim or embed_dim: the weights or activations would exceed 2^40 elements");
        return ATB_ERR_NOMEM;
    }
    return ATB_OK;
}

atb_status atb_problem_validate(const atb_problem *p, char *err, size_t err_len)
{
    if (p->op == ATB_OP_ATTENTION)
        return validate_attention(&p->attention, err, err_len);
    if (p->op == ATB_OP_ENCODER_LAYER)
        return validate_encoder(&p->encoder, err, err_len);
    snprintf(err, err_len, "unknown operation %d", (int)p->op);
    return ATB_ERR_INVALID;
}

/* The counts below assume a validated problem, so no product overflows. */

size_t atb_problem_output_count(const atb_problem *p)
{
    if (p->op == ATB_OP_ATTENTION) {
        const atb_attention_shape *s = &p->attention;
        return (size_t)(s->batch * s->heads * s->q_len * s->head_dim);
    }
    const atb_encoder_shape *s = &p->encoder;
    return (size_t)(s->batch * s->seq_len * s->embed_dim);
}

/* Sizes in floats of the twelve weights, in atb_encoder_weights order. */
static void encoder_weight_counts(const atb_encoder_shape *s, size_t counts[12])
{
    const size_t E = (size_t)s->embed_dim, F = (size_t)s->ffn_dim;
    const size_t c[12] = {3 * E * E, 3 * E, E * E, E, F * E, F, E * F, E, E, E, E, E};
    memcpy(counts, c, sizeof(c));
}

size_t atb_problem_bytes(const atb_problem *p)
{
    size_t n = atb_problem_output_count(p);
    if (p->op == ATB_OP_ATTENTION) {
        const atb_attention_shape *s = &p->attention;
        n += (size_t)(s->batch * s->heads * s->q_len * s->head_dim);
        n += 2 * (size_t)(s->batch * s->kv_heads * s->kv_len * s->head_dim);
    } else {
        size_t counts[12];
        encoder_weight_counts(&p->encoder, counts);
        n += atb_problem_output_count(p);
        for (int i = 0; i < 12; i++)
            n += counts[i];
    }
    return n * sizeof(float);
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

int atb_tensors_inputs_finite(const atb_tensors *t)
{
    const atb_problem *p = &t->problem;
    if (p->op == ATB_OP_ATTENTION) {
        const atb_attention_shape *s = &p->attention;
        const size_t nq = (size_t)(s->batch * s->heads * s->q_len * s->head_dim);
        const size_t nk = (size_t)(s->batch * s->kv_heads * s->kv_len * s->head_dim);
        return all_finite(t->q, nq) && all_finite(t->k, nk) && all_finite(t->v, nk);
    }
    size_t counts[12];
    encoder_weight_counts(&p->encoder, counts);
    if (!all_finite(t->x, atb_problem_output_count(p)))
        return 0;
    for (int i = 0; i < 12; i++)
        if (!all_finite(t->weights[i], counts[i]))
            return 0;
    return 1;
}

int64_t atb_attention_allowed_keys(const atb_attention_shape *s, int64_t valid, int64_t i)
{
    int64_t limit = valid;
    if (s->causal == ATB_CAUSAL_TOP_LEFT && i + 1 < limit)
        limit = i + 1;
    if (s->causal == ATB_CAUSAL_BOTTOM_RIGHT && i + 1 + (s->kv_len - s->q_len) < limit)
        limit = i + 1 + (s->kv_len - s->q_len);
    return limit < 0 ? 0 : limit;
}

/* Allowed (b, h, i, j) tuples, summed in closed form per batch. */
static double allowed_tuples(const atb_attention_shape *s, const int32_t *kv_valid_len)
{
    double total = 0.0;
    for (int64_t b = 0; b < s->batch; b++) {
        const int64_t valid = kv_valid_len ? kv_valid_len[b] : s->kv_len;
        for (int64_t i = 0; i < s->q_len; i++)
            total += (double)atb_attention_allowed_keys(s, valid, i);
    }
    return total * (double)s->heads;
}

double atb_problem_flops(const atb_problem *p, const int32_t *kv_valid_len)
{
    if (p->op == ATB_OP_ATTENTION)
        return 4.0 * (double)p->attention.head_dim * allowed_tuples(&p->attention, kv_valid_len);

    const atb_encoder_shape *s = &p->encoder;
    const double B = (double)s->batch, L = (double)s->seq_len, E = (double)s->embed_dim;
    const double F = (double)s->ffn_dim, Dh = E / (double)s->heads;
    atb_attention_shape as = {
        .batch = s->batch, .heads = s->heads, .kv_heads = s->heads, .q_len = s->seq_len,
        .kv_len = s->seq_len, .head_dim = s->embed_dim / s->heads, .causal = s->causal,
    };
    return 2.0 * B * L * E * 3.0 * E + 4.0 * Dh * allowed_tuples(&as, kv_valid_len)
           + 2.0 * B * L * E * E + 4.0 * B * L * E * F;
}

/* === Tensors === */

static atb_status alloc_floats(float **out, size_t n, char *err, size_t err_len,
                               const char *what)
{
    /* One extra element keeps zero-length tensors (kv_len = 0) non-NULL. */
    *out = calloc(n + 1, sizeof(float));
    if (!*out) {
        snprintf(err, err_len, "cannot allocate %zu bytes for %s", (n + 1) * sizeof(float),
                 what);
        return ATB_ERR_NOMEM;
    }
    return ATB_OK;
}

atb_status atb_tensors_alloc(atb_tensors *t, const atb_problem *p, char *err, size_t err_len)
{
    memset(t, 0, sizeof(*t));
    t->problem = *p;
    atb_status st = atb_problem_validate(p, err, err_len);
    if (st != ATB_OK)
        return st;

    int has_valid;
    int64_t batch;
    if (p->op == ATB_OP_ATTENTION) {
        const atb_attention_shape *s = &p->attention;
        const size_t nq = (size_t)(s->batch * s->heads * s->q_len * s->head_dim);
        const size_t nk = (size_t)(s->batch * s->kv_heads * s->kv_len * s->head_dim);
        if ((st = alloc_floats(&t->q, nq, err, err_len, "q")) != ATB_OK
            || (st = alloc_floats(&t->k, nk, err, err_len, "k")) != ATB_OK
            || (st = alloc_floats(&t->v, nk, err, err_len, "v")) != ATB_OK)
            goto fail;
        has_valid = s->has_kv_valid_len;
        batch = s->batch;
    } else {
        size_t counts[12];
        encoder_weight_counts(&p->encoder, counts);
        if ((st = alloc_floats(&t->x, atb_problem_output_count(p), err, err_len, "x")) != ATB_OK)
            goto fail;
        for (int i = 0; i < 12; i++)
            if ((st = alloc_floats(&t->weights[i], counts[i], err, err_len, "weights")) != ATB_OK)
                goto fail;
        has_valid = p->encoder.has_kv_valid_len;
        batch = p->encoder.batch;
    }
    if (has_valid) {
        t->kv_valid_len = calloc((size_t)batch, sizeof(int32_t));
        if (!t->kv_valid_len) {
            snprintf(err, err_len, "cannot allocate kv_valid_len");
            st = ATB_ERR_NOMEM;
            goto fail;
        }
    }
    return ATB_OK;

fail:
    atb_tensors_free(t);
    return st;
}

static void fill_uniform(float *a, size_t n, atb_prng *rng, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        a[i] = atb_prng_uniform(rng, lo, hi);
}

void atb_tensors_fill_random(atb_tensors *t, uint64_t seed)
{
    atb_prng rng;
    atb_prng_seed(&rng, seed);
    const atb_problem *p = &t->problem;
    if (p->op == ATB_OP_ATTENTION) {
        const atb_attention_shape *s = &p->attention;
        const size_t nq = (size_t)(s->batch * s->heads * s->q_len * s->head_dim);
        const size_t nk = (size_t)(s->batch * s->kv_heads * s->kv_len * s->head_dim);
        fill_uniform(t->q, nq, &rng, -1.0f, 1.0f);
        fill_uniform(t->k, nk, &rng, -1.0f, 1.0f);
        fill_uniform(t->v, nk, &rng, -1.0f, 1.0f);
        if (t->kv_valid_len)
            for (int64_t b = 0; b < s->batch; b++)
                t->kv_valid_len[b] = (int32_t)(s->kv_len - (s->kv_len * b) / (2 * s->batch));
        return;
    }

    const atb_encoder_shape *s = &p->encoder;
    size_t counts[12];
    encoder_weight_counts(s, counts);
    fill_uniform(t->x, atb_problem_output_count(p), &rng, -1.0f, 1.0f);
    /* Uniform(-a, a) with a = 1/sqrt(fan_in), like PyTorch's default init,
       so activations keep unit scale through the layer. */
    const float fan_in[12] = {
        (float)s->embed_dim, (float)s->embed_dim, (float)s->embed_dim, (float)s->embed_dim,
        (float)s->embed_dim, (float)s->embed_dim, (float)s->ffn_dim, (float)s->ffn_dim,
    };
    for (int i = 0; i < 8; i++) {
        const float a = 1.0f / sqrtf(fan_in[i]);
        fill_uniform(t->weights[i], counts[i], &rng, -a, a);
    }
    for (int i = 8; i < 12; i += 2) {
        fill_uniform(t->weights[i], counts[i], &rng, 0.5f, 1.5f);     /* norm weight */
        fill_uniform(t->weights[i + 1], counts[i + 1], &rng, -0.5f, 0.5f); /* norm bias */
    }
    if (t->kv_valid_len)
        for (int64_t b = 0; b < s->batch; b++)
            t->kv_valid_len[b] = (int32_t)(s->seq_len - (s->seq_len * b) / (2 * s->batch));
}

void atb_tensors_make_denormal_heavy(atb_tensors *t)
{
    const atb_problem *p = &t->problem;
    if (p->op == ATB_OP_ENCODER_LAYER) {
        const size_t n = atb_problem_output_count(p);
        for (size_t i = 0; i < n; i++)
            t->x[i] *= 1e-39f; /* |x| <= 1e-39 < 2^-126: denormal */
        return;
    }
    const atb_attention_shape *s = &p->attention;
    const int64_t D = s->head_dim;
    const size_t nq = (size_t)(s->batch * s->heads * s->q_len * D);
    const size_t n_keys = (size_t)(s->batch * s->kv_heads * s->kv_len);
    /* q = 1 everywhere, so score_j = scale * D * k_j when every element of
       key j is k_j. Key 0 of each head scores 0, the row maximum; key j > 0
       scores -88 - 15 * u with u in [0, 1). */
    for (size_t i = 0; i < nq; i++)
        t->q[i] = 1.0f;
    for (size_t key = 0; key < n_keys; key++) {
        const int64_t j = (int64_t)(key % (size_t)s->kv_len);
        const double u = (double)((key * 2654435761u) % 1000u) / 1000.0;
        const double score = j == 0 ? 0.0 : -88.0 - 15.0 * u;
        const float value = (float)(score / (s->scale * (double)D));
        for (int64_t d = 0; d < D; d++) {
            t->k[key * (size_t)D + (size_t)d] = value;
            t->v[key * (size_t)D + (size_t)d] *= 1e-39f;
        }
    }
}

void atb_tensors_free(atb_tensors *t)
{
    free(t->q);
    free(t->k);
    free(t->v);
    free(t->x);
    free(t->kv_valid_len);
    for (int i = 0; i < 12; i++)
        free(t->weights[i]);
    memset(t, 0, sizeof(*t));
}

atb_encoder_weights atb_tensors_weights(const atb_tensors *t)
{
    atb_encoder_weights w = {
        t->weights[0], t->weights[1], t->weights[2], t->weights[3], t->weights[4],  t->weights[5],
        t->weights[6], t->weights[7], t->weights[8], t->weights[9], t->weights[10], t->weights[11],
    };
    return w;
}

atb_run_args atb_tensors_args(const atb_tensors *t, float *out)
{
    atb_run_args a = {
        .q = t->q, .k = t->k, .v = t->v, .x = t->x, .kv_valid_len = t->kv_valid_len, .out = out,
    };
    return a;
}
