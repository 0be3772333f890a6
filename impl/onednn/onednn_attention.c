/*
 * Attention as three oneDNN primitives over all heads at once:
 *   scores = scale * Q K^T (+ causal mask) (+ padding mask)   batched matmul
 *   P = softmax(scores) along keys                             softmax_v2
 *   out = P V                                                  batched matmul
 * The matmuls see the heads of one key/value group as one matrix: q is
 * [B, Hkv, group*Lq, D] without a copy because a group's query heads are
 * adjacent, and K^T is K read through strides. The scale is the matmul's
 * output scale. The masks are binary-add post-ops of -Inf/0 tensors: the
 * padding one, [B, 1, 1, keys], is filled from kv_valid_len in run().
 * Under a causal rule the three primitives run per block of query rows
 * with only the keys the block needs, and a causal mask per block made in
 * the plan. oneDNN's softmax gives NaN for a row of -Inf, and the masks
 * cannot stop NaN or Inf in a masked key, so atb_onednn_repair_rows fixes
 * those rows afterwards.
 *
 * The plan allocates the score tensor (of one block under a causal rule)
 * and rejects shapes whose buffers exceed the memory bound.
 */
#include "impl/onednn/onednn.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Causal attention runs in at most MAX_BLOCKS blocks of query rows, each
   with only the keys its last row may attend to, which skips most of the
   masked upper triangle. Blocks have at least MIN_BLOCK_ROWS rows so that
   the matmuls stay efficient. */
#define MAX_BLOCKS 8
#define MIN_BLOCK_ROWS 64

/* A memory object over a caller's tensor at an element offset. */
typedef enum { BIND_Q, BIND_K, BIND_V, BIND_OUT } bind_input;
typedef struct {
    dnnl_memory_t memory;
    bind_input input;
    size_t offset;
} user_binding;

typedef struct {
    atb_problem problem;
    atb_onednn_program prog;
    user_binding bindings[4 * MAX_BLOCKS];
    int n_bindings;
    int n_blocks;                  /* 1 without a causal rule */
    int64_t block_rows;            /* query rows per block (the last may have fewer) */
    int64_t block_keys[MAX_BLOCKS]; /* keys of each block; 0 skips the block */
    float *pad_masks[MAX_BLOCKS];  /* [B, 1, 1, keys] per block, or NULL */
    float *buffers[8 + 2 * MAX_BLOCKS]; /* plan-owned, freed in destroy */
    int n_buffers;
    float *row_scratch;            /* n_threads * Lk */
} attention_plan;

/* Splits the query rows into blocks; returns the block count. */
static int plan_blocks(const atb_attention_shape *s, int64_t *block_rows)
{
    int64_t n_blocks = 1;
    if (s->causal != ATB_CAUSAL_NONE) {
        n_blocks = (s->q_len + MIN_BLOCK_ROWS - 1) / MIN_BLOCK_ROWS;
        n_blocks = n_blocks < 1 ? 1 : n_blocks > MAX_BLOCKS ? MAX_BLOCKS : n_blocks;
    }
    *block_rows = (s->q_len + n_blocks - 1) / n_blocks;
    return (int)((s->q_len + *block_rows - 1) / *block_rows);
}

/* Keys block k needs: what its last row may attend to, padding aside. */
static int64_t block_key_count(const atb_attention_shape *s, int64_t block_rows, int k)
{
    if (s->causal == ATB_CAUSAL_NONE)
        return s->kv_len;
    int64_t last = (k + 1) * block_rows - 1;
    if (last > s->q_len - 1)
        last = s->q_len - 1;
    return atb_onednn_allowed_keys(s, s->kv_len, last);
}

double atb_onednn_attention_plan_bytes(const atb_problem *p)
{
    const atb_attention_shape *s = &p->attention;
    const double B = (double)s->batch, H = (double)s->heads, G = (double)s->kv_heads;
    const double D = (double)s->head_dim, lk = (double)s->kv_len;
    double floats = (double)p->n_threads * lk;
    if (s->causal == ATB_CAUSAL_NONE) {
        floats += B * H * (double)s->q_len * lk; /* scores */
        if (s->has_kv_valid_len)
            floats += B * lk;
        return floats * sizeof(float);
    }
    int64_t rows;
    const int n_blocks = plan_blocks(s, &rows);
    floats += B * H * (double)rows * (lk + 2.0 * D) + 2.0 * B * G * lk * D; /* scores, copies */
    for (int k = 0; k < n_blocks; k++) {
        const double keys = (double)block_key_count(s, rows, k);
        floats += B * H / G * (double)rows * keys; /* causal mask */
        if (s->has_kv_valid_len)
            floats += B * keys;
    }
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
    for (int i = 0; i < plan->n_buffers; i++)
        free(plan->buffers[i]);
    free(plan);
}

/* A plan-owned buffer of n floats, or NULL. */
static float *plan_buffer(attention_plan *plan, size_t n)
{
    if (plan->n_buffers == (int)(sizeof(plan->buffers) / sizeof(plan->buffers[0])))
        return NULL;
    float *buf = malloc((n > 0 ? n : 1) * sizeof(float));
    if (buf)
        plan->buffers[plan->n_buffers++] = buf;
    return buf;
}

static atb_status bind_user(attention_plan *plan, const dnnl_memory_desc_t *md,
                            bind_input input, size_t offset, dnnl_memory_t *mem, char *err,
                            size_t err_len)
{
    atb_status st = atb_onednn_memory(&plan->prog, md, NULL, mem, err, err_len);
    if (st != ATB_OK)
        return st;
    plan->bindings[plan->n_bindings++] = (user_binding){*mem, input, offset};
    return ATB_OK;
}

#define TRY(expr)                                                                          \
    do {                                                                                   \
        st = (expr);                                                                       \
        if (st != ATB_OK)                                                                  \
            goto fail;                                                                     \
    } while (0)

/* The primitives without a causal rule: all query rows at once. */
static atb_status build_full_primitives(attention_plan *plan, char *err, size_t err_len)
{
    const atb_attention_shape *s = &plan->problem.attention;
    const int64_t B = s->batch, G = s->kv_heads, Lk = s->kv_len, D = s->head_dim;
    const int64_t M = s->heads / s->kv_heads * s->q_len; /* rows per key/value head */
    atb_onednn_program *prog = &plan->prog;
    atb_status st = ATB_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;

    /* Memory descriptors. */
    dnnl_memory_desc_t q_md, kt_md, v_md, scores_md, out_md, pad_md;
    const dnnl_dims_t q_dims = {B, G, M, D}, kt_dims = {B, G, D, Lk}, v_dims = {B, G, Lk, D};
    const dnnl_dims_t kt_strides = {G * Lk * D, Lk * D, 1, D};
    const dnnl_dims_t scores_dims = {B, G, M, Lk};
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
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&pad_md, 4, pad_dims, dnnl_f32,
                                                      dnnl_abcd),
                         "describing the padding mask", err, err_len));

    /* Memory objects; q, k, v and out get their buffers in run(). */
    dnnl_memory_t q_mem, k_mem, v_mem, out_mem, scores_mem, pad_mem = NULL;
    TRY(bind_user(plan, &q_md, BIND_Q, 0, &q_mem, err, err_len));
    TRY(bind_user(plan, &kt_md, BIND_K, 0, &k_mem, err, err_len));
    TRY(bind_user(plan, &v_md, BIND_V, 0, &v_mem, err, err_len));
    TRY(bind_user(plan, &out_md, BIND_OUT, 0, &out_mem, err, err_len));
    float *scores = plan_buffer(plan, (size_t)(B * G * M * Lk));
    if (!scores) {
        st = ATB_ERR_NOMEM;
        snprintf(err, err_len, "onednn: cannot allocate the score matrix");
        goto fail;
    }
    TRY(atb_onednn_memory(prog, &scores_md, scores, &scores_mem, err, err_len));
    if (s->has_kv_valid_len) {
        plan->pad_masks[0] = plan_buffer(plan, (size_t)(B * Lk));
        if (!plan->pad_masks[0]) {
            st = ATB_ERR_NOMEM;
            snprintf(err, err_len, "onednn: cannot allocate the padding mask");
            goto fail;
        }
        TRY(atb_onednn_memory(prog, &pad_md, plan->pad_masks[0], &pad_mem, err, err_len));
    }

    /* scores = scale * Q K^T, then the padding mask. */
    const float scale = (float)s->scale;
    TRY(atb_onednn_check(dnnl_primitive_attr_create(&attr), "creating attributes", err,
                         err_len));
    TRY(atb_onednn_check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale),
                         "setting the output scale", err, err_len));
    TRY(atb_onednn_check(dnnl_post_ops_create(&post_ops), "creating post-ops", err, err_len));
    if (pad_mem)
        TRY(atb_onednn_check(dnnl_post_ops_append_binary(post_ops, dnnl_binary_add, &pad_md),
                             "appending the padding mask", err, err_len));
    TRY(atb_onednn_check(dnnl_primitive_attr_set_post_ops(attr, post_ops), "setting post-ops",
                         err, err_len));
    dnnl_matmul_desc_t qk_desc;
    TRY(atb_onednn_check(dnnl_matmul_desc_init(&qk_desc, &q_md, &kt_md, NULL, &scores_md),
                         "describing the QK^T matmul", err, err_len));
    TRY(atb_onednn_add_step(prog, "qk_matmul", &qk_desc, attr, err, err_len));
    atb_onednn_arg(prog, DNNL_ARG_SRC, q_mem);
    atb_onednn_arg(prog, DNNL_ARG_WEIGHTS, k_mem);
    atb_onednn_arg(prog, DNNL_ARG_DST, scores_mem);
    if (pad_mem)
        atb_onednn_arg(prog, DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, pad_mem);

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
    atb_onednn_arg(prog, DNNL_ARG_WEIGHTS, v_mem);
    atb_onednn_arg(prog, DNNL_ARG_DST, out_mem);

fail:
    if (post_ops)
        dnnl_post_ops_destroy(post_ops);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return st;
}

/* Appends a reorder (a strided copy) from src to dst. */
static atb_status add_copy(atb_onednn_program *prog, const char *label,
                           const dnnl_memory_desc_t *src_md, dnnl_memory_t src,
                           const dnnl_memory_desc_t *dst_md, dnnl_memory_t dst, char *err,
                           size_t err_len)
{
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    atb_status st = atb_onednn_engine(&engine, &stream, err, err_len);
    if (st != ATB_OK)
        return st;
    dnnl_primitive_desc_t pd;
    char what[96];
    snprintf(what, sizeof(what), "describing the %s reorder", label);
    st = atb_onednn_check(dnnl_reorder_primitive_desc_create(&pd, src_md, engine, dst_md, engine,
                                                             NULL),
                          what, err, err_len);
    if (st != ATB_OK)
        return st;
    st = atb_onednn_add_step_pd(prog, label, pd, err, err_len);
    if (st != ATB_OK)
        return st;
    atb_onednn_arg(prog, DNNL_ARG_FROM, src);
    atb_onednn_arg(prog, DNNL_ARG_TO, dst);
    return ATB_OK;
}

static atb_status describe_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims,
                              const dnnl_dims_t strides, char *err, size_t err_len)
{
    if (strides)
        return atb_onednn_check(dnnl_memory_desc_init_by_strides(md, ndims, dims, dnnl_f32,
                                                                 strides),
                                "describing a tensor", err, err_len);
    return atb_onednn_check(dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32,
                                                         ndims == 4 ? dnnl_abcd : dnnl_abcde),
                            "describing a tensor", err, err_len);
}

/*
 * Builds the primitives under a causal rule, per block of query rows. Each
 * block copies its queries and the keys and values it needs into dense
 * buffers. It then runs QK^T with its causal mask (and the padding mask),
 * the softmax and PV as for all rows, and copies the output back. The
 * copies exist because oneDNN 2.6 runs a batched matmul on a block view of
 * q, k or v, whose batch stride exceeds the block, through gemm:jit rather
 * than brgemm.
 */
static atb_status build_block_primitives(attention_plan *plan, char *err, size_t err_len)
{
    const atb_attention_shape *s = &plan->problem.attention;
    const int64_t B = s->batch, H = s->heads, G = s->kv_heads, group = H / G;
    const int64_t Lq = s->q_len, Lk = s->kv_len, D = s->head_dim;
    const int64_t R = plan->block_rows;
    atb_onednn_program *prog = &plan->prog;
    atb_status st = ATB_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;

    /* Dense buffers shared by the blocks, which run one after another. */
    float *q_dense = plan_buffer(plan, (size_t)(B * H * R * D));
    float *out_dense = plan_buffer(plan, (size_t)(B * H * R * D));
    float *k_dense = plan_buffer(plan, (size_t)(B * G * Lk * D));
    float *v_dense = plan_buffer(plan, (size_t)(B * G * Lk * D));
    float *scores = plan_buffer(plan, (size_t)(B * H * R * Lk));
    if (!q_dense || !out_dense || !k_dense || !v_dense || !scores) {
        snprintf(err, err_len, "onednn: cannot allocate the block buffers");
        return ATB_ERR_NOMEM;
    }
    const float scale = (float)s->scale;

    for (int blk = 0; blk < plan->n_blocks; blk++) {
        const int64_t i0 = blk * R, rows = Lq - i0 < R ? Lq - i0 : R, M = group * rows;
        const int64_t n_keys = plan->block_keys[blk];
        if (n_keys == 0)
            continue; /* every row of the block is fully masked */

        /* Descriptors: views of the caller's tensors and dense copies. */
        dnnl_memory_desc_t q_view_md, q5_md, q4_md, kv_view_md, kv_md, kt_md, scores_md;
        dnnl_memory_desc_t mask_md, pad_md, o4_md, o5_md;
        const dnnl_dims_t block5_dims = {B, G, group, rows, D};
        const dnnl_dims_t row_strides = {H * Lq * D, group * Lq * D, Lq * D, D, 1};
        const dnnl_dims_t block4_dims = {B, G, M, D}, kv_dims = {B, G, n_keys, D};
        const dnnl_dims_t kv_strides = {G * Lk * D, Lk * D, D, 1};
        const dnnl_dims_t kt_dims = {B, G, D, n_keys}, kt_strides = {G * n_keys * D, n_keys * D, 1, D};
        const dnnl_dims_t scores_dims = {B, G, M, n_keys}, mask_dims = {B, 1, M, n_keys};
        const dnnl_dims_t pad_dims = {B, 1, 1, n_keys};
        TRY(describe_md(&q_view_md, 5, block5_dims, row_strides, err, err_len));
        TRY(describe_md(&q5_md, 5, block5_dims, NULL, err, err_len));
        TRY(describe_md(&q4_md, 4, block4_dims, NULL, err, err_len));
        TRY(describe_md(&kv_view_md, 4, kv_dims, kv_strides, err, err_len));
        TRY(describe_md(&kv_md, 4, kv_dims, NULL, err, err_len));
        TRY(describe_md(&kt_md, 4, kt_dims, kt_strides, err, err_len));
        TRY(describe_md(&scores_md, 4, scores_dims, NULL, err, err_len));
        TRY(describe_md(&mask_md, 4, mask_dims, NULL, err, err_len));
        TRY(describe_md(&pad_md, 4, pad_dims, NULL, err, err_len));
        TRY(describe_md(&o4_md, 4, block4_dims, NULL, err, err_len));
        TRY(describe_md(&o5_md, 5, block5_dims, NULL, err, err_len));

        /* The block's causal mask: row m is query row i0 + m % rows. */
        float *mask = plan_buffer(plan, (size_t)(B * M * n_keys));
        float *pad = s->has_kv_valid_len ? plan_buffer(plan, (size_t)(B * n_keys)) : NULL;
        if (!mask || (s->has_kv_valid_len && !pad)) {
            snprintf(err, err_len, "onednn: cannot allocate the block masks");
            st = ATB_ERR_NOMEM;
            goto fail;
        }
        plan->pad_masks[blk] = pad;
        for (int64_t m = 0; m < M; m++) {
            const int64_t allowed = atb_onednn_allowed_keys(s, Lk, i0 + m % rows);
            for (int64_t j = 0; j < n_keys; j++)
                mask[m * n_keys + j] = j < allowed ? 0.0f : -INFINITY;
        }
        for (int64_t b = 1; b < B; b++)
            memcpy(mask + b * M * n_keys, mask, (size_t)(M * n_keys) * sizeof(float));

        /* Memory objects. */
        dnnl_memory_t q_view, q5, q4, k_view, k_copy, kt, v_view, v_copy, scores_mem, mask_mem;
        dnnl_memory_t pad_mem = NULL, o4, o5, out_view;
        TRY(bind_user(plan, &q_view_md, BIND_Q, (size_t)(i0 * D), &q_view, err, err_len));
        TRY(bind_user(plan, &kv_view_md, BIND_K, 0, &k_view, err, err_len));
        TRY(bind_user(plan, &kv_view_md, BIND_V, 0, &v_view, err, err_len));
        TRY(bind_user(plan, &q_view_md, BIND_OUT, (size_t)(i0 * D), &out_view, err, err_len));
        TRY(atb_onednn_memory(prog, &q5_md, q_dense, &q5, err, err_len));
        TRY(atb_onednn_memory(prog, &q4_md, q_dense, &q4, err, err_len));
        TRY(atb_onednn_memory(prog, &kv_md, k_dense, &k_copy, err, err_len));
        TRY(atb_onednn_memory(prog, &kt_md, k_dense, &kt, err, err_len));
        TRY(atb_onednn_memory(prog, &kv_md, v_dense, &v_copy, err, err_len));
        TRY(atb_onednn_memory(prog, &scores_md, scores, &scores_mem, err, err_len));
        TRY(atb_onednn_memory(prog, &mask_md, mask, &mask_mem, err, err_len));
        if (pad)
            TRY(atb_onednn_memory(prog, &pad_md, pad, &pad_mem, err, err_len));
        TRY(atb_onednn_memory(prog, &o4_md, out_dense, &o4, err, err_len));
        TRY(atb_onednn_memory(prog, &o5_md, out_dense, &o5, err, err_len));

        /* Copies in. */
        TRY(add_copy(prog, "q_copy", &q_view_md, q_view, &q5_md, q5, err, err_len));
        TRY(add_copy(prog, "k_copy", &kv_view_md, k_view, &kv_md, k_copy, err, err_len));
        TRY(add_copy(prog, "v_copy", &kv_view_md, v_view, &kv_md, v_copy, err, err_len));

        /* scores = scale * Q K^T + causal mask (+ padding mask). */
        TRY(atb_onednn_check(dnnl_primitive_attr_create(&attr), "creating attributes", err,
                             err_len));
        TRY(atb_onednn_check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale),
                             "setting the output scale", err, err_len));
        TRY(atb_onednn_check(dnnl_post_ops_create(&post_ops), "creating post-ops", err,
                             err_len));
        TRY(atb_onednn_check(dnnl_post_ops_append_binary(post_ops, dnnl_binary_add, &mask_md),
                             "appending the causal mask", err, err_len));
        if (pad)
            TRY(atb_onednn_check(dnnl_post_ops_append_binary(post_ops, dnnl_binary_add, &pad_md),
                                 "appending the padding mask", err, err_len));
        TRY(atb_onednn_check(dnnl_primitive_attr_set_post_ops(attr, post_ops),
                             "setting post-ops", err, err_len));
        dnnl_matmul_desc_t qk_desc;
        TRY(atb_onednn_check(dnnl_matmul_desc_init(&qk_desc, &q4_md, &kt_md, NULL, &scores_md),
                             "describing the QK^T matmul", err, err_len));
        TRY(atb_onednn_add_step(prog, "qk_matmul", &qk_desc, attr, err, err_len));
        atb_onednn_arg(prog, DNNL_ARG_SRC, q4);
        atb_onednn_arg(prog, DNNL_ARG_WEIGHTS, kt);
        atb_onednn_arg(prog, DNNL_ARG_DST, scores_mem);
        atb_onednn_arg(prog, DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, mask_mem);
        if (pad_mem)
            atb_onednn_arg(prog, DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1, pad_mem);
        dnnl_post_ops_destroy(post_ops);
        post_ops = NULL;
        dnnl_primitive_attr_destroy(attr);
        attr = NULL;

        /* P = softmax(scores) in place, then O = P V and the copy out. */
        dnnl_softmax_v2_desc_t softmax_desc;
        TRY(atb_onednn_check(dnnl_softmax_v2_forward_desc_init(&softmax_desc,
                                                               dnnl_forward_inference,
                                                               dnnl_softmax_accurate,
                                                               &scores_md, &scores_md, 3),
                             "describing the softmax", err, err_len));
        TRY(atb_onednn_add_step(prog, "softmax", &softmax_desc, NULL, err, err_len));
        atb_onednn_arg(prog, DNNL_ARG_SRC, scores_mem);
        atb_onednn_arg(prog, DNNL_ARG_DST, scores_mem);
        dnnl_matmul_desc_t pv_desc;
        TRY(atb_onednn_check(dnnl_matmul_desc_init(&pv_desc, &scores_md, &kv_md, NULL, &o4_md),
                             "describing the PV matmul", err, err_len));
        TRY(atb_onednn_add_step(prog, "pv_matmul", &pv_desc, NULL, err, err_len));
        atb_onednn_arg(prog, DNNL_ARG_SRC, scores_mem);
        atb_onednn_arg(prog, DNNL_ARG_WEIGHTS, v_copy);
        atb_onednn_arg(prog, DNNL_ARG_DST, o4);
        TRY(add_copy(prog, "out_copy", &o5_md, o5, &q_view_md, out_view, err, err_len));
    }

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
    attention_plan *plan = calloc(1, sizeof(*plan));
    if (!plan) {
        snprintf(err, err_len, "onednn: cannot allocate the plan");
        return ATB_ERR_NOMEM;
    }
    plan->problem = *p;
    omp_set_num_threads(p->n_threads);

    /* Lk = 0: every row is fully masked; run() writes zeros, no primitive. */
    if (s->kv_len == 0) {
        *out = plan;
        return ATB_OK;
    }

    plan->n_blocks = plan_blocks(s, &plan->block_rows);
    for (int k = 0; k < plan->n_blocks; k++)
        plan->block_keys[k] = block_key_count(s, plan->block_rows, k);
    plan->row_scratch = plan_buffer(plan, (size_t)p->n_threads * (size_t)s->kv_len);
    atb_status st = ATB_ERR_NOMEM;
    if (!plan->row_scratch)
        snprintf(err, err_len, "onednn: cannot allocate row scratch");
    else if (s->causal == ATB_CAUSAL_NONE)
        st = build_full_primitives(plan, err, err_len);
    else
        st = build_block_primitives(plan, err, err_len);
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
        /* Padding masks of this run: 0 for valid keys, -Inf past them. */
        for (int k = 0; k < plan->n_blocks; k++) {
            float *pad = plan->pad_masks[k];
            const int64_t n_keys = plan->block_keys[k];
            if (!pad)
                continue;
            for (int64_t b = 0; b < s->batch; b++)
                for (int64_t j = 0; j < n_keys; j++)
                    pad[b * n_keys + j] = j < valid[b] ? 0.0f : -INFINITY;
        }

        /* Bind the caller's tensors, then run every step. */
        for (int i = 0; i < plan->n_bindings; i++) {
            const user_binding *bind = &plan->bindings[i];
            const float *base = bind->input == BIND_Q   ? a->q
                                : bind->input == BIND_K ? a->k
                                : bind->input == BIND_V ? a->v
                                                        : a->out;
            TRY(atb_onednn_check(dnnl_memory_set_data_handle(bind->memory,
                                                             (void *)(base + bind->offset)),
                                 "binding q, k, v or out", err, err_len));
        }
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
