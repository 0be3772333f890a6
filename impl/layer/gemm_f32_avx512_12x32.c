/*
 * AVX-512 SGEMM micro-kernel, 12 rows x 32 columns: 24 zmm accumulators,
 * two zmm W loads and twelve broadcast A values per k step. Zen 4/5 and
 * Intel server cores have two 512-bit FMA pipes with a latency of 4, so at
 * least 8 independent accumulators are needed; 24 hides the latency with
 * room to spare while leaving registers for the two W vectors and the
 * broadcast. The 12 broadcasts and 2 loads per 24 FMAs stay under the load
 * ports' two 512-bit loads per cycle. Compiled with AVX-512F flags only;
 * callers check atb_cpu_isa() first.
 */
#include "impl/layer/gemm_f32.h"

#include <immintrin.h>

#define MR 12
#define NR 32
#define PREFETCH_A_BYTES 512 /* a few k steps ahead of the A stream, which comes from L2 */

static void sgemm_kernel_avx512_12x32(int64_t kc, const float *restrict a_panel,
                                      const float *restrict w_panel, float *restrict c,
                                      int64_t ldc, int accumulate)
{
    __m512 acc[MR][2];
    for (int i = 0; i < MR; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
    }

    /* The C tile is read (or written) after the loop: fetch it now. */
    for (int i = 0; i < MR; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }

    const float *ak = a_panel;
    const float *wk = w_panel;
    for (int64_t k = 0; k < kc; k++) {
        const __m512 w0 = _mm512_load_ps(wk);
        const __m512 w1 = _mm512_load_ps(wk + 16);
        _mm_prefetch((const char *)ak + PREFETCH_A_BYTES, _MM_HINT_T0);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            const __m512 ai = _mm512_set1_ps(ak[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, w0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, w1, acc[i][1]);
        }
        ak += MR;
        wk += NR;
    }

    for (int i = 0; i < MR; i++) {
        float *ci = c + i * ldc;
        if (accumulate) {
            acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_loadu_ps(ci));
            acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_loadu_ps(ci + 16));
        }
        _mm512_storeu_ps(ci, acc[i][0]);
        _mm512_storeu_ps(ci + 16, acc[i][1]);
    }
}

const atb_sgemm_kernel atb_sgemm_kernel_avx512_12x32 = {
    .name = "avx512 intrinsics 12x32",
    .mr = MR,
    .nr = NR,
    .kernel = sgemm_kernel_avx512_12x32,
};
