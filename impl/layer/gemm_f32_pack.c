/*
 * Packing of Linear weights into the k-major panels the SGEMM micro-kernels
 * read, done once per plan. Baseline x86-64 C; no ISA-specific code.
 */
#include "impl/layer/gemm_f32.h"

#include <stdlib.h>
#include <string.h>

int atb_packed_weight_init(atb_packed_weight *pw, const float *w, int64_t n, int64_t k, int nr)
{
    const int64_t n_panels = (n + nr - 1) / nr;
    const size_t n_floats = (size_t)(n_panels * k * nr) + 1; /* + 1 keeps k = 0 allocatable */
    const size_t n_bytes = (n_floats * sizeof(float) + 63) / 64 * 64;

    memset(pw, 0, sizeof(*pw));
    pw->panels = aligned_alloc(64, n_bytes);
    if (!pw->panels)
        return 0;
    pw->n = n;
    pw->k = k;
    pw->nr = nr;

    /* Panel p, step kk, lane j contains W[p * nr + j][kk]. Lanes past n are 0. */
    for (int64_t p = 0; p < n_panels; p++) {
        float *panel = pw->panels + p * k * nr;
        for (int j = 0; j < nr; j++) {
            const int64_t row = p * nr + j;
            for (int64_t kk = 0; kk < k; kk++)
                panel[kk * nr + j] = row < n ? w[row * k + kk] : 0.0f;
        }
    }
    return 1;
}

void atb_packed_weight_free(atb_packed_weight *pw)
{
    free(pw->panels);
    memset(pw, 0, sizeof(*pw));
}

size_t atb_sgemm_scratch_per_thread(int mr)
{
    /* One packed A block of at most MC_MAX rows (rounded down to panels of
       mr) by KC_MAX, plus 16 floats so each thread's block starts on its
       own cache line. */
    return (size_t)(ATB_SGEMM_MC_MAX / mr * mr) * ATB_SGEMM_KC_MAX + 16;
}
