/*
 * AVX2 + FMA SGEMM micro-kernel, 6 rows x 16 columns: 12 ymm accumulators,
 * two ymm W loads and six broadcast A values per k step, which uses 15 of
 * the 16 ymm registers. Twelve independent FMA chains cover two FMA pipes
 * with a latency of 4 to 5 cycles. Compiled with AVX2/FMA flags only;
 * callers check atb_cpu_isa() first.
 */
#include "impl/layer/gemm_f32.h"

#include <immintrin.h>

#define MR 6
#define NR 16
#define PREFETCH_A_BYTES 384 /* a few k steps ahead of the A stream, which comes from L2 */

static void sgemm_kernel_avx2_6x16(int64_t kc, const float *restrict a_panel,
                                   const float *restrict w_panel, float *restrict c,
                                   int64_t ldc, int accumulate)
{
    __m256 acc[MR][2];
    for (int i = 0; i < MR; i++) {
        acc[i][0] = _mm256_setzero_ps();
        acc[i][1] = _mm256_setzero_ps();
    }

    for (int i = 0; i < MR; i++)
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);

    const float *ak = a_panel;
    const float *wk = w_panel;
    for (int64_t k = 0; k < kc; k++) {
        const __m256 w0 = _mm256_load_ps(wk);
        const __m256 w1 = _mm256_load_ps(wk + 8);
        _mm_prefetch((const char *)ak + PREFETCH_A_BYTES, _MM_HINT_T0);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            const __m256 ai = _mm256_broadcast_ss(ak + i);
            acc[i][0] = _mm256_fmadd_ps(ai, w0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, w1, acc[i][1]);
        }
        ak += MR;
        wk += NR;
    }

    for (int i = 0; i < MR; i++) {
        float *ci = c + i * ldc;
        if (accumulate) {
            acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(ci));
            acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(ci + 8));
        }
        _mm256_storeu_ps(ci, acc[i][0]);
        _mm256_storeu_ps(ci + 8, acc[i][1]);
    }
}

const atb_sgemm_kernel atb_sgemm_kernel_avx2_6x16 = {
    .name = "avx2 intrinsics 6x16",
    .mr = MR,
    .nr = NR,
    .kernel = sgemm_kernel_avx2_6x16,
};
