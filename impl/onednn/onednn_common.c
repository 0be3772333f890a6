/*
 * Shared machinery of onednn: the engine and stream, the step list that a
 * plan builds and run() executes, the memory bound, the causal mask and the
 * repair of rows the masks cannot protect.
 */
#include "impl/onednn/onednn.h"

#include "harness/memory_limit.h"

#include <math.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Plan buffers may use at most half of the available memory and never more
   than this cap, so that a large machine still keeps room for the inputs. */
#define PLAN_CAP_BYTES (64.0 * 1024 * 1024 * 1024)

static dnnl_engine_t the_engine;
static dnnl_stream_t the_stream;

atb_status atb_onednn_engine(dnnl_engine_t *engine, dnnl_stream_t *stream, char *err,
                             size_t err_len)
{
    if (!the_engine) {
        dnnl_engine_t e;
        atb_status st = atb_onednn_check(dnnl_engine_create(&e, dnnl_cpu, 0),
                                         "creating the CPU engine", err, err_len);
        if (st != ATB_OK)
            return st;
        dnnl_stream_t s;
        st = atb_onednn_check(dnnl_stream_create(&s, e, dnnl_stream_default_flags),
                              "creating the stream", err, err_len);
        if (st != ATB_OK) {
            dnnl_engine_destroy(e);
            return st;
        }
        the_engine = e;
        the_stream = s;
    }
    *engine = the_engine;
    *stream = the_stream;
    return ATB_OK;
}

atb_status atb_onednn_check(dnnl_status_t status, const char *what, char *err, size_t err_len)
{
    if (status == dnnl_success)
        return ATB_OK;
    snprintf(err, err_len, "onednn: %s failed: %s", what, dnnl_status2str(status));
    return status == dnnl_out_of_memory ? ATB_ERR_NOMEM : ATB_ERR_LIBRARY;
}

atb_status atb_onednn_memory(atb_onednn_program *prog, const dnnl_memory_desc_t *md,
                             void *handle, dnnl_memory_t *out, char *err, size_t err_len)
{
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    atb_status st = atb_onednn_engine(&engine, &stream, err, err_len);
    if (st != ATB_OK)
        return st;
    if (prog->n_memories == ATB_ONEDNN_MAX_MEMORIES) {
        snprintf(err, err_len, "onednn: more than %d memory objects in one plan",
                 ATB_ONEDNN_MAX_MEMORIES);
        return ATB_ERR_INTERNAL;
    }
    /* A NULL handle (DNNL_MEMORY_NONE) gets its buffer in run() through
       dnnl_memory_set_data_handle. */
    st = atb_onednn_check(dnnl_memory_create(out, md, engine, handle),
                          "creating a memory object", err, err_len);
    if (st != ATB_OK)
        return st;
    prog->memories[prog->n_memories++] = *out;
    return ATB_OK;
}

atb_status atb_onednn_add_step_pd(atb_onednn_program *prog, const char *label,
                                  dnnl_primitive_desc_t pd, char *err, size_t err_len)
{
    if (prog->n_steps == ATB_ONEDNN_MAX_STEPS) {
        dnnl_primitive_desc_destroy(pd);
        snprintf(err, err_len, "onednn: more than %d primitives in one plan",
                 ATB_ONEDNN_MAX_STEPS);
        return ATB_ERR_INTERNAL;
    }
    atb_onednn_step *step = &prog->steps[prog->n_steps];
    memset(step, 0, sizeof(*step));
    step->label = label;
    step->pd = pd;

    char what[96];
    snprintf(what, sizeof(what), "creating the %s primitive", label);
    atb_status st = atb_onednn_check(dnnl_primitive_create(&step->primitive, pd), what, err,
                                     err_len);
    if (st != ATB_OK) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    prog->n_steps++;
    return ATB_OK;
}

atb_status atb_onednn_add_step(atb_onednn_program *prog, const char *label,
                               const void *op_desc, const_dnnl_primitive_attr_t attr,
                               char *err, size_t err_len)
{
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    atb_status st = atb_onednn_engine(&engine, &stream, err, err_len);
    if (st != ATB_OK)
        return st;
    char what[96];
    snprintf(what, sizeof(what), "creating the %s primitive descriptor", label);
    dnnl_primitive_desc_t pd;
    st = atb_onednn_check(dnnl_primitive_desc_create(&pd, op_desc, attr, engine, NULL), what,
                          err, err_len);
    if (st != ATB_OK)
        return st;
    return atb_onednn_add_step_pd(prog, label, pd, err, err_len);
}

void atb_onednn_arg(atb_onednn_program *prog, int arg, dnnl_memory_t memory)
{
    atb_onednn_step *step = &prog->steps[prog->n_steps - 1];
    /* The steps here take at most 5 arguments (the QK^T matmul with two
       mask post-ops), below ATB_ONEDNN_MAX_ARGS. */
    if (step->n_args < ATB_ONEDNN_MAX_ARGS) {
        step->args[step->n_args].arg = arg;
        step->args[step->n_args].memory = memory;
        step->n_args++;
    }
}

atb_status atb_onednn_execute(const atb_onednn_program *prog, char *err, size_t err_len)
{
    return atb_onednn_execute_range(prog, 0, prog->n_steps, err, err_len);
}

atb_status atb_onednn_execute_range(const atb_onednn_program *prog, int first, int end,
                                    char *err, size_t err_len)
{
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    atb_status st = atb_onednn_engine(&engine, &stream, err, err_len);
    if (st != ATB_OK)
        return st;
    for (int i = first; i < end; i++) {
        const atb_onednn_step *step = &prog->steps[i];
        char what[96];
        snprintf(what, sizeof(what), "executing %s", step->label);
        st = atb_onednn_check(dnnl_primitive_execute(step->primitive, stream, step->n_args,
                                                     step->args),
                              what, err, err_len);
        if (st != ATB_OK)
            return st;
    }
    return atb_onednn_check(dnnl_stream_wait(stream), "waiting for the stream", err, err_len);
}

void atb_onednn_program_free(atb_onednn_program *prog)
{
    for (int i = 0; i < prog->n_steps; i++) {
        dnnl_primitive_destroy(prog->steps[i].primitive);
        dnnl_primitive_desc_destroy(prog->steps[i].pd);
    }
    for (int i = 0; i < prog->n_memories; i++)
        dnnl_memory_destroy(prog->memories[i]);
    prog->n_steps = 0;
    prog->n_memories = 0;
}

/* The implementation string of a step's primitive descriptor. */
static const char *step_impl(const atb_onednn_step *step)
{
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(step->pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success
        || !impl)
        return "unknown";
    return impl;
}

void atb_onednn_describe_steps(const atb_onednn_program *prog, char *buf, size_t buf_len)
{
    size_t used = strlen(buf);
    for (int i = 0; i < prog->n_steps && used < buf_len; i++) {
        /* Blocks repeat the same steps; each label=impl pair is listed once. */
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(prog->steps[j].label, prog->steps[i].label) == 0
                   && strcmp(step_impl(&prog->steps[j]), step_impl(&prog->steps[i])) == 0;
        if (seen)
            continue;
        int n = snprintf(buf + used, buf_len - used, " %s=%s", prog->steps[i].label,
                         step_impl(&prog->steps[i]));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

double atb_onednn_memory_limit_bytes(void)
{
    double available = atb_memory_headroom_now().bytes;
    if (available < 0.0) {
        const long pages = sysconf(_SC_AVPHYS_PAGES), page_bytes = sysconf(_SC_PAGESIZE);
        if (pages > 0 && page_bytes > 0)
            available = (double)pages * (double)page_bytes;
    }
    const double half = 0.5 * available;
    return half < PLAN_CAP_BYTES ? half : PLAN_CAP_BYTES;
}

atb_status atb_onednn_check_valid_lengths(const int32_t *kv_valid_len, int has_kv_valid_len,
                                          int64_t batch, int64_t kv_len, char *err,
                                          size_t err_len)
{
    if (!has_kv_valid_len)
        return ATB_OK;
    if (!kv_valid_len) {
        snprintf(err, err_len, "onednn: the problem has kv_valid_len but run() got NULL");
        return ATB_ERR_INVALID;
    }
    for (int64_t b = 0; b < batch; b++) {
        if (kv_valid_len[b] < 0 || kv_valid_len[b] > kv_len) {
            snprintf(err, err_len, "onednn: kv_valid_len[%lld] = %d is outside 0..%lld",
                     (long long)b, (int)kv_valid_len[b], (long long)kv_len);
            return ATB_ERR_INVALID;
        }
    }
    return ATB_OK;
}

int64_t atb_onednn_allowed_keys(const atb_attention_shape *s, int64_t valid, int64_t i)
{
    int64_t limit = valid;
    if (s->causal == ATB_CAUSAL_TOP_LEFT && i + 1 < limit)
        limit = i + 1;
    if (s->causal == ATB_CAUSAL_BOTTOM_RIGHT && i + 1 + (s->kv_len - s->q_len) < limit)
        limit = i + 1 + (s->kv_len - s->q_len);
    return limit < 0 ? 0 : limit;
}

void atb_onednn_fill_causal_mask(const atb_attention_shape *s, int64_t rows, float *mask)
{
    const int64_t Lk = s->kv_len;
    for (int64_t m = 0; m < rows; m++) {
        const int64_t n_allowed = atb_onednn_allowed_keys(s, Lk, m % s->q_len);
        for (int64_t j = 0; j < Lk; j++)
            mask[m * Lk + j] = j < n_allowed ? 0.0f : -INFINITY;
    }
}

/* Attention for one row over its allowed keys only, max-subtracted, in f32
   with the logits kept in scores[n_keys]. */
static void exact_row(const float *q, const float *k, const float *v, int64_t ldkv,
                      int64_t n_keys, int64_t D, float scale, float *out, float *scores)
{
    float max = -INFINITY;
    int has_nan = 0;
    for (int64_t j = 0; j < n_keys; j++) {
        float dot = 0.0f;
        for (int64_t d = 0; d < D; d++)
            dot += q[d] * k[j * ldkv + d];
        scores[j] = scale * dot;
        has_nan |= isnan(scores[j]);
        if (scores[j] > max)
            max = scores[j];
    }
    if (has_nan)
        max = NAN;
    float sum = 0.0f;
    for (int64_t j = 0; j < n_keys; j++) {
        scores[j] = expf(scores[j] - max);
        sum += scores[j];
    }
    for (int64_t d = 0; d < D; d++)
        out[d] = 0.0f;
    for (int64_t j = 0; j < n_keys; j++)
        for (int64_t d = 0; d < D; d++)
            out[d] += scores[j] * v[j * ldkv + d];
    for (int64_t d = 0; d < D; d++)
        out[d] /= sum;
}

void atb_onednn_repair_rows(const atb_onednn_attention_view *view, int n_threads)
{
    const atb_attention_shape *s = view->shape;
    const int64_t D = s->head_dim, Lq = s->q_len;
    const int64_t group = s->heads / s->kv_heads;
    const int64_t n_rows = s->batch * s->heads * Lq;

#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (int64_t row = 0; row < n_rows; row++) {
        const int64_t i = row % Lq, h = row / Lq % s->heads, b = row / Lq / s->heads;
        float *o = view->out + b * view->out_batch_stride + h * view->out_head_stride
                   + i * view->out_row_stride;
        const int64_t valid = view->kv_valid_len ? view->kv_valid_len[b] : s->kv_len;
        const int64_t n_keys = atb_onednn_allowed_keys(s, valid, i);
        if (n_keys == 0) {
            memset(o, 0, (size_t)D * sizeof(float));
            continue;
        }
        int finite = 1;
        for (int64_t d = 0; d < D; d++)
            finite &= isfinite(o[d]) != 0;
        if (finite)
            continue;
        const int64_t g = h / group;
        exact_row(view->q + b * view->q_batch_stride + h * view->q_head_stride
                      + i * view->q_row_stride,
                  view->k + b * view->kv_batch_stride + g * view->kv_head_stride,
                  view->v + b * view->kv_batch_stride + g * view->kv_head_stride,
                  view->kv_row_stride, n_keys, D, (float)s->scale, o,
                  view->row_scratch + (size_t)omp_get_thread_num() * (size_t)s->kv_len);
    }
}
