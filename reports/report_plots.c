/*
 * Choosing and drawing the report's plots. Benchmarks are grouped into
 * sweeps: configurations that differ only in the swept parameter (the
 * sequence length, the head count, the thread count or the decode cache
 * length) and in the implementation. Each sweep with at least two points
 * (one for decode bandwidth) gets its plots, one series per implementation
 * and machine: colour by implementation, dash pattern by file.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/problem.h"
#include "harness/registry.h"
#include "reports/report_internal.h"
#include "reports/stats.h"

/* Per operation, sweeps of one kind beyond MAX_SWEEPS are listed in the
 * tables only, so a large preset does not produce hundreds of plots. The
 * first FULL_SEQ_SWEEPS sequence sweeps get all four plots (GFLOP/s, peak
 * fraction, speedup over naive and over blas); later ones GFLOP/s only. */
#define MAX_SWEEPS 6
#define FULL_SEQ_SWEEPS 2

typedef enum { SWEEP_SEQ, SWEEP_HEADS, SWEEP_THREADS, SWEEP_DECODE } sweep_kind;

typedef struct {
    char *key;       /* op and the fixed parameters */
    double *xs;      /* distinct x values */
    size_t n_xs;
    size_t order;    /* position of first appearance, for a stable sort */
} sweep;

/* === Metrics of one benchmark === */

static double bench_gflops(const atb_bench *b)
{
    double g = atb_bench_counter(b, "GFLOPS");
    if (isnan(g)) {
        double flops = atb_bench_counter(b, "flops");
        if (!isnan(flops) && b->median_ns > 0.0)
            g = flops / b->median_ns;
    }
    return g;
}

/* Bytes of q, k, v and out in f32 moved by one attention call, counting
 * the K and V rows the last query row may attend, as bench's GBps does.
 * This lower bound on memory traffic is used when the results carry no
 * bandwidth counter. */
static double attention_bytes(const atb_bench *b)
{
    double batch = (double)atb_bench_param_int(b, "B"), heads = (double)atb_bench_param_int(b, "H");
    double kv_heads = (double)atb_bench_param_int(b, "Hkv"), dim = (double)atb_bench_param_int(b, "D");
    double q_len = (double)atb_bench_param_int(b, "Lq"), kv_len = (double)atb_bench_param_int(b, "Lk");
    if (batch < 0 || heads < 0 || kv_heads < 0 || dim < 0 || q_len < 0 || kv_len < 0)
        return NAN;
    atb_attention_shape shape = {.q_len = (int64_t)q_len, .kv_len = (int64_t)kv_len};
    const char *causal = atb_bench_param(b, "causal");
    for (int c = ATB_CAUSAL_NONE; c <= ATB_CAUSAL_BOTTOM_RIGHT; c++)
        if (causal && strcmp(causal, atb_causal_name((atb_causal)c)) == 0)
            shape.causal = (atb_causal)c;
    const double keys =
        q_len > 0 ? (double)atb_attention_allowed_keys(&shape, shape.kv_len, shape.q_len - 1) : 0.0;
    return 4.0 * dim * batch * (2.0 * kv_heads * keys + 2.0 * heads * q_len);
}

static double bench_bandwidth(const atb_bench *b, int *estimated)
{
    double v = atb_bench_bandwidth(b);
    if (!isnan(v))
        return v;
    *estimated = 1;
    return attention_bytes(b) / b->median_ns; /* bytes per ns = GB/s */
}

static int bench_threads(const atb_bench *b)
{
    long long t = atb_bench_param_int(b, "threads");
    return t > 0 ? (int)t : b->threads;
}

/* Measured FMA peak in GFLOP/s for a thread count: the largest context
 * entry whose key contains "peak" and "gflops" and ends in _<T> (attnbench
 * bench writes peak_gflops_<isa>_threads_<T> per ISA), else derived from
 * the GFLOPS and peak_fraction counters. The key used, or "", goes to
 * source. */
static double file_peak_gflops(const atb_bench_file *f, int threads, const char **source)
{
    char suffix[32];
    snprintf(suffix, sizeof(suffix), "_%d", threads);
    double best = NAN;
    *source = "";
    for (size_t i = 0; i < f->n_context; i++) {
        const char *key = f->context[i].key;
        size_t len = strlen(key), suffix_len = strlen(suffix);
        if (!strstr(key, "peak") || len <= suffix_len || strcmp(key + len - suffix_len, suffix) != 0
            || !(strstr(key, "gflops") || strstr(key, "GFLOPS")))
            continue;
        char *end;
        double v = strtod(f->context[i].value, &end);
        if (end != f->context[i].value && v > 0.0 && (isnan(best) || v > best)) {
            best = v;
            *source = key;
        }
    }
    if (!isnan(best))
        return best;

    double *derived = malloc((f->n_benches ? f->n_benches : 1) * sizeof(double));
    size_t n = 0;
    for (size_t i = 0; derived && i < f->n_benches; i++) {
        const atb_bench *b = &f->benches[i];
        double g = atb_bench_counter(b, "GFLOPS"), frac = atb_bench_counter(b, "peak_fraction");
        if (!b->errored && bench_threads(b) == threads && g > 0.0 && frac > 0.0)
            derived[n++] = g / frac;
    }
    double peak = n ? atb_median(derived, n) : NAN;
    free(derived);
    return peak;
}

/* === Sweeps === */

static int is_excluded(const char *key, const char *const *excluded)
{
    for (size_t i = 0; excluded[i]; i++)
        if (strcmp(key, excluded[i]) == 0)
            return 1;
    return 0;
}

/* x of b in a sweep of this kind and the key of its sweep, or NAN when b
 * belongs to no such sweep. */
static double sweep_x(const atb_bench *b, sweep_kind kind, atb_strbuf *key)
{
    static const char *const seq_attention[] = {"Lq", "Lk", NULL};
    static const char *const seq_encoder[] = {"L", NULL};
    static const char *const heads_attention[] = {"H", "Hkv", NULL};
    static const char *const heads_encoder[] = {"H", "E", "F", NULL};
    static const char *const threads[] = {"threads", NULL};
    static const char *const decode[] = {"Lk", NULL};
    int attention = strcmp(b->op, "attention") == 0;
    int encoder = strcmp(b->op, "encoder_layer") == 0;
    long long q_len = atb_bench_param_int(b, "Lq"), kv_len = atb_bench_param_int(b, "Lk");
    const char *const *excluded;
    double x;

    switch (kind) {
    case SWEEP_SEQ:
        if (attention && q_len > 0 && q_len == kv_len) {
            excluded = seq_attention;
            x = (double)q_len;
        } else if (encoder && atb_bench_param_int(b, "L") > 0) {
            excluded = seq_encoder;
            x = (double)atb_bench_param_int(b, "L");
        } else {
            return NAN;
        }
        break;
    case SWEEP_HEADS:
        if (!(attention || encoder) || atb_bench_param_int(b, "H") <= 0)
            return NAN;
        excluded = attention ? heads_attention : heads_encoder;
        x = (double)atb_bench_param_int(b, "H");
        break;
    case SWEEP_THREADS:
        excluded = threads;
        x = bench_threads(b);
        break;
    case SWEEP_DECODE:
        if (!attention || q_len <= 0 || kv_len <= q_len)
            return NAN;
        excluded = decode;
        x = (double)kv_len;
        break;
    default:
        return NAN;
    }

    atb_strbuf_append(key, b->op);
    for (size_t i = 0; i < b->n_params; i++) {
        if (is_excluded(b->params[i].key, excluded))
            continue;
        atb_strbuf_printf(key, " %s%s%s", b->params[i].key, *b->params[i].value ? ":" : "",
                          b->params[i].value);
    }
    /* Sweeping heads keeps the grouping (H/Hkv) or head size (E/H) fixed. */
    if (kind == SWEEP_HEADS && attention && atb_bench_param_int(b, "Hkv") > 0)
        atb_strbuf_printf(key, " H/Hkv:%lld", atb_bench_param_int(b, "H") / atb_bench_param_int(b, "Hkv"));
    if (kind == SWEEP_HEADS && encoder && atb_bench_param_int(b, "E") > 0)
        atb_strbuf_printf(key, " E/H:%lld", atb_bench_param_int(b, "E") / atb_bench_param_int(b, "H"));
    return x;
}

static void free_sweeps(sweep *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].key);
        free(s[i].xs);
    }
    free(s);
}

/* Collect the sweeps of one kind over all files. Returns NULL without memory. */
static sweep *find_sweeps(const atb_report_input *in, sweep_kind kind, size_t *n_out)
{
    size_t cap = 1;
    for (size_t f = 0; f < in->n_bench; f++)
        cap += in->bench[f]->n_benches;
    sweep *sweeps = calloc(cap, sizeof(sweep));
    *n_out = 0;
    if (!sweeps)
        return NULL;
    for (size_t f = 0; f < in->n_bench; f++) {
        for (size_t i = 0; i < in->bench[f]->n_benches; i++) {
            const atb_bench *b = &in->bench[f]->benches[i];
            if (b->errored)
                continue;
            atb_strbuf key;
            atb_strbuf_init(&key);
            double x = sweep_x(b, kind, &key);
            if (isnan(x) || key.failed) {
                atb_strbuf_free(&key);
                continue;
            }
            size_t s = 0;
            while (s < *n_out && strcmp(sweeps[s].key, key.data) != 0)
                s++;
            if (s == *n_out) {
                sweeps[s].key = key.data;
                sweeps[s].xs = malloc(cap * sizeof(double));
                if (!sweeps[s].xs) {
                    free_sweeps(sweeps, *n_out + 1);
                    return NULL;
                }
                (*n_out)++;
            } else {
                atb_strbuf_free(&key);
            }
            size_t k = 0;
            while (k < sweeps[s].n_xs && sweeps[s].xs[k] != x)
                k++;
            if (k == sweeps[s].n_xs)
                sweeps[s].xs[sweeps[s].n_xs++] = x;
        }
    }
    return sweeps;
}

/* === Building series === */

typedef enum { METRIC_GFLOPS, METRIC_PEAK_FRACTION, METRIC_SPEEDUP, METRIC_BANDWIDTH } metric;

static int compare_points(const void *a, const void *b)
{
    const double *p = a, *q = b;
    return (p[0] > q[0]) - (p[0] < q[0]);
}

/* Sort a series by x so the lines join neighbours. */
static void sort_series(atb_plot_series *s)
{
    double *pairs = malloc((s->n ? s->n : 1) * 2 * sizeof(double));
    if (!pairs)
        return;
    for (size_t i = 0; i < s->n; i++) {
        pairs[2 * i] = s->x[i];
        pairs[2 * i + 1] = s->y[i];
    }
    qsort(pairs, s->n, 2 * sizeof(double), compare_points);
    for (size_t i = 0; i < s->n; i++) {
        s->x[i] = pairs[2 * i];
        s->y[i] = pairs[2 * i + 1];
    }
    free(pairs);
}

/* The same configuration run by another implementation, or NULL. */
static const atb_bench *find_with_impl(const atb_bench_file *f, const atb_bench *b, const char *impl)
{
    size_t op_len = strlen(b->op), impl_len = strlen(b->impl);
    if (strncmp(b->run_name + op_len, "/", 1) != 0)
        return NULL;
    const char *rest = b->run_name + op_len + 1 + impl_len;
    atb_strbuf name;
    atb_strbuf_init(&name);
    atb_strbuf_printf(&name, "%s/%s%s", b->op, impl, rest);
    const atb_bench *found = name.failed ? NULL : atb_bench_file_find(f, name.data);
    atb_strbuf_free(&name);
    return (found && !found->errored) ? found : NULL;
}

/* Fill plot p with one series per (file, implementation) in sweep s.
 * Returns 1 when any bandwidth value was estimated from the shape. */
static int fill_series(atb_plot *p, const atb_report_input *in, sweep_kind kind, const sweep *s,
                       metric m, const char *base_impl)
{
    int estimated = 0;
    for (size_t f = 0; f < in->n_bench; f++) {
        const atb_bench_file *file = in->bench[f];
        size_t first_series = p->n_series;
        for (size_t i = 0; i < file->n_benches; i++) {
            const atb_bench *b = &file->benches[i];
            if (b->errored || (base_impl && strcmp(b->impl, base_impl) == 0))
                continue;
            atb_strbuf key;
            atb_strbuf_init(&key);
            double x = sweep_x(b, kind, &key);
            int member = !isnan(x) && !key.failed && strcmp(key.data, s->key) == 0;
            atb_strbuf_free(&key);
            if (!member)
                continue;

            double y = NAN;
            if (m == METRIC_GFLOPS) {
                y = bench_gflops(b);
            } else if (m == METRIC_PEAK_FRACTION) {
                y = atb_bench_counter(b, "peak_fraction");
                if (isnan(y)) {
                    const char *source;
                    y = bench_gflops(b) / file_peak_gflops(file, bench_threads(b), &source);
                }
            } else if (m == METRIC_SPEEDUP) {
                const atb_bench *base = find_with_impl(file, b, base_impl);
                y = base ? base->median_ns / b->median_ns : NAN;
            } else {
                y = bench_bandwidth(b, &estimated);
            }
            if (isnan(y))
                continue;

            /* Find or add the series of this implementation in this file. */
            atb_plot_series *series = NULL;
            atb_strbuf title;
            atb_strbuf_init(&title);
            if (in->n_bench > 1)
                atb_strbuf_printf(&title, "%s (%s)", b->impl, file->label);
            else
                atb_strbuf_append(&title, b->impl);
            for (size_t k = first_series; k < p->n_series; k++)
                if (strcmp(p->series[k].title, atb_strbuf_text(&title)) == 0)
                    series = &p->series[k];
            if (!series)
                series = atb_plot_add_series(p, atb_strbuf_text(&title),
                                             atb_plot_impl_color(b->impl), (int)f);
            atb_strbuf_free(&title);
            if (series)
                atb_plot_series_add(series, x, y, NULL);
        }
    }
    for (size_t k = 0; k < p->n_series; k++)
        sort_series(&p->series[k]);
    return estimated;
}

static int any_impl(const atb_report_input *in, const char *impl)
{
    for (size_t f = 0; f < in->n_bench; f++)
        for (size_t i = 0; i < in->bench[f]->n_benches; i++)
            if (strcmp(in->bench[f]->benches[i].impl, impl) == 0 && !in->bench[f]->benches[i].errored)
                return 1;
    return 0;
}

/* Threads of the sweep's benchmarks (all equal outside a thread sweep). */
static int sweep_threads(const atb_report_input *in, sweep_kind kind, const sweep *s)
{
    for (size_t f = 0; f < in->n_bench; f++)
        for (size_t i = 0; i < in->bench[f]->n_benches; i++) {
            const atb_bench *b = &in->bench[f]->benches[i];
            atb_strbuf key;
            atb_strbuf_init(&key);
            double x = sweep_x(b, kind, &key);
            int member = !isnan(x) && !key.failed && strcmp(key.data, s->key) == 0;
            atb_strbuf_free(&key);
            if (member && !b->errored)
                return bench_threads(b);
        }
    return 1;
}

static void add_peak_lines(atb_plot *p, const atb_report_input *in, int threads)
{
    for (size_t f = 0; f < in->n_bench; f++) {
        const char *source;
        double peak = file_peak_gflops(in->bench[f], threads, &source);
        if (isnan(peak))
            continue;
        char title[512];
        int n = snprintf(title, sizeof(title), "measured peak, %d thread%s (%s)", threads,
                         threads == 1 ? "" : "s", *source ? source : "from peak_fraction");
        if (in->n_bench > 1 && n > 0 && (size_t)n < sizeof(title))
            snprintf(title + n, sizeof(title) - (size_t)n, ", %s", in->bench[f]->label);
        atb_plot_add_hline(p, peak, title, (int)f);
    }
}

/* The triad bandwidth in GB/s that bench measured for a thread count
 * (context key bandwidth_gbps_threads_<T>), or NaN when absent. */
static double file_bandwidth_gbps(const atb_bench_file *f, int threads)
{
    char key[64];
    snprintf(key, sizeof(key), "bandwidth_gbps_threads_%d", threads);
    for (size_t i = 0; i < f->n_context; i++) {
        if (strcmp(f->context[i].key, key) != 0)
            continue;
        char *end;
        const double v = strtod(f->context[i].value, &end);
        return end != f->context[i].value && v > 0.0 ? v : NAN;
    }
    return NAN;
}

/* Adds a dashed line per results file at its measured memory bandwidth;
 * returns how many were added. */
static int add_bandwidth_lines(atb_plot *p, const atb_report_input *in, int threads)
{
    int n_lines = 0;
    for (size_t f = 0; f < in->n_bench; f++) {
        const double bandwidth = file_bandwidth_gbps(in->bench[f], threads);
        if (isnan(bandwidth))
            continue;
        char title[512];
        int n = snprintf(title, sizeof(title),
                         "memory bandwidth, %d thread%s (bandwidth_gbps_threads_%d)", threads,
                         threads == 1 ? "" : "s", threads);
        if (in->n_bench > 1 && n > 0 && (size_t)n < sizeof(title))
            snprintf(title + n, sizeof(title) - (size_t)n, ", %s", in->bench[f]->label);
        atb_plot_add_hline(p, bandwidth, title, (int)f);
        n_lines++;
    }
    return n_lines;
}

/* === The plots === */

static void plot_sweep(atb_report_doc *doc, const atb_report_input *in, sweep_kind kind,
                       const sweep *s, size_t index, metric m, const char *base_impl)
{
    static const char *const kind_names[] = {"seq", "heads", "threads", "decode"};
    static const char *const metric_names[] = {"gflops", "peak_fraction", "speedup", "bandwidth"};
    static const char *const sweep_names[] = {"sequence length", "heads", "threads", "cached keys"};
    const char *x_label = kind == SWEEP_SEQ       ? "sequence length (Lq = Lk, or L)"
                          : kind == SWEEP_HEADS   ? "heads H"
                          : kind == SWEEP_THREADS ? "threads"
                                                  : "cached keys Lk (decode step)";
    atb_plot p = {0};
    char text[1024], stem[256], caption[1024];

    int estimated = fill_series(&p, in, kind, s, m, base_impl);
    p.xlabel = x_label;
    p.log2_x = 1;
    switch (m) {
    case METRIC_GFLOPS:
        p.ylabel = "GFLOP/s";
        snprintf(text, sizeof(text), "GFLOP/s against %s: %s", sweep_names[kind], s->key);
        snprintf(caption, sizeof(caption),
                 "Throughput (GFLOP/s, median over repetitions) of %s; the dashed line is "
                 "the FMA peak measured in the same run.", s->key);
        if (kind != SWEEP_THREADS)
            add_peak_lines(&p, in, sweep_threads(in, kind, s));
        break;
    case METRIC_PEAK_FRACTION:
        p.ylabel = "fraction of measured peak";
        snprintf(text, sizeof(text), "Fraction of peak: %s", s->key);
        snprintf(caption, sizeof(caption),
                 "GFLOP/s divided by the measured FMA peak for the same thread count: %s.", s->key);
        break;
    case METRIC_SPEEDUP: {
        const char *base = base_impl ? base_impl : "?";
        p.ylabel = "speedup (time ratio)";
        snprintf(text, sizeof(text), "Speedup over %s: %s", base, s->key);
        snprintf(caption, sizeof(caption),
                 "Median time of %s divided by the median time of each implementation "
                 "(above 1: faster than %s): %s.", base, base, s->key);
        atb_plot_add_hline(&p, 1.0, base, 0);
        break;
    }
    case METRIC_BANDWIDTH: {
        p.ylabel = "GB/s";
        snprintf(text, sizeof(text), "Decode bandwidth: %s", s->key);
        const int lines = add_bandwidth_lines(&p, in, sweep_threads(in, kind, s));
        snprintf(caption, sizeof(caption),
                 "Memory bandwidth of the decode step (one or a few queries against a long "
                 "key/value cache): %s.%s%s", s->key,
                 lines ? " The dashed line is the triad bandwidth measured in the same run "
                         "(median repetition)."
                       : "",
                 estimated ? " Values without a bandwidth counter are estimated as the bytes "
                             "of q, k, v and out divided by the median time (a lower bound)."
                           : "");
        break;
    }
    }
    p.title = strdup(text);
    const char *op_stem = strncmp(s->key, "encoder", 7) == 0 ? "encoder" : "attention";
    if (base_impl)
        snprintf(stem, sizeof(stem), "%s_%s_%s_over_%s_%zu", op_stem, kind_names[kind],
                 metric_names[m], base_impl, index + 1);
    else
        snprintf(stem, sizeof(stem), "%s_%s_%s_%zu", op_stem, kind_names[kind], metric_names[m],
                 index + 1);
    if (p.title)
        atb_doc_plot(doc, &p, stem, caption);
    atb_plot_free(&p);
}

/* Threads value in a sweep key ("... threads:2"), or 0 when absent. */
static long key_threads(const char *key)
{
    const char *t = strstr(key, " threads:");
    return t ? strtol(t + 9, NULL, 10) : 0;
}

/* Order of sweeps in the report: more points first, then causal:none or
 * bottom_right, then fewer threads; ties keep the order of the results file. */
static int compare_sweeps(const void *pa, const void *pb)
{
    const sweep *a = pa, *b = pb;
    if (a->n_xs != b->n_xs)
        return a->n_xs > b->n_xs ? -1 : 1;
    /* Full rows first: causal:none, and bottom_right, which is what a
       decode step runs (its last query row attends every key). */
    int a_none = strstr(a->key, "causal:none") || strstr(a->key, "causal:bottom_right");
    int b_none = strstr(b->key, "causal:none") || strstr(b->key, "causal:bottom_right");
    if (a_none != b_none)
        return b_none - a_none;
    long a_threads = key_threads(a->key), b_threads = key_threads(b->key);
    if (a_threads != b_threads)
        return a_threads < b_threads ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

static void plot_kind(atb_report_doc *doc, const atb_report_input *in, sweep_kind kind,
                      const char *heading)
{
    size_t n_sweeps = 0;
    sweep *sweeps = find_sweeps(in, kind, &n_sweeps);
    if (!sweeps) {
        doc->status = ATB_ERR_NOMEM;
        return;
    }
    for (size_t i = 0; i < n_sweeps; i++)
        sweeps[i].order = i;
    qsort(sweeps, n_sweeps, sizeof(sweep), compare_sweeps);

    size_t min_points = kind == SWEEP_DECODE ? 1 : 2;
    size_t drawn[2] = {0, 0}, skipped = 0; /* per operation: attention, encoder_layer */
    for (size_t i = 0; i < n_sweeps && doc->status == ATB_OK; i++) {
        if (sweeps[i].n_xs < min_points)
            continue;
        int encoder = strncmp(sweeps[i].key, "encoder", 7) == 0;
        size_t index = drawn[encoder];
        if (index == MAX_SWEEPS) {
            skipped++;
            continue;
        }
        if (drawn[0] + drawn[1] == 0)
            atb_doc_heading(doc, 3, heading);
        switch (kind) {
        case SWEEP_SEQ:
            plot_sweep(doc, in, kind, &sweeps[i], index, METRIC_GFLOPS, NULL);
            if (index >= FULL_SEQ_SWEEPS)
                break;
            plot_sweep(doc, in, kind, &sweeps[i], index, METRIC_PEAK_FRACTION, NULL);
            if (any_impl(in, "naive"))
                plot_sweep(doc, in, kind, &sweeps[i], index, METRIC_SPEEDUP, "naive");
            if (any_impl(in, "blas"))
                plot_sweep(doc, in, kind, &sweeps[i], index, METRIC_SPEEDUP, "blas");
            break;
        case SWEEP_HEADS:
        case SWEEP_THREADS:
            plot_sweep(doc, in, kind, &sweeps[i], index, METRIC_GFLOPS, NULL);
            break;
        case SWEEP_DECODE:
            plot_sweep(doc, in, kind, &sweeps[i], index, METRIC_BANDWIDTH, NULL);
            break;
        }
        drawn[encoder]++;
    }
    if (skipped > 0) {
        char text[256];
        snprintf(text, sizeof(text),
                 "%zu more sweeps of this kind are not plotted; the tables list every result.",
                 skipped);
        atb_doc_paragraph(doc, text);
    }
    free_sweeps(sweeps, n_sweeps);
}

/* Geometric mean of GFLOP/s over the implementation's benchmarks. */
static double impl_geomean_gflops(const atb_bench_file *f, const char *impl)
{
    double log_sum = 0.0;
    size_t n = 0;
    for (size_t i = 0; i < f->n_benches; i++) {
        const atb_bench *b = &f->benches[i];
        double g = bench_gflops(b);
        if (!b->errored && strcmp(b->impl, impl) == 0 && g > 0.0) {
            log_sum += log(g);
            n++;
        }
    }
    return n ? exp(log_sum / (double)n) : NAN;
}

/* The bench file from the same CPU as a check file, else the first. */
static const atb_bench_file *bench_for_check(const atb_report_input *in, const atb_check_file *c)
{
    const char *cpu = atb_kv_find(c->context, c->n_context, "cpu_model");
    for (size_t f = 0; cpu && f < in->n_bench; f++) {
        const char *other = atb_kv_find(in->bench[f]->context, in->bench[f]->n_context, "cpu_model");
        if (other && strcmp(cpu, other) == 0)
            return in->bench[f];
    }
    return in->bench[0];
}

static void plot_accuracy(atb_report_doc *doc, const atb_report_input *in)
{
    if (in->n_check == 0 || in->n_bench == 0)
        return;
    atb_plot p = {0};
    p.title = strdup("Accuracy against speed");
    p.xlabel = "GFLOP/s (geometric mean over the benchmarks)";
    p.ylabel = "max error budget used (1 = at the tolerance)";
    p.log10_x = 1;
    p.log10_y = 1;
    p.points_only = 1;
    for (size_t c = 0; c < in->n_check; c++) {
        const atb_check_file *check = in->check[c];
        const atb_bench_file *bench = bench_for_check(in, check);
        for (size_t i = 0; i < check->n_results; i++) {
            const char *impl = check->results[i].impl;
            int seen = 0;
            for (size_t j = 0; j < i; j++)
                seen |= strcmp(check->results[j].impl, impl) == 0;
            if (seen)
                continue;
            double worst = NAN;
            for (size_t j = i; j < check->n_results; j++) {
                const atb_check_result *r = &check->results[j];
                if (strcmp(r->impl, impl) == 0 && !isnan(r->budget_used)
                    && (isnan(worst) || r->budget_used > worst))
                    worst = r->budget_used;
            }
            /* A log axis cannot show 0: an exact result is drawn at 1e-6. */
            if (!isnan(worst) && worst < 1e-6)
                worst = 1e-6;
            double speed = impl_geomean_gflops(bench, impl);
            if (isnan(worst) || isnan(speed))
                continue;
            char title[512];
            if (in->n_check > 1)
                snprintf(title, sizeof(title), "%s (%s)", impl, check->label);
            else
                snprintf(title, sizeof(title), "%s", impl);
            atb_plot_series *s = atb_plot_add_series(&p, title, atb_plot_impl_color(impl), (int)c);
            if (s)
                atb_plot_series_add(s, speed, worst, impl);
        }
    }
    atb_plot_add_hline(&p, 1.0, "tolerance", 0);
    if (p.title && atb_plot_n_points(&p) > 0) {
        atb_doc_heading(doc, 3, "Accuracy against speed");
        atb_doc_plot(doc, &p, "accuracy_vs_speed",
                     "Each implementation's largest fraction of the error budget used over all "
                     "checked cases (from the check file) against its geometric-mean GFLOP/s "
                     "(from the results of the same CPU). Lower right is fast and accurate.");
    }
    atb_plot_free(&p);
}

void atb_report_add_plots(atb_report_doc *doc, const atb_report_input *in)
{
    atb_doc_heading(doc, 2, "Plots");
    plot_kind(doc, in, SWEEP_SEQ, "Scaling with sequence length");
    plot_kind(doc, in, SWEEP_HEADS, "Scaling with heads");
    plot_kind(doc, in, SWEEP_THREADS, "Scaling with threads");
    plot_kind(doc, in, SWEEP_DECODE, "Decode bandwidth");
    plot_accuracy(doc, in);
    if (doc->n_plots == 0 && doc->status == ATB_OK) {
        size_t n_results = 0;
        for (size_t f = 0; f < in->n_bench; f++)
            for (size_t i = 0; i < in->bench[f]->n_benches; i++)
                n_results += !in->bench[f]->benches[i].errored;
        atb_doc_paragraph(doc, n_results == 0
                                   ? "Every benchmark failed or was skipped, so there is "
                                     "nothing to plot."
                                   : "No sweep has two or more points, so there is nothing "
                                     "to plot.");
    }
}
