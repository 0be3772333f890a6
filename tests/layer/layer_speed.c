/*
 * Speed driver for the encoder layer (not a test): measures a 16-accumulator
 * FMA peak loop (AVX-512 and AVX2, one thread) in the same run, then the
 * packed SGEMM at M=1024, N=2048, K=512 for each kernel, the layer's four
 * GEMM shapes and its attention alone, and the whole layer for each family,
 * and prints GFLOP/s and the fraction of the matching peak. Each figure is
 * the best of --repeat runs (default 7), because the machine is shared. A
 * short peak sample runs before every timed run, and the peak used is the
 * best of all samples, so a quiet moment counts for both sides of a ratio.
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

/* With one thread the clock is the process CPU time, so time spent
   descheduled on the shared machine is not counted. With more threads it
   is wall time, because CPU time would add the threads up. */
static clockid_t timing_clock = CLOCK_PROCESS_CPUTIME_ID;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(timing_clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The peak loops are written in assembly so that the accumulators stay in
   registers: 16 independent zmm FMA chains (AVX-512), 14 ymm chains (AVX2,
   two registers hold the operands). Operands are zero, so no denormals.
   Each returns FLOP/s. */
__attribute__((target("avx512f"))) static double peak_avx512(int64_t iterations)
{
    const double t0 = now_s();
    int64_t count = iterations;
    __asm__ volatile(
        "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"
        "vpxord %%zmm1, %%zmm1, %%zmm1\n\t"
        "vpxord %%zmm2, %%zmm2, %%zmm2\n\t"
        "vpxord %%zmm3, %%zmm3, %%zmm3\n\t"
        "vpxord %%zmm4, %%zmm4, %%zmm4\n\t"
        "vpxord %%zmm5, %%zmm5, %%zmm5\n\t"
        "vpxord %%zmm6, %%zmm6, %%zmm6\n\t"
        "vpxord %%zmm7, %%zmm7, %%zmm7\n\t"
        "vpxord %%zmm8, %%zmm8, %%zmm8\n\t"
        "vpxord %%zmm9, %%zmm9, %%zmm9\n\t"
        "vpxord %%zmm10, %%zmm10, %%zmm10\n\t"
        "vpxord %%zmm11, %%zmm11, %%zmm11\n\t"
        "vpxord %%zmm12, %%zmm12, %%zmm12\n\t"
        "vpxord %%zmm13, %%zmm13, %%zmm13\n\t"
        "vpxord %%zmm14, %%zmm14, %%zmm14\n\t"
        "vpxord %%zmm15, %%zmm15, %%zmm15\n\t"
        "vpxord %%zmm16, %%zmm16, %%zmm16\n\t"
        "vpxord %%zmm17, %%zmm17, %%zmm17\n\t"
        "1:\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm0\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm1\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm2\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm3\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm4\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm5\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm6\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm7\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm8\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm9\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm10\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm11\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm12\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm13\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm14\n\t"
        "vfmadd231ps %%zmm16, %%zmm17, %%zmm15\n\t"
        "dec %0\n\t"
        "jnz 1b\n\t"
        "vzeroupper\n\t"
        : "+r"(count)
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
          "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "cc");
    return (double)iterations * 16.0 * 16.0 * 2.0 / (now_s() - t0);
}

__attribute__((target("avx2,fma"))) static double peak_avx2(int64_t iterations)
{
    const double t0 = now_s();
    int64_t count = iterations;
    __asm__ volatile(
        "vpxor %%ymm0, %%ymm0, %%ymm0\n\t"
        "vpxor %%ymm1, %%ymm1, %%ymm1\n\t"
        "vpxor %%ymm2, %%ymm2, %%ymm2\n\t"
        "vpxor %%ymm3, %%ymm3, %%ymm3\n\t"
        "vpxor %%ymm4, %%ymm4, %%ymm4\n\t"
        "vpxor %%ymm5, %%ymm5, %%ymm5\n\t"
        "vpxor %%ymm6, %%ymm6, %%ymm6\n\t"
        "vpxor %%ymm7, %%ymm7, %%ymm7\n\t"
        "vpxor %%ymm8, %%ymm8, %%ymm8\n\t"
        "vpxor %%ymm9, %%ymm9, %%ymm9\n\t"
        "vpxor %%ymm10, %%ymm10, %%ymm10\n\t"
        "vpxor %%ymm11, %%ymm11, %%ymm11\n\t"
        "vpxor %%ymm12, %%ymm12, %%ymm12\n\t"
        "vpxor %%ymm13, %%ymm13, %%ymm13\n\t"
        "vpxor %%ymm14, %%ymm14, %%ymm14\n\t"
        "vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
        "1:\n\t"
        "vfmadd231ps %%ymm14, %%ymm15, %%ymm0\n\t"
        "vfmadd231ps %%ymm14, %%ymm15, %%ymm1\n\t"
        "vfmadd231ps %%ymm14, %%ymm15, %%ymm2\n\t"
        "vfmadd231ps %%ymm14, %%ymm15, %%ymm3\n\t"
        "vfmadd231ps %%ymm14, %%ymm15, %%ymm4\n\t"
        "vfmadd231ps %%ymm14, %%ymm15, %%ymm5\n\t"
        "vfmadd231ps %%ymm14, %%ymm15, %%ymm6\n\t"
        "vfmadd231ps %%ymm14, %%ymm15, %%ymm7\n\t"
        "vfmadd231ps %%ymm14, %%ymm15, %%ymm8\n\t"
        "vfmadd231ps %%ymm14, %%ymm15, %%ymm9\n\t"
        "vfmadd231ps %%ymm14, %%ymm15, %%ymm10\n\t"
        "vfmadd231ps %%ymm14, %%ymm15, %%ymm11\n\t"
        "vfmadd231ps %%ymm14, %%ymm15, %%ymm12\n\t"
        "vfmadd231ps %%ymm14, %%ymm15, %%ymm13\n\t"
        "dec %0\n\t"
        "jnz 1b\n\t"
        "vzeroupper\n\t"
        : "+r"(count)
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
          "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
    return (double)iterations * 14.0 * 8.0 * 2.0 / (now_s() - t0);
}

static double best_peak512, best_peak256;

/* About 5 ms of each peak loop; keeps the best rate seen. */
static void sample_peaks(void)
{
    const double v512 = peak_avx512(1000000), v256 = peak_avx2(2000000);
    best_peak512 = v512 > best_peak512 ? v512 : best_peak512;
    best_peak256 = v256 > best_peak256 ? v256 : best_peak256;
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
        sample_peaks();
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
    if (n_threads > 1)
        timing_clock = CLOCK_MONOTONIC;
    printf("clock: %s\n", n_threads > 1 ? "wall (CLOCK_MONOTONIC)" : "process CPU time");

    /* Results are printed at the end, against the best peak of the run. */
    char lines[32][320];
    double line_flops_per_s[32];
    int line_isa512[32];
    int n_lines = 0;

    /* The GEMM alone at M=1024, N=2048, K=512 for every kernel. */
    struct {
        const char *name;
        const atb_layer_level *level;
        const atb_sgemm_kernel *kernel;
        int is512;
    } kernels[] = {
        {"avx512 intrinsics", &atb_layer_level_avx512, &atb_sgemm_kernel_avx512_12x32, 1},
        {"portable avx512", &atb_layer_level_avx512, atb_layer_level_avx512.portable_kernel, 1},
        {"avx2 intrinsics", &atb_layer_level_avx2, &atb_sgemm_kernel_avx2_6x16, 0},
        {"portable avx2", &atb_layer_level_avx2, atb_layer_level_avx2.portable_kernel, 0},
    };
    for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++) {
        const double t = time_gemm(kernels[i].level, kernels[i].kernel, 1024, 2048, 512,
                                   ATB_EPILOGUE_NONE, n_threads, repeat);
        const double flops = 2.0 * 1024 * 2048 * 512;
        snprintf(lines[n_lines], sizeof(lines[0]), "GEMM 1024x2048x512 %-18s %-28s",
                 kernels[i].name, kernels[i].kernel->name);
        line_flops_per_s[n_lines] = flops / t;
        line_isa512[n_lines++] = kernels[i].is512;
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
        snprintf(lines[n_lines], sizeof(lines[0]), "layer GEMM %-22s %5lldx%5lldx%5lld %8.3f ms",
                 shapes[i].what, (long long)shapes[i].m, (long long)shapes[i].n,
                 (long long)shapes[i].k, t * 1e3);
        line_flops_per_s[n_lines] = flops / t;
        line_isa512[n_lines++] = 1;
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
        int is512;
    } fams[] = {
        {"simd-avx512", atb_simd_avx512_encoder_plan, atb_simd_avx512_encoder_run,
         atb_simd_avx512_encoder_destroy, atb_simd_avx512_encoder_describe, 1},
        {"simd-avx2", atb_simd_avx2_encoder_plan, atb_simd_avx2_encoder_run,
         atb_simd_avx2_encoder_destroy, atb_simd_avx2_encoder_describe, 0},
        {"blocked", atb_blocked_encoder_plan, atb_blocked_encoder_run,
         atb_blocked_encoder_destroy, atb_blocked_encoder_describe, 1},
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
            sample_peaks();
            const double t0 = now_s();
            fams[f].run(plan, t.x, NULL, out, err, sizeof(err));
            const double s = now_s() - t0;
            if (r > 0 && s < best)
                best = s;
        }
        fams[f].destroy(plan);
        snprintf(lines[n_lines], sizeof(lines[0]),
                 "layer %-12s B=1 L=%lld E=%lld H=%lld F=%lld %8.3f ms [%.120s]", fams[f].name,
                 (long long)L, (long long)E, (long long)H, (long long)F, best * 1e3,
                 description);
        line_flops_per_s[n_lines] = flops / best;
        line_isa512[n_lines++] = fams[f].is512;
    }

    const double peak512 = best_peak512 * n_threads, peak256 = best_peak256 * n_threads;
    printf("FMA peak (best sample), %d thread(s): avx512 %.1f GFLOP/s, avx2 %.1f GFLOP/s\n",
           n_threads, peak512 * 1e-9, peak256 * 1e-9);
    for (int i = 0; i < n_lines; i++) {
        const double peak = line_isa512[i] ? peak512 : peak256;
        printf("%s %7.1f GFLOP/s  %.3f of the %s peak\n", lines[i], line_flops_per_s[i] * 1e-9,
               line_flops_per_s[i] / peak, line_isa512[i] ? "avx512" : "avx2");
    }
    free(out);
    atb_tensors_free(&t);
    return 0;
}
