/*
 * onednn: attention and the encoder layer as oneDNN 2.6 primitives (C API):
 * batched matmul with the scale as an output scale and the masks as binary
 * post-ops, softmax_v2 (accurate), layer_normalization, and matmuls with
 * bias, eltwise and sum post-ops. Primitives, weight reorders and buffers
 * are made in the plan step; run() only executes them.
 *
 * Layout: row-major float32. Engine: one CPU engine and one in-order stream
 * for the process. Threads: this oneDNN build uses OpenMP, so the OpenMP
 * thread count is its thread count.
 */
#ifndef ATB_ONEDNN_H
#define ATB_ONEDNN_H

#include "attnbench/impl.h"

#include <oneapi/dnnl/dnnl.h>

/* Arguments of one primitive execution, fixed in the plan. */
#define ATB_ONEDNN_MAX_ARGS 8

typedef struct {
    const char *label;          /* e.g. "qk_matmul" */
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t primitive;
    int n_args;
    dnnl_exec_arg_t args[ATB_ONEDNN_MAX_ARGS];
} atb_onednn_step;

#define ATB_ONEDNN_MAX_STEPS 64
#define ATB_ONEDNN_MAX_MEMORIES 128

/* Primitives in execution order, and every memory object they use. */
typedef struct {
    int n_steps;
    atb_onednn_step steps[ATB_ONEDNN_MAX_STEPS];
    int n_memories;
    dnnl_memory_t memories[ATB_ONEDNN_MAX_MEMORIES];
} atb_onednn_program;

/* The process's CPU engine and stream, created on first use. */
atb_status atb_onednn_engine(dnnl_engine_t *engine, dnnl_stream_t *stream, char *err,
                             size_t err_len);

/* Writes "onednn: WHAT failed: STATUS" to err when status is not success. */
atb_status atb_onednn_check(dnnl_status_t status, const char *what, char *err, size_t err_len);

/* Creates a memory object over handle (NULL: no buffer yet) and records it
   in the program for destruction. */
atb_status atb_onednn_memory(atb_onednn_program *prog, const dnnl_memory_desc_t *md,
                             void *handle, dnnl_memory_t *out, char *err, size_t err_len);

/* Creates the primitive from op_desc and attr (may be NULL) and appends it
   as a step with no arguments yet. */
atb_status atb_onednn_add_step(atb_onednn_program *prog, const char *label,
                               const void *op_desc, const_dnnl_primitive_attr_t attr,
                               char *err, size_t err_len);

/* Appends a step for an existing primitive descriptor (a reorder's); the
   step owns pd afterwards, also on failure. */
atb_status atb_onednn_add_step_pd(atb_onednn_program *prog, const char *label,
                                  dnnl_primitive_desc_t pd, char *err, size_t err_len);

/* Adds an execution argument to the last step. */
void atb_onednn_arg(atb_onednn_program *prog, int arg, dnnl_memory_t memory);

/* Executes every step in order and waits for the stream. */
atb_status atb_onednn_execute(const atb_onednn_program *prog, char *err, size_t err_len);

/* Executes steps first .. end-1 and waits for the stream. */
atb_status atb_onednn_execute_range(const atb_onednn_program *prog, int first, int end,
                                    char *err, size_t err_len);

void atb_onednn_program_free(atb_onednn_program *prog);

/* Appends " label=impl" for every step to buf, each pair once. */
void atb_onednn_describe_steps(const atb_onednn_program *prog, char *buf, size_t buf_len);

/* Half the memory this process can still get (every limit, see
   harness/memory_limit.h), at most 64 GiB: the bound on plan buffers. */
double atb_onednn_memory_limit_bytes(void);

/*
 * Repairs attention rows after the primitives ran. A row with no allowed
 * key is set to exactly 0. A row with a non-finite value is recomputed
 * over its allowed keys only. The masks cannot stop a NaN or Inf in a
 * masked key: NaN + -Inf is NaN in the logit, and 0 * Inf is NaN in PV.
 * A finite row needs no repair, because its masked logits are -Inf, their
 * weights exactly 0, and 0 times a finite value adds nothing.
 */
typedef struct {
    const atb_attention_shape *shape;
    const float *q, *k, *v;
    float *out;
    int64_t q_batch_stride, q_head_stride, q_row_stride;
    int64_t kv_batch_stride, kv_head_stride, kv_row_stride;
    int64_t out_batch_stride, out_head_stride, out_row_stride;
    const int32_t *kv_valid_len;
    float *row_scratch; /* n_threads * kv_len floats for recomputed rows */
} atb_onednn_attention_view;

void atb_onednn_repair_rows(const atb_onednn_attention_view *view, int n_threads);

/* Checks that kv_valid_len is given when the problem has it and that every
   value is in 0 .. kv_len; otherwise writes the bad index to err. */
atb_status atb_onednn_check_valid_lengths(const int32_t *kv_valid_len, int has_kv_valid_len,
                                          int64_t batch, int64_t kv_len, char *err,
                                          size_t err_len);

/* Keys 0 .. n-1 are allowed for query row i; returns n. */
int64_t atb_onednn_allowed_keys(const atb_attention_shape *shape, int64_t valid, int64_t i);

/* Fills mask [rows, kv_len] for the causal rule with 0 where a key is
   allowed and -Inf where it is not. Row m is query row m % q_len, because
   the query heads of one group follow each other. */
void atb_onednn_fill_causal_mask(const atb_attention_shape *shape, int64_t rows, float *mask);

/* Plans and runs of each operation. */
atb_status atb_onednn_attention_plan(const atb_problem *p, void **plan, char *err,
                                     size_t err_len);
atb_status atb_onednn_attention_run(void *plan, const atb_run_args *args, char *err,
                                    size_t err_len);
void atb_onednn_attention_destroy(void *plan);
const atb_onednn_program *atb_onednn_attention_program(const void *plan);
double atb_onednn_attention_plan_bytes(const atb_problem *p);

atb_status atb_onednn_encoder_plan(const atb_problem *p, const atb_encoder_weights *w,
                                   void **plan, char *err, size_t err_len);
atb_status atb_onednn_encoder_run(void *plan, const atb_run_args *args, char *err,
                                  size_t err_len);
void atb_onednn_encoder_destroy(void *plan);
const atb_onednn_program *atb_onednn_encoder_program(const void *plan);
double atb_onednn_encoder_plan_bytes(const atb_problem *p);

extern const atb_impl atb_impl_onednn;

#endif /* ATB_ONEDNN_H */
