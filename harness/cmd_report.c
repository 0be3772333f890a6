/*
 * `attnbench report RESULTS.json [MORE.json ...] -o DIR [--check CHECK.json ...]`:
 * argument handling; the report itself is written by reports/report.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/commands.h"
#include "harness/registry.h"
#include "reports/report.h"
#include "reports/results.h"

static void print_usage(FILE *to)
{
    fprintf(to,
            "usage: attnbench report RESULTS.json [MORE.json ...] -o DIR [--check CHECK.json ...]\n");
}

static void print_help(void)
{
    print_usage(stdout);
    printf("\nWrite DIR/report.md, DIR/report.html (self-contained, SVG plots inline) and the\n"
           "SVG plots from Google Benchmark JSON files written by `attnbench bench --out`.\n"
           "Several results files (two machines, or before and after) give side-by-side\n"
           "tables and overlaid plots.\n\n"
           "  -o, --output DIR   directory for the report (created when missing)\n"
           "  --check FILE       `attnbench check --json` output: adds a conformance table\n"
           "                     and an accuracy-against-speed plot (may be repeated)\n\n"
           "Exit status: 0 written, 1 gnuplot or writing failed or no benchmark results,\n"
           "2 misuse or unreadable input.\n");
}

int atb_cmd_report(int argc, char **argv)
{
    const char *out_dir = NULL;
    const char **bench_paths = calloc((size_t)argc + 1, sizeof(char *));
    const char **check_paths = calloc((size_t)argc + 1, sizeof(char *));
    atb_bench_file **bench = calloc((size_t)argc + 1, sizeof(atb_bench_file *));
    atb_check_file **check = calloc((size_t)argc + 1, sizeof(atb_check_file *));
    size_t n_bench_paths = 0, n_check_paths = 0, n_bench = 0, n_check = 0;
    int rc = 2;
    if (!bench_paths || !check_paths || !bench || !check) {
        fprintf(stderr, "attnbench: error: out of memory\n");
        rc = 1;
        goto cleanup;
    }

    /* Options. */
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help();
            rc = 0;
            goto cleanup;
        } else if (strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0 || strcmp(arg, "--check") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "attnbench: error: %s needs a value\n", arg);
                print_usage(stderr);
                goto cleanup;
            }
            if (strcmp(arg, "--check") == 0)
                check_paths[n_check_paths++] = argv[++i];
            else
                out_dir = argv[++i];
        } else if (strncmp(arg, "--output=", 9) == 0) {
            out_dir = arg + 9;
        } else if (strncmp(arg, "--check=", 8) == 0) {
            check_paths[n_check_paths++] = arg + 8;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "attnbench: error: unknown option '%s'\n", arg);
            print_usage(stderr);
            goto cleanup;
        } else {
            bench_paths[n_bench_paths++] = arg;
        }
    }
    if (n_bench_paths == 0) {
        fprintf(stderr, "attnbench: error: no results file given\n");
        print_usage(stderr);
        goto cleanup;
    }
    if (!out_dir || !*out_dir) {
        fprintf(stderr, "attnbench: error: missing -o DIR (the output directory)\n");
        print_usage(stderr);
        goto cleanup;
    }

    /* Inputs: every file is read before anything is written. */
    char err[4096];
    for (size_t i = 0; i < n_bench_paths + n_check_paths; i++) {
        int want_check = i >= n_bench_paths;
        const char *path = want_check ? check_paths[i - n_bench_paths] : bench_paths[i];
        atb_results_kind kind;
        atb_bench_file *b = NULL;
        atb_check_file *c = NULL;
        fprintf(stderr, "attnbench: report: reading %s\n", path);
        err[0] = '\0';
        atb_status st = atb_results_load(path, &kind, &b, &c, err, sizeof(err));
        if (st != ATB_OK) {
            fprintf(stderr, "attnbench: error: %s\n", err[0] ? err : atb_status_string(st));
            print_usage(stderr);
            rc = st == ATB_ERR_NOMEM ? 1 : 2;
            goto cleanup;
        }
        /* A run stopped during its peak measurement leaves a file with the
           context and no benchmark. It is named and left out, so it does
           not become an empty column or the baseline of the comparison. */
        if (b && b->n_benches == 0) {
            fprintf(stderr, "attnbench: report: warning: '%s' contains no benchmark results; "
                    "it is left out\n", path);
            atb_bench_file_free(b);
            b = NULL;
        }
        if (b)
            bench[n_bench++] = b;
        if (c)
            check[n_check++] = c;
        if (want_check != (kind == ATB_RESULTS_CHECK)) {
            fprintf(stderr,
                    want_check ? "attnbench: error: '%s' given to --check is not attnbench check JSON\n"
                               : "attnbench: error: '%s' is attnbench check JSON: pass it with --check\n",
                    path);
            print_usage(stderr);
            goto cleanup;
        }
    }
    if (n_bench == 0) {
        fprintf(stderr, "attnbench: error: the results files contain no benchmark results, so "
                "there is nothing to report\n");
        rc = 1;
        goto cleanup;
    }
    atb_bench_files_label(bench, n_bench);

    atb_report_input input = {
        .bench = bench, .n_bench = n_bench, .check = check, .n_check = n_check, .out_dir = out_dir,
    };
    err[0] = '\0';
    atb_status st = atb_report_write(&input, err, sizeof(err));
    if (st != ATB_OK) {
        fprintf(stderr, "attnbench: error: %s\n", err[0] ? err : atb_status_string(st));
        rc = 1;
        goto cleanup;
    }
    rc = 0;

cleanup:
    for (size_t i = 0; i < n_bench; i++)
        atb_bench_file_free(bench[i]);
    for (size_t i = 0; i < n_check; i++)
        atb_check_file_free(check[i]);
    free(bench);
    free(check);
    free(bench_paths);
    free(check_paths);
    return rc;
}
