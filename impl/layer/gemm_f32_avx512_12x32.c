/*
 * AVX-512 SGEMM micro-kernel, 12 rows x 32 columns: 24 zmm accumulators,
 * two zmm W loads and twelve broadcast A values per k step. A core with two
 * 512-bit FMA pipes and an FMA latency of 4 (Intel server cores; Zen 4 splits
 * each 512-bit FMA into two 256-bit halves, which needs no more accumulators)
 * needs at least 8 independent accumulators. 24 cover that with room to
 * spare and leave registers for the two W vectors and the broadcast. The
 * 12 broadcasts and 2 loads per 24 FMAs stay under two 512-bit loads per
 * cycle. Compiled with AVX-512F flags only;
 * callers check atb_cpu_isa() first.
 */
#include "impl/layer/gemm_f32.h"

#include <immintrin.h>

#define MR 12
#define NR 32
#define PREFETCH_A_BYTES 512 /* a few k steps ahead of the A stream, which comes from L2 */

/* The accumulators are named variables, not an array: GCC 12 keeps an
   array of __m512 on the stack and stores it back every k step. */
#define FOR_EACH_ROW(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

#define DECLARE_ROW(i) __m512 c##i##_0 = _mm512_setzero_ps(), c##i##_1 = _mm512_setzero_ps();

#define PREFETCH_ROW(i)                                                                    \
    _mm_prefetch((const char *)(c + (i) * ldc), _MM_HINT_T0);                              \
    _mm_prefetch((const char *)(c + (i) * ldc + 16), _MM_HINT_T0);

#define FMA_ROW(i)                                                                         \
    {                                                                                      \
        const __m512 a = _mm512_set1_ps(ak[i]);                                            \
        c##i##_0 = _mm512_fmadd_ps(a, w0, c##i##_0);                                       \
        c##i##_1 = _mm512_fmadd_ps(a, w1, c##i##_1);                                       \
    }

#define STORE_ROW(i)                                                                       \
    {                                                                                      \
        float *ci = c + (i) * ldc;                                                         \
        if (accumulate) {                                                                  \
            c##i##_0 = _mm512_add_ps(c##i##_0, _mm512_loadu_ps(ci));                       \
            c##i##_1 = _mm512_add_ps(c##i##_1, _mm512_loadu_ps(ci + 16));                  \
        }                                                                                  \
        _mm512_storeu_ps(ci, c##i##_0);                                                    \
        _mm512_storeu_ps(ci + 16, c##i##_1);                                               \
    }

static void sgemm_kernel_avx512_12x32(int64_t kc, const float *restrict a_panel,
                                      const float *restrict w_panel, float *restrict c,
                                      int64_t ldc, int accumulate)
{
    FOR_EACH_ROW(DECLARE_ROW)

    /* The C tile is read (or written) after the loop: fetch it now. */
    FOR_EACH_ROW(PREFETCH_ROW)

    /* One rank-1 update per k step: two W vectors, twelve broadcasts. */
    const float *ak = a_panel;
    const float *wk = w_panel;
    for (int64_t k = 0; k < kc; k++) {
        const __m512 w0 = _mm512_load_ps(wk);
        const __m512 w1 = _mm512_load_ps(wk + 16);
        _mm_prefetch((const char *)ak + PREFETCH_A_BYTES, _MM_HINT_T0);
        FOR_EACH_ROW(FMA_ROW)
        ak += MR;
        wk += NR;
    }

    FOR_EACH_ROW(STORE_ROW)
}

const atb_sgemm_kernel atb_sgemm_kernel_avx512_12x32 = {
    .name = "avx512 intrinsics 12x32",
    .mr = MR,
    .nr = NR,
    .kernel = sgemm_kernel_avx512_12x32,
};
