/*
 * blocked: flash attention in portable C (no intrinsics), float32. One
 * source, blocked_attention_f32.c, is compiled for baseline x86-64, for
 * AVX2 + FMA and for AVX-512; the plan picks the highest copy that
 * atb_cpu_isa() allows (so ATTNBENCH_MAX_ISA caps it).
 *
 * Layouts as in attnbench/impl.h: q, out [B,H,Lq,D]; k, v [B,Hkv,Lk,D].
 * Threads: OpenMP, problem->n_threads.
 */
#ifndef ATB_BLOCKED_ATTENTION_H
#define ATB_BLOCKED_ATTENTION_H

#include "attnbench/impl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Plans attention (problem->op must be ATB_OP_ATTENTION): validates the
   shape and allocates packing and scratch buffers. */
atb_status atb_blocked_attention_plan(const atb_problem *problem, void **plan, char *err,
                                      size_t err_len);
/* Computes out from q, k, v; kv_valid_len is read when the shape has it. */
atb_status atb_blocked_attention_run(void *plan, const float *q, const float *k,
                                     const float *v, const int32_t *kv_valid_len, float *out,
                                     char *err, size_t err_len);
void atb_blocked_attention_destroy(void *plan);

/* The ISA level of the compiled copy a plan uses ("scalar", "avx2",
   "avx512"), or of the copy a new plan would use when plan is NULL. */
const char *atb_blocked_attention_isa(const void *plan);

/* The kernel's exp for x <= 0 (results below FLT_MIN flushed to 0), one
   copy per compiled level, for the accuracy test. Each may only be called
   when the CPU has its ISA. */
void atb_blocked_exp_f32_scalar(const float *x, float *y, int64_t n);
void atb_blocked_exp_f32_avx2(const float *x, float *y, int64_t n);
void atb_blocked_exp_f32_avx512(const float *x, float *y, int64_t n);

extern const atb_impl atb_impl_blocked;

#ifdef __cplusplus
}
#endif

#endif /* ATB_BLOCKED_ATTENTION_H */
