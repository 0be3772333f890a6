/*
 * Registry entry for onednn: the memory check, and plan, run, destroy and
 * describe dispatched to the operation's module.
 */
#include "impl/onednn/onednn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB (1024.0 * 1024.0 * 1024.0)

typedef struct {
    atb_op op;
    int n_threads;
    void *inner;
} onednn_plan;

static int onednn_supports(const atb_problem *p, char *why, size_t why_len)
{
    const double need = p->op == ATB_OP_ATTENTION ? atb_onednn_attention_plan_bytes(p)
                                                  : atb_onednn_encoder_plan_bytes(p);
    const double limit = atb_onednn_memory_limit_bytes();
    if (need > limit) {
        snprintf(why, why_len,
                 "needs %.1f GiB for the score matrix and plan buffers, limit %.1f GiB (half "
                 "of the memory left to the process, at most 64 GiB)",
                 need / GIB, limit / GIB);
        return 0;
    }
    return 1;
}

static atb_status onednn_plan_create(const atb_problem *p, const atb_encoder_weights *w,
                                     void **out, char *err, size_t err_len)
{
    if (!onednn_supports(p, err, err_len))
        return ATB_ERR_NOMEM;
    if (p->op == ATB_OP_ENCODER_LAYER && !w) {
        snprintf(err, err_len, "onednn: the encoder layer needs weights, got NULL");
        return ATB_ERR_INVALID;
    }
    onednn_plan *plan = calloc(1, sizeof(*plan));
    if (!plan) {
        snprintf(err, err_len, "onednn: cannot allocate the plan");
        return ATB_ERR_NOMEM;
    }
    plan->op = p->op;
    plan->n_threads = p->n_threads;
    atb_status st = p->op == ATB_OP_ATTENTION
                        ? atb_onednn_attention_plan(p, &plan->inner, err, err_len)
                        : atb_onednn_encoder_plan(p, w, &plan->inner, err, err_len);
    if (st != ATB_OK) {
        free(plan);
        return st;
    }
    *out = plan;
    return ATB_OK;
}

static atb_status onednn_run(void *opaque, const atb_run_args *a, char *err, size_t err_len)
{
    onednn_plan *plan = opaque;
    return plan->op == ATB_OP_ATTENTION ? atb_onednn_attention_run(plan->inner, a, err, err_len)
                                        : atb_onednn_encoder_run(plan->inner, a, err, err_len);
}

static void onednn_destroy(void *opaque)
{
    onednn_plan *plan = opaque;
    if (!plan)
        return;
    if (plan->op == ATB_OP_ATTENTION)
        atb_onednn_attention_destroy(plan->inner);
    else
        atb_onednn_encoder_destroy(plan->inner);
    free(plan);
}

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    default: return "other";
    }
}

static void onednn_describe(const void *opaque, char *buf, size_t buf_len)
{
    const onednn_plan *plan = opaque;
    const dnnl_version_t *v = dnnl_version();
    const char *runtime = v->cpu_runtime == DNNL_RUNTIME_OMP     ? "OpenMP"
                          : v->cpu_runtime == DNNL_RUNTIME_TBB   ? "TBB"
                          : v->cpu_runtime == DNNL_RUNTIME_SEQ   ? "sequential"
                                                                 : "other";
    snprintf(buf, buf_len, "oneDNN %d.%d.%d (git %s), CPU runtime %s, ISA %s", v->major, v->minor,
             v->patch, v->hash ? v->hash : "no hash", runtime, isa_name(dnnl_get_effective_cpu_isa()));
    if (!plan || !plan->inner)
        return;
    const size_t used = strlen(buf);
    snprintf(buf + used, buf_len - used, ", %d threads;", plan->n_threads);
    atb_onednn_describe_steps(plan->op == ATB_OP_ATTENTION
                                  ? atb_onednn_attention_program(plan->inner)
                                  : atb_onednn_encoder_program(plan->inner),
                              buf, buf_len);
}

const atb_impl atb_impl_onednn = {
    .name = "onednn",
    .ops = ATB_OPS_ATTENTION | ATB_OPS_ENCODER_LAYER,
    .isa_required = 0,
    .notes = "oneDNN 2.x primitives: matmul with mask post-ops, softmax_v2, layer_normalization",
    .supports = onednn_supports,
    .plan = onednn_plan_create,
    .run = onednn_run,
    .destroy = onednn_destroy,
    .describe = onednn_describe,
};
