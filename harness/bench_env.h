/*
 * The context entries `attnbench bench` records about the machine and the
 * software in the results file, and its warnings about an environment that
 * makes measurements unreliable (oversubscribed threads, conflicting
 * thread variables, CPU frequency scaling, a debug build, a busy machine).
 */
#ifndef ATB_BENCH_ENV_H
#define ATB_BENCH_ENV_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Logical CPUs this process may run on (its affinity mask). */
int atb_bench_cpu_count(void);

/* Adds the context entries that do not depend on the sweep: attnbench's
   version, build type, compiler and flags; the CPU model and ISA; the
   versions of OpenBLAS (with its core name and threading), oneDNN, HDF5
   and Google Benchmark. */
void atb_bench_add_build_context(void);

/* Prints a warning on stderr for each problem found with the thread counts
   about to be used; returns how many were printed. */
int atb_bench_warn_environment(const int64_t *thread_counts, int n_thread_counts);

#ifdef __cplusplus
}
#endif

#endif /* ATB_BENCH_ENV_H */
