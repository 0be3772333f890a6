/*
 * LayerNorm over the last axis in float32, two-pass: the mean first, then
 * the biased variance as the mean of squared deviations, which has no
 * cancellation (unlike E[x^2] - mean^2). Each sum runs over 16 interleaved
 * partial sums, so the rounding error grows with about E / 16 additions per
 * lane instead of E, and the compiler can vectorize the loop without
 * reassociating. 1 / sqrt(var + eps) is computed in double and rounded
 * once. Plain C, compiled once per ISA level with ATB_LEVEL_SUFFIX, like
 * gemm_f32_packed.c. OpenMP over rows.
 */
#include "impl/layer/layer_internal.h"

#include <math.h>

#define ATB_CONCAT2(a, b) a##_##b
#define ATB_CONCAT(a, b) ATB_CONCAT2(a, b)
#define LEVEL_NAME(name) ATB_CONCAT(name, ATB_LEVEL_SUFFIX)

#define N_PARTIAL 16 /* one zmm, or two ymm, of partial sums */

static float sum_f32(const float *restrict x, int64_t n)
{
    float partial[N_PARTIAL] = {0};
    int64_t j = 0;
    for (; j + N_PARTIAL <= n; j += N_PARTIAL)
        for (int l = 0; l < N_PARTIAL; l++)
            partial[l] += x[j + l];
    for (; j < n; j++)
        partial[j % N_PARTIAL] += x[j];
    float total = 0.0f;
    for (int l = 0; l < N_PARTIAL; l++)
        total += partial[l];
    return total;
}

static float sum_squares_f32(const float *restrict x, int64_t n, float mean)
{
    float partial[N_PARTIAL] = {0};
    int64_t j = 0;
    for (; j + N_PARTIAL <= n; j += N_PARTIAL)
        for (int l = 0; l < N_PARTIAL; l++) {
            const float d = x[j + l] - mean;
            partial[l] += d * d;
        }
    for (; j < n; j++) {
        const float d = x[j] - mean;
        partial[j % N_PARTIAL] += d * d;
    }
    float total = 0.0f;
    for (int l = 0; l < N_PARTIAL; l++)
        total += partial[l];
    return total;
}

void LEVEL_NAME(atb_layernorm_f32)(const float *x, const float *weight, const float *bias,
                                   float *y, int64_t n_rows, int64_t dim, double eps,
                                   int n_threads)
{
#pragma omp parallel for schedule(static) num_threads(n_threads > 0 ? n_threads : 1)
    for (int64_t r = 0; r < n_rows; r++) {
        const float *restrict xr = x + r * dim;
        float *restrict yr = y + r * dim;

        const float mean = sum_f32(xr, dim) / (float)dim;
        const float var = sum_squares_f32(xr, dim, mean) / (float)dim;
        const float inv_std = (float)(1.0 / sqrt((double)var + eps));

        for (int64_t j = 0; j < dim; j++)
            yr[j] = (xr[j] - mean) * inv_std * weight[j] + bias[j];
    }
}
