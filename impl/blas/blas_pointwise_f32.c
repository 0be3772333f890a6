/*
 * The parts of blas that are not GEMMs: the exp pass of the softmax,
 * LayerNorm, and bias plus activation. Plain C written so that the compiler
 * vectorizes the inner loops (no intrinsics, no fast-math). The exp pass is
 * also cloned for AVX2 and AVX-512.
 */
#include "impl/blas/blas.h"

#include <math.h>
#include <string.h>

/* Partial sums per reduction: sixteen lanes fill one AVX-512 register, two
   AVX registers or four SSE registers of independent accumulators. */
#define N_LANES 16

/* Bits of a float and back, without breaking aliasing rules. */
static inline uint32_t float_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof(u));
    return u;
}

static inline float bits_float(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof(x));
    return x;
}

/*
 * exp(x) for x <= 0, vectorizable. x = n ln2 + r with |r| <= ln2/2, e^r by
 * its degree-7 Taylor polynomial (truncation error below 1e-8 relative),
 * 2^n by building the exponent field. Results below 2^-126 (x < -87.33)
 * flush to exactly 0, so no denormal reaches the PV product; -Inf gives 0
 * and NaN stays NaN.
 */
static inline float exp_nonpositive_f32(float x)
{
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    const float min_x = -87.33f;

    /* The selects are written with bit masks because GCC does not
       if-convert float ternaries at the SSE2 baseline, which would leave
       the loop scalar. A compare with NaN is false, so NaN passes. */
    const uint32_t below = 0u - (uint32_t)(x < min_x);
    const float xc = bits_float((below & float_bits(min_x)) | (~below & float_bits(x)));

    const float t = xc * log2e + round_magic;
    const float n = t - round_magic;
    const float r = (xc - n * ln2_hi) - n * ln2_lo;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;

    /* The low bits of t hold n; n is in [-126, 0] after the clamp. */
    const uint32_t n_int = float_bits(t) - float_bits(round_magic);
    const float two_n = bits_float((n_int + 127u) << 23);
    const float e = p * two_n;
    return bits_float(~below & float_bits(e));
}

static float sum_f32(const float *restrict x, int64_t n);

/* Clones for AVX-512, AVX2 and the baseline, chosen once by the loader
   from CPUID, so that the same plain C runs 16 lanes wide where it can. */
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

VECTOR_CLONES
float atb_blas_exp_row_f32(float *restrict s, int64_t n)
{
    /* Maximum in N_LANES partial maxima, with bit-mask selects so that the
       loop vectorizes. A NaN logit is skipped here, but exp(NaN - max) is
       NaN, so it still makes the sum and the row NaN. */
    float lanes[N_LANES];
    for (int u = 0; u < N_LANES; u++)
        lanes[u] = s[0];
    int64_t j = 0;
    for (; j + N_LANES <= n; j += N_LANES) {
        for (int u = 0; u < N_LANES; u++) {
            const uint32_t greater = 0u - (uint32_t)(s[j + u] > lanes[u]);
            lanes[u] = bits_float((greater & float_bits(s[j + u]))
                                  | (~greater & float_bits(lanes[u])));
        }
    }
    for (; j < n; j++)
        lanes[0] = s[j] > lanes[0] ? s[j] : lanes[0];
    float max = lanes[0];
    for (int u = 1; u < N_LANES; u++)
        max = lanes[u] > max ? lanes[u] : max;

    /* Exponentials and their sum in one pass, N_LANES partial sums. */
    float sums[N_LANES] = {0};
    for (j = 0; j + N_LANES <= n; j += N_LANES) {
        for (int u = 0; u < N_LANES; u++) {
            const float e = exp_nonpositive_f32(s[j + u] - max);
            s[j + u] = e;
            sums[u] += e;
        }
    }
    for (; j < n; j++) {
        s[j] = exp_nonpositive_f32(s[j] - max);
        sums[0] += s[j];
    }
    float sum = 0.0f;
    for (int u = 0; u < N_LANES; u++)
        sum += sums[u];
    return sum;
}

static float sum_f32(const float *restrict x, int64_t n)
{
    float lanes[N_LANES] = {0};
    int64_t j = 0;
    for (; j + N_LANES <= n; j += N_LANES)
        for (int u = 0; u < N_LANES; u++)
            lanes[u] += x[j + u];
    for (; j < n; j++)
        lanes[0] += x[j];
    float sum = 0.0f;
    for (int u = 0; u < N_LANES; u++)
        sum += lanes[u];
    return sum;
}

static float sum_squared_deviation_f32(const float *restrict x, float mean, int64_t n)
{
    float lanes[N_LANES] = {0};
    int64_t j = 0;
    for (; j + N_LANES <= n; j += N_LANES)
        for (int u = 0; u < N_LANES; u++)
            lanes[u] += (x[j + u] - mean) * (x[j + u] - mean);
    for (; j < n; j++)
        lanes[0] += (x[j] - mean) * (x[j] - mean);
    float sum = 0.0f;
    for (int u = 0; u < N_LANES; u++)
        sum += lanes[u];
    return sum;
}

void atb_blas_layer_norm_f32(const float *x, const float *weight, const float *bias, float *y,
                             int64_t n_rows, int64_t dim, double eps, int n_threads)
{
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (int64_t r = 0; r < n_rows; r++) {
        const float *xr = x + r * dim;
        float *yr = y + r * dim;

        /* Two passes: the mean first, then squared deviations from it,
           which stays accurate when the mean is large against the spread. */
        const float mean = sum_f32(xr, dim) / (float)dim;
        const float var = sum_squared_deviation_f32(xr, mean, dim) / (float)dim;
        const float inv_std = 1.0f / sqrtf(var + (float)eps);

        for (int64_t c = 0; c < dim; c++)
            yr[c] = (xr[c] - mean) * inv_std * weight[c] + bias[c];
    }
}

void atb_blas_bias_activation_f32(float *x, const float *bias, int64_t n_rows, int64_t dim,
                                  atb_activation act, int n_threads)
{
    const float inv_sqrt2 = 0.70710678118654752f;
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (int64_t r = 0; r < n_rows; r++) {
        float *xr = x + r * dim;
        if (act == ATB_ACT_RELU) {
            for (int64_t c = 0; c < dim; c++) {
                const float t = xr[c] + bias[c];
                xr[c] = t > 0.0f ? t : (t != t ? t : 0.0f); /* NaN stays NaN */
            }
        } else {
            /* NOTE: erff is a scalar libm call and dominates this loop; a
               vectorized erf with a stated error bound would speed up gelu. */
            for (int64_t c = 0; c < dim; c++) {
                const float t = xr[c] + bias[c];
                xr[c] = 0.5f * t * (1.0f + erff(t * inv_sqrt2));
            }
        }
    }
}
