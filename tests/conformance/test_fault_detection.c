/*
 * Proves that the tolerance policy separates right from wrong on the
 * committed golden vectors. naive passes every case. Each deliberately
 * broken variant of naive fails exactly the cases its fault touches, and
 * passes the others, where it computes the same thing as naive.
 *
 * usage: test_fault_detection FILE.h5 [...]
 */
#include "harness/golden_read.h"
#include "harness/tolerance.h"
#include "impl/naive/naive.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    atb_naive_fault fault;
    const char *name;
    /* Returns 1 when the fault changes this case's result. */
    int (*touches)(const atb_golden_case *c);
} fault_spec;

/* Attention view of a case: the layer's attention has Lq = Lk = L. */
static atb_attention_shape attention_of(const atb_golden_case *c)
{
    const atb_problem *p = &c->tensors.problem;
    if (p->op == ATB_OP_ATTENTION)
        return p->attention;
    const atb_encoder_shape *e = &p->encoder;
    atb_attention_shape s = {.batch = e->batch, .heads = e->heads, .kv_heads = e->heads,
                             .q_len = e->seq_len, .kv_len = e->seq_len,
                             .head_dim = e->embed_dim / e->heads,
                             .scale = 1.0 / sqrt((double)(e->embed_dim / e->heads)),
                             .causal = e->causal};
    return s;
}

static int64_t valid_len(const atb_golden_case *c, const atb_attention_shape *s, int64_t b)
{
    return c->tensors.kv_valid_len ? c->tensors.kv_valid_len[b] : s->kv_len;
}

/* Some row sees fewer keys than exist, so one more key changes it. */
static int touches_mask(const atb_golden_case *c)
{
    const atb_attention_shape s = attention_of(c);
    for (int64_t b = 0; b < s.batch; b++)
        for (int64_t i = 0; i < s.q_len; i++)
            if (atb_attention_allowed_keys(&s, valid_len(c, &s, b), i) < s.kv_len)
                return 1;
    return 0;
}

/* The scale matters only to rows that see at least two keys. */
static int touches_scale(const atb_golden_case *c)
{
    const atb_attention_shape s = attention_of(c);
    if (s.scale == 1.0)
        return 0;
    for (int64_t b = 0; b < s.batch; b++)
        for (int64_t i = 0; i < s.q_len; i++)
            if (atb_attention_allowed_keys(&s, valid_len(c, &s, b), i) >= 2)
                return 1;
    return 0;
}

static int touches_last_block(const atb_golden_case *c)
{
    const atb_attention_shape s = attention_of(c);
    for (int64_t b = 0; b < s.batch; b++)
        for (int64_t i = 0; i < s.q_len; i++)
            if (atb_attention_allowed_keys(&s, valid_len(c, &s, b), i) > 64)
                return 1;
    return 0;
}

/* Every case where some output depends on a PV sum. */
static int touches_pv(const atb_golden_case *c)
{
    const atb_attention_shape s = attention_of(c);
    for (int64_t b = 0; b < s.batch; b++)
        if (atb_attention_allowed_keys(&s, valid_len(c, &s, b), s.q_len - 1) > 0)
            return 1;
    return 0;
}

static int touches_layer_norm(const atb_golden_case *c)
{
    return c->tensors.problem.op == ATB_OP_ENCODER_LAYER;
}

static int touches_gelu(const atb_golden_case *c)
{
    return c->tensors.problem.op == ATB_OP_ENCODER_LAYER
           && c->tensors.problem.encoder.activation == ATB_ACT_GELU;
}

static const fault_spec faults[] = {
    {ATB_NAIVE_FAULT_MASK_OFF_BY_ONE, "mask-off-by-one", touches_mask},
    {ATB_NAIVE_FAULT_NO_SCALE, "missing-scale", touches_scale},
    {ATB_NAIVE_FAULT_DROP_LAST_BLOCK, "dropped-last-key-block", touches_last_block},
    {ATB_NAIVE_FAULT_PV_HALF, "pv-half-precision", touches_pv},
    {ATB_NAIVE_FAULT_LN_UNBIASED, "layernorm-unbiased-variance", touches_layer_norm},
    {ATB_NAIVE_FAULT_GELU_TANH, "gelu-tanh-approximation", touches_gelu},
};

/* Runs impl on the case and returns 1 for PASS, 0 for FAIL, -1 on error. */
static int run_and_compare(const atb_impl *impl, const atb_golden_case *c, float *out,
                           atb_compare_result *cmp)
{
    char err[512];
    const atb_encoder_weights w = atb_tensors_weights(&c->tensors);
    const atb_problem *p = &c->tensors.problem;
    void *plan = NULL;
    if (impl->plan(p, p->op == ATB_OP_ENCODER_LAYER ? &w : NULL, &plan, err, sizeof(err))
        != ATB_OK) {
        fprintf(stderr, "plan failed: %s\n", err);
        return -1;
    }
    const atb_run_args args = atb_tensors_args(&c->tensors, out);
    atb_status st = impl->run(plan, &args, err, sizeof(err));
    impl->destroy(plan);
    if (st != ATB_OK || atb_compare(&c->tensors, c->expected, out, 0, NULL, cmp, err, sizeof(err))
                            != ATB_OK) {
        fprintf(stderr, "run or compare failed: %s\n", err);
        return -1;
    }
    return cmp->pass;
}

int main(int argc, char **argv)
{
    int n_errors = 0, n_cases = 0;
    int n_touched[sizeof(faults) / sizeof(faults[0])] = {0};
    const size_t n_faults = sizeof(faults) / sizeof(faults[0]);
    double max_naive_budget = 0.0, min_fault_budget[sizeof(faults) / sizeof(faults[0])];
    for (size_t f = 0; f < n_faults; f++)
        min_fault_budget[f] = INFINITY;

    for (int a = 1; a < argc; a++) {
        char err[1024];
        atb_golden_file *file;
        if (atb_golden_open(argv[a], &file, err, sizeof(err)) != ATB_OK) {
            fprintf(stderr, "FAILED: %s\n", err);
            return 1;
        }
        for (size_t index = 0; index < atb_golden_count(file); index++) {
            atb_golden_case c;
            if (atb_golden_load(file, index, (size_t)1 << 32, &c, err, sizeof(err)) != ATB_OK) {
                fprintf(stderr, "FAILED: %s\n", err);
                n_errors++;
                continue;
            }
            n_cases++;
            c.tensors.problem.n_threads = 1;
            float *out = malloc((atb_problem_output_count(&c.tensors.problem) + 1) * sizeof(float));
            atb_compare_result cmp;

            if (run_and_compare(&atb_impl_naive, &c, out, &cmp) == 1) {
                if (cmp.budget_used > max_naive_budget)
                    max_naive_budget = cmp.budget_used;
            } else {
                fprintf(stderr, "FAILED: naive does not pass %s (budget used %.3g)\n", c.name,
                        cmp.budget_used);
                n_errors++;
            }
            for (size_t f = 0; f < n_faults; f++) {
                const int touched = faults[f].touches(&c);
                const atb_impl faulty = atb_naive_faulty_impl(faults[f].fault, faults[f].name);
                const int passed = run_and_compare(&faulty, &c, out, &cmp);
                n_touched[f] += touched;
                if (touched && passed == 0 && cmp.budget_used < min_fault_budget[f])
                    min_fault_budget[f] = cmp.budget_used;
                if (passed < 0 || passed == touched) {
                    const char *got = "FAIL";
                    if (passed < 0)
                        got = "ERROR";
                    else if (passed)
                        got = "PASS";
                    fprintf(stderr, "FAILED: %s on %s: expected %s, got %s (budget used %.3g)\n",
                            faults[f].name, c.name, touched ? "FAIL" : "PASS", got,
                            cmp.budget_used);
                    n_errors++;
                }
            }
            free(out);
            atb_golden_case_free(&c);
        }
        atb_golden_close(file);
    }

    /* Each fault must have been exercised, or the test proves nothing. */
    for (size_t f = 0; f < n_faults; f++) {
        printf("%-28s touches %d of %d cases, smallest budget used where touched %.3g\n",
               faults[f].name, n_touched[f], n_cases, min_fault_budget[f]);
        if (n_touched[f] < 2) {
            fprintf(stderr, "FAILED: fewer than two cases exercise %s\n", faults[f].name);
            n_errors++;
        }
    }
    if (n_cases == 0) {
        fprintf(stderr, "FAILED: no cases were read\n");
        n_errors++;
    }
    printf("naive: largest budget used %.3g\n%d cases, %d errors\n", max_naive_budget, n_cases,
           n_errors);
    return n_errors ? 1 : 0;
}
