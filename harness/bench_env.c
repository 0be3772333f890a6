/*
 * Context entries and environment warnings for `attnbench bench`; see
 * bench_env.h. OpenBLAS's query functions are declared here rather than
 * through cblas.h so that this file does not depend on which OpenBLAS
 * variant's include directory is first.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "harness/bench_env.h"

#include "harness/gbench/gbench.h"
#include "harness/registry.h"

#include <hdf5.h>
#ifdef ATB_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *openblas_get_config(void);
char *openblas_get_corename(void);
int openblas_get_parallel(void);

int atb_bench_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    return 1;
}

static const char *openblas_threading(void)
{
    switch (openblas_get_parallel()) {
    case 0: return "sequential";
    case 1: return "pthreads";
    case 2: return "OpenMP";
    }
    return "unknown";
}

void atb_bench_add_build_context(void)
{
    char buf[256];

    atb_gb_add_context("attnbench_version", ATB_VERSION);
    atb_gb_add_context("attnbench_build_type", ATB_BUILD_TYPE);
    atb_gb_add_context("attnbench_compiler", ATB_C_COMPILER);
    atb_gb_add_context("attnbench_c_flags", ATB_C_FLAGS);

    atb_gb_add_context("cpu_model", atb_cpu_model());
    atb_gb_add_context("cpu_isa_detected", atb_isa_name(atb_cpu_isa_detected()));
    atb_gb_add_context("cpu_isa_used", atb_isa_name(atb_cpu_isa()));
    const char *cap = getenv("ATTNBENCH_MAX_ISA");
    atb_gb_add_context("attnbench_max_isa", cap && *cap ? cap : "(not set)");
    snprintf(buf, sizeof(buf), "%d", atb_bench_cpu_count());
    atb_gb_add_context("cpus_available", buf);

    atb_gb_add_context("openblas_version", openblas_get_config());
    atb_gb_add_context("openblas_corename", openblas_get_corename());
    atb_gb_add_context("openblas_threading", openblas_threading());

#ifdef ATB_HAVE_ONEDNN
    const dnnl_version_t *dv = dnnl_version();
    snprintf(buf, sizeof(buf), "%d.%d.%d (git %s)", dv->major, dv->minor, dv->patch, dv->hash);
    atb_gb_add_context("onednn_version", buf);
#else
    atb_gb_add_context("onednn_version", "not built into this attnbench");
#endif

    unsigned major = 0, minor = 0, release = 0;
    H5get_libversion(&major, &minor, &release);
    snprintf(buf, sizeof(buf), "%u.%u.%u", major, minor, release);
    atb_gb_add_context("hdf5_version", buf);

    atb_gb_add_context("benchmark_version", atb_gb_version());
}

/* Reads the first line of a file into buf; returns 0 on success. */
static int read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    const int ok = fgets(buf, (int)len, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

static int warn_thread_variables(const int64_t *threads, int n)
{
    int n_warnings = 0;
    const char *vars[] = {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"};
    for (int v = 0; v < 2; v++) {
        const char *value = getenv(vars[v]);
        if (!value || !*value)
            continue;
        const long set = strtol(value, NULL, 10);
        for (int k = 0; k < n; k++)
            if (threads[k] != set) {
                fprintf(stderr, "attnbench: warning: %s=%s differs from the thread count %lld "
                        "being measured; attnbench sets OpenMP, OpenBLAS and oneDNN to the "
                        "measured count, but unset %s to be sure no library uses its value\n",
                        vars[v], value, (long long)threads[k], vars[v]);
                n_warnings++;
                break;
            }
    }

    /* Binding variables pin threads to places; with other processes pinned
       the same way, runs can share cores. */
    const char *binding[] = {"OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY"};
    for (int v = 0; v < 3; v++) {
        const char *value = getenv(binding[v]);
        if (value && *value) {
            fprintf(stderr, "attnbench: warning: %s=%s is set; thread binding changes how "
                    "threads share cores, so compare only runs made with the same setting\n",
                    binding[v], value);
            n_warnings++;
        }
    }
    const char *dynamic = getenv("OMP_DYNAMIC");
    if (dynamic && (strcmp(dynamic, "true") == 0 || strcmp(dynamic, "TRUE") == 0)) {
        fprintf(stderr, "attnbench: warning: OMP_DYNAMIC=%s lets OpenMP run fewer threads than "
                "requested; unset it for meaningful thread counts\n", dynamic);
        n_warnings++;
    }
    return n_warnings;
}

int atb_bench_warn_environment(const int64_t *threads, int n)
{
    int n_warnings = warn_thread_variables(threads, n);

    const int cpus = atb_bench_cpu_count();
    for (int k = 0; k < n; k++)
        if (threads[k] > cpus) {
            fprintf(stderr, "attnbench: warning: %lld threads oversubscribe the %d CPUs this "
                    "process may use; those results measure time sharing, not the code\n",
                    (long long)threads[k], cpus);
            n_warnings++;
        }

    if (openblas_get_parallel() == 1) {
        fprintf(stderr, "attnbench: warning: OpenBLAS uses its own pthreads pool next to "
                "OpenMP; mixing the two pools can slow both down (install the OpenMP build "
                "of OpenBLAS)\n");
        n_warnings++;
    }

    if (strcmp(ATB_BUILD_TYPE, "Release") != 0 && strcmp(ATB_BUILD_TYPE, "RelWithDebInfo") != 0) {
        fprintf(stderr, "attnbench: warning: attnbench was built as '%s'; timings of a "
                "non-release build are not representative\n", ATB_BUILD_TYPE);
        n_warnings++;
    }

    char governor[64];
    if (read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", governor,
                  sizeof(governor)) == 0
        && strcmp(governor, "performance") != 0) {
        fprintf(stderr, "attnbench: warning: CPU frequency scaling is enabled (governor '%s'); "
                "real time measurements may be noisy\n", governor);
        n_warnings++;
    }

    char loadavg[128];
    double load1 = 0.0;
    if (read_line("/proc/loadavg", loadavg, sizeof(loadavg)) == 0
        && sscanf(loadavg, "%lf", &load1) == 1 && load1 > 0.5 * cpus) {
        fprintf(stderr, "attnbench: warning: the machine is busy (load average %.2f on %d "
                "CPUs); measurements will be noisy and below what the code can reach\n",
                load1, cpus);
        n_warnings++;
    }
    return n_warnings;
}
