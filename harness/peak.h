/*
 * Measured machine limits: the f32 multiply-add peak per ISA and thread
 * count, and memory bandwidth (a STREAM-style triad on arrays far larger
 * than the last-level cache). `attnbench peak` prints them, and the bench
 * uses the FMA peak as the denominator of peak_fraction.
 *
 * Each figure is the best of several timed repetitions after a discarded
 * warm-up repetition, so that a busy machine lowers the result as little as
 * possible. The FMA peak divides each thread's FLOPs by that thread's CPU
 * time, so time slices taken by other processes do not count; bandwidth
 * is timed by the wall clock, because memory is shared anyway. Threads
 * come from OpenMP (num_threads on the parallel region).
 */
#ifndef ATB_PEAK_H
#define ATB_PEAK_H

#include "attnbench/impl.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The multiply-add loops the peak can be measured with. */
typedef enum {
    ATB_PEAK_SSE2 = 0,   /* baseline x86-64: separate mulps and addps */
    ATB_PEAK_AVX2 = 1,   /* 256-bit FMA */
    ATB_PEAK_AVX512 = 2  /* 512-bit FMA */
} atb_peak_isa;

/* "sse2", "avx2" or "avx512". */
const char *atb_peak_isa_name(atb_peak_isa isa);

/* The widest loop the (possibly capped) CPU ISA allows. */
atb_peak_isa atb_peak_best_isa(void);

/* The peak an implementation is compared against: the loop of the highest
   ISA bit the implementation requires, or the best loop this CPU runs when
   it requires none (library and portable implementations). */
atb_peak_isa atb_peak_isa_for_impl(unsigned isa_required);

typedef struct {
    int n_repetitions;     /* timed repetitions, after one warm-up */
    double repetition_s;   /* target length of one repetition */
} atb_peak_settings;

typedef struct {
    int n_threads;         /* threads that actually ran */
    double best;           /* GFLOP/s or GB/s: the best repetition */
    double median;
    double worst;
} atb_peak_result;

/* The f32 multiply-add peak in GFLOP/s on n_threads threads. Returns
   ATB_ERR_UNSUPPORTED when the CPU (or ATTNBENCH_MAX_ISA) lacks the ISA. */
atb_status atb_peak_flops(atb_peak_isa isa, int n_threads, const atb_peak_settings *settings,
                          atb_peak_result *result, char *err, size_t err_len);

/* Bytes of each of the three triad arrays: four times the last-level cache
   as the C library reports it, within 64 MiB to 256 MiB. */
size_t atb_peak_triad_array_bytes(void);

/* Memory bandwidth in GB/s (1e9 bytes per second) of a[i] = b[i] + s * c[i]
   on doubles, counting 3 x array_bytes per pass as STREAM does (the
   write-allocate read of a is not counted). Returns ATB_ERR_NOMEM when the
   arrays cannot be allocated. */
atb_status atb_peak_triad(int n_threads, size_t array_bytes, const atb_peak_settings *settings,
                          atb_peak_result *result, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* ATB_PEAK_H */
