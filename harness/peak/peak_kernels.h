/*
 * Peak-throughput loops for `attnbench peak`: chains of f32 multiply-adds on
 * many independent register accumulators, so the FMA units, not the
 * latency of one chain, limit the rate. Each function runs n_rounds rounds
 * on the calling thread and returns the FLOPs it performed (a multiply-add
 * counts 2). The AVX2 and AVX-512 variants must only be called after
 * atb_cpu_isa() reported the ISA.
 */
#ifndef ATB_PEAK_KERNELS_H
#define ATB_PEAK_KERNELS_H

#include <stdint.h>

/* Accumulators are sized so that, at a 4-cycle FMA latency on two FMA pipes,
   at least 8 chains are in flight with room to spare, and all of them plus
   the two constants fit in the register file (16 ymm, 32 zmm). */
#define ATB_PEAK_ACCUMULATORS_SSE2 12
#define ATB_PEAK_ACCUMULATORS_AVX2 12
#define ATB_PEAK_ACCUMULATORS_AVX512 24

double atb_peak_mul_add_sse2_f32(int64_t n_rounds);
double atb_peak_fma_avx2_f32(int64_t n_rounds);
double atb_peak_fma_avx512_f32(int64_t n_rounds);

#endif /* ATB_PEAK_KERNELS_H */
