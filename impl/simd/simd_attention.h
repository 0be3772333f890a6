/*
 * simd-avx2 and simd-avx512: flash attention with intrinsics, float32.
 * The job (register-blocked QK^T and PV, fused online softmax, vector exp)
 * is simd_attention_template.h, compiled once per ISA in
 * simd_attention_avx2.c and simd_attention_avx512.c. Jobs, packing and
 * threads come from impl/blocked/flash_tiling.h.
 *
 * Layouts as in attnbench/impl.h: q, out [B,H,Lq,D]; k, v [B,Hkv,Lk,D].
 * Threads: OpenMP, problem->n_threads. The plan functions return
 * ATB_ERR_UNSUPPORTED when atb_cpu_isa() lacks the ISA, so the ISA code is
 * never reached on such a CPU.
 */
#ifndef ATB_SIMD_ATTENTION_H
#define ATB_SIMD_ATTENTION_H

#include "attnbench/impl.h"

#ifdef __cplusplus
extern "C" {
#endif

atb_status atb_simd_avx2_attention_plan(const atb_problem *problem, void **plan, char *err,
                                        size_t err_len);
atb_status atb_simd_avx2_attention_run(void *plan, const float *q, const float *k,
                                       const float *v, const int32_t *kv_valid_len, float *out,
                                       char *err, size_t err_len);
void atb_simd_avx2_attention_destroy(void *plan);

atb_status atb_simd_avx512_attention_plan(const atb_problem *problem, void **plan, char *err,
                                          size_t err_len);
atb_status atb_simd_avx512_attention_run(void *plan, const float *q, const float *k,
                                         const float *v, const int32_t *kv_valid_len,
                                         float *out, char *err, size_t err_len);
void atb_simd_avx512_attention_destroy(void *plan);

/* The kernels' vector exp for x <= 0 (results below FLT_MIN flushed to 0),
   for the accuracy test. Callable only when the CPU has the ISA. */
void atb_simd_exp_f32_avx2(const float *x, float *y, int64_t n);
void atb_simd_exp_f32_avx512(const float *x, float *y, int64_t n);

extern const atb_impl atb_impl_simd_avx2;
extern const atb_impl atb_impl_simd_avx512;

#ifdef __cplusplus
}
#endif

#endif /* ATB_SIMD_ATTENTION_H */
