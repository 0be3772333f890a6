/*
 * The benchmark runner; see bench_run.h. Single-threaded control (Google
 * Benchmark calls each function on the main thread); implementations use
 * OpenMP inside run() with the configuration's thread count.
 *
 * Error messages of skipped or failed benchmarks start with a word that
 * classifies them: "skipped:" (unsupported, memory, time budget; not a
 * failure), "wrong result:" (validation against the reference failed) and
 * "failed:" (an error from plan() or run(), or an allocation).
 */
#include "harness/bench_run.h"
#include "harness/memory_limit.h"

#include "harness/problem.h"
#include "harness/registry.h"
#include "harness/tolerance.h"
#include "reference/prng.h"
#include "reference/reference.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Guessed speed per thread of an implementation not measured yet in this
   run. It is deliberately pessimistic (textbook loops reach about this), so
   a huge first shape is skipped rather than run for hours. Measurements
   replace it after the first benchmark of each kind. */
#define PRIOR_GFLOPS_PER_THREAD 1.0

/* Positions of the small attention problem that measures an
   implementation's rate before its first budget decision (a quarter of
   it for the layer): long enough for the main loops to dominate, short
   enough that even naive measures it in tens of milliseconds. */
#define CALIBRATION_LEN 256

/* Google Benchmark grows the iteration count until the timed time reaches
   1.4 x the minimum time at most; the estimate uses the same factor. */
#define MIN_TIME_OVERSHOOT 1.4

/* Time outside the timed loop per benchmark (plan, reports), a guess used
   only for the progress estimate. */
#define OVERHEAD_PER_BENCHMARK_S 0.02

/* Fraction of the available memory a configuration's tensors may take. */
#define MEMORY_FRACTION 0.75

/* Coefficient of variation above which a measurement is called noisy. */
#define NOISY_CV 0.05

/* Sampled rows per (batch, head) for attention and per batch for the layer:
   the first, the last and this many random ones. */
#define RANDOM_ROWS 2
#define MAX_CHECKED_ROWS 4096

typedef enum {
    OUTCOME_PENDING = 0,
    OUTCOME_READY,   /* validated, may be timed */
    OUTCOME_SKIPPED,
    OUTCOME_WRONG,
    OUTCOME_FAILED
} outcome;

typedef struct {
    atb_bench_session *session;
    int index;
    outcome state;
    int started;
    int finished;
    int noisy;
    int above_peak;           /* faster than the measured FMA peak */
    double plan_ms;
    double predicted_s;       /* estimated wall time when it started */
    double iteration_cv;      /* over the iterations of the last call; -1 if unknown */
    char describe[256];
    char message[512];
} config_state;

/* Measured speed of one (implementation, operation, thread count). */
typedef struct {
    const atb_impl *impl;
    atb_op op;
    int n_threads;
    double gflops;            /* the fastest rate measured */
} rate_entry;

struct atb_bench_session {
    atb_bench_config *configs;
    config_state *states;
    int n_configs;
    atb_bench_settings settings;
    double start_s;
    int n_done;

    /* Inputs, output buffer and reference rows of the current shape. */
    int shape_id;
    int shape_ready;
    char shape_error[512];
    atb_tensors tensors;
    float *out;
    int64_t *rows;
    int64_t n_rows;
    double *expected;

    /* The plan of the current configuration. */
    int plan_index;
    void *plan;

    rate_entry *rates;
    int n_rates;

    /* Per-iteration times of the current call, for the noise estimate. */
    double *iteration_s;
    int64_t iteration_capacity;
};

/* === Estimates === */

static rate_entry *find_rate(atb_bench_session *s, const atb_impl *impl, atb_op op, int threads)
{
    for (int k = 0; k < s->n_rates; k++)
        if (s->rates[k].impl == impl && s->rates[k].op == op
            && (threads == 0 || s->rates[k].n_threads == threads))
            return &s->rates[k];
    return NULL;
}

/* Estimated seconds of one run of configuration k. */
static double predict_run_s(atb_bench_session *s, int k)
{
    const atb_bench_config *c = &s->configs[k];
    const int threads = c->problem.n_threads;
    double gflops = PRIOR_GFLOPS_PER_THREAD * threads;
    const rate_entry *r = find_rate(s, c->impl, c->problem.op, threads);
    if (r) {
        gflops = r->gflops;
    } else if ((r = find_rate(s, c->impl, c->problem.op, 0)) != NULL) {
        /* Measured at another thread count: assume linear scaling. */
        gflops = r->gflops * threads / r->n_threads;
    }
    return c->flops / (gflops * 1e9);
}

/* Estimated wall time of a whole benchmark whose one run takes run_s: the
   validation run, then per repetition at least the minimum time. */
static double predict_benchmark_s(const atb_bench_settings *st, double run_s)
{
    const double per_repetition = fmax(run_s, MIN_TIME_OVERSHOOT * st->min_time_s);
    return run_s + st->n_repetitions * per_repetition;
}

static void add_rate(atb_bench_session *s, const atb_impl *impl, atb_op op, int n_threads,
                     double gflops)
{
    rate_entry *r = find_rate(s, impl, op, n_threads);
    if (!r) {
        rate_entry *grown = realloc(s->rates, (size_t)(s->n_rates + 1) * sizeof(*grown));
        if (!grown)
            return;
        s->rates = grown;
        r = &s->rates[s->n_rates++];
        r->impl = impl;
        r->op = op;
        r->n_threads = n_threads;
        r->gflops = 0.0;
    }
    /* The fastest rate seen: one measurement slowed by a busy machine must
       not skip everything after it, and a benchmark that is really slow is
       still caught after its validation run. */
    if (gflops > r->gflops)
        r->gflops = gflops;
}

static void record_rate(atb_bench_session *s, int k, double seconds_per_run)
{
    const atb_bench_config *c = &s->configs[k];
    if (seconds_per_run <= 0.0 || c->flops <= 0.0)
        return;
    add_rate(s, c->impl, c->problem.op, c->problem.n_threads, c->flops / seconds_per_run / 1e9);
}

/* Shrinks a problem to a calibration size: the same head size, masks and
   widths, with at most CALIBRATION_LEN positions and one batch entry. */
static atb_problem calibration_problem(const atb_problem *p)
{
    atb_problem small = *p;
    if (p->op == ATB_OP_ATTENTION) {
        atb_attention_shape *a = &small.attention;
        a->batch = 1;
        a->heads = a->heads / a->kv_heads; /* one KV group */
        a->kv_heads = 1;
        if (a->q_len > CALIBRATION_LEN)
            a->q_len = CALIBRATION_LEN;
        if (a->kv_len > CALIBRATION_LEN)
            a->kv_len = CALIBRATION_LEN;
    } else {
        small.encoder.batch = 1;
        if (small.encoder.seq_len > CALIBRATION_LEN / 4)
            small.encoder.seq_len = CALIBRATION_LEN / 4;
    }
    return small;
}

/* Measures an implementation's rate on a small problem like configuration
   k, so that the first budget decision for it rests on a measurement
   rather than on a guess. Failures leave the prior in place: the real
   benchmark then reports them. */
static void calibrate_rate(atb_bench_session *s, int k)
{
    const atb_bench_config *c = &s->configs[k];
    const atb_problem small = calibration_problem(&c->problem);
    char err[256];
    atb_tensors t;
    if (atb_tensors_alloc(&t, &small, err, sizeof(err)) != ATB_OK)
        return;
    atb_tensors_fill_random(&t, 1);
    float *out = malloc((atb_problem_output_count(&small) + 1) * sizeof(float));
    const atb_encoder_weights w = atb_tensors_weights(&t);
    void *plan = NULL;
    omp_set_num_threads(small.n_threads);
    if (out && c->impl->plan(&small, small.op == ATB_OP_ENCODER_LAYER ? &w : NULL, &plan, err,
                             sizeof(err)) == ATB_OK) {
        const atb_run_args args = atb_tensors_args(&t, out);
        /* The second run is timed: the first warms caches and thread pools. */
        double seconds = 0.0;
        int ok = 1;
        for (int run = 0; run < 2 && ok; run++) {
            const double start = omp_get_wtime();
            ok = c->impl->run(plan, &args, err, sizeof(err)) == ATB_OK;
            seconds = omp_get_wtime() - start;
        }
        const double flops = atb_problem_flops(&small, t.kv_valid_len);
        if (ok && seconds > 0.0 && flops > 0.0)
            add_rate(s, c->impl, small.op, small.n_threads, flops / seconds / 1e9);
    }
    if (plan)
        c->impl->destroy(plan);
    free(out);
    atb_tensors_free(&t);
}

/* === Progress === */

static void format_duration(double s, char *buf, size_t len)
{
    const long total = (long)(s + 0.5);
    if (total >= 3600)
        snprintf(buf, len, "%ldh%02ldm", total / 3600, total / 60 % 60);
    else if (total >= 60)
        snprintf(buf, len, "%ldm%02lds", total / 60, total % 60);
    else
        snprintf(buf, len, "%lds", total);
}

static void print_progress(atb_bench_session *s, int k)
{
    if (!s->settings.progress)
        return;
    /* Benchmarks not started yet count with their current estimate, or
       nothing when the budget would skip them. */
    double left_s = s->states[k].state == OUTCOME_SKIPPED ? 0.0 : s->states[k].predicted_s;
    for (int j = k + 1; j < s->n_configs; j++) {
        if (s->states[j].started)
            continue;
        const double total_s = predict_benchmark_s(&s->settings, predict_run_s(s, j));
        if (total_s <= s->settings.budget_s)
            left_s += total_s + OVERHEAD_PER_BENCHMARK_S;
    }
    char elapsed[32], left[32];
    format_duration(omp_get_wtime() - s->start_s, elapsed, sizeof(elapsed));
    format_duration(left_s, left, sizeof(left));
    const config_state *r = &s->states[k];
    if (r->state == OUTCOME_SKIPPED)
        fprintf(stderr, "attnbench: [%d/%d] %s: %s\n", k + 1, s->n_configs, s->configs[k].name,
                r->message);
    else
        fprintf(stderr, "attnbench: [%d/%d] %s (elapsed %s, about %s left)\n", k + 1,
                s->n_configs, s->configs[k].name, elapsed, left);
}

/* === Inputs and reference rows === */

static void release_plan(atb_bench_session *s);

static void release_shape(atb_bench_session *s)
{
    atb_tensors_free(&s->tensors);
    free(s->out);
    free(s->rows);
    free(s->expected);
    s->out = NULL;
    s->rows = NULL;
    s->expected = NULL;
    s->n_rows = 0;
    s->shape_ready = 0;
    s->shape_error[0] = '\0';
}

/* Lists the output rows to check: per (batch, head) for attention and per
   batch for the layer, the first, the last and RANDOM_ROWS random rows. */
static int choose_rows(atb_bench_session *s, const atb_problem *p)
{
    const int64_t groups = p->op == ATB_OP_ATTENTION ? p->attention.batch * p->attention.heads
                                                     : p->encoder.batch;
    const int64_t len = p->op == ATB_OP_ATTENTION ? p->attention.q_len : p->encoder.seq_len;
    int64_t per_group = 2 + RANDOM_ROWS;
    if (per_group > len)
        per_group = len;
    /* With very many heads, check fewer groups rather than too many rows. */
    int64_t group_step = 1;
    while (groups / group_step * per_group > MAX_CHECKED_ROWS)
        group_step++;

    s->rows = malloc((size_t)MAX_CHECKED_ROWS * sizeof(int64_t));
    if (!s->rows)
        return -1;
    atb_prng rng;
    atb_prng_seed(&rng, s->settings.seed ^ UINT64_C(0x5eed0f0e0a11));
    s->n_rows = 0;
    for (int64_t g = 0; g < groups; g += group_step) {
        int64_t picked[2 + RANDOM_ROWS];
        int n = 0;
        picked[n++] = 0;
        if (len > 1)
            picked[n++] = len - 1;
        while (n < per_group) {
            const int64_t i = (int64_t)(atb_prng_next(&rng) % (uint64_t)len);
            int seen = 0;
            for (int j = 0; j < n; j++)
                seen |= picked[j] == i;
            if (!seen)
                picked[n++] = i;
        }
        for (int j = 0; j < n && s->n_rows < MAX_CHECKED_ROWS; j++)
            s->rows[s->n_rows++] = g * len + picked[j];
    }
    return 0;
}

/* Computes the reference values of the chosen rows in float64. */
static atb_status compute_expected(atb_bench_session *s, const atb_problem *p)
{
    const atb_tensors *t = &s->tensors;
    if (p->op == ATB_OP_ATTENTION) {
        const atb_attention_shape *a = &p->attention;
        const int64_t d = a->head_dim;
        for (int64_t r = 0; r < s->n_rows; r++) {
            const int64_t row = s->rows[r];
            const int64_t i = row % a->q_len, bh = row / a->q_len;
            const atb_status st = atb_ref_attention_row(a, t->q, t->k, t->v, t->kv_valid_len,
                                                        bh / a->heads, bh % a->heads, i,
                                                        s->expected + r * d);
            if (st != ATB_OK)
                return st;
        }
        return ATB_OK;
    }
    const atb_encoder_weights w = atb_tensors_weights(t);
    return atb_ref_encoder_layer_rows(&p->encoder, &w, t->x, t->kv_valid_len, s->n_rows,
                                      s->rows, s->expected);
}

/* Makes the inputs, output buffer and reference rows of configuration k's
   shape current. Returns 0, or -1 with the reason in shape_error. */
static int ensure_shape(atb_bench_session *s, int k)
{
    const atb_bench_config *c = &s->configs[k];
    if (s->shape_id == c->shape_id && (s->shape_ready || s->shape_error[0]))
        return s->shape_ready ? 0 : -1;

    /* A plan may point into the inputs (the layer's weights), so it goes
       with them. */
    release_plan(s);
    release_shape(s);
    s->shape_id = c->shape_id;

    char err[256];
    atb_problem p = c->problem;
    p.n_threads = 1;
    atb_status st = atb_tensors_alloc(&s->tensors, &p, err, sizeof(err));
    if (st != ATB_OK) {
        snprintf(s->shape_error, sizeof(s->shape_error), "failed: cannot allocate the inputs: %s",
                 err);
        return -1;
    }
    atb_tensors_fill_random(&s->tensors, s->settings.seed);
    if (s->settings.denormal_inputs)
        atb_tensors_make_denormal_heavy(&s->tensors);

    const size_t n_out = atb_problem_output_count(&p);
    const int64_t row_len = p.op == ATB_OP_ATTENTION ? p.attention.head_dim : p.encoder.embed_dim;
    s->out = malloc((n_out + 1) * sizeof(float));
    if (!s->out || choose_rows(s, &p) != 0
        || !(s->expected = malloc((size_t)(s->n_rows * row_len + 1) * sizeof(double)))) {
        snprintf(s->shape_error, sizeof(s->shape_error),
                 "failed: cannot allocate the output and reference buffers (%zu bytes)",
                 (n_out + 1) * sizeof(float));
        return -1;
    }

    st = compute_expected(s, &p);
    if (st != ATB_OK) {
        snprintf(s->shape_error, sizeof(s->shape_error),
                 "failed: the float64 reference could not compute the sampled rows (%s)",
                 atb_status_string(st));
        return -1;
    }
    s->shape_ready = 1;
    return 0;
}

/* === Plan and validation === */

static void release_plan(atb_bench_session *s)
{
    if (s->plan && s->plan_index >= 0 && s->configs[s->plan_index].impl->destroy)
        s->configs[s->plan_index].impl->destroy(s->plan);
    s->plan = NULL;
    s->plan_index = -1;
}

static int ensure_plan(atb_bench_session *s, int k)
{
    if (s->plan_index == k)
        return 0;
    release_plan(s);
    const atb_bench_config *c = &s->configs[k];
    config_state *r = &s->states[k];
    const atb_encoder_weights w = atb_tensors_weights(&s->tensors);

    char err[256] = "";
    const double t0 = omp_get_wtime();
    const atb_status st = c->impl->plan(&c->problem, c->problem.op == ATB_OP_ENCODER_LAYER ? &w : NULL,
                                        &s->plan, err, sizeof(err));
    r->plan_ms = (omp_get_wtime() - t0) * 1e3;
    if (st != ATB_OK) {
        s->plan = NULL;
        r->state = OUTCOME_FAILED;
        snprintf(r->message, sizeof(r->message), "failed: plan() returned %s: %s",
                 atb_status_string(st), err);
        return -1;
    }
    s->plan_index = k;
    if (c->impl->describe)
        c->impl->describe(s->plan, r->describe, sizeof(r->describe));
    return 0;
}

/* Runs configuration k once into a NaN-filled buffer and compares the
   sampled rows with the reference. Returns the run's wall time, or -1. */
static double validate(atb_bench_session *s, int k)
{
    const atb_bench_config *c = &s->configs[k];
    config_state *r = &s->states[k];
    const size_t n_out = atb_problem_output_count(&c->problem);
    for (size_t i = 0; i < n_out; i++)
        s->out[i] = NAN;

    char err[256] = "";
    const atb_run_args args = atb_tensors_args(&s->tensors, s->out);
    const double t0 = omp_get_wtime();
    const atb_status st = c->impl->run(s->plan, &args, err, sizeof(err));
    const double run_s = omp_get_wtime() - t0;
    if (st != ATB_OK) {
        r->state = OUTCOME_FAILED;
        snprintf(r->message, sizeof(r->message), "failed: run() returned %s: %s",
                 atb_status_string(st), err);
        return -1.0;
    }

    atb_compare_result cmp;
    memset(&cmp, 0, sizeof(cmp));
    if (atb_compare(&s->tensors, s->expected, s->out, s->n_rows, s->rows, &cmp, err,
                    sizeof(err)) != ATB_OK) {
        r->state = OUTCOME_FAILED;
        snprintf(r->message, sizeof(r->message), "failed: cannot compare the output: %s", err);
        return -1.0;
    }
    if (!cmp.pass) {
        r->state = OUTCOME_WRONG;
        int n = snprintf(r->message, sizeof(r->message),
                         "wrong result: %lld of %lld checked elements outside the tolerance "
                         "(max abs error %.3g, tolerance budget used %.3g)",
                         (long long)cmp.n_failed, (long long)cmp.n_checked, cmp.max_abs_error,
                         cmp.budget_used);
        if (cmp.n_mismatches > 0 && n > 0 && (size_t)n < sizeof(r->message))
            snprintf(r->message + n, sizeof(r->message) - (size_t)n,
                     "; first at output index %lld: expected %.9g, got %.9g",
                     (long long)cmp.first[0].index, cmp.first[0].expected, cmp.first[0].got);
        return -1.0;
    }
    r->state = OUTCOME_READY;
    return run_s;
}

/* === Skip decisions === */

/* Decides before anything is allocated whether configuration k runs. */
static void decide_skip(atb_bench_session *s, int k)
{
    const atb_bench_config *c = &s->configs[k];
    config_state *r = &s->states[k];
    char why[256] = "";

    if (atb_problem_validate(&c->problem, why, sizeof(why)) != ATB_OK) {
        r->state = OUTCOME_SKIPPED;
        snprintf(r->message, sizeof(r->message), "skipped: invalid shape: %s", why);
        return;
    }
    if (c->impl->supports && !c->impl->supports(&c->problem, why, sizeof(why))) {
        r->state = OUTCOME_SKIPPED;
        snprintf(r->message, sizeof(r->message), "skipped: not supported by %s: %s",
                 c->impl->name, why);
        return;
    }

    const double need = (double)atb_problem_bytes(&c->problem);
    const atb_memory_headroom headroom = atb_memory_headroom_now();
    if (headroom.bytes >= 0.0 && need > MEMORY_FRACTION * headroom.bytes) {
        r->state = OUTCOME_SKIPPED;
        snprintf(r->message, sizeof(r->message),
                 "skipped: the inputs and output need %.0f MiB, more than %.0f%% of the %.0f MiB "
                 "left under %s", need / 1048576.0, MEMORY_FRACTION * 100.0,
                 headroom.bytes / 1048576.0, headroom.source);
        return;
    }

    if (!find_rate(s, c->impl, c->problem.op, 0))
        calibrate_rate(s, k);
    const double run_s = predict_run_s(s, k);
    const double total_s = predict_benchmark_s(&s->settings, run_s);
    r->predicted_s = total_s + OVERHEAD_PER_BENCHMARK_S;
    if (total_s > s->settings.budget_s) {
        r->state = OUTCOME_SKIPPED;
        snprintf(r->message, sizeof(r->message),
                 "skipped: estimated %.1f s (%.3g GFLOP per run at about %.3g GFLOP/s) exceeds "
                 "the budget of %g s per benchmark (--budget-seconds)",
                 total_s, c->flops / 1e9, c->flops / run_s / 1e9, s->settings.budget_s);
    }
}

/* === The benchmark function === */

static void set_counters(atb_gb_state *st, const atb_bench_config *c, const config_state *r)
{
    atb_gb_set_counter(st, "flops", c->flops, ATB_GB_COUNTER_PLAIN);
    atb_gb_set_counter(st, "GFLOPS", c->flops / 1e9, ATB_GB_COUNTER_PER_ITERATION_RATE);
    if (c->peak_gflops > 0.0)
        atb_gb_set_counter(st, "peak_fraction", c->flops / (c->peak_gflops * 1e9),
                           ATB_GB_COUNTER_PER_ITERATION_RATE);
    atb_gb_set_counter(st, "plan_ms", r->plan_ms, ATB_GB_COUNTER_PLAIN);

    /* Decode steps are limited by reading K and V, so their bandwidth is
       the figure to compare with the measured memory bandwidth. Only the
       K and V rows some query row may attend count: the last row allows
       the most keys under every causal rule (all Lk for none and
       bottom_right, min(Lq, Lk) for top_left). Bench inputs have no
       valid lengths. */
    const atb_attention_shape *a = &c->problem.attention;
    if (atb_bench_is_bandwidth_bound(&c->problem)) {
        const int64_t keys =
            a->q_len > 0 ? atb_attention_allowed_keys(a, a->kv_len, a->q_len - 1) : 0;
        const double bytes = 4.0 * (2.0 * (double)(a->batch * a->heads * a->q_len * a->head_dim)
                                    + 2.0 * (double)(a->batch * a->kv_heads * keys * a->head_dim));
        atb_gb_set_counter(st, "GBps", bytes / 1e9, ATB_GB_COUNTER_PER_ITERATION_RATE);
        if (c->bandwidth_gbps > 0.0)
            atb_gb_set_counter(st, "bandwidth_fraction", bytes / (c->bandwidth_gbps * 1e9),
                               ATB_GB_COUNTER_PER_ITERATION_RATE);
    }
}

int atb_bench_is_bandwidth_bound(const atb_problem *problem)
{
    return problem->op == ATB_OP_ATTENTION && problem->attention.q_len <= 16;
}

/* Stores the coefficient of variation of the per-iteration times. */
static void note_iteration_cv(atb_bench_session *s, config_state *r, int64_t n)
{
    r->iteration_cv = -1.0;
    if (n < 3)
        return;
    double sum = 0.0, ss = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += s->iteration_s[i];
    const double mean = sum / (double)n;
    for (int64_t i = 0; i < n; i++)
        ss += (s->iteration_s[i] - mean) * (s->iteration_s[i] - mean);
    if (mean > 0.0)
        r->iteration_cv = sqrt(ss / (double)(n - 1)) / mean;
}

static void run_benchmark(atb_gb_state *st, void *user)
{
    config_state *r = user;
    atb_bench_session *s = r->session;
    const int k = r->index;
    const atb_bench_config *c = &s->configs[k];

    if (!r->started) {
        r->started = 1;
        decide_skip(s, k);
        print_progress(s, k);
    }
    if (r->state == OUTCOME_SKIPPED || r->state == OUTCOME_WRONG || r->state == OUTCOME_FAILED) {
        atb_gb_skip_with_error(st, r->message);
        return;
    }

    omp_set_num_threads(c->problem.n_threads);
    if (ensure_shape(s, k) != 0) {
        r->state = OUTCOME_FAILED;
        snprintf(r->message, sizeof(r->message), "%s", s->shape_error);
        atb_gb_skip_with_error(st, r->message);
        return;
    }
    if (ensure_plan(s, k) != 0) {
        atb_gb_skip_with_error(st, r->message);
        return;
    }

    if (r->state == OUTCOME_PENDING) {
        const double run_s = validate(s, k);
        if (run_s < 0.0) {
            release_plan(s);
            atb_gb_skip_with_error(st, r->message);
            return;
        }
        /* The first run is measured now. The time it took is spent, so skip
           only when the timed runs still to come would exceed the budget
           on their own. */
        record_rate(s, k, run_s);
        const double remaining_s = predict_benchmark_s(&s->settings, run_s) - run_s;
        if (remaining_s > s->settings.budget_s) {
            r->state = OUTCOME_SKIPPED;
            snprintf(r->message, sizeof(r->message),
                     "skipped: the validation run took %.2f s, so the timed runs would take "
                     "about %.1f s more, over the budget of %g s per benchmark "
                     "(--budget-seconds)", run_s, remaining_s, s->settings.budget_s);
            release_plan(s);
            atb_gb_skip_with_error(st, r->message);
            return;
        }
    }
    if (r->describe[0])
        atb_gb_set_label(st, r->describe);

    /* Per-iteration times feed the noise warning; reading the clock costs
       tens of nanoseconds against runs of microseconds or more. */
    const int64_t max_iter = atb_gb_max_iterations(st);
    if (max_iter > s->iteration_capacity) {
        double *grown = realloc(s->iteration_s, (size_t)max_iter * sizeof(double));
        if (grown) {
            s->iteration_s = grown;
            s->iteration_capacity = max_iter;
        }
    }

    const atb_run_args args = atb_tensors_args(&s->tensors, s->out);
    char err[256] = "";
    int64_t n_iter = 0;
    const double t0 = omp_get_wtime();
    double t_prev = t0;
    while (atb_gb_keep_running(st)) {
        const atb_status status = c->impl->run(s->plan, &args, err, sizeof(err));
        if (status != ATB_OK) {
            r->state = OUTCOME_FAILED;
            snprintf(r->message, sizeof(r->message), "failed: run() returned %s: %s",
                     atb_status_string(status), err);
            atb_gb_skip_with_error(st, r->message);
            break;
        }
        const double now = omp_get_wtime();
        if (n_iter < s->iteration_capacity)
            s->iteration_s[n_iter] = now - t_prev;
        t_prev = now;
        n_iter++;
    }
    if (r->state == OUTCOME_FAILED) {
        release_plan(s);
        return;
    }

    if (n_iter > 0)
        record_rate(s, k, (t_prev - t0) / (double)n_iter);
    note_iteration_cv(s, r, n_iter < s->iteration_capacity ? n_iter : s->iteration_capacity);
    set_counters(st, c, r);
}

/* === Session === */

atb_bench_session *atb_bench_session_create(const atb_bench_config *configs, int n_configs,
                                            const atb_bench_settings *settings)
{
    atb_bench_session *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->configs = malloc((size_t)(n_configs + 1) * sizeof(*s->configs));
    s->states = calloc((size_t)n_configs + 1, sizeof(*s->states));
    if (!s->configs || !s->states) {
        atb_bench_session_destroy(s);
        return NULL;
    }
    if (n_configs > 0)
        memcpy(s->configs, configs, (size_t)n_configs * sizeof(*configs));
    s->n_configs = n_configs;
    s->settings = *settings;
    if (s->settings.n_repetitions < 1)
        s->settings.n_repetitions = 1;
    s->shape_id = -1;
    s->plan_index = -1;
    s->start_s = omp_get_wtime();
    for (int k = 0; k < n_configs; k++) {
        s->states[k].session = s;
        s->states[k].index = k;
        s->states[k].iteration_cv = -1.0;
    }
    return s;
}

void atb_bench_session_destroy(atb_bench_session *s)
{
    if (!s)
        return;
    if (s->configs)
        release_plan(s);
    release_shape(s);
    free(s->configs);
    free(s->states);
    free(s->rates);
    free(s->iteration_s);
    free(s);
}

atb_status atb_bench_register_all(atb_bench_session *s, const atb_gb_options *options,
                                  char *err, size_t err_len)
{
    s->start_s = omp_get_wtime();
    for (int k = 0; k < s->n_configs; k++) {
        const atb_status st = atb_gb_register(s->configs[k].name, run_benchmark, &s->states[k],
                                              options, err, err_len);
        if (st != ATB_OK)
            return st;
    }
    return ATB_OK;
}

void atb_bench_on_result(const atb_gb_result *result, void *user)
{
    atb_bench_session *s = user;
    config_state *r = NULL;
    for (int k = 0; k < s->n_configs && !r; k++)
        if (strcmp(s->configs[k].name, result->name) == 0)
            r = &s->states[k];
    if (!r || r->finished)
        return;
    r->finished = 1;
    s->n_done++;

    /* With several repetitions, each noisy benchmark gets a warning, as
       Google Benchmark prints them. Otherwise the variation across the
       iterations of the final call is only counted for the summary, because
       short runs vary more. */
    if (result->error_occurred)
        return;

    /* No implementation can beat the FMA peak. A result above it means the
       peak was too low: measured while another process or virtual machine
       took the core, or given wrong by --peak-gflops. */
    const atb_bench_config *c = &s->configs[r - s->states];
    const double achieved_gflops = result->real_time_per_iteration_s > 0.0
                                       ? c->flops / result->real_time_per_iteration_s / 1e9
                                       : 0.0;
    if (c->peak_gflops > 0.0 && achieved_gflops > 1.02 * c->peak_gflops) {
        r->above_peak = 1;
        fprintf(stderr, "attnbench: warning: %s reached %.1f GFLOP/s, above the peak of "
                "%.1f GFLOP/s it is compared with; that peak is too low (a disturbed "
                "measurement, or a wrong --peak-gflops), so its peak_fraction is too high\n",
                result->name, achieved_gflops, c->peak_gflops);
    }

    if (result->real_time_cv > NOISY_CV) {
        r->noisy = 1;
        fprintf(stderr, "attnbench: warning: %s is noisy: its time varies by %.1f%% across "
                "repetitions (coefficient of variation); the machine may be busy\n",
                result->name, 100.0 * result->real_time_cv);
    } else if (result->real_time_cv < 0.0 && r->iteration_cv > NOISY_CV) {
        r->noisy = 1;
    }
}

atb_bench_counts atb_bench_session_counts(const atb_bench_session *s)
{
    atb_bench_counts counts = {0};
    for (int k = 0; k < s->n_configs; k++) {
        const config_state *r = &s->states[k];
        if (!r->finished)
            continue;
        switch (r->state) {
        case OUTCOME_READY: counts.n_timed++; break;
        case OUTCOME_SKIPPED: counts.n_skipped++; break;
        case OUTCOME_WRONG: counts.n_wrong++; break;
        case OUTCOME_FAILED: counts.n_failed++; break;
        case OUTCOME_PENDING: break;
        }
        counts.n_noisy += r->noisy;
        counts.n_above_peak += r->above_peak;
    }
    return counts;
}
