/*
 * Registry entries for simd-avx2 and simd-avx512, and their attention
 * plan/run/destroy functions. Baseline x86-64: the ISA code is reached only
 * through a plan, and a plan is refused when atb_cpu_isa() (which honours
 * ATTNBENCH_MAX_ISA) lacks the ISA.
 */
#include "impl/simd/simd_attention.h"
#include "impl/blocked/flash_tiling.h"
#include "impl/layer/layer.h"

#include "harness/registry.h"

#include <stdio.h>
#include <stdlib.h>

extern const atb_flash_kernel atb_simd_attention_f32_kernel_avx2;
extern const atb_flash_kernel atb_simd_attention_f32_kernel_avx512;

static atb_status plan_for_isa(const atb_problem *problem, unsigned isa,
                               const atb_flash_kernel *kernel, const char *family, void **plan,
                               char *err, size_t err_len)
{
    *plan = NULL;
    if (!(atb_cpu_isa() & isa)) {
        snprintf(err, err_len, "%s: the CPU (or ATTNBENCH_MAX_ISA) does not allow %s", family,
                 atb_isa_name(isa));
        return ATB_ERR_UNSUPPORTED;
    }
    return atb_flash_plan_create(problem, kernel, family, (atb_flash_plan **)plan, err,
                                 err_len);
}

atb_status atb_simd_avx2_attention_plan(const atb_problem *problem, void **plan, char *err,
                                        size_t err_len)
{
    return plan_for_isa(problem, ATB_ISA_AVX2, &atb_simd_attention_f32_kernel_avx2,
                        "simd-avx2", plan, err, err_len);
}

atb_status atb_simd_avx2_attention_run(void *plan, const float *q, const float *k,
                                       const float *v, const int32_t *kv_valid_len, float *out,
                                       char *err, size_t err_len)
{
    return atb_flash_run(plan, q, k, v, kv_valid_len, out, err, err_len);
}

void atb_simd_avx2_attention_destroy(void *plan)
{
    atb_flash_plan_destroy(plan);
}

atb_status atb_simd_avx512_attention_plan(const atb_problem *problem, void **plan, char *err,
                                          size_t err_len)
{
    return plan_for_isa(problem, ATB_ISA_AVX512, &atb_simd_attention_f32_kernel_avx512,
                        "simd-avx512", plan, err, err_len);
}

atb_status atb_simd_avx512_attention_run(void *plan, const float *q, const float *k,
                                         const float *v, const int32_t *kv_valid_len,
                                         float *out, char *err, size_t err_len)
{
    return atb_flash_run(plan, q, k, v, kv_valid_len, out, err, err_len);
}

void atb_simd_avx512_attention_destroy(void *plan)
{
    atb_flash_plan_destroy(plan);
}

/* === Registry entries: dispatch on the operation === */

typedef struct {
    atb_op op;
    void *op_plan; /* the plan of the operation's own functions */
} entry_plan;

typedef struct {
    const char *family;
    atb_status (*attention_plan)(const atb_problem *, void **, char *, size_t);
    atb_status (*attention_run)(void *, const float *, const float *, const float *,
                                const int32_t *, float *, char *, size_t);
    void (*attention_destroy)(void *);
    atb_status (*encoder_plan)(const atb_problem *, const atb_encoder_weights *, void **, char *,
                               size_t);
    atb_status (*encoder_run)(void *, const float *, const int32_t *, float *, char *, size_t);
    void (*encoder_destroy)(void *);
    void (*encoder_describe)(const void *, char *, size_t);
} entry_functions;

static const entry_functions avx2_functions = {
    "simd-avx2", atb_simd_avx2_attention_plan, atb_simd_avx2_attention_run,
    atb_simd_avx2_attention_destroy, atb_simd_avx2_encoder_plan, atb_simd_avx2_encoder_run,
    atb_simd_avx2_encoder_destroy, atb_simd_avx2_encoder_describe,
};
static const entry_functions avx512_functions = {
    "simd-avx512", atb_simd_avx512_attention_plan, atb_simd_avx512_attention_run,
    atb_simd_avx512_attention_destroy, atb_simd_avx512_encoder_plan,
    atb_simd_avx512_encoder_run, atb_simd_avx512_encoder_destroy,
    atb_simd_avx512_encoder_describe,
};

static atb_status entry_plan_create(const entry_functions *f, const atb_problem *problem,
                                    const atb_encoder_weights *w, void **out, char *err,
                                    size_t err_len)
{
    *out = NULL;
    entry_plan *plan = calloc(1, sizeof(*plan));
    if (!plan) {
        snprintf(err, err_len, "%s: cannot allocate the plan", f->family);
        return ATB_ERR_NOMEM;
    }
    plan->op = problem->op;

    atb_status st;
    switch (problem->op) {
    case ATB_OP_ATTENTION:
        st = f->attention_plan(problem, &plan->op_plan, err, err_len);
        break;
    case ATB_OP_ENCODER_LAYER:
        st = f->encoder_plan(problem, w, &plan->op_plan, err, err_len);
        break;
    default:
        snprintf(err, err_len, "%s: operation %s is not supported", f->family,
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

static atb_status entry_run(const entry_functions *f, void *opaque, const atb_run_args *a,
                            char *err, size_t err_len)
{
    entry_plan *plan = opaque;
    switch (plan->op) {
    case ATB_OP_ATTENTION:
        return f->attention_run(plan->op_plan, a->q, a->k, a->v, a->kv_valid_len, a->out, err,
                                err_len);
    case ATB_OP_ENCODER_LAYER:
        return f->encoder_run(plan->op_plan, a->x, a->kv_valid_len, a->out, err, err_len);
    default:
        snprintf(err, err_len, "%s: operation %s is not supported", f->family,
                 atb_op_name(plan->op));
        return ATB_ERR_UNSUPPORTED;
    }
}

static void entry_destroy(const entry_functions *f, void *opaque)
{
    entry_plan *plan = opaque;
    if (!plan)
        return;
    switch (plan->op) {
    case ATB_OP_ATTENTION:
        f->attention_destroy(plan->op_plan);
        break;
    case ATB_OP_ENCODER_LAYER:
        f->encoder_destroy(plan->op_plan);
        break;
    default:
        break;
    }
    free(plan);
}

static void entry_describe(const entry_functions *f, const char *isa, const void *opaque,
                           char *buf, size_t buf_len)
{
    const entry_plan *plan = opaque;
    if (plan && plan->op == ATB_OP_ENCODER_LAYER) {
        f->encoder_describe(plan->op_plan, buf, buf_len);
        return;
    }
    int64_t split = 0;
    if (plan && plan->op == ATB_OP_ATTENTION)
        split = atb_flash_plan_split_chunk(plan->op_plan);
    if (split > 0)
        snprintf(buf, buf_len, "%s intrinsics, keys split across threads in chunks of %lld",
                 isa, (long long)split);
    else
        snprintf(buf, buf_len, "%s intrinsics", isa);
}

static atb_status avx2_plan(const atb_problem *problem, const atb_encoder_weights *w,
                            void **out, char *err, size_t err_len)
{
    return entry_plan_create(&avx2_functions, problem, w, out, err, err_len);
}
static atb_status avx2_run(void *plan, const atb_run_args *a, char *err, size_t err_len)
{
    return entry_run(&avx2_functions, plan, a, err, err_len);
}
static void avx2_destroy(void *plan)
{
    entry_destroy(&avx2_functions, plan);
}
static void avx2_describe(const void *plan, char *buf, size_t buf_len)
{
    entry_describe(&avx2_functions, "avx2", plan, buf, buf_len);
}

static atb_status avx512_plan(const atb_problem *problem, const atb_encoder_weights *w,
                              void **out, char *err, size_t err_len)
{
    return entry_plan_create(&avx512_functions, problem, w, out, err, err_len);
}
static atb_status avx512_run(void *plan, const atb_run_args *a, char *err, size_t err_len)
{
    return entry_run(&avx512_functions, plan, a, err, err_len);
}
static void avx512_destroy(void *plan)
{
    entry_destroy(&avx512_functions, plan);
}
static void avx512_describe(const void *plan, char *buf, size_t buf_len)
{
    entry_describe(&avx512_functions, "avx512", plan, buf, buf_len);
}

const atb_impl atb_impl_simd_avx2 = {
    .name = "simd-avx2",
    .ops = ATB_OPS_ATTENTION | ATB_OPS_ENCODER_LAYER,
    .isa_required = ATB_ISA_AVX2,
    .notes = "flash attention, AVX2 + FMA micro-kernels 6x2 vectors, fused softmax",
    .plan = avx2_plan,
    .run = avx2_run,
    .destroy = avx2_destroy,
    .describe = avx2_describe,
};

const atb_impl atb_impl_simd_avx512 = {
    .name = "simd-avx512",
    .ops = ATB_OPS_ATTENTION | ATB_OPS_ENCODER_LAYER,
    .isa_required = ATB_ISA_AVX512,
    .notes = "flash attention, AVX-512 micro-kernels 6x4 vectors, fused softmax",
    .plan = avx512_plan,
    .run = avx512_run,
    .destroy = avx512_destroy,
    .describe = avx512_describe,
};
