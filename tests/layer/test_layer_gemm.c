/*
 * Packed SGEMM of the encoder layer against a plain double-precision loop.
 * It runs every kernel the CPU can run (portable C at each ISA level, AVX2
 * 6x16, AVX-512 12x32) over odd M, N and K (1, 7, 17, 33, 513, so every
 * edge-tile and K-block path runs), each epilogue, and 1 and 2 threads. The element
 * bound is 8 * sqrt(K) * 2^-24 * sum_k |a_mk w_nk| plus the epilogue's own
 * rounding; a checker self-test proves the bound rejects a result computed
 * with one k term dropped. A NaN in a row of A must reach that row of C
 * through every epilogue.
 */
#include "impl/layer/layer_internal.h"

#include "harness/registry.h"
#include "reference/prng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int n_failures;

typedef struct {
    const char *what;
    const atb_layer_level *level;
    const atb_sgemm_kernel *kernel;
} kernel_case;

static void fill(float *a, size_t n, atb_prng *rng)
{
    for (size_t i = 0; i < n; i++)
        a[i] = atb_prng_uniform(rng, -1.0f, 1.0f);
}

/* Expected value and its error bound at (i, j). */
static void expected_element(const float *a, const float *w, int64_t k, int64_t i, int64_t j,
                             const atb_epilogue *ep, int64_t ld_res, double *value,
                             double *bound)
{
    double dot = 0.0, magnitude = 0.0;
    for (int64_t kk = 0; kk < k; kk++) {
        const double p = (double)a[i * k + kk] * (double)w[j * k + kk];
        dot += p;
        magnitude += fabs(p);
    }
    const double u = ldexp(1.0, -24);
    double err = 8.0 * sqrt((double)(k > 0 ? k : 1)) * u * magnitude;
    switch (ep->kind) {
    case ATB_EPILOGUE_NONE:
        break;
    case ATB_EPILOGUE_BIAS:
        dot += ep->bias[j];
        err += 2.0 * u * fabs(dot);
        break;
    case ATB_EPILOGUE_BIAS_RELU:
        dot += ep->bias[j];
        dot = dot > 0.0 ? dot : 0.0;
        err += 2.0 * u * fabs(dot);
        break;
    case ATB_EPILOGUE_BIAS_GELU: {
        const double pre = dot + ep->bias[j];
        dot = 0.5 * pre * (1.0 + erf(pre / sqrt(2.0)));
        /* |gelu'| <= 1.13, plus a few ulp of the erf and the products */
        err = 1.13 * (err + 2.0 * u * fabs(pre)) + 8.0 * u * fabs(pre);
        break;
    }
    case ATB_EPILOGUE_BIAS_RESIDUAL:
        dot += ep->bias[j] + ep->residual[i * ld_res + j];
        err += 3.0 * u * (fabs(dot) + fabs(ep->bias[j]) + fabs(ep->residual[i * ld_res + j]));
        break;
    }
    *value = dot;
    *bound = err + 1e-30;
}

/* Returns the number of elements of c outside their bound; prints the first. */
static int64_t count_mismatches(const float *a, const float *w, const float *c, int64_t m,
                                int64_t n, int64_t k, const atb_epilogue *ep, const char *label)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double expected, bound;
            expected_element(a, w, k, i, j, ep, n, &expected, &bound);
            const double got = c[i * n + j];
            if (!(fabs(got - expected) <= bound)) {
                if (bad == 0 && label)
                    printf("  %s: first mismatch at (%lld, %lld): expected %.9g got %.9g "
                           "bound %.3g\n", label, (long long)i, (long long)j, expected, got,
                           bound);
                bad++;
            }
        }
    return bad;
}

static void check_gemm(const kernel_case *kc, int64_t m, int64_t n, int64_t k,
                       atb_epilogue_kind kind, int n_threads, uint64_t seed)
{
    atb_prng rng;
    atb_prng_seed(&rng, seed);
    float *a = malloc(sizeof(float) * (size_t)(m * k + 1));
    float *w = malloc(sizeof(float) * (size_t)(n * k + 1));
    float *bias = malloc(sizeof(float) * (size_t)n);
    float *res = malloc(sizeof(float) * (size_t)(m * n));
    float *c = malloc(sizeof(float) * (size_t)(m * n));
    float *scratch = malloc(sizeof(float) * atb_sgemm_scratch_per_thread(kc->kernel->mr) * 2);
    fill(a, (size_t)(m * k), &rng);
    fill(w, (size_t)(n * k), &rng);
    fill(bias, (size_t)n, &rng);
    fill(res, (size_t)(m * n), &rng);
    for (int64_t i = 0; i < m * n; i++)
        c[i] = NAN; /* every element must be written */

    atb_packed_weight pw;
    if (!atb_packed_weight_init(&pw, w, n, k, kc->kernel->nr)) {
        printf("FAIL %s: cannot allocate packed weights\n", kc->what);
        n_failures++;
        return;
    }
    const atb_epilogue ep = {.kind = kind, .bias = bias, .residual = res, .ld_residual = n};
    kc->level->sgemm(kc->kernel, m, a, k, &pw, c, n, &ep, scratch, n_threads);

    char label[160];
    snprintf(label, sizeof(label), "%s M=%lld N=%lld K=%lld epilogue=%d threads=%d", kc->what,
             (long long)m, (long long)n, (long long)k, (int)kind, n_threads);
    const int64_t bad = count_mismatches(a, w, c, m, n, k, &ep, label);
    if (bad) {
        printf("FAIL %s: %lld of %lld elements outside the bound\n", label, (long long)bad,
               (long long)(m * n));
        n_failures++;
    }

    atb_packed_weight_free(&pw);
    free(a);
    free(w);
    free(bias);
    free(res);
    free(c);
    free(scratch);
}

/* The bound must reject a product that lost one k term. */
static void check_bound_rejects_dropped_term(void)
{
    const int64_t m = 17, n = 33, k = 513;
    atb_prng rng;
    atb_prng_seed(&rng, 99);
    float *a = malloc(sizeof(float) * (size_t)(m * k));
    float *w = malloc(sizeof(float) * (size_t)(n * k));
    float *c = malloc(sizeof(float) * (size_t)(m * n));
    fill(a, (size_t)(m * k), &rng);
    fill(w, (size_t)(n * k), &rng);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float acc = 0.0f;
            for (int64_t kk = 0; kk + 1 < k; kk++) /* the last k term is missing */
                acc += a[i * k + kk] * w[j * k + kk];
            c[i * n + j] = acc;
        }
    const atb_epilogue ep = {.kind = ATB_EPILOGUE_NONE};
    const int64_t bad = count_mismatches(a, w, c, m, n, k, &ep, NULL);
    if (bad < m * n / 2) {
        printf("FAIL checker self-test: only %lld of %lld elements of a product missing one "
               "k term were rejected\n", (long long)bad, (long long)(m * n));
        n_failures++;
    }
    free(a);
    free(w);
    free(c);
}

/* A NaN in row r of A makes row r of C NaN after every epilogue (ReLU
   included, as torch.relu does) and leaves the other rows finite. */
static void check_nan_propagates(const kernel_case *kc)
{
    const int64_t m = 13, n = 40, k = 20, nan_row = 5;
    atb_prng rng;
    atb_prng_seed(&rng, 7);
    float a[13 * 20], w[40 * 20], bias[40], res[13 * 40], c[13 * 40];
    float *scratch = malloc(sizeof(float) * atb_sgemm_scratch_per_thread(kc->kernel->mr));
    fill(a, sizeof(a) / sizeof(a[0]), &rng);
    fill(w, sizeof(w) / sizeof(w[0]), &rng);
    fill(bias, sizeof(bias) / sizeof(bias[0]), &rng);
    fill(res, sizeof(res) / sizeof(res[0]), &rng);
    a[nan_row * k + 3] = NAN;
    atb_packed_weight pw;
    if (!scratch || !atb_packed_weight_init(&pw, w, n, k, kc->kernel->nr)) {
        printf("FAIL %s: cannot allocate\n", kc->what);
        n_failures++;
        free(scratch);
        return;
    }
    for (int kind = ATB_EPILOGUE_NONE; kind <= ATB_EPILOGUE_BIAS_RESIDUAL; kind++) {
        const atb_epilogue ep = {.kind = (atb_epilogue_kind)kind, .bias = bias, .residual = res,
                                 .ld_residual = n};
        kc->level->sgemm(kc->kernel, m, a, k, &pw, c, n, &ep, scratch, 1);
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                const int want_nan = i == nan_row;
                if (want_nan != (isnan(c[i * n + j]) != 0)) {
                    printf("FAIL %s epilogue=%d: C[%lld][%lld] = %g, expected %s\n", kc->what,
                           kind, (long long)i, (long long)j, c[i * n + j],
                           want_nan ? "NaN" : "a finite value");
                    n_failures++;
                    i = m;
                    break;
                }
            }
    }
    atb_packed_weight_free(&pw);
    free(scratch);
}

int main(void)
{
    const unsigned isa = atb_cpu_isa();
    kernel_case cases[5];
    int n_cases = 0;
    cases[n_cases++] = (kernel_case){"portable scalar", &atb_layer_level_scalar,
                                     atb_layer_level_scalar.portable_kernel};
    if (isa & ATB_ISA_AVX2) {
        cases[n_cases++] = (kernel_case){"portable avx2", &atb_layer_level_avx2,
                                         atb_layer_level_avx2.portable_kernel};
        cases[n_cases++] = (kernel_case){"avx2 6x16", &atb_layer_level_avx2,
                                         &atb_sgemm_kernel_avx2_6x16};
    } else {
        printf("note: this CPU has no AVX2; the AVX2 kernels are not tested\n");
    }
    if (isa & ATB_ISA_AVX512) {
        cases[n_cases++] = (kernel_case){"portable avx512", &atb_layer_level_avx512,
                                         atb_layer_level_avx512.portable_kernel};
        cases[n_cases++] = (kernel_case){"avx512 12x32", &atb_layer_level_avx512,
                                         &atb_sgemm_kernel_avx512_12x32};
    } else {
        printf("note: this CPU has no AVX-512; the AVX-512 kernels are not tested\n");
    }

    check_bound_rejects_dropped_term();

    for (int c = 0; c < n_cases; c++)
        check_nan_propagates(&cases[c]);

    const int64_t sizes[] = {1, 7, 17, 33};
    uint64_t seed = 1;
    for (int c = 0; c < n_cases; c++) {
        /* Every combination of the small sizes, no epilogue, one thread. */
        for (int im = 0; im < 4; im++)
            for (int in = 0; in < 4; in++)
                for (int ik = 0; ik < 4; ik++)
                    check_gemm(&cases[c], sizes[im], sizes[in], sizes[ik], ATB_EPILOGUE_NONE,
                               1, seed++);

        /* 513 in each dimension: several M, N and K blocks, thin tails. */
        const int64_t big[][3] = {{513, 33, 17}, {17, 513, 33}, {33, 17, 513},
                                  {513, 513, 513}, {250, 70, 300}};
        for (int b = 0; b < 5; b++)
            for (int threads = 1; threads <= 2; threads++)
                check_gemm(&cases[c], big[b][0], big[b][1], big[b][2], ATB_EPILOGUE_NONE,
                           threads, seed++);

        /* Each epilogue on a shape with edges in both directions. */
        for (int kind = ATB_EPILOGUE_BIAS; kind <= ATB_EPILOGUE_BIAS_RESIDUAL; kind++)
            for (int threads = 1; threads <= 2; threads++) {
                check_gemm(&cases[c], 33, 17, 7, (atb_epilogue_kind)kind, threads, seed++);
                check_gemm(&cases[c], 71, 100, 513, (atb_epilogue_kind)kind, threads, seed++);
            }
    }

    if (n_failures) {
        printf("%d GEMM checks failed\n", n_failures);
        return 1;
    }
    printf("all GEMM checks passed for %d kernels\n", n_cases);
    return 0;
}
