/*
 * Readers for the two result formats that `attnbench report` and
 * `attnbench compare` accept:
 *
 * - Google Benchmark's JSON output (`--benchmark_out_format=json`): a
 *   "context" object and a "benchmarks" array of iteration rows (one per
 *   repetition) and aggregate rows (mean, median, stddev, cv). Rows with the
 *   same run_name become one atb_bench with its per-repetition times.
 * - `attnbench check --json` output: an object with "attnbench_check": 1,
 *   a "context" object and a "results" array, one entry per (impl, case).
 *
 * Times are converted to nanoseconds. A missing or null number reads as NAN.
 */
#ifndef ATB_REPORTS_RESULTS_H
#define ATB_REPORTS_RESULTS_H

#include <stddef.h>

#include "attnbench/impl.h"

/* A key and its value as display text (context entries, name parameters). */
typedef struct {
    char *key;
    char *value;
} atb_kv;

typedef struct {
    char *name;
    double value;
} atb_counter;

/* One benchmark configuration: all rows of one run_name. */
typedef struct {
    char *run_name;     /* e.g. attention/naive/B:1/H:8/.../threads:1 */
    char *op;           /* first name component */
    char *impl;         /* second name component ("" when absent) */
    atb_kv *params;     /* the key:value components after the implementation */
    size_t n_params;
    double *real_ns;    /* real time of each repetition (iteration rows) */
    size_t n_reps;
    double median_ns;   /* median aggregate, else median of real_ns */
    double cv;          /* cv aggregate, else stddev/mean of real_ns; NAN below 2 runs */
    atb_counter *counters; /* per counter the median over repetitions */
    size_t n_counters;
    int threads;        /* the "threads" field of the rows */
    int errored;        /* error_occurred or skipped on any row */
    char *error_message;
} atb_bench;

typedef struct {
    char *path;
    char *label;        /* machine name for tables and plot legends */
    atb_kv *context;    /* every context entry, in file order */
    size_t n_context;
    atb_bench *benches; /* in order of first appearance */
    size_t n_benches;
} atb_bench_file;

typedef struct {
    char *impl;
    char *file;
    char *case_name;
    char *op;
    char *status;       /* PASS, FAIL, SKIP or ERROR */
    char *reason;
    double max_abs_error;
    double max_rel_error;
    double nmse;
    double budget_used;
    double error_vs_naive;
} atb_check_result;

typedef struct {
    char *path;
    char *label;
    char *version;
    atb_kv *context;
    size_t n_context;
    atb_check_result *results;
    size_t n_results;
} atb_check_file;

typedef enum {
    ATB_RESULTS_BENCH = 0,  /* Google Benchmark JSON */
    ATB_RESULTS_CHECK = 1   /* attnbench check --json */
} atb_results_kind;

/*
 * Read PATH and detect its kind. Exactly one of *bench and *check is set on
 * success (allocated; free with the matching function). On failure returns
 * ATB_ERR_IO (unreadable) or ATB_ERR_FORMAT (not JSON, or neither format)
 * with a message naming the file in err.
 */
atb_status atb_results_load(const char *path, atb_results_kind *kind, atb_bench_file **bench,
                            atb_check_file **check, char *err, size_t err_len);

void atb_bench_file_free(atb_bench_file *f);
void atb_check_file_free(atb_check_file *f);

/* Give each file a distinct label: cpu_model and host_name from its
 * context, else the file name; duplicates get the file name appended. */
void atb_bench_files_label(atb_bench_file **files, size_t n_files);

/* Value of a context entry or name parameter, or NULL. */
const char *atb_kv_find(const atb_kv *kv, size_t n, const char *key);
const char *atb_bench_param(const atb_bench *b, const char *key);
/* Integer value of a name parameter, or -1 when absent or not a number. */
long long atb_bench_param_int(const atb_bench *b, const char *key);
/* Counter value, or NAN when absent. */
double atb_bench_counter(const atb_bench *b, const char *name);
/* Memory bandwidth counter in GB/s under any of its usual names, or NAN. */
double atb_bench_bandwidth(const atb_bench *b);
const atb_bench *atb_bench_file_find(const atb_bench_file *f, const char *run_name);

/* The file name part of a path. */
const char *atb_path_basename(const char *path);

#endif /* ATB_REPORTS_RESULTS_H */
