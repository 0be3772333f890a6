/*
 * `attnbench report`: the document (Markdown and HTML written side by
 * side), its tables and the output files. Plots are chosen in
 * report_plots.c. The HTML is self-contained: inline CSS, the SVGs inline,
 * no scripts and no network references, so it opens offline.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reports/report_internal.h"

static const char html_style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"
    "margin:2em auto;max-width:1100px;padding:0 1em;color:#222;background:#fff;line-height:1.4}"
    "h1{border-bottom:2px solid #0072B2;padding-bottom:.2em}"
    "h2{margin-top:2em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
    "th,td{border:1px solid #ccc;padding:3px 8px;vertical-align:top}"
    "th{background:#eef3f8;text-align:left}"
    "td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}"
    "tr:nth-child(even) td{background:#f8f8f8}"
    "td.bad{color:#b00020;font-weight:bold}"
    "figure{margin:1.5em 0}figure svg{width:100%;height:auto;max-width:900px}"
    "figcaption{font-size:13px;color:#555;max-width:900px}"
    "code{font-size:12px}";

/* === Document === */

void atb_doc_heading(atb_report_doc *doc, int level, const char *text)
{
    for (int i = 0; i < level; i++)
        atb_strbuf_append(&doc->md, "#");
    atb_strbuf_printf(&doc->md, " %s\n\n", text);
    atb_strbuf_printf(&doc->html, "<h%d>", level);
    atb_strbuf_append_html(&doc->html, text);
    atb_strbuf_printf(&doc->html, "</h%d>\n", level);
}

void atb_doc_paragraph(atb_report_doc *doc, const char *text)
{
    atb_strbuf_printf(&doc->md, "%s\n\n", text);
    atb_strbuf_append(&doc->html, "<p>");
    atb_strbuf_append_html(&doc->html, text);
    atb_strbuf_append(&doc->html, "</p>\n");
}

/* A number, optionally followed by a unit or percent sign ("1.5%", "3.2 ms"):
 * such cells are right-aligned in the HTML. */
static int looks_numeric(const char *text)
{
    static const char *const suffixes[] = {"", "%", " ns", " us", " ms", " s", "x"};
    char *end;
    if (!*text)
        return 0;
    strtod(text, &end);
    if (end == text)
        return 0;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
        if (strcmp(end, suffixes[i]) == 0)
            return 1;
    return 0;
}

static void table_header(atb_report_doc *doc, const char *const *cells, size_t n)
{
    atb_strbuf_append(&doc->md, "|");
    atb_strbuf_append(&doc->html, "<table>\n<thead><tr>");
    for (size_t i = 0; i < n; i++) {
        atb_strbuf_append(&doc->md, " ");
        atb_strbuf_append_md_cell(&doc->md, cells[i]);
        atb_strbuf_append(&doc->md, " |");
        atb_strbuf_append(&doc->html, "<th>");
        atb_strbuf_append_html(&doc->html, cells[i]);
        atb_strbuf_append(&doc->html, "</th>");
    }
    atb_strbuf_append(&doc->md, "\n|");
    for (size_t i = 0; i < n; i++)
        atb_strbuf_append(&doc->md, i == 0 ? "---|" : "---:|");
    atb_strbuf_append(&doc->md, "\n");
    atb_strbuf_append(&doc->html, "</tr></thead>\n<tbody>\n");
}

static void table_row(atb_report_doc *doc, char *const *cells, size_t n)
{
    atb_strbuf_append(&doc->md, "|");
    atb_strbuf_append(&doc->html, "<tr>");
    for (size_t i = 0; i < n; i++) {
        const char *cell = cells[i] ? cells[i] : "";
        atb_strbuf_append(&doc->md, " ");
        atb_strbuf_append_md_cell(&doc->md, cell);
        atb_strbuf_append(&doc->md, " |");
        if (strncmp(cell, "error", 5) == 0 || strcmp(cell, "FAIL") == 0)
            atb_strbuf_append(&doc->html, "<td class=\"bad\">");
        else if (i > 0 && looks_numeric(cell))
            atb_strbuf_append(&doc->html, "<td class=\"num\">");
        else
            atb_strbuf_append(&doc->html, "<td>");
        atb_strbuf_append_html(&doc->html, cell);
        atb_strbuf_append(&doc->html, "</td>");
    }
    atb_strbuf_append(&doc->md, "\n");
    atb_strbuf_append(&doc->html, "</tr>\n");
}

static void table_end(atb_report_doc *doc)
{
    atb_strbuf_append(&doc->md, "\n");
    atb_strbuf_append(&doc->html, "</tbody>\n</table>\n");
}

/* Copy an SVG written by gnuplot into the HTML, from its <svg> element on
 * (the XML declaration is not allowed inside HTML). */
static atb_status inline_svg(atb_report_doc *doc, const char *svg_path)
{
    FILE *f = fopen(svg_path, "r");
    if (!f) {
        snprintf(doc->err, doc->err_len, "cannot read '%s': %s", svg_path, strerror(errno));
        return ATB_ERR_IO;
    }
    atb_strbuf svg;
    atb_strbuf_init(&svg);
    char chunk[16384];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        atb_strbuf_append_n(&svg, chunk, got);
    fclose(f);
    const char *start = strstr(atb_strbuf_text(&svg), "<svg");
    if (!start) {
        snprintf(doc->err, doc->err_len, "'%s' written by gnuplot has no <svg> element", svg_path);
        atb_strbuf_free(&svg);
        return ATB_ERR_LIBRARY;
    }
    atb_strbuf_append(&doc->html, start);
    atb_strbuf_free(&svg);
    return ATB_OK;
}

void atb_doc_plot(atb_report_doc *doc, atb_plot *p, const char *stem, const char *caption)
{
    if (doc->status != ATB_OK || atb_plot_n_points(p) == 0)
        return;
    char svg_path[4096], file_name[512];
    snprintf(file_name, sizeof(file_name), "%s.svg", stem);
    snprintf(svg_path, sizeof(svg_path), "%s/%s", doc->out_dir, file_name);
    fprintf(stderr, "attnbench: report: plotting %s\n", file_name);
    doc->status = atb_plot_render(p, svg_path, doc->tmp_dir, doc->err, doc->err_len);
    if (doc->status != ATB_OK)
        return;
    doc->n_plots++;

    atb_strbuf_printf(&doc->md, "![%s](%s)\n\n*%s*\n\n", p->title ? p->title : stem, file_name,
                      caption);
    atb_strbuf_printf(&doc->html, "<figure id=\"%s\">\n", stem);
    doc->status = inline_svg(doc, svg_path);
    atb_strbuf_append(&doc->html, "\n<figcaption>");
    atb_strbuf_append_html(&doc->html, caption);
    atb_strbuf_printf(&doc->html, " (<a href=\"%s\">%s</a>)</figcaption>\n</figure>\n", file_name,
                      file_name);
}

/* === Cell formatting === */

static char *format_cell(const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static char *format_cell(const char *format, ...)
{
    char text[512];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof(text), format, args);
    va_end(args);
    return strdup(text);
}

/* Time with a unit chosen by magnitude, e.g. "12.346 ms". */
static char *format_time(double ns)
{
    if (isnan(ns))
        return strdup("n/a");
    if (ns < 1e3)
        return format_cell("%.1f ns", ns);
    if (ns < 1e6)
        return format_cell("%.3f us", ns / 1e3);
    if (ns < 1e9)
        return format_cell("%.3f ms", ns / 1e6);
    return format_cell("%.3f s", ns / 1e9);
}

static char *format_percent(double fraction)
{
    return isnan(fraction) ? strdup("n/a") : format_cell("%.1f%%", 100.0 * fraction);
}

static char *format_fixed(double v, int decimals)
{
    return isnan(v) ? strdup("n/a") : format_cell("%.*f", decimals, v);
}

static void free_cells(char **cells, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(cells[i]);
}

/* === Tables === */

static void machine_table(atb_report_doc *doc, const atb_report_input *in)
{
    atb_doc_heading(doc, 2, "Machines");
    size_t n_cols = 1 + in->n_bench;
    const char **header = calloc(n_cols, sizeof(char *));
    char **cells = calloc(n_cols, sizeof(char *));
    if (!header || !cells) {
        free(header);
        free(cells);
        doc->status = ATB_ERR_NOMEM;
        return;
    }
    header[0] = "context";
    for (size_t f = 0; f < in->n_bench; f++)
        header[1 + f] = in->bench[f]->label;
    table_header(doc, header, n_cols);

    cells[0] = strdup("results file");
    for (size_t f = 0; f < in->n_bench; f++)
        cells[1 + f] = strdup(atb_path_basename(in->bench[f]->path));
    table_row(doc, cells, n_cols);
    free_cells(cells, n_cols);

    /* Every context key of every file, in order of first appearance. */
    for (size_t f = 0; f < in->n_bench; f++) {
        for (size_t k = 0; k < in->bench[f]->n_context; k++) {
            const char *key = in->bench[f]->context[k].key;
            int seen = 0;
            for (size_t g = 0; g < f && !seen; g++)
                seen = atb_kv_find(in->bench[g]->context, in->bench[g]->n_context, key) != NULL;
            if (seen)
                continue;
            cells[0] = strdup(key);
            for (size_t g = 0; g < in->n_bench; g++) {
                const char *v = atb_kv_find(in->bench[g]->context, in->bench[g]->n_context, key);
                cells[1 + g] = strdup(v ? v : "");
            }
            table_row(doc, cells, n_cols);
            free_cells(cells, n_cols);
        }
    }
    table_end(doc);
    free(header);
    free(cells);
}

/* Distinct operations (first name component) in order of appearance. */
static size_t list_ops(const atb_report_input *in, const char **ops, size_t cap)
{
    size_t n = 0;
    for (size_t f = 0; f < in->n_bench; f++)
        for (size_t i = 0; i < in->bench[f]->n_benches; i++) {
            const char *op = in->bench[f]->benches[i].op;
            size_t k = 0;
            while (k < n && strcmp(ops[k], op) != 0)
                k++;
            if (k == n && n < cap)
                ops[n++] = op;
        }
    return n;
}

/* Cells after the name for one file: runs, median time, CV, GFLOP/s, peak
 * fraction, plan time. */
static void fill_single_row(char **cells, const atb_bench *b)
{
    cells[0] = format_cell("%zu", b->n_reps ? b->n_reps : 1);
    if (b->errored) {
        cells[1] = format_cell("error: %s", b->error_message);
        for (int k = 2; k < 6; k++)
            cells[k] = strdup("n/a");
        return;
    }
    double plan_ms = atb_bench_counter(b, "plan_ms");
    cells[1] = format_time(b->median_ns);
    cells[2] = format_percent(b->cv);
    cells[3] = format_fixed(atb_bench_counter(b, "GFLOPS"), 2);
    cells[4] = format_percent(atb_bench_counter(b, "peak_fraction"));
    cells[5] = isnan(plan_ms) ? strdup("n/a") : format_cell("%.3f ms", plan_ms);
}

/* Cells after the name for several files: per file median time, CV and
 * peak fraction, then for files after the first their time ratio to it. */
static void fill_multi_row(char **cells, const atb_report_input *in, const char *run_name)
{
    const atb_bench *first = atb_bench_file_find(in->bench[0], run_name);
    size_t c = 0;
    for (size_t g = 0; g < in->n_bench; g++) {
        const atb_bench *b = atb_bench_file_find(in->bench[g], run_name);
        if (!b) {
            for (int k = 0; k < 3; k++)
                cells[c++] = strdup("not run");
        } else if (b->errored) {
            cells[c++] = format_cell("error: %s", b->error_message);
            cells[c++] = strdup("n/a");
            cells[c++] = strdup("n/a");
        } else {
            cells[c++] = format_time(b->median_ns);
            cells[c++] = format_percent(b->cv);
            cells[c++] = format_percent(atb_bench_counter(b, "peak_fraction"));
        }
        if (g > 0) {
            int both = b && first && !b->errored && !first->errored;
            cells[c++] = both ? format_cell("%.3f", b->median_ns / first->median_ns)
                              : strdup("n/a");
        }
    }
}

/* Write one row per configuration with the median time, CV and peak
 * fraction of each file. One file adds GFLOP/s and plan time. Several
 * files add the time ratio of each file to the first. */
static void results_table(atb_report_doc *doc, const atb_report_input *in, const char *op)
{
    int single = in->n_bench == 1;
    size_t per_file = single ? 6 : 4;
    size_t n_cols = 1 + per_file * in->n_bench - (single ? 0 : 1);
    const char **header = calloc(n_cols, sizeof(char *));
    char **cells = calloc(n_cols, sizeof(char *));
    char **header_text = calloc(n_cols, sizeof(char *));
    if (!header || !cells || !header_text) {
        doc->status = ATB_ERR_NOMEM;
        goto cleanup;
    }
    header[0] = "benchmark";
    if (single) {
        static const char *const names[] = {"runs", "median time", "CV", "GFLOP/s",
                                            "peak fraction", "plan time"};
        for (size_t c = 0; c < per_file; c++)
            header[1 + c] = names[c];
    } else {
        size_t c = 1;
        for (size_t f = 0; f < in->n_bench; f++) {
            const char *label = in->bench[f]->label;
            header_text[c] = format_cell("median time: %s", label);
            header_text[c + 1] = format_cell("CV: %s", label);
            header_text[c + 2] = format_cell("peak fraction: %s", label);
            c += 3;
            if (f > 0)
                header_text[c++] = format_cell("time ratio %s / %s", label, in->bench[0]->label);
        }
        for (size_t k = 1; k < n_cols; k++)
            header[k] = header_text[k] ? header_text[k] : "";
    }

    char heading[256];
    snprintf(heading, sizeof(heading), "Results: %s", op);
    atb_doc_heading(doc, 2, heading);
    table_header(doc, header, n_cols);

    for (size_t f = 0; f < in->n_bench; f++) {
        for (size_t i = 0; i < in->bench[f]->n_benches; i++) {
            const atb_bench *row = &in->bench[f]->benches[i];
            if (strcmp(row->op, op) != 0)
                continue;
            int seen = 0;
            for (size_t g = 0; g < f && !seen; g++)
                seen = atb_bench_file_find(in->bench[g], row->run_name) != NULL;
            if (seen)
                continue;

            cells[0] = strdup(row->run_name);
            if (single)
                fill_single_row(cells + 1, row);
            else
                fill_multi_row(cells + 1, in, row->run_name);
            table_row(doc, cells, n_cols);
            free_cells(cells, n_cols);
        }
    }
    table_end(doc);

cleanup:
    if (header_text)
        free_cells(header_text, n_cols);
    free(header_text);
    free(header);
    free(cells);
}

static void conformance_table(atb_report_doc *doc, const atb_report_input *in)
{
    if (in->n_check == 0)
        return;
    atb_doc_heading(doc, 2, "Conformance");
    for (size_t c = 0; c < in->n_check; c++) {
        const atb_check_file *check = in->check[c];
        char text[1024];
        snprintf(text, sizeof(text), "From %s (%s, attnbench %s).", atb_path_basename(check->path),
                 check->label, check->version[0] ? check->version : "version unknown");
        atb_doc_paragraph(doc, text);
        static const char *const header[] = {"implementation", "PASS", "FAIL", "SKIP", "ERROR",
                                             "max budget used", "max relative error",
                                             "worst case"};
        table_header(doc, header, 8);
        for (size_t i = 0; i < check->n_results; i++) {
            const char *impl = check->results[i].impl;
            int seen = 0;
            for (size_t j = 0; j < i && !seen; j++)
                seen = strcmp(check->results[j].impl, impl) == 0;
            if (seen)
                continue;
            size_t counts[4] = {0};
            double worst_budget = NAN, worst_rel = NAN;
            const char *worst_case = "";
            for (size_t j = i; j < check->n_results; j++) {
                const atb_check_result *r = &check->results[j];
                if (strcmp(r->impl, impl) != 0)
                    continue;
                static const char *const statuses[] = {"PASS", "FAIL", "SKIP", "ERROR"};
                for (int k = 0; k < 4; k++)
                    counts[k] += strcmp(r->status, statuses[k]) == 0;
                if (!isnan(r->budget_used) && (isnan(worst_budget) || r->budget_used > worst_budget)) {
                    worst_budget = r->budget_used;
                    worst_case = r->case_name;
                }
                if (!isnan(r->max_rel_error) && (isnan(worst_rel) || r->max_rel_error > worst_rel))
                    worst_rel = r->max_rel_error;
            }
            char *cells[8] = {
                strdup(impl),
                format_cell("%zu", counts[0]),
                format_cell("%zu", counts[1]),
                format_cell("%zu", counts[2]),
                format_cell("%zu", counts[3]),
                isnan(worst_budget) ? strdup("n/a") : format_cell("%.3g", worst_budget),
                isnan(worst_rel) ? strdup("n/a") : format_cell("%.3g", worst_rel),
                strdup(worst_case),
            };
            table_row(doc, cells, 8);
            free_cells(cells, 8);
        }
        table_end(doc);

        /* Every failing or erroring case, with its reason. */
        int any_bad = 0;
        for (size_t i = 0; i < check->n_results; i++) {
            const atb_check_result *r = &check->results[i];
            if (strcmp(r->status, "FAIL") != 0 && strcmp(r->status, "ERROR") != 0)
                continue;
            if (!any_bad) {
                static const char *const bad_header[] = {"implementation", "case", "status",
                                                         "reason"};
                table_header(doc, bad_header, 4);
                any_bad = 1;
            }
            char *cells[4] = {strdup(r->impl), strdup(r->case_name), strdup(r->status),
                              strdup(r->reason)};
            table_row(doc, cells, 4);
            free_cells(cells, 4);
        }
        if (any_bad)
            table_end(doc);
    }
}

/* === Output files === */

static atb_status write_file(const char *dir, const char *name, const atb_strbuf *text, char *err,
                             size_t err_len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, err_len, "cannot write '%s': %s", path, strerror(errno));
        return ATB_ERR_IO;
    }
    fputs(atb_strbuf_text(text), f);
    if (fclose(f) != 0) {
        snprintf(err, err_len, "cannot write '%s': %s", path, strerror(errno));
        return ATB_ERR_IO;
    }
    fprintf(stderr, "attnbench: report: wrote %s\n", path);
    return ATB_OK;
}

static void remove_tmp_dir(const char *dir)
{
    static const char *const names[] = {"plot.gp", "gnuplot.stderr"};
    char path[4200];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

atb_status atb_report_write(const atb_report_input *in, char *err, size_t err_len)
{
    if (in->n_bench == 0) {
        snprintf(err, err_len, "no Google Benchmark results file given");
        return ATB_ERR_INVALID;
    }
    if (mkdir(in->out_dir, 0777) != 0 && errno != EEXIST) {
        snprintf(err, err_len, "cannot create directory '%s': %s", in->out_dir, strerror(errno));
        return ATB_ERR_IO;
    }
    /* An existing file of that name, or a directory without write access,
       would only fail later inside gnuplot with a less clear message. */
    struct stat info;
    if (stat(in->out_dir, &info) != 0 || !S_ISDIR(info.st_mode)) {
        snprintf(err, err_len, "'%s' exists and is not a directory", in->out_dir);
        return ATB_ERR_IO;
    }
    if (access(in->out_dir, W_OK) != 0) {
        snprintf(err, err_len, "cannot write to directory '%s': %s", in->out_dir, strerror(errno));
        return ATB_ERR_IO;
    }

    atb_report_doc doc = {0};
    atb_strbuf_init(&doc.md);
    atb_strbuf_init(&doc.html);
    doc.out_dir = in->out_dir;
    doc.err = err;
    doc.err_len = err_len;
    const char *tmp = getenv("TMPDIR");
    snprintf(doc.tmp_dir, sizeof(doc.tmp_dir), "%s/attnbench-report-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(doc.tmp_dir)) {
        snprintf(err, err_len, "cannot create a temporary directory '%s': %s", doc.tmp_dir,
                 strerror(errno));
        return ATB_ERR_IO;
    }

    /* Title and the files it was made from. */
    atb_strbuf_append(&doc.html, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                                 "<title>attnbench report</title>\n<style>");
    atb_strbuf_append(&doc.html, html_style);
    atb_strbuf_append(&doc.html, "</style>\n</head>\n<body>\n");
    atb_doc_heading(&doc, 1, "attnbench report");
    atb_strbuf intro;
    atb_strbuf_init(&intro);
    atb_strbuf_append(&intro, "Results from ");
    for (size_t f = 0; f < in->n_bench; f++)
        atb_strbuf_printf(&intro, "%s%s (%s)", f ? ", " : "", atb_path_basename(in->bench[f]->path),
                          in->bench[f]->label);
    for (size_t c = 0; c < in->n_check; c++)
        atb_strbuf_printf(&intro, "%s%s", c ? ", " : "; conformance from ",
                          atb_path_basename(in->check[c]->path));
    atb_strbuf_append(&intro, ". Times are the median over repetitions; CV is the coefficient of "
                              "variation (standard deviation over mean) of the repetitions, n/a "
                              "with one run.");
    atb_doc_paragraph(&doc, atb_strbuf_text(&intro));
    atb_strbuf_free(&intro);

    /* Machines first, plots next, then the full tables. */
    machine_table(&doc, in);
    if (doc.status == ATB_OK)
        atb_report_add_plots(&doc, in);
    const char *ops[16];
    size_t n_ops = list_ops(in, ops, 16);
    for (size_t i = 0; i < n_ops && doc.status == ATB_OK; i++)
        results_table(&doc, in, ops[i]);
    if (doc.status == ATB_OK)
        conformance_table(&doc, in);
    atb_strbuf_append(&doc.html, "</body>\n</html>\n");

    atb_status st = doc.status;
    if (st == ATB_OK && (doc.md.failed || doc.html.failed)) {
        snprintf(err, err_len, "out of memory while writing the report");
        st = ATB_ERR_NOMEM;
    }
    if (st == ATB_ERR_NOMEM && !err[0])
        snprintf(err, err_len, "out of memory while writing the report");
    if (st == ATB_OK)
        st = write_file(in->out_dir, "report.md", &doc.md, err, err_len);
    if (st == ATB_OK)
        st = write_file(in->out_dir, "report.html", &doc.html, err, err_len);
    remove_tmp_dir(doc.tmp_dir);
    atb_strbuf_free(&doc.md);
    atb_strbuf_free(&doc.html);
    return st;
}
