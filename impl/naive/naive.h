/*
 * naive: textbook float32 loops straight from the operation definitions.
 * The speed baseline and the reference for f32 rounding error.
 *
 * The functions take a fault argument so that tests can prove the
 * conformance checker rejects known classes of bugs; the registered
 * implementation always passes ATB_NAIVE_FAULT_NONE.
 */
#ifndef ATB_NAIVE_H
#define ATB_NAIVE_H

#include "attnbench/impl.h"

typedef enum {
    ATB_NAIVE_FAULT_NONE = 0,
    ATB_NAIVE_FAULT_MASK_OFF_BY_ONE,   /* allows one key past every limit */
    ATB_NAIVE_FAULT_NO_SCALE,          /* ignores the scale */
    ATB_NAIVE_FAULT_DROP_LAST_BLOCK,   /* ignores the last 64-key block when Lk > 64 */
    ATB_NAIVE_FAULT_PV_HALF,           /* rounds the PV accumulator to an 11-bit mantissa */
    ATB_NAIVE_FAULT_LN_UNBIASED,       /* LayerNorm variance divided by E - 1 */
    ATB_NAIVE_FAULT_GELU_TANH          /* tanh approximation in place of erf */
} atb_naive_fault;

/* Scratch: Lk floats. out [B,H,Lq,D]. */
void atb_naive_attention_f32(const atb_attention_shape *shape, const float *q, const float *k,
                             const float *v, const int32_t *kv_valid_len, float *out,
                             float *scratch, atb_naive_fault fault);

/* Scratch floats needed by atb_naive_encoder_f32. */
size_t atb_naive_encoder_scratch_count(const atb_encoder_shape *shape);
void atb_naive_encoder_f32(const atb_encoder_shape *shape, const atb_encoder_weights *w,
                           const float *x, const int32_t *kv_valid_len, float *out,
                           float *scratch, atb_naive_fault fault);

/* Builds an implementation table for a fault; tests register these. */
atb_impl atb_naive_faulty_impl(atb_naive_fault fault, const char *name);

extern const atb_impl atb_impl_naive;

#endif /* ATB_NAIVE_H */
