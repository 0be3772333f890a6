/*
 * blas: attention and the encoder layer built on OpenBLAS cblas_sgemm, with
 * the project's own softmax, LayerNorm and activations in plain C.
 *
 * Layout: row-major float32; every matrix argument carries its leading
 * dimension (in elements), so the encoder's heads are read in place from the
 * packed [n, 3E] projection output.
 * Threads: attention runs OpenMP over (batch, head, query block) tasks and
 * calls OpenBLAS from inside the parallel region, where the OpenMP build of
 * OpenBLAS runs each call on the calling thread. Projections call OpenBLAS
 * from serial code and use its own n_threads.
 */
#ifndef ATB_BLAS_H
#define ATB_BLAS_H

#include "attnbench/impl.h"

/* Query rows per attention task. The score block of one task is
   ATB_BLAS_QUERY_BLOCK x Lk floats. */
#define ATB_BLAS_QUERY_BLOCK 64

/* One attention problem over strided views: q row (b, h, i) starts at
   q + b*q_batch_stride + h*q_head_stride + i*q_row_stride, likewise k, v and
   out (k and v indexed by the key/value head). */
typedef struct {
    const atb_attention_shape *shape;
    const float *q, *k, *v;
    float *out;
    int64_t q_batch_stride, q_head_stride, q_row_stride;
    int64_t kv_batch_stride, kv_head_stride, kv_row_stride;
    int64_t out_batch_stride, out_head_stride, out_row_stride;
    const int32_t *kv_valid_len; /* [batch] or NULL */
} atb_blas_attention_view;

/* Floats of score scratch that atb_blas_attention_f32 needs per thread. */
size_t atb_blas_attention_scratch_count(const atb_attention_shape *shape);

/* Computes attention with n_threads OpenMP threads; scratch holds
   n_threads * atb_blas_attention_scratch_count() floats. */
void atb_blas_attention_f32(const atb_blas_attention_view *view, float *scratch, int n_threads);

/* Replaces s[j] by exp(s[j] - max) over s[0..n), n >= 1, and returns the
   sum; dividing by it finishes the softmax. A NaN anywhere, or +Inf, makes
   the row NaN, as exp(x - max) does in exact arithmetic. */
float atb_blas_exp_row_f32(float *restrict s, int64_t n);

/* y[r] = (x[r] - mean) / sqrt(var + eps) * weight + bias for n_rows rows of
   dim elements; biased variance, two passes. x and y may alias. */
void atb_blas_layer_norm_f32(const float *x, const float *weight, const float *bias, float *y,
                             int64_t n_rows, int64_t dim, double eps, int n_threads);

/* x[idx] = act(x[idx] + bias[idx % dim]) over n_rows x dim; gelu is the
   exact erf form. */
void atb_blas_bias_activation_f32(float *x, const float *bias, int64_t n_rows, int64_t dim,
                                  atb_activation act, int n_threads);

/* Scratch floats needed by atb_blas_encoder_f32 (n_threads threads). */
size_t atb_blas_encoder_scratch_count(const atb_encoder_shape *shape, int n_threads);

/* The encoder layer; pe is the [L, E] positional encoding or NULL. */
void atb_blas_encoder_f32(const atb_encoder_shape *shape, const atb_encoder_weights *w,
                          const float *pe, const float *x, const int32_t *kv_valid_len,
                          float *out, float *scratch, int n_threads);

extern const atb_impl atb_impl_blas;

#endif /* ATB_BLAS_H */
