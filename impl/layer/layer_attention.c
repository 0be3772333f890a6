/*
 * The attention each family's layer calls. A family whose attention header
 * exists (impl/blocked/blocked_attention.h, impl/simd/simd_attention.h)
 * uses its own kernels. Otherwise the layer falls back to the naive f32
 * attention, which is correct but slow, and the fallback's name states it.
 */
#include "impl/layer/layer_internal.h"

#include "impl/naive/naive.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#if __has_include("impl/blocked/blocked_attention.h")
#include "impl/blocked/blocked_attention.h"
#define HAVE_BLOCKED_ATTENTION 1
#endif
#if __has_include("impl/simd/simd_attention.h")
#include "impl/simd/simd_attention.h"
#define HAVE_SIMD_ATTENTION 1
#endif

/* === Naive fallback === */

#if !defined(HAVE_BLOCKED_ATTENTION) || !defined(HAVE_SIMD_ATTENTION)

typedef struct {
    atb_attention_shape shape;
    float *scratch; /* kv_len floats per OpenMP thread */
} naive_attention_plan;

static atb_status naive_plan(const atb_problem *problem, void **out, char *err, size_t err_len)
{
    const int n_threads = omp_get_max_threads() > problem->n_threads ? omp_get_max_threads()
                                                                     : problem->n_threads;
    const size_t n_scratch = (size_t)problem->attention.kv_len * (size_t)n_threads + 1;
    naive_attention_plan *plan = calloc(1, sizeof(*plan));
    float *scratch = malloc(n_scratch * sizeof(float));
    if (!plan || !scratch) {
        free(plan);
        free(scratch);
        snprintf(err, err_len, "layer: cannot allocate %zu bytes of attention scratch",
                 n_scratch * sizeof(float));
        return ATB_ERR_NOMEM;
    }
    plan->shape = problem->attention;
    plan->scratch = scratch;
    *out = plan;
    return ATB_OK;
}

static atb_status naive_run(void *opaque, const float *q, const float *k, const float *v,
                            const int32_t *kv_valid_len, float *out, char *err, size_t err_len)
{
    (void)err;
    (void)err_len;
    naive_attention_plan *plan = opaque;
    atb_naive_attention_f32(&plan->shape, q, k, v, kv_valid_len, out, plan->scratch,
                            ATB_NAIVE_FAULT_NONE);
    return ATB_OK;
}

static void naive_destroy(void *opaque)
{
    naive_attention_plan *plan = opaque;
    if (plan)
        free(plan->scratch);
    free(plan);
}

#define NAIVE_ATTENTION                                                                    \
    {"naive attention (family attention not built)", naive_plan, naive_run, naive_destroy}
#endif

/* === Family tables === */

#ifdef HAVE_BLOCKED_ATTENTION
const atb_layer_attention atb_layer_attention_blocked = {
    "blocked attention", atb_blocked_attention_plan, atb_blocked_attention_run,
    atb_blocked_attention_destroy};
#else
const atb_layer_attention atb_layer_attention_blocked = NAIVE_ATTENTION;
#endif

#ifdef HAVE_SIMD_ATTENTION
const atb_layer_attention atb_layer_attention_simd_avx2 = {
    "simd-avx2 attention", atb_simd_avx2_attention_plan, atb_simd_avx2_attention_run,
    atb_simd_avx2_attention_destroy};
const atb_layer_attention atb_layer_attention_simd_avx512 = {
    "simd-avx512 attention", atb_simd_avx512_attention_plan, atb_simd_avx512_attention_run,
    atb_simd_avx512_attention_destroy};
#else
const atb_layer_attention atb_layer_attention_simd_avx2 = NAIVE_ATTENTION;
const atb_layer_attention atb_layer_attention_simd_avx512 = NAIVE_ATTENTION;
#endif
