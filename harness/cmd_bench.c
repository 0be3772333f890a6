/*
 * attnbench bench: times the implementations over a sweep of shapes with
 * Google Benchmark and writes its JSON results file.
 *
 * Steps: parse our own options (everything else must be a --benchmark_*
 * flag, handed to Google Benchmark), select implementations, expand the
 * sweep, measure the FMA peak once, record the context, register one
 * benchmark per (shape, thread count, implementation) and run them.
 *
 * Interruption: the first SIGINT or SIGTERM lets the current benchmark
 * finish, skips the rest and returns 128 + the signal number. The results
 * file, rewritten after every benchmark, then contains every finished one. A
 * second signal exits at once; the file still holds the last complete
 * version.
 *
 * Test-only: ATTNBENCH_TEST_FAULTY_IMPL=1 registers deliberately wrong
 * variants of naive ("naive-broken-scale", "naive-broken-mask") so that the
 * tests can prove a wrong result is reported as an error, not a speed.
 */
#define _POSIX_C_SOURCE 200809L /* sigaction, strtok_r */
#include "harness/bench_env.h"
#include "harness/bench_plan.h"
#include "harness/bench_run.h"
#include "harness/cli.h"
#include "harness/commands.h"
#include "harness/gbench/gbench.h"
#include "harness/peak.h"
#include "harness/plugin.h"
#include "harness/problem.h"
#include "harness/registry.h"

#ifdef ATB_HAVE_NAIVE
#include "impl/naive/naive.h"
#endif

#include <omp.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Upper limits of the shape options: int32 lengths (kv_valid_len is int32)
   and sizes far past any real model, so typos are caught early. */
#define MAX_LENGTH INT64_C(2147483647)
#define MAX_HEADS 65536
#define MAX_HEAD_DIM 65536
#define MAX_BATCH 65536
#define MAX_THREADS 4096
#define MAX_SHAPES 100000
#define MAX_IMPLS 64

/* Peak measurement at startup: the best of 15 repetitions of 30 ms, so that
   a burst of a few hundred milliseconds in which another process or virtual
   machine shares the core does not lower the peak. */
#define PEAK_REPETITIONS 15
#define PEAK_REPETITION_S 0.03

static const char usage_text[] =
    "usage: attnbench bench [--impl REGEX] [--op attention,encoder_layer] "
    "[--preset quick|default|full]\n"
    "         [--seq LIST] [--q-len LIST] [--kv-len LIST] [--heads LIST] [--kv-heads LIST]\n"
    "         [--head-dim LIST] [--batch LIST] [--causal LIST] [--ffn-dim LIST] [--act LIST]\n"
    "         [--norm-first LIST] [--threads LIST] [--out FILE.json] [--budget-seconds S]\n"
    "         [--min-time S] [--peak-gflops X[,X...]] [--seed N] [--inputs normal|denormal]\n"
    "         [--quiet]\n"
    "         [--plugin FILE.so ...]\n"
    "         [--benchmark_* flags of Google Benchmark]\n";

static void print_help(void)
{
    fputs(usage_text, stdout);
    fputs("\n"
          "Times every selected implementation on every shape of the sweep, after checking\n"
          "sampled output rows against the float64 reference.\n\n"
          "  --impl REGEX         implementations whose name matches (POSIX extended regex)\n"
          "  --op LIST            attention, encoder_layer (default: both)\n"
          "  --preset NAME        quick, default (the default) or full\n"
          "  --seq LIST           attention Lq = Lk, and the layer's L\n"
          "  --q-len, --kv-len    attention Lq and Lk separately (every pair)\n"
          "  --heads, --kv-heads  H and Hkv (default Hkv = H)\n"
          "  --head-dim LIST      D; the layer uses E = heads x head-dim\n"
          "  --batch LIST         B (default 1)\n"
          "  --causal LIST        none, top_left, bottom_right\n"
          "  --ffn-dim LIST       the layer's F (default 4E)\n"
          "  --act LIST           relu, gelu\n"
          "  --norm-first LIST    0, 1\n"
          "  --threads LIST       OpenMP, OpenBLAS and oneDNN threads; 'all' = CPUs available\n"
          "                       (default 1,all)\n"
          "  --out FILE.json      Google Benchmark JSON, rewritten after every benchmark\n"
          "  --budget-seconds S   skip a benchmark estimated to take longer (preset default)\n"
          "  --min-time S         minimum timed time per benchmark (preset default)\n"
          "  --peak-gflops LIST   use this FMA peak (one value, or one per --threads entry)\n"
          "                       instead of measuring it\n"
          "  --seed N             seed of the random inputs (default 1)\n"
          "  --inputs KIND        normal (default), or denormal: inputs that make most\n"
          "                       exp() results and values denormal, to measure slowdowns\n"
          "  --quiet              no progress lines on stderr\n"
          ATB_PLUGIN_OPTION_HELP "\n"
          "LIST: comma-separated values; A:B doubles from A to B, A:B:S steps by S.\n"
          "Exit status: 0 all benchmarks timed or skipped, 1 a wrong result or a failure,\n"
          "2 misuse, 128+N when stopped by signal N.\n", stdout);
}

/* === Options === */

typedef struct {
    const char *impl_regex;
    const char *preset_name;
    const char *out_path;
    int do_attention, do_encoder;
    atb_bench_overrides overrides;
    atb_int_list threads;
    double budget_s;       /* < 0: the preset's */
    double min_time_s;     /* < 0: the preset's */
    double peak_gflops[ATB_CLI_MAX_LIST];
    int n_peak_gflops;
    int64_t seed;
    int denormal_inputs;
    int quiet;

    /* Google Benchmark's flags, and what the estimates need from them. */
    char **gb_argv;
    int gb_argc;
    double gb_min_time_s;  /* > 0 when --benchmark_min_time was given */
    int gb_repetitions;
    int gb_time_unit_given;
    int gb_list_only;
} bench_options;

static int parse_op(const char *text)
{
    if (strcmp(text, "attention") == 0)
        return ATB_OP_ATTENTION;
    if (strcmp(text, "encoder_layer") == 0)
        return ATB_OP_ENCODER_LAYER;
    return -1;
}

static int parse_act(const char *text)
{
    if (strcmp(text, "relu") == 0)
        return ATB_ACT_RELU;
    if (strcmp(text, "gelu") == 0)
        return ATB_ACT_GELU;
    return -1;
}

static int parse_zero_one(const char *text)
{
    if (strcmp(text, "0") == 0)
        return 0;
    if (strcmp(text, "1") == 0)
        return 1;
    return -1;
}

/* Notes what the estimates need to know from a Google Benchmark flag, and
   checks the numbers among them here, since Google Benchmark's own message
   for a bad value calls the flag unrecognized. Returns -1 on a bad value. */
static int note_gb_flag(bench_options *o, const char *arg, char *err, size_t err_len)
{
    if (strncmp(arg, "--benchmark_min_time=", 21) == 0) {
        /* Seconds; Google Benchmark 1.8 also takes "2.5s", and "100x" for an
           iteration count, which leaves the time to the estimates. */
        char value[64];
        snprintf(value, sizeof(value), "%s", arg + 21);
        const size_t n = strlen(value);
        int major = 0, minor = 0;
        const int suffixed = n > 1 && (value[n - 1] == 'x' || value[n - 1] == 's');
        if (suffixed && sscanf(atb_gb_version(), "%d.%d", &major, &minor) == 2
            && (major < 1 || (major == 1 && minor < 8))) {
            snprintf(err, err_len, "Google Benchmark %s takes --benchmark_min_time in plain "
                     "seconds, without the unit in '%s'", atb_gb_version(), arg + 21);
            return -1;
        }
        if (n > 1 && value[n - 1] == 'x')
            return 0;
        if (n > 1 && value[n - 1] == 's')
            value[n - 1] = '\0';
        if (atb_cli_parse_double("--benchmark_min_time", value, 1e-6, 1e6, &o->gb_min_time_s,
                                 err, err_len) != 0)
            return -1;
    } else if (strncmp(arg, "--benchmark_repetitions=", 24) == 0) {
        int64_t n;
        if (atb_cli_parse_int("--benchmark_repetitions", arg + 24, 1, 1000000, &n, err,
                              err_len) != 0)
            return -1;
        o->gb_repetitions = (int)n;
    } else if (strncmp(arg, "--benchmark_time_unit=", 22) == 0)
        o->gb_time_unit_given = 1;
    else if (strcmp(arg, "--benchmark_list_tests") == 0
             || strcmp(arg, "--benchmark_list_tests=true") == 0)
        o->gb_list_only = 1;
    return 0;
}

/* Parses one option at argv[*i]. Returns 1 when it was ours, 0 when not,
   -1 on misuse (message in err). */
static int parse_option(bench_options *o, int argc, char **argv, int *i, char *err,
                        size_t err_len)
{
    const char *v = NULL;
    int m;
    const int64_t all_cpus = atb_bench_cpu_count();

#define OPTION(name) ((m = atb_cli_option(argc, argv, i, name, &v, err, err_len)) != 0)
#define INT_LIST(name, field, min, max)                                                    \
    if (OPTION(name))                                                                      \
        return m < 0 ? -1                                                                  \
                     : (atb_cli_parse_int_list(name, v, min, max, 0, &o->field, err, err_len) \
                            == 0 ? 1 : -1);

    if (OPTION("--impl")) {
        if (m < 0)
            return -1;
        o->impl_regex = v;
        return 1;
    }
    if (OPTION("--preset")) {
        if (m < 0)
            return -1;
        o->preset_name = v;
        return 1;
    }
    if (OPTION("--out")) {
        if (m < 0)
            return -1;
        if (!*v) {
            snprintf(err, err_len, "option --out needs a file name");
            return -1;
        }
        o->out_path = v;
        return 1;
    }
    if (OPTION("--op")) {
        int ops[2];
        if (m < 0)
            return -1;
        const int n = atb_cli_parse_word_list("--op", v, parse_op, "attention or encoder_layer",
                                              ops, 2, err, err_len);
        if (n < 0)
            return -1;
        o->do_attention = o->do_encoder = 0;
        for (int k = 0; k < n; k++) {
            o->do_attention |= ops[k] == ATB_OP_ATTENTION;
            o->do_encoder |= ops[k] == ATB_OP_ENCODER_LAYER;
        }
        return 1;
    }
    INT_LIST("--seq", overrides.seq, 1, MAX_LENGTH)
    INT_LIST("--q-len", overrides.q_len, 1, MAX_LENGTH)
    INT_LIST("--kv-len", overrides.kv_len, 0, MAX_LENGTH)
    INT_LIST("--heads", overrides.heads, 1, MAX_HEADS)
    INT_LIST("--kv-heads", overrides.kv_heads, 1, MAX_HEADS)
    INT_LIST("--head-dim", overrides.head_dim, 1, MAX_HEAD_DIM)
    INT_LIST("--batch", overrides.batch, 1, MAX_BATCH)
    INT_LIST("--ffn-dim", overrides.ffn_dim, 1, MAX_LENGTH)
    if (OPTION("--threads")) {
        if (m < 0)
            return -1;
        return atb_cli_parse_int_list("--threads", v, 1, MAX_THREADS, all_cpus, &o->threads, err,
                                      err_len) == 0 ? 1 : -1;
    }
    if (OPTION("--causal")) {
        if (m < 0)
            return -1;
        o->overrides.n_causal = atb_cli_parse_word_list(
            "--causal", v, atb_causal_parse, "none, top_left or bottom_right",
            o->overrides.causal, 3, err, err_len);
        return o->overrides.n_causal < 0 ? -1 : 1;
    }
    if (OPTION("--act")) {
        if (m < 0)
            return -1;
        o->overrides.n_act = atb_cli_parse_word_list("--act", v, parse_act, "relu or gelu",
                                                     o->overrides.act, 2, err, err_len);
        return o->overrides.n_act < 0 ? -1 : 1;
    }
    if (OPTION("--norm-first")) {
        if (m < 0)
            return -1;
        o->overrides.n_norm_first = atb_cli_parse_word_list(
            "--norm-first", v, parse_zero_one, "0 or 1", o->overrides.norm_first, 2, err,
            err_len);
        return o->overrides.n_norm_first < 0 ? -1 : 1;
    }
    if (OPTION("--budget-seconds")) {
        if (m < 0)
            return -1;
        return atb_cli_parse_double("--budget-seconds", v, 0.001, 1e6, &o->budget_s, err,
                                    err_len) == 0 ? 1 : -1;
    }
    if (OPTION("--min-time")) {
        if (m < 0)
            return -1;
        return atb_cli_parse_double("--min-time", v, 0.0001, 1e4, &o->min_time_s, err,
                                    err_len) == 0 ? 1 : -1;
    }
    if (OPTION("--inputs")) {
        if (m < 0)
            return -1;
        if (strcmp(v, "normal") == 0 || strcmp(v, "denormal") == 0) {
            o->denormal_inputs = strcmp(v, "denormal") == 0;
            return 1;
        }
        snprintf(err, err_len, "invalid value '%s' for --inputs: expected normal or denormal", v);
        return -1;
    }
    if (OPTION("--seed")) {
        if (m < 0)
            return -1;
        return atb_cli_parse_int("--seed", v, 0, INT64_MAX, &o->seed, err, err_len) == 0 ? 1
                                                                                          : -1;
    }
    if (OPTION("--peak-gflops")) {
        if (m < 0)
            return -1;
        /* A list of numbers: split on commas and parse each strictly. */
        char copy[512];
        snprintf(copy, sizeof(copy), "%s", v);
        o->n_peak_gflops = 0;
        for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            if (o->n_peak_gflops == ATB_CLI_MAX_LIST
                || atb_cli_parse_double("--peak-gflops", tok, 1e-3, 1e9,
                                        &o->peak_gflops[o->n_peak_gflops++], err, err_len) != 0)
                return -1;
        }
        if (o->n_peak_gflops == 0) {
            snprintf(err, err_len, "invalid value '%s' for --peak-gflops: expected a number", v);
            return -1;
        }
        return 1;
    }
    if ((m = atb_cli_flag(argv, *i, "--quiet", err, err_len)) != 0) {
        o->quiet = 1;
        return m;
    }
    return 0;
#undef OPTION
#undef INT_LIST
}

static int parse_args(bench_options *o, int argc, char **argv, char *err, size_t err_len)
{
    memset(o, 0, sizeof(*o));
    o->preset_name = "default";
    o->do_attention = o->do_encoder = 1;
    o->budget_s = -1.0;
    o->min_time_s = -1.0;
    o->seed = 1;
    o->gb_repetitions = 1;
    o->gb_argv = calloc((size_t)argc + 1, sizeof(char *));
    if (!o->gb_argv) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    o->gb_argv[o->gb_argc++] = "attnbench bench";

    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--benchmark_", 12) == 0) {
            if (note_gb_flag(o, argv[i], err, err_len) != 0)
                return -1;
            o->gb_argv[o->gb_argc++] = argv[i];
            continue;
        }
        const int r = parse_option(o, argc, argv, &i, err, err_len);
        if (r < 0)
            return -1;
        if (r == 0) {
            snprintf(err, err_len, "unknown option '%s'", argv[i]);
            return -1;
        }
    }
    if (!atb_bench_find_preset(o->preset_name)) {
        snprintf(err, err_len, "invalid value '%s' for --preset: expected %s", o->preset_name,
                 atb_bench_preset_names());
        return -1;
    }
    if (o->do_encoder && !o->do_attention && (o->overrides.q_len.n || o->overrides.kv_len.n
                                              || o->overrides.kv_heads.n)) {
        snprintf(err, err_len, "--q-len, --kv-len and --kv-heads apply to attention only");
        return -1;
    }
    if (o->do_encoder && !o->do_attention && o->overrides.n_causal == 1
        && o->overrides.causal[0] == ATB_CAUSAL_BOTTOM_RIGHT) {
        snprintf(err, err_len, "invalid value 'bottom_right' for --causal: encoder_layer "
                 "accepts none or top_left");
        return -1;
    }
    if (o->threads.n == 0) {
        o->threads.values[o->threads.n++] = 1;
        if (atb_bench_cpu_count() > 1)
            o->threads.values[o->threads.n++] = atb_bench_cpu_count();
    }
    if (o->n_peak_gflops > 1 && o->n_peak_gflops != o->threads.n) {
        snprintf(err, err_len, "--peak-gflops has %d values but --threads has %d; give one "
                 "value, or one per thread count", o->n_peak_gflops, o->threads.n);
        return -1;
    }
    return 0;
}

/* === Implementations === */

#ifdef ATB_HAVE_NAIVE
static atb_impl faulty_scale, faulty_mask;

/* Test-only: registers wrong variants of naive (see the file comment). */
static void register_faulty_impls(void)
{
    const char *flag = getenv("ATTNBENCH_TEST_FAULTY_IMPL");
    if (!flag || strcmp(flag, "1") != 0)
        return;
    char err[256];
    faulty_scale = atb_naive_faulty_impl(ATB_NAIVE_FAULT_NO_SCALE, "naive-broken-scale");
    faulty_mask = atb_naive_faulty_impl(ATB_NAIVE_FAULT_MASK_OFF_BY_ONE, "naive-broken-mask");
    if (!atb_registry_find(faulty_scale.name) && atb_registry_add(&faulty_scale, err, sizeof(err)) != ATB_OK)
        fprintf(stderr, "attnbench: warning: %s\n", err);
    if (!atb_registry_find(faulty_mask.name) && atb_registry_add(&faulty_mask, err, sizeof(err)) != ATB_OK)
        fprintf(stderr, "attnbench: warning: %s\n", err);
}
#else
static void register_faulty_impls(void) {}
#endif

/* Fills impls with the implementations matching the regex that run on this
   CPU for at least one selected operation. Returns the count, or -1. */
static int select_impls(const bench_options *o, const atb_impl **impls, char *err,
                        size_t err_len)
{
    regex_t re;
    const char *pattern = o->impl_regex ? o->impl_regex : ".";
    const int rc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[128];
        regerror(rc, &re, why, sizeof(why));
        snprintf(err, err_len, "invalid value '%s' for --impl: %s", pattern, why);
        return -1;
    }

    const unsigned ops = (o->do_attention ? ATB_OPS_ATTENTION : 0)
                         | (o->do_encoder ? ATB_OPS_ENCODER_LAYER : 0);
    int n = 0, n_matched = 0;
    for (size_t k = 0; k < atb_registry_count() && n < MAX_IMPLS; k++) {
        const atb_impl *impl = atb_registry_get(k);
        if (regexec(&re, impl->name, 0, NULL, 0) != 0)
            continue;
        n_matched++;
        char why[256];
        if (!(impl->ops & ops))
            continue;
        if (!atb_impl_runs_here(impl, why, sizeof(why))) {
            fprintf(stderr, "attnbench: note: %s is not run: %s\n", impl->name, why);
            char key[128];
            snprintf(key, sizeof(key), "impl.%s", impl->name);
            atb_gb_add_context(key, why);
            continue;
        }
        impls[n++] = impl;
    }
    regfree(&re);
    if (n_matched == 0) {
        snprintf(err, err_len, "invalid value '%s' for --impl: it matches no implementation "
                 "(see attnbench list)", pattern);
        return -1;
    }
    return n;
}

/* Plans a small problem to ask impl what it runs on. */
static void describe_impl(const atb_impl *impl, atb_op op, int n_threads, char *buf,
                          size_t len)
{
    snprintf(buf, len, "%s", impl->notes ? impl->notes : "");
    if (!impl->describe)
        return;
    atb_problem p;
    memset(&p, 0, sizeof(p));
    p.op = op;
    p.n_threads = n_threads;
    if (op == ATB_OP_ATTENTION) {
        atb_attention_shape a = {.batch = 1, .heads = 2, .kv_heads = 2, .q_len = 128,
                                 .kv_len = 128, .head_dim = 64, .scale = 0.125};
        p.attention = a;
    } else {
        atb_encoder_shape e = {.batch = 1, .seq_len = 64, .embed_dim = 128, .heads = 2,
                               .ffn_dim = 512, .activation = ATB_ACT_GELU,
                               .layer_norm_eps = 1e-5};
        p.encoder = e;
    }
    atb_tensors t;
    char err[256];
    if (atb_tensors_alloc(&t, &p, err, sizeof(err)) != ATB_OK)
        return;
    atb_tensors_fill_random(&t, 1);
    const atb_encoder_weights w = atb_tensors_weights(&t);
    void *plan = NULL;
    omp_set_num_threads(n_threads);
    if (impl->plan(&p, op == ATB_OP_ENCODER_LAYER ? &w : NULL, &plan, err, sizeof(err)) == ATB_OK) {
        impl->describe(plan, buf, len);
        if (impl->destroy)
            impl->destroy(plan);
    } else {
        impl->describe(NULL, buf, len);
    }
    atb_tensors_free(&t);
}

/* === Peak === */

typedef struct {
    double gflops[3][ATB_CLI_MAX_LIST]; /* [atb_peak_isa][thread index] */
    double bandwidth_gbps[ATB_CLI_MAX_LIST]; /* [thread index]; 0: not measured */
} peak_table;

static int measure_peaks(const bench_options *o, const atb_impl **impls, int n_impls,
                         peak_table *peaks)
{
    int needed[3] = {0, 0, 0};
    for (int k = 0; k < n_impls; k++)
        needed[atb_peak_isa_for_impl(impls[k]->isa_required)] = 1;

    const atb_peak_settings settings = {.n_repetitions = PEAK_REPETITIONS,
                                        .repetition_s = PEAK_REPETITION_S};
    for (int isa = 0; isa < 3; isa++) {
        if (!needed[isa])
            continue;
        for (int t = 0; t < o->threads.n; t++) {
            double gflops;
            if (o->n_peak_gflops > 0) {
                gflops = o->peak_gflops[o->n_peak_gflops == 1 ? 0 : t];
            } else if (o->gb_list_only) {
                gflops = 0.0;
            } else {
                atb_peak_result result;
                char err[256];
                if (atb_peak_flops((atb_peak_isa)isa, (int)o->threads.values[t], &settings,
                                   &result, err, sizeof(err)) != ATB_OK) {
                    fprintf(stderr, "attnbench: error: %s\n", err);
                    return -1;
                }
                gflops = result.best;
            }
            peaks->gflops[isa][t] = gflops;

            char key[96], value[64];
            snprintf(key, sizeof(key), "peak_gflops_%s_threads_%lld",
                     atb_peak_isa_name((atb_peak_isa)isa), (long long)o->threads.values[t]);
            snprintf(value, sizeof(value), "%.1f", gflops);
            atb_gb_add_context(key, value);
            if (!o->quiet && !o->gb_list_only)
                fprintf(stderr, "attnbench: %s peak on %lld thread(s): %.1f GFLOP/s%s\n",
                        atb_peak_isa_name((atb_peak_isa)isa), (long long)o->threads.values[t],
                        gflops, o->n_peak_gflops ? " (from --peak-gflops)" : "");
        }
    }
    char source[96];
    snprintf(source, sizeof(source), "measured at startup: f32 FMA loop, best of %d repetitions",
             PEAK_REPETITIONS);
    atb_gb_add_context("peak_source", o->n_peak_gflops ? "--peak-gflops" : source);
    return 0;
}

/* Measures the triad bandwidth of every thread count when a benchmark of
   the sweep is bandwidth-bound, so bandwidth_fraction compares it with a
   figure from the same run. The median repetition is the reference: on a
   shared machine the memory bandwidth varies from one moment to the next,
   the best repetition catches a moment when nothing else used it, and a
   benchmark's median is measured under typical conditions. A failure
   (say, no memory for the arrays) only leaves bandwidth_fraction out. */
static void measure_bandwidth(const bench_options *o, const atb_bench_shape *shapes,
                              int n_shapes, peak_table *peaks)
{
    int needed = 0;
    for (int s = 0; s < n_shapes; s++)
        needed |= atb_bench_is_bandwidth_bound(&shapes[s].problem);
    if (!needed || o->gb_list_only || o->n_peak_gflops > 0)
        return;

    const atb_peak_settings settings = {.n_repetitions = PEAK_REPETITIONS,
                                        .repetition_s = PEAK_REPETITION_S};
    const size_t array_bytes = atb_peak_triad_array_bytes();
    for (int t = 0; t < o->threads.n; t++) {
        atb_peak_result result;
        char err[256];
        if (atb_peak_triad((int)o->threads.values[t], array_bytes, &settings, &result, err,
                           sizeof(err)) != ATB_OK) {
            fprintf(stderr, "attnbench: warning: memory bandwidth not measured, so no "
                    "bandwidth_fraction: %s\n", err);
            return;
        }
        peaks->bandwidth_gbps[t] = result.median;

        char key[96], value[64];
        snprintf(key, sizeof(key), "bandwidth_gbps_threads_%lld",
                 (long long)o->threads.values[t]);
        snprintf(value, sizeof(value), "%.1f", result.median);
        atb_gb_add_context(key, value);
        snprintf(key, sizeof(key), "bandwidth_best_gbps_threads_%lld",
                 (long long)o->threads.values[t]);
        snprintf(value, sizeof(value), "%.1f", result.best);
        atb_gb_add_context(key, value);
        if (!o->quiet)
            fprintf(stderr, "attnbench: memory bandwidth on %lld thread(s): %.1f GB/s median, "
                    "%.1f best\n", (long long)o->threads.values[t], result.median, result.best);
    }
    char source[160];
    snprintf(source, sizeof(source), "measured at startup: triad a = b + s*c on 3 arrays of "
             "%zu MiB, median of %d repetitions (best in bandwidth_best_gbps_threads_N)",
             array_bytes >> 20, PEAK_REPETITIONS);
    atb_gb_add_context("bandwidth_source", source);
}

/* === Signals === */

static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
    if (g_signal) {
        const char *temp = atb_gb_temp_path();
        if (temp[0])
            unlink(temp);
        _exit(128 + sig);
    }
    g_signal = sig;
    atb_gb_request_stop();
    static const char msg[] = "\nattnbench: stopping after the current benchmark; "
                              "interrupt again to quit at once\n";
    const ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)ignored;
}

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Creates and removes a file beside path, so an unwritable --out fails
   before anything is measured. */
static int check_writable(const char *path, char *err, size_t err_len)
{
    /* The file is replaced by a rename, which fails on a directory. */
    struct stat info;
    if (stat(path, &info) == 0 && S_ISDIR(info.st_mode)) {
        snprintf(err, err_len, "cannot write results file '%s': it is a directory", path);
        return -1;
    }
    char probe[4096];
    snprintf(probe, sizeof(probe), "%s.probe-%ld", path, (long)getpid());
    FILE *f = fopen(probe, "w");
    if (!f) {
        snprintf(err, err_len, "cannot write results file '%s': cannot create files in its "
                 "directory", path);
        return -1;
    }
    fclose(f);
    remove(probe);
    return 0;
}

/* === The command === */

/* Builds one configuration per (shape, thread count, implementation). */
static atb_bench_config *build_configs(const bench_options *o, const atb_bench_shape *shapes,
                                       int n_shapes, const atb_impl **impls, int n_impls,
                                       const peak_table *peaks, int *n_configs)
{
    const size_t max = (size_t)n_shapes * (size_t)o->threads.n * (size_t)n_impls;
    atb_bench_config *configs = calloc(max + 1, sizeof(*configs));
    if (!configs)
        return NULL;
    int n = 0;
    for (int s = 0; s < n_shapes; s++)
        for (int t = 0; t < o->threads.n; t++)
            for (int k = 0; k < n_impls; k++) {
                if (!(impls[k]->ops & (1u << shapes[s].problem.op)))
                    continue;
                atb_bench_config *c = &configs[n++];
                c->problem = shapes[s].problem;
                c->problem.n_threads = (int)o->threads.values[t];
                c->impl = impls[k];
                c->shape_id = s;
                c->flops = shapes[s].flops;
                c->peak_gflops = peaks->gflops[atb_peak_isa_for_impl(impls[k]->isa_required)][t];
                c->bandwidth_gbps = peaks->bandwidth_gbps[t];
                atb_bench_name(&c->problem, impls[k]->name, c->name, sizeof(c->name));
            }
    *n_configs = n;
    return configs;
}

/* Nonzero (with a message) when --benchmark_filter leaves none of the
   sweep's benchmarks, which would otherwise run nothing and exit 0. It is
   checked before the peaks are measured, with their values not needed. */
static int filter_selects_nothing(const bench_options *o, const atb_bench_shape *shapes,
                                  int n_shapes, const atb_impl **impls, int n_impls, char *err,
                                  size_t err_len)
{
    peak_table no_peaks;
    memset(&no_peaks, 0, sizeof(no_peaks));
    int n_configs = 0, n_selected = 0;
    atb_bench_config *configs =
        build_configs(o, shapes, n_shapes, impls, n_impls, &no_peaks, &n_configs);
    if (!configs)
        return 0; /* out of memory: the real build below reports it */
    for (int k = 0; k < n_configs; k++)
        n_selected += atb_gb_filter_matches(configs[k].name);
    free(configs);
    if (n_configs == 0 || n_selected > 0)
        return 0;
    snprintf(err, err_len, "--benchmark_filter matches none of the %d benchmarks of this sweep "
             "(--benchmark_list_tests without the filter lists their names)", n_configs);
    return 1;
}

static void add_sweep_context(const bench_options *o, const atb_bench_preset *preset,
                              double budget_s, double min_time_s, const atb_impl **impls,
                              int n_impls)
{
    char buf[512];
    atb_gb_add_context("bench_preset", atb_bench_overrides_any(&o->overrides)
                                           ? "custom (options over the preset's first grids)"
                                           : preset->name);
    snprintf(buf, sizeof(buf), "%g", budget_s);
    atb_gb_add_context("bench_budget_seconds", buf);
    snprintf(buf, sizeof(buf), "%g", min_time_s);
    atb_gb_add_context("bench_min_time_seconds", buf);
    snprintf(buf, sizeof(buf), "%lld", (long long)o->seed);
    atb_gb_add_context("bench_seed", buf);
    atb_gb_add_context("bench_inputs", o->denormal_inputs ? "denormal" : "normal");
    size_t len = 0;
    buf[0] = '\0';
    for (int t = 0; t < o->threads.n && len < sizeof(buf); t++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%lld", t ? "," : "",
                                (long long)o->threads.values[t]);
    atb_gb_add_context("bench_threads", buf);

    for (int k = 0; k < n_impls; k++) {
        char desc[256], key[128];
        const atb_op op = (impls[k]->ops & ATB_OPS_ATTENTION) && o->do_attention
                              ? ATB_OP_ATTENTION : ATB_OP_ENCODER_LAYER;
        describe_impl(impls[k], op, (int)o->threads.values[0], desc, sizeof(desc));
        snprintf(key, sizeof(key), "impl.%s", impls[k]->name);
        snprintf(buf, sizeof(buf), "%s; peak_fraction against the %s peak", desc,
                 atb_peak_isa_name(atb_peak_isa_for_impl(impls[k]->isa_required)));
        atb_gb_add_context(key, buf);
    }
}

int atb_cmd_bench(int argc, char **argv)
{
    char err[512];
    bench_options o;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help();
            return 0;
        }
    const int plugin_status = atb_plugin_take_options(&argc, argv, "bench");
    if (plugin_status != 0)
        return plugin_status;
    if (parse_args(&o, argc, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "attnbench: error: %s\n%s", err, usage_text);
        free(o.gb_argv);
        return 2;
    }

    int status = 2;
    atb_bench_shape *shapes = NULL;
    atb_bench_config *configs = NULL;
    atb_bench_session *session = NULL;
    const atb_impl *impls[MAX_IMPLS];
    const atb_bench_preset *preset = atb_bench_find_preset(o.preset_name);

    register_faulty_impls();
    const int n_impls = select_impls(&o, impls, err, sizeof(err));
    if (n_impls < 0)
        goto misuse;
    if (n_impls == 0) {
        snprintf(err, sizeof(err), "no implementation selected by --impl runs the selected "
                 "operations on this CPU");
        goto misuse;
    }
    const int n_shapes = atb_bench_expand(preset, &o.overrides, o.do_attention, o.do_encoder,
                                          MAX_SHAPES, &shapes, err, sizeof(err));
    if (n_shapes < 0)
        goto misuse;
    if (n_shapes == 0) {
        snprintf(err, sizeof(err), "the options leave no valid shape (for example, --heads "
                 "must be a multiple of --kv-heads)");
        goto misuse;
    }
    /* An operation whose every shape is invalid would vanish from the run
       without a word, while the other one runs. */
    int n_attention = 0;
    for (int s = 0; s < n_shapes; s++)
        n_attention += shapes[s].problem.op == ATB_OP_ATTENTION;
    if (o.do_attention && n_attention == 0) {
        snprintf(err, sizeof(err), "the options leave no valid attention shape: --heads must be "
                 "a multiple of --kv-heads");
        goto misuse;
    }
    if (o.do_encoder && n_attention == n_shapes) {
        snprintf(err, sizeof(err), "the options leave no valid encoder_layer shape, so only "
                 "attention could run; --op attention says so explicitly");
        goto misuse;
    }
    if (atb_gb_initialize(&o.gb_argc, o.gb_argv, err, sizeof(err)) != ATB_OK)
        goto misuse;
    if (filter_selects_nothing(&o, shapes, n_shapes, impls, n_impls, err, sizeof(err)))
        goto misuse;

    status = 1;
    if (o.out_path && check_writable(o.out_path, err, sizeof(err)) != 0)
        goto fail;

    const double budget_s = o.budget_s > 0 ? o.budget_s : preset->budget_s;
    const double min_time_s = o.min_time_s > 0 ? o.min_time_s : preset->min_time_s;

    /* From here on a signal stops the run cleanly: during the peak
       measurement it leaves a results file with the context only. */
    install_signal_handlers();
    atb_bench_add_build_context();
    if (!o.gb_list_only)
        atb_bench_warn_environment(o.threads.values, o.threads.n);
    peak_table peaks;
    memset(&peaks, 0, sizeof(peaks));
    if (measure_peaks(&o, impls, n_impls, &peaks) != 0)
        goto done;
    measure_bandwidth(&o, shapes, n_shapes, &peaks);
    add_sweep_context(&o, preset, budget_s, min_time_s, impls, n_impls);

    int n_configs = 0;
    configs = build_configs(&o, shapes, n_shapes, impls, n_impls, &peaks, &n_configs);
    if (configs) {
        /* Only what --benchmark_filter selects counts for progress. */
        int n_kept = 0;
        for (int k = 0; k < n_configs; k++)
            if (atb_gb_filter_matches(configs[k].name))
                configs[n_kept++] = configs[k];
        n_configs = n_kept;
    }
    const atb_bench_settings settings = {
        .budget_s = budget_s,
        .min_time_s = o.gb_min_time_s > 0 ? o.gb_min_time_s : min_time_s,
        .n_repetitions = o.gb_repetitions,
        .seed = (uint64_t)o.seed,
        .denormal_inputs = o.denormal_inputs,
        .progress = !o.quiet,
    };
    session = configs ? atb_bench_session_create(configs, n_configs, &settings) : NULL;
    if (!session) {
        snprintf(err, sizeof(err), "out of memory while planning %d benchmarks", n_configs);
        goto fail;
    }

    const atb_gb_options gb_options = {
        .min_time_s = o.gb_min_time_s > 0 ? 0.0 : min_time_s,
        .use_real_time = 1,
        .measure_process_cpu_time = 1,
        .time_unit = o.gb_time_unit_given ? ATB_GB_UNIT_DEFAULT : ATB_GB_UNIT_MILLISECOND,
    };
    if (atb_bench_register_all(session, &gb_options, err, sizeof(err)) != ATB_OK)
        goto fail;

    const atb_gb_run_config run = {.out_path = o.out_path, .on_result = atb_bench_on_result,
                                   .user = session};
    size_t n_matched = 0;
    if (atb_gb_run(&run, &n_matched, err, sizeof(err)) != ATB_OK)
        goto fail;

    const atb_bench_counts counts = atb_bench_session_counts(session);
    if (!o.gb_list_only)
        fprintf(stderr, "attnbench: %d timed, %d skipped, %d wrong, %d failed, %d noisy%s%s\n",
                counts.n_timed, counts.n_skipped, counts.n_wrong, counts.n_failed,
                counts.n_noisy, o.out_path ? "; results in " : "", o.out_path ? o.out_path : "");
    if (counts.n_noisy && o.gb_repetitions < 2)
        fprintf(stderr, "attnbench: note: %d benchmarks varied by more than 5%% across "
                "iterations; --benchmark_repetitions=5 measures the spread between runs\n",
                counts.n_noisy);
    if (counts.n_above_peak)
        fprintf(stderr, "attnbench: warning: %d benchmarks ran faster than the FMA peak they "
                "are compared with, so that peak is too low and their peak_fraction too high; "
                "re-run on a quiet machine\n", counts.n_above_peak);
    if (g_signal) {
        fprintf(stderr, "attnbench: stopped by signal %d; the results file contains every "
                "finished benchmark\n", (int)g_signal);
        status = 128 + g_signal;
    } else {
        status = counts.n_wrong || counts.n_failed ? 1 : 0;
    }
    goto done;

misuse:
    fprintf(stderr, "attnbench: error: %s\n%s", err, usage_text);
    status = 2;
    goto done;
fail:
    fprintf(stderr, "attnbench: error: %s\n", err);
    status = 1;
done:
    atb_bench_session_destroy(session);
    free(configs);
    free(shapes);
    free(o.gb_argv);
    return status;
}
