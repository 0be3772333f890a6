/*
 * Tests of the library-backed implementations blas and onednn. Both
 * operations are compared with the float64 reference over shapes that cover
 * every feature and edge. Further cases: masked keys that contain NaN,
 * fully masked rows, NaN that a row depends on, grouped heads, describe()
 * strings and the memory check.
 * Usage: test_libs CASE, where CASE is one of the names in main().
 */
#include "harness/problem.h"
#include "harness/registry.h"
#include "harness/tolerance.h"
#include "reference/reference.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ATB_TEST_ONEDNN is defined when the build has the onednn implementation
   (a 2.x oneDNN was found). */
#ifdef ATB_TEST_ONEDNN
static const char *const impl_names[] = {"blas", "onednn"};
#define N_IMPLS 2
#else
static const char *const impl_names[] = {"blas"};
#define N_IMPLS 1
#endif

static int n_failures;

#define EXPECT(cond, ...)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                           \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            n_failures++;                                                                  \
        }                                                                                  \
    } while (0)

static const atb_impl *impl_named(const char *name)
{
    const atb_impl *impl = atb_registry_find(name);
    if (!impl) {
        fprintf(stderr, "FAIL: implementation %s is not registered\n", name);
        exit(1);
    }
    return impl;
}

/* Plans, runs once and destroys; returns the status of the first failure. */
static atb_status run_impl(const atb_impl *impl, const atb_tensors *t, float *out)
{
    char err[512] = "";
    void *plan = NULL;
    atb_encoder_weights w = atb_tensors_weights(t);
    atb_status st = impl->plan(&t->problem,
                               t->problem.op == ATB_OP_ENCODER_LAYER ? &w : NULL, &plan, err,
                               sizeof(err));
    if (st != ATB_OK) {
        fprintf(stderr, "%s plan: %s\n", impl->name, err);
        return st;
    }
    atb_run_args args = atb_tensors_args(t, out);
    st = impl->run(plan, &args, err, sizeof(err));
    if (st != ATB_OK)
        fprintf(stderr, "%s run: %s\n", impl->name, err);
    impl->destroy(plan);
    return st;
}

static void describe_problem(const atb_problem *p, char *buf, size_t len)
{
    if (p->op == ATB_OP_ATTENTION) {
        const atb_attention_shape *s = &p->attention;
        snprintf(buf, len, "attention B=%lld H=%lld Hkv=%lld Lq=%lld Lk=%lld D=%lld causal=%s "
                 "padded=%d threads=%d", (long long)s->batch, (long long)s->heads,
                 (long long)s->kv_heads, (long long)s->q_len, (long long)s->kv_len,
                 (long long)s->head_dim, atb_causal_name(s->causal), s->has_kv_valid_len,
                 p->n_threads);
    } else {
        const atb_encoder_shape *s = &p->encoder;
        snprintf(buf, len, "encoder B=%lld L=%lld E=%lld H=%lld F=%lld act=%s norm_first=%d "
                 "causal=%s pe=%d padded=%d threads=%d", (long long)s->batch,
                 (long long)s->seq_len, (long long)s->embed_dim, (long long)s->heads,
                 (long long)s->ffn_dim, s->activation == ATB_ACT_GELU ? "gelu" : "relu",
                 s->norm_first, atb_causal_name(s->causal), s->positional_encoding,
                 s->has_kv_valid_len, p->n_threads);
    }
}

/* Runs impl on t and compares every row with the float64 reference. */
static void check_against_reference(const atb_impl *impl, atb_tensors *t)
{
    char what[256], err[512] = "";
    describe_problem(&t->problem, what, sizeof(what));
    const size_t n_out = atb_problem_output_count(&t->problem);
    float *got = malloc((n_out ? n_out : 1) * sizeof(float));
    double *expected = malloc((n_out ? n_out : 1) * sizeof(double));
    if (!got || !expected) {
        EXPECT(0, "cannot allocate outputs for %s", what);
        free(got);
        free(expected);
        return;
    }
    for (size_t i = 0; i < n_out; i++)
        got[i] = 12345.0f; /* every element must be written */

    atb_status st;
    if (t->problem.op == ATB_OP_ATTENTION) {
        st = atb_ref_attention(&t->problem.attention, t->q, t->k, t->v, t->kv_valid_len,
                               expected);
    } else {
        atb_encoder_weights w = atb_tensors_weights(t);
        st = atb_ref_encoder_layer(&t->problem.encoder, &w, t->x, t->kv_valid_len, expected);
    }
    EXPECT(st == ATB_OK, "reference failed for %s", what);

    st = run_impl(impl, t, got);
    EXPECT(st == ATB_OK, "%s failed on %s: %s", impl->name, what, atb_status_string(st));
    if (st == ATB_OK) {
        atb_compare_result res;
        st = atb_compare(t, expected, got, 0, NULL, &res, err, sizeof(err));
        EXPECT(st == ATB_OK, "compare failed: %s", err);
        EXPECT(res.pass, "%s on %s: %lld elements over the bound, max_abs %.3g; first at "
               "index %lld expected %.9g got %.9g", impl->name, what, (long long)res.n_failed,
               res.max_abs_error, res.n_mismatches ? (long long)res.first[0].index : -1LL,
               res.n_mismatches ? res.first[0].expected : 0.0,
               res.n_mismatches ? res.first[0].got : 0.0);
    }
    free(got);
    free(expected);
}

static atb_problem attention_problem(int64_t B, int64_t H, int64_t Hkv, int64_t Lq, int64_t Lk,
                                     int64_t D, atb_causal causal, int padded, int threads)
{
    atb_problem p = {.op = ATB_OP_ATTENTION, .n_threads = threads};
    p.attention = (atb_attention_shape){.batch = B, .heads = H, .kv_heads = Hkv, .q_len = Lq,
                                        .kv_len = Lk, .head_dim = D,
                                        .scale = 1.0 / sqrt((double)D), .causal = causal,
                                        .has_kv_valid_len = padded};
    return p;
}

/* Allocates and fills tensors; valid lengths cycle through 0, Lk, Lk/2... */
static int make_tensors(atb_tensors *t, const atb_problem *p, uint64_t seed)
{
    char err[256];
    if (atb_tensors_alloc(t, p, err, sizeof(err)) != ATB_OK) {
        EXPECT(0, "tensor allocation failed: %s", err);
        return 0;
    }
    atb_tensors_fill_random(t, seed);
    if (t->kv_valid_len) {
        const int64_t Lk = p->op == ATB_OP_ATTENTION ? p->attention.kv_len : p->encoder.seq_len;
        const int64_t B = p->op == ATB_OP_ATTENTION ? p->attention.batch : p->encoder.batch;
        const int64_t pattern[4] = {0, Lk, Lk / 2, Lk > 0 ? Lk - 1 : 0};
        for (int64_t b = 0; b < B; b++)
            t->kv_valid_len[b] = (int32_t)pattern[(b + 1) % 4];
    }
    return 1;
}

/* === Cases === */

static void test_attention_matches_reference(void)
{
    /* B, H, Hkv, Lq, Lk, D, padded */
    static const int64_t shapes[][7] = {
        {1, 1, 1, 1, 1, 1, 0},     {1, 2, 2, 17, 17, 3, 0},   {2, 4, 2, 33, 65, 8, 1},
        {1, 8, 1, 70, 130, 64, 0}, {3, 4, 4, 129, 64, 16, 1}, {1, 2, 1, 5, 0, 8, 0},
        {4, 3, 3, 64, 200, 5, 1},  {1, 4, 2, 150, 150, 128, 0}, {2, 6, 3, 1, 300, 32, 1},
        {1, 2, 2, 200, 7, 24, 0},
    };
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        for (int causal = 0; causal < 3; causal++) {
            for (int threads = 1; threads <= 2; threads++) {
                const int64_t *v = shapes[s];
                atb_problem p = attention_problem(v[0], v[1], v[2], v[3], v[4], v[5],
                                                  (atb_causal)causal, (int)v[6], threads);
                atb_tensors t;
                if (!make_tensors(&t, &p, 100 + s))
                    continue;
                for (int i = 0; i < N_IMPLS; i++)
                    check_against_reference(impl_named(impl_names[i]), &t);
                atb_tensors_free(&t);
            }
        }
    }
}

static void test_encoder_matches_reference(void)
{
    /* B, L, E, H, F, gelu, norm_first, causal, pe, padded */
    static const int64_t shapes[][10] = {
        {1, 1, 8, 1, 16, 0, 0, 0, 0, 0},   {2, 17, 32, 4, 64, 1, 0, 1, 1, 1},
        {1, 64, 64, 8, 128, 1, 1, 0, 1, 0}, {3, 33, 48, 6, 40, 0, 1, 1, 0, 1},
        {1, 130, 96, 3, 256, 1, 0, 0, 0, 1}, {2, 20, 16, 16, 8, 0, 1, 0, 1, 0},
    };
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        for (int threads = 1; threads <= 2; threads++) {
            const int64_t *v = shapes[s];
            atb_problem p = {.op = ATB_OP_ENCODER_LAYER, .n_threads = threads};
            p.encoder = (atb_encoder_shape){
                .batch = v[0], .seq_len = v[1], .embed_dim = v[2], .heads = v[3],
                .ffn_dim = v[4], .activation = v[5] ? ATB_ACT_GELU : ATB_ACT_RELU,
                .norm_first = (int)v[6], .layer_norm_eps = 1e-5,
                .causal = v[7] ? ATB_CAUSAL_TOP_LEFT : ATB_CAUSAL_NONE,
                .positional_encoding = (int)v[8], .has_kv_valid_len = (int)v[9]};
            atb_tensors t;
            if (!make_tensors(&t, &p, 200 + s))
                continue;
            for (int i = 0; i < N_IMPLS; i++)
                check_against_reference(impl_named(impl_names[i]), &t);
            atb_tensors_free(&t);
        }
    }
}

/* NaN and Inf in keys and values that no row may see (past the valid
   length, and above the causal diagonal) must not change the output. */
static void test_masked_nan_keys_ignored(void)
{
    atb_problem p = attention_problem(2, 4, 2, 48, 96, 16, ATB_CAUSAL_BOTTOM_RIGHT, 1, 2);
    atb_tensors t;
    if (!make_tensors(&t, &p, 7))
        return;
    t.kv_valid_len[0] = 70;
    t.kv_valid_len[1] = 33;
    const int64_t D = 16, Lk = 96;
    for (int64_t b = 0; b < 2; b++)
        for (int64_t g = 0; g < 2; g++)
            for (int64_t j = t.kv_valid_len[b]; j < Lk; j++)
                for (int64_t d = 0; d < D; d++) {
                    const int64_t idx = ((b * 2 + g) * Lk + j) * D + d;
                    t.k[idx] = d % 2 ? NAN : INFINITY;
                    t.v[idx] = d % 3 ? NAN : -INFINITY;
                }
    for (int i = 0; i < N_IMPLS; i++)
        check_against_reference(impl_named(impl_names[i]), &t);

    /* Key 60 of batch 0 is valid but, under bottom_right with Lq=48 and
       Lk=96, hidden from query rows 0..11; its NaN must reach only the rows
       that see it. */
    for (int64_t d = 0; d < D; d++)
        t.v[(0 * 2 + 0) * Lk * D + 60 * D + d] = NAN;
    const size_t n_out = atb_problem_output_count(&p);
    float *got = malloc(n_out * sizeof(float));
    for (int i = 0; i < N_IMPLS && got; i++) {
        EXPECT(run_impl(impl_named(impl_names[i]), &t, got) == ATB_OK, "%s failed",
               impl_names[i]);
        for (int64_t h = 0; h < 2; h++) { /* heads 0 and 1 read key/value head 0 */
            for (int64_t row = 0; row < 48; row++) {
                const int sees_key = row + 1 + (96 - 48) > 60;
                const float first = got[(h * 48 + row) * D];
                if (sees_key)
                    EXPECT(isnan(first), "%s: head %lld row %lld sees the NaN value but got %g",
                           impl_names[i], (long long)h, (long long)row, first);
                else
                    EXPECT(isfinite(first), "%s: head %lld row %lld must not see key 60, got %g",
                           impl_names[i], (long long)h, (long long)row, first);
            }
        }
    }
    free(got);
    atb_tensors_free(&t);
}

/* Rows with no allowed key are exactly +0.0: valid length 0 and
   bottom_right rows before the key window. */
static void test_fully_masked_rows_zero(void)
{
    atb_problem p = attention_problem(2, 2, 1, 40, 16, 8, ATB_CAUSAL_BOTTOM_RIGHT, 1, 2);
    atb_tensors t;
    if (!make_tensors(&t, &p, 9))
        return;
    t.kv_valid_len[0] = 0;
    t.kv_valid_len[1] = 16;
    const size_t n_out = atb_problem_output_count(&p);
    float *got = malloc(n_out * sizeof(float));
    for (int i = 0; i < N_IMPLS && got; i++) {
        EXPECT(run_impl(impl_named(impl_names[i]), &t, got) == ATB_OK, "%s failed",
               impl_names[i]);
        int64_t n_bad = 0;
        for (int64_t b = 0; b < 2; b++)
            for (int64_t h = 0; h < 2; h++)
                for (int64_t row = 0; row < 40; row++) {
                    /* Row i of batch 1 may attend to keys j <= i - 24. */
                    const int masked = b == 0 || row < 24;
                    for (int64_t d = 0; d < 8 && masked; d++) {
                        const float x = got[((b * 2 + h) * 40 + row) * 8 + d];
                        n_bad += !(x == 0.0f && !signbit(x));
                    }
                }
        EXPECT(n_bad == 0, "%s: %lld elements of fully masked rows are not +0.0",
               impl_names[i], (long long)n_bad);
    }
    free(got);
    atb_tensors_free(&t);
}

/* kv_len = 0: every row is exactly +0.0, and no library call sees a zero
   extent (an OpenBLAS release returned garbage for K = 0). */
static void test_empty_key_axis_zero(void)
{
    for (int padded = 0; padded <= 1; padded++) {
        atb_problem p = attention_problem(2, 4, 2, 9, 0, 16, ATB_CAUSAL_NONE, padded, 2);
        atb_tensors t;
        if (!make_tensors(&t, &p, 17))
            continue;
        const size_t n_out = atb_problem_output_count(&p);
        float *got = malloc(n_out * sizeof(float));
        for (int i = 0; i < N_IMPLS && got; i++) {
            for (size_t idx = 0; idx < n_out; idx++)
                got[idx] = NAN;
            EXPECT(run_impl(impl_named(impl_names[i]), &t, got) == ATB_OK, "%s failed",
                   impl_names[i]);
            int64_t n_bad = 0;
            for (size_t idx = 0; idx < n_out; idx++)
                n_bad += !(got[idx] == 0.0f && !signbit(got[idx]));
            EXPECT(n_bad == 0, "%s: %lld of %zu elements are not +0.0 with kv_len 0 (padded %d)",
                   impl_names[i], (long long)n_bad, n_out, padded);
        }
        free(got);
        atb_tensors_free(&t);
    }
}

/* A valid length past kv_len is rejected with ATB_ERR_INVALID, not read. */
static void test_bad_valid_length_rejected(void)
{
    atb_problem p = attention_problem(2, 2, 2, 8, 8, 4, ATB_CAUSAL_NONE, 1, 1);
    atb_tensors t;
    if (!make_tensors(&t, &p, 19))
        return;
    t.kv_valid_len[1] = 9;
    float got[2 * 2 * 8 * 4];
    for (int i = 0; i < N_IMPLS; i++) {
        const atb_impl *impl = impl_named(impl_names[i]);
        char err[256] = "";
        void *plan = NULL;
        EXPECT(impl->plan(&p, NULL, &plan, err, sizeof(err)) == ATB_OK, "%s plan: %s",
               impl_names[i], err);
        if (!plan)
            continue;
        atb_run_args args = atb_tensors_args(&t, got);
        const atb_status st = impl->run(plan, &args, err, sizeof(err));
        EXPECT(st == ATB_ERR_INVALID, "%s accepted kv_valid_len 9 > kv_len 8 (status %s)",
               impl_names[i], atb_status_string(st));
        EXPECT(strstr(err, "kv_valid_len[1]") != NULL, "%s error does not name the entry: %s",
               impl_names[i], err);
        impl->destroy(plan);
    }
    atb_tensors_free(&t);
}

/* A NaN in a query, or in a key a row attends to, makes that row non-finite. */
static void test_nan_dependency_propagates(void)
{
    atb_problem p = attention_problem(1, 2, 2, 8, 8, 4, ATB_CAUSAL_TOP_LEFT, 0, 1);
    atb_tensors t;
    if (!make_tensors(&t, &p, 11))
        return;
    t.q[(0 * 8 + 2) * 4 + 1] = NAN;  /* head 0, row 2 */
    t.k[(1 * 8 + 5) * 4 + 0] = NAN;  /* head 1, key 5: rows 5..7 see it */
    float got[2 * 8 * 4];
    for (int i = 0; i < N_IMPLS; i++) {
        EXPECT(run_impl(impl_named(impl_names[i]), &t, got) == ATB_OK, "%s failed",
               impl_names[i]);
        EXPECT(!isfinite(got[(0 * 8 + 2) * 4]), "%s: NaN query gave a finite row",
               impl_names[i]);
        EXPECT(isfinite(got[(0 * 8 + 3) * 4]), "%s: NaN query leaked into another row",
               impl_names[i]);
        for (int64_t row = 0; row < 8; row++) {
            const float x = got[(1 * 8 + row) * 4];
            if (row >= 5)
                EXPECT(!isfinite(x), "%s: row %lld sees NaN key 5 but is finite", impl_names[i],
                       (long long)row);
            else
                EXPECT(isfinite(x), "%s: row %lld does not see key 5 but is %g", impl_names[i],
                       (long long)row, x);
        }
    }
    atb_tensors_free(&t);
}

/* Grouped heads give the same output as the same keys repeated per head. */
static void test_grouped_heads_match_repeated(void)
{
    const int64_t B = 2, H = 6, Hkv = 2, L = 50, D = 16, group = H / Hkv;
    atb_problem gqa = attention_problem(B, H, Hkv, L, L, D, ATB_CAUSAL_TOP_LEFT, 1, 2);
    atb_problem mha = attention_problem(B, H, H, L, L, D, ATB_CAUSAL_TOP_LEFT, 1, 2);
    atb_tensors tg, tm;
    if (!make_tensors(&tg, &gqa, 13))
        return;
    if (!make_tensors(&tm, &mha, 13)) {
        atb_tensors_free(&tg);
        return;
    }
    memcpy(tm.q, tg.q, (size_t)(B * H * L * D) * sizeof(float));
    for (int64_t b = 0; b < B; b++) {
        tm.kv_valid_len[b] = tg.kv_valid_len[b];
        for (int64_t h = 0; h < H; h++) {
            const size_t src = (size_t)((b * Hkv + h / group) * L * D);
            const size_t dst = (size_t)((b * H + h) * L * D);
            memcpy(tm.k + dst, tg.k + src, (size_t)(L * D) * sizeof(float));
            memcpy(tm.v + dst, tg.v + src, (size_t)(L * D) * sizeof(float));
        }
    }
    const size_t n_out = (size_t)(B * H * L * D);
    float *out_g = malloc(n_out * sizeof(float)), *out_m = malloc(n_out * sizeof(float));
    for (int i = 0; i < N_IMPLS && out_g && out_m; i++) {
        EXPECT(run_impl(impl_named(impl_names[i]), &tg, out_g) == ATB_OK, "%s failed",
               impl_names[i]);
        EXPECT(run_impl(impl_named(impl_names[i]), &tm, out_m) == ATB_OK, "%s failed",
               impl_names[i]);
        double max_diff = 0.0;
        for (size_t idx = 0; idx < n_out; idx++) {
            const double diff = fabs((double)out_g[idx] - (double)out_m[idx]);
            max_diff = diff > max_diff || diff != diff ? diff : max_diff;
        }
        /* blas runs the same GEMMs either way; oneDNN may block the wider
           grouped matrix differently, so it gets rounding room. */
        const double allowed = strcmp(impl_names[i], "blas") == 0 ? 0.0 : 1e-6;
        EXPECT(max_diff <= allowed, "%s: grouped and repeated heads differ by %g (allowed %g)",
               impl_names[i], max_diff, allowed);
    }
    free(out_g);
    free(out_m);
    atb_tensors_free(&tg);
    atb_tensors_free(&tm);
}

static void test_describe_reports_versions(void)
{
    char buf[2048];
    impl_named("blas")->describe(NULL, buf, sizeof(buf));
    EXPECT(strstr(buf, "OpenBLAS 0.") != NULL, "blas describe lacks the version: %s", buf);
    EXPECT(strstr(buf, "core ") != NULL, "blas describe lacks the core name: %s", buf);
    EXPECT(strstr(buf, "threading ") != NULL, "blas describe lacks the threading: %s", buf);

#ifdef ATB_TEST_ONEDNN
    impl_named("onednn")->describe(NULL, buf, sizeof(buf));
    EXPECT(strstr(buf, "oneDNN 2.") != NULL, "onednn describe lacks the version: %s", buf);
    EXPECT(strstr(buf, "ISA ") != NULL, "onednn describe lacks the ISA: %s", buf);

    /* With a plan: the implementation string of every primitive. */
    atb_problem p = attention_problem(1, 2, 2, 16, 16, 8, ATB_CAUSAL_TOP_LEFT, 1, 1);
    char err[256];
    void *plan = NULL;
    const atb_impl *onednn = impl_named("onednn");
    EXPECT(onednn->plan(&p, NULL, &plan, err, sizeof(err)) == ATB_OK, "plan failed: %s", err);
    if (plan) {
        onednn->describe(plan, buf, sizeof(buf));
        EXPECT(strstr(buf, "qk_matmul=") && strstr(buf, "softmax=") && strstr(buf, "pv_matmul="),
               "onednn describe with a plan lacks the primitives: %s", buf);
        onednn->destroy(plan);
    }
#else
    EXPECT(atb_registry_find("onednn") == NULL, "onednn is registered in a build without it");
#endif
}

/* Absurd shapes are rejected by supports() and plan() with the size in the
   reason, before anything is allocated. */
static void test_memory_check_rejects_absurd(void)
{
    char why[512] = "";
    void *plan = NULL;
#ifdef ATB_TEST_ONEDNN
    atb_problem p = attention_problem(1, 64, 64, 1 << 20, 1 << 20, 64, ATB_CAUSAL_NONE, 0, 2);
    const atb_impl *onednn = impl_named("onednn");
    EXPECT(onednn->supports(&p, why, sizeof(why)) == 0, "onednn accepted Lq=Lk=2^20 H=64");
    EXPECT(strstr(why, "GiB for the score matrix") && strstr(why, "limit"),
           "onednn reason lacks the sizes: %s", why);
    EXPECT(onednn->plan(&p, NULL, &plan, why, sizeof(why)) == ATB_ERR_NOMEM,
           "onednn plan did not return ATB_ERR_NOMEM");
    EXPECT(plan == NULL, "onednn plan returned a plan for an absurd shape");
#endif

    /* blas keeps only 64 x Lk scores per thread, so it needs a longer key axis. */
    atb_problem q = attention_problem(1, 1, 1, 64, (int64_t)1 << 36, 64, ATB_CAUSAL_NONE, 0, 2);
    const atb_impl *blas = impl_named("blas");
    why[0] = '\0';
    EXPECT(blas->supports(&q, why, sizeof(why)) == 0, "blas accepted Lk=2^36");
    EXPECT(strstr(why, "GiB for the score matrix") && strstr(why, "limit"),
           "blas reason lacks the sizes: %s", why);
    EXPECT(blas->plan(&q, NULL, &plan, why, sizeof(why)) == ATB_ERR_NOMEM,
           "blas plan did not return ATB_ERR_NOMEM");

    /* The same implementations accept an ordinary shape. */
    atb_problem small = attention_problem(1, 8, 8, 2048, 2048, 64, ATB_CAUSAL_NONE, 0, 2);
#ifdef ATB_TEST_ONEDNN
    EXPECT(onednn->supports(&small, why, sizeof(why)) == 1, "onednn rejected L=2048: %s", why);
#endif
    EXPECT(blas->supports(&small, why, sizeof(why)) == 1, "blas rejected L=2048: %s", why);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } cases[] = {
        {"attention_reference", test_attention_matches_reference},
        {"encoder_reference", test_encoder_matches_reference},
        {"masked_nan_keys", test_masked_nan_keys_ignored},
        {"fully_masked_rows", test_fully_masked_rows_zero},
        {"nan_dependency", test_nan_dependency_propagates},
        {"empty_key_axis", test_empty_key_axis_zero},
        {"bad_valid_length", test_bad_valid_length_rejected},
        {"grouped_heads", test_grouped_heads_match_repeated},
        {"describe", test_describe_reports_versions},
        {"memory_check", test_memory_check_rejects_absurd},
    };
    if (argc != 2) {
        fprintf(stderr, "usage: test_libs CASE\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (strcmp(argv[1], cases[i].name) == 0) {
            cases[i].run();
            if (n_failures)
                fprintf(stderr, "%d checks failed in %s\n", n_failures, argv[1]);
            return n_failures ? 1 : 0;
        }
    }
    fprintf(stderr, "test_libs: unknown case '%s'\n", argv[1]);
    return 2;
}
