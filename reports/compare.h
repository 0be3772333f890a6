/*
 * `attnbench compare`: a regression gate between two result files of the
 * same kind.
 *
 * - Two Google Benchmark files: per benchmark (matched by run_name) the
 *   ratio of median real times new/base and, with repetitions, a two-sided
 *   Mann-Whitney U test on the per-repetition real times. A benchmark
 *   regresses when the ratio exceeds 1 + threshold and either the U test
 *   rejects at alpha or there are too few repetitions for the test.
 * - Two `attnbench check --json` files: per (impl, case) the growth of
 *   max_rel_error and nmse, and status changes. A case regresses when its
 *   status goes from PASS to FAIL or ERROR, or max_rel_error or the square
 *   root of nmse grew by more than drift_factor. Errors below drift_floor
 *   count as the floor, so growth among tiny errors is ignored.
 */
#ifndef ATB_REPORTS_COMPARE_H
#define ATB_REPORTS_COMPARE_H

#include <stdio.h>

#include "attnbench/impl.h"
#include "reports/results.h"
#include "reports/strbuf.h"

typedef struct {
    double threshold_pct;  /* allowed slowdown in percent */
    double alpha;          /* significance level of the U test */
    double drift_factor;   /* allowed growth of an error metric */
    double drift_floor;    /* relative errors below this are not compared */
} atb_compare_options;

/* Defaults: 5 %, 0.05, 2x, 1e-12. */
void atb_compare_options_default(atb_compare_options *opt);

/*
 * Compare two results files. Writes the plain-text table to out and the
 * Markdown version to md; *n_regressions counts failing rows (slower
 * benchmarks, benchmarks that newly fail, drifting or newly failing cases).
 */
atb_status atb_compare_bench(const atb_bench_file *base, const atb_bench_file *cand,
                             const atb_compare_options *opt, FILE *out, atb_strbuf *md,
                             size_t *n_regressions);
atb_status atb_compare_check(const atb_check_file *base, const atb_check_file *cand,
                             const atb_compare_options *opt, FILE *out, atb_strbuf *md,
                             size_t *n_regressions);

#endif /* ATB_REPORTS_COMPARE_H */
