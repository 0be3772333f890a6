/*
 * The encoder layer as oneDNN primitives. Post-norm (norm_first = 0):
 *   x0 = x (+ PE)                         reorder copy, or binary add
 *   qkv = x0 W_in^T + b_in                 matmul, bias
 *   heads = qkv split per head             reorder to [3, B, H, L, Dh]
 *   scores, softmax, PV -> concat          as in onednn_attention.c, PV
 *                                          writing each head's columns
 *   x0 += concat W_out^T + b_out           matmul, bias, sum post-op
 *   x1 = LN1(x0)                           layer_normalization
 *   hidden = act(x1 W1^T + b1)             matmul, bias, eltwise post-op
 *   x1 += hidden W2^T + b2                 matmul, bias, sum post-op
 *   out = LN2(x1)                          layer_normalization
 * Pre-norm keeps the residual stream in out itself and normalizes into y.
 * Weights are reordered once in the plan to the layout each matmul picks
 * (format "any"); biases and LayerNorm parameters are copied into the plan.
 * Between PV and the output projection run() repairs the attention rows
 * (fully masked rows to zero, non-finite rows recomputed exactly).
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
    int attention_end;          /* steps before this index end with PV */
    dnnl_memory_t user_mems[8]; /* bound to x (index < n_x_mems) or out */
    int n_x_mems, n_user_mems;
    float *buffers[40];         /* plan-owned buffers, freed in destroy */
    int n_buffers;
    float *qkv, *heads, *concat, *row_scratch, *pad_mask;
} encoder_plan;

double atb_onednn_encoder_plan_bytes(const atb_problem *p)
{
    const atb_encoder_shape *s = &p->encoder;
    const double n = (double)s->batch * (double)s->seq_len, E = (double)s->embed_dim;
    const double F = (double)s->ffn_dim, L = (double)s->seq_len;
    /* x0 and x1 (or y), qkv, split heads, concat, hidden */
    double floats = n * (2.0 * E + 3.0 * E + 3.0 * E + E + F);
    floats += (double)s->batch * (double)s->heads * L * L; /* scores */
    if (s->causal != ATB_CAUSAL_NONE)
        floats += (double)s->batch * L * L;
    floats += (double)s->batch * L + L * E + (double)p->n_threads * L;
    floats += 4.0 * E * E + 2.0 * E * F + 3.0 * E + F + 4.0 * E; /* weights, biases, norms */
    return floats * sizeof(float);
}

const atb_onednn_program *atb_onednn_encoder_program(const void *plan)
{
    return &((const encoder_plan *)plan)->prog;
}

void atb_onednn_encoder_destroy(void *opaque)
{
    encoder_plan *plan = opaque;
    if (!plan)
        return;
    atb_onednn_program_free(&plan->prog);
    for (int i = 0; i < plan->n_buffers; i++)
        free(plan->buffers[i]);
    free(plan);
}

#define TRY(expr)                                                                          \
    do {                                                                                   \
        st = (expr);                                                                       \
        if (st != ATB_OK)                                                                  \
            goto fail;                                                                     \
    } while (0)

/* A plan-owned buffer of n floats, optionally a copy of src. */
static float *plan_buffer(encoder_plan *plan, size_t n, const float *src)
{
    if (plan->n_buffers == (int)(sizeof(plan->buffers) / sizeof(plan->buffers[0])))
        return NULL;
    float *buf = malloc((n > 0 ? n : 1) * sizeof(float));
    if (buf && src)
        memcpy(buf, src, n * sizeof(float));
    if (buf)
        plan->buffers[plan->n_buffers++] = buf;
    return buf;
}

static atb_status md_2d(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, char *err,
                        size_t err_len)
{
    const dnnl_dims_t dims = {rows, cols};
    return atb_onednn_check(dnnl_memory_desc_init_by_tag(md, 2, dims, dnnl_f32, dnnl_ab),
                            "describing a matrix", err, err_len);
}

static atb_status buffer_memory(encoder_plan *plan, const dnnl_memory_desc_t *md,
                                const float *src, size_t n, dnnl_memory_t *mem, float **buf,
                                char *err, size_t err_len)
{
    float *b = plan_buffer(plan, n, src);
    if (!b) {
        snprintf(err, err_len, "onednn: cannot allocate %zu bytes", n * sizeof(float));
        return ATB_ERR_NOMEM;
    }
    if (buf)
        *buf = b;
    return atb_onednn_memory(&plan->prog, md, b, mem, err, err_len);
}

/* Memory over the caller's x (is_x) or out, bound in run(). */
static atb_status user_memory(encoder_plan *plan, const dnnl_memory_desc_t *md, int is_x,
                              dnnl_memory_t *mem, char *err, size_t err_len)
{
    atb_status st = atb_onednn_memory(&plan->prog, md, NULL, mem, err, err_len);
    if (st != ATB_OK)
        return st;
    /* x memories come first in user_mems; the plan creates them first. */
    plan->user_mems[plan->n_user_mems++] = *mem;
    if (is_x)
        plan->n_x_mems++;
    return ATB_OK;
}

/*
 * dst = src W^T + bias (+ act) (+ dst when accumulate), W [out_dim, in_dim]
 * as PyTorch stores it. The weights are reordered once into the layout the
 * matmul chose.
 */
static atb_status linear_step(encoder_plan *plan, const char *label, dnnl_memory_t src,
                              int64_t n, int64_t in_dim, int64_t out_dim, const float *weight,
                              const float *bias, int activation, int accumulate,
                              dnnl_memory_t dst, char *err, size_t err_len)
{
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    atb_status st = atb_onednn_engine(&engine, &stream, err, err_len);
    if (st != ATB_OK)
        return st;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;
    dnnl_primitive_desc_t pd = NULL, reorder_pd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t user_weights = NULL;

    dnnl_memory_desc_t src_md, any_md, bias_md, dst_md, user_md;
    const dnnl_dims_t w_dims = {in_dim, out_dim}, w_strides = {1, in_dim};
    const dnnl_dims_t bias_dims = {1, out_dim};
    TRY(md_2d(&src_md, n, in_dim, err, err_len));
    TRY(md_2d(&dst_md, n, out_dim, err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&any_md, 2, w_dims, dnnl_f32,
                                                      dnnl_format_tag_any),
                         "describing weights", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_strides(&user_md, 2, w_dims, dnnl_f32,
                                                          w_strides),
                         "describing the given weights", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&bias_md, 2, bias_dims, dnnl_f32,
                                                      dnnl_ab),
                         "describing a bias", err, err_len));

    /* Post-ops: the activation, or the residual sum. */
    TRY(atb_onednn_check(dnnl_primitive_attr_create(&attr), "creating attributes", err,
                         err_len));
    TRY(atb_onednn_check(dnnl_post_ops_create(&post_ops), "creating post-ops", err, err_len));
    if (activation >= 0) {
        const dnnl_alg_kind_t alg = activation == ATB_ACT_RELU ? dnnl_eltwise_relu
                                                               : dnnl_eltwise_gelu_erf;
        TRY(atb_onednn_check(dnnl_post_ops_append_eltwise(post_ops, 1.0f, alg, 0.0f, 0.0f),
                             "appending the activation", err, err_len));
    }
    if (accumulate)
        TRY(atb_onednn_check(dnnl_post_ops_append_sum(post_ops, 1.0f), "appending the sum",
                             err, err_len));
    TRY(atb_onednn_check(dnnl_primitive_attr_set_post_ops(attr, post_ops), "setting post-ops",
                         err, err_len));

    dnnl_matmul_desc_t desc;
    TRY(atb_onednn_check(dnnl_matmul_desc_init(&desc, &src_md, &any_md, &bias_md, &dst_md),
                         "describing a linear layer", err, err_len));
    char what[96];
    snprintf(what, sizeof(what), "creating the %s primitive descriptor", label);
    TRY(atb_onednn_check(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL), what, err,
                         err_len));

    /* Reorder the weights once into the chosen layout. */
    const dnnl_memory_desc_t *chosen_md = dnnl_primitive_desc_query_md(pd,
                                                                        dnnl_query_weights_md, 0);
    dnnl_memory_t weights_mem, bias_mem;
    TRY(buffer_memory(plan, chosen_md, NULL, dnnl_memory_desc_get_size(chosen_md) / sizeof(float),
                      &weights_mem, NULL, err, err_len));
    TRY(atb_onednn_check(dnnl_memory_create(&user_weights, &user_md, engine, (void *)weight),
                         "wrapping weights", err, err_len));
    TRY(atb_onednn_check(dnnl_reorder_primitive_desc_create(&reorder_pd, &user_md, engine,
                                                            chosen_md, engine, NULL),
                         "describing the weight reorder", err, err_len));
    TRY(atb_onednn_check(dnnl_primitive_create(&reorder, reorder_pd),
                         "creating the weight reorder", err, err_len));
    const dnnl_exec_arg_t reorder_args[2] = {{DNNL_ARG_FROM, user_weights},
                                             {DNNL_ARG_TO, weights_mem}};
    TRY(atb_onednn_check(dnnl_primitive_execute(reorder, stream, 2, reorder_args),
                         "reordering weights", err, err_len));
    TRY(atb_onednn_check(dnnl_stream_wait(stream), "waiting for the weight reorder", err,
                         err_len));
    TRY(buffer_memory(plan, &bias_md, bias, (size_t)out_dim, &bias_mem, NULL, err, err_len));

    st = atb_onednn_add_step_pd(&plan->prog, label, pd, err, err_len);
    pd = NULL; /* owned by the program now */
    if (st != ATB_OK)
        goto fail;
    atb_onednn_arg(&plan->prog, DNNL_ARG_SRC, src);
    atb_onednn_arg(&plan->prog, DNNL_ARG_WEIGHTS, weights_mem);
    atb_onednn_arg(&plan->prog, DNNL_ARG_BIAS, bias_mem);
    atb_onednn_arg(&plan->prog, DNNL_ARG_DST, dst);

fail:
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (reorder)
        dnnl_primitive_destroy(reorder);
    if (reorder_pd)
        dnnl_primitive_desc_destroy(reorder_pd);
    if (user_weights)
        dnnl_memory_destroy(user_weights);
    if (post_ops)
        dnnl_post_ops_destroy(post_ops);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return st;
}

/* dst = LN(src) with the layer's weight and bias over the last axis. */
static atb_status layer_norm_step(encoder_plan *plan, const char *label, dnnl_memory_t src,
                                  dnnl_memory_t dst, const float *weight, const float *bias,
                                  char *err, size_t err_len)
{
    const atb_encoder_shape *s = &plan->problem.encoder;
    atb_status st;
    dnnl_memory_desc_t data_md, param_md;
    const dnnl_dims_t param_dims = {s->embed_dim};
    TRY(md_2d(&data_md, s->batch * s->seq_len, s->embed_dim, err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&param_md, 1, param_dims, dnnl_f32,
                                                      dnnl_a),
                         "describing LayerNorm parameters", err, err_len));
    dnnl_memory_t scale_mem, shift_mem;
    TRY(buffer_memory(plan, &param_md, weight, (size_t)s->embed_dim, &scale_mem, NULL, err,
                      err_len));
    TRY(buffer_memory(plan, &param_md, bias, (size_t)s->embed_dim, &shift_mem, NULL, err,
                      err_len));
    dnnl_layer_normalization_desc_t desc;
    TRY(atb_onednn_check(dnnl_layer_normalization_forward_desc_init(
                             &desc, dnnl_forward_inference, &data_md, NULL,
                             (float)s->layer_norm_eps, dnnl_use_scale | dnnl_use_shift),
                         "describing a LayerNorm", err, err_len));
    TRY(atb_onednn_add_step(&plan->prog, label, &desc, NULL, err, err_len));
    atb_onednn_arg(&plan->prog, DNNL_ARG_SRC, src);
    atb_onednn_arg(&plan->prog, DNNL_ARG_DST, dst);
    atb_onednn_arg(&plan->prog, DNNL_ARG_SCALE, scale_mem);
    atb_onednn_arg(&plan->prog, DNNL_ARG_SHIFT, shift_mem);
fail:
    return st;
}

/* scores = scale * Q K^T + masks, softmax, concat = P V, with the heads
   split out of qkv [n, 3E] and written into concat [n, E] through strides.
   NOTE: under a causal rule this computes and masks the whole L x L square;
   the query blocks of onednn_attention.c would skip most of the masked
   half. */
static atb_status attention_steps(encoder_plan *plan, char *err, size_t err_len)
{
    const atb_encoder_shape *s = &plan->problem.encoder;
    const int64_t B = s->batch, H = s->heads, L = s->seq_len, E = s->embed_dim, Dh = E / H;
    atb_onednn_program *prog = &plan->prog;
    atb_status st;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;

    /* Split qkv [B, L, 3, H, Dh] into contiguous [3, B, H, L, Dh] first:
       oneDNN 2.6 runs batched matmuls on head views with a row stride of
       3E through its slower gemm:jit path, and on contiguous heads through
       brgemm (about 1.5x faster for PV, measured at L=1024, E=512). */
    dnnl_memory_desc_t split_src_md, split_dst_md;
    const dnnl_dims_t split_dims = {3, B, H, L, Dh};
    const dnnl_dims_t split_strides = {E, L * 3 * E, Dh, 3 * E, 1};
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_strides(&split_src_md, 5, split_dims,
                                                          dnnl_f32, split_strides),
                         "describing the packed projections", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&split_dst_md, 5, split_dims, dnnl_f32,
                                                      dnnl_abcde),
                         "describing the split heads", err, err_len));
    dnnl_memory_t split_src_mem, split_dst_mem;
    TRY(atb_onednn_memory(prog, &split_src_md, plan->qkv, &split_src_mem, err, err_len));
    TRY(buffer_memory(plan, &split_dst_md, NULL, (size_t)(3 * B * L * E), &split_dst_mem,
                      &plan->heads, err, err_len));
    {
        dnnl_engine_t engine;
        dnnl_stream_t stream;
        TRY(atb_onednn_engine(&engine, &stream, err, err_len));
        dnnl_primitive_desc_t split_pd;
        TRY(atb_onednn_check(dnnl_reorder_primitive_desc_create(&split_pd, &split_src_md,
                                                                engine, &split_dst_md, engine,
                                                                NULL),
                             "describing the head split", err, err_len));
        TRY(atb_onednn_add_step_pd(prog, "split_heads", split_pd, err, err_len));
        atb_onednn_arg(prog, DNNL_ARG_FROM, split_src_mem);
        atb_onednn_arg(prog, DNNL_ARG_TO, split_dst_mem);
    }
    const size_t head_block = (size_t)(B * L * E); /* floats of Q, K or V */

    dnnl_memory_desc_t q_md, kt_md, v_md, scores_md, out_md, causal_md, pad_md;
    const dnnl_dims_t head_dims = {B, H, L, Dh}, kt_dims = {B, H, Dh, L};
    const dnnl_dims_t kt_strides = {H * L * Dh, L * Dh, 1, Dh};
    const dnnl_dims_t out_strides = {L * E, Dh, E, 1};
    const dnnl_dims_t scores_dims = {B, H, L, L}, causal_dims = {B, 1, L, L};
    const dnnl_dims_t pad_dims = {B, 1, 1, L};
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&q_md, 4, head_dims, dnnl_f32,
                                                      dnnl_abcd),
                         "describing Q", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_strides(&kt_md, 4, kt_dims, dnnl_f32,
                                                          kt_strides),
                         "describing K^T", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&v_md, 4, head_dims, dnnl_f32,
                                                      dnnl_abcd),
                         "describing V", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_strides(&out_md, 4, head_dims, dnnl_f32,
                                                          out_strides),
                         "describing the heads' output", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&scores_md, 4, scores_dims, dnnl_f32,
                                                      dnnl_abcd),
                         "describing the scores", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&causal_md, 4, causal_dims, dnnl_f32,
                                                      dnnl_abcd),
                         "describing the causal mask", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&pad_md, 4, pad_dims, dnnl_f32,
                                                      dnnl_abcd),
                         "describing the padding mask", err, err_len));

    dnnl_memory_t q_mem, k_mem, v_mem, out_mem, scores_mem, causal_mem = NULL, pad_mem = NULL;
    TRY(atb_onednn_memory(prog, &q_md, plan->heads, &q_mem, err, err_len));
    TRY(atb_onednn_memory(prog, &kt_md, plan->heads + head_block, &k_mem, err, err_len));
    TRY(atb_onednn_memory(prog, &v_md, plan->heads + 2 * head_block, &v_mem, err, err_len));
    TRY(atb_onednn_memory(prog, &out_md, plan->concat, &out_mem, err, err_len));
    TRY(buffer_memory(plan, &scores_md, NULL, (size_t)(B * H * L * L), &scores_mem, NULL, err,
                      err_len));
    if (s->causal != ATB_CAUSAL_NONE) {
        float *mask;
        TRY(buffer_memory(plan, &causal_md, NULL, (size_t)(B * L * L), &causal_mem, &mask, err,
                          err_len));
        const atb_attention_shape as = {.batch = B, .heads = H, .kv_heads = H, .q_len = L,
                                        .kv_len = L, .head_dim = Dh, .causal = s->causal};
        atb_onednn_fill_causal_mask(&as, L, mask);
        for (int64_t b = 1; b < B; b++)
            memcpy(mask + b * L * L, mask, (size_t)(L * L) * sizeof(float));
    }
    if (s->has_kv_valid_len)
        TRY(buffer_memory(plan, &pad_md, NULL, (size_t)(B * L), &pad_mem, &plan->pad_mask, err,
                          err_len));

    /* scores = scale * Q K^T + masks */
    const float scale = (float)(1.0 / sqrt((double)Dh));
    TRY(atb_onednn_check(dnnl_primitive_attr_create(&attr), "creating attributes", err,
                         err_len));
    TRY(atb_onednn_check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale),
                         "setting the output scale", err, err_len));
    TRY(atb_onednn_check(dnnl_post_ops_create(&post_ops), "creating post-ops", err, err_len));
    if (causal_mem)
        TRY(atb_onednn_check(dnnl_post_ops_append_binary(post_ops, dnnl_binary_add, &causal_md),
                             "appending the causal mask", err, err_len));
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
    int post_op_index = 0;
    if (causal_mem)
        atb_onednn_arg(prog, DNNL_ARG_ATTR_MULTIPLE_POST_OP(post_op_index++) | DNNL_ARG_SRC_1,
                       causal_mem);
    if (pad_mem)
        atb_onednn_arg(prog, DNNL_ARG_ATTR_MULTIPLE_POST_OP(post_op_index++) | DNNL_ARG_SRC_1,
                       pad_mem);

    dnnl_softmax_v2_desc_t softmax_desc;
    TRY(atb_onednn_check(dnnl_softmax_v2_forward_desc_init(&softmax_desc,
                                                           dnnl_forward_inference,
                                                           dnnl_softmax_accurate, &scores_md,
                                                           &scores_md, 3),
                         "describing the softmax", err, err_len));
    TRY(atb_onednn_add_step(prog, "softmax", &softmax_desc, NULL, err, err_len));
    atb_onednn_arg(prog, DNNL_ARG_SRC, scores_mem);
    atb_onednn_arg(prog, DNNL_ARG_DST, scores_mem);

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

/* PE[p, 2i] = sin(p / 10000^(2i/E)), PE[p, 2i+1] = cos(same), in double and
   rounded once: an f32 angle at positions in the hundreds is already off by
   about 1e-5. */
static void fill_positional_encoding(float *pe, int64_t L, int64_t E)
{
    for (int64_t pos = 0; pos < L; pos++) {
        for (int64_t c = 0; c < E; c += 2) {
            const double angle = (double)pos / pow(10000.0, (double)c / (double)E);
            pe[pos * E + c] = (float)sin(angle);
            if (c + 1 < E)
                pe[pos * E + c + 1] = (float)cos(angle);
        }
    }
}

/* x0 = x (+ PE): a binary add with the table, or a reorder that copies. */
static atb_status input_step(encoder_plan *plan, dnnl_memory_t x0, char *err, size_t err_len)
{
    const atb_encoder_shape *s = &plan->problem.encoder;
    const int64_t B = s->batch, L = s->seq_len, E = s->embed_dim;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    atb_status st = atb_onednn_engine(&engine, &stream, err, err_len);
    if (st != ATB_OK)
        return st;
    dnnl_memory_desc_t x_md;
    TRY(md_2d(&x_md, B * L, E, err, err_len));
    dnnl_memory_t x_mem;
    TRY(user_memory(plan, &x_md, 1, &x_mem, err, err_len));

    if (!s->positional_encoding) {
        dnnl_primitive_desc_t pd;
        TRY(atb_onednn_check(dnnl_reorder_primitive_desc_create(&pd, &x_md, engine, &x_md,
                                                                engine, NULL),
                             "describing the input copy", err, err_len));
        TRY(atb_onednn_add_step_pd(&plan->prog, "input_copy", pd, err, err_len));
        atb_onednn_arg(&plan->prog, DNNL_ARG_FROM, x_mem);
        atb_onednn_arg(&plan->prog, DNNL_ARG_TO, x0);
        return ATB_OK;
    }

    /* The table broadcasts over the batch: [1, L, E] against [B, L, E]. */
    dnnl_memory_desc_t x3_md, pe_md;
    const dnnl_dims_t x3_dims = {B, L, E}, pe_dims = {1, L, E};
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&x3_md, 3, x3_dims, dnnl_f32, dnnl_abc),
                         "describing x", err, err_len));
    TRY(atb_onednn_check(dnnl_memory_desc_init_by_tag(&pe_md, 3, pe_dims, dnnl_f32, dnnl_abc),
                         "describing the positional encoding", err, err_len));
    float *pe;
    dnnl_memory_t pe_mem, x3_mem, x0_3_mem;
    TRY(buffer_memory(plan, &pe_md, NULL, (size_t)(L * E), &pe_mem, &pe, err, err_len));
    fill_positional_encoding(pe, L, E);
    TRY(user_memory(plan, &x3_md, 1, &x3_mem, err, err_len));
    void *x0_handle = NULL;
    TRY(atb_onednn_check(dnnl_memory_get_data_handle(x0, &x0_handle), "reading x0", err,
                         err_len));
    if (x0_handle)
        TRY(atb_onednn_memory(&plan->prog, &x3_md, x0_handle, &x0_3_mem, err, err_len));
    else
        TRY(user_memory(plan, &x3_md, 0, &x0_3_mem, err, err_len));
    dnnl_binary_desc_t desc;
    TRY(atb_onednn_check(dnnl_binary_desc_init(&desc, dnnl_binary_add, &x3_md, &pe_md, &x3_md),
                         "describing the positional encoding add", err, err_len));
    TRY(atb_onednn_add_step(&plan->prog, "add_pe", &desc, NULL, err, err_len));
    atb_onednn_arg(&plan->prog, DNNL_ARG_SRC_0, x3_mem);
    atb_onednn_arg(&plan->prog, DNNL_ARG_SRC_1, pe_mem);
    atb_onednn_arg(&plan->prog, DNNL_ARG_DST, x0_3_mem);
fail:
    return st;
}

atb_status atb_onednn_encoder_plan(const atb_problem *p, const atb_encoder_weights *w,
                                   void **out, char *err, size_t err_len)
{
    const atb_encoder_shape *s = &p->encoder;
    const int64_t n = s->batch * s->seq_len, E = s->embed_dim, F = s->ffn_dim;
    atb_status st = ATB_OK;
    encoder_plan *plan = calloc(1, sizeof(*plan));
    if (!plan) {
        snprintf(err, err_len, "onednn: cannot allocate the plan");
        return ATB_ERR_NOMEM;
    }
    plan->problem = *p;
    omp_set_num_threads(p->n_threads);

    dnnl_memory_desc_t row_md, qkv_md, hidden_md;
    TRY(md_2d(&row_md, n, E, err, err_len));
    TRY(md_2d(&qkv_md, n, 3 * E, err, err_len));
    TRY(md_2d(&hidden_md, n, F, err, err_len));

    /* Buffers. The x memories must be created before the out ones. */
    dnnl_memory_t x0_mem, x1_mem, y_mem = NULL, qkv_mem, concat_mem, hidden_mem, out_mem;
    if (!s->norm_first) {
        TRY(buffer_memory(plan, &row_md, NULL, (size_t)(n * E), &x0_mem, NULL, err, err_len));
        TRY(input_step(plan, x0_mem, err, err_len));
        TRY(buffer_memory(plan, &row_md, NULL, (size_t)(n * E), &x1_mem, NULL, err, err_len));
        TRY(user_memory(plan, &row_md, 0, &out_mem, err, err_len));
    } else {
        TRY(user_memory(plan, &row_md, 0, &out_mem, err, err_len));
        x0_mem = x1_mem = out_mem;
        /* input_step creates x memories; move the out memory behind them. */
        plan->n_user_mems = 0;
        TRY(input_step(plan, x0_mem, err, err_len));
        plan->user_mems[plan->n_user_mems++] = out_mem;
        TRY(buffer_memory(plan, &row_md, NULL, (size_t)(n * E), &y_mem, NULL, err, err_len));
    }
    TRY(buffer_memory(plan, &qkv_md, NULL, (size_t)(n * 3 * E), &qkv_mem, &plan->qkv, err,
                      err_len));
    TRY(buffer_memory(plan, &row_md, NULL, (size_t)(n * E), &concat_mem, &plan->concat, err,
                      err_len));
    TRY(buffer_memory(plan, &hidden_md, NULL, (size_t)(n * F), &hidden_mem, NULL, err,
                      err_len));
    plan->row_scratch = plan_buffer(plan, (size_t)p->n_threads * (size_t)s->seq_len, NULL);
    if (!plan->row_scratch) {
        snprintf(err, err_len, "onednn: cannot allocate row scratch");
        st = ATB_ERR_NOMEM;
        goto fail;
    }

    /* Self-attention block. */
    if (s->norm_first)
        TRY(layer_norm_step(plan, "norm1", x0_mem, y_mem, w->norm1_weight, w->norm1_bias, err,
                            err_len));
    TRY(linear_step(plan, "in_proj", s->norm_first ? y_mem : x0_mem, n, E, 3 * E,
                    w->in_proj_weight, w->in_proj_bias, -1, 0, qkv_mem, err, err_len));
    TRY(attention_steps(plan, err, err_len));
    plan->attention_end = plan->prog.n_steps;
    TRY(linear_step(plan, "out_proj", concat_mem, n, E, E, w->out_proj_weight,
                    w->out_proj_bias, -1, 1, x0_mem, err, err_len));

    /* Feed-forward block. */
    if (!s->norm_first) {
        TRY(layer_norm_step(plan, "norm1", x0_mem, x1_mem, w->norm1_weight, w->norm1_bias, err,
                            err_len));
        TRY(linear_step(plan, "linear1", x1_mem, n, E, F, w->linear1_weight, w->linear1_bias,
                        (int)s->activation, 0, hidden_mem, err, err_len));
        TRY(linear_step(plan, "linear2", hidden_mem, n, F, E, w->linear2_weight,
                        w->linear2_bias, -1, 1, x1_mem, err, err_len));
        TRY(layer_norm_step(plan, "norm2", x1_mem, out_mem, w->norm2_weight, w->norm2_bias, err,
                            err_len));
    } else {
        TRY(layer_norm_step(plan, "norm2", x1_mem, y_mem, w->norm2_weight, w->norm2_bias, err,
                            err_len));
        TRY(linear_step(plan, "linear1", y_mem, n, E, F, w->linear1_weight, w->linear1_bias,
                        (int)s->activation, 0, hidden_mem, err, err_len));
        TRY(linear_step(plan, "linear2", hidden_mem, n, F, E, w->linear2_weight,
                        w->linear2_bias, -1, 1, out_mem, err, err_len));
    }
    *out = plan;
    return ATB_OK;

fail:
    atb_onednn_encoder_destroy(plan);
    return st;
}

atb_status atb_onednn_encoder_run(void *opaque, const atb_run_args *a, char *err,
                                  size_t err_len)
{
    encoder_plan *plan = opaque;
    const atb_encoder_shape *s = &plan->problem.encoder;
    const int64_t B = s->batch, L = s->seq_len, E = s->embed_dim, H = s->heads;
    const int32_t *valid = s->has_kv_valid_len ? a->kv_valid_len : NULL;
    atb_status st = atb_onednn_check_valid_lengths(a->kv_valid_len, s->has_kv_valid_len, B, L,
                                                   err, err_len);
    if (st != ATB_OK)
        return st;
    omp_set_num_threads(plan->problem.n_threads);

    /* Bind the caller's buffers. */
    for (int i = 0; i < plan->n_user_mems; i++) {
        void *handle = i < plan->n_x_mems ? (void *)a->x : (void *)a->out;
        TRY(atb_onednn_check(dnnl_memory_set_data_handle(plan->user_mems[i], handle),
                             "binding x or out", err, err_len));
    }
    if (plan->pad_mask) {
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < L; j++)
                plan->pad_mask[b * L + j] = j < valid[b] ? 0.0f : -INFINITY;
    }

    /* Attention, its row repair, then the rest of the layer. */
    TRY(atb_onednn_execute_range(&plan->prog, 0, plan->attention_end, err, err_len));
    const atb_attention_shape as = {.batch = B, .heads = H, .kv_heads = H, .q_len = L,
                                    .kv_len = L, .head_dim = E / H,
                                    .scale = 1.0 / sqrt((double)(E / H)), .causal = s->causal};
    const size_t head_block = (size_t)(B * L * E);
    const atb_onednn_attention_view view = {
        .shape = &as, .q = plan->heads, .k = plan->heads + head_block,
        .v = plan->heads + 2 * head_block, .out = plan->concat,
        .q_batch_stride = L * E, .q_head_stride = L * (E / H), .q_row_stride = E / H,
        .kv_batch_stride = L * E, .kv_head_stride = L * (E / H), .kv_row_stride = E / H,
        .out_batch_stride = L * E, .out_head_stride = E / H, .out_row_stride = E,
        .kv_valid_len = valid, .row_scratch = plan->row_scratch,
    };
    atb_onednn_repair_rows(&view, plan->problem.n_threads);
    TRY(atb_onednn_execute_range(&plan->prog, plan->attention_end, plan->prog.n_steps, err,
                                 err_len));
fail:
    return st;
}
