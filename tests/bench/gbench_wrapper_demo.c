/*
 * A C program that drives the Google Benchmark wrapper the way the bench
 * does: it registers a few functions, adds context, runs with the given
 * --benchmark_* flags and writes the JSON results file named by --out.
 * check_gbench_wrapper.py runs it and checks the file; this program checks
 * what only it can see (the on_result callbacks) and exits 1 on a mismatch.
 *
 *   gbench_wrapper_demo --out FILE [--stop-after-first] [--benchmark_* ...]
 *
 * With --stop-after-first, the first benchmark requests a stop, so the
 * results must hold that benchmark only.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include "harness/gbench/gbench.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Sleep inside the paused section of each iteration; long against the
   timed work, so a pause that did not pause shows in the timings. The timed
   work is long enough that Google Benchmark needs few iterations (each one
   sleeps) to reach the minimum time. */
#define PAUSED_SLEEP_NS 30000000L
#define PAUSED_WORK_REPEATS 300

static int n_results, n_errors, stop_after_first;

static void busy_work(void)
{
    volatile double x = 1.0;
    for (int i = 0; i < 1000; i++)
        x = x * 1.0000001 + 1e-9;
}

static void counters_benchmark(atb_gb_state *st, void *user)
{
    (void)user;
    if (stop_after_first)
        atb_gb_request_stop();
    int64_t n = 0;
    while (atb_gb_keep_running(st)) {
        busy_work();
        n++;
    }
    atb_gb_set_counter(st, "plain_value", 42.0, ATB_GB_COUNTER_PLAIN);
    atb_gb_set_counter(st, "per_iteration_rate", 1000.0, ATB_GB_COUNTER_PER_ITERATION_RATE);
    atb_gb_set_counter(st, "total_rate", 5.0, ATB_GB_COUNTER_RATE);
    atb_gb_set_items_processed(st, n * 10);
    atb_gb_set_bytes_processed(st, n * 4096);
    atb_gb_set_label(st, "label with \"quotes\"");
}

static void paused_benchmark(atb_gb_state *st, void *user)
{
    (void)user;
    const struct timespec pause = {0, PAUSED_SLEEP_NS};
    while (atb_gb_keep_running(st)) {
        atb_gb_pause_timing(st);
        nanosleep(&pause, NULL);
        atb_gb_resume_timing(st);
        for (int i = 0; i < PAUSED_WORK_REPEATS; i++)
            busy_work();
    }
}

static void error_in_loop_benchmark(atb_gb_state *st, void *user)
{
    (void)user;
    while (atb_gb_keep_running(st)) {
        busy_work();
        atb_gb_skip_with_error(st, "wrong result: deliberate");
        break;
    }
    /* Counters set after an error must not be reported. */
    atb_gb_set_counter(st, "GFLOPS", 1.0, ATB_GB_COUNTER_PER_ITERATION_RATE);
}

static void error_before_loop_benchmark(atb_gb_state *st, void *user)
{
    (void)user;
    atb_gb_skip_with_error(st, "skipped: deliberate, before the loop");
}

static void returns_early_benchmark(atb_gb_state *st, void *user)
{
    (void)st;
    (void)user;
}

static void on_result(const atb_gb_result *result, void *user)
{
    (void)user;
    n_results++;
    n_errors += result->error_occurred;
    const int expect_error = strstr(result->name, "error") || strstr(result->name, "early");
    if (expect_error != result->error_occurred) {
        fprintf(stderr, "on_result: %s: error_occurred %d, expected %d\n", result->name,
                result->error_occurred, expect_error);
        n_errors += 1000;
    }
    if (!result->error_occurred && !(result->real_time_per_iteration_s > 0.0)) {
        fprintf(stderr, "on_result: %s: real time per iteration %g, expected > 0\n",
                result->name, result->real_time_per_iteration_s);
        n_errors += 1000;
    }
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    char *gb_argv[64];
    int gb_argc = 0;
    gb_argv[gb_argc++] = argv[0];
    for (int i = 1; i < argc && gb_argc < 63; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--stop-after-first") == 0)
            stop_after_first = 1;
        else
            gb_argv[gb_argc++] = argv[i];
    }

    char err[256];
    if (atb_gb_initialize(&gb_argc, gb_argv, err, sizeof(err)) != ATB_OK) {
        fprintf(stderr, "gbench_wrapper_demo: %s\n", err);
        return 2;
    }
    atb_gb_add_context("demo_key", "demo \"value\" with \\ backslash");

    const atb_gb_options real_time = {.min_time_s = 0.02, .use_real_time = 1,
                                      .time_unit = ATB_GB_UNIT_MILLISECOND};
    struct {
        const char *name;
        atb_gb_function fn;
    } table[] = {
        {"demo/counters", counters_benchmark},
        {"demo/paused", paused_benchmark},
        {"demo/error_in_loop", error_in_loop_benchmark},
        {"demo/error_before_loop", error_before_loop_benchmark},
        {"demo/returns_early", returns_early_benchmark},
    };
    for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++)
        if (atb_gb_register(table[k].name, table[k].fn, NULL, &real_time, err, sizeof(err))
            != ATB_OK) {
            fprintf(stderr, "gbench_wrapper_demo: %s\n", err);
            return 1;
        }

    const atb_gb_run_config run = {.out_path = out, .on_result = on_result};
    size_t n_matched = 0;
    if (atb_gb_run(&run, &n_matched, err, sizeof(err)) != ATB_OK) {
        fprintf(stderr, "gbench_wrapper_demo: %s\n", err);
        return 1;
    }

    /* Every matched benchmark reports once, or only the first after a stop. */
    const int expected_results = stop_after_first ? 1 : (int)n_matched;
    if (n_results != expected_results || n_errors >= 1000) {
        fprintf(stderr, "gbench_wrapper_demo: %d results (%d with errors) for %zu benchmarks "
                "matched, expected %d results\n", n_results, n_errors % 1000, n_matched,
                expected_results);
        return 1;
    }
    return 0;
}
