/*
 * Attention as three oneDNN primitives over all heads at once:
 *   scores = scale * Q K^T (+ causal mask) (+ padding mask)   batched matmul
 *   P = softmax(scores) along keys                             softmax_v2
 *   out = P V                                                  batched matmul
 * The matmuls see the heads of one key/value group as one matrix: q is
 * [B, Hkv, group*Lq, D] without a copy because a group's query heads are
 * adjacent, and K^T is K read through strides. The scale is the matmul's
 * output scale. The masks are binary-add post-ops of -Inf/0 tensors. The
 * causal one, [B, 1, group*Lq, Lk], is made in the plan; a [1, 1, ...]
 * mask would make oneDNN 2.6 fall back to its reference matmul. The
 * padding one, [B, 1, 1, Lk], is filled from kv_valid_len in run().
 * oneDNN's softmax gives NaN for a row of -Inf, and the masks cannot stop
 * NaN or Inf in a masked key, so atb_onednn_repair_rows fixes those rows
 * afterwards.
 *
 * The plan allocates the whole score tensor, B * H * Lq * Lk floats, and
 * rejects shapes whose buffers exceed the memory bound.
 */
#include "impl/onednn/onednn.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    atb_problem problem;
    atb_onednn_program prog;
    dnnl_memory_t q_mem, k_mem, v_mem, out_mem; /* user buffers, set in run() */
    float *scores;      /* [B, Hkv, group*Lq, Lk] */
    float *causal_mask; /* [B, 1, group*Lq, Lk] or NULL */
    float *pad_mask;    /* [B, 1, 1, Lk] or NULL */
    float *row_scratch; /* n_threads * Lk */
} attention_plan;

double atb_onednn_attention_plan_bytes(const atb_problem *p)
{
    const atb_attention_shape *s = &p->attention;
    const double rows = (double)s->batch * (double)s->heads * (double)s->q_len;
    const double lk = (double)s->kv_len;
    double floats = rows * lk + (double)p->n_threads * lk;
    if (s->causal != ATB_CAUSAL_NONE)
        floats += rows / (double)s->kv_heads * lk;
    if (s->has_kv_valid_len)
        floats += (double)s->batch * lk;
    return floats * sizeof(float);
}

const atb_onednn_program *atb_onednn_attention_program(const void *plan)
{
    return &((const attention_plan *)plan)->prog;
}

void atb_onednn_attention_destroy(void *opaque)
{
    attention_plan *plan = opaque;
    if (!plan)
        return;
    atb_onednn_program_free(&plan->prog);
    free(plan->scores);
    free(plan->causal_mask);
    free(plan->pad_mask);
    free(plan->row_scratch);
    free(plan);
}

#define TRY(expr)                                                                          \
    do {                                                                                   \
        st = (expr);                                                                       \
        if (st != ATB_OK)                                                                  \
            goto fail;                                                                     \
    } while (0)

static atb_status build_primitives(attention_plan *plan, char *err, size_t err_len)
{
    const atb_attention_shape *s = &plan->problem.attention;
    const int64_t B = s->batch, G = s->kv_heads, Lk = s->kv_len, D = s->head_dim;
    const int64_t M = s->heads / s->kv_heads * s->q_len; /* rows per key/value head */
    atb_onednn_program *prog = &plan->prog;
    atb_status st = ATB_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;

    /* Memory descriptors. */
    dnnl_memory_desc_t q_md, kt_md, v_md, scores_md, out_md, causal_md, pad_md;
    const dnnl_dims_t q_dims = {B, G, M, D}, kt_dims = {B, G, D, Lk}, v_dims = {B, G, Lk, D};
    const dnnl_dims_t kt_strides = {G * Lk * D, Lk * D, 1, D};
    const dnnl_dims_t scores_dims = {B, G, M, Lk}, causal_dims = {B, 1, M, Lk};
    const dnnl_dims_t pad_dims = {B, 1, 1, Lk};
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&q_md, 4, q_dims, dnnl_f32, dnnl_abcd),
                         "describing q", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_strides(&kt_md, 4, kt_dims, dnnl_f32,
                                                          kt_strides),
                         "describing K^T", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&v_md, 4, v_dims, dnnl_f32, dnnl_abcd),
                         "describing v", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&scores_md, 4, scores_dims, dnnl_f32,
                                                      dnnl_abcd),
                         "describing the scores", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&out_md, 4, q_dims, dnnl_f32, dnnl_abcd),
                         "describing the output", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&causal_md, 4, causal_dims, dnnl_f32,
                                                      dnnl_abcd),
                         "describing the causal mask", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&pad_md, 4, pad_dims, dnnl_f32,
                                                      dnnl_abcd),
                         "describing the padding mask", err, err_len));

    /* Memory objects; q, k, v and out get their buffers in run(). */
    dnnl_memory_t scores_mem, causal_mem = NULL, pad_mem = NULL;
    TRY(atb_onednn_memory(prog, &q_md, NULL, &plan->q_mem, err, err_len));
    TRY(atb_onednn_memory(prog, &kt_md, NULL, &plan->k_mem, err, err_len));
    TRY(atb_onednn_memory(prog, &v_md, NULL, &plan->v_mem, err, err_len));
    TRY(atb_onednn_memory(prog, &out_md, NULL, &plan->out_mem, err, err_len));
    TRY(atb_onednn_memory(prog, &scores_md, plan->scores, &scores_mem, err, err_len));
    if (plan->causal_mask)
        TRY(atb_onednn_memory(prog, &causal_md, plan->causal_mask, &causal_mem, err, err_len));
    if (plan->pad_mask)
        TRY(atb_onednn_memory(prog, &pad_md, plan->pad_mask, &pad_mem, err, err_len));

    /* scores = scale * Q K^T, then the mask post-ops in order. */
    const float scale = (float)s->scale;
    TRY(atb_onednn_check(dnnl_primitive_attr_create(&attr), "creating attributes", err,
                         err_len));
    TRY(atb_onednn_check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale),
                         "setting the output scale", err, err_len));
    TRY(atb_onednn_check(dnnl_post_ops_create(&post_ops), "creating post-ops", err, err_len));
    int n_post_ops = 0, causal_index = -1, pad_index = -1;
    if (causal_mem) {
        TRY(atb_onednn_check(dnnl_post_ops_append_binary(post_ops, dnnl_binary_add, &causal_md),
                             "appending the causal mask", err, err_len));
        causal_index = n_post_ops++;
    }
    if (pad_mem) {
        TRY(atb_onednn_check(dnnl_post_ops_append_binary(post_ops, dnnl_binary_add, &pad_md),
                             "appending the padding mask", err, err_len));
        pad_index = n_post_ops++;
    }
    TRY(atb_onednn_check(dnnl_primitive_attr_set_post_ops(attr, post_ops), "setting post-ops",
                         err, err_len));
    dnnl_matmul_desc_t qk_desc;
    TRY(atb_onednn_check(dnnl_matmul_desc_init(&qk_desc, &q_md, &kt_md, NULL, &scores_md),
                         "describing the QK^T matmul", err, err_len));
    TRY(atb_onednn_add_step(prog, "qk_matmul", &qk_desc, attr, err, err_len));
    atb_onednn_arg(prog, DNNL_ARG_SRC, plan->q_mem);
    atb_onednn_arg(prog, DNNL_ARG_WEIGHTS, plan->k_mem);
    atb_onednn_arg(prog, DNNL_ARG_DST, scores_mem);
    if (causal_index >= 0)
        atb_onednn_arg(prog, DNNL_ARG_ATTR_MULTIPLE_POST_OP(causal_index) | DNNL_ARG_SRC_1,
                       causal_mem);
    if (pad_index >= 0)
        atb_onednn_arg(prog, DNNL_ARG_ATTR_MULTIPLE_POST_OP(pad_index) | DNNL_ARG_SRC_1,
                       pad_mem);

    /* P = softmax(scores) in place, along the key axis. */
    dnnl_softmax_v2_desc_t softmax_desc;
    TRY(atb_onednn_check(dnnl_softmax_v2_forward_desc_init(&softmax_desc,
                                                           dnnl_forward_inference,
                                                           dnnl_softmax_accurate, &scores_md,
                                                           &scores_md, 3),
                         "describing the softmax", err, err_len));
    TRY(atb_onednn_add_step(prog, "softmax", &softmax_desc, NULL, err, err_len));
    atb_onednn_arg(prog, DNNL_ARG_SRC, scores_mem);
    atb_onednn_arg(prog, DNNL_ARG_DST, scores_mem);

    /* out = P V. */
    dnnl_matmul_desc_t pv_desc;
    TRY(atb_onednn_check(dnnl_matmul_desc_init(&pv_desc, &scores_md, &v_md, NULL, &out_md),
                         "describing the PV matmul", err, err_len));
    TRY(atb_onednn_add_step(prog, "pv_matmul", &pv_desc, NULL, err, err_len));
    atb_onednn_arg(prog, DNNL_ARG_SRC, scores_mem);
    atb_onednn_arg(prog, DNNL_ARG_WEIGHTS, plan->v_mem);
    atb_onednn_arg(prog, DNNL_ARG_DST, plan->out_mem);

fail:
    if (post_ops)
        dnnl_post_ops_destroy(post_ops);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return st;
}

atb_status atb_onednn_attention_plan(const atb_problem *p, void **out, char *err,
                                     size_t err_len)
{
    const atb_attention_shape *s = &p->attention;
    const size_t Lk = (size_t)s->kv_len;
    const size_t rows = (size_t)(s->batch * s->heads * s->q_len);
    attention_plan *plan = calloc(1, sizeof(*plan));
    if (!plan) {
        snprintf(err, err_len, "onednn: cannot allocate the plan");
        return ATB_ERR_NOMEM;
    }
    plan->problem = *p;
    omp_set_num_threads(p->n_threads);

    /* Lk = 0: every row is fully masked; run() writes zeros, no primitive. */
    if (Lk == 0) {
        *out = plan;
        return ATB_OK;
    }

    plan->scores = malloc(rows * Lk * sizeof(float));
    plan->row_scratch = malloc((size_t)p->n_threads * Lk * sizeof(float));
    if (s->causal != ATB_CAUSAL_NONE)
        plan->causal_mask = malloc(rows / (size_t)s->kv_heads * Lk * sizeof(float));
    if (s->has_kv_valid_len)
        plan->pad_mask = malloc((size_t)s->batch * Lk * sizeof(float));
    if (!plan->scores || !plan->row_scratch || (s->causal != ATB_CAUSAL_NONE && !plan->causal_mask)
        || (s->has_kv_valid_len && !plan->pad_mask)) {
        atb_onednn_attention_destroy(plan);
        snprintf(err, err_len, "onednn: cannot allocate %.0f bytes for the score matrix",
                 atb_onednn_attention_plan_bytes(p));
        return ATB_ERR_NOMEM;
    }

    /* The causal pattern is the same for every batch. It is repeated per
       batch anyway, because oneDNN 2.6 keeps its optimized matmul only for
       a mask that broadcasts over the head dimension alone. */
    if (plan->causal_mask) {
        const size_t per_batch = rows / (size_t)s->batch / (size_t)s->kv_heads * Lk;
        atb_onednn_fill_causal_mask(s, (int64_t)(per_batch / Lk), plan->causal_mask);
        for (int64_t b = 1; b < s->batch; b++)
            memcpy(plan->causal_mask + (size_t)b * per_batch, plan->causal_mask,
                   per_batch * sizeof(float));
    }

    atb_status st = build_primitives(plan, err, err_len);
    if (st != ATB_OK) {
        atb_onednn_attention_destroy(plan);
        return st;
    }
    *out = plan;
    return ATB_OK;
}

atb_status atb_onednn_attention_run(void *opaque, const atb_run_args *a, char *err,
                                    size_t err_len)
{
    attention_plan *plan = opaque;
    const atb_attention_shape *s = &plan->problem.attention;
    const int64_t Lk = s->kv_len, D = s->head_dim;
    const int32_t *valid = s->has_kv_valid_len ? a->kv_valid_len : NULL;
    atb_status st = atb_onednn_check_valid_lengths(a->kv_valid_len, s->has_kv_valid_len,
                                                   s->batch, Lk, err, err_len);
    if (st != ATB_OK)
        return st;
    omp_set_num_threads(plan->problem.n_threads);

    if (plan->prog.n_steps > 0) {
        /* Padding mask of this run: 0 for valid keys, -Inf past them. */
        if (plan->pad_mask) {
            for (int64_t b = 0; b < s->batch; b++)
                for (int64_t j = 0; j < Lk; j++)
                    plan->pad_mask[b * Lk + j] = j < valid[b] ? 0.0f : -INFINITY;
        }
        TRY(atb_onednn_check(dnnl_memory_set_data_handle(plan->q_mem, (void *)a->q),
                             "setting q", err, err_len));
        TRY(atb_onednn_check(dnnl_memory_set_data_handle(plan->k_mem, (void *)a->k),
                             "setting k", err, err_len));
        TRY(atb_onednn_check(dnnl_memory_set_data_handle(plan->v_mem, (void *)a->v),
                             "setting v", err, err_len));
        TRY(atb_onednn_check(dnnl_memory_set_data_handle(plan->out_mem, a->out), "setting out",
                             err, err_len));
        TRY(atb_onednn_execute(&plan->prog, err, err_len));
    }

    const atb_onednn_attention_view view = {
        .shape = s, .q = a->q, .k = a->k, .v = a->v, .out = a->out,
        .q_batch_stride = s->heads * s->q_len * D, .q_head_stride = s->q_len * D,
        .q_row_stride = D,
        .kv_batch_stride = s->kv_heads * Lk * D, .kv_head_stride = Lk * D, .kv_row_stride = D,
        .out_batch_stride = s->heads * s->q_len * D, .out_head_stride = s->q_len * D,
        .out_row_stride = D,
        .kv_valid_len = valid, .row_scratch = plan->row_scratch,
    };
    atb_onednn_repair_rows(&view, plan->problem.n_threads);
    return ATB_OK;

fail:
    return st;
}
