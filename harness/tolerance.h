/*
 * Conformance comparison of an f32 output against the f64 expected values,
 * with the error bound documented in docs/accuracy.md.
 */
#ifndef ATB_TOLERANCE_H
#define ATB_TOLERANCE_H

#include "harness/problem.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t index;   /* flat index into the output */
    double expected;
    double got;
    double bound;    /* allowed absolute error at this element */
} atb_mismatch;

#define ATB_MAX_MISMATCHES 5

typedef struct {
    int pass;
    double max_abs_error;
    double max_rel_error;
    double nmse;             /* sum (got - expected)^2 / sum expected^2 over finite elements */
    double budget_used;      /* max over elements of |error| / bound; <= 1 passes */
    int64_t n_checked;
    int64_t n_nonfinite_mismatch;
    int n_mismatches;        /* stored in first[], at most ATB_MAX_MISMATCHES */
    int64_t n_failed;        /* elements over their bound or with a non-finite mismatch */
    atb_mismatch first[ATB_MAX_MISMATCHES];
} atb_compare_result;

/* Compares got (the full output) against expected for the rows listed.
   A row is one output vector, flat index (b * H + h) * Lq + i for attention
   and b * L + i for the layer. With rows == NULL every row is compared and
   expected is the full output; otherwise expected holds the n_rows rows
   packed in the order of rows[]. Bounds are computed from the inputs in t. */
atb_status atb_compare(const atb_tensors *t, const double *expected, const float *got,
                       int64_t n_rows, const int64_t *rows, atb_compare_result *result,
                       char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* ATB_TOLERANCE_H */
