/*
 * The encoder layer of the blocked, simd-avx2 and simd-avx512 families
 * against the float64 reference, judged by atb_compare (the per-element
 * bounds that `attnbench check` uses), over a table of shapes and options:
 * relu and gelu, post- and pre-norm, key padding (including a sequence
 * with no valid key), top-left causal, the sinusoidal positional encoding,
 * E in {16, 64, 96, 256, 512}, H in {1, 4, 8}, F in {32, 2048},
 * L in {1, 17, 128}, eps 1e-5 and 1e-6, 1 and 2 threads, and a NaN in the
 * input at a padded, an allowed and a causally later key. A self-test feeds
 * the same comparison the naive layer with deliberate faults and expects
 * it to fail, and the plan and run reject invalid input with a status.
 */
#include "impl/layer/layer.h"

#include "harness/problem.h"
#include "harness/registry.h"
#include "harness/tolerance.h"
#include "impl/naive/naive.h"
#include "reference/reference.h"

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
    int has_nan;          /* nonzero: x of the last batch contains a NaN at nan_position */
    int64_t nan_position;
} layer_case;

static const layer_case cases[] = {
    {1, 17, 16, 1, 32, ATB_ACT_RELU, 0, ATB_CAUSAL_NONE, 0, 0, 1e-5, 1, 0, 0},
    {2, 17, 64, 4, 32, ATB_ACT_GELU, 0, ATB_CAUSAL_NONE, 0, 1, 1e-5, 1, 0, 0},
    {2, 17, 64, 4, 2048, ATB_ACT_GELU, 1, ATB_CAUSAL_TOP_LEFT, 1, 1, 1e-6, 2, 0, 0},
    {1, 128, 96, 8, 32, ATB_ACT_RELU, 1, ATB_CAUSAL_NONE, 1, 0, 1e-5, 2, 0, 0},
    {1, 1, 256, 8, 2048, ATB_ACT_GELU, 0, ATB_CAUSAL_NONE, 0, 0, 1e-5, 1, 0, 0},
    {3, 17, 96, 4, 32, ATB_ACT_RELU, 0, ATB_CAUSAL_TOP_LEFT, 0, 1, 1e-6, 1, 0, 0},
    {1, 128, 512, 8, 2048, ATB_ACT_GELU, 0, ATB_CAUSAL_NONE, 0, 0, 1e-5, 2, 0, 0},
    {2, 128, 512, 8, 2048, ATB_ACT_RELU, 1, ATB_CAUSAL_TOP_LEFT, 1, 1, 1e-5, 1, 0, 0},
    {2, 128, 256, 4, 2048, ATB_ACT_GELU, 1, ATB_CAUSAL_NONE, 0, 1, 1e-5, 2, 0, 0},
    {2, 1, 64, 1, 32, ATB_ACT_GELU, 1, ATB_CAUSAL_TOP_LEFT, 1, 1, 1e-6, 1, 0, 0},
    {4, 17, 16, 4, 2048, ATB_ACT_RELU, 0, ATB_CAUSAL_TOP_LEFT, 1, 1, 1e-5, 2, 0, 0},
    {2, 17, 64, 8, 32, ATB_ACT_GELU, 0, ATB_CAUSAL_NONE, 0, 2, 1e-5, 1, 0, 0},
    {2, 17, 64, 8, 32, ATB_ACT_RELU, 1, ATB_CAUSAL_TOP_LEFT, 0, 2, 1e-6, 2, 0, 0},
    {1, 128, 16, 4, 32, ATB_ACT_GELU, 1, ATB_CAUSAL_TOP_LEFT, 1, 0, 1e-6, 1, 0, 0},
    /* A NaN at a padded key position: only its own row becomes NaN. */
    {2, 17, 64, 4, 32, ATB_ACT_GELU, 0, ATB_CAUSAL_TOP_LEFT, 0, 1, 1e-5, 1, 1, 15},
    /* A NaN at an allowed key: every row of its sequence becomes NaN. */
    {2, 17, 64, 4, 32, ATB_ACT_RELU, 1, ATB_CAUSAL_NONE, 1, 0, 1e-5, 2, 1, 3},
    /* Causal: rows before the NaN key stay finite. */
    {1, 17, 64, 4, 32, ATB_ACT_RELU, 0, ATB_CAUSAL_TOP_LEFT, 0, 0, 1e-5, 1, 1, 9},
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
           "padding=%d eps=%g threads=%d nan=%d", (long long)c->batch, (long long)c->seq_len,
           (long long)c->embed_dim, (long long)c->heads, (long long)c->ffn_dim,
           c->activation == ATB_ACT_GELU ? "gelu" : "relu", c->norm_first,
           atb_causal_name(c->causal), c->positional_encoding, c->padding, c->eps,
           c->n_threads, c->has_nan ? (int)c->nan_position : -1);
}

/* Compares got with expected through atb_compare; returns 1 when it passes,
   and prints the first mismatch otherwise. */
static int compare_output(const atb_tensors *t, const double *expected, const float *got,
                          atb_compare_result *result)
{
    char err[256];
    const atb_status st = atb_compare(t, expected, got, 0, NULL, result, err, sizeof(err));
    if (st != ATB_OK) {
        printf("  atb_compare failed: %s: %s\n", atb_status_string(st), err);
        return 0;
    }
    if (!result->pass && result->n_mismatches > 0)
        printf("  first mismatch at %lld: expected %.9g got %.9g bound %.3g\n",
               (long long)result->first[0].index, result->first[0].expected,
               result->first[0].got, result->first[0].bound);
    return result->pass;
}

/* Allocates and fills the case's tensors, then computes the f64 reference
   output into *expected. */
static atb_status make_inputs(const layer_case *c, atb_tensors *t, double **expected, char *err,
                              size_t err_len)
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
    if (c->has_nan)
        t->x[((c->batch - 1) * c->seq_len + c->nan_position) * c->embed_dim + 1] = NAN;

    const size_t n_out = (size_t)(c->batch * c->seq_len * c->embed_dim);
    *expected = malloc(n_out * sizeof(double));
    if (!*expected) {
        snprintf(err, err_len, "out of memory");
        return ATB_ERR_NOMEM;
    }
    const atb_encoder_weights w = atb_tensors_weights(t);
    st = atb_ref_encoder_layer(&p.encoder, &w, t->x, t->kv_valid_len, *expected);
    if (st != ATB_OK)
        snprintf(err, err_len, "the reference rejected the case");
    return st;
}

/* The naive layer's output with a fault, for the comparison self-test. */
static float *naive_output(const atb_tensors *t, atb_naive_fault fault)
{
    const atb_encoder_shape *s = &t->problem.encoder;
    const size_t n_out = (size_t)(s->batch * s->seq_len * s->embed_dim);
    float *out = malloc(n_out * sizeof(float));
    float *scratch = malloc((atb_naive_encoder_scratch_count(s) + (size_t)s->seq_len * 64)
                            * sizeof(float));
    if (out && scratch) {
        const atb_encoder_weights w = atb_tensors_weights(t);
        atb_naive_encoder_f32(s, &w, t->x, t->kv_valid_len, out, scratch, fault);
    }
    free(scratch);
    return out;
}

static void check_case(const layer_case *c)
{
    char err[256];
    atb_tensors t;
    double *expected = NULL;
    if (make_inputs(c, &t, &expected, err, sizeof(err)) != ATB_OK) {
        printf("FAIL setup: %s\n", err);
        n_failures++;
        free(expected);
        atb_tensors_free(&t);
        return;
    }
    const size_t n_out = (size_t)(c->batch * c->seq_len * c->embed_dim);
    float *got = malloc(n_out * sizeof(float));
    const atb_encoder_weights w = atb_tensors_weights(&t);

    /* A NaN case must make some, but not all, expected elements NaN, or it
       tests nothing about which rows the NaN may reach. */
    if (c->has_nan) {
        size_t n_nan = 0;
        for (size_t i = 0; i < n_out; i++)
            n_nan += isnan(expected[i]) != 0;
        if (n_nan == 0 || n_nan == n_out) {
            printf("FAIL NaN case: %zu of %zu expected elements are NaN\n", n_nan, n_out);
            n_failures++;
        }
    }

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
        atb_compare_result result;
        const int pass = compare_output(&t, expected, got, &result);
        printf("%s %s ", pass ? "ok  " : "FAIL", fam->name);
        print_case(c);
        printf(": %.3f of the bound, max abs error %.3g [%s]\n", result.budget_used,
               result.max_abs_error, description);
        if (!pass)
            n_failures++;
    }
    free(got);
    free(expected);
    atb_tensors_free(&t);
}

/* The comparison must reject known faults: the naive layer with a fault
   against the reference. The correct naive layer must pass, or the
   rejections prove nothing. */
static void check_compare_rejects_faults(void)
{
    const layer_case c = {2, 17, 64, 4, 32, ATB_ACT_GELU, 0, ATB_CAUSAL_NONE, 0, 1, 1e-5, 1, 0, 0};
    const atb_naive_fault faults[] = {ATB_NAIVE_FAULT_NONE, ATB_NAIVE_FAULT_LN_UNBIASED,
                                      ATB_NAIVE_FAULT_GELU_TANH,
                                      ATB_NAIVE_FAULT_MASK_OFF_BY_ONE};
    const char *names[] = {"no fault", "unbiased LayerNorm variance", "tanh GELU",
                           "mask off by one"};
    char err[256];
    atb_tensors t;
    double *expected = NULL;
    if (make_inputs(&c, &t, &expected, err, sizeof(err)) != ATB_OK) {
        printf("FAIL setup: %s\n", err);
        n_failures++;
        free(expected);
        atb_tensors_free(&t);
        return;
    }
    for (int i = 0; i < 4; i++) {
        float *got = naive_output(&t, faults[i]);
        atb_compare_result result;
        const int pass = got && compare_output(&t, expected, got, &result);
        const int should_pass = faults[i] == ATB_NAIVE_FAULT_NONE;
        if (pass != should_pass) {
            printf("FAIL comparison self-test: naive with %s %s\n", names[i],
                   pass ? "passed" : "failed");
            n_failures++;
        } else {
            printf("ok   comparison self-test: naive with %s %s (%.3g of the bound)\n",
                   names[i], pass ? "passed" : "rejected", result.budget_used);
        }
        free(got);
    }
    free(expected);
    atb_tensors_free(&t);
}

/* Bad input gets an error, not a crash. */
static void check_invalid_inputs(void)
{
    char err[256];
    const layer_case c = {2, 17, 16, 4, 32, ATB_ACT_RELU, 0, ATB_CAUSAL_NONE, 0, 1, 1e-5, 1, 0, 0};
    atb_tensors t;
    double *expected = NULL;
    if (make_inputs(&c, &t, &expected, err, sizeof(err)) != ATB_OK) {
        printf("FAIL setup: %s\n", err);
        n_failures++;
        free(expected);
        atb_tensors_free(&t);
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
    check_compare_rejects_faults();
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
