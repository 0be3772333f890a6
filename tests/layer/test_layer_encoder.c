/*
 * The encoder layer of the blocked, simd-avx2 and simd-avx512 families
 * against the naive float32 layer, over a table of shapes and options:
 * relu and gelu, post- and pre-norm, key padding (including a sequence
 * with no valid key), top-left causal, the sinusoidal positional encoding,
 * E in {16, 64, 96, 256, 512}, H in {1, 4, 8}, F in {32, 2048},
 * L in {1, 17, 128}, eps 1e-5 and 1e-6, 1 and 2 threads.
 *
 * Both sides round in f32, so an element may differ by the sum of two f32
 * error budgets. The bound per element is
 *   32 * 2^-24 * sqrt(E + F + L) * max(1, |expected|),
 * the usual sqrt(n) growth of rounding error over the layer's reductions
 * with a constant that leaves room for LayerNorm's amplification (1/std of
 * its input, below 3 for these weights). A checker self-test proves the
 * bound rejects a LayerNorm with the unbiased variance and a tanh GELU.
 *
 * NOTE: the f64 reference (reference/reference.h) replaces naive here once
 * it is implemented; naive is itself f32, so this test compares two f32
 * results rather than one against the exact value.
 */
#include "impl/layer/layer.h"

#include "harness/problem.h"
#include "harness/registry.h"
#include "impl/naive/naive.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t batch, seq_len, embed_dim, heads, ffn_dim;
    atb_activation activation;
    int norm_first;
    atb_causal causal;
    int positional_encoding;
    int padding; /* 0: none, 1: kv_valid_len from the fill, 2: and batch 0 has none valid */
    double eps;
    int n_threads;
} layer_case;

static const layer_case cases[] = {
    {1, 17, 16, 1, 32, ATB_ACT_RELU, 0, ATB_CAUSAL_NONE, 0, 0, 1e-5, 1},
    {2, 17, 64, 4, 32, ATB_ACT_GELU, 0, ATB_CAUSAL_NONE, 0, 1, 1e-5, 1},
    {2, 17, 64, 4, 2048, ATB_ACT_GELU, 1, ATB_CAUSAL_TOP_LEFT, 1, 1, 1e-6, 2},
    {1, 128, 96, 8, 32, ATB_ACT_RELU, 1, ATB_CAUSAL_NONE, 1, 0, 1e-5, 2},
    {1, 1, 256, 8, 2048, ATB_ACT_GELU, 0, ATB_CAUSAL_NONE, 0, 0, 1e-5, 1},
    {3, 17, 96, 4, 32, ATB_ACT_RELU, 0, ATB_CAUSAL_TOP_LEFT, 0, 1, 1e-6, 1},
    {1, 128, 512, 8, 2048, ATB_ACT_GELU, 0, ATB_CAUSAL_NONE, 0, 0, 1e-5, 2},
    {2, 128, 512, 8, 2048, ATB_ACT_RELU, 1, ATB_CAUSAL_TOP_LEFT, 1, 1, 1e-5, 1},
    {2, 128, 256, 4, 2048, ATB_ACT_GELU, 1, ATB_CAUSAL_NONE, 0, 1, 1e-5, 2},
    {2, 1, 64, 1, 32, ATB_ACT_GELU, 1, ATB_CAUSAL_TOP_LEFT, 1, 1, 1e-6, 1},
    {4, 17, 16, 4, 2048, ATB_ACT_RELU, 0, ATB_CAUSAL_TOP_LEFT, 1, 1, 1e-5, 2},
    {2, 17, 64, 8, 32, ATB_ACT_GELU, 0, ATB_CAUSAL_NONE, 0, 2, 1e-5, 1},
    {2, 17, 64, 8, 32, ATB_ACT_RELU, 1, ATB_CAUSAL_TOP_LEFT, 0, 2, 1e-6, 2},
    {1, 128, 16, 4, 32, ATB_ACT_GELU, 1, ATB_CAUSAL_TOP_LEFT, 1, 0, 1e-6, 1},
};

typedef struct {
    const char *name;
    atb_status (*plan)(const atb_problem *, const atb_encoder_weights *, void **, char *,
                       size_t);
    atb_status (*run)(void *, const float *, const int32_t *, float *, char *, size_t);
    void (*destroy)(void *);
    void (*describe)(const void *, char *, size_t);
    unsigned isa;
} family;

static const family families[] = {
    {"blocked", atb_blocked_encoder_plan, atb_blocked_encoder_run, atb_blocked_encoder_destroy,
     atb_blocked_encoder_describe, 0},
    {"simd-avx2", atb_simd_avx2_encoder_plan, atb_simd_avx2_encoder_run,
     atb_simd_avx2_encoder_destroy, atb_simd_avx2_encoder_describe, ATB_ISA_AVX2},
    {"simd-avx512", atb_simd_avx512_encoder_plan, atb_simd_avx512_encoder_run,
     atb_simd_avx512_encoder_destroy, atb_simd_avx512_encoder_describe, ATB_ISA_AVX512},
};

static int n_failures;

static void print_case(const layer_case *c)
{
    printf("B=%lld L=%lld E=%lld H=%lld F=%lld act=%s norm_first=%d causal=%s pe=%d "
           "padding=%d eps=%g threads=%d", (long long)c->batch, (long long)c->seq_len,
           (long long)c->embed_dim, (long long)c->heads, (long long)c->ffn_dim,
           c->activation == ATB_ACT_GELU ? "gelu" : "relu", c->norm_first,
           atb_causal_name(c->causal), c->positional_encoding, c->padding, c->eps,
           c->n_threads);
}

/* Returns the fraction of the bound used by the worst element (> 1 fails);
   NaN in got where expected is finite counts as a failure. */
static double budget_used(const layer_case *c, const float *expected, const float *got,
                          int64_t *first_bad)
{
    const double u = ldexp(1.0, -24);
    const double scale = 32.0 * u * sqrt((double)(c->embed_dim + c->ffn_dim + c->seq_len));
    const int64_t count = c->batch * c->seq_len * c->embed_dim;
    double worst = 0.0;
    *first_bad = -1;
    for (int64_t i = 0; i < count; i++) {
        const double e = expected[i];
        const double bound = scale * (fabs(e) > 1.0 ? fabs(e) : 1.0);
        const double used = fabs((double)got[i] - e) / bound;
        if (!(used <= 1.0) && *first_bad < 0)
            *first_bad = i;
        if (!(used <= worst))
            worst = isnan(used) ? INFINITY : used;
    }
    return worst;
}

static atb_status make_inputs(const layer_case *c, atb_tensors *t, float **expected,
                              atb_naive_fault fault, char *err, size_t err_len)
{
    atb_problem p = {.op = ATB_OP_ENCODER_LAYER, .n_threads = c->n_threads};
    p.encoder = (atb_encoder_shape){
        .batch = c->batch, .seq_len = c->seq_len, .embed_dim = c->embed_dim,
        .heads = c->heads, .ffn_dim = c->ffn_dim, .activation = c->activation,
        .norm_first = c->norm_first, .layer_norm_eps = c->eps, .causal = c->causal,
        .positional_encoding = c->positional_encoding, .has_kv_valid_len = c->padding != 0};
    atb_status st = atb_tensors_alloc(t, &p, err, err_len);
    if (st != ATB_OK)
        return st;
    atb_tensors_fill_random(t, 1000 + (uint64_t)c->embed_dim * 7 + (uint64_t)c->seq_len);
    if (c->padding == 2)
        t->kv_valid_len[0] = 0;

    const size_t n_out = (size_t)(c->batch * c->seq_len * c->embed_dim);
    *expected = malloc(n_out * sizeof(float));
    float *scratch = malloc((atb_naive_encoder_scratch_count(&p.encoder) + 64
                             + (size_t)c->seq_len * 64) * sizeof(float));
    if (!*expected || !scratch) {
        free(scratch);
        snprintf(err, err_len, "out of memory");
        return ATB_ERR_NOMEM;
    }
    const atb_encoder_weights w = atb_tensors_weights(t);
    atb_naive_encoder_f32(&p.encoder, &w, t->x, t->kv_valid_len, *expected, scratch, fault);
    free(scratch);
    return ATB_OK;
}

static void check_case(const layer_case *c)
{
    char err[256];
    atb_tensors t;
    float *expected = NULL;
    if (make_inputs(c, &t, &expected, ATB_NAIVE_FAULT_NONE, err, sizeof(err)) != ATB_OK) {
        printf("FAIL setup: %s\n", err);
        n_failures++;
        return;
    }
    const size_t n_out = (size_t)(c->batch * c->seq_len * c->embed_dim);
    float *got = malloc(n_out * sizeof(float));
    const atb_encoder_weights w = atb_tensors_weights(&t);

    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        const family *fam = &families[f];
        if ((atb_cpu_isa() & fam->isa) != fam->isa) {
            printf("note: %s not run: the CPU has no %s\n", fam->name, atb_isa_name(fam->isa));
            continue;
        }
        void *plan = NULL;
        atb_status st = fam->plan(&t.problem, &w, &plan, err, sizeof(err));
        if (st == ATB_OK) {
            for (size_t i = 0; i < n_out; i++)
                got[i] = NAN;
            st = fam->run(plan, t.x, t.kv_valid_len, got, err, sizeof(err));
        }
        char description[200] = "";
        fam->describe(plan, description, sizeof(description));
        fam->destroy(plan);
        if (st != ATB_OK) {
            printf("FAIL %s ", fam->name);
            print_case(c);
            printf(": %s: %s\n", atb_status_string(st), err);
            n_failures++;
            continue;
        }
        int64_t bad;
        const double used = budget_used(c, expected, got, &bad);
        printf("%s %s ", used <= 1.0 ? "ok  " : "FAIL", fam->name);
        print_case(c);
        printf(": %.3f of the bound [%s]\n", used, description);
        if (used > 1.0 || isnan(used)) {
            printf("  first mismatch at %lld: expected %.9g got %.9g\n", (long long)bad,
                   expected[bad], got[bad]);
            n_failures++;
        }
    }
    free(got);
    free(expected);
    atb_tensors_free(&t);
}

/* The bound must reject known faults: naive with a fault against naive. */
static void check_bound_rejects_faults(void)
{
    const layer_case c = {2, 17, 64, 4, 32, ATB_ACT_GELU, 0, ATB_CAUSAL_NONE, 0, 1, 1e-5, 1};
    const atb_naive_fault faults[] = {ATB_NAIVE_FAULT_LN_UNBIASED, ATB_NAIVE_FAULT_GELU_TANH,
                                      ATB_NAIVE_FAULT_MASK_OFF_BY_ONE};
    const char *names[] = {"unbiased LayerNorm variance", "tanh GELU", "mask off by one"};
    char err[256];
    for (int i = 0; i < 3; i++) {
        atb_tensors t, t_faulty;
        float *expected = NULL, *faulty = NULL;
        if (make_inputs(&c, &t, &expected, ATB_NAIVE_FAULT_NONE, err, sizeof(err)) != ATB_OK
            || make_inputs(&c, &t_faulty, &faulty, faults[i], err, sizeof(err)) != ATB_OK) {
            printf("FAIL setup: %s\n", err);
            n_failures++;
            return;
        }
        int64_t bad;
        const double used = budget_used(&c, expected, faulty, &bad);
        if (used <= 1.0) {
            printf("FAIL checker self-test: a layer with %s used only %.3f of the bound\n",
                   names[i], used);
            n_failures++;
        } else {
            printf("ok   checker self-test: %s rejected (%.1f x the bound)\n", names[i], used);
        }
        free(expected);
        free(faulty);
        atb_tensors_free(&t);
        atb_tensors_free(&t_faulty);
    }
}

/* Bad input gets an error, not a crash. */
static void check_invalid_inputs(void)
{
    char err[256];
    const layer_case c = {2, 17, 16, 4, 32, ATB_ACT_RELU, 0, ATB_CAUSAL_NONE, 0, 1, 1e-5, 1};
    atb_tensors t;
    float *expected = NULL;
    if (make_inputs(&c, &t, &expected, ATB_NAIVE_FAULT_NONE, err, sizeof(err)) != ATB_OK) {
        printf("FAIL setup: %s\n", err);
        n_failures++;
        return;
    }
    float *got = malloc(sizeof(float) * (size_t)(2 * 17 * 16));
    atb_encoder_weights w = atb_tensors_weights(&t);
    void *plan = NULL;

    /* kv_valid_len outside [0, L]. */
    atb_status st = atb_blocked_encoder_plan(&t.problem, &w, &plan, err, sizeof(err));
    int32_t bad_valid[2] = {18, 3};
    if (st == ATB_OK)
        st = atb_blocked_encoder_run(plan, t.x, bad_valid, got, err, sizeof(err));
    atb_blocked_encoder_destroy(plan);
    if (st != ATB_ERR_INVALID || !strstr(err, "kv_valid_len")) {
        printf("FAIL kv_valid_len 18 > L: got status %s, message '%s'\n",
               atb_status_string(st), err);
        n_failures++;
    }

    /* A missing weight. */
    atb_encoder_weights missing = w;
    missing.norm2_bias = NULL;
    plan = NULL;
    st = atb_blocked_encoder_plan(&t.problem, &missing, &plan, err, sizeof(err));
    if (st != ATB_ERR_INVALID || plan != NULL) {
        printf("FAIL missing weight: got status %s\n", atb_status_string(st));
        n_failures++;
        atb_blocked_encoder_destroy(plan);
    }

    /* Causal bottom_right is not a layer option. */
    atb_problem p = t.problem;
    p.encoder.causal = ATB_CAUSAL_BOTTOM_RIGHT;
    plan = NULL;
    st = atb_blocked_encoder_plan(&p, &w, &plan, err, sizeof(err));
    if (st != ATB_ERR_INVALID) {
        printf("FAIL causal bottom_right: got status %s\n", atb_status_string(st));
        n_failures++;
        atb_blocked_encoder_destroy(plan);
    }

    /* An attention problem handed to the layer. */
    p = t.problem;
    p.op = ATB_OP_ATTENTION;
    plan = NULL;
    st = atb_blocked_encoder_plan(&p, &w, &plan, err, sizeof(err));
    if (st != ATB_ERR_INVALID) {
        printf("FAIL attention problem: got status %s\n", atb_status_string(st));
        n_failures++;
        atb_blocked_encoder_destroy(plan);
    }

    free(got);
    free(expected);
    atb_tensors_free(&t);
}

int main(void)
{
    check_bound_rejects_faults();
    check_invalid_inputs();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i]);
    if (n_failures) {
        printf("%d layer checks failed\n", n_failures);
        return 1;
    }
    printf("all layer checks passed\n");
    return 0;
}
