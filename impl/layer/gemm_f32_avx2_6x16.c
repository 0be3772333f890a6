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

/* The accumulators are named variables, not an array: GCC 12 keeps an
   array of __m256 on the stack and stores it back every k step. */
#define FOR_EACH_ROW(X) X(0) X(1) X(2) X(3) X(4) X(5)

#define DECLARE_ROW(i) __m256 c##i##_0 = _mm256_setzero_ps(), c##i##_1 = _mm256_setzero_ps();

#define PREFETCH_ROW(i) _mm_prefetch((const char *)(c + (i) * ldc), _MM_HINT_T0);

#define FMA_ROW(i)                                                                         \
    {                                                                                      \
        const __m256 a = _mm256_broadcast_ss(ak + (i));                                    \
        c##i##_0 = _mm256_fmadd_ps(a, w0, c##i##_0);                                       \
        c##i##_1 = _mm256_fmadd_ps(a, w1, c##i##_1);                                       \
    }

#define STORE_ROW(i)                                                                       \
    {                                                                                      \
        float *ci = c + (i) * ldc;                                                         \
        if (accumulate) {                                                                  \
            c##i##_0 = _mm256_add_ps(c##i##_0, _mm256_loadu_ps(ci));                       \
            c##i##_1 = _mm256_add_ps(c##i##_1, _mm256_loadu_ps(ci + 8));                   \
        }                                                                                  \
        _mm256_storeu_ps(ci, c##i##_0);                                                    \
        _mm256_storeu_ps(ci + 8, c##i##_1);                                                \
    }

static void sgemm_kernel_avx2_6x16(int64_t kc, const float *restrict a_panel,
                                   const float *restrict w_panel, float *restrict c,
                                   int64_t ldc, int accumulate)
{
    FOR_EACH_ROW(DECLARE_ROW)

    /* The C tile is read (or written) after the loop: fetch it now. */
    FOR_EACH_ROW(PREFETCH_ROW)

    /* One rank-1 update per k step: two W vectors, six broadcasts. */
    const float *ak = a_panel;
    const float *wk = w_panel;
    for (int64_t k = 0; k < kc; k++) {
        const __m256 w0 = _mm256_load_ps(wk);
        const __m256 w1 = _mm256_load_ps(wk + 8);
        _mm_prefetch((const char *)ak + PREFETCH_A_BYTES, _MM_HINT_T0);
        FOR_EACH_ROW(FMA_ROW)
        ak += MR;
        wk += NR;
    }

    FOR_EACH_ROW(STORE_ROW)
}

const atb_sgemm_kernel atb_sgemm_kernel_avx2_6x16 = {
    .name = "avx2 intrinsics 6x16",
    .mr = MR,
    .nr = NR,
    .kernel = sgemm_kernel_avx2_6x16,
};
