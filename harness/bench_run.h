/*
 * The benchmark runner behind `attnbench bench`: one registered Google
 * Benchmark function per (shape, implementation, thread count). For each it
 * decides whether to skip (unsupported, memory, time budget), prepares the
 * random inputs and the plan outside the timed region, validates sampled
 * output rows against the float64 reference before any timing, then times
 * run() and sets the counters. A wrong result is reported as an error,
 * never as a speed.
 *
 * Inputs, reference rows and the plan are cached across Google Benchmark's
 * repeated calls of one benchmark and across benchmarks of the same shape,
 * which the sweep registers next to each other.
 */
#ifndef ATB_BENCH_RUN_H
#define ATB_BENCH_RUN_H

#include "attnbench/impl.h"
#include "harness/gbench/gbench.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    atb_problem problem;       /* with n_threads */
    const atb_impl *impl;
    int shape_id;              /* configurations with the same id share inputs */
    double flops;              /* per run */
    double peak_gflops;        /* denominator of peak_fraction, same thread count */
    double bandwidth_gbps;     /* denominator of bandwidth_fraction; 0: not measured */
    char name[256];
} atb_bench_config;

/* Nonzero when the benchmark of this problem reports its memory traffic
   (GBps and bandwidth_fraction): decode-like attention, Lq <= 16, whose
   time goes to reading K and V. */
int atb_bench_is_bandwidth_bound(const atb_problem *problem);

typedef struct {
    double budget_s;           /* skip when the estimated time exceeds this */
    double min_time_s;         /* minimum time Google Benchmark will run, for estimates */
    int n_repetitions;         /* Google Benchmark repetitions, for estimates */
    uint64_t seed;             /* input generator seed */
    int denormal_inputs;       /* rewrite inputs with atb_tensors_make_denormal_heavy */
    int progress;              /* print progress lines on stderr */
} atb_bench_settings;

typedef struct atb_bench_session atb_bench_session;

/* Counts by outcome, for the summary and the exit status. */
typedef struct {
    int n_timed;
    int n_skipped;             /* budget, memory, unsupported */
    int n_wrong;               /* validation failed */
    int n_failed;              /* plan() or run() returned an error, or allocation failed */
    int n_noisy;               /* coefficient of variation over 5 percent */
    int n_above_peak;          /* faster than the measured peak: a disturbed peak */
} atb_bench_counts;

/* Takes a copy of configs. Returns NULL when memory runs out. */
atb_bench_session *atb_bench_session_create(const atb_bench_config *configs, int n_configs,
                                            const atb_bench_settings *settings);
void atb_bench_session_destroy(atb_bench_session *session);

/* Registers every configuration with Google Benchmark. */
atb_status atb_bench_register_all(atb_bench_session *session, const atb_gb_options *options,
                                  char *err, size_t err_len);

/* The on_result callback for atb_gb_run_config (user: the session). */
void atb_bench_on_result(const atb_gb_result *result, void *user);

atb_bench_counts atb_bench_session_counts(const atb_bench_session *session);

#ifdef __cplusplus
}
#endif

#endif /* ATB_BENCH_RUN_H */
