/*
 * The encoder layer on OpenBLAS: the four projections are sgemm calls on
 * all B*L rows at once (OpenBLAS threads), attention reads each head in
 * place from the packed [n, 3E] projection output and writes the
 * concatenated heads [n, E] directly. Biases and residuals are folded into
 * the GEMM's C operand (beta = 1) where that saves a pass.
 */
#include "impl/blas/blas.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

size_t atb_blas_encoder_scratch_count(const atb_encoder_shape *s, int n_threads)
{
    const size_t n = (size_t)(s->batch * s->seq_len), E = (size_t)s->embed_dim;
    const atb_attention_shape as = {.kv_len = s->seq_len};
    /* x0, y, x1, concat [n,E] each, qkv [n,3E], hidden [n,F], scores. */
    return n * (7 * E + (size_t)s->ffn_dim)
           + (size_t)n_threads * atb_blas_attention_scratch_count(&as);
}

/* c[r, :] = bias for every row, the starting C of a GEMM with beta = 1. */
static void broadcast_rows(float *c, const float *bias, int64_t n_rows, int64_t dim)
{
    for (int64_t r = 0; r < n_rows; r++)
        memcpy(c + r * dim, bias, (size_t)dim * sizeof(float));
}

/* c[r, :] = base[r, :] + bias: the residual and the bias as a GEMM's C. */
static void add_rows(float *c, const float *base, const float *bias, int64_t n_rows,
                     int64_t dim, int n_threads)
{
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t col = 0; col < dim; col++)
            c[r * dim + col] = base[r * dim + col] + bias[col];
}

/* y[n, out] += x[n, in] * w[out, in]^T, the PyTorch Linear layout. */
static void linear_accumulate(const float *x, const float *w, float *y, int64_t n,
                              int64_t in_dim, int64_t out_dim)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)out_dim, (int)in_dim, 1.0f,
                x, (int)in_dim, w, (int)in_dim, 1.0f, y, (int)out_dim);
}

/* sa_out = residual + out_proj(MHA(y)), sa_out [n, E]. */
static void self_attention(const atb_encoder_shape *s, const atb_encoder_weights *w,
                           const float *y, const float *residual, const int32_t *kv_valid_len,
                           float *sa_out, float *qkv, float *concat, float *scores,
                           int n_threads)
{
    const int64_t B = s->batch, L = s->seq_len, E = s->embed_dim, H = s->heads;
    const int64_t n = B * L, Dh = E / H;

    /* [Q | K | V] = y W_in^T + b_in, one GEMM with N = 3E. */
    broadcast_rows(qkv, w->in_proj_bias, n, 3 * E);
    linear_accumulate(y, w->in_proj_weight, qkv, n, E, 3 * E);

    /* Heads are column slices of qkv; the output goes straight into its
       slice of concat. */
    const atb_attention_shape as = {
        .batch = B, .heads = H, .kv_heads = H, .q_len = L, .kv_len = L, .head_dim = Dh,
        .scale = 1.0 / sqrt((double)Dh), .causal = s->causal,
        .has_kv_valid_len = kv_valid_len != NULL,
    };
    const atb_blas_attention_view view = {
        .shape = &as, .q = qkv, .k = qkv + E, .v = qkv + 2 * E, .out = concat,
        .q_batch_stride = L * 3 * E, .q_head_stride = Dh, .q_row_stride = 3 * E,
        .kv_batch_stride = L * 3 * E, .kv_head_stride = Dh, .kv_row_stride = 3 * E,
        .out_batch_stride = L * E, .out_head_stride = Dh, .out_row_stride = E,
        .kv_valid_len = kv_valid_len,
    };
    atb_blas_attention_f32(&view, scores, n_threads);

    add_rows(sa_out, residual, w->out_proj_bias, n, E, n_threads);
    linear_accumulate(concat, w->out_proj_weight, sa_out, n, E, E);
}

/* ff_out = residual + linear2(act(linear1(y))), ff_out [n, E]. */
static void feed_forward(const atb_encoder_shape *s, const atb_encoder_weights *w,
                         const float *y, const float *residual, float *ff_out, float *hidden,
                         int n_threads)
{
    const int64_t n = s->batch * s->seq_len, E = s->embed_dim, F = s->ffn_dim;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)F, (int)E, 1.0f, y,
                (int)E, w->linear1_weight, (int)E, 0.0f, hidden, (int)F);
    atb_blas_bias_activation_f32(hidden, w->linear1_bias, n, F, s->activation, n_threads);
    add_rows(ff_out, residual, w->linear2_bias, n, E, n_threads);
    linear_accumulate(hidden, w->linear2_weight, ff_out, n, F, E);
}

void atb_blas_encoder_f32(const atb_encoder_shape *s, const atb_encoder_weights *w,
                          const float *pe, const float *x, const int32_t *kv_valid_len,
                          float *out, float *scratch, int n_threads)
{
    const int64_t L = s->seq_len, E = s->embed_dim, n = s->batch * L;
    float *x0 = scratch;           /* [n, E] input plus positional encoding */
    float *y = x0 + n * E;         /* [n, E] normalized input of a block */
    float *x1 = y + n * E;         /* [n, E] */
    float *concat = x1 + n * E;    /* [n, E] heads side by side */
    float *qkv = concat + n * E;   /* [n, 3E] */
    float *hidden = qkv + n * 3 * E; /* [n, F] */
    float *scores = hidden + n * s->ffn_dim;

    if (pe) {
#pragma omp parallel for schedule(static) num_threads(n_threads)
        for (int64_t r = 0; r < n; r++)
            for (int64_t c = 0; c < E; c++)
                x0[r * E + c] = x[r * E + c] + pe[(r % L) * E + c];
    } else {
        memcpy(x0, x, (size_t)(n * E) * sizeof(float));
    }

    if (!s->norm_first) {
        /* x1 = LN1(x0 + SA(x0)); out = LN2(x1 + FF(x1)) */
        self_attention(s, w, x0, x0, kv_valid_len, y, qkv, concat, scores, n_threads);
        atb_blas_layer_norm_f32(y, w->norm1_weight, w->norm1_bias, x1, n, E, s->layer_norm_eps,
                                n_threads);
        feed_forward(s, w, x1, x1, y, hidden, n_threads);
        atb_blas_layer_norm_f32(y, w->norm2_weight, w->norm2_bias, out, n, E,
                                s->layer_norm_eps, n_threads);
    } else {
        /* x1 = x0 + SA(LN1(x0)); out = x1 + FF(LN2(x1)) */
        atb_blas_layer_norm_f32(x0, w->norm1_weight, w->norm1_bias, y, n, E, s->layer_norm_eps,
                                n_threads);
        self_attention(s, w, y, x0, kv_valid_len, x1, qkv, concat, scores, n_threads);
        atb_blas_layer_norm_f32(x1, w->norm2_weight, w->norm2_bias, y, n, E, s->layer_norm_eps,
                                n_threads);
        feed_forward(s, w, y, x1, out, hidden, n_threads);
    }
}
