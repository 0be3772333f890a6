/*
 * Peak measurement: threads, timing and repetitions around the per-ISA
 * multiply-add loops of harness/peak/, the baseline SSE2 loop, and the
 * memory-bandwidth triad. Baseline x86-64 code: the AVX2 and AVX-512 loops
 * are reached only after atb_cpu_isa() reported the ISA.
 */
#define _GNU_SOURCE /* clock_gettime, sysconf cache sizes */
#include "harness/peak.h"

#include "harness/peak/peak_kernels.h"
#include "harness/registry.h"

#include <emmintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Rounds of the calibration run that sizes the timed repetitions; long
   enough to dwarf the timer's resolution, short enough to be negligible. */
#define CALIBRATION_ROUNDS 20000

/* Maximum number of timed repetitions per measurement. */
#define MAX_REPETITIONS 64

const char *atb_peak_isa_name(atb_peak_isa isa)
{
    switch (isa) {
    case ATB_PEAK_SSE2: return "sse2";
    case ATB_PEAK_AVX2: return "avx2";
    case ATB_PEAK_AVX512: return "avx512";
    }
    return "unknown";
}

atb_peak_isa atb_peak_best_isa(void)
{
    const unsigned isa = atb_cpu_isa();
    if (isa & ATB_ISA_AVX512)
        return ATB_PEAK_AVX512;
    if (isa & ATB_ISA_AVX2)
        return ATB_PEAK_AVX2;
    return ATB_PEAK_SSE2;
}

atb_peak_isa atb_peak_isa_for_impl(unsigned isa_required)
{
    if (isa_required & ATB_ISA_AVX512)
        return ATB_PEAK_AVX512;
    if (isa_required & ATB_ISA_AVX2)
        return ATB_PEAK_AVX2;
    return atb_peak_best_isa();
}

/* The baseline loop: x86-64 has no FMA, so each round is a mulps and an
   addps per accumulator (2 FLOPs per lane), 4 lanes wide. */
double atb_peak_mul_add_sse2_f32(int64_t n_rounds)
{
    /* Separate variables keep each accumulator in a register. */
    const __m128 m = _mm_set1_ps(0.999999f);
    const __m128 c = _mm_set1_ps(1e-6f);
    __m128 a0 = _mm_set1_ps((float)0);
    __m128 a1 = _mm_set1_ps((float)1);
    __m128 a2 = _mm_set1_ps((float)2);
    __m128 a3 = _mm_set1_ps((float)3);
    __m128 a4 = _mm_set1_ps((float)4);
    __m128 a5 = _mm_set1_ps((float)5);
    __m128 a6 = _mm_set1_ps((float)6);
    __m128 a7 = _mm_set1_ps((float)7);
    __m128 a8 = _mm_set1_ps((float)8);
    __m128 a9 = _mm_set1_ps((float)9);
    __m128 a10 = _mm_set1_ps((float)10);
    __m128 a11 = _mm_set1_ps((float)11);

    for (int64_t r = 0; r < n_rounds; r++) {
        a0 = _mm_add_ps(_mm_mul_ps(a0, m), c);
        a1 = _mm_add_ps(_mm_mul_ps(a1, m), c);
        a2 = _mm_add_ps(_mm_mul_ps(a2, m), c);
        a3 = _mm_add_ps(_mm_mul_ps(a3, m), c);
        a4 = _mm_add_ps(_mm_mul_ps(a4, m), c);
        a5 = _mm_add_ps(_mm_mul_ps(a5, m), c);
        a6 = _mm_add_ps(_mm_mul_ps(a6, m), c);
        a7 = _mm_add_ps(_mm_mul_ps(a7, m), c);
        a8 = _mm_add_ps(_mm_mul_ps(a8, m), c);
        a9 = _mm_add_ps(_mm_mul_ps(a9, m), c);
        a10 = _mm_add_ps(_mm_mul_ps(a10, m), c);
        a11 = _mm_add_ps(_mm_mul_ps(a11, m), c);
    }

    a0 = _mm_add_ps(a0, a1);
    a2 = _mm_add_ps(a2, a3);
    a4 = _mm_add_ps(a4, a5);
    a6 = _mm_add_ps(a6, a7);
    a8 = _mm_add_ps(a8, a9);
    a10 = _mm_add_ps(a10, a11);
    a0 = _mm_add_ps(a0, a2);
    a4 = _mm_add_ps(a4, a6);
    a8 = _mm_add_ps(a8, a10);
    a0 = _mm_add_ps(a0, a4);
    a0 = _mm_add_ps(a0, a8);
    volatile float sink = _mm_cvtss_f32(a0);
    (void)sink;

    return (double)n_rounds * ATB_PEAK_ACCUMULATORS_SSE2 * 4 * 2;
}

_Static_assert(ATB_PEAK_ACCUMULATORS_SSE2 == 12, "the baseline loop is written for 12 accumulators");

typedef double (*peak_kernel)(int64_t n_rounds);

/* CPU time of the calling thread in seconds. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Fills result from per-repetition rates. */
static void summarize(double *rates, int n, int n_threads, atb_peak_result *result)
{
    qsort(rates, (size_t)n, sizeof(double), compare_doubles);
    result->n_threads = n_threads;
    result->best = rates[n - 1];
    result->worst = rates[0];
    result->median = n % 2 ? rates[n / 2] : 0.5 * (rates[n / 2 - 1] + rates[n / 2]);
}

static int clamp_repetitions(const atb_peak_settings *s)
{
    if (s->n_repetitions < 1)
        return 1;
    return s->n_repetitions > MAX_REPETITIONS ? MAX_REPETITIONS : s->n_repetitions;
}

atb_status atb_peak_flops(atb_peak_isa isa, int n_threads, const atb_peak_settings *settings,
                          atb_peak_result *result, char *err, size_t err_len)
{
    peak_kernel kernel = atb_peak_mul_add_sse2_f32;
    const unsigned cpu = atb_cpu_isa();
    if (isa == ATB_PEAK_AVX2 || isa == ATB_PEAK_AVX512) {
        const unsigned bit = isa == ATB_PEAK_AVX2 ? ATB_ISA_AVX2 : ATB_ISA_AVX512;
        if (!(cpu & bit)) {
            snprintf(err, err_len, "cannot measure the %s peak: %s is not available on this CPU "
                     "(or ATTNBENCH_MAX_ISA disables it)", atb_peak_isa_name(isa),
                     atb_peak_isa_name(isa));
            return ATB_ERR_UNSUPPORTED;
        }
        kernel = isa == ATB_PEAK_AVX2 ? atb_peak_fma_avx2_f32 : atb_peak_fma_avx512_f32;
    }
    if (n_threads < 1) {
        snprintf(err, err_len, "thread count must be at least 1 (got %d)", n_threads);
        return ATB_ERR_INVALID;
    }

    /* Size the repetitions from one single-thread calibration run; every
       thread then runs that many rounds, so a repetition lasts about
       repetition_s whatever the thread count. */
    double t0 = omp_get_wtime();
    kernel(CALIBRATION_ROUNDS);
    const double calibration_s = omp_get_wtime() - t0;
    double rounds_d = CALIBRATION_ROUNDS * settings->repetition_s / (calibration_s > 1e-9 ? calibration_s : 1e-9);
    const int64_t n_rounds = rounds_d < CALIBRATION_ROUNDS ? CALIBRATION_ROUNDS : (int64_t)rounds_d;

    const int n_reps = clamp_repetitions(settings);
    double rates[MAX_REPETITIONS];
    int threads_ran = n_threads;
    double *thread_gflops = calloc((size_t)n_threads, sizeof(double));
    if (!thread_gflops) {
        snprintf(err, err_len, "cannot allocate %d per-thread results", n_threads);
        return ATB_ERR_NOMEM;
    }

    /* One team runs every repetition, all threads at once. Repetition 0 is
       the warm-up that wakes the cores and settles the clock, and is
       discarded. Each thread's rate is taken over its own CPU time, so time
       slices lost to other processes on a shared machine do not lower the
       peak. On an idle machine CPU time and wall time agree. */
#pragma omp parallel num_threads(n_threads)
    {
        const int t = omp_get_thread_num();
        for (int rep = 0; rep <= n_reps; rep++) {
#pragma omp barrier
            const double cpu_start_s = thread_cpu_s();
            const double flops = kernel(n_rounds);
            const double cpu_s = thread_cpu_s() - cpu_start_s;
            thread_gflops[t] = cpu_s > 0.0 ? flops / cpu_s / 1e9 : 0.0;
#pragma omp barrier
#pragma omp single
            {
                threads_ran = omp_get_num_threads();
                double sum = 0.0;
                for (int i = 0; i < threads_ran; i++)
                    sum += thread_gflops[i];
                if (rep > 0)
                    rates[rep - 1] = sum;
            }
        }
    }
    free(thread_gflops);

    summarize(rates, n_reps, threads_ran, result);
    return ATB_OK;
}

size_t atb_peak_triad_array_bytes(void)
{
    /* The cap keeps the run short and the memory use bounded where the
       reported cache is huge (virtual machines may report the host's). */
    const size_t min_bytes = (size_t)64 << 20, max_bytes = (size_t)256 << 20;
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (l3 <= 0)
        l3 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    const size_t bytes = l3 > 0 ? 4 * (size_t)l3 : min_bytes;
    if (bytes < min_bytes)
        return min_bytes;
    return bytes > max_bytes ? max_bytes : bytes;
}

/* Runs n_passes of a = b + 3 c on one thread team. */
static void triad_passes(double *restrict a, const double *restrict b, const double *restrict c,
                         size_t n, int n_passes, int n_threads, int *threads_ran)
{
#pragma omp parallel num_threads(n_threads)
    {
#pragma omp single nowait
        *threads_ran = omp_get_num_threads();
        for (int pass = 0; pass < n_passes; pass++) {
#pragma omp for schedule(static)
            for (size_t i = 0; i < n; i++)
                a[i] = b[i] + 3.0 * c[i];
        }
    }
}

atb_status atb_peak_triad(int n_threads, size_t array_bytes, const atb_peak_settings *settings,
                          atb_peak_result *result, char *err, size_t err_len)
{
    if (n_threads < 1) {
        snprintf(err, err_len, "thread count must be at least 1 (got %d)", n_threads);
        return ATB_ERR_INVALID;
    }
    const size_t n = array_bytes / sizeof(double);
    double *a = malloc(n * sizeof(double));
    double *b = malloc(n * sizeof(double));
    double *c = malloc(n * sizeof(double));
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        snprintf(err, err_len, "cannot allocate 3 x %zu bytes for the bandwidth arrays",
                 n * sizeof(double));
        return ATB_ERR_NOMEM;
    }

    /* First touch with the same static schedule as the triad, so each
       thread's pages sit on its own NUMA node. */
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (size_t i = 0; i < n; i++) {
        a[i] = 0.0;
        b[i] = 1.0;
        c[i] = 2.0;
    }

    const int n_reps = clamp_repetitions(settings);
    double rates[MAX_REPETITIONS];
    int threads_ran = n_threads;

    /* A discarded warm-up pass times one pass; each timed repetition then
       runs enough passes to last about repetition_s. */
    double t0 = omp_get_wtime();
    triad_passes(a, b, c, n, 1, n_threads, &threads_ran);
    const double pass_s = omp_get_wtime() - t0;
    int n_passes = pass_s > 0.0 ? (int)(settings->repetition_s / pass_s + 0.5) : 1;
    if (n_passes < 1)
        n_passes = 1;

    for (int rep = 0; rep < n_reps; rep++) {
        t0 = omp_get_wtime();
        triad_passes(a, b, c, n, n_passes, n_threads, &threads_ran);
        const double elapsed_s = omp_get_wtime() - t0;
        rates[rep] = 3.0 * (double)(n * sizeof(double)) * n_passes / elapsed_s / 1e9;
    }

    /* Check one element so the stores are observable and correct. */
    const int ok = a[n / 2] == 7.0;
    free(a);
    free(b);
    free(c);
    if (!ok) {
        snprintf(err, err_len, "the bandwidth triad computed a wrong value");
        return ATB_ERR_INTERNAL;
    }
    summarize(rates, n_reps, threads_ran, result);
    return ATB_OK;
}
