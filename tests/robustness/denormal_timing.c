/*
 * denormal_timing: measures how much slower each implementation runs on
 * denormal-heavy inputs than on ordinary ones. A measurement tool, not a
 * test: its numbers are recorded in docs/reliability.md.
 *
 * Ordinary inputs are the bench's (uniform in [-1, 1]). In the
 * denormal-heavy attention inputs, every key but the first scores 88 to 103
 * below the row's maximum. exp() of all but one score per row then lands in
 * the f32 denormal range (below 2^-126, about 1.2e-38) unless the
 * implementation flushes it, and v contains denormal values too. For the
 * encoder layer, x contains denormal values and the weights are ordinary, so
 * every product in the input projection is denormal.
 *
 * Each (implementation, input) pair runs after a warm-up for at least
 * --seconds; the median run time is reported. Both inputs are timed in the
 * same process, alternating, so machine load affects both alike.
 *
 * usage: denormal_timing [--threads N] [--seconds S] [--impl NAME]
 */
#define _POSIX_C_SOURCE 200809L

#include "harness/problem.h"
#include "harness/registry.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SAMPLES 4096

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Returns the median run time in seconds, or a negative value on error. */
static double time_runs(const atb_impl *impl, void *plan, const atb_run_args *args,
                        double seconds)
{
    static double samples[MAX_SAMPLES];
    char err[256];
    for (int warm = 0; warm < 2; warm++)
        if (impl->run(plan, args, err, sizeof(err)) != ATB_OK) {
            fprintf(stderr, "denormal_timing: %s: run failed: %s\n", impl->name, err);
            return -1.0;
        }
    int n = 0;
    const double start = now_s();
    while (n < MAX_SAMPLES && (n < 5 || now_s() - start < seconds)) {
        const double t0 = now_s();
        impl->run(plan, args, err, sizeof(err));
        samples[n++] = now_s() - t0;
    }
    qsort(samples, (size_t)n, sizeof(double), compare_double);
    return samples[n / 2];
}

static int count_denormal_outputs(const float *out, size_t n)
{
    int count = 0;
    for (size_t i = 0; i < n; i++)
        count += fpclassify(out[i]) == FP_SUBNORMAL;
    return count;
}

static void measure(const atb_impl *impl, const atb_problem *problem, double seconds)
{
    char why[256];
    if (!(impl->ops & (1u << problem->op)) || !atb_impl_runs_here(impl, why, sizeof(why)))
        return;

    atb_tensors normal = {0}, denormal = {0};
    const size_t n_out = atb_problem_output_count(problem);
    float *out = malloc(n_out * sizeof(float));
    void *plan = NULL;
    if (!out || atb_tensors_alloc(&normal, problem, why, sizeof(why)) != ATB_OK
        || atb_tensors_alloc(&denormal, problem, why, sizeof(why)) != ATB_OK) {
        fprintf(stderr, "denormal_timing: cannot allocate the inputs\n");
        goto done;
    }
    atb_tensors_fill_random(&normal, 1);
    atb_tensors_fill_random(&denormal, 1);
    atb_tensors_make_denormal_heavy(&denormal);

    const atb_encoder_weights weights = atb_tensors_weights(&normal);
    if (impl->plan(problem, problem->op == ATB_OP_ENCODER_LAYER ? &weights : NULL, &plan, why,
                   sizeof(why))
        != ATB_OK) {
        fprintf(stderr, "denormal_timing: %s: plan failed: %s\n", impl->name, why);
        goto done;
    }
    const atb_run_args normal_args = atb_tensors_args(&normal, out);
    const atb_run_args denormal_args = atb_tensors_args(&denormal, out);

    /* Two alternating rounds; the smaller median of each input counts. */
    double t_normal = INFINITY, t_denormal = INFINITY;
    for (int round = 0; round < 2; round++) {
        const double a = time_runs(impl, plan, &normal_args, seconds / 4);
        const double b = time_runs(impl, plan, &denormal_args, seconds / 4);
        if (a < 0 || b < 0)
            goto done;
        t_normal = fmin(t_normal, a);
        t_denormal = fmin(t_denormal, b);
    }
    impl->run(plan, &denormal_args, why, sizeof(why));
    printf("%-14s %-14s %12.3f %12.3f %7.2fx %9d\n", atb_op_name(problem->op), impl->name,
           1e3 * t_normal, 1e3 * t_denormal, t_denormal / t_normal,
           count_denormal_outputs(out, n_out));
    fflush(stdout);

done:
    if (plan)
        impl->destroy(plan);
    atb_tensors_free(&normal);
    atb_tensors_free(&denormal);
    free(out);
}

int main(int argc, char **argv)
{
    int n_threads = 1;
    double seconds = 2.0;
    const char *only = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0)
            n_threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--impl") == 0)
            only = argv[i + 1];
        else {
            fprintf(stderr, "usage: denormal_timing [--threads N] [--seconds S] [--impl NAME]\n");
            return 2;
        }
    }
    if (n_threads < 1 || !(seconds > 0)) {
        fprintf(stderr, "usage: denormal_timing [--threads N] [--seconds S] [--impl NAME]\n");
        return 2;
    }
    omp_set_num_threads(n_threads);

    atb_problem attention = {.op = ATB_OP_ATTENTION, .n_threads = n_threads};
    attention.attention = (atb_attention_shape){.batch = 1, .heads = 4, .kv_heads = 4,
                                                .q_len = 512, .kv_len = 512, .head_dim = 64,
                                                .scale = 0.125, .causal = ATB_CAUSAL_NONE};
    atb_problem encoder = {.op = ATB_OP_ENCODER_LAYER, .n_threads = n_threads};
    encoder.encoder = (atb_encoder_shape){.batch = 1, .seq_len = 128, .embed_dim = 256,
                                          .heads = 4, .ffn_dim = 1024,
                                          .activation = ATB_ACT_GELU, .layer_norm_eps = 1e-5,
                                          .causal = ATB_CAUSAL_NONE};

    printf("# threads %d; attention B=1 H=4 L=512 D=64; encoder_layer B=1 L=128 E=256 H=4 "
           "F=1024\n",
           n_threads);
    printf("%-14s %-14s %12s %12s %8s %9s\n", "op", "impl", "normal_ms", "denormal_ms", "ratio",
           "out_denormals");
    for (size_t i = 0; i < atb_registry_count(); i++) {
        const atb_impl *impl = atb_registry_get(i);
        if (only && strcmp(impl->name, only) != 0)
            continue;
        measure(impl, &attention, seconds);
        measure(impl, &encoder, seconds);
    }
    return 0;
}
