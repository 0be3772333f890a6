/*
 * Test plugins that misbehave in one way each, chosen at compile time:
 *
 *   FAULT_WRONG_ABI      reports ABI version ATTNBENCH_ABI_VERSION + 1
 *   FAULT_NO_IMPLS       misspells attnbench_plugin_impls
 *   FAULT_CRASH          run() dereferences a NULL pointer (SIGSEGV)
 *   FAULT_HANG           run() never returns
 *   (none)               a working plugin; PLUGIN_NAME sets its name
 *
 * The implementation computes nothing useful: it writes zeros, so without
 * a fault it FAILs the golden cases, which the tests never rely on.
 */
#include <attnbench/impl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "faulty"
#endif

static atb_status faulty_plan(const atb_problem *problem, const atb_encoder_weights *weights,
                              void **plan, char *err, size_t err_len)
{
    (void)weights;
    (void)err;
    (void)err_len;
    atb_problem *copy = malloc(sizeof(*copy));
    if (!copy)
        return ATB_ERR_NOMEM;
    *copy = *problem;
    *plan = copy;
    return ATB_OK;
}

static atb_status faulty_run(void *plan, const atb_run_args *args, char *err, size_t err_len)
{
    (void)err;
    (void)err_len;
    const atb_attention_shape *s = &((const atb_problem *)plan)->attention;
#if defined(FAULT_CRASH)
    /* Both volatile: the compiler can neither prove the pointer NULL (and
       emit a trap, SIGILL) nor drop the store as unused. */
    volatile int *volatile target = NULL;
    *target = 1;
#elif defined(FAULT_HANG)
    for (;;)
        sleep(1);
#endif
    memset(args->out, 0,
           (size_t)(s->batch * s->heads * s->q_len * s->head_dim) * sizeof(float));
    return ATB_OK;
}

static void faulty_destroy(void *plan)
{
    free(plan);
}

static const atb_impl faulty_impl = {
    .name = "run",
    .ops = ATB_OPS_ATTENTION,
    .notes = "test plugin",
    .plan = faulty_plan,
    .run = faulty_run,
    .destroy = faulty_destroy,
};

int attnbench_plugin_abi_version(void)
{
#ifdef FAULT_WRONG_ABI
    return ATTNBENCH_ABI_VERSION + 1;
#else
    return ATTNBENCH_ABI_VERSION;
#endif
}

static const atb_impl *const faulty_impls[] = {&faulty_impl};

#ifdef FAULT_NO_IMPLS
/* A misspelled entry point: the loader must report the real name missing. */
ATTNBENCH_PLUGIN_EXPORT const atb_impl *const *attnbench_plugin_impl(const char **plugin_name,
                                                                    size_t *n_impls);
const atb_impl *const *attnbench_plugin_impl(const char **plugin_name, size_t *n_impls)
#else
const atb_impl *const *attnbench_plugin_impls(const char **plugin_name, size_t *n_impls)
#endif
{
    *plugin_name = PLUGIN_NAME;
    *n_impls = 1;
    return faulty_impls;
}
