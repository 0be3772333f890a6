/*
 * The encoder layer for the blocked, simd_avx2 and simd_avx512 families:
 * packed GEMMs with fused epilogues, LayerNorm, the family's attention.
 *
 * plan() validates the shape, picks the ISA level and micro-kernel, packs
 * the four weight matrices, precomputes the positional encoding (double
 * precision, rounded once to f32; it depends only on L and E), plans the
 * inner attention and allocates all scratch. run() allocates nothing.
 *
 * Data flow for n = B * L rows (post-norm; pre-norm moves the LayerNorms
 * before each block and keeps the residual stream un-normalized):
 *   qkv[n, 3E] = x0 Wqkv^T + b           (GEMM, bias epilogue)
 *   q, k, v [B, H, L, Dh] = split(qkv)   (copy)
 *   heads[B, H, L, Dh] = attention(q, k, v)
 *   concat[n, E] = merge(heads)          (copy)
 *   t = concat Wo^T + bo + x0            (GEMM, bias + residual epilogue)
 *   x1 = LN1(t)
 *   hidden[n, F] = act(x1 W1^T + b1)     (GEMM, bias + activation epilogue)
 *   t = hidden W2^T + b2 + x1            (GEMM, bias + residual epilogue)
 *   out = LN2(t)
 */
#include "impl/layer/layer.h"

#include "impl/layer/layer_internal.h"

#include "harness/problem.h"
#include "harness/registry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { FAMILY_BLOCKED, FAMILY_SIMD_AVX2, FAMILY_SIMD_AVX512 } layer_family;

static const char *const family_names[] = {"blocked", "simd-avx2", "simd-avx512"};

typedef struct {
    atb_encoder_shape shape;
    int n_threads;
    layer_family family;
    const atb_layer_level *level;
    const atb_sgemm_kernel *kernel;
    const atb_layer_attention *attention;
    void *attention_plan;

    atb_packed_weight w_qkv, w_out, w_ff1, w_ff2;
    float *vectors;      /* one allocation for the nine vectors below */
    float *b_qkv, *b_out, *b_ff1, *b_ff2;
    float *ln1_weight, *ln1_bias, *ln2_weight, *ln2_bias;
    float *pe;           /* [L, E] or NULL */

    float *buffer;       /* one allocation for the activations below */
    float *x0, *y, *x1, *t, *qkv, *q, *k, *v, *heads, *concat, *hidden;
    float *gemm_scratch; /* atb_sgemm_scratch_per_thread() floats per thread */
} layer_plan;

/* === Plan === */

static void layer_plan_free(layer_plan *plan)
{
    if (!plan)
        return;
    if (plan->attention_plan)
        plan->attention->destroy(plan->attention_plan);
    atb_packed_weight_free(&plan->w_qkv);
    atb_packed_weight_free(&plan->w_out);
    atb_packed_weight_free(&plan->w_ff1);
    atb_packed_weight_free(&plan->w_ff2);
    free(plan->vectors);
    free(plan->buffer);
    free(plan);
}

/* Chooses the level, kernel and attention of a family, or explains why
   this CPU (or the ATTNBENCH_MAX_ISA cap) cannot run it. */
static atb_status select_family(layer_plan *plan, layer_family family, char *err,
                                size_t err_len)
{
    const unsigned isa = atb_cpu_isa();
    plan->family = family;
    switch (family) {
    case FAMILY_BLOCKED:
        plan->level = atb_layer_best_level();
        plan->kernel = plan->level->portable_kernel;
        plan->attention = &atb_layer_attention_blocked;
        return ATB_OK;
    case FAMILY_SIMD_AVX2:
        if (!(isa & ATB_ISA_AVX2))
            break;
        plan->level = &atb_layer_level_avx2;
        plan->kernel = &atb_sgemm_kernel_avx2_6x16;
        plan->attention = &atb_layer_attention_simd_avx2;
        return ATB_OK;
    case FAMILY_SIMD_AVX512:
        if (!(isa & ATB_ISA_AVX512))
            break;
        plan->level = &atb_layer_level_avx512;
        plan->kernel = &atb_sgemm_kernel_avx512_12x32;
        plan->attention = &atb_layer_attention_simd_avx512;
        return ATB_OK;
    }
    snprintf(err, err_len, "%s: this CPU (with ATTNBENCH_MAX_ISA applied) has only %s",
             family_names[family], atb_isa_name(isa));
    return ATB_ERR_UNSUPPORTED;
}

/* PE[p, 2i] = sin(p / 10000^(2i/E)), PE[p, 2i+1] = cos(same), in double and
   rounded once: an f32 angle for positions in the hundreds is already off
   by about 1e-5. */
static void fill_positional_encoding(float *pe, int64_t seq_len, int64_t embed_dim)
{
    for (int64_t p = 0; p < seq_len; p++)
        for (int64_t c = 0; c + 1 < embed_dim; c += 2) {
            const double angle = (double)p / pow(10000.0, (double)c / (double)embed_dim);
            pe[p * embed_dim + c] = (float)sin(angle);
            pe[p * embed_dim + c + 1] = (float)cos(angle);
        }
}

/* Floats rounded up to whole 64-byte cache lines. */
static size_t round_up_to_cache_line(size_t n_floats)
{
    return (n_floats + 15) / 16 * 16;
}

static atb_status layer_plan_create(layer_family family, const atb_problem *problem,
                                    const atb_encoder_weights *w, void **out, char *err,
                                    size_t err_len)
{
    *out = NULL;

    /* Shape and weights. */
    if (!problem || problem->op != ATB_OP_ENCODER_LAYER) {
        snprintf(err, err_len, "%s encoder: the problem is not an encoder_layer problem",
                 family_names[family]);
        return ATB_ERR_INVALID;
    }
    atb_status st = atb_problem_validate(problem, err, err_len);
    if (st != ATB_OK)
        return st;
    const atb_encoder_shape *s = &problem->encoder;
    if (s->causal != ATB_CAUSAL_NONE && s->causal != ATB_CAUSAL_TOP_LEFT) {
        snprintf(err, err_len, "%s encoder: causal must be none or top_left (got %s)",
                 family_names[family], atb_causal_name(s->causal));
        return ATB_ERR_INVALID;
    }
    if (s->positional_encoding && s->embed_dim % 2 != 0) {
        snprintf(err, err_len, "%s encoder: sinusoidal positional encoding needs an even "
                 "embed_dim (got %lld)", family_names[family], (long long)s->embed_dim);
        return ATB_ERR_INVALID;
    }
    const float *const weight_list[12] = {
        w ? w->in_proj_weight : NULL, w ? w->in_proj_bias : NULL,
        w ? w->out_proj_weight : NULL, w ? w->out_proj_bias : NULL,
        w ? w->linear1_weight : NULL, w ? w->linear1_bias : NULL,
        w ? w->linear2_weight : NULL, w ? w->linear2_bias : NULL,
        w ? w->norm1_weight : NULL, w ? w->norm1_bias : NULL,
        w ? w->norm2_weight : NULL, w ? w->norm2_bias : NULL};
    for (int i = 0; i < 12; i++)
        if (!weight_list[i]) {
            snprintf(err, err_len, "%s encoder: weight %d of 12 (in atb_encoder_weights "
                     "order) is missing", family_names[family], i + 1);
            return ATB_ERR_INVALID;
        }

    layer_plan *plan = calloc(1, sizeof(*plan));
    if (!plan)
        goto nomem;
    plan->shape = *s;
    plan->n_threads = problem->n_threads > 0 ? problem->n_threads : 1;
    st = select_family(plan, family, err, err_len);
    if (st != ATB_OK) {
        free(plan);
        return st;
    }

    const int64_t B = s->batch, L = s->seq_len, E = s->embed_dim, F = s->ffn_dim;
    const int64_t n = B * L;
    const int nr = plan->kernel->nr;

    /* Weights: packed panels, and private copies of the vectors. */
    if (!atb_packed_weight_init(&plan->w_qkv, w->in_proj_weight, 3 * E, E, nr)
        || !atb_packed_weight_init(&plan->w_out, w->out_proj_weight, E, E, nr)
        || !atb_packed_weight_init(&plan->w_ff1, w->linear1_weight, F, E, nr)
        || !atb_packed_weight_init(&plan->w_ff2, w->linear2_weight, E, F, nr))
        goto nomem;
    const int64_t n_vectors = 3 * E + E + F + E + 4 * E + (s->positional_encoding ? L * E : 0);
    plan->vectors = malloc((size_t)n_vectors * sizeof(float));
    if (!plan->vectors)
        goto nomem;
    float *vp = plan->vectors;
    plan->b_qkv = vp, vp += 3 * E;
    plan->b_out = vp, vp += E;
    plan->b_ff1 = vp, vp += F;
    plan->b_ff2 = vp, vp += E;
    plan->ln1_weight = vp, vp += E;
    plan->ln1_bias = vp, vp += E;
    plan->ln2_weight = vp, vp += E;
    plan->ln2_bias = vp, vp += E;
    memcpy(plan->b_qkv, w->in_proj_bias, (size_t)(3 * E) * sizeof(float));
    memcpy(plan->b_out, w->out_proj_bias, (size_t)E * sizeof(float));
    memcpy(plan->b_ff1, w->linear1_bias, (size_t)F * sizeof(float));
    memcpy(plan->b_ff2, w->linear2_bias, (size_t)E * sizeof(float));
    memcpy(plan->ln1_weight, w->norm1_weight, (size_t)E * sizeof(float));
    memcpy(plan->ln1_bias, w->norm1_bias, (size_t)E * sizeof(float));
    memcpy(plan->ln2_weight, w->norm2_weight, (size_t)E * sizeof(float));
    memcpy(plan->ln2_bias, w->norm2_bias, (size_t)E * sizeof(float));
    if (s->positional_encoding) {
        plan->pe = vp;
        fill_positional_encoding(plan->pe, L, E);
    }

    /* Activations: x0, y, x1, t, q, k, v, heads, concat [n, E]; qkv [n, 3E];
       hidden [n, F]; GEMM scratch. Each buffer starts on a 64-byte line. */
    const size_t per_thread = atb_sgemm_scratch_per_thread(plan->kernel->mr);
    const size_t e_floats = round_up_to_cache_line((size_t)(n * E));
    const size_t qkv_floats = round_up_to_cache_line((size_t)(n * 3 * E));
    const size_t hidden_floats = round_up_to_cache_line((size_t)(n * F));
    const size_t total = 9 * e_floats + qkv_floats + hidden_floats
                         + per_thread * (size_t)plan->n_threads;
    plan->buffer = aligned_alloc(64, (total * sizeof(float) + 63) / 64 * 64);
    if (!plan->buffer)
        goto nomem;
    /* Touch every page now, so the first timed run does not take the page
       faults. */
    memset(plan->buffer, 0, total * sizeof(float));
    float *bp = plan->buffer;
    float **const e_buffers[] = {&plan->x0, &plan->y, &plan->x1, &plan->t, &plan->q,
                                 &plan->k, &plan->v, &plan->heads, &plan->concat};
    for (size_t i = 0; i < sizeof(e_buffers) / sizeof(e_buffers[0]); i++) {
        *e_buffers[i] = bp;
        bp += e_floats;
    }
    plan->qkv = bp, bp += qkv_floats;
    plan->hidden = bp, bp += hidden_floats;
    plan->gemm_scratch = bp;

    /* The inner attention: H heads of Dh over L keys, the layer's causal
       rule and padding, scale 1/sqrt(Dh). */
    atb_problem attention_problem = {
        .op = ATB_OP_ATTENTION,
        .attention = {.batch = B, .heads = s->heads, .kv_heads = s->heads, .q_len = L,
                      .kv_len = L, .head_dim = E / s->heads,
                      .scale = 1.0 / sqrt((double)(E / s->heads)), .causal = s->causal,
                      .has_kv_valid_len = s->has_kv_valid_len},
        .n_threads = plan->n_threads,
    };
    st = plan->attention->plan(&attention_problem, &plan->attention_plan, err, err_len);
    if (st != ATB_OK) {
        plan->attention_plan = NULL;
        layer_plan_free(plan);
        return st;
    }

    *out = plan;
    return ATB_OK;

nomem:
    layer_plan_free(plan);
    snprintf(err, err_len, "%s encoder: out of memory allocating the plan for B=%lld L=%lld "
             "E=%lld F=%lld", family_names[family], (long long)s->batch,
             (long long)s->seq_len, (long long)s->embed_dim, (long long)s->ffn_dim);
    return ATB_ERR_NOMEM;
}

/* === Run === */

/* qkv [n, 3E] into q, k, v [B, H, L, Dh]. */
static void split_heads(const layer_plan *plan)
{
    const int64_t B = plan->shape.batch, L = plan->shape.seq_len, E = plan->shape.embed_dim;
    const int64_t H = plan->shape.heads, Dh = E / H;
    const size_t row_bytes = (size_t)Dh * sizeof(float);
#pragma omp parallel for schedule(static) num_threads(plan->n_threads)
    for (int64_t row = 0; row < B * L; row++) {
        const int64_t b = row / L, i = row % L;
        const float *src = plan->qkv + row * 3 * E;
        for (int64_t h = 0; h < H; h++) {
            const int64_t dst = ((b * H + h) * L + i) * Dh;
            memcpy(plan->q + dst, src + h * Dh, row_bytes);
            memcpy(plan->k + dst, src + E + h * Dh, row_bytes);
            memcpy(plan->v + dst, src + 2 * E + h * Dh, row_bytes);
        }
    }
}

/* heads [B, H, L, Dh] into concat [n, E]. */
static void merge_heads(const layer_plan *plan)
{
    const int64_t B = plan->shape.batch, L = plan->shape.seq_len, E = plan->shape.embed_dim;
    const int64_t H = plan->shape.heads, Dh = E / H;
#pragma omp parallel for schedule(static) num_threads(plan->n_threads)
    for (int64_t row = 0; row < B * L; row++) {
        const int64_t b = row / L, i = row % L;
        for (int64_t h = 0; h < H; h++)
            memcpy(plan->concat + row * E + h * Dh, plan->heads + ((b * H + h) * L + i) * Dh,
                   (size_t)Dh * sizeof(float));
    }
}

static void gemm(const layer_plan *plan, int64_t m, const float *a, const atb_packed_weight *w,
                 float *c, atb_epilogue_kind kind, const float *bias, const float *residual)
{
    const atb_epilogue ep = {.kind = kind, .bias = bias, .residual = residual,
                             .ld_residual = w->n};
    plan->level->sgemm(plan->kernel, m, a, w->k, w, c, w->n, &ep, plan->gemm_scratch,
                       plan->n_threads);
}

/* sa_out = SA(y) + x_res: projections, attention, out_proj with the residual. */
static atb_status self_attention_block(const layer_plan *plan, const float *y,
                                       const float *x_res, const int32_t *kv_valid_len,
                                       float *sa_out, char *err, size_t err_len)
{
    const int64_t n = plan->shape.batch * plan->shape.seq_len;
    gemm(plan, n, y, &plan->w_qkv, plan->qkv, ATB_EPILOGUE_BIAS, plan->b_qkv, NULL);
    split_heads(plan);
    atb_status st = plan->attention->run(plan->attention_plan, plan->q, plan->k, plan->v,
                                         kv_valid_len, plan->heads, err, err_len);
    if (st != ATB_OK)
        return st;
    merge_heads(plan);
    gemm(plan, n, plan->concat, &plan->w_out, sa_out, ATB_EPILOGUE_BIAS_RESIDUAL, plan->b_out,
         x_res);
    return ATB_OK;
}

/* ff_out = FF(y) + x_res. */
static void feed_forward_block(const layer_plan *plan, const float *y, const float *x_res,
                               float *ff_out)
{
    const int64_t n = plan->shape.batch * plan->shape.seq_len;
    const atb_epilogue_kind act = plan->shape.activation == ATB_ACT_GELU
                                      ? ATB_EPILOGUE_BIAS_GELU
                                      : ATB_EPILOGUE_BIAS_RELU;
    gemm(plan, n, y, &plan->w_ff1, plan->hidden, act, plan->b_ff1, NULL);
    gemm(plan, n, plan->hidden, &plan->w_ff2, ff_out, ATB_EPILOGUE_BIAS_RESIDUAL, plan->b_ff2,
         x_res);
}

static atb_status layer_run(void *opaque, const float *x, const int32_t *kv_valid_len,
                            float *out, char *err, size_t err_len)
{
    const layer_plan *plan = opaque;
    if (!plan || !x || !out) {
        snprintf(err, err_len, "encoder run: plan, x and out must not be NULL");
        return ATB_ERR_INVALID;
    }
    const atb_encoder_shape *s = &plan->shape;
    const int64_t B = s->batch, L = s->seq_len, E = s->embed_dim, n = B * L;

    /* Inputs. */
    if (s->has_kv_valid_len && !kv_valid_len) {
        snprintf(err, err_len, "encoder run: the problem has kv_valid_len but none was given");
        return ATB_ERR_INVALID;
    }
    if (!s->has_kv_valid_len)
        kv_valid_len = NULL;
    for (int64_t b = 0; kv_valid_len && b < B; b++)
        if (kv_valid_len[b] < 0 || kv_valid_len[b] > L) {
            snprintf(err, err_len, "encoder run: kv_valid_len[%lld] = %d is outside [0, %lld]",
                     (long long)b, (int)kv_valid_len[b], (long long)L);
            return ATB_ERR_INVALID;
        }

    /* x0 = x (+ PE); without PE the input is read in place. */
    const float *x0 = x;
    if (plan->pe) {
        float *x0_buf = plan->x0;
#pragma omp parallel for schedule(static) num_threads(plan->n_threads)
        for (int64_t r = 0; r < n; r++) {
            const float *pe_row = plan->pe + (r % L) * E;
            for (int64_t c = 0; c < E; c++)
                x0_buf[r * E + c] = x[r * E + c] + pe_row[c];
        }
        x0 = x0_buf;
    }

    atb_status st;
    if (!s->norm_first) {
        /* x1 = LN1(x0 + SA(x0)); out = LN2(x1 + FF(x1)) */
        st = self_attention_block(plan, x0, x0, kv_valid_len, plan->t, err, err_len);
        if (st != ATB_OK)
            return st;
        plan->level->layernorm(plan->t, plan->ln1_weight, plan->ln1_bias, plan->x1, n, E,
                               s->layer_norm_eps, plan->n_threads);
        feed_forward_block(plan, plan->x1, plan->x1, plan->t);
        plan->level->layernorm(plan->t, plan->ln2_weight, plan->ln2_bias, out, n, E,
                               s->layer_norm_eps, plan->n_threads);
    } else {
        /* x1 = x0 + SA(LN1(x0)); out = x1 + FF(LN2(x1)) */
        plan->level->layernorm(x0, plan->ln1_weight, plan->ln1_bias, plan->y, n, E,
                               s->layer_norm_eps, plan->n_threads);
        st = self_attention_block(plan, plan->y, x0, kv_valid_len, plan->x1, err, err_len);
        if (st != ATB_OK)
            return st;
        plan->level->layernorm(plan->x1, plan->ln2_weight, plan->ln2_bias, plan->y, n, E,
                               s->layer_norm_eps, plan->n_threads);
        feed_forward_block(plan, plan->y, plan->x1, out);
    }
    return ATB_OK;
}

static void layer_describe(const void *opaque, layer_family family, char *buf, size_t buf_len)
{
    const layer_plan *plan = opaque;
    if (!plan) {
        snprintf(buf, buf_len, "%s encoder layer: packed SGEMM with fused epilogues",
                 family_names[family]);
        return;
    }
    snprintf(buf, buf_len, "%s encoder layer: GEMM %s (%s level), %s", family_names[family],
             plan->kernel->name, plan->level->name, plan->attention->name);
}

/* === Family entry points === */

#define DEFINE_ENCODER_FAMILY(fam, family_id)                                              \
    atb_status atb_##fam##_encoder_plan(const atb_problem *problem,                        \
                                        const atb_encoder_weights *weights, void **plan,   \
                                        char *err, size_t err_len)                         \
    {                                                                                      \
        return layer_plan_create(family_id, problem, weights, plan, err, err_len);         \
    }                                                                                      \
    atb_status atb_##fam##_encoder_run(void *plan, const float *x,                         \
                                       const int32_t *kv_valid_len, float *out, char *err, \
                                       size_t err_len)                                     \
    {                                                                                      \
        return layer_run(plan, x, kv_valid_len, out, err, err_len);                        \
    }                                                                                      \
    void atb_##fam##_encoder_destroy(void *plan) { layer_plan_free(plan); }                \
    void atb_##fam##_encoder_describe(const void *plan, char *buf, size_t buf_len)         \
    {                                                                                      \
        layer_describe(plan, family_id, buf, buf_len);                                     \
    }

DEFINE_ENCODER_FAMILY(blocked, FAMILY_BLOCKED)
DEFINE_ENCODER_FAMILY(simd_avx2, FAMILY_SIMD_AVX2)
DEFINE_ENCODER_FAMILY(simd_avx512, FAMILY_SIMD_AVX512)
