/*
 * Reader for golden-vector files (HDF5, format "attnbench-golden" version 1,
 * documented in vectors/FORMAT.md). Every attribute's and dataset's type
 * class, size and shape is validated before any data is read, so a hostile
 * or broken file yields an error naming the file, the case and the field.
 */
#ifndef ATB_GOLDEN_READ_H
#define ATB_GOLDEN_READ_H

#include "harness/problem.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ATB_GOLDEN_FORMAT "attnbench-golden"
#define ATB_GOLDEN_FORMAT_VERSION 1
#define ATB_CASE_NAME_MAX 128

typedef struct {
    char name[ATB_CASE_NAME_MAX];
    char description[256];
    int64_t seed;
    atb_tensors tensors;
    double *expected; /* the output, atb_problem_output_count() elements */
} atb_golden_case;

typedef struct atb_golden_file atb_golden_file;

/* Opens a file and validates its root attributes. On failure *file is NULL
   and err says why (not HDF5, truncated, unknown format, newer version). */
atb_status atb_golden_open(const char *path, atb_golden_file **file, char *err, size_t err_len);
/* Opens a golden file from a complete HDF5 file image in memory (HDF5's
   core driver; the bytes are copied, nothing touches the disk). label
   stands for the path in messages. Validation is as for atb_golden_open. */
atb_status atb_golden_open_image(const void *data, size_t size, const char *label,
                                 atb_golden_file **file, char *err, size_t err_len);
size_t atb_golden_count(const atb_golden_file *file);
const char *atb_golden_case_name(const atb_golden_file *file, size_t index);
const char *atb_golden_path(const atb_golden_file *file);

/* Reads and validates one case. memory_budget_bytes bounds the bytes the
   case may allocate; larger cases are rejected before any allocation. On
   failure the case is left empty and err names the file, case and field. */
atb_status atb_golden_load(atb_golden_file *file, size_t index, size_t memory_budget_bytes,
                           atb_golden_case *out, char *err, size_t err_len);
void atb_golden_case_free(atb_golden_case *c);
void atb_golden_close(atb_golden_file *file);

#ifdef __cplusplus
}
#endif

#endif /* ATB_GOLDEN_READ_H */
