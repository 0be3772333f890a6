/*
 * Readers for Google Benchmark JSON and `attnbench check --json` files:
 * see results.h. Parsing uses cJSON; every string is copied out so the
 * cJSON tree is freed before returning.
 */
#define _POSIX_C_SOURCE 200809L

#include "reports/results.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/stats.h"
#include "reports/strbuf.h"

/* Fields of a Google Benchmark row that are not user counters. */
static const char *const standard_fields[] = {
    "family_index", "per_family_instance_index", "repetitions", "repetition_index",
    "threads", "iterations", "real_time", "cpu_time",
};

/* Suffixes Google Benchmark appends to run_name for aggregate rows. */
static const char *const aggregate_names[] = {"mean", "median", "stddev", "cv"};

/* === Small helpers === */

const char *atb_path_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static char *dup_string(const char *s)
{
    return strdup(s ? s : "");
}

const char *atb_kv_find(const atb_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

const char *atb_bench_param(const atb_bench *b, const char *key)
{
    return atb_kv_find(b->params, b->n_params, key);
}

long long atb_bench_param_int(const atb_bench *b, const char *key)
{
    const char *v = atb_bench_param(b, key);
    if (!v || !*v)
        return -1;
    char *end;
    long long x = strtoll(v, &end, 10);
    return *end ? -1 : x;
}

double atb_bench_counter(const atb_bench *b, const char *name)
{
    for (size_t i = 0; i < b->n_counters; i++)
        if (strcmp(b->counters[i].name, name) == 0)
            return b->counters[i].value;
    return NAN;
}

double atb_bench_bandwidth(const atb_bench *b)
{
    static const char *const names[] = {"GB/s", "GBps", "GBPS", "GB_s", "GBs", "bandwidth_GBps",
                                        "bandwidth"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        double v = atb_bench_counter(b, names[i]);
        if (!isnan(v))
            return v;
    }
    return NAN;
}

const atb_bench *atb_bench_file_find(const atb_bench_file *f, const char *run_name)
{
    for (size_t i = 0; i < f->n_benches; i++)
        if (strcmp(f->benches[i].run_name, run_name) == 0)
            return &f->benches[i];
    return NULL;
}

static double json_number(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(item) ? item->valuedouble : NAN;
}

static const char *json_string(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* Nanoseconds per unit of Google Benchmark's time_unit; 0 when unknown. */
static double ns_per_unit(const char *unit)
{
    if (!unit || strcmp(unit, "ns") == 0)
        return 1.0;
    if (strcmp(unit, "us") == 0)
        return 1e3;
    if (strcmp(unit, "ms") == 0)
        return 1e6;
    if (strcmp(unit, "s") == 0)
        return 1e9;
    return 0.0;
}

static void format_number(atb_strbuf *out, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        atb_strbuf_printf(out, "%.0f", v);
    else
        atb_strbuf_printf(out, "%.6g", v);
}

/* Display text of one context value. Google Benchmark's "caches" array is
 * shown as "L1 Data 32 KiB (shared by 2), ...", and other arrays are joined
 * by commas. */
static char *context_value_text(const cJSON *item)
{
    atb_strbuf out;
    atb_strbuf_init(&out);
    if (cJSON_IsString(item)) {
        atb_strbuf_append(&out, item->valuestring);
    } else if (cJSON_IsBool(item)) {
        atb_strbuf_append(&out, cJSON_IsTrue(item) ? "true" : "false");
    } else if (cJSON_IsNumber(item)) {
        format_number(&out, item->valuedouble);
    } else if (cJSON_IsArray(item)) {
        const cJSON *el;
        int first = 1;
        cJSON_ArrayForEach(el, item)
        {
            if (!first)
                atb_strbuf_append(&out, ", ");
            first = 0;
            if (cJSON_IsObject(el) && cJSON_GetObjectItemCaseSensitive(el, "level")) {
                double size_bytes = json_number(el, "size");
                double sharing = json_number(el, "num_sharing");
                const char *type = json_string(el, "type");
                atb_strbuf_printf(&out, "L%.0f %s ", json_number(el, "level"), type ? type : "");
                if (size_bytes >= 1048576.0 && fmod(size_bytes, 1048576.0) == 0.0)
                    atb_strbuf_printf(&out, "%.0f MiB", size_bytes / 1048576.0);
                else
                    atb_strbuf_printf(&out, "%.0f KiB", size_bytes / 1024.0);
                if (!isnan(sharing))
                    atb_strbuf_printf(&out, " (shared by %.0f)", sharing);
            } else if (cJSON_IsNumber(el)) {
                format_number(&out, el->valuedouble);
            } else if (cJSON_IsString(el)) {
                atb_strbuf_append(&out, el->valuestring);
            } else {
                char *text = cJSON_PrintUnformatted(el);
                atb_strbuf_append(&out, text ? text : "?");
                free(text);
            }
        }
    } else if (cJSON_IsNull(item)) {
        atb_strbuf_append(&out, "null");
    } else {
        char *text = cJSON_PrintUnformatted(item);
        atb_strbuf_append(&out, text ? text : "?");
        free(text);
    }
    if (out.failed) {
        atb_strbuf_free(&out);
        return NULL;
    }
    char *result = out.data ? out.data : strdup("");
    return result;
}

static atb_status read_context(const cJSON *context, atb_kv **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!cJSON_IsObject(context))
        return ATB_OK;
    size_t n = (size_t)cJSON_GetArraySize(context);
    if (n == 0)
        return ATB_OK;
    atb_kv *kv = calloc(n, sizeof(atb_kv));
    if (!kv)
        return ATB_ERR_NOMEM;
    const cJSON *item;
    size_t i = 0;
    cJSON_ArrayForEach(item, context)
    {
        kv[i].key = dup_string(item->string);
        kv[i].value = context_value_text(item);
        if (!kv[i].key || !kv[i].value) {
            *out = kv;
            *n_out = i + 1;
            return ATB_ERR_NOMEM;
        }
        i++;
    }
    *out = kv;
    *n_out = n;
    return ATB_OK;
}

static void free_kv(atb_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

/* === Reading the whole file === */

static atb_status read_text_file(const char *path, char **text, char *err, size_t err_len)
{
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "cannot read '%s': %s", path, strerror(errno));
        return ATB_ERR_IO;
    }
    atb_strbuf buf;
    atb_strbuf_init(&buf);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        atb_strbuf_append_n(&buf, chunk, got);
    int read_failed = ferror(f);
    fclose(f);
    if (read_failed) {
        atb_strbuf_free(&buf);
        snprintf(err, err_len, "cannot read '%s': read error", path);
        return ATB_ERR_IO;
    }
    if (buf.failed) {
        atb_strbuf_free(&buf);
        snprintf(err, err_len, "cannot read '%s': out of memory", path);
        return ATB_ERR_NOMEM;
    }
    *text = buf.data ? buf.data : strdup("");
    return *text ? ATB_OK : ATB_ERR_NOMEM;
}

/* === Google Benchmark JSON === */

typedef struct {
    const char *run_name;
    const cJSON **rows;      /* iteration rows */
    size_t n_rows;
    const cJSON *aggregates[4]; /* indexed like aggregate_names */
    const cJSON *first;      /* first row of any kind, for name and threads */
} row_group;

/* run_name of a row; older Google Benchmark versions lack the field, so
 * the aggregate suffix is stripped from the name instead. */
static char *row_run_name(const cJSON *row, const char *aggregate)
{
    const char *run_name = json_string(row, "run_name");
    if (run_name)
        return dup_string(run_name);
    const char *name = json_string(row, "name");
    char *copy = dup_string(name);
    if (copy && aggregate) {
        size_t len = strlen(copy), suffix = strlen(aggregate) + 1;
        if (len > suffix && copy[len - suffix] == '_' && strcmp(copy + len - suffix + 1, aggregate) == 0)
            copy[len - suffix] = '\0';
    }
    return copy;
}

static int aggregate_index(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, aggregate_names[i]) == 0)
            return i;
    return -1;
}

static int is_standard_field(const char *key)
{
    for (size_t i = 0; i < sizeof(standard_fields) / sizeof(standard_fields[0]); i++)
        if (strcmp(key, standard_fields[i]) == 0)
            return 1;
    return 0;
}

/* Split "op/impl/K:V/K:V..." into op, impl and parameters. Components
 * without a colon after the implementation (Google Benchmark's "real_time"
 * or "manual_time" suffixes) are kept as parameters with an empty value. */
static atb_status split_name(atb_bench *b)
{
    char *copy = dup_string(b->run_name);
    if (!copy)
        return ATB_ERR_NOMEM;
    size_t n_parts = 1;
    for (char *p = copy; *p; p++)
        n_parts += (*p == '/');
    b->params = calloc(n_parts, sizeof(atb_kv));
    if (!b->params) {
        free(copy);
        return ATB_ERR_NOMEM;
    }
    size_t index = 0;
    char *save = NULL;
    for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save), index++) {
        if (index == 0) {
            b->op = dup_string(part);
        } else if (index == 1 && !strchr(part, ':')) {
            b->impl = dup_string(part);
        } else {
            char *colon = strchr(part, ':');
            atb_kv *kv = &b->params[b->n_params++];
            if (colon) {
                *colon = '\0';
                kv->key = dup_string(part);
                kv->value = dup_string(colon + 1);
            } else {
                kv->key = dup_string(part);
                kv->value = dup_string("");
            }
            if (!kv->key || !kv->value) {
                free(copy);
                return ATB_ERR_NOMEM;
            }
        }
    }
    free(copy);
    if (!b->op)
        b->op = dup_string("");
    if (!b->impl)
        b->impl = dup_string("");
    return (b->op && b->impl) ? ATB_OK : ATB_ERR_NOMEM;
}

/* Take the median of each user counter over the iteration rows, or the
 * counters of the median (else mean) aggregate when the file contains
 * aggregates only. */
static atb_status collect_counters(atb_bench *b, const row_group *g)
{
    const cJSON **rows = g->rows;
    size_t n_rows = g->n_rows;
    const cJSON *fallback[1];
    if (n_rows == 0) {
        fallback[0] = g->aggregates[1] ? g->aggregates[1] : g->aggregates[0];
        if (!fallback[0])
            return ATB_OK;
        rows = fallback;
        n_rows = 1;
    }
    size_t cap = (size_t)cJSON_GetArraySize(rows[0]);
    b->counters = calloc(cap ? cap : 1, sizeof(atb_counter));
    double *values = malloc(n_rows * sizeof(double));
    if (!b->counters || !values) {
        free(values);
        return ATB_ERR_NOMEM;
    }
    const cJSON *field;
    cJSON_ArrayForEach(field, rows[0])
    {
        if (!cJSON_IsNumber(field) || is_standard_field(field->string))
            continue;
        size_t n_values = 0;
        for (size_t r = 0; r < n_rows; r++) {
            double v = json_number(rows[r], field->string);
            if (!isnan(v))
                values[n_values++] = v;
        }
        atb_counter *c = &b->counters[b->n_counters++];
        c->name = dup_string(field->string);
        c->value = atb_median(values, n_values);
        if (!c->name) {
            free(values);
            return ATB_ERR_NOMEM;
        }
    }
    free(values);
    return ATB_OK;
}

/* Fill one atb_bench from the rows of one run_name. */
static atb_status build_bench(atb_bench *b, const row_group *g, const char *path, char *err,
                              size_t err_len)
{
    b->run_name = dup_string(g->run_name);
    if (!b->run_name)
        return ATB_ERR_NOMEM;
    atb_status st = split_name(b);
    if (st != ATB_OK)
        return st;
    b->threads = (int)json_number(g->first, "threads");
    if (b->threads <= 0)
        b->threads = 1;
    b->median_ns = NAN;
    b->cv = NAN;

    /* Google Benchmark 1.7.1 (Debian 12) writes error_occurred and
     * error_message for a failed or skipped run. Rows with "skipped" and
     * "skip_message" are treated the same.
     * NOTE: that second form is assumed for newer versions' SkipWithMessage
     * and was not checked against their output. */
    const cJSON **all = malloc((g->n_rows + 4) * sizeof(cJSON *));
    if (!all)
        return ATB_ERR_NOMEM;
    size_t n_all = 0;
    for (size_t i = 0; i < g->n_rows; i++)
        all[n_all++] = g->rows[i];
    for (int i = 0; i < 4; i++)
        if (g->aggregates[i])
            all[n_all++] = g->aggregates[i];
    for (size_t i = 0; i < n_all && !b->errored; i++) {
        const cJSON *row = all[i];
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "error_occurred"))) {
            b->errored = 1;
            b->error_message = dup_string(json_string(row, "error_message"));
        } else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "skipped"))) {
            b->errored = 1;
            b->error_message = dup_string(json_string(row, "skip_message"));
        }
    }
    free(all);
    if (b->errored)
        return b->error_message ? ATB_OK : ATB_ERR_NOMEM;

    /* Per-repetition times in nanoseconds. */
    b->real_ns = malloc((g->n_rows ? g->n_rows : 1) * sizeof(double));
    if (!b->real_ns)
        return ATB_ERR_NOMEM;
    for (size_t i = 0; i < g->n_rows; i++) {
        const char *unit = json_string(g->rows[i], "time_unit");
        double scale = ns_per_unit(unit);
        double t = json_number(g->rows[i], "real_time");
        if (scale == 0.0 || isnan(t)) {
            snprintf(err, err_len, "'%s': benchmark '%s' has %s", path, b->run_name,
                     scale == 0.0 ? "an unknown time_unit" : "no numeric real_time");
            return ATB_ERR_FORMAT;
        }
        b->real_ns[b->n_reps++] = t * scale;
    }

    /* Median and cv: the aggregates when present, else computed. The cv
     * aggregate is a fraction (aggregate_unit "percentage"), not a time. */
    const cJSON *median_row = g->aggregates[1];
    if (median_row) {
        double scale = ns_per_unit(json_string(median_row, "time_unit"));
        b->median_ns = json_number(median_row, "real_time") * (scale > 0.0 ? scale : 1.0);
    } else if (b->n_reps > 0) {
        b->median_ns = atb_median(b->real_ns, b->n_reps);
    } else if (g->aggregates[0]) {
        double scale = ns_per_unit(json_string(g->aggregates[0], "time_unit"));
        b->median_ns = json_number(g->aggregates[0], "real_time") * (scale > 0.0 ? scale : 1.0);
    }
    if (g->aggregates[3]) {
        b->cv = json_number(g->aggregates[3], "real_time");
    } else if (b->n_reps >= 2) {
        b->cv = atb_stddev(b->real_ns, b->n_reps) / atb_mean(b->real_ns, b->n_reps);
    } else if (g->aggregates[0] && g->aggregates[2]) {
        double scale_mean = ns_per_unit(json_string(g->aggregates[0], "time_unit"));
        double scale_sd = ns_per_unit(json_string(g->aggregates[2], "time_unit"));
        b->cv = json_number(g->aggregates[2], "real_time") * scale_sd
                / (json_number(g->aggregates[0], "real_time") * scale_mean);
    }
    if (isnan(b->median_ns)) {
        snprintf(err, err_len, "'%s': benchmark '%s' has no timed run", path, b->run_name);
        return ATB_ERR_FORMAT;
    }
    return collect_counters(b, g);
}

static void free_bench(atb_bench *b)
{
    free(b->run_name);
    free(b->op);
    free(b->impl);
    free_kv(b->params, b->n_params);
    free(b->real_ns);
    for (size_t i = 0; i < b->n_counters; i++)
        free(b->counters[i].name);
    free(b->counters);
    free(b->error_message);
}

void atb_bench_file_free(atb_bench_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_benches; i++)
        free_bench(&f->benches[i]);
    free(f->benches);
    free_kv(f->context, f->n_context);
    free(f->path);
    free(f->label);
    free(f);
}

static atb_status parse_bench(const cJSON *root, const char *path, atb_bench_file *f, char *err,
                              size_t err_len)
{
    const cJSON *benchmarks = cJSON_GetObjectItemCaseSensitive(root, "benchmarks");
    size_t n_rows = (size_t)cJSON_GetArraySize(benchmarks);
    atb_status st = read_context(cJSON_GetObjectItemCaseSensitive(root, "context"), &f->context,
                                 &f->n_context);
    if (st != ATB_OK)
        return st;

    /* Group rows by run_name, keeping the order of first appearance. */
    row_group *groups = calloc(n_rows ? n_rows : 1, sizeof(row_group));
    char **names = calloc(n_rows ? n_rows : 1, sizeof(char *));
    const cJSON **row_storage = calloc(n_rows ? n_rows : 1, sizeof(cJSON *));
    if (!groups || !names || !row_storage) {
        st = ATB_ERR_NOMEM;
        goto cleanup;
    }
    size_t n_groups = 0;
    const cJSON *row;
    size_t row_index = 0;
    cJSON_ArrayForEach(row, benchmarks)
    {
        if (!cJSON_IsObject(row) || !json_string(row, "name")) {
            snprintf(err, err_len,
                     "'%s' is not Google Benchmark JSON: benchmarks[%zu] has no \"name\"", path,
                     row_index);
            st = ATB_ERR_FORMAT;
            goto cleanup;
        }
        const char *run_type = json_string(row, "run_type");
        const char *aggregate = json_string(row, "aggregate_name");
        int is_aggregate = run_type ? strcmp(run_type, "aggregate") == 0 : aggregate != NULL;
        int agg = is_aggregate ? aggregate_index(aggregate) : -1;
        if (is_aggregate && agg < 0) {
            row_index++;
            continue; /* other aggregates (user statistics, BigO, RMS) are not shown */
        }
        char *run_name = row_run_name(row, is_aggregate ? aggregate : NULL);
        if (!run_name) {
            st = ATB_ERR_NOMEM;
            goto cleanup;
        }
        size_t g = 0;
        while (g < n_groups && strcmp(names[g], run_name) != 0)
            g++;
        if (g == n_groups) {
            names[n_groups] = run_name;
            groups[n_groups].run_name = run_name;
            groups[n_groups].first = row;
            n_groups++;
        } else {
            free(run_name);
        }
        if (is_aggregate) {
            groups[g].aggregates[agg] = row;
        } else {
            if (!groups[g].rows)
                groups[g].rows = row_storage + row_index; /* filled below */
            groups[g].n_rows++;
        }
        row_index++;
    }

    /* Lay the iteration rows of each group out contiguously. */
    size_t offset = 0;
    for (size_t g = 0; g < n_groups; g++) {
        groups[g].rows = row_storage + offset;
        offset += groups[g].n_rows;
        groups[g].n_rows = 0;
    }
    cJSON_ArrayForEach(row, benchmarks)
    {
        const char *run_type = json_string(row, "run_type");
        const char *aggregate = json_string(row, "aggregate_name");
        int is_aggregate = run_type ? strcmp(run_type, "aggregate") == 0 : aggregate != NULL;
        if (is_aggregate)
            continue;
        char *run_name = row_run_name(row, NULL);
        if (!run_name) {
            st = ATB_ERR_NOMEM;
            goto cleanup;
        }
        for (size_t g = 0; g < n_groups; g++)
            if (strcmp(names[g], run_name) == 0) {
                groups[g].rows[groups[g].n_rows++] = row;
                break;
            }
        free(run_name);
    }

    f->benches = calloc(n_groups ? n_groups : 1, sizeof(atb_bench));
    if (!f->benches) {
        st = ATB_ERR_NOMEM;
        goto cleanup;
    }
    for (size_t g = 0; g < n_groups; g++) {
        st = build_bench(&f->benches[g], &groups[g], path, err, err_len);
        f->n_benches++;
        if (st != ATB_OK)
            goto cleanup;
    }

cleanup:
    if (names)
        for (size_t g = 0; g < n_rows; g++)
            free(names[g]);
    free(names);
    free(groups);
    free(row_storage);
    return st;
}

/* === attnbench check --json === */

void atb_check_file_free(atb_check_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_results; i++) {
        atb_check_result *r = &f->results[i];
        free(r->impl);
        free(r->file);
        free(r->case_name);
        free(r->op);
        free(r->status);
        free(r->reason);
    }
    free(f->results);
    free_kv(f->context, f->n_context);
    free(f->path);
    free(f->label);
    free(f->version);
    free(f);
}

static atb_status parse_check(const cJSON *root, const char *path, atb_check_file *f, char *err,
                              size_t err_len)
{
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(root, "results");
    if (!cJSON_IsArray(results)) {
        snprintf(err, err_len, "'%s': check file has no \"results\" array", path);
        return ATB_ERR_FORMAT;
    }
    atb_status st = read_context(cJSON_GetObjectItemCaseSensitive(root, "context"), &f->context,
                                 &f->n_context);
    if (st != ATB_OK)
        return st;
    f->version = dup_string(json_string(root, "version"));
    size_t n = (size_t)cJSON_GetArraySize(results);
    f->results = calloc(n ? n : 1, sizeof(atb_check_result));
    if (!f->results || !f->version)
        return ATB_ERR_NOMEM;
    const cJSON *item;
    cJSON_ArrayForEach(item, results)
    {
        const char *impl = json_string(item, "impl");
        const char *case_name = json_string(item, "case");
        const char *status = json_string(item, "status");
        if (!impl || !case_name || !status) {
            snprintf(err, err_len, "'%s': results[%zu] lacks \"impl\", \"case\" or \"status\"",
                     path, f->n_results);
            return ATB_ERR_FORMAT;
        }
        atb_check_result *r = &f->results[f->n_results++];
        r->impl = dup_string(impl);
        r->case_name = dup_string(case_name);
        r->status = dup_string(status);
        r->file = dup_string(json_string(item, "file"));
        r->op = dup_string(json_string(item, "op"));
        r->reason = dup_string(json_string(item, "reason"));
        r->max_abs_error = json_number(item, "max_abs_error");
        r->max_rel_error = json_number(item, "max_rel_error");
        r->nmse = json_number(item, "nmse");
        r->budget_used = json_number(item, "budget_used");
        r->error_vs_naive = json_number(item, "error_vs_naive");
        if (!r->impl || !r->case_name || !r->status || !r->file || !r->op || !r->reason)
            return ATB_ERR_NOMEM;
    }
    return ATB_OK;
}

/* === Entry point === */

atb_status atb_results_load(const char *path, atb_results_kind *kind, atb_bench_file **bench,
                            atb_check_file **check, char *err, size_t err_len)
{
    *bench = NULL;
    *check = NULL;
    char *text = NULL;
    atb_status st = read_text_file(path, &text, err, err_len);
    if (st != ATB_OK)
        return st;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        snprintf(err, err_len,
                 "'%s' is not Google Benchmark JSON or attnbench check JSON: %s", path,
                 root ? "the top level is not an object" : "not valid JSON");
        cJSON_Delete(root);
        return ATB_ERR_FORMAT;
    }

    if (cJSON_GetObjectItemCaseSensitive(root, "attnbench_check")) {
        atb_check_file *f = calloc(1, sizeof(*f));
        if (!f) {
            cJSON_Delete(root);
            return ATB_ERR_NOMEM;
        }
        f->path = dup_string(path);
        st = f->path ? parse_check(root, path, f, err, err_len) : ATB_ERR_NOMEM;
        if (st == ATB_OK) {
            const char *cpu = atb_kv_find(f->context, f->n_context, "cpu_model");
            f->label = dup_string(cpu ? cpu : atb_path_basename(path));
        }
        cJSON_Delete(root);
        if (st != ATB_OK || !f->label) {
            atb_check_file_free(f);
            return st != ATB_OK ? st : ATB_ERR_NOMEM;
        }
        *kind = ATB_RESULTS_CHECK;
        *check = f;
        return ATB_OK;
    }

    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "context"))
        || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "benchmarks"))) {
        snprintf(err, err_len,
                 "'%s' is not Google Benchmark JSON (no \"context\" object and \"benchmarks\" "
                 "array) nor attnbench check JSON (no \"attnbench_check\" key)",
                 path);
        cJSON_Delete(root);
        return ATB_ERR_FORMAT;
    }
    atb_bench_file *f = calloc(1, sizeof(*f));
    if (!f) {
        cJSON_Delete(root);
        return ATB_ERR_NOMEM;
    }
    f->path = dup_string(path);
    st = f->path ? parse_bench(root, path, f, err, err_len) : ATB_ERR_NOMEM;
    cJSON_Delete(root);
    if (st != ATB_OK) {
        if (st == ATB_ERR_NOMEM)
            snprintf(err, err_len, "'%s': out of memory while reading", path);
        atb_bench_file_free(f);
        return st;
    }
    *kind = ATB_RESULTS_BENCH;
    *bench = f;
    return ATB_OK;
}

/* === Labels === */

void atb_bench_files_label(atb_bench_file **files, size_t n_files)
{
    for (size_t i = 0; i < n_files; i++) {
        atb_bench_file *f = files[i];
        const char *cpu = atb_kv_find(f->context, f->n_context, "cpu_model");
        const char *host = atb_kv_find(f->context, f->n_context, "host_name");
        atb_strbuf label;
        atb_strbuf_init(&label);
        if (cpu && *cpu) {
            atb_strbuf_append(&label, cpu);
            if (host && *host)
                atb_strbuf_printf(&label, " on %s", host);
        } else {
            atb_strbuf_append(&label, atb_path_basename(f->path));
        }
        free(f->label);
        f->label = label.failed ? NULL : label.data;
        if (!f->label)
            f->label = dup_string(atb_path_basename(f->path));
    }
    /* Before/after runs on one machine share a label: add the file name. */
    int *dup = calloc(n_files ? n_files : 1, sizeof(int));
    if (!dup)
        return;
    for (size_t i = 0; i < n_files; i++)
        for (size_t j = 0; j < n_files; j++)
            if (i != j && files[i]->label && files[j]->label
                && strcmp(files[i]->label, files[j]->label) == 0)
                dup[i] = 1;
    for (size_t i = 0; i < n_files; i++) {
        if (!dup[i])
            continue;
        atb_strbuf label;
        atb_strbuf_init(&label);
        atb_strbuf_printf(&label, "%s (%s)", files[i]->label, atb_path_basename(files[i]->path));
        if (!label.failed) {
            free(files[i]->label);
            files[i]->label = label.data;
        }
    }
    free(dup);
}
