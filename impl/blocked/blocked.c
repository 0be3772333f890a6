/*
 * Registry entry for blocked, and the choice of compiled copy: the highest
 * of avx512, avx2 and baseline that atb_cpu_isa() allows, made when a plan
 * is created.
 */
#include "impl/blocked/blocked_attention.h"
#include "impl/blocked/flash_tiling.h"
#include "impl/layer/layer.h"

#include "harness/registry.h"

#include <stdio.h>
#include <stdlib.h>

extern const atb_flash_kernel atb_blocked_attention_f32_kernel_scalar;
extern const atb_flash_kernel atb_blocked_attention_f32_kernel_avx2;
extern const atb_flash_kernel atb_blocked_attention_f32_kernel_avx512;

static const atb_flash_kernel *kernel_for_cpu(void)
{
    const unsigned isa = atb_cpu_isa();
    if (isa & ATB_ISA_AVX512)
        return &atb_blocked_attention_f32_kernel_avx512;
    if (isa & ATB_ISA_AVX2)
        return &atb_blocked_attention_f32_kernel_avx2;
    return &atb_blocked_attention_f32_kernel_scalar;
}

atb_status atb_blocked_attention_plan(const atb_problem *problem, void **plan, char *err,
                                      size_t err_len)
{
    return atb_flash_plan_create(problem, kernel_for_cpu(), "blocked",
                                 (atb_flash_plan **)plan, err, err_len);
}

atb_status atb_blocked_attention_run(void *plan, const float *q, const float *k,
                                     const float *v, const int32_t *kv_valid_len, float *out,
                                     char *err, size_t err_len)
{
    return atb_flash_run(plan, q, k, v, kv_valid_len, out, err, err_len);
}

void atb_blocked_attention_destroy(void *plan)
{
    atb_flash_plan_destroy(plan);
}

const char *atb_blocked_attention_isa(const void *plan)
{
    const atb_flash_kernel *kernel = plan ? atb_flash_plan_kernel(plan) : kernel_for_cpu();
    return kernel->isa_name;
}

/* === Registry entry: dispatch on the operation === */

typedef struct {
    atb_op op;
    void *op_plan; /* the plan of the operation's own functions */
} entry_plan;

static atb_status entry_plan_create(const atb_problem *problem, const atb_encoder_weights *w,
                                    void **out, char *err, size_t err_len)
{
    *out = NULL;
    entry_plan *plan = calloc(1, sizeof(*plan));
    if (!plan) {
        snprintf(err, err_len, "blocked: cannot allocate the plan");
        return ATB_ERR_NOMEM;
    }
    plan->op = problem->op;

    atb_status st;
    switch (problem->op) {
    case ATB_OP_ATTENTION:
        st = atb_blocked_attention_plan(problem, &plan->op_plan, err, err_len);
        break;
    case ATB_OP_ENCODER_LAYER:
        st = atb_blocked_encoder_plan(problem, w, &plan->op_plan, err, err_len);
        break;
    default:
        snprintf(err, err_len, "blocked: operation %s is not supported",
                 atb_op_name(problem->op));
        st = ATB_ERR_UNSUPPORTED;
        break;
    }
    if (st != ATB_OK) {
        free(plan);
        return st;
    }
    *out = plan;
    return ATB_OK;
}

static atb_status entry_run(void *opaque, const atb_run_args *a, char *err, size_t err_len)
{
    entry_plan *plan = opaque;
    switch (plan->op) {
    case ATB_OP_ATTENTION:
        return atb_blocked_attention_run(plan->op_plan, a->q, a->k, a->v, a->kv_valid_len,
                                         a->out, err, err_len);
    case ATB_OP_ENCODER_LAYER:
        return atb_blocked_encoder_run(plan->op_plan, a->x, a->kv_valid_len, a->out, err,
                                       err_len);
    default:
        snprintf(err, err_len, "blocked: operation %s is not supported", atb_op_name(plan->op));
        return ATB_ERR_UNSUPPORTED;
    }
}

static void entry_destroy(void *opaque)
{
    entry_plan *plan = opaque;
    if (!plan)
        return;
    switch (plan->op) {
    case ATB_OP_ATTENTION:
        atb_blocked_attention_destroy(plan->op_plan);
        break;
    case ATB_OP_ENCODER_LAYER:
        atb_blocked_encoder_destroy(plan->op_plan);
        break;
    default:
        break;
    }
    free(plan);
}

static void entry_describe(const void *opaque, char *buf, size_t buf_len)
{
    const entry_plan *plan = opaque;
    if (plan && plan->op == ATB_OP_ENCODER_LAYER) {
        atb_blocked_encoder_describe(plan->op_plan, buf, buf_len);
        return;
    }
    const void *attention_plan = plan && plan->op == ATB_OP_ATTENTION ? plan->op_plan : NULL;
    snprintf(buf, buf_len, "portable C compiled for %s, chosen at run time (CPU allows %s)",
             atb_blocked_attention_isa(attention_plan), atb_isa_name(atb_cpu_isa()));
}

const atb_impl atb_impl_blocked = {
    .name = "blocked",
    .ops = ATB_OPS_ATTENTION | ATB_OPS_ENCODER_LAYER,
    .isa_required = 0,
    .notes = "portable C flash attention (online softmax), compiled for baseline, AVX2 "
             "and AVX-512",
    .plan = entry_plan_create,
    .run = entry_run,
    .destroy = entry_destroy,
    .describe = entry_describe,
};
