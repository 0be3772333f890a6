/*
 * Timing driver for the speed targets of blocked, simd-avx2 and
 * simd-avx512 (a developer tool, not a test). It measures the FMA peak of
 * each ISA and the memory read bandwidth in the same run as the kernels,
 * alternating with them. It keeps the best of several rounds because the
 * machine is shared.
 *
 * usage: attention_kernels_timing [targets | IMPL B H Hkv Lq Lk D CAUSAL THREADS]
 * Times are CPU seconds over the thread count (see cpu_s), so other
 * processes on the shared machine distort them less than wall time; the
 * best wall time is printed too.
 * Prints one line per measurement: time, GFLOP/s (FLOPs by the project's
 * convention, 4*D per allowed query-key pair) and the fraction of the
 * peak of the implementation's ISA at the same thread count; for decode
 * shapes also the K+V bytes per second against the measured bandwidth.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "harness/problem.h"
#include "harness/registry.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of all threads of the process. The machine is shared, so a
   thread may wait for a core. CPU time divided by the thread count is the
   time the run would take with its cores to itself. Idle OpenMP threads
   spin, so load imbalance still counts. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* === Peak === */

#define PEAK_ITERATIONS 5000000

/* 16 independent accumulators: enough to cover a 4-cycle FMA latency on
   two pipes twice over. Returns FLOPs done. */
__attribute__((target("avx512f"), noinline)) static double fma_loop_avx512(float *sink)
{
    __m512 acc[16];
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 16; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < PEAK_ITERATIONS; it++)
        for (int i = 0; i < 16; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __m512 sum = acc[0];
    for (int i = 1; i < 16; i++)
        sum = _mm512_add_ps(sum, acc[i]);
    *sink = _mm512_reduce_add_ps(sum);
    return 2.0 * 16 * 16 * (double)PEAK_ITERATIONS;
}

/* AVX2 has 16 registers, so 16 accumulators and the two constants would
   spill and chain through memory; 14 accumulators still cover the FMA
   latency on two pipes. */
#define AVX2_ACCUMULATORS 14

__attribute__((target("avx2,fma"), noinline)) static double fma_loop_avx2(float *sink)
{
    __m256 acc[AVX2_ACCUMULATORS];
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < AVX2_ACCUMULATORS; i++)
        acc[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < PEAK_ITERATIONS; it++)
        for (int i = 0; i < AVX2_ACCUMULATORS; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __m256 sum = acc[0];
    for (int i = 1; i < AVX2_ACCUMULATORS; i++)
        sum = _mm256_add_ps(sum, acc[i]);
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    *sink = lanes[0] + lanes[7];
    return 2.0 * AVX2_ACCUMULATORS * 8 * (double)PEAK_ITERATIONS;
}

/* GFLOP/s of the FMA loop on n_threads threads at once. */
static double measure_peak(unsigned isa, int n_threads)
{
    double total_flops = 0.0;
    float sinks[64];
    const double start = cpu_s();
#pragma omp parallel num_threads(n_threads) reduction(+ : total_flops)
    {
        float *sink = &sinks[omp_get_thread_num() % 64];
        total_flops += isa == ATB_ISA_AVX512 ? fma_loop_avx512(sink) : fma_loop_avx2(sink);
    }
    return total_flops / ((cpu_s() - start) / n_threads) / 1e9;
}

/* === Bandwidth === */

#define BANDWIDTH_BYTES ((size_t)512 << 20)

/* GB/s of reading a 512 MiB buffer (16 times the L3) on n_threads threads.
   Plain C with 16 lane sums: GCC vectorizes it with baseline SSE2, which
   issues loads faster than memory delivers them. */
static double measure_bandwidth(const float *buffer, int n_threads)
{
    const size_t n = BANDWIDTH_BYTES / sizeof(float);
    double sink = 0.0;
    const double start = cpu_s();
#pragma omp parallel for num_threads(n_threads) schedule(static) reduction(+ : sink)
    for (size_t block = 0; block < n / 64; block++) {
        const float *p = buffer + block * 64;
        float lanes[16] = {0};
        for (int i = 0; i < 64; i += 16)
            for (int lane = 0; lane < 16; lane++)
                lanes[lane] += p[i + lane];
        sink += lanes[0] + lanes[15];
    }
    const double seconds = (cpu_s() - start) / n_threads;
    if (sink == 12345.678)
        printf("(sink)\n");
    return (double)BANDWIDTH_BYTES / seconds / 1e9;
}

/* === Kernel timing === */

typedef struct {
    const char *impl;
    atb_problem problem;
    int decode; /* also report bytes per second */
} timing_case;

/* Reads 128 MiB (four times the L3) so that the next run finds none of
   its inputs in cache. */
static void evict_caches(const float *buffer)
{
    volatile float sink = 0.0f;
    float sum = 0.0f;
    for (size_t i = 0; i < ((size_t)128 << 20) / sizeof(float); i += 16)
        sum += buffer[i];
    sink = sum;
    (void)sink;
}

/* Best time of one run over several repetitions, in CPU seconds divided
   by the thread count; *wall_s gets the best wall-clock time. With
   evict_buffer, caches are flushed before each run (decode shapes, whose
   K and V would otherwise be partly served from L3). */
static double time_kernel(const atb_impl *impl, const atb_problem *p, atb_tensors *t,
                          float *out, int repetitions, const float *evict_buffer,
                          double *wall_s)
{
    char err[256];
    void *plan = NULL;
    if (impl->plan(p, NULL, &plan, err, sizeof(err)) != ATB_OK) {
        fprintf(stderr, "attnbench: plan of %s failed: %s\n", impl->name, err);
        return -1.0;
    }
    atb_run_args args = atb_tensors_args(t, out);
    double best = 1e30;
    *wall_s = 1e30;
    impl->run(plan, &args, err, sizeof(err)); /* warm-up */
    for (int r = 0; r < repetitions; r++) {
        if (evict_buffer)
            evict_caches(evict_buffer);
        const double start = cpu_s(), start_wall = now_s();
        if (impl->run(plan, &args, err, sizeof(err)) != ATB_OK) {
            fprintf(stderr, "attnbench: run of %s failed: %s\n", impl->name, err);
            impl->destroy(plan);
            return -1.0;
        }
        const double seconds = (cpu_s() - start) / p->n_threads, wall = now_s() - start_wall;
        best = seconds < best ? seconds : best;
        *wall_s = wall < *wall_s ? wall : *wall_s;
    }
    impl->destroy(plan);
    return best;
}

static atb_problem attention(int64_t B, int64_t H, int64_t Hkv, int64_t Lq, int64_t Lk,
                             int64_t D, atb_causal causal, int n_threads)
{
    atb_problem p;
    memset(&p, 0, sizeof(p));
    p.op = ATB_OP_ATTENTION;
    p.attention = (atb_attention_shape){.batch = B, .heads = H, .kv_heads = Hkv, .q_len = Lq,
                                        .kv_len = Lk, .head_dim = D,
                                        .scale = 1.0 / sqrt((double)D), .causal = causal};
    p.n_threads = n_threads;
    return p;
}

static void run_case(const timing_case *c, const float *bandwidth_buffer, int rounds)
{
    const atb_impl *impl = atb_registry_find(c->impl);
    char why[256];
    if (!impl || !atb_impl_runs_here(impl, why, sizeof(why))) {
        printf("%s: not run (%s)\n", c->impl, impl ? why : "not registered");
        return;
    }
    const atb_problem *p = &c->problem;
    const atb_attention_shape *s = &p->attention;
    const unsigned isa = strcmp(c->impl, "simd-avx2") == 0 ? ATB_ISA_AVX2 : ATB_ISA_AVX512;

    atb_tensors t;
    char err[256];
    if (atb_tensors_alloc(&t, p, err, sizeof(err)) != ATB_OK) {
        fprintf(stderr, "attnbench: %s\n", err);
        return;
    }
    atb_tensors_fill_random(&t, 1);
    float *out = malloc(atb_problem_output_count(p) * sizeof(float));
    const double flops = atb_problem_flops(p, NULL);
    const double bytes = 2.0 * (double)(s->batch * s->kv_heads * s->kv_len * s->head_dim) * 4;
    const int repetitions = c->decode ? 5 : 1;

    /* Peak (or bandwidth) and kernel back to back, best of the rounds. */
    double best_time = 1e30, best_wall = 1e30, best_peak = 0.0, best_bandwidth = 0.0;
    for (int r = 0; r < rounds; r++) {
        const double peak = measure_peak(isa, p->n_threads);
        best_peak = peak > best_peak ? peak : best_peak;
        if (c->decode) {
            const double bandwidth = measure_bandwidth(bandwidth_buffer, p->n_threads);
            best_bandwidth = bandwidth > best_bandwidth ? bandwidth : best_bandwidth;
        }
        double wall;
        const double seconds = time_kernel(impl, p, &t, out, repetitions,
                                           c->decode ? bandwidth_buffer : NULL, &wall);
        if (seconds > 0 && seconds < best_time)
            best_time = seconds;
        if (seconds > 0 && wall < best_wall)
            best_wall = wall;
    }
    const double gflops = flops / best_time / 1e9;
    printf("%-12s B=%lld H=%lld Hkv=%lld Lq=%lld Lk=%lld D=%lld %-12s threads=%d: "
           "%.3f ms (wall %.3f), %.1f GFLOP/s, %s peak %.1f GFLOP/s, fraction %.3f",
           c->impl, (long long)s->batch, (long long)s->heads, (long long)s->kv_heads,
           (long long)s->q_len, (long long)s->kv_len, (long long)s->head_dim,
           atb_causal_name(s->causal), p->n_threads, best_time * 1e3, best_wall * 1e3, gflops,
           atb_isa_name(isa), best_peak, gflops / best_peak);
    if (c->decode)
        printf(", K+V %.1f GB/s of measured %.1f GB/s read bandwidth, fraction %.3f",
               bytes / best_time / 1e9, best_bandwidth, bytes / best_time / 1e9 / best_bandwidth);
    printf("\n");
    fflush(stdout);
    free(out);
    atb_tensors_free(&t);
}

int main(int argc, char **argv)
{
    float *buffer = malloc(BANDWIDTH_BYTES);
    if (!buffer) {
        fprintf(stderr, "attnbench: cannot allocate the bandwidth buffer\n");
        return 1;
    }
    for (size_t i = 0; i < BANDWIDTH_BYTES / sizeof(float); i++)
        buffer[i] = (float)(i & 1023);
    const int rounds = getenv("TIMING_ROUNDS") ? atoi(getenv("TIMING_ROUNDS")) : 10;

    if (argc == 10) {
        const int causal = atb_causal_parse(argv[8]);
        const timing_case c = {
            argv[1],
            attention(atoll(argv[2]), atoll(argv[3]), atoll(argv[4]), atoll(argv[5]),
                      atoll(argv[6]), atoll(argv[7]), causal < 0 ? ATB_CAUSAL_NONE : causal,
                      atoi(argv[9])),
            atoll(argv[5]) <= 4,
        };
        run_case(&c, buffer, rounds);
        free(buffer);
        return 0;
    }
    if (argc != 1 && !(argc == 2 && strcmp(argv[1], "targets") == 0)) {
        fprintf(stderr, "usage: attention_kernels_timing [targets | IMPL B H Hkv Lq Lk D "
                        "CAUSAL THREADS]\n");
        return 2;
    }

    const timing_case cases[] = {
        {"simd-avx512", attention(1, 8, 8, 2048, 2048, 64, ATB_CAUSAL_NONE, 1), 0},
        {"simd-avx512", attention(1, 8, 8, 2048, 2048, 128, ATB_CAUSAL_NONE, 1), 0},
        {"simd-avx512", attention(1, 8, 8, 2048, 2048, 64, ATB_CAUSAL_TOP_LEFT, 1), 0},
        {"simd-avx2", attention(1, 8, 8, 2048, 2048, 64, ATB_CAUSAL_NONE, 1), 0},
        {"blocked", attention(1, 8, 8, 2048, 2048, 64, ATB_CAUSAL_NONE, 1), 0},
        {"simd-avx512", attention(1, 8, 8, 2048, 2048, 64, ATB_CAUSAL_NONE, 2), 0},
        {"simd-avx512", attention(1, 32, 8, 1, 8192, 128, ATB_CAUSAL_NONE, 2), 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i], buffer, rounds);
    free(buffer);
    return 0;
}
