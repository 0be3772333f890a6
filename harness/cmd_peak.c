/*
 * attnbench peak: the measured f32 FMA peak per ISA (one thread and all
 * threads by default) and the memory bandwidth of this machine, as a table
 * or as JSON (--json).
 */
#include "harness/bench_env.h"
#include "harness/cli.h"
#include "harness/commands.h"
#include "harness/peak.h"
#include "harness/registry.h"

#include <stdio.h>
#include <string.h>

static const char usage_text[] =
    "usage: attnbench peak [--threads LIST] [--repetitions N] [--no-bandwidth] [--json]\n";

typedef struct {
    atb_peak_isa isa;
    atb_peak_result result;
} flops_row;

static void print_help(void)
{
    fputs(usage_text, stdout);
    fputs("\n"
          "Measures the f32 multiply-add peak of each ISA this CPU runs (avx512, avx2, and\n"
          "the baseline sse2 loop) and the memory bandwidth of a triad a = b + s*c on\n"
          "arrays far larger than the last-level cache. Each figure is the best of N\n"
          "repetitions after a warm-up.\n\n"
          "  --threads LIST     thread counts ('all' = CPUs available; default 1,all)\n"
          "  --repetitions N    timed repetitions per figure (default 7)\n"
          "  --no-bandwidth     skip the bandwidth measurement\n"
          "  --json             print JSON instead of a table\n", stdout);
}

int atb_cmd_peak(int argc, char **argv)
{
    char err[256];
    atb_int_list threads = {.n = 0};
    int64_t repetitions = 7;
    int json = 0, bandwidth = 1;
    const int cpus = atb_bench_cpu_count();

    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int m;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help();
            return 0;
        }
        if ((m = atb_cli_option(argc, argv, &i, "--threads", &v, err, sizeof(err))) != 0) {
            if (m < 0 || atb_cli_parse_int_list("--threads", v, 1, 4096, cpus, &threads, err,
                                                sizeof(err)) != 0)
                goto misuse;
        } else if ((m = atb_cli_option(argc, argv, &i, "--repetitions", &v, err,
                                       sizeof(err))) != 0) {
            if (m < 0 || atb_cli_parse_int("--repetitions", v, 1, 64, &repetitions, err,
                                           sizeof(err)) != 0)
                goto misuse;
        } else if ((m = atb_cli_flag(argv, i, "--json", err, sizeof(err))) != 0) {
            if (m < 0)
                goto misuse;
            json = 1;
        } else if ((m = atb_cli_flag(argv, i, "--no-bandwidth", err, sizeof(err))) != 0) {
            if (m < 0)
                goto misuse;
            bandwidth = 0;
        } else {
            snprintf(err, sizeof(err), "unknown option '%s'", argv[i]);
            goto misuse;
        }
    }
    if (threads.n == 0) {
        threads.values[threads.n++] = 1;
        if (cpus > 1)
            threads.values[threads.n++] = cpus;
    }

    /* FMA peaks, widest ISA first; the baseline loop is always measured. */
    const atb_peak_settings settings = {.n_repetitions = (int)repetitions, .repetition_s = 0.05};
    flops_row rows[3 * ATB_CLI_MAX_LIST];
    int n_rows = 0;
    const atb_peak_isa isas[] = {ATB_PEAK_AVX512, ATB_PEAK_AVX2, ATB_PEAK_SSE2};
    /* Each thread's rate is its FLOPs over its own CPU time, and the peak
       is their sum, so threads beyond the CPUs add rate no core delivers. */
    for (int t = 0; t < threads.n; t++)
        if (threads.values[t] > cpus)
            fprintf(stderr, "attnbench: warning: %lld threads on %d CPUs: the peak adds up "
                    "per-thread rates measured in CPU time, so it overstates what %d CPUs "
                    "deliver\n", (long long)threads.values[t], cpus, cpus);

    const unsigned cpu = atb_cpu_isa();
    for (int k = 0; k < 3; k++) {
        if ((isas[k] == ATB_PEAK_AVX512 && !(cpu & ATB_ISA_AVX512))
            || (isas[k] == ATB_PEAK_AVX2 && !(cpu & ATB_ISA_AVX2)))
            continue;
        for (int t = 0; t < threads.n; t++) {
            rows[n_rows].isa = isas[k];
            if (atb_peak_flops(isas[k], (int)threads.values[t], &settings, &rows[n_rows].result,
                               err, sizeof(err)) != ATB_OK) {
                fprintf(stderr, "attnbench: error: %s\n", err);
                return 1;
            }
            n_rows++;
        }
    }

    atb_peak_result bw[ATB_CLI_MAX_LIST];
    const size_t array_bytes = atb_peak_triad_array_bytes();
    if (bandwidth)
        for (int t = 0; t < threads.n; t++)
            if (atb_peak_triad((int)threads.values[t], array_bytes, &settings, &bw[t], err,
                               sizeof(err)) != ATB_OK) {
                fprintf(stderr, "attnbench: error: %s\n", err);
                return 1;
            }

    if (json) {
        printf("{\n  \"cpu_model\": \"%s\",\n  \"cpu_isa\": \"%s\",\n  \"cpus_available\": %d,\n"
               "  \"repetitions\": %d,\n  \"fma\": [\n", atb_cpu_model(),
               atb_isa_name(cpu), cpus, (int)repetitions);
        for (int r = 0; r < n_rows; r++)
            printf("    {\"isa\": \"%s\", \"threads\": %d, \"gflops\": %.2f, "
                   "\"median_gflops\": %.2f, \"worst_gflops\": %.2f}%s\n",
                   atb_peak_isa_name(rows[r].isa), rows[r].result.n_threads, rows[r].result.best,
                   rows[r].result.median, rows[r].result.worst, r + 1 < n_rows ? "," : "");
        if (bandwidth)
            printf("  ],\n  \"bandwidth_array_bytes\": %zu,\n  \"bandwidth\": [\n",
                   array_bytes);
        else
            printf("  ],\n  \"bandwidth\": [\n");
        for (int t = 0; bandwidth && t < threads.n; t++)
            printf("    {\"threads\": %d, \"gbps\": %.2f, \"median_gbps\": %.2f, "
                   "\"worst_gbps\": %.2f}%s\n", bw[t].n_threads, bw[t].best, bw[t].median,
                   bw[t].worst, t + 1 < threads.n ? "," : "");
        printf("  ]\n}\n");
        return 0;
    }

    printf("CPU: %s (ISA %s, %d CPUs available)\n", atb_cpu_model(), atb_isa_name(cpu), cpus);
    printf("f32 multiply-add peak, best / median / worst of %d repetitions:\n",
           (int)repetitions);
    printf("  %-8s %7s %10s %10s %10s\n", "ISA", "threads", "GFLOP/s", "median", "worst");
    for (int r = 0; r < n_rows; r++)
        printf("  %-8s %7d %10.1f %10.1f %10.1f\n", atb_peak_isa_name(rows[r].isa),
               rows[r].result.n_threads, rows[r].result.best, rows[r].result.median,
               rows[r].result.worst);
    if (bandwidth) {
        printf("memory bandwidth, triad a = b + s*c on 3 arrays of %zu MiB (doubles):\n",
               array_bytes >> 20);
        printf("  %7s %10s %10s %10s\n", "threads", "GB/s", "median", "worst");
        for (int t = 0; t < threads.n; t++)
            printf("  %7d %10.1f %10.1f %10.1f\n", bw[t].n_threads, bw[t].best, bw[t].median,
                   bw[t].worst);
    }
    return 0;

misuse:
    fprintf(stderr, "attnbench: error: %s\n%s", err, usage_text);
    return 2;
}
