/*
 * Registry entry for naive. The plan step allocates the scratch buffers;
 * run() only computes.
 */
#include "impl/naive/naive.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    atb_problem problem;
    atb_encoder_weights weights;
    atb_naive_fault fault;
    float *scratch;
} naive_plan;

static atb_status naive_plan_create(const atb_problem *p, const atb_encoder_weights *w,
                                    atb_naive_fault fault, void **out, char *err,
                                    size_t err_len)
{
    size_t n_scratch;
    if (p->op == ATB_OP_ATTENTION)
        n_scratch = (size_t)p->attention.kv_len * (size_t)omp_get_max_threads() + 1;
    else
        n_scratch = atb_naive_encoder_scratch_count(&p->encoder)
                    + (size_t)p->encoder.seq_len * (size_t)omp_get_max_threads();

    naive_plan *plan = calloc(1, sizeof(*plan));
    float *scratch = malloc(n_scratch * sizeof(float));
    if (!plan || !scratch) {
        free(plan);
        free(scratch);
        snprintf(err, err_len, "naive: cannot allocate %zu bytes of scratch",
                 n_scratch * sizeof(float));
        return ATB_ERR_NOMEM;
    }
    plan->problem = *p;
    if (w)
        plan->weights = *w;
    plan->fault = fault;
    plan->scratch = scratch;
    *out = plan;
    return ATB_OK;
}

static atb_status naive_plan_default(const atb_problem *p, const atb_encoder_weights *w,
                                     void **out, char *err, size_t err_len)
{
    return naive_plan_create(p, w, ATB_NAIVE_FAULT_NONE, out, err, err_len);
}

static atb_status naive_run(void *opaque, const atb_run_args *a, char *err, size_t err_len)
{
    (void)err;
    (void)err_len;
    naive_plan *plan = opaque;
    if (plan->problem.op == ATB_OP_ATTENTION)
        atb_naive_attention_f32(&plan->problem.attention, a->q, a->k, a->v, a->kv_valid_len,
                                a->out, plan->scratch, plan->fault);
    else
        atb_naive_encoder_f32(&plan->problem.encoder, &plan->weights, a->x, a->kv_valid_len,
                              a->out, plan->scratch, plan->fault);
    return ATB_OK;
}

static void naive_destroy(void *opaque)
{
    naive_plan *plan = opaque;
    if (plan)
        free(plan->scratch);
    free(plan);
}

static void naive_describe(const void *plan, char *buf, size_t buf_len)
{
    (void)plan;
    snprintf(buf, buf_len, "textbook f32 loops built for baseline x86-64, OpenMP over rows");
}

const atb_impl atb_impl_naive = {
    .name = "naive",
    .ops = ATB_OPS_ATTENTION | ATB_OPS_ENCODER_LAYER,
    .isa_required = 0,
    .notes = "textbook f32 loops, OpenMP over output rows",
    .plan = naive_plan_default,
    .run = naive_run,
    .destroy = naive_destroy,
    .describe = naive_describe,
};

/* Plans for the faulty variants carry their fault; a table per fault keeps
   the entry's functions plain C function pointers. */
#define FAULTY_PLAN(fault_id)                                                              \
    static atb_status naive_plan_##fault_id(const atb_problem *p,                          \
                                            const atb_encoder_weights *w, void **out,      \
                                            char *err, size_t err_len)                     \
    {                                                                                      \
        return naive_plan_create(p, w, fault_id, out, err, err_len);                       \
    }
FAULTY_PLAN(ATB_NAIVE_FAULT_MASK_OFF_BY_ONE)
FAULTY_PLAN(ATB_NAIVE_FAULT_NO_SCALE)
FAULTY_PLAN(ATB_NAIVE_FAULT_DROP_LAST_BLOCK)
FAULTY_PLAN(ATB_NAIVE_FAULT_PV_HALF)
FAULTY_PLAN(ATB_NAIVE_FAULT_LN_UNBIASED)
FAULTY_PLAN(ATB_NAIVE_FAULT_GELU_TANH)

atb_impl atb_naive_faulty_impl(atb_naive_fault fault, const char *name)
{
    atb_impl impl = atb_impl_naive;
    impl.name = name;
    impl.notes = "naive with a deliberate fault, for checker tests";
    switch (fault) {
    case ATB_NAIVE_FAULT_MASK_OFF_BY_ONE: impl.plan = naive_plan_ATB_NAIVE_FAULT_MASK_OFF_BY_ONE; break;
    case ATB_NAIVE_FAULT_NO_SCALE: impl.plan = naive_plan_ATB_NAIVE_FAULT_NO_SCALE; break;
    case ATB_NAIVE_FAULT_DROP_LAST_BLOCK: impl.plan = naive_plan_ATB_NAIVE_FAULT_DROP_LAST_BLOCK; break;
    case ATB_NAIVE_FAULT_PV_HALF: impl.plan = naive_plan_ATB_NAIVE_FAULT_PV_HALF; break;
    case ATB_NAIVE_FAULT_LN_UNBIASED: impl.plan = naive_plan_ATB_NAIVE_FAULT_LN_UNBIASED; break;
    case ATB_NAIVE_FAULT_GELU_TANH: impl.plan = naive_plan_ATB_NAIVE_FAULT_GELU_TANH; break;
    case ATB_NAIVE_FAULT_NONE: break;
    }
    return impl;
}
