/*
 * `attnbench check`: runs implementations on golden-vector cases and judges
 * each (implementation, case) pair PASS, FAIL, SKIP or ERROR.
 *
 * For every case naive also runs (whether or not it was selected), so that
 * each implementation's error can be reported against naive's, the f32
 * baseline. Results stream to stdout; --json and --junit write them to
 * files at the end, each through a temporary file and a rename.
 *
 * With --isolate, every (implementation, case) pair, naive's included, runs
 * in its own forked child process with a deadline, so that a crash or a hang
 * becomes an ERROR for that pair only. The parent then runs no OpenMP code
 * itself, because a child forked after OpenMP threads exist can hang.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness/check_report.h"
#include "harness/cli.h"
#include "harness/commands.h"
#include "harness/golden_read.h"
#include "harness/isolate.h"
#include "harness/plugin.h"
#include "harness/registry.h"
#include "harness/tolerance.h"

#include <math.h>
#include <omp.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Default memory budget for one case: generous for golden files, small
   enough that a hostile file asking for terabytes is rejected up front. */
#define DEFAULT_MEMORY_BUDGET_MIB 4096

/* Default deadline for one isolated (implementation, case) pair: far above
   any committed case on a slow machine, short enough to end a hang. */
#define DEFAULT_TIMEOUT_S 60

typedef struct {
    const char *impl_regex;
    const char *case_regex;
    const char *json_path;
    const char *junit_path;
    int op_filter; /* -1: both */
    int n_threads;
    size_t memory_budget_bytes;
    int isolate;
    int timeout_s; /* 0: not given */
    char **files;
    int n_files;
} check_options;

static void print_check_usage(FILE *to)
{
    fprintf(to,
            "usage: attnbench check [--impl REGEX] [--op attention|encoder_layer] [--case REGEX]\n"
            "                       [--json FILE] [--junit FILE] [--threads N]\n"
            "                       [--memory-budget MIB] [--plugin FILE.so ...]\n"
            "                       [--isolate [--timeout SECONDS]] [FILE.h5 ...]\n");
}

static void print_check_help(void)
{
    print_check_usage(stdout);
    printf("\nChecks implementations against golden vectors (default: the committed suites).\n"
           "  --impl REGEX         implementations whose name matches (POSIX extended regex)\n"
           "  --op OP              only cases of this operation\n"
           "  --case REGEX         only cases whose name matches\n"
           "  --json FILE          write every result as JSON\n"
           "  --junit FILE         write JUnit XML for CI systems\n"
           "  --threads N          threads given to each implementation (default: all cores)\n"
           "  --memory-budget MIB  largest case accepted, in MiB (default %d)\n"
           ATB_PLUGIN_OPTION_HELP
           "  --isolate            run each implementation on each case in a child process,\n"
           "                       so a crash or hang is an ERROR for that case only\n"
           "  --timeout SECONDS    with --isolate, the deadline for one case (default %d)\n"
           "Exit status: 0 nothing failed (skips allowed), 1 a FAIL or ERROR, 2 misuse.\n",
           DEFAULT_MEMORY_BUDGET_MIB, DEFAULT_TIMEOUT_S);
}

static int usage_error(const char *fmt, const char *value)
{
    fprintf(stderr, "attnbench check: error: ");
    fprintf(stderr, fmt, value);
    fprintf(stderr, "\n");
    print_check_usage(stderr);
    return 2;
}

/* Options of check that are followed by a value. */
static int takes_value(const char *arg)
{
    static const char *const names[] = {"--impl",          "--case",  "--json",   "--junit",
                                        "--op",            "--threads", "--timeout",
                                        "--memory-budget", "--plugin"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(arg, names[i]) == 0)
            return 1;
    return 0;
}

/* Returns 1 when text is a whole decimal integer in [min, max]; the
   caller prints check's own message otherwise. */
static int parse_integer(const char *option, const char *text, int64_t min, int64_t max,
                         int64_t *out)
{
    char ignored[256];
    return text && atb_cli_parse_int(option, text, min, max, out, ignored, sizeof(ignored)) == 0;
}

static int parse_check_options(int argc, char **argv, check_options *o)
{
    memset(o, 0, sizeof(*o));
    o->op_filter = -1;
    o->n_threads = omp_get_num_procs();
    o->memory_budget_bytes = (size_t)DEFAULT_MEMORY_BUDGET_MIB << 20;
    o->files = calloc((size_t)argc, sizeof(char *));
    if (!o->files)
        return usage_error("%s", "out of memory");

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const int has_value = i + 1 < argc;
        int64_t value;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_check_help();
            return -1;
        } else if (strcmp(arg, "--isolate") == 0) {
            o->isolate = 1;
        } else if (takes_value(arg) && !has_value) {
            return usage_error("option '%s' needs a value", arg);
        } else if (strcmp(arg, "--impl") == 0) {
            o->impl_regex = argv[++i];
        } else if (strcmp(arg, "--case") == 0) {
            o->case_regex = argv[++i];
        } else if (strcmp(arg, "--json") == 0) {
            o->json_path = argv[++i];
        } else if (strcmp(arg, "--junit") == 0) {
            o->junit_path = argv[++i];
        } else if (strcmp(arg, "--op") == 0) {
            const char *op = argv[++i];
            if (strcmp(op, "attention") == 0)
                o->op_filter = ATB_OP_ATTENTION;
            else if (strcmp(op, "encoder_layer") == 0)
                o->op_filter = ATB_OP_ENCODER_LAYER;
            else
                return usage_error("--op: '%s' is not attention or encoder_layer", op);
        } else if (strcmp(arg, "--threads") == 0) {
            if (!parse_integer("--threads", argv[++i], 1, 4096, &value))
                return usage_error("--threads: '%s' is not an integer from 1 to 4096", argv[i]);
            o->n_threads = (int)value;
        } else if (strcmp(arg, "--memory-budget") == 0) {
            if (!parse_integer("--memory-budget", argv[++i], 1, 1L << 30, &value))
                return usage_error("--memory-budget: '%s' is not a positive number of MiB",
                                   argv[i]);
            o->memory_budget_bytes = (size_t)value << 20;
        } else if (strcmp(arg, "--timeout") == 0) {
            if (!parse_integer("--timeout", argv[++i], 1, 86400, &value))
                return usage_error("--timeout: '%s' is not a whole number of seconds from 1 to "
                                   "86400", argv[i]);
            o->timeout_s = (int)value;
        } else if (arg[0] == '-') {
            return usage_error("unknown option '%s'", arg);
        } else {
            o->files[o->n_files++] = argv[i];
        }
    }
    if (o->timeout_s && !o->isolate)
        return usage_error("%s", "--timeout needs --isolate: only an isolated case can be "
                                 "stopped");
    /* Under an address-space limit, a library may crash or spin when an
       allocation fails inside it: under ulimit -v 700000, oneDNN 2.6.3
       segfaulted while creating a primitive after OpenBLAS had taken its
       buffers, and OpenBLAS once spun in its allocator. In one process that
       would end the run and lose every later result, so each pair then
       runs in a child, as with --isolate. */
    struct rlimit limit;
    if (!o->isolate && getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
        o->isolate = 1;
        fprintf(stderr, "attnbench check: note: an address-space limit (ulimit -v) is set, so "
                        "each implementation runs each case in a child process, as with "
                        "--isolate\n");
    }
    if (!o->timeout_s)
        o->timeout_s = DEFAULT_TIMEOUT_S;
    return 0;
}

static int compile_regex(regex_t *re, const char *pattern, const char *option)
{
    if (regcomp(re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        fprintf(stderr, "attnbench check: error: %s: '%s' is not a valid regular expression\n",
                option, pattern);
        print_check_usage(stderr);
        return 0;
    }
    return 1;
}

/* The installed vectors beside the running executable: ATB_DATA_DIR_FROM_BIN
   is the data directory relative to the bin directory (for example
   "../share/attnbench/vectors"), so a moved install prefix still finds them.
   Returns 0 when the executable's path is unknown. */
static int installed_vectors_dir(char *dir, size_t dir_len)
{
#ifdef ATB_DATA_DIR_FROM_BIN
    char exe[1024];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return 0;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    const int written = snprintf(dir, dir_len, "%s/%s", exe, ATB_DATA_DIR_FROM_BIN);
    return written > 0 && (size_t)written < dir_len;
#else
    (void)dir;
    (void)dir_len;
    return 0;
#endif
}

/* The committed suites: $ATTNBENCH_VECTORS_DIR, the install data directory
   beside the executable, the source tree, or the configured install data
   directory, whichever has them first. */
static int find_default_vectors(char paths[2][1024])
{
    char beside_exe[1024];
    const char *dirs[4] = {getenv("ATTNBENCH_VECTORS_DIR"),
                           installed_vectors_dir(beside_exe, sizeof(beside_exe)) ? beside_exe
                                                                                 : NULL,
                           ATB_SOURCE_DIR "/vectors",
#ifdef ATB_DATA_DIR
                           ATB_DATA_DIR
#else
                           NULL
#endif
    };
    for (int d = 0; d < 4; d++) {
        if (!dirs[d])
            continue;
        snprintf(paths[0], 1024, "%s/attention.h5", dirs[d]);
        snprintf(paths[1], 1024, "%s/encoder_layer.h5", dirs[d]);
        if (access(paths[0], R_OK) == 0 && access(paths[1], R_OK) == 0)
            return 1;
    }
    return 0;
}

/* === Running one (implementation, case) pair === */

/* Runs impl on the case; fills result->status and the metrics. */
static void run_pair(const atb_impl *impl, const atb_golden_case *c, int n_threads,
                     float *out, check_result *result)
{
    char why[512] = "";
    atb_problem problem = c->tensors.problem;
    problem.n_threads = n_threads;

    if (!(impl->ops & (1u << problem.op))) {
        result->status = CHECK_SKIP;
        snprintf(result->reason, sizeof(result->reason), "does not implement %s",
                 atb_op_name(problem.op));
        return;
    }
    if (!atb_impl_runs_here(impl, why, sizeof(why))
        || (impl->supports && !impl->supports(&problem, why, sizeof(why)))) {
        result->status = CHECK_SKIP;
        snprintf(result->reason, sizeof(result->reason), "%s", why);
        return;
    }

    const atb_encoder_weights weights = atb_tensors_weights(&c->tensors);
    void *plan = NULL;
    omp_set_num_threads(n_threads);
    atb_status st = impl->plan(&problem, problem.op == ATB_OP_ENCODER_LAYER ? &weights : NULL,
                               &plan, why, sizeof(why));
    if (st == ATB_OK) {
        const size_t n_out = atb_problem_output_count(&problem);
        /* NaN-fill so that an element the implementation never writes fails. */
        for (size_t i = 0; i < n_out; i++)
            out[i] = NAN;
        atb_run_args args = atb_tensors_args(&c->tensors, out);
        st = impl->run(plan, &args, why, sizeof(why));
    }
    if (plan)
        impl->destroy(plan);
    if (st != ATB_OK) {
        result->status = st == ATB_ERR_UNSUPPORTED ? CHECK_SKIP : CHECK_ERROR;
        snprintf(result->reason, sizeof(result->reason), "%s: %s", atb_status_string(st), why);
        return;
    }

    st = atb_compare(&c->tensors, c->expected, out, 0, NULL, &result->cmp, why, sizeof(why));
    if (st != ATB_OK) {
        result->status = CHECK_ERROR;
        snprintf(result->reason, sizeof(result->reason), "comparison failed: %s", why);
        return;
    }
    result->status = result->cmp.pass ? CHECK_PASS : CHECK_FAIL;
    if (!result->cmp.pass)
        snprintf(result->reason, sizeof(result->reason),
                 "%lld of %lld elements outside the bound (%lld non-finite mismatches)",
                 (long long)result->cmp.n_failed, (long long)result->cmp.n_checked,
                 (long long)result->cmp.n_nonfinite_mismatch);
}

typedef struct {
    const atb_impl *impl;
    const atb_golden_case *c;
    int n_threads;
    float *out;
} pair_job;

static void run_pair_job(void *context, void *result)
{
    const pair_job *job = context;
    run_pair(job->impl, job->c, job->n_threads, job->out, result);
}

/* run_pair, in a child process when --isolate is given. */
static void run_pair_as_asked(const atb_impl *impl, const atb_golden_case *c,
                              const check_options *o, float *out, check_result *result)
{
    if (!o->isolate) {
        run_pair(impl, c, o->n_threads, out, result);
        return;
    }
    pair_job job = {impl, c, o->n_threads, out};
    char why[256];
    if (!atb_isolate_run(run_pair_job, &job, result, sizeof(*result), o->timeout_s, why,
                         sizeof(why))) {
        result->status = CHECK_ERROR;
        snprintf(result->reason, sizeof(result->reason), "%s", why);
    }
}

/* Error allowed against naive: twice naive's, plus a floor of 4 f32 ULPs of
   the output's magnitude, because naive's own error can be exactly zero. */
static void judge_against_naive(const atb_golden_case *c, const check_result *naive,
                                check_result *result)
{
    if (naive->status != CHECK_PASS || result->status != CHECK_PASS)
        return;
    double max_expected = 0.0;
    const size_t n_out = atb_problem_output_count(&c->tensors.problem);
    for (size_t i = 0; i < n_out; i++)
        if (isfinite(c->expected[i]) && fabs(c->expected[i]) > max_expected)
            max_expected = fabs(c->expected[i]);
    const double floor = 4.0 * 5.9604644775390625e-8 * max_expected;
    result->has_naive = 1;
    result->naive_abs_error = naive->cmp.max_abs_error;
    result->error_vs_naive = naive->cmp.max_abs_error > 0.0
                                 ? result->cmp.max_abs_error / naive->cmp.max_abs_error
                                 : (result->cmp.max_abs_error > 0.0 ? INFINITY : 1.0);
    result->within_naive_bound = result->cmp.max_abs_error <= 2.0 * naive->cmp.max_abs_error + floor;
}

/* === Main loop === */

static void record_error_for_all(check_report *report, const char *file, const char *case_name,
                                 int op, const atb_impl **impls, int n_impls, const char *message)
{
    for (int k = 0; k < n_impls; k++) {
        check_result *r = check_report_add(report);
        if (!r)
            return;
        snprintf(r->impl, sizeof(r->impl), "%s", impls[k]->name);
        snprintf(r->file, sizeof(r->file), "%s", file);
        snprintf(r->case_name, sizeof(r->case_name), "%s", case_name);
        r->op = op;
        r->status = CHECK_ERROR;
        snprintf(r->reason, sizeof(r->reason), "%s", message);
        check_report_print(report, r);
    }
}

static void check_case(check_report *report, const check_options *o, const char *path,
                       const atb_golden_case *c, const atb_impl **impls, int n_impls)
{
    const size_t n_out = atb_problem_output_count(&c->tensors.problem);
    float *out = malloc((n_out + 1) * sizeof(float));
    if (!out) {
        record_error_for_all(report, path, c->name, c->tensors.problem.op, impls, n_impls,
                             "cannot allocate the output buffer");
        return;
    }

    check_result naive = {0};
    const atb_impl *naive_impl = atb_registry_find("naive");
    if (naive_impl)
        run_pair_as_asked(naive_impl, c, o, out, &naive);

    for (int k = 0; k < n_impls; k++) {
        check_result *r = check_report_add(report);
        if (!r)
            break;
        snprintf(r->impl, sizeof(r->impl), "%s", impls[k]->name);
        snprintf(r->file, sizeof(r->file), "%s", path);
        snprintf(r->case_name, sizeof(r->case_name), "%s", c->name);
        r->op = c->tensors.problem.op;
        if (impls[k] == naive_impl) {
            check_result keep = *r;
            *r = naive;
            memcpy(r->impl, keep.impl, sizeof(r->impl));
            memcpy(r->file, keep.file, sizeof(r->file));
            memcpy(r->case_name, keep.case_name, sizeof(r->case_name));
            r->op = keep.op;
        } else {
            run_pair_as_asked(impls[k], c, o, out, r);
        }
        judge_against_naive(c, &naive, r);
        check_report_print(report, r);
        if (r->status == CHECK_FAIL)
            check_report_print_failure(r, &c->tensors.problem);
    }
    free(out);
}

/* Checks every case of one file that case_re selects; returns how many
   cases it selected. */
static size_t check_file(check_report *report, const check_options *o, const char *path,
                         const atb_impl **impls, int n_impls, const regex_t *case_re)
{
    size_t n_selected = 0;
    char err[1024];
    atb_golden_file *file;
    if (atb_golden_open(path, &file, err, sizeof(err)) != ATB_OK) {
        record_error_for_all(report, path, "(file)", -1, impls, n_impls, err);
        return 1; /* the file itself is the result: an ERROR */
    }
    if (atb_golden_count(file) == 0)
        fprintf(stderr, "attnbench check: warning: %s contains no cases\n", path);
    for (size_t index = 0; index < atb_golden_count(file); index++) {
        const char *name = atb_golden_case_name(file, index);
        if (!case_re || regexec(case_re, name, 0, NULL, 0) == 0)
            check_report_fit_case(report, name);
    }

    for (size_t index = 0; index < atb_golden_count(file); index++) {
        const char *name = atb_golden_case_name(file, index);
        if (case_re && regexec(case_re, name, 0, NULL, 0) != 0)
            continue;
        n_selected++;
        atb_golden_case c;
        if (atb_golden_load(file, index, o->memory_budget_bytes, &c, err, sizeof(err)) != ATB_OK) {
            record_error_for_all(report, path, name, -1, impls, n_impls, err);
            continue;
        }
        if (o->op_filter < 0 || (int)c.tensors.problem.op == o->op_filter)
            check_case(report, o, path, &c, impls, n_impls);
        atb_golden_case_free(&c);
    }
    atb_golden_close(file);
    return n_selected;
}

int atb_cmd_check(int argc, char **argv)
{
    /* Plugins load first, so that --impl can select their implementations.
       The report keeps the full command line, --plugin included. */
    const int full_argc = argc;
    char **full_argv = malloc(((size_t)argc + 1) * sizeof(char *));
    if (!full_argv) {
        fprintf(stderr, "attnbench check: error: out of memory\n");
        return 2;
    }
    memcpy(full_argv, argv, ((size_t)argc + 1) * sizeof(char *));
    const int plugin_status = atb_plugin_take_options(&argc, argv, "check");
    if (plugin_status != 0) {
        free(full_argv);
        return plugin_status;
    }

    check_options o;
    const int parsed = parse_check_options(argc, argv, &o);
    if (parsed != 0) {
        free(o.files);
        free(full_argv);
        return parsed < 0 ? 0 : parsed;
    }

    regex_t impl_re, case_re;
    int have_impl_re = 0, have_case_re = 0;
    if (o.impl_regex) {
        if (!compile_regex(&impl_re, o.impl_regex, "--impl")) {
            free(o.files);
            free(full_argv);
            return 2;
        }
        have_impl_re = 1;
    }
    if (o.case_regex) {
        if (!compile_regex(&case_re, o.case_regex, "--case")) {
            if (have_impl_re)
                regfree(&impl_re);
            free(o.files);
            free(full_argv);
            return 2;
        }
        have_case_re = 1;
    }

    /* Implementations selected by --impl. */
    const atb_impl *impls[256];
    int n_impls = 0;
    for (size_t i = 0; i < atb_registry_count() && n_impls < 256; i++) {
        const atb_impl *impl = atb_registry_get(i);
        if (!have_impl_re || regexec(&impl_re, impl->name, 0, NULL, 0) == 0)
            impls[n_impls++] = impl;
    }
    int exit_code = 0;
    if (n_impls == 0) {
        fprintf(stderr, "attnbench check: error: --impl '%s' matches no implementation "
                        "(see attnbench list)\n", o.impl_regex);
        print_check_usage(stderr);
        exit_code = 2;
        goto cleanup;
    }

    char default_paths[2][1024];
    char *default_files[2] = {default_paths[0], default_paths[1]};
    if (o.n_files == 0) {
        if (!find_default_vectors(default_paths)) {
            fprintf(stderr, "attnbench check: error: the committed vectors (attention.h5, "
                            "encoder_layer.h5) were not found; name files or set "
                            "ATTNBENCH_VECTORS_DIR\n");
            exit_code = 2;
            goto cleanup;
        }
        free(o.files);
        o.files = NULL;
        o.n_files = 2;
    }
    char **files = o.files ? o.files : default_files;

    check_report report;
    size_t n_cases_selected = 0;
    check_report_init(&report, full_argc, full_argv);
    for (int k = 0; k < n_impls; k++)
        check_report_fit_impl(&report, impls[k]->name);
    for (int f = 0; f < o.n_files; f++)
        n_cases_selected += check_file(&report, &o, files[f], impls, n_impls,
                                       have_case_re ? &case_re : NULL);
    if (have_case_re && n_cases_selected == 0) {
        /* A typo in --case would otherwise pass CI with nothing checked. */
        fprintf(stderr, "attnbench check: error: --case '%s' matches no case in the files "
                        "checked\n", o.case_regex);
        print_check_usage(stderr);
        check_report_free(&report);
        exit_code = 2;
        goto cleanup;
    }

    exit_code = check_report_finish(&report, o.json_path, o.junit_path);
    check_report_free(&report);

cleanup:
    if (have_impl_re)
        regfree(&impl_re);
    if (have_case_re)
        regfree(&case_re);
    free(o.files);
    free(full_argv);
    return exit_code;
}
