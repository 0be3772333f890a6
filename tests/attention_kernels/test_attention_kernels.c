/*
 * Correctness of the project's flash-attention kernels (blocked, simd-avx2,
 * simd-avx512) against the float64 reference, through their registry
 * entries, with the conformance tolerance (atb_compare).
 *
 * usage: test_attention_kernels CASE [IMPL]
 *   random_shapes IMPL   many random shapes, every feature mixed
 *   edge_cases IMPL      the listed edge shapes (D tails, Lk = 0, 1, 63, ...)
 *   nonfinite IMPL       NaN/Inf inputs: masked ones ignored, used ones NaN
 *   denormals IMPL       denormal inputs and flushed weights stay in tolerance
 *   key_split IMPL       keys split across threads when jobs are too few
 *   bad_input IMPL       invalid inputs give errors, not crashes
 *   isa_cap              the entries obey ATTNBENCH_MAX_ISA (set by CTest)
 * Exit 0 pass, 1 fail, 77 when the CPU lacks the implementation's ISA.
 */
#include "harness/problem.h"
#include "harness/registry.h"
#include "harness/tolerance.h"
#include "impl/blocked/blocked_attention.h"
#include "reference/prng.h"
#include "reference/reference.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_SKIP 77

/* Changes the random inputs of a case before it runs; may be NULL. */
typedef void (*input_modifier)(atb_tensors *t);

static int n_failures;

static void print_shape(const char *label, const atb_problem *p, uint64_t seed)
{
    const atb_attention_shape *s = &p->attention;
    fprintf(stderr,
            "  case %s: B=%lld H=%lld Hkv=%lld Lq=%lld Lk=%lld D=%lld causal=%s "
            "kv_valid_len=%s threads=%d seed=%llu\n",
            label, (long long)s->batch, (long long)s->heads, (long long)s->kv_heads,
            (long long)s->q_len, (long long)s->kv_len, (long long)s->head_dim,
            atb_causal_name(s->causal), s->has_kv_valid_len ? "yes" : "no", p->n_threads,
            (unsigned long long)seed);
}

/* Runs impl on the tensors and returns its output, or NULL after printing
   why. */
static float *run_impl(const atb_impl *impl, const atb_tensors *t, const char *label,
                       uint64_t seed)
{
    char err[512] = "";
    const size_t n_out = atb_problem_output_count(&t->problem);
    float *out = malloc((n_out ? n_out : 1) * sizeof(float));
    void *plan = NULL;
    atb_status st = impl->plan(&t->problem, NULL, &plan, err, sizeof(err));
    if (st == ATB_OK) {
        /* Poison the output so that an element the kernel skips is seen. */
        for (size_t i = 0; i < n_out; i++)
            out[i] = 12345.0f;
        atb_run_args args = atb_tensors_args(t, out);
        st = impl->run(plan, &args, err, sizeof(err));
        impl->destroy(plan);
    }
    if (st != ATB_OK) {
        fprintf(stderr, "FAIL %s: %s returned %s: %s\n", label, impl->name,
                atb_status_string(st), err);
        print_shape(label, &t->problem, seed);
        free(out);
        return NULL;
    }
    return out;
}

/* Runs one case against the reference and reports a mismatch. Returns 1
   when it passes. */
static int check_case(const atb_impl *impl, const atb_problem *problem, uint64_t seed,
                      input_modifier modify, const char *label)
{
    char err[512] = "";
    atb_tensors t;
    if (atb_tensors_alloc(&t, problem, err, sizeof(err)) != ATB_OK) {
        fprintf(stderr, "FAIL %s: cannot set up the case: %s\n", label, err);
        n_failures++;
        return 0;
    }
    atb_tensors_fill_random(&t, seed);
    if (modify)
        modify(&t);

    const size_t n_out = atb_problem_output_count(problem);
    double *expected = malloc((n_out ? n_out : 1) * sizeof(double));
    int pass = 0;
    float *got = NULL;
    if (atb_ref_attention(&problem->attention, t.q, t.k, t.v, t.kv_valid_len, expected)
        != ATB_OK) {
        fprintf(stderr, "FAIL %s: the reference rejected the shape\n", label);
        print_shape(label, problem, seed);
        goto done;
    }
    got = run_impl(impl, &t, label, seed);
    if (!got)
        goto done;

    atb_compare_result result;
    if (atb_compare(&t, expected, got, 0, NULL, &result, err, sizeof(err)) != ATB_OK) {
        fprintf(stderr, "FAIL %s: comparison failed: %s\n", label, err);
        goto done;
    }
    pass = result.pass;
    if (!pass) {
        fprintf(stderr,
                "FAIL %s: %s differs from the reference: %lld elements over their bound "
                "(%lld non-finite mismatches), budget used %.3g, max abs error %.3g\n",
                label, impl->name, (long long)result.n_failed,
                (long long)result.n_nonfinite_mismatch, result.budget_used,
                result.max_abs_error);
        print_shape(label, problem, seed);
        for (int i = 0; i < result.n_mismatches; i++)
            fprintf(stderr, "  index %lld: expected %.9g, got %.9g (bound %.3g)\n",
                    (long long)result.first[i].index, result.first[i].expected,
                    result.first[i].got, result.first[i].bound);
    }

done:
    if (!pass)
        n_failures++;
    free(got);
    free(expected);
    atb_tensors_free(&t);
    return pass;
}

static atb_problem attention_problem(int64_t B, int64_t H, int64_t Hkv, int64_t Lq, int64_t Lk,
                                     int64_t D, atb_causal causal, int has_valid,
                                     int n_threads)
{
    atb_problem p;
    memset(&p, 0, sizeof(p));
    p.op = ATB_OP_ATTENTION;
    p.attention = (atb_attention_shape){.batch = B, .heads = H, .kv_heads = Hkv, .q_len = Lq,
                                        .kv_len = Lk, .head_dim = D,
                                        .scale = 1.0 / sqrt((double)D), .causal = causal,
                                        .has_kv_valid_len = has_valid};
    p.n_threads = n_threads;
    return p;
}

/* === Input modifiers === */

static int64_t valid_of(const atb_tensors *t, int64_t b)
{
    return t->kv_valid_len ? t->kv_valid_len[b] : t->problem.attention.kv_len;
}

static float *key_row(float *base, const atb_attention_shape *s, int64_t b, int64_t g,
                      int64_t j)
{
    return base + ((b * s->kv_heads + g) * s->kv_len + j) * s->head_dim;
}

/* Valid lengths Lk/2, 0, Lk and 1 by batch, then NaN in every padded key
   and value: none of it may reach an output. */
static void nan_in_padded_keys(atb_tensors *t)
{
    const atb_attention_shape *s = &t->problem.attention;
    for (int64_t b = 0; b < s->batch; b++) {
        const int64_t choices[4] = {s->kv_len / 2, 0, s->kv_len, 1};
        t->kv_valid_len[b] = (int32_t)choices[b % 4];
        for (int64_t g = 0; g < s->kv_heads; g++)
            for (int64_t j = valid_of(t, b); j < s->kv_len; j++)
                for (int64_t d = 0; d < s->head_dim; d++) {
                    key_row(t->k, s, b, g, j)[d] = NAN;
                    key_row(t->v, s, b, g, j)[d] = NAN;
                }
    }
}

/* NaN in one element of one query row: that row is NaN, the others not. */
static void nan_in_one_query(atb_tensors *t)
{
    const atb_attention_shape *s = &t->problem.attention;
    const int64_t row = (s->batch * s->heads * s->q_len) / 2;
    t->q[row * s->head_dim + s->head_dim / 2] = NAN;
}

/* NaN in the value of key 5: under top_left causal, rows 0..4 never see it
   and must stay finite; rows 5.. are NaN. */
static void nan_in_value_5(atb_tensors *t)
{
    const atb_attention_shape *s = &t->problem.attention;
    for (int64_t b = 0; b < s->batch; b++)
        for (int64_t g = 0; g < s->kv_heads; g++)
            key_row(t->v, s, b, g, 5)[0] = NAN;
}

/* +Inf in one key: rows that see it get Inf - Inf = NaN (or Inf * 0). */
static void inf_in_one_key(atb_tensors *t)
{
    const atb_attention_shape *s = &t->problem.attention;
    key_row(t->k, s, 0, 0, s->kv_len / 3)[0] = INFINITY;
}

/* Non-negative queries and a key of -Inf at position 0: its logit is -inf,
   so its weight is 0, except in row 0 under top_left causal, where it is
   the only allowed key and the softmax is 0/0 (NaN). */
static void minus_inf_logit_at_key_0(atb_tensors *t)
{
    const atb_attention_shape *s = &t->problem.attention;
    const size_t nq = (size_t)(s->batch * s->heads * s->q_len * s->head_dim);
    for (size_t i = 0; i < nq; i++)
        t->q[i] = fabsf(t->q[i]) + 0.01f;
    for (int64_t b = 0; b < s->batch; b++)
        for (int64_t g = 0; g < s->kv_heads; g++)
            for (int64_t d = 0; d < s->head_dim; d++)
                key_row(t->k, s, b, g, 0)[d] = -INFINITY;
}

/* Logits up to several hundred: exp overflows unless the max is subtracted. */
static void big_logits(atb_tensors *t)
{
    const atb_attention_shape *s = &t->problem.attention;
    const size_t nq = (size_t)(s->batch * s->heads * s->q_len * s->head_dim);
    const size_t nk = (size_t)(s->batch * s->kv_heads * s->kv_len * s->head_dim);
    for (size_t i = 0; i < nq; i++)
        t->q[i] *= 30.0f;
    for (size_t i = 0; i < nk; i++)
        t->k[i] *= 30.0f;
}

/* Values and queries around 1e-39 (denormal), and logits spread over
   hundreds so that most weights underflow: the kernels flush those to 0. */
static void denormal_heavy(atb_tensors *t)
{
    const atb_attention_shape *s = &t->problem.attention;
    const size_t nq = (size_t)(s->batch * s->heads * s->q_len * s->head_dim);
    const size_t nk = (size_t)(s->batch * s->kv_heads * s->kv_len * s->head_dim);
    for (size_t i = 0; i < nk; i++) {
        t->v[i] *= 1e-39f;
        t->k[i] *= (i % 3 == 0) ? 1e-39f : 40.0f;
    }
    for (size_t i = 0; i < nq; i++)
        t->q[i] *= (i % 5 == 0) ? 1e-39f : 10.0f;
}

/* === Cases === */

static const int64_t head_dims[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 80,
                                   96, 127, 128, 129, 256};

static int random_int(atb_prng *rng, int64_t lo, int64_t hi)
{
    return (int)(lo + (int64_t)(atb_prng_next(rng) % (uint64_t)(hi - lo + 1)));
}

static void case_random_shapes(const atb_impl *impl)
{
    atb_prng rng;
    atb_prng_seed(&rng, 20261204);
    const int64_t group_choices[][2] = {{1, 1}, {2, 2}, {4, 1}, {4, 2}, {6, 1},
                                        {6, 3}, {8, 2}, {8, 8}, {3, 1}, {5, 5}};
    for (int n = 0; n < 80; n++) {
        const int gc = random_int(&rng, 0, 9);
        const int64_t D = head_dims[random_int(&rng, 0, sizeof(head_dims) / sizeof(head_dims[0]) - 1)];
        /* Keep B*H*Lq*Lk*D near 5e6 or less so the f64 reference is quick. */
        const int64_t Lq = random_int(&rng, 1, D > 64 ? 70 : 160);
        const int64_t Lk = random_int(&rng, 0, D > 64 ? 200 : 330);
        const atb_problem p = attention_problem(
            random_int(&rng, 1, 2), group_choices[gc][0], group_choices[gc][1], Lq, Lk, D,
            (atb_causal)random_int(&rng, 0, 2), random_int(&rng, 0, 1), random_int(&rng, 1, 2));
        char label[64];
        snprintf(label, sizeof(label), "random_shapes[%d]", n);
        check_case(impl, &p, 1000 + (uint64_t)n, NULL, label);
    }
}

static void case_edge_cases(const atb_impl *impl)
{
    const struct {
        const char *label;
        atb_problem p;
    } cases[] = {
        {"D1", attention_problem(1, 2, 2, 33, 70, 1, ATB_CAUSAL_NONE, 0, 1)},
        {"D17", attention_problem(1, 2, 1, 50, 129, 17, ATB_CAUSAL_TOP_LEFT, 0, 2)},
        {"D80", attention_problem(2, 4, 2, 65, 63, 80, ATB_CAUSAL_BOTTOM_RIGHT, 1, 2)},
        {"D256", attention_problem(1, 2, 2, 40, 65, 256, ATB_CAUSAL_NONE, 1, 1)},
        {"Lk0", attention_problem(2, 2, 1, 9, 0, 32, ATB_CAUSAL_NONE, 0, 2)},
        {"Lk0_causal", attention_problem(1, 2, 2, 9, 0, 16, ATB_CAUSAL_BOTTOM_RIGHT, 1, 1)},
        {"Lk1", attention_problem(1, 3, 3, 70, 1, 64, ATB_CAUSAL_TOP_LEFT, 0, 2)},
        {"Lk63", attention_problem(1, 2, 2, 63, 63, 64, ATB_CAUSAL_TOP_LEFT, 0, 1)},
        {"Lk65", attention_problem(1, 2, 2, 65, 65, 64, ATB_CAUSAL_BOTTOM_RIGHT, 0, 1)},
        {"Lk129", attention_problem(1, 2, 2, 129, 129, 64, ATB_CAUSAL_NONE, 1, 2)},
        {"gqa_8_2", attention_problem(2, 8, 2, 100, 130, 64, ATB_CAUSAL_TOP_LEFT, 1, 2)},
        {"mqa_6_1", attention_problem(1, 6, 1, 77, 200, 48, ATB_CAUSAL_NONE, 0, 2)},
        {"decode_gqa", attention_problem(2, 8, 2, 1, 300, 128, ATB_CAUSAL_BOTTOM_RIGHT, 1, 2)},
        {"decode_4096", attention_problem(1, 1, 1, 1, 4096, 128, ATB_CAUSAL_NONE, 0, 2)},
        {"decode_4096_gqa", attention_problem(1, 4, 1, 3, 4096, 64, ATB_CAUSAL_BOTTOM_RIGHT, 1, 2)},
        {"more_queries_than_keys", attention_problem(1, 2, 2, 150, 40, 32, ATB_CAUSAL_BOTTOM_RIGHT, 0, 2)},
        {"more_keys_than_queries", attention_problem(1, 2, 2, 40, 150, 32, ATB_CAUSAL_TOP_LEFT, 0, 2)},
        {"one_query_top_left", attention_problem(1, 2, 2, 1, 100, 32, ATB_CAUSAL_TOP_LEFT, 0, 1)},
        {"long_kv_tiles", attention_problem(1, 2, 1, 97, 1000, 64, ATB_CAUSAL_BOTTOM_RIGHT, 1, 2)},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(impl, &cases[i].p, 77 + i, NULL, cases[i].label);
}

static void case_nonfinite(const atb_impl *impl)
{
    const struct {
        const char *label;
        atb_problem p;
        input_modifier modify;
    } cases[] = {
        {"nan_in_padded_keys", attention_problem(4, 4, 2, 70, 150, 40, ATB_CAUSAL_NONE, 1, 2),
         nan_in_padded_keys},
        {"nan_in_padded_keys_causal",
         attention_problem(4, 2, 1, 30, 100, 64, ATB_CAUSAL_BOTTOM_RIGHT, 1, 1),
         nan_in_padded_keys},
        {"nan_in_padded_keys_decode",
         attention_problem(4, 1, 1, 1, 1000, 64, ATB_CAUSAL_NONE, 1, 2), nan_in_padded_keys},
        {"nan_query_gives_nan_row", attention_problem(1, 4, 2, 50, 90, 33, ATB_CAUSAL_NONE, 0, 2),
         nan_in_one_query},
        {"nan_value_masked_by_causal",
         attention_problem(1, 2, 2, 70, 70, 32, ATB_CAUSAL_TOP_LEFT, 0, 1), nan_in_value_5},
        {"inf_key", attention_problem(1, 2, 2, 20, 90, 16, ATB_CAUSAL_NONE, 0, 1), inf_in_one_key},
        {"minus_inf_logit", attention_problem(1, 2, 2, 70, 70, 24, ATB_CAUSAL_TOP_LEFT, 0, 1),
         minus_inf_logit_at_key_0},
        {"big_logits", attention_problem(1, 2, 2, 60, 200, 64, ATB_CAUSAL_NONE, 0, 2), big_logits},
        {"big_logits_causal", attention_problem(1, 2, 1, 100, 100, 16, ATB_CAUSAL_TOP_LEFT, 1, 2),
         big_logits},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(impl, &cases[i].p, 500 + i, cases[i].modify, cases[i].label);
}

static void case_denormals(const atb_impl *impl)
{
    const atb_problem p1 = attention_problem(1, 2, 2, 64, 256, 64, ATB_CAUSAL_NONE, 0, 2);
    const atb_problem p2 = attention_problem(1, 4, 1, 1, 2000, 32, ATB_CAUSAL_NONE, 0, 2);
    check_case(impl, &p1, 9, denormal_heavy, "denormal_heavy");
    check_case(impl, &p2, 10, denormal_heavy, "denormal_heavy_decode");
}

/* Fewer jobs than threads: the keys are split across threads, and the
   partial results combined. The first three are decode shapes (one job per
   KV head), the last two have query tiles (8 threads on 2 or 4 jobs). */
static void case_key_split(const atb_impl *impl)
{
    const atb_problem shapes[] = {
        attention_problem(1, 1, 1, 1, 4096, 128, ATB_CAUSAL_NONE, 0, 2),
        attention_problem(1, 4, 1, 2, 4096, 64, ATB_CAUSAL_BOTTOM_RIGHT, 0, 2),
        attention_problem(1, 2, 1, 1, 1000, 17, ATB_CAUSAL_NONE, 1, 2),
        attention_problem(1, 2, 1, 40, 700, 80, ATB_CAUSAL_BOTTOM_RIGHT, 1, 8),
        attention_problem(1, 2, 1, 40, 700, 64, ATB_CAUSAL_TOP_LEFT, 0, 8),
        attention_problem(1, 1, 1, 5, 130, 64, ATB_CAUSAL_TOP_LEFT, 0, 2),
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        char label[64], describe[256] = "";
        snprintf(label, sizeof(label), "key_split[%zu]", i);
        check_case(impl, &shapes[i], 40 + i, i == 2 || i == 3 ? nan_in_padded_keys : NULL, label);

        /* The plan must actually split, and describe() reports that. */
        void *plan = NULL;
        char err[256];
        if (impl->plan(&shapes[i], NULL, &plan, err, sizeof(err)) != ATB_OK) {
            fprintf(stderr, "FAIL %s: plan failed: %s\n", label, err);
            n_failures++;
            continue;
        }
        impl->describe(plan, describe, sizeof(describe));
        impl->destroy(plan);
        if (i < 5 && strcmp(impl->name, "blocked") != 0 && !strstr(describe, "split")) {
            fprintf(stderr, "FAIL %s: expected the keys split across threads, describe() "
                            "says '%s'\n", label, describe);
            n_failures++;
        }
    }
}

static void expect_status(const char *label, atb_status got, atb_status expected,
                          const char *err)
{
    if (got != expected) {
        fprintf(stderr, "FAIL %s: expected %s, got %s (%s)\n", label,
                atb_status_string(expected), atb_status_string(got), err);
        n_failures++;
    } else if (expected != ATB_OK && err[0] == '\0') {
        fprintf(stderr, "FAIL %s: the error has no message\n", label);
        n_failures++;
    }
}

static void case_bad_input(const atb_impl *impl)
{
    char err[256] = "";
    void *plan = NULL;
    atb_problem p = attention_problem(2, 4, 3, 8, 8, 16, ATB_CAUSAL_NONE, 1, 1);
    expect_status("heads_not_multiple_of_kv_heads",
                  impl->plan(&p, NULL, &plan, err, sizeof(err)), ATB_ERR_INVALID, err);

    err[0] = '\0';
    p = attention_problem(1, 1, 1, 4, 4, 0, ATB_CAUSAL_NONE, 0, 1);
    expect_status("head_dim_zero", impl->plan(&p, NULL, &plan, err, sizeof(err)),
                  ATB_ERR_INVALID, err);

    /* An encoder layer without weights: rejected with a message, whether
       or not the entry implements the operation. */
    err[0] = '\0';
    atb_problem layer;
    memset(&layer, 0, sizeof(layer));
    layer.op = ATB_OP_ENCODER_LAYER;
    layer.encoder = (atb_encoder_shape){.batch = 1, .seq_len = 4, .embed_dim = 8, .heads = 2,
                                        .ffn_dim = 16, .layer_norm_eps = 1e-5};
    layer.n_threads = 1;
    atb_status st = impl->plan(&layer, NULL, &plan, err, sizeof(err));
    if (st == ATB_OK) {
        fprintf(stderr, "FAIL encoder_layer_without_weights: the plan accepted NULL weights\n");
        impl->destroy(plan);
        n_failures++;
    } else if (err[0] == '\0') {
        fprintf(stderr, "FAIL encoder_layer_without_weights: the error has no message\n");
        n_failures++;
    }

    /* A valid length outside 0 .. Lk is an error at run time. */
    p = attention_problem(2, 2, 2, 8, 8, 16, ATB_CAUSAL_NONE, 1, 1);
    atb_tensors t;
    if (atb_tensors_alloc(&t, &p, err, sizeof(err)) != ATB_OK || impl->plan(&p, NULL, &plan, err,
                                                                             sizeof(err)) != ATB_OK) {
        fprintf(stderr, "FAIL bad_input: setup failed: %s\n", err);
        n_failures++;
        return;
    }
    atb_tensors_fill_random(&t, 3);
    float *out = calloc(atb_problem_output_count(&p), sizeof(float));
    t.kv_valid_len[1] = 9;
    atb_run_args args = atb_tensors_args(&t, out);
    err[0] = '\0';
    expect_status("valid_length_past_kv_len", impl->run(plan, &args, err, sizeof(err)),
                  ATB_ERR_INVALID, err);
    t.kv_valid_len[1] = -1;
    err[0] = '\0';
    expect_status("negative_valid_length", impl->run(plan, &args, err, sizeof(err)),
                  ATB_ERR_INVALID, err);
    t.kv_valid_len[1] = 8;
    args.kv_valid_len = NULL;
    err[0] = '\0';
    expect_status("missing_valid_length", impl->run(plan, &args, err, sizeof(err)),
                  ATB_ERR_INVALID, err);
    args = atb_tensors_args(&t, out);
    args.q = NULL;
    err[0] = '\0';
    expect_status("missing_query", impl->run(plan, &args, err, sizeof(err)), ATB_ERR_INVALID,
                  err);
    impl->destroy(plan);
    free(out);
    atb_tensors_free(&t);
}

/* With ATTNBENCH_MAX_ISA set, entries above the cap must not run and
   blocked must pick the highest allowed copy, and still be correct. */
static void case_isa_cap(void)
{
    const char *cap = getenv("ATTNBENCH_MAX_ISA");
    if (!cap || (strcmp(cap, "avx2") != 0 && strcmp(cap, "scalar") != 0)) {
        fprintf(stderr, "FAIL isa_cap: run with ATTNBENCH_MAX_ISA=avx2 or scalar\n");
        n_failures++;
        return;
    }
    const int capped_to_avx2 = strcmp(cap, "avx2") == 0;
    const atb_impl *avx2 = atb_registry_find("simd-avx2");
    const atb_impl *avx512 = atb_registry_find("simd-avx512");
    const atb_impl *blocked = atb_registry_find("blocked");
    if (!avx2 || !avx512 || !blocked) {
        fprintf(stderr, "FAIL isa_cap: blocked, simd-avx2 or simd-avx512 is not registered\n");
        n_failures++;
        return;
    }

    char why[256] = "";
    if (atb_impl_runs_here(avx512, why, sizeof(why))) {
        fprintf(stderr, "FAIL isa_cap: simd-avx512 runs under ATTNBENCH_MAX_ISA=%s\n", cap);
        n_failures++;
    }
    const int avx2_expected = capped_to_avx2 && (atb_cpu_isa_detected() & ATB_ISA_AVX2);
    if (atb_impl_runs_here(avx2, why, sizeof(why)) != avx2_expected) {
        fprintf(stderr, "FAIL isa_cap: simd-avx2 runs_here is %d under ATTNBENCH_MAX_ISA=%s, "
                        "expected %d\n", !avx2_expected, cap, avx2_expected);
        n_failures++;
    }

    /* The plan of an entry above the cap refuses, so its code is never reached. */
    void *plan = NULL;
    char err[256] = "";
    const atb_problem p = attention_problem(1, 2, 2, 20, 20, 16, ATB_CAUSAL_NONE, 0, 1);
    expect_status("avx512_plan_under_cap", avx512->plan(&p, NULL, &plan, err, sizeof(err)),
                  ATB_ERR_UNSUPPORTED, err);

    const char *expected_level = avx2_expected ? "avx2" : "scalar";
    if (strcmp(atb_blocked_attention_isa(NULL), expected_level) != 0) {
        fprintf(stderr, "FAIL isa_cap: blocked chose %s under ATTNBENCH_MAX_ISA=%s, expected %s\n",
                atb_blocked_attention_isa(NULL), cap, expected_level);
        n_failures++;
    }
    char describe[256] = "";
    blocked->describe(NULL, describe, sizeof(describe));
    if (!strstr(describe, expected_level)) {
        fprintf(stderr, "FAIL isa_cap: blocked describe() '%s' does not name %s\n", describe,
                expected_level);
        n_failures++;
    }

    /* The capped copy of blocked computes correct results too. */
    case_edge_cases(blocked);
    case_nonfinite(blocked);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_attention_kernels CASE [IMPL]\n");
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "isa_cap") == 0) {
        case_isa_cap();
    } else {
        if (argc < 3) {
            fprintf(stderr, "usage: test_attention_kernels %s IMPL\n", name);
            return 2;
        }
        const atb_impl *impl = atb_registry_find(argv[2]);
        if (!impl) {
            fprintf(stderr, "FAIL: implementation '%s' is not registered\n", argv[2]);
            return 1;
        }
        char why[256] = "";
        if (!atb_impl_runs_here(impl, why, sizeof(why))) {
            printf("SKIP %s %s: %s\n", name, argv[2], why);
            return EXIT_SKIP;
        }
        if (strcmp(name, "random_shapes") == 0)
            case_random_shapes(impl);
        else if (strcmp(name, "edge_cases") == 0)
            case_edge_cases(impl);
        else if (strcmp(name, "nonfinite") == 0)
            case_nonfinite(impl);
        else if (strcmp(name, "denormals") == 0)
            case_denormals(impl);
        else if (strcmp(name, "key_split") == 0)
            case_key_split(impl);
        else if (strcmp(name, "bad_input") == 0)
            case_bad_input(impl);
        else {
            fprintf(stderr, "test_attention_kernels: unknown case '%s'\n", name);
            return 2;
        }
    }
    if (n_failures) {
        fprintf(stderr, "%d failures in %s\n", n_failures, name);
        return 1;
    }
    printf("PASS %s\n", name);
    return 0;
}
