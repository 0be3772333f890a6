/*
 * Attention on OpenBLAS: per (batch, head, block of query rows), one sgemm
 * for the logits, the project's exp pass, one sgemm for PV, and the
 * softmax's division on the output rows.
 *
 * Masks shrink the GEMMs rather than filling -inf. A block's rectangular
 * part covers only the keys that every row of the block may attend to: the
 * valid length under padding, up to the diagonal under a causal rule. The
 * keys that only some rows may attend to (the triangle on the causal
 * diagonal) go through one sgemv per row over exactly that row's keys.
 * A key that a row may not attend to is never read for that row, so
 * whatever it contains (NaN, Inf) cannot reach the row. A row without keys
 * is written as zeros. No sgemm or sgemv is called with a zero extent.
 *
 * Grouped-query heads read the shared key/value head in place through the
 * leading dimensions; nothing is copied.
 */
#include "impl/blas/blas.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

/* Keys 0 .. limit-1 are allowed for query row i; limit is non-decreasing
   in i for every causal rule, which the block bounds rely on. */
static int64_t allowed_key_limit(const atb_attention_shape *s, int64_t valid, int64_t i)
{
    int64_t limit = valid;
    if (s->causal == ATB_CAUSAL_TOP_LEFT && i + 1 < limit)
        limit = i + 1;
    if (s->causal == ATB_CAUSAL_BOTTOM_RIGHT && i + 1 + (s->kv_len - s->q_len) < limit)
        limit = i + 1 + (s->kv_len - s->q_len);
    return limit < 0 ? 0 : limit;
}

size_t atb_blas_attention_scratch_count(const atb_attention_shape *s)
{
    return (size_t)ATB_BLAS_QUERY_BLOCK * (size_t)(s->kv_len > 0 ? s->kv_len : 1);
}

/* One task: rows i0 .. i0+n_rows-1 of head h in batch b. */
static void attention_block(const atb_blas_attention_view *view, int64_t b, int64_t h,
                            int64_t i0, int64_t n_rows, float *scores)
{
    const atb_attention_shape *s = view->shape;
    const int64_t D = s->head_dim;
    const int64_t g = h / (s->heads / s->kv_heads);
    const float scale = (float)s->scale;
    const float *q = view->q + b * view->q_batch_stride + h * view->q_head_stride
                     + i0 * view->q_row_stride;
    const float *k = view->k + b * view->kv_batch_stride + g * view->kv_head_stride;
    const float *v = view->v + b * view->kv_batch_stride + g * view->kv_head_stride;
    float *out = view->out + b * view->out_batch_stride + h * view->out_head_stride
                 + i0 * view->out_row_stride;
    const int64_t ldq = view->q_row_stride, ldkv = view->kv_row_stride;
    const int64_t ldo = view->out_row_stride;
    const int64_t valid = view->kv_valid_len ? view->kv_valid_len[b] : s->kv_len;

    /* Keys every row of the block may attend to (n_shared), and the maximum
       over its rows (n_max). */
    const int64_t n_shared = allowed_key_limit(s, valid, i0);
    const int64_t n_max = allowed_key_limit(s, valid, i0 + n_rows - 1);
    const int64_t lds = n_max > 0 ? n_max : 1;

    /* Logits of the shared rectangle: S = scale * Q K^T. */
    if (n_shared > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_rows, (int)n_shared, (int)D,
                    scale, q, (int)ldq, k, (int)ldkv, 0.0f, scores, (int)lds);

    /* Per row: the keys past the rectangle it may see, then the unnormalized
       softmax. Dividing the D outputs later is cheaper than the n_keys
       weights now. */
    float inv_sums[ATB_BLAS_QUERY_BLOCK];
    for (int64_t r = 0; r < n_rows; r++) {
        const int64_t n_keys = allowed_key_limit(s, valid, i0 + r);
        float *sr = scores + r * lds;
        if (n_keys > n_shared)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)(n_keys - n_shared), (int)D, scale,
                        k + n_shared * ldkv, (int)ldkv, q + r * ldq, 1, 0.0f, sr + n_shared, 1);
        inv_sums[r] = n_keys > 0 ? 1.0f / atb_blas_exp_row_f32(sr, n_keys) : 0.0f;
    }

    /* Output of the shared rectangle: O = P V, or zeros when it is empty
       (then rows without keys stay exactly zero). */
    if (n_shared > 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n_rows, (int)D,
                    (int)n_shared, 1.0f, scores, (int)lds, v, (int)ldkv, 0.0f, out, (int)ldo);
    } else {
        for (int64_t r = 0; r < n_rows; r++)
            memset(out + r * ldo, 0, (size_t)D * sizeof(float));
    }

    /* The per-row remainder, O_r += P_r[n_shared..n_keys) V[n_shared..n_keys),
       then the softmax's division. A row without keys stays zero. */
    for (int64_t r = 0; r < n_rows; r++) {
        const int64_t n_keys = allowed_key_limit(s, valid, i0 + r);
        float *out_row = out + r * ldo;
        if (n_keys > n_shared)
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)(n_keys - n_shared), (int)D, 1.0f,
                        v + n_shared * ldkv, (int)ldkv, scores + r * lds + n_shared, 1, 1.0f,
                        out_row, 1);
        if (n_keys > 0)
            for (int64_t d = 0; d < D; d++)
                out_row[d] *= inv_sums[r];
    }
}

void atb_blas_attention_f32(const atb_blas_attention_view *view, float *scratch, int n_threads)
{
    const atb_attention_shape *s = view->shape;
    const int64_t n_blocks = (s->q_len + ATB_BLAS_QUERY_BLOCK - 1) / ATB_BLAS_QUERY_BLOCK;
    const int64_t n_tasks = s->batch * s->heads * n_blocks;
    const size_t per_thread = atb_blas_attention_scratch_count(s);

    /* Causal blocks differ in cost, so tasks are handed out dynamically. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
    for (int64_t task = 0; task < n_tasks; task++) {
        const int64_t block = task % n_blocks;
        const int64_t h = task / n_blocks % s->heads;
        const int64_t b = task / n_blocks / s->heads;
        const int64_t i0 = block * ATB_BLAS_QUERY_BLOCK;
        const int64_t n_rows = s->q_len - i0 < ATB_BLAS_QUERY_BLOCK ? s->q_len - i0
                                                                   : ATB_BLAS_QUERY_BLOCK;
        attention_block(view, b, h, i0, n_rows,
                        scratch + (size_t)omp_get_thread_num() * per_thread);
    }
}
