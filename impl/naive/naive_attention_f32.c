/*
 * Attention in float32, one query row at a time: logits, max-subtracted
 * softmax, weighted sum of values. No blocking, no vector intrinsics.
 * OpenMP over output rows; scratch holds Lk floats per thread.
 */
#include "impl/naive/naive.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* Rounds x to an 11-bit significand, as an fp16 accumulator would. */
static float round_to_half_mantissa(float x)
{
    if (x == 0.0f || !isfinite(x))
        return x;
    int exponent;
    float mantissa = frexpf(x, &exponent);
    return ldexpf(nearbyintf(mantissa * 2048.0f) / 2048.0f, exponent);
}

/* Number of keys row i may attend to: keys 0 .. limit-1. */
static int64_t allowed_key_limit(const atb_attention_shape *s, int64_t valid, int64_t i)
{
    int64_t limit = valid;
    if (s->causal == ATB_CAUSAL_TOP_LEFT && i + 1 < limit)
        limit = i + 1;
    if (s->causal == ATB_CAUSAL_BOTTOM_RIGHT && i + 1 + (s->kv_len - s->q_len) < limit)
        limit = i + 1 + (s->kv_len - s->q_len);
    return limit < 0 ? 0 : limit;
}

void atb_naive_attention_f32(const atb_attention_shape *s, const float *q, const float *k,
                             const float *v, const int32_t *kv_valid_len, float *out,
                             float *scratch, atb_naive_fault fault)
{
    const int64_t D = s->head_dim, Lq = s->q_len, Lk = s->kv_len;
    const int64_t group = s->heads / s->kv_heads;
    const int64_t n_rows = s->batch * s->heads * Lq;
    const float scale = fault == ATB_NAIVE_FAULT_NO_SCALE ? 1.0f : (float)s->scale;

    /* Rows are independent; each thread uses its own Lk floats of scratch. */
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < n_rows; row++) {
        float *scores = scratch + (int64_t)omp_get_thread_num() * Lk;
        const int64_t i = row % Lq, h = row / Lq % s->heads, b = row / Lq / s->heads;
        const int64_t g = h / group;
        const float *kh = k + (b * s->kv_heads + g) * Lk * D;
        const float *vh = v + (b * s->kv_heads + g) * Lk * D;
        const float *qi = q + row * D;
        float *oi = out + row * D;
        const int64_t valid = kv_valid_len ? kv_valid_len[b] : Lk;

        int64_t n_keys = allowed_key_limit(s, valid, i);
        if (fault == ATB_NAIVE_FAULT_MASK_OFF_BY_ONE && n_keys < Lk)
            n_keys++;
        if (fault == ATB_NAIVE_FAULT_DROP_LAST_BLOCK && n_keys > 64)
            n_keys = (n_keys - 1) / 64 * 64;

        memset(oi, 0, (size_t)D * sizeof(float));
        if (n_keys == 0)
            continue; /* no allowed key: the row is exactly zero */

        /* Logits and their maximum; subtracting it keeps exp() finite. */
        float max = -INFINITY;
        for (int64_t j = 0; j < n_keys; j++) {
            float dot = 0.0f;
            for (int64_t d = 0; d < D; d++)
                dot += qi[d] * kh[j * D + d];
            scores[j] = scale * dot;
            if (isnan(scores[j]))
                max = NAN; /* a NaN logit makes the whole row NaN */
            else if (scores[j] > max)
                max = scores[j];
        }

        float sum = 0.0f;
        for (int64_t j = 0; j < n_keys; j++) {
            scores[j] = expf(scores[j] - max);
            sum += scores[j];
        }

        for (int64_t j = 0; j < n_keys; j++) {
            for (int64_t d = 0; d < D; d++) {
                oi[d] += scores[j] * vh[j * D + d];
                if (fault == ATB_NAIVE_FAULT_PV_HALF)
                    oi[d] = round_to_half_mantissa(oi[d]);
            }
        }
        for (int64_t d = 0; d < D; d++)
            oi[d] /= sum;
    }
}
