/*
 * A C interface to Google Benchmark (1.7), so that the C benchmark runner
 * can register functions, drive the timing loop, set counters and context,
 * and run with the user's --benchmark_* flags.
 *
 * Results: atb_gb_run() prints through Google Benchmark's own display
 * reporter (--benchmark_format) and, when an output path is given, keeps a
 * JSON results file in Google Benchmark's own format that is rewritten
 * atomically (temporary file, then rename) after every finished benchmark.
 * The file therefore always parses and contains every benchmark finished so far,
 * even when the process is killed.
 *
 * Names: a result carries exactly the name it was registered with. Google
 * Benchmark would append "/min_time:..." and "/real_time" for the options
 * set here. The wrapper removes those suffixes from every report it writes.
 * It also applies --benchmark_filter and --benchmark_list_tests to the
 * registered names itself.
 *
 * Threads: one registration runs on the calling thread (Google Benchmark's
 * own threads are not used); the registered function may use OpenMP.
 */
#ifndef ATB_GBENCH_H
#define ATB_GBENCH_H

#include "attnbench/impl.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The timing state of one call of a registered function (benchmark::State). */
typedef struct atb_gb_state atb_gb_state;

typedef void (*atb_gb_function)(atb_gb_state *state, void *user);

typedef enum {
    ATB_GB_UNIT_DEFAULT = 0, /* --benchmark_time_unit, else nanoseconds */
    ATB_GB_UNIT_NANOSECOND,
    ATB_GB_UNIT_MICROSECOND,
    ATB_GB_UNIT_MILLISECOND,
    ATB_GB_UNIT_SECOND
} atb_gb_time_unit;

typedef struct {
    double min_time_s;            /* > 0: this benchmark's minimum time; 0: --benchmark_min_time */
    int use_real_time;            /* nonzero: iterations are timed by the wall clock */
    int measure_process_cpu_time; /* nonzero: cpu_time sums every thread of the process */
    atb_gb_time_unit time_unit;
} atb_gb_options;

/* Counter kinds, after Google Benchmark's Counter flags. */
typedef enum {
    ATB_GB_COUNTER_PLAIN = 0,         /* reported as set */
    ATB_GB_COUNTER_RATE,              /* value / seconds (kIsRate) */
    ATB_GB_COUNTER_PER_ITERATION_RATE /* value * iterations / seconds (kIsIterationInvariantRate) */
} atb_gb_counter_kind;

/* Returns 1 when name passes --benchmark_filter (a POSIX extended regex
   searched in the name; a leading '-' negates it), else 0. */
int atb_gb_filter_matches(const char *name);

/* Registers fn under name; user is passed to every call. A name that
   --benchmark_filter excludes is not registered (and ATB_OK returned), so
   call atb_gb_initialize first. The options may be NULL (defaults: the
   flags' min time and time unit, CPU time). */
atb_status atb_gb_register(const char *name, atb_gb_function fn, void *user,
                           const atb_gb_options *options, char *err, size_t err_len);

/* The timing loop: `while (atb_gb_keep_running(state)) { ... }`. */
int atb_gb_keep_running(atb_gb_state *state);
void atb_gb_pause_timing(atb_gb_state *state);
void atb_gb_resume_timing(atb_gb_state *state);

/* Marks the run as failed with message: it is reported with error_occurred
   and the message, and without times or counters. Before the timing loop,
   the loop then runs no iteration; inside it, end the loop yourself. */
void atb_gb_skip_with_error(atb_gb_state *state, const char *message);
int atb_gb_error_occurred(const atb_gb_state *state);

/* Iterations this call runs in total; the count is chosen by Google
   Benchmark to reach the minimum time. */
int64_t atb_gb_max_iterations(const atb_gb_state *state);

void atb_gb_set_counter(atb_gb_state *state, const char *name, double value,
                        atb_gb_counter_kind kind);
/* Totals over all iterations of this call; reported as items_per_second
   and bytes_per_second. */
void atb_gb_set_items_processed(atb_gb_state *state, int64_t items);
void atb_gb_set_bytes_processed(atb_gb_state *state, int64_t bytes);
void atb_gb_set_label(atb_gb_state *state, const char *label);

/* Adds key: value to the context block of every report. Double quotes,
   backslashes and control characters are replaced, because Google
   Benchmark 1.7 writes context strings into JSON without escaping them. */
void atb_gb_add_context(const char *key, const char *value);

/* Hands argv to Google Benchmark, which removes the --benchmark_* flags it
   recognizes. Call it after removing the program's own options. Any argument left
   over is reported on stderr and makes this return ATB_ERR_INVALID. */
atb_status atb_gb_initialize(int *argc, char **argv, char *err, size_t err_len);

/* The outcome of one finished benchmark, given to atb_gb_run_config's
   on_result callback after its report was written. */
typedef struct {
    const char *name;
    int error_occurred;
    const char *error_message;    /* "" without an error */
    int64_t n_repetitions;        /* iteration runs reported (not aggregates) */
    double real_time_per_iteration_s; /* mean over the repetitions */
    double real_time_cv;          /* stddev / mean over repetitions; -1 with fewer than 2 */
} atb_gb_result;

typedef struct {
    const char *out_path;         /* JSON results file, or NULL for none */
    void (*on_result)(const atb_gb_result *result, void *user); /* may be NULL */
    void *user;
} atb_gb_run_config;

/* Runs every registered benchmark that --benchmark_filter selects and
   stores how many matched in *n_matched. Fails with ATB_ERR_IO when the
   results file cannot be written. */
atb_status atb_gb_run(const atb_gb_run_config *config, size_t *n_matched, char *err,
                      size_t err_len);

/* Makes every benchmark that has not started yet end at once without being
   reported, so atb_gb_run() returns after the current one. Safe to call from
   a signal handler. */
void atb_gb_request_stop(void);
int atb_gb_stop_requested(void);

/* Path of the temporary file the results writer may be writing, or "" when
   none; a signal handler that exits at once may unlink it. */
const char *atb_gb_temp_path(void);

/* Google Benchmark's version as found by CMake, e.g. "1.7.1". */
const char *atb_gb_version(void);

#ifdef __cplusplus
}
#endif

#endif /* ATB_GBENCH_H */
