/*
 * The encoder layer (nn.TransformerEncoderLayer, batch_first, eval mode)
 * for the project's own fast families: blocked (portable C, the best ISA
 * level atb_cpu_isa() allows), simd_avx2 and simd_avx512 (intrinsics
 * micro-kernels). plan() packs the weights, precomputes the positional
 * encoding and allocates every buffer; run() allocates nothing.
 * x and out are [B, L, E] float32, row-major; kv_valid_len is [B] or NULL.
 */
#ifndef ATB_LAYER_H
#define ATB_LAYER_H

#include "attnbench/impl.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ATB_DECLARE_ENCODER_FAMILY(fam)                                                   \
    atb_status atb_##fam##_encoder_plan(const atb_problem *problem,                       \
                                        const atb_encoder_weights *weights, void **plan,  \
                                        char *err, size_t err_len);                       \
    atb_status atb_##fam##_encoder_run(void *plan, const float *x,                        \
                                       const int32_t *kv_valid_len, float *out, char *err, \
                                       size_t err_len);                                   \
    void atb_##fam##_encoder_destroy(void *plan);                                         \
    /* One line: the GEMM kernel and attention the plan uses (plan may be NULL). */     \
    void atb_##fam##_encoder_describe(const void *plan, char *buf, size_t buf_len);

ATB_DECLARE_ENCODER_FAMILY(blocked)
ATB_DECLARE_ENCODER_FAMILY(simd_avx2)
ATB_DECLARE_ENCODER_FAMILY(simd_avx512)

#ifdef __cplusplus
}
#endif

#endif /* ATB_LAYER_H */
