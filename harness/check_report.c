/*
 * Output of `attnbench check`: a line per result on stdout, failure details,
 * a summary, and the --json and --junit files. Files are written to a
 * temporary name beside the target and renamed, so a reader never sees a
 * half-written file.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness/check_report.h"

#include "harness/plugin.h"
#include "harness/registry.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *check_status_name(check_status status)
{
    static const char *const names[] = {"PASS", "FAIL", "SKIP", "ERROR"};
    return names[status];
}

void check_report_init(check_report *report, int argc, char **argv)
{
    memset(report, 0, sizeof(*report));
    report->case_width = 44;
    report->impl_width = 16;
    size_t used = 0;
    snprintf(report->command, sizeof(report->command), "attnbench");
    used = strlen(report->command);
    for (int i = 0; i < argc && used + 2 < sizeof(report->command); i++) {
        snprintf(report->command + used, sizeof(report->command) - used, " %s", argv[i]);
        used = strlen(report->command);
    }
}

check_result *check_report_add(check_report *report)
{
    if (report->n_results == report->capacity) {
        const size_t capacity = report->capacity ? 2 * report->capacity : 64;
        check_result *grown = realloc(report->results, capacity * sizeof(*grown));
        if (!grown) {
            fprintf(stderr, "attnbench check: error: out of memory for results; stopping\n");
            return NULL;
        }
        report->results = grown;
        report->capacity = capacity;
    }
    check_result *r = &report->results[report->n_results++];
    memset(r, 0, sizeof(*r));
    return r;
}

/* Widens a console column to fit text, up to max_width characters. */
static void fit_column(int *width, const char *text, int max_width)
{
    const int n = (int)strlen(text);
    if (n > *width)
        *width = n < max_width ? n : max_width;
}

void check_report_fit_case(check_report *report, const char *case_name)
{
    fit_column(&report->case_width, case_name, 120);
}

void check_report_fit_impl(check_report *report, const char *impl_name)
{
    fit_column(&report->impl_width, impl_name, 60);
}

void check_report_print(const check_report *report, const check_result *r)
{
    const int width = report->case_width, impl_width = report->impl_width;
    if (r->status == CHECK_PASS || r->status == CHECK_FAIL) {
        printf("%-5s %-*s %-*s max_abs %.2e  max_rel %.2e  nmse %.2e  budget %6.1f%%",
               check_status_name(r->status), impl_width, r->impl, width, r->case_name,
               r->cmp.max_abs_error,
               r->cmp.max_rel_error, r->cmp.nmse, 100.0 * r->cmp.budget_used);
        if (r->has_naive && strcmp(r->impl, "naive") != 0)
            printf("  vs naive %.2fx%s", r->error_vs_naive,
                   r->within_naive_bound ? "" : " (over 2x naive + floor)");
        printf("\n");
    } else {
        printf("%-5s %-*s %-*s %s\n", check_status_name(r->status), impl_width, r->impl,
               width, r->case_name, r->reason);
    }
    fflush(stdout);
}

/* Writes the multi-index of a flat output index, e.g. [b=0,h=3,i=17,d=5]. */
static void format_index(const atb_problem *p, int64_t index, char *buf, size_t len)
{
    if (p->op == ATB_OP_ATTENTION) {
        const atb_attention_shape *s = &p->attention;
        const int64_t d = index % s->head_dim, row = index / s->head_dim;
        snprintf(buf, len, "[b=%lld,h=%lld,i=%lld,d=%lld]", (long long)(row / s->q_len / s->heads),
                 (long long)(row / s->q_len % s->heads), (long long)(row % s->q_len), (long long)d);
    } else {
        const atb_encoder_shape *s = &p->encoder;
        const int64_t c = index % s->embed_dim, row = index / s->embed_dim;
        snprintf(buf, len, "[b=%lld,i=%lld,e=%lld]", (long long)(row / s->seq_len),
                 (long long)(row % s->seq_len), (long long)c);
    }
}

void check_report_print_failure(const check_result *r, const atb_problem *problem)
{
    printf("      %s\n", r->reason);
    for (int m = 0; m < r->cmp.n_mismatches; m++) {
        const atb_mismatch *mm = &r->cmp.first[m];
        char where[96];
        format_index(problem, mm->index, where, sizeof(where));
        if (isfinite(mm->bound))
            printf("      at %s (flat %lld): expected %.9g, got %.9g, allowed error %.3g\n",
                   where, (long long)mm->index, mm->expected, mm->got, mm->bound);
        else /* a non-finite input makes the bound non-finite too */
            printf("      at %s (flat %lld): expected %.9g, got %.9g (the class of value must "
                   "match)\n", where, (long long)mm->index, mm->expected, mm->got);
    }
    const atb_impl *impl = atb_registry_find(r->impl);
    const char *plugin_file = impl ? atb_plugin_file_of(impl) : NULL;
    printf("      reproduce: attnbench check%s%s --impl '^%s$' --case '^%s$' %s\n",
           plugin_file ? " --plugin " : "", plugin_file ? plugin_file : "", r->impl,
           r->case_name, r->file);
}

/* === Files === */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        const unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* JSON has no NaN or infinity: such values are written as null. */
static void json_number(FILE *f, double value)
{
    if (isfinite(value))
        fprintf(f, "%.9g", value);
    else
        fputs("null", f);
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
                fputc(*s, f);
        }
    }
}

static void write_json(FILE *f, const check_report *report)
{
    char date[64];
    const time_t now = time(NULL);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));

    fprintf(f, "{\n  \"attnbench_check\": 1,\n  \"version\": ");
    json_string(f, ATB_VERSION);
    fprintf(f, ",\n  \"context\": {\n    \"date\": ");
    json_string(f, date);
    fprintf(f, ",\n    \"cpu_model\": ");
    json_string(f, atb_cpu_model());
    fprintf(f, ",\n    \"isa\": ");
    json_string(f, atb_isa_name(atb_cpu_isa()));
    fprintf(f, ",\n    \"isa_detected\": ");
    json_string(f, atb_isa_name(atb_cpu_isa_detected()));
    /* What each implementation runs here: its describe() line (ISA level
       chosen at run time, library versions), or why it cannot run. */
    fprintf(f, ",\n    \"implementations\": {");
    for (size_t i = 0; i < atb_registry_count(); i++) {
        const atb_impl *impl = atb_registry_get(i);
        char why[512] = "", details[1024] = "";
        if (!atb_impl_runs_here(impl, why, sizeof(why)))
            snprintf(details, sizeof(details), "unavailable: %s", why);
        else if (impl->describe)
            impl->describe(NULL, details, sizeof(details));
        fprintf(f, "%s\n      ", i ? "," : "");
        json_string(f, impl->name);
        fprintf(f, ": ");
        json_string(f, details);
    }
    fprintf(f, "\n    }");
    fprintf(f, ",\n    \"command\": ");
    json_string(f, report->command);
    fprintf(f, "\n  },\n  \"results\": [");

    for (size_t i = 0; i < report->n_results; i++) {
        const check_result *r = &report->results[i];
        const int measured = r->status == CHECK_PASS || r->status == CHECK_FAIL;
        fprintf(f, "%s\n    {\"impl\": ", i ? "," : "");
        json_string(f, r->impl);
        fprintf(f, ", \"file\": ");
        json_string(f, r->file);
        fprintf(f, ", \"case\": ");
        json_string(f, r->case_name);
        fprintf(f, ", \"op\": ");
        if (r->op < 0)
            fputs("null", f);
        else
            json_string(f, atb_op_name((atb_op)r->op));
        fprintf(f, ", \"status\": \"%s\", \"reason\": ", check_status_name(r->status));
        json_string(f, r->reason);
        if (measured) {
            fprintf(f, ", \"max_abs_error\": ");
            json_number(f, r->cmp.max_abs_error);
            fprintf(f, ", \"max_rel_error\": ");
            json_number(f, r->cmp.max_rel_error);
            fprintf(f, ", \"nmse\": ");
            json_number(f, r->cmp.nmse);
            fprintf(f, ", \"budget_used\": ");
            json_number(f, r->cmp.budget_used);
            fprintf(f, ", \"n_failed\": %lld", (long long)r->cmp.n_failed);
        }
        fprintf(f, ", \"error_vs_naive\": ");
        if (r->has_naive)
            json_number(f, r->error_vs_naive);
        else
            fputs("null", f);
        if (r->has_naive)
            fprintf(f, ", \"within_naive_bound\": %s", r->within_naive_bound ? "true" : "false");
        fputc('}', f);
    }
    fprintf(f, "\n  ]\n}\n");
}

static void write_junit(FILE *f, const check_report *report)
{
    size_t counts[4] = {0};
    for (size_t i = 0; i < report->n_results; i++)
        counts[report->results[i].status]++;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites name=\"attnbench check\" tests=\"%zu\" failures=\"%zu\" "
               "errors=\"%zu\" skipped=\"%zu\">\n",
            report->n_results, counts[CHECK_FAIL], counts[CHECK_ERROR], counts[CHECK_SKIP]);
    fprintf(f, "  <testsuite name=\"conformance\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
               "skipped=\"%zu\">\n",
            report->n_results, counts[CHECK_FAIL], counts[CHECK_ERROR], counts[CHECK_SKIP]);
    for (size_t i = 0; i < report->n_results; i++) {
        const check_result *r = &report->results[i];
        fprintf(f, "    <testcase classname=\"");
        xml_text(f, r->impl);
        fprintf(f, "\" name=\"");
        xml_text(f, r->case_name);
        fprintf(f, "\" file=\"");
        xml_text(f, r->file);
        fprintf(f, "\">");
        if (r->status != CHECK_PASS) {
            const char *tag = r->status == CHECK_FAIL    ? "failure"
                              : r->status == CHECK_SKIP ? "skipped"
                                                         : "error";
            fprintf(f, "<%s message=\"", tag);
            xml_text(f, r->reason);
            fprintf(f, "\"/>");
        } else {
            fprintf(f, "<system-out>max_abs %.3g, budget used %.1f%%</system-out>",
                    r->cmp.max_abs_error, 100.0 * r->cmp.budget_used);
        }
        fprintf(f, "</testcase>\n");
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
}

static int write_atomically(const char *path, void (*writer)(FILE *, const check_report *),
                            const check_report *report)
{
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "attnbench check: error: cannot write %s\n", tmp);
        return 0;
    }
    writer(f, report);
    const int write_failed = ferror(f);
    if (fclose(f) != 0 || write_failed || rename(tmp, path) != 0) {
        fprintf(stderr, "attnbench check: error: writing %s failed\n", path);
        remove(tmp);
        return 0;
    }
    return 1;
}

int check_report_finish(check_report *report, const char *json_path, const char *junit_path)
{
    size_t counts[4] = {0};
    for (size_t i = 0; i < report->n_results; i++)
        counts[report->results[i].status]++;
    printf("\n%zu results: %zu PASS, %zu FAIL, %zu SKIP, %zu ERROR\n", report->n_results,
           counts[CHECK_PASS], counts[CHECK_FAIL], counts[CHECK_SKIP], counts[CHECK_ERROR]);

    int ok = 1;
    if (json_path)
        ok &= write_atomically(json_path, write_json, report);
    if (junit_path)
        ok &= write_atomically(junit_path, write_junit, report);
    return counts[CHECK_FAIL] || counts[CHECK_ERROR] || !ok ? 1 : 0;
}

void check_report_free(check_report *report)
{
    free(report->results);
    memset(report, 0, sizeof(*report));
}
