/*
 * `attnbench compare`: see compare.h. Each comparison fills a text table
 * that is printed aligned on stdout and as Markdown for CI summaries.
 */
#define _POSIX_C_SOURCE 200809L

#include "reports/compare.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "reports/stats.h"

void atb_compare_options_default(atb_compare_options *opt)
{
    opt->threshold_pct = 5.0;
    opt->alpha = 0.05;
    opt->drift_factor = 2.0;
    opt->drift_floor = 1e-12;
}

/* === Text table === */

typedef struct {
    size_t n_cols;
    char **cells;      /* row-major, n_rows * n_cols */
    size_t n_rows;
    size_t cap_rows;
    int failed;
} text_table;

static void table_init(text_table *t, size_t n_cols)
{
    memset(t, 0, sizeof(*t));
    t->n_cols = n_cols;
}

/* Append a row of n_cols cells (copied). */
static void table_add(text_table *t, const char *const *cells)
{
    if (t->failed)
        return;
    if (t->n_rows == t->cap_rows) {
        size_t cap = t->cap_rows ? 2 * t->cap_rows : 16;
        char **grown = realloc(t->cells, cap * t->n_cols * sizeof(char *));
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->cells = grown;
        t->cap_rows = cap;
    }
    for (size_t c = 0; c < t->n_cols; c++) {
        char *copy = strdup(cells[c] ? cells[c] : "");
        if (!copy)
            t->failed = 1;
        t->cells[t->n_rows * t->n_cols + c] = copy;
    }
    t->n_rows++;
}

static void table_free(text_table *t)
{
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* Print the first row as a header, then the rest, columns padded. */
static void table_print(const text_table *t, FILE *out)
{
    size_t *width = calloc(t->n_cols, sizeof(size_t));
    if (!width)
        return;
    for (size_t r = 0; r < t->n_rows; r++)
        for (size_t c = 0; c < t->n_cols; c++) {
            size_t len = strlen(t->cells[r * t->n_cols + c]);
            if (len > width[c])
                width[c] = len;
        }
    for (size_t r = 0; r < t->n_rows; r++) {
        for (size_t c = 0; c < t->n_cols; c++) {
            const char *cell = t->cells[r * t->n_cols + c];
            if (c == 0)
                fprintf(out, "%-*s", (int)width[c], cell);
            else
                fprintf(out, "  %*s", (int)width[c], cell);
        }
        fputc('\n', out);
        if (r == 0) {
            size_t total = 0;
            for (size_t c = 0; c < t->n_cols; c++)
                total += width[c] + (c ? 2 : 0);
            for (size_t i = 0; i < total; i++)
                fputc('-', out);
            fputc('\n', out);
        }
    }
    free(width);
}

static void table_markdown(const text_table *t, atb_strbuf *md)
{
    for (size_t r = 0; r < t->n_rows; r++) {
        atb_strbuf_append(md, "|");
        for (size_t c = 0; c < t->n_cols; c++) {
            atb_strbuf_append(md, " ");
            atb_strbuf_append_md_cell(md, t->cells[r * t->n_cols + c]);
            atb_strbuf_append(md, " |");
        }
        atb_strbuf_append(md, "\n");
        if (r == 0) {
            atb_strbuf_append(md, "|");
            for (size_t c = 0; c < t->n_cols; c++)
                atb_strbuf_append(md, c == 0 ? "---|" : "---:|");
            atb_strbuf_append(md, "\n");
        }
    }
    atb_strbuf_append(md, "\n");
}

/* Print a note line to out and as a Markdown list item. */
static void note(FILE *out, atb_strbuf *md, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void note(FILE *out, atb_strbuf *md, const char *format, ...)
{
    char text[2048];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof(text), format, args);
    va_end(args);
    fprintf(out, "%s\n", text);
    atb_strbuf_append(md, "- ");
    atb_strbuf_append(md, text);
    atb_strbuf_append(md, "\n");
}

static void format_time(char *text, size_t len, double ns)
{
    if (isnan(ns))
        snprintf(text, len, "n/a");
    else if (ns < 1e3)
        snprintf(text, len, "%.1f ns", ns);
    else if (ns < 1e6)
        snprintf(text, len, "%.3f us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(text, len, "%.3f ms", ns / 1e6);
    else
        snprintf(text, len, "%.3f s", ns / 1e9);
}

/* === Benchmarks === */

atb_status atb_compare_bench(const atb_bench_file *base, const atb_bench_file *cand,
                             const atb_compare_options *opt, FILE *out, atb_strbuf *md,
                             size_t *n_regressions)
{
    static const char *const header[] = {"benchmark", "runs", "base", "new", "new/base",
                                         "p-value", "verdict"};
    text_table t;
    table_init(&t, 7);
    table_add(&t, header);
    *n_regressions = 0;
    size_t n_faster = 0, n_same = 0, n_noise = 0, n_ratio_only = 0, n_compared = 0;
    double limit = 1.0 + opt->threshold_pct / 100.0;
    double lower = 1.0 - opt->threshold_pct / 100.0;
    size_t too_few_base = 0, too_few_cand = 0, n_ratios = 0;
    double too_few_min_p = 0.0, log_ratio_sum = 0.0;

    for (size_t i = 0; i < base->n_benches; i++) {
        const atb_bench *b = &base->benches[i];
        const atb_bench *c = atb_bench_file_find(cand, b->run_name);
        if (!c)
            continue;
        n_compared++;
        char runs[64], base_time[64], cand_time[64], ratio_text[64], p_text[64];
        const char *verdict;
        snprintf(runs, sizeof(runs), "%zu/%zu", b->n_reps ? b->n_reps : 1, c->n_reps ? c->n_reps : 1);
        format_time(base_time, sizeof(base_time), b->median_ns);
        format_time(cand_time, sizeof(cand_time), c->median_ns);
        snprintf(ratio_text, sizeof(ratio_text), "n/a");
        snprintf(p_text, sizeof(p_text), "n/a");

        if (b->errored || c->errored) {
            if (c->errored && !b->errored) {
                verdict = "FAIL: new run errored";
                (*n_regressions)++;
            } else {
                verdict = c->errored ? "both runs errored" : "base run errored";
            }
            if (b->errored)
                snprintf(base_time, sizeof(base_time), "error");
            if (c->errored)
                snprintf(cand_time, sizeof(cand_time), "error");
        } else {
            double ratio = c->median_ns / b->median_ns;
            snprintf(ratio_text, sizeof(ratio_text), "%.3f", ratio);
            if (ratio > 0.0 && isfinite(ratio)) {
                log_ratio_sum += log(ratio);
                n_ratios++;
            }

            /* The U test decides only when these sample sizes can reach
             * alpha at all. Otherwise the ratio alone decides. */
            atb_utest u;
            int tested = b->n_reps >= 2 && c->n_reps >= 2
                         && atb_mann_whitney(c->real_ns, c->n_reps, b->real_ns, b->n_reps, &u) == 0;
            int usable = tested && u.min_p < opt->alpha;
            if (tested)
                snprintf(p_text, sizeof(p_text), u.p_value >= 1e-4 ? "%.4f" : "%.1e", u.p_value);
            if (tested && !usable) {
                too_few_base = b->n_reps;
                too_few_cand = c->n_reps;
                too_few_min_p = u.min_p;
            }
            int significant = usable ? u.p_value < opt->alpha : 1;

            if (ratio > limit && significant) {
                verdict = usable ? "FAIL: slower" : "FAIL: slower (ratio only)";
                (*n_regressions)++;
            } else if (ratio < lower && significant) {
                verdict = usable ? "faster" : "faster (ratio only)";
                n_faster++;
            } else if (ratio > limit || ratio < lower) {
                verdict = "not significant";
                n_noise++;
            } else {
                verdict = "same";
                n_same++;
            }
            if (!usable)
                n_ratio_only++;
        }
        const char *row[] = {b->run_name, runs, base_time, cand_time, ratio_text, p_text, verdict};
        table_add(&t, row);
    }
    if (t.failed) {
        table_free(&t);
        return ATB_ERR_NOMEM;
    }

    /* Summary, table, then notes. */
    char summary[640];
    int len = snprintf(summary, sizeof(summary),
                       "%zu benchmarks compared (threshold %.3g%%, alpha %.3g): %zu slower or newly "
                       "failing, %zu faster, %zu within the threshold, %zu beyond it but not "
                       "significant.",
                       n_compared, opt->threshold_pct, opt->alpha, *n_regressions, n_faster, n_same,
                       n_noise);
    if (n_ratios > 0 && len > 0 && (size_t)len < sizeof(summary))
        snprintf(summary + len, sizeof(summary) - (size_t)len,
                 " Geometric mean of new/base: %.3f.", exp(log_ratio_sum / (double)n_ratios));
    fprintf(out, "base: %s (%s)\nnew:  %s (%s)\n\n", base->path, base->label, cand->path, cand->label);
    table_print(&t, out);
    fprintf(out, "\n%s\n", summary);
    atb_strbuf_printf(md, "## attnbench compare\n\nbase: `%s` (%s), new: `%s` (%s)\n\n", base->path,
                      base->label, cand->path, cand->label);
    table_markdown(&t, md);
    atb_strbuf_printf(md, "%s\n\n", summary);

    if (n_ratio_only > 0) {
        if (too_few_base > 0)
            note(out, md,
                 "note: too few repetitions for the U test (%zu base, %zu new: the smallest "
                 "possible p-value is %.3g, not below alpha %.3g); %zu benchmarks were decided "
                 "by the ratio alone. Run with --benchmark_repetitions=9 or more.",
                 too_few_base, too_few_cand, too_few_min_p, opt->alpha, n_ratio_only);
        else
            note(out, md,
                 "note: %zu benchmarks have no per-repetition times (one run, or aggregates "
                 "only) and were decided by the ratio alone.",
                 n_ratio_only);
    }
    /* A benchmark that vanished from the new run (an interrupted or failed
       run) must not pass the gate unnoticed. */
    size_t n_missing = 0;
    for (size_t i = 0; i < base->n_benches; i++)
        if (!atb_bench_file_find(cand, base->benches[i].run_name)) {
            note(out, md, "only in base: %s", base->benches[i].run_name);
            n_missing++;
        }
    if (n_missing) {
        note(out, md, "FAIL: %zu benchmarks of the base are missing from the new file", n_missing);
        *n_regressions += n_missing;
    }
    for (size_t i = 0; i < cand->n_benches; i++)
        if (!atb_bench_file_find(base, cand->benches[i].run_name))
            note(out, md, "only in new: %s", cand->benches[i].run_name);
    table_free(&t);
    return md->failed ? ATB_ERR_NOMEM : ATB_OK;
}

/* === Conformance (check files) === */

static const atb_check_result *find_result(const atb_check_file *f, const atb_check_result *like)
{
    for (size_t i = 0; i < f->n_results; i++)
        if (strcmp(f->results[i].impl, like->impl) == 0
            && strcmp(f->results[i].case_name, like->case_name) == 0)
            return &f->results[i];
    return NULL;
}

/* Growth factor of an error metric; values below floor count as floor.
 * NAN when either value is missing. */
static double error_growth(double base, double cand, double floor)
{
    if (isnan(base) || isnan(cand))
        return NAN;
    if (cand < floor)
        return cand <= base ? 0.0 : 1.0;
    return cand / fmax(base, floor);
}

static void format_error(char *text, size_t len, double v)
{
    if (isnan(v))
        snprintf(text, len, "n/a");
    else
        snprintf(text, len, "%.3g", v);
}

atb_status atb_compare_check(const atb_check_file *base, const atb_check_file *cand,
                             const atb_compare_options *opt, FILE *out, atb_strbuf *md,
                             size_t *n_regressions)
{
    static const char *const header[] = {"impl", "case", "status", "max_rel_error",
                                         "growth", "nmse", "sqrt(nmse) growth", "verdict"};
    text_table t;
    table_init(&t, 8);
    table_add(&t, header);
    *n_regressions = 0;
    size_t n_compared = 0, n_fixed = 0;

    for (size_t i = 0; i < base->n_results; i++) {
        const atb_check_result *b = &base->results[i];
        const atb_check_result *c = find_result(cand, b);
        if (!c)
            continue;
        n_compared++;
        char status[64], rel[80], rel_growth[32], nmse[80], nmse_growth[32], b_text[32], c_text[32];
        if (strcmp(b->status, c->status) == 0)
            snprintf(status, sizeof(status), "%s", c->status);
        else
            snprintf(status, sizeof(status), "%s -> %s", b->status, c->status);

        format_error(b_text, sizeof(b_text), b->max_rel_error);
        format_error(c_text, sizeof(c_text), c->max_rel_error);
        snprintf(rel, sizeof(rel), "%s -> %s", b_text, c_text);
        format_error(b_text, sizeof(b_text), b->nmse);
        format_error(c_text, sizeof(c_text), c->nmse);
        snprintf(nmse, sizeof(nmse), "%s -> %s", b_text, c_text);

        double growth_rel = error_growth(b->max_rel_error, c->max_rel_error, opt->drift_floor);
        /* NMSE is a squared quantity: its square root (an RMS relative
         * error) grows by the same factor as the error magnitude. */
        double growth_nmse = error_growth(sqrt(b->nmse), sqrt(c->nmse), opt->drift_floor);
        if (isnan(growth_rel))
            snprintf(rel_growth, sizeof(rel_growth), "n/a");
        else
            snprintf(rel_growth, sizeof(rel_growth), "%.2fx", growth_rel);
        if (isnan(growth_nmse))
            snprintf(nmse_growth, sizeof(nmse_growth), "n/a");
        else
            snprintf(nmse_growth, sizeof(nmse_growth), "%.2fx", growth_nmse);

        int was_pass = strcmp(b->status, "PASS") == 0;
        int now_bad = strcmp(c->status, "FAIL") == 0 || strcmp(c->status, "ERROR") == 0;
        int was_bad = strcmp(b->status, "FAIL") == 0 || strcmp(b->status, "ERROR") == 0;
        const char *verdict;
        if (was_pass && now_bad) {
            verdict = "FAIL: status regressed";
            (*n_regressions)++;
        } else if ((!isnan(growth_rel) && growth_rel > opt->drift_factor)
                   || (!isnan(growth_nmse) && growth_nmse > opt->drift_factor)) {
            verdict = "FAIL: error drift";
            (*n_regressions)++;
        } else if (was_bad && strcmp(c->status, "PASS") == 0) {
            verdict = "fixed";
            n_fixed++;
        } else if (strcmp(b->status, c->status) != 0) {
            verdict = "status changed";
        } else {
            verdict = "ok";
        }
        const char *row[] = {b->impl, b->case_name, status, rel, rel_growth, nmse, nmse_growth,
                             verdict};
        table_add(&t, row);
    }
    if (t.failed) {
        table_free(&t);
        return ATB_ERR_NOMEM;
    }

    char summary[512];
    snprintf(summary, sizeof(summary),
             "%zu (impl, case) pairs compared (drift factor %.3gx, errors below %.3g ignored): "
             "%zu regressed, %zu fixed.",
             n_compared, opt->drift_factor, opt->drift_floor, *n_regressions, n_fixed);
    fprintf(out, "base: %s (%s)\nnew:  %s (%s)\n\n", base->path, base->label, cand->path, cand->label);
    table_print(&t, out);
    fprintf(out, "\n%s\n", summary);
    atb_strbuf_printf(md, "## attnbench compare (conformance)\n\nbase: `%s` (%s), new: `%s` (%s)\n\n",
                      base->path, base->label, cand->path, cand->label);
    table_markdown(&t, md);
    atb_strbuf_printf(md, "%s\n\n", summary);
    size_t n_missing = 0;
    for (size_t i = 0; i < base->n_results; i++)
        if (!find_result(cand, &base->results[i])) {
            note(out, md, "only in base: %s %s", base->results[i].impl, base->results[i].case_name);
            n_missing++;
        }
    if (n_missing) {
        note(out, md, "FAIL: %zu (impl, case) results of the base are missing from the new file",
             n_missing);
        *n_regressions += n_missing;
    }
    for (size_t i = 0; i < cand->n_results; i++)
        if (!find_result(base, &cand->results[i]))
            note(out, md, "only in new: %s %s", cand->results[i].impl, cand->results[i].case_name);
    table_free(&t);
    return md->failed ? ATB_ERR_NOMEM : ATB_OK;
}
