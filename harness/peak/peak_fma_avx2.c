/*
 * AVX2 FMA peak loop: 12 independent 8-lane f32 accumulators, each updated
 * by one vfmadd per round. Compiled with the AVX2 and FMA flags; called only
 * when the CPU has them.
 *
 * The accumulators are separate variables, not an array, so that the
 * compiler keeps each in a register instead of interchanging the loops over
 * memory.
 */
#include "harness/peak/peak_kernels.h"

#include <immintrin.h>

_Static_assert(ATB_PEAK_ACCUMULATORS_AVX2 == 12, "the loop below is written for 12 accumulators");

double atb_peak_fma_avx2_f32(int64_t n_rounds)
{
    /* a = a * m + c converges to c / (1 - m), so the values stay normal and
       finite however long the loop runs. */
    const __m256 m = _mm256_set1_ps(0.999999f);
    const __m256 c = _mm256_set1_ps(1e-6f);
    __m256 a0 = _mm256_set1_ps((float)0);
    __m256 a1 = _mm256_set1_ps((float)1);
    __m256 a2 = _mm256_set1_ps((float)2);
    __m256 a3 = _mm256_set1_ps((float)3);
    __m256 a4 = _mm256_set1_ps((float)4);
    __m256 a5 = _mm256_set1_ps((float)5);
    __m256 a6 = _mm256_set1_ps((float)6);
    __m256 a7 = _mm256_set1_ps((float)7);
    __m256 a8 = _mm256_set1_ps((float)8);
    __m256 a9 = _mm256_set1_ps((float)9);
    __m256 a10 = _mm256_set1_ps((float)10);
    __m256 a11 = _mm256_set1_ps((float)11);

    for (int64_t r = 0; r < n_rounds; r++) {
        a0 = _mm256_fmadd_ps(a0, m, c);
        a1 = _mm256_fmadd_ps(a1, m, c);
        a2 = _mm256_fmadd_ps(a2, m, c);
        a3 = _mm256_fmadd_ps(a3, m, c);
        a4 = _mm256_fmadd_ps(a4, m, c);
        a5 = _mm256_fmadd_ps(a5, m, c);
        a6 = _mm256_fmadd_ps(a6, m, c);
        a7 = _mm256_fmadd_ps(a7, m, c);
        a8 = _mm256_fmadd_ps(a8, m, c);
        a9 = _mm256_fmadd_ps(a9, m, c);
        a10 = _mm256_fmadd_ps(a10, m, c);
        a11 = _mm256_fmadd_ps(a11, m, c);
    }

    /* Keep the result observable so the loop is not removed. */
    a0 = _mm256_add_ps(a0, a1);
    a2 = _mm256_add_ps(a2, a3);
    a4 = _mm256_add_ps(a4, a5);
    a6 = _mm256_add_ps(a6, a7);
    a8 = _mm256_add_ps(a8, a9);
    a10 = _mm256_add_ps(a10, a11);
    a0 = _mm256_add_ps(a0, a2);
    a4 = _mm256_add_ps(a4, a6);
    a8 = _mm256_add_ps(a8, a10);
    a0 = _mm256_add_ps(a0, a4);
    a0 = _mm256_add_ps(a0, a8);
    volatile float sink = _mm256_cvtss_f32(a0);
    (void)sink;

    return (double)n_rounds * 12 * 8 * 2;
}
