/*
 * Writer of golden-vector files (HDF5, format version 1): one group per
 * case holding its attributes, its inputs and the f64 expected output.
 * vectors/FORMAT.md documents the layout for people who write their own.
 *
 * The output is byte-reproducible: object modification times are not
 * stored, and the same cases written in the same order give the same file.
 */
#ifndef ATB_GOLDEN_WRITE_H
#define ATB_GOLDEN_WRITE_H

#include "harness/problem.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct atb_golden_writer atb_golden_writer;

/* Creates (truncates) the file at path and writes the root attributes
   format, format_version and generator. */
atb_status atb_golden_writer_create(const char *path, const char *generator, atb_golden_writer **out,
                             char *err, size_t err_len);

/* Writes one case: the group name (letters, digits, '_', '.', '-'), its
   attributes from t->problem, the inputs in t, and expected, which contains
   atb_problem_output_count() doubles. */
atb_status atb_golden_writer_add_case(atb_golden_writer *w, const char *name,
                                 const char *description, uint64_t seed, const atb_tensors *t,
                                 const double *expected, char *err, size_t err_len);

/* Closes the file; returns ATB_ERR_IO when HDF5 failed to flush it. Frees
   w in every case. */
atb_status atb_golden_writer_close(atb_golden_writer *w, char *err, size_t err_len);

/* Returns 1 when name is a legal case name. */
int atb_golden_name_valid(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* ATB_GOLDEN_WRITE_H */
