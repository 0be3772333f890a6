/*
 * Speed driver for the encoder layer (not a test): measures a 16-accumulator
 * FMA peak loop (AVX-512 and AVX2, one thread) in the same run, then the
 * packed SGEMM at M=1024, N=2048, K=512 for each kernel, the layer's four
 * GEMM shapes and its attention alone, and the whole layer for each family,
 * and prints GFLOP/s and the fraction of the matching peak. Each figure is
 * the best of --repeat runs (default 7), because the machine is shared.
 *
 * usage: layer_speed [--seq L] [--embed E] [--heads H] [--ffn F]
 *                    [--threads N] [--repeat R] [--act relu|gelu]
 */
#include "impl/layer/layer.h"
#include "impl/layer/layer_internal.h"

#include "harness/problem.h"
#include "harness/registry.h"

#include <immintrin.h>
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

/* 16 independent FMA chains of zmm registers; returns FLOP/s. */
__attribute__((target("avx512f"))) static double peak_avx512(int64_t iterations)
{
    __m512 acc[16];
    for (int i = 0; i < 16; i++)
        acc[i] = _mm512_set1_ps((float)i);
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    const double t0 = now_s();
    for (int64_t it = 0; it < iterations; it++) {
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], a, b);
        __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]),
                         "+v"(acc[4]), "+v"(acc[5]), "+v"(acc[6]), "+v"(acc[7]));
    }
    const double seconds = now_s() - t0;
    __m512 sum = acc[0];
    for (int i = 1; i < 16; i++)
        sum = _mm512_add_ps(sum, acc[i]);
    volatile float sink = _mm512_reduce_add_ps(sum);
    (void)sink;
    return (double)iterations * 16.0 * 16.0 * 2.0 / seconds;
}

__attribute__((target("avx2,fma"))) static double peak_avx2(int64_t iterations)
{
    __m256 acc[16];
    for (int i = 0; i < 16; i++)
        acc[i] = _mm256_set1_ps((float)i);
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    const double t0 = now_s();
    for (int64_t it = 0; it < iterations; it++) {
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], a, b);
        __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]));
    }
    const double seconds = now_s() - t0;
    float lanes[8];
    __m256 sum = acc[0];
    for (int i = 1; i < 16; i++)
        sum = _mm256_add_ps(sum, acc[i]);
    _mm256_storeu_ps(lanes, sum);
    volatile float sink = lanes[0];
    (void)sink;
    return (double)iterations * 16.0 * 8.0 * 2.0 / seconds;
}

static double best_peak(double (*fn)(int64_t), int repeat)
{
    double best = 0.0;
    for (int r = 0; r < repeat; r++) {
        const double v = fn(20000000);
        best = v > best ? v : best;
    }
    return best;
}

/* Best seconds of one GEMM over repeat runs. */
static double time_gemm(const atb_layer_level *level, const atb_sgemm_kernel *kernel, int64_t m,
                        int64_t n, int64_t k, atb_epilogue_kind kind, int n_threads, int repeat)
{
    float *a = malloc(sizeof(float) * (size_t)(m * k));
    float *w = malloc(sizeof(float) * (size_t)(n * k));
    float *c = malloc(sizeof(float) * (size_t)(m * n));
    float *res = malloc(sizeof(float) * (size_t)(m * n));
    float *bias = malloc(sizeof(float) * (size_t)n);
    float *scratch = aligned_alloc(64, sizeof(float) * atb_sgemm_scratch_per_thread(kernel->mr)
                                           * (size_t)n_threads);
    for (int64_t i = 0; i < m * k; i++)
        a[i] = (float)(i % 13) * 0.01f;
    for (int64_t i = 0; i < n * k; i++)
        w[i] = (float)(i % 7) * 0.01f;
    for (int64_t i = 0; i < m * n; i++)
        res[i] = 0.5f;
    for (int64_t i = 0; i < n; i++)
        bias[i] = 0.1f;
    atb_packed_weight pw;
    atb_packed_weight_init(&pw, w, n, k, kernel->nr);
    const atb_epilogue ep = {.kind = kind, .bias = bias, .residual = res, .ld_residual = n};
    double best = 1e30;
    for (int r = 0; r < repeat + 1; r++) { /* the first run warms caches and pages */
        const double t0 = now_s();
        level->sgemm(kernel, m, a, k, &pw, c, n, &ep, scratch, n_threads);
        const double t = now_s() - t0;
        if (r > 0 && t < best)
            best = t;
    }
    atb_packed_weight_free(&pw);
    free(a);
    free(w);
    free(c);
    free(res);
    free(bias);
    free(scratch);
    return best;
}

int main(int argc, char **argv)
{
    int64_t L = 1024, E = 512, H = 8, F = 2048;
    int n_threads = 1, repeat = 7;
    atb_activation act = ATB_ACT_GELU;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seq"))
            L = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--embed"))
            E = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--heads"))
            H = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--ffn"))
            F = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            n_threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--act"))
            act = strcmp(argv[i + 1], "relu") ? ATB_ACT_GELU : ATB_ACT_RELU;
        else {
            fprintf(stderr, "usage: layer_speed [--seq L] [--embed E] [--heads H] [--ffn F] "
                            "[--threads N] [--repeat R] [--act relu|gelu]\n");
            return 2;
        }
    }
    const unsigned isa = atb_cpu_isa();
    if (!(isa & ATB_ISA_AVX512)) {
        fprintf(stderr, "attnbench: layer_speed needs AVX-512 (this CPU, capped: %s)\n",
                atb_isa_name(isa));
        return 1;
    }
    omp_set_num_threads(n_threads);

    /* Peak, single thread (multiply by the thread count for the team). */
    const double peak512 = best_peak(peak_avx512, repeat) * n_threads;
    const double peak256 = best_peak(peak_avx2, repeat) * n_threads;
    printf("FMA peak, %d thread(s): avx512 %.1f GFLOP/s, avx2 %.1f GFLOP/s\n", n_threads,
           peak512 * 1e-9, peak256 * 1e-9);

    /* The GEMM alone at M=1024, N=2048, K=512 for every kernel. */
    struct {
        const char *name;
        const atb_layer_level *level;
        const atb_sgemm_kernel *kernel;
        double peak;
    } kernels[] = {
        {"avx512 intrinsics", &atb_layer_level_avx512, &atb_sgemm_kernel_avx512_12x32, peak512},
        {"portable avx512", &atb_layer_level_avx512, atb_layer_level_avx512.portable_kernel,
         peak512},
        {"avx2 intrinsics", &atb_layer_level_avx2, &atb_sgemm_kernel_avx2_6x16, peak256},
        {"portable avx2", &atb_layer_level_avx2, atb_layer_level_avx2.portable_kernel, peak256},
    };
    for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++) {
        const double t = time_gemm(kernels[i].level, kernels[i].kernel, 1024, 2048, 512,
                                   ATB_EPILOGUE_NONE, n_threads, repeat);
        const double flops = 2.0 * 1024 * 2048 * 512;
        printf("GEMM 1024x2048x512 %-18s %-28s %7.1f GFLOP/s  %.3f of peak\n",
               kernels[i].name, kernels[i].kernel->name, flops / t * 1e-9,
               flops / t / kernels[i].peak);
    }

    /* The layer's GEMMs with their epilogues (AVX-512 kernel). */
    const int64_t n = L;
    const struct {
        const char *what;
        int64_t m, n, k;
        atb_epilogue_kind kind;
    } shapes[] = {
        {"qkv projection", n, 3 * E, E, ATB_EPILOGUE_BIAS},
        {"out_proj + residual", n, E, E, ATB_EPILOGUE_BIAS_RESIDUAL},
        {"linear1 + gelu", n, F, E, ATB_EPILOGUE_BIAS_GELU},
        {"linear1 + relu", n, F, E, ATB_EPILOGUE_BIAS_RELU},
        {"linear2 + residual", n, E, F, ATB_EPILOGUE_BIAS_RESIDUAL},
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        const double t = time_gemm(&atb_layer_level_avx512, &atb_sgemm_kernel_avx512_12x32,
                                   shapes[i].m, shapes[i].n, shapes[i].k, shapes[i].kind,
                                   n_threads, repeat);
        const double flops = 2.0 * (double)(shapes[i].m * shapes[i].n * shapes[i].k);
        printf("layer GEMM %-22s %5lldx%5lldx%5lld %8.3f ms %7.1f GFLOP/s  %.3f of peak\n",
               shapes[i].what, (long long)shapes[i].m, (long long)shapes[i].n,
               (long long)shapes[i].k, t * 1e3, flops / t * 1e-9, flops / t / peak512);
    }

    /* The whole layer, each family. */
    atb_problem p = {.op = ATB_OP_ENCODER_LAYER, .n_threads = n_threads};
    p.encoder = (atb_encoder_shape){.batch = 1, .seq_len = L, .embed_dim = E, .heads = H,
                                    .ffn_dim = F, .activation = act, .layer_norm_eps = 1e-5};
    atb_tensors t;
    char err[256];
    if (atb_tensors_alloc(&t, &p, err, sizeof(err)) != ATB_OK) {
        fprintf(stderr, "attnbench: %s\n", err);
        return 1;
    }
    atb_tensors_fill_random(&t, 7);
    const atb_encoder_weights w = atb_tensors_weights(&t);
    const double flops = atb_problem_flops(&p, NULL);
    float *out = malloc(sizeof(float) * (size_t)(L * E));
    const struct {
        const char *name;
        atb_status (*plan)(const atb_problem *, const atb_encoder_weights *, void **, char *,
                           size_t);
        atb_status (*run)(void *, const float *, const int32_t *, float *, char *, size_t);
        void (*destroy)(void *);
        void (*describe)(const void *, char *, size_t);
        double peak;
    } fams[] = {
        {"simd-avx512", atb_simd_avx512_encoder_plan, atb_simd_avx512_encoder_run,
         atb_simd_avx512_encoder_destroy, atb_simd_avx512_encoder_describe, peak512},
        {"simd-avx2", atb_simd_avx2_encoder_plan, atb_simd_avx2_encoder_run,
         atb_simd_avx2_encoder_destroy, atb_simd_avx2_encoder_describe, peak256},
        {"blocked", atb_blocked_encoder_plan, atb_blocked_encoder_run,
         atb_blocked_encoder_destroy, atb_blocked_encoder_describe, peak512},
    };
    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        void *plan = NULL;
        if (fams[f].plan(&p, &w, &plan, err, sizeof(err)) != ATB_OK) {
            fprintf(stderr, "attnbench: %s: %s\n", fams[f].name, err);
            continue;
        }
        char description[256];
        fams[f].describe(plan, description, sizeof(description));
        double best = 1e30;
        for (int r = 0; r < repeat + 1; r++) {
            const double t0 = now_s();
            fams[f].run(plan, t.x, NULL, out, err, sizeof(err));
            const double s = now_s() - t0;
            if (r > 0 && s < best)
                best = s;
        }
        fams[f].destroy(plan);
        printf("layer %-12s B=1 L=%lld E=%lld H=%lld F=%lld: %8.3f ms %7.1f GFLOP/s  %.3f of "
               "peak [%s]\n", fams[f].name, (long long)L, (long long)E, (long long)H,
               (long long)F, best * 1e3, flops / best * 1e-9, flops / best / fams[f].peak,
               description);
    }
    free(out);
    atb_tensors_free(&t);
    return 0;
}
