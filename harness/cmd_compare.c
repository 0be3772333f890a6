/*
 * `attnbench compare BASE.json NEW.json [options]`: argument handling; the
 * comparison is in reports/compare.c. Exit status: 0 no regression, 1 a
 * regression (or the Markdown file cannot be written), 2 misuse.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/commands.h"
#include "harness/registry.h"
#include "reports/compare.h"
#include "reports/results.h"

static void print_usage(FILE *to)
{
    fprintf(to, "usage: attnbench compare BASE.json NEW.json [--threshold PCT] [--alpha A]\n"
                "                         [--drift-factor F] [--drift-floor X] [--markdown FILE]\n");
}

static void print_help(void)
{
    print_usage(stdout);
    printf("\nCompare two Google Benchmark JSON files (from `attnbench bench --out`) or two\n"
           "`attnbench check --json` files, and fail on a regression.\n\n"
           "  --threshold PCT     allowed slowdown in percent (default 5)\n"
           "  --alpha A           significance level of the Mann-Whitney U test (default 0.05)\n"
           "  --drift-factor F    allowed growth of max_rel_error and of sqrt(nmse)\n"
           "                      (default 2)\n"
           "  --drift-floor X     errors below X count as X, so tiny errors never drift\n"
           "                      (default 1e-12)\n"
           "  --markdown FILE     also append the table as Markdown to FILE\n"
           "                      (e.g. \"$GITHUB_STEP_SUMMARY\")\n\n"
           "Exit status: 0 no regression, 1 a regression, 2 misuse or unreadable input.\n");
}

/* Parse a finite number in [min, max]; returns 0 on success. */
static int parse_number(const char *option, const char *text, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || v < min || v > max) {
        fprintf(stderr, "attnbench: error: invalid value '%s' for %s (expected a number in [%g, %g])\n",
                text, option, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int atb_cmd_compare(int argc, char **argv)
{
    atb_compare_options opt;
    atb_compare_options_default(&opt);
    const char *paths[2] = {NULL, NULL};
    const char *markdown_path = NULL;
    size_t n_paths = 0;

    /* Options, in the forms "--name value" and "--name=value". */
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help();
            return 0;
        }
        if (arg[0] != '-' || arg[1] == '\0') {
            if (n_paths == 2) {
                fprintf(stderr, "attnbench: error: unexpected argument '%s' (compare takes two files)\n", arg);
                print_usage(stderr);
                return 2;
            }
            paths[n_paths++] = arg;
            continue;
        }
        static const char *const names[] = {"--threshold", "--alpha", "--drift-factor",
                                            "--drift-floor", "--markdown"};
        const char *value = NULL;
        size_t option_index = 0;
        for (; option_index < sizeof(names) / sizeof(names[0]); option_index++) {
            size_t len = strlen(names[option_index]);
            if (strcmp(arg, names[option_index]) == 0) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "attnbench: error: %s needs a value\n", arg);
                    print_usage(stderr);
                    return 2;
                }
                value = argv[++i];
                break;
            }
            if (strncmp(arg, names[option_index], len) == 0 && arg[len] == '=') {
                value = arg + len + 1;
                break;
            }
        }
        int bad = 0;
        switch (option_index) {
        case 0: bad = parse_number("--threshold", value, 0.0, 1e6, &opt.threshold_pct); break;
        case 1: bad = parse_number("--alpha", value, 1e-12, 1.0, &opt.alpha); break;
        case 2: bad = parse_number("--drift-factor", value, 1.0, 1e300, &opt.drift_factor); break;
        case 3: bad = parse_number("--drift-floor", value, 0.0, 1.0, &opt.drift_floor); break;
        case 4: markdown_path = value; break;
        default:
            fprintf(stderr, "attnbench: error: unknown option '%s'\n", arg);
            bad = 1;
            break;
        }
        if (bad) {
            print_usage(stderr);
            return 2;
        }
    }
    if (n_paths != 2) {
        fprintf(stderr, "attnbench: error: compare needs two files, BASE.json and NEW.json (got %zu)\n",
                n_paths);
        print_usage(stderr);
        return 2;
    }

    /* Both files, of one kind. */
    atb_results_kind kinds[2];
    atb_bench_file *bench[2] = {NULL, NULL};
    atb_check_file *check[2] = {NULL, NULL};
    int rc = 2;
    char err[4096];
    for (int k = 0; k < 2; k++) {
        err[0] = '\0';
        atb_status st = atb_results_load(paths[k], &kinds[k], &bench[k], &check[k], err, sizeof(err));
        if (st != ATB_OK) {
            fprintf(stderr, "attnbench: error: %s\n", err[0] ? err : atb_status_string(st));
            print_usage(stderr);
            rc = st == ATB_ERR_NOMEM ? 1 : 2;
            goto cleanup;
        }
    }
    if (kinds[0] != kinds[1]) {
        fprintf(stderr,
                "attnbench: error: cannot compare '%s' (%s) with '%s' (%s): both files must be "
                "Google Benchmark JSON or both attnbench check JSON\n",
                paths[0], kinds[0] == ATB_RESULTS_BENCH ? "Google Benchmark JSON" : "check JSON",
                paths[1], kinds[1] == ATB_RESULTS_BENCH ? "Google Benchmark JSON" : "check JSON");
        print_usage(stderr);
        goto cleanup;
    }

    atb_strbuf md;
    atb_strbuf_init(&md);
    size_t n_regressions = 0;
    atb_status st;
    if (kinds[0] == ATB_RESULTS_BENCH) {
        atb_bench_files_label(bench, 2);
        st = atb_compare_bench(bench[0], bench[1], &opt, stdout, &md, &n_regressions);
    } else {
        st = atb_compare_check(check[0], check[1], &opt, stdout, &md, &n_regressions);
    }
    if (st != ATB_OK) {
        fprintf(stderr, "attnbench: error: compare failed: %s\n", atb_status_string(st));
        rc = 1;
        atb_strbuf_free(&md);
        goto cleanup;
    }
    rc = n_regressions > 0 ? 1 : 0;
    if (markdown_path) {
        /* Appended, because $GITHUB_STEP_SUMMARY collects every step's output. */
        FILE *f = fopen(markdown_path, "a");
        if (!f || fputs(atb_strbuf_text(&md), f) < 0 || fclose(f) != 0) {
            fprintf(stderr, "attnbench: error: cannot write '%s': %s\n", markdown_path, strerror(errno));
            rc = 1;
        }
    }
    atb_strbuf_free(&md);
    if (n_regressions > 0)
        fprintf(stderr, "attnbench: compare: %zu regression%s\n", n_regressions,
                n_regressions == 1 ? "" : "s");

cleanup:
    for (int k = 0; k < 2; k++) {
        atb_bench_file_free(bench[k]);
        atb_check_file_free(check[k]);
    }
    return rc;
}
