/*
 * The committed golden-vector suites: a table of named cases per operation,
 * the inputs of each built from a SplitMix64 stream seeded by the case
 * name, and the expected outputs from the float64 reference. Any machine
 * builds the same inputs and, up to the last bit of libm, the same outputs.
 */
#ifndef ATB_SUITES_H
#define ATB_SUITES_H

#include "harness/problem.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *name;
    const char *description;
    uint64_t seed; /* derived from the name, below 2^63 */
} atb_suite_case_info;

/* Number of cases in the suite of op. */
size_t atb_suite_count(atb_op op);

/* Allocates t and fills it with the inputs of case index of the suite of op;
   info receives the name, description and seed. Free t with
   atb_tensors_free(). */
atb_status atb_suite_build(atb_op op, size_t index, atb_suite_case_info *info, atb_tensors *t,
                           char *err, size_t err_len);

/* Builds every case of the suite of op, computes its expected output with
   the float64 reference and writes the file at path. Prints one progress
   line per case to stderr. */
atb_status atb_suite_write(atb_op op, const char *path, const char *generator, char *err,
                           size_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* ATB_SUITES_H */
