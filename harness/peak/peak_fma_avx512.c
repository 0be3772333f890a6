/*
 * AVX-512 FMA peak loop: 24 independent 16-lane f32 accumulators, each
 * updated by one vfmadd per round. Compiled with the AVX-512 flags; called
 * only when the CPU and OS support AVX-512.
 *
 * The accumulators are separate variables, not an array, so that the
 * compiler keeps each in a register instead of interchanging the loops over
 * memory.
 */
#include "harness/peak/peak_kernels.h"

#include <immintrin.h>

_Static_assert(ATB_PEAK_ACCUMULATORS_AVX512 == 24, "the loop below is written for 24 accumulators");

double atb_peak_fma_avx512_f32(int64_t n_rounds)
{
    /* a = a * m + c converges to c / (1 - m), so the values stay normal and
       finite however long the loop runs. */
    const __m512 m = _mm512_set1_ps(0.999999f);
    const __m512 c = _mm512_set1_ps(1e-6f);
    __m512 a0 = _mm512_set1_ps((float)0);
    __m512 a1 = _mm512_set1_ps((float)1);
    __m512 a2 = _mm512_set1_ps((float)2);
    __m512 a3 = _mm512_set1_ps((float)3);
    __m512 a4 = _mm512_set1_ps((float)4);
    __m512 a5 = _mm512_set1_ps((float)5);
    __m512 a6 = _mm512_set1_ps((float)6);
    __m512 a7 = _mm512_set1_ps((float)7);
    __m512 a8 = _mm512_set1_ps((float)8);
    __m512 a9 = _mm512_set1_ps((float)9);
    __m512 a10 = _mm512_set1_ps((float)10);
    __m512 a11 = _mm512_set1_ps((float)11);
    __m512 a12 = _mm512_set1_ps((float)12);
    __m512 a13 = _mm512_set1_ps((float)13);
    __m512 a14 = _mm512_set1_ps((float)14);
    __m512 a15 = _mm512_set1_ps((float)15);
    __m512 a16 = _mm512_set1_ps((float)16);
    __m512 a17 = _mm512_set1_ps((float)17);
    __m512 a18 = _mm512_set1_ps((float)18);
    __m512 a19 = _mm512_set1_ps((float)19);
    __m512 a20 = _mm512_set1_ps((float)20);
    __m512 a21 = _mm512_set1_ps((float)21);
    __m512 a22 = _mm512_set1_ps((float)22);
    __m512 a23 = _mm512_set1_ps((float)23);

    for (int64_t r = 0; r < n_rounds; r++) {
        a0 = _mm512_fmadd_ps(a0, m, c);
        a1 = _mm512_fmadd_ps(a1, m, c);
        a2 = _mm512_fmadd_ps(a2, m, c);
        a3 = _mm512_fmadd_ps(a3, m, c);
        a4 = _mm512_fmadd_ps(a4, m, c);
        a5 = _mm512_fmadd_ps(a5, m, c);
        a6 = _mm512_fmadd_ps(a6, m, c);
        a7 = _mm512_fmadd_ps(a7, m, c);
        a8 = _mm512_fmadd_ps(a8, m, c);
        a9 = _mm512_fmadd_ps(a9, m, c);
        a10 = _mm512_fmadd_ps(a10, m, c);
        a11 = _mm512_fmadd_ps(a11, m, c);
        a12 = _mm512_fmadd_ps(a12, m, c);
        a13 = _mm512_fmadd_ps(a13, m, c);
        a14 = _mm512_fmadd_ps(a14, m, c);
        a15 = _mm512_fmadd_ps(a15, m, c);
        a16 = _mm512_fmadd_ps(a16, m, c);
        a17 = _mm512_fmadd_ps(a17, m, c);
        a18 = _mm512_fmadd_ps(a18, m, c);
        a19 = _mm512_fmadd_ps(a19, m, c);
        a20 = _mm512_fmadd_ps(a20, m, c);
        a21 = _mm512_fmadd_ps(a21, m, c);
        a22 = _mm512_fmadd_ps(a22, m, c);
        a23 = _mm512_fmadd_ps(a23, m, c);
    }

    /* Keep the result observable so the loop is not removed. */
    a0 = _mm512_add_ps(a0, a1);
    a2 = _mm512_add_ps(a2, a3);
    a4 = _mm512_add_ps(a4, a5);
    a6 = _mm512_add_ps(a6, a7);
    a8 = _mm512_add_ps(a8, a9);
    a10 = _mm512_add_ps(a10, a11);
    a12 = _mm512_add_ps(a12, a13);
    a14 = _mm512_add_ps(a14, a15);
    a16 = _mm512_add_ps(a16, a17);
    a18 = _mm512_add_ps(a18, a19);
    a20 = _mm512_add_ps(a20, a21);
    a22 = _mm512_add_ps(a22, a23);
    a0 = _mm512_add_ps(a0, a2);
    a4 = _mm512_add_ps(a4, a6);
    a8 = _mm512_add_ps(a8, a10);
    a12 = _mm512_add_ps(a12, a14);
    a16 = _mm512_add_ps(a16, a18);
    a20 = _mm512_add_ps(a20, a22);
    a0 = _mm512_add_ps(a0, a4);
    a8 = _mm512_add_ps(a8, a12);
    a16 = _mm512_add_ps(a16, a20);
    a0 = _mm512_add_ps(a0, a8);
    a0 = _mm512_add_ps(a0, a16);
    volatile float sink = _mm512_reduce_add_ps(a0);
    (void)sink;

    return (double)n_rounds * 24 * 16 * 2;
}
