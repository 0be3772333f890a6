/*
 * Float64 reference for attention and the encoder layer, written for
 * clarity straight from the operation definitions in README.md. Inputs are
 * the exact float32 values; every intermediate and the output are double.
 * Single-threaded. Used to write golden vectors and, in the bench, to
 * validate sampled rows before timing.
 */
#ifndef ATB_REFERENCE_H
#define ATB_REFERENCE_H

#include "attnbench/impl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out [B,H,Lq,D]. Returns ATB_ERR_INVALID for shapes outside the limits. */
atb_status atb_ref_attention(const atb_attention_shape *shape, const float *q, const float *k,
                             const float *v, const int32_t *kv_valid_len, double *out);

/* One output row (b, h, i) of attention: out_row [D]. */
atb_status atb_ref_attention_row(const atb_attention_shape *shape, const float *q,
                                 const float *k, const float *v, const int32_t *kv_valid_len,
                                 int64_t b, int64_t h, int64_t i, double *out_row);

/* out [B,L,E]. */
atb_status atb_ref_encoder_layer(const atb_encoder_shape *shape, const atb_encoder_weights *w,
                                 const float *x, const int32_t *kv_valid_len, double *out);

/* Selected output rows of the layer: rows[r] = b * L + i, out [n_rows, E].
   Computes keys and values for all positions but the rest only for the
   requested rows, so it is much cheaper than the whole layer. */
atb_status atb_ref_encoder_layer_rows(const atb_encoder_shape *shape,
                                      const atb_encoder_weights *w, const float *x,
                                      const int32_t *kv_valid_len, int64_t n_rows,
                                      const int64_t *rows, double *out);

#ifdef __cplusplus
}
#endif

#endif /* ATB_REFERENCE_H */
