/*
 * Cache-blocked driver of the packed SGEMM, its fused epilogues (bias,
 * ReLU, exact GELU, residual add), a vectorizable erf, and a portable C
 * micro-kernel. Plain C without intrinsics: this file is compiled once per
 * ISA level with ATB_LEVEL_SUFFIX set to scalar, avx2 or avx512 and the
 * matching -m flags, and the compiler vectorizes the loops. Callers pick a
 * level the CPU supports (atb_cpu_isa), so no level runs on a CPU without it.
 *
 * Threading: OpenMP; the output is split into one rectangle per thread
 * (along M when there are enough row panels, else along N), and each thread
 * runs the blocked loops over its rectangle with its own A-packing scratch.
 */
#include "impl/layer/gemm_f32.h"

#include <assert.h>
#include <math.h>
#include <omp.h>
#include <stdalign.h>
#include <string.h>

#ifndef ATB_LEVEL_SUFFIX
#error "compile gemm_f32_packed.c with -DATB_LEVEL_SUFFIX=scalar|avx2|avx512"
#endif
#define ATB_CONCAT2(a, b) a##_##b
#define ATB_CONCAT(a, b) ATB_CONCAT2(a, b)
#define LEVEL_NAME(name) ATB_CONCAT(name, ATB_LEVEL_SUFFIX)
#define ATB_STRING2(x) #x
#define ATB_STRING(x) ATB_STRING2(x)

/* Register tile of the portable kernel, sized for the vector registers the
   level's flags give the compiler: accumulators fill about half to three
   quarters of them, leaving room for the loaded W vectors and the broadcast
   A value. The shapes are the ones GCC 12 turns into a clean loop of
   broadcasts and FMAs with every accumulator in a register; 6 x 16 under
   AVX2, for example, spills (checked with objdump). */
#if defined(__AVX512F__)
#define PORTABLE_MR 8  /* 8 x 2 zmm = 16 accumulators of 32 registers */
#define PORTABLE_NR 32
#elif defined(__AVX2__)
#define PORTABLE_MR 3  /* 3 x 4 ymm = 12 accumulators of 16 registers */
#define PORTABLE_NR 32
#else
#define PORTABLE_MR 4  /* 4 x 2 xmm = 8 accumulators of 16 registers */
#define PORTABLE_NR 8
#endif

/* === Portable micro-kernel === */

static void sgemm_kernel_portable(int64_t kc, const float *restrict a_panel,
                                  const float *restrict w_panel, float *restrict c, int64_t ldc,
                                  int accumulate)
{
    float acc[PORTABLE_MR][PORTABLE_NR];
    for (int i = 0; i < PORTABLE_MR; i++)
        for (int j = 0; j < PORTABLE_NR; j++)
            acc[i][j] = 0.0f;

    /* One rank-1 update per k: the W row is loaded once, A values broadcast. */
    for (int64_t k = 0; k < kc; k++) {
        const float *restrict wk = w_panel + k * PORTABLE_NR;
        const float *restrict ak = a_panel + k * PORTABLE_MR;
        for (int i = 0; i < PORTABLE_MR; i++)
            for (int j = 0; j < PORTABLE_NR; j++)
                acc[i][j] += ak[i] * wk[j];
    }

    for (int i = 0; i < PORTABLE_MR; i++) {
        float *restrict ci = c + i * ldc;
        if (accumulate)
            for (int j = 0; j < PORTABLE_NR; j++)
                ci[j] += acc[i][j];
        else
            for (int j = 0; j < PORTABLE_NR; j++)
                ci[j] = acc[i][j];
    }
}

const atb_sgemm_kernel LEVEL_NAME(atb_sgemm_kernel_portable) = {
    .name = "portable C " ATB_STRING(ATB_LEVEL_SUFFIX) " " ATB_STRING(PORTABLE_MR) "x" ATB_STRING(
        PORTABLE_NR),
    .mr = PORTABLE_MR,
    .nr = PORTABLE_NR,
    .kernel = sgemm_kernel_portable,
};

/* === erf and GELU === */

/*
 * exp(x) for x <= 0, to about 1 ulp: x = n ln2 + r with |r| <= ln2 / 2, a
 * degree-7 Taylor polynomial for e^r (truncation below 3e-9 relative), and
 * 2^n built in the exponent bits. Results below the smallest normal float
 * (x < -87.33) are exactly 0 so that no denormal reaches later arithmetic.
 * NaN propagates.
 */
static inline float exp_nonpositive(float x)
{
    const float log2e = 1.44269504f;
    const float ln2_hi = 0.693145752f; /* 16 significant bits: n * ln2_hi is exact */
    const float ln2_lo = 1.42860677e-06f;
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    const float x_min = -87.3365479f;      /* ln of the smallest normal float */

    const float xc = x < x_min ? x_min : x;
    const float n = (xc * log2e + round_magic) - round_magic;
    float r = xc - n * ln2_hi;
    r = r - n * ln2_lo;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;

    /* n >= -126 here, so 2^n is a normal float. */
    const int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof(scale));
    const float result = p * scale;
    return x < x_min ? 0.0f : result;
}

/* erf(z) / z on |z| <= 1 as a polynomial in z^2: a degree-6 least-squares
   fit, absolute error 1.2e-9 before f32 rounding. */
static inline float erf_small_ratio(float z2)
{
    float p = 7.88946199e-05f;
    p = p * z2 - 8.02095223e-04f;
    p = p * z2 + 5.18954918e-03f;
    p = p * z2 - 2.68544536e-02f;
    p = p * z2 + 1.12836003e-01f;
    p = p * z2 - 3.76126260e-01f;
    p = p * z2 + 1.12837911e+00f;
    return p;
}

/*
 * erfc(t) for t >= 1: exp(-t^2 + Q(t)), where Q(t) = ln(erfc(t)) + t^2 is a
 * degree-8 fit in (t - 2.5) on [1, 4] with absolute error 1.2e-8, so the
 * relative error of erfc stays a few ulp. t^2 is split exactly into hi + lo
 * (Dekker's product), because an error of d in the exponent is a relative
 * error of d in erfc. Q is held at Q(4) beyond t = 4: there erfc(t) < 1.6e-8,
 * which no longer changes erf in f32 and changes GELU by less than 5e-8
 * absolute. Returns 0 for t above about 9.3 (exp underflow).
 */
static inline float erfc_large(float t)
{
    const float tq = t < 4.0f ? t : 4.0f;
    const float u = tq - 2.5f;
    float q = 1.599822326e-06f;
    q = q * u - 1.330171199e-05f;
    q = q * u + 7.745490439e-05f;
    q = q * u - 4.201731062e-04f;
    q = q * u + 2.165081445e-03f;
    q = q * u - 1.085848734e-02f;
    q = q * u + 5.610639229e-02f;
    q = q * u - 3.526806831e-01f;
    q = q * u - 1.556815267e+00f;

    /* Dekker split of ts = min(t, 16) into 12-bit halves; beyond 16 the
       result is 0 anyway, and the clamp keeps 4097 * ts finite. */
    const float ts = t < 16.0f ? t : 16.0f;
    const float split = 4097.0f * ts;
    const float t_hi = split - (split - ts);
    const float t_lo = ts - t_hi;
    const float sq_hi = ts * ts;
    const float sq_lo = ((t_hi * t_hi - sq_hi) + 2.0f * t_hi * t_lo) + t_lo * t_lo;
    return exp_nonpositive((q - sq_lo) - sq_hi);
}

static inline float erf_f32(float x)
{
    const float ax = fabsf(x);
    const float small = x * erf_small_ratio(x * x);
    const float one_minus = 1.0f - erfc_large(ax);
    const float large = x < 0.0f ? -one_minus : one_minus;
    return ax > 1.0f ? large : small; /* NaN takes the small branch and stays NaN */
}

/* gelu(x) = 0.5 x (1 + erf(x / sqrt 2)). For x / sqrt 2 < -1, 1 + erf is
   erfc(|z|) directly, which keeps the relative accuracy of the tiny values
   that subtracting from 1 would lose. */
static inline float gelu_f32(float x)
{
    const float z = x * 0.707106781f;
    const float az = fabsf(z);
    const float small = 1.0f + z * erf_small_ratio(z * z);
    const float e = erfc_large(az);
    const float large = z > 0.0f ? 2.0f - e : e;
    return 0.5f * x * (az > 1.0f ? large : small);
}

void LEVEL_NAME(atb_erf_f32)(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = erf_f32(x[i]);
}

void LEVEL_NAME(atb_gelu_f32)(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = gelu_f32(x[i]);
}

/* === Epilogue === */

/* Applies the epilogue to the n_rows x n_cols block of c at (row0, col0),
   which contains the finished products. */
static void apply_epilogue(const atb_epilogue *ep, float *c, int64_t ldc, int64_t row0,
                           int64_t col0, int64_t n_rows, int64_t n_cols)
{
    if (ep->kind == ATB_EPILOGUE_NONE)
        return;
    const float *restrict bias = ep->bias + col0;
    for (int64_t r = 0; r < n_rows; r++) {
        float *restrict cr = c + (row0 + r) * ldc + col0;
        switch (ep->kind) {
        case ATB_EPILOGUE_BIAS:
            for (int64_t j = 0; j < n_cols; j++)
                cr[j] += bias[j];
            break;
        case ATB_EPILOGUE_BIAS_RELU:
            /* NaN fails v < 0 and passes through, as in torch.relu. */
            for (int64_t j = 0; j < n_cols; j++) {
                const float v = cr[j] + bias[j];
                cr[j] = v < 0.0f ? 0.0f : v;
            }
            break;
        case ATB_EPILOGUE_BIAS_GELU:
            for (int64_t j = 0; j < n_cols; j++)
                cr[j] = gelu_f32(cr[j] + bias[j]);
            break;
        case ATB_EPILOGUE_BIAS_RESIDUAL: {
            const float *restrict res = ep->residual + (row0 + r) * ep->ld_residual + col0;
            for (int64_t j = 0; j < n_cols; j++)
                cr[j] += bias[j] + res[j];
            break;
        }
        case ATB_EPILOGUE_NONE:
            break;
        }
    }
}

/* === Blocked driver === */

/* Packs one panel: rows [row0, row0 + n_rows) of a (n_rows <= mr), columns
   [k0, k0 + kc), into dst[k * mr + i], zero-filling rows past n_rows. The
   k-outer order writes dst sequentially and reads mr sequential row
   streams. The row-outer order scatters 4-byte stores mr floats apart, and
   it took more than a tenth of the GEMM time. */
static inline void pack_a_panel(const float *a, int64_t lda, int64_t row0, int64_t n_rows,
                                int64_t k0, int64_t kc, const int mr, float *restrict dst)
{
    const float *rows[32];
    for (int i = 0; i < mr; i++)
        rows[i] = a + (row0 + (i < n_rows ? i : 0)) * lda + k0;
    if (n_rows == mr) {
        for (int64_t k = 0; k < kc; k++)
            for (int i = 0; i < mr; i++)
                dst[k * mr + i] = rows[i][k];
    } else {
        for (int64_t k = 0; k < kc; k++)
            for (int i = 0; i < mr; i++)
                dst[k * mr + i] = i < n_rows ? rows[i][k] : 0.0f;
    }
}

/* Packs rows [row0, row0 + n_rows) and columns [k0, k0 + kc) of a into
   panels of mr rows. The switch gives the compiler a constant mr for each
   kernel shape, so the inner loop unrolls. */
static void pack_a_block(const float *a, int64_t lda, int64_t row0, int64_t n_rows, int64_t k0,
                         int64_t kc, int mr, float *restrict dst)
{
    for (int64_t p = 0; p * mr < n_rows; p++) {
        const int64_t rows_here = n_rows - p * mr < mr ? n_rows - p * mr : mr;
        float *panel = dst + p * kc * mr;
        switch (mr) {
        case 12: pack_a_panel(a, lda, row0 + p * mr, rows_here, k0, kc, 12, panel); break;
        case 8: pack_a_panel(a, lda, row0 + p * mr, rows_here, k0, kc, 8, panel); break;
        case 6: pack_a_panel(a, lda, row0 + p * mr, rows_here, k0, kc, 6, panel); break;
        case 4: pack_a_panel(a, lda, row0 + p * mr, rows_here, k0, kc, 4, panel); break;
        case 3: pack_a_panel(a, lda, row0 + p * mr, rows_here, k0, kc, 3, panel); break;
        default: pack_a_panel(a, lda, row0 + p * mr, rows_here, k0, kc, mr, panel); break;
        }
    }
}

/* Computes the rectangle rows [m_lo, m_hi) x columns [n_lo, n_hi) of C;
   n_lo is a multiple of nr. */
static void sgemm_rectangle(const atb_sgemm_kernel *kern, const float *a, int64_t lda,
                            const atb_packed_weight *w, float *c, int64_t ldc,
                            const atb_epilogue *ep, int64_t m_lo, int64_t m_hi, int64_t n_lo,
                            int64_t n_hi, float *a_pack)
{
    const int mr = kern->mr, nr = kern->nr;
    const int64_t k_total = w->k;
    const int64_t mc_max = ATB_SGEMM_MC_MAX / mr * mr;
    const int64_t nc_max = ATB_SGEMM_NC_MAX / nr * nr;

    /* Equal K blocks of at most KC_MAX, so a K slightly over a block
       boundary does not leave a thin, slow last block. */
    const int64_t n_kblocks = (k_total + ATB_SGEMM_KC_MAX - 1) / ATB_SGEMM_KC_MAX;
    const int64_t kc_step = (k_total + n_kblocks - 1) / n_kblocks;

    alignas(64) float edge_tile[32 * 32];
    assert(mr <= 32 && nr <= 32); /* every kernel's tile fits edge_tile */

    for (int64_t nb = n_lo; nb < n_hi; nb += nc_max) {
        const int64_t nb_end = nb + nc_max < n_hi ? nb + nc_max : n_hi;
        for (int64_t k0 = 0; k0 < k_total; k0 += kc_step) {
            const int64_t kc = k0 + kc_step < k_total ? kc_step : k_total - k0;
            const int accumulate = k0 > 0;
            const int last_k = k0 + kc == k_total;
            for (int64_t mb = m_lo; mb < m_hi; mb += mc_max) {
                const int64_t mb_rows = mb + mc_max < m_hi ? mc_max : m_hi - mb;
                pack_a_block(a, lda, mb, mb_rows, k0, kc, mr, a_pack);

                /* W micro-panel outside, so every A micro-panel of the
                   block reuses it from cache (L1 for short K blocks, L2 for
                   KC = 512, where the panel is 64 KiB). */
                for (int64_t n0 = nb; n0 < nb_end; n0 += nr) {
                    const float *w_panel = w->panels + (n0 / nr) * k_total * nr + k0 * nr;
                    const int64_t n_cols = n0 + nr <= nb_end ? nr : nb_end - n0;
                    for (int64_t i0 = 0; i0 < mb_rows; i0 += mr) {
                        const float *a_panel = a_pack + (i0 / mr) * kc * mr;
                        const int64_t n_rows = i0 + mr <= mb_rows ? mr : mb_rows - i0;
                        float *c_tile = c + (mb + i0) * ldc + n0;

                        if (n_rows == mr && n_cols == nr) {
                            kern->kernel(kc, a_panel, w_panel, c_tile, ldc, accumulate);
                        } else {
                            /* Edge tile: compute the full tile in a buffer and
                               copy out the valid part.
                               NOTE: with M below mr (one-token layers) every
                               tile is an edge tile and the kernel does mr rows
                               of work for each valid one; a GEMV path for small
                               M would remove that waste. */
                            for (int64_t r = 0; r < mr * nr; r++)
                                edge_tile[r] = 0.0f;
                            if (accumulate)
                                for (int64_t r = 0; r < n_rows; r++)
                                    memcpy(edge_tile + r * nr, c_tile + r * ldc,
                                           (size_t)n_cols * sizeof(float));
                            kern->kernel(kc, a_panel, w_panel, edge_tile, nr, 1);
                            for (int64_t r = 0; r < n_rows; r++)
                                memcpy(c_tile + r * ldc, edge_tile + r * nr,
                                       (size_t)n_cols * sizeof(float));
                        }
                        if (last_k)
                            apply_epilogue(ep, c, ldc, mb + i0, n0, n_rows, n_cols);
                    }
                }
            }
        }
    }
}

void LEVEL_NAME(atb_sgemm_packed)(const atb_sgemm_kernel *kern, int64_t m, const float *a,
                                  int64_t lda, const atb_packed_weight *w, float *c, int64_t ldc,
                                  const atb_epilogue *ep, float *scratch, int n_threads)
{
    const int mr = kern->mr, nr = kern->nr;
    const int64_t n = w->n;
    const int64_t n_mpanels = (m + mr - 1) / mr;
    const int64_t n_npanels = (n + nr - 1) / nr;
    const size_t scratch_per_thread = atb_sgemm_scratch_per_thread(mr);

    /* K = 0: C is the epilogue applied to zeros. */
    if (w->k == 0) {
        for (int64_t r = 0; r < m; r++)
            memset(c + r * ldc, 0, (size_t)n * sizeof(float));
        apply_epilogue(ep, c, ldc, 0, 0, m, n);
        return;
    }

#pragma omp parallel num_threads(n_threads > 0 ? n_threads : 1)
    {
        const int64_t tid = omp_get_thread_num(), nt = omp_get_num_threads();

        /* Split along M when every thread gets at least four row panels;
           otherwise (short sequences) along N, where each thread still
           gets whole panels. */
        int64_t m_lo = 0, m_hi = m, n_lo = 0, n_hi = n;
        if (n_mpanels >= 4 * nt || n_npanels < nt) {
            m_lo = n_mpanels * tid / nt * mr;
            m_hi = n_mpanels * (tid + 1) / nt * mr;
            m_hi = m_hi < m ? m_hi : m;
        } else {
            n_lo = n_npanels * tid / nt * nr;
            n_hi = n_npanels * (tid + 1) / nt * nr;
            n_hi = n_hi < n ? n_hi : n;
        }
        if (m_lo < m_hi && n_lo < n_hi)
            sgemm_rectangle(kern, a, lda, w, c, ldc, ep, m_lo, m_hi, n_lo, n_hi,
                            scratch + (size_t)tid * scratch_per_thread);
    }
}
