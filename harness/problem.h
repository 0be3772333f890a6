/*
 * A problem instance: the shape, the input tensors and the weights, owned in
 * one place. Golden files load into it; the bench fills it with random data.
 */
#ifndef ATB_PROBLEM_H
#define ATB_PROBLEM_H

#include "attnbench/impl.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    atb_problem problem;
    float *q, *k, *v;           /* attention inputs */
    float *x;                   /* encoder_layer input */
    int32_t *kv_valid_len;      /* NULL unless problem.*.has_kv_valid_len */
    float *weights[12];         /* encoder_layer weights, in atb_encoder_weights order */
} atb_tensors;

/* Element counts of each input and of the output, with overflow checks.
   Returns ATB_ERR_INVALID (and the field in err) for a shape outside the
   operation's limits, ATB_ERR_NOMEM when a count overflows. */
atb_status atb_problem_validate(const atb_problem *problem, char *err, size_t err_len);
size_t atb_problem_output_count(const atb_problem *problem);
/* Bytes of inputs, weights and output together. */
size_t atb_problem_bytes(const atb_problem *problem);
/* FLOPs by the convention: 4*D*P for attention, projections + 4*Dh*P + FFN
   for the layer, where P counts allowed (b, h, i, j) tuples. */
double atb_problem_flops(const atb_problem *problem, const int32_t *kv_valid_len);

/* Keys 0 .. n-1 are allowed for query row i, given the row's valid length;
   returns n. */
int64_t atb_attention_allowed_keys(const atb_attention_shape *shape, int64_t valid, int64_t i);

/* Allocates zeroed tensors for the problem. */
atb_status atb_tensors_alloc(atb_tensors *t, const atb_problem *problem, char *err,
                             size_t err_len);
/* Fills inputs and weights from a seeded generator: inputs uniform in
   [-1, 1], weights scaled by 1/sqrt(fan_in), LayerNorm weights near 1. */
void atb_tensors_fill_random(atb_tensors *t, uint64_t seed);
/* Rewrites filled inputs so that most arithmetic meets denormal floats:
   for attention, every key but the first scores between -88 and -103
   against the row maximum 0, so exp() lands below 2^-126 unless it is
   flushed, and v is scaled into the denormal range; for the layer, x is
   scaled into the denormal range. Used to show that no implementation
   slows down on such inputs. */
void atb_tensors_make_denormal_heavy(atb_tensors *t);
void atb_tensors_free(atb_tensors *t);
atb_encoder_weights atb_tensors_weights(const atb_tensors *t);
/* Returns 1 when every input and weight of t is finite, 0 otherwise. */
int atb_tensors_inputs_finite(const atb_tensors *t);
atb_run_args atb_tensors_args(const atb_tensors *t, float *out);

#ifdef __cplusplus
}
#endif

#endif /* ATB_PROBLEM_H */
