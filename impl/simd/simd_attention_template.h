/*
 * The flash-attention job of simd-avx2 and simd-avx512, written once over a
 * small set of vector operations. Only simd_attention_avx2.c and
 * simd_attention_avx512.c include it, each compiled with its own ISA flags.
 * Neither copy is reachable on a CPU without that ISA, because the registry
 * entry and the plan check atb_cpu_isa() first.
 *
 * The including file defines, before the include:
 *   SIMD_LEVEL         avx2 or avx512 (symbol suffix)
 *   vf, vmask          the float vector and its lane mask types
 *   VL                 floats per vector
 *   MR                 rows of a register block (both products)
 *   QK_NC              vectors of keys per QK^T register block
 *   PV_NV              vectors of output columns per PV register block
 *   KV_TILE, Q_TILE    keys per tile, query rows per job
 *   DIRECT_KEYS        keys per register block of the decode logits
 * and the static inline functions v_zero, v_set1, v_load, v_store, v_add,
 * v_sub, v_mul, v_fmadd (a * b + c), v_fnmadd (c - a * b), v_max, v_lt
 * (ordered, false for NaN), v_isnan, v_load_first (lanes 0 .. n-1 of memory,
 * zero above, reading nothing past them), v_mask_or, v_mask_any, v_select
 * (mask ? a : b), v_first_lanes (lanes 0 .. n-1 set), v_reduce_max,
 * v_reduce_add, v_store_row_sums (the lane sums of a DIRECT_MAX_ROWS x
 * DIRECT_KEYS block of accumulators, stored as rows), v_round_log2e (n = x / ln 2 rounded to an integer, plus
 * in *aux whatever the ISA needs to form 2^n) and v_scale_pow2 (p * 2^n
 * for n in [-126, 0], NaN when p is NaN).
 *
 * Register blocks: QK^T holds MR x QK_NC accumulators, loads QK_NC vectors
 * of the packed K tile per step of d and broadcasts MR query values; PV
 * holds MR x PV_NV output vectors and loads PV_NV vectors of V per key.
 */
#include "impl/blocked/flash_tiling.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define SIMD_CONCAT_(a, b) a##b
#define SIMD_CONCAT(a, b) SIMD_CONCAT_(a, b)
#define SIMD_STRING_(x) #x
#define SIMD_STRING(x) SIMD_STRING_(x)
#define SIMD_NAME(base) SIMD_CONCAT(base, SIMD_LEVEL)
#define SIMD_INLINE static inline __attribute__((always_inline))

#define TILE_VECTORS (KV_TILE / VL)
_Static_assert(KV_TILE % (QK_NC * VL) == 0, "a K tile is whole QK^T register blocks");
_Static_assert(Q_TILE % MR == 0 || Q_TILE > MR, "a job holds at least one row block");
_Static_assert(KV_TILE % 8 == 0, "K tiles are packed in 8 x 8 blocks");

/* === Exponential === */

/* exp(x) for x <= 0 as 2^n * p(r), n = round(x / ln 2), r = x - n ln 2 in
   [-ln2/2, ln2/2] (ln 2 split in a high part exact in n * hi and a low
   part); p is a degree-6 polynomial fitted to exp on that interval, with a
   relative error of 7e-9 in exact arithmetic. Below
   ATB_FLASH_EXP_FLUSH_BELOW the result is exactly 0, so no weight is ever a
   denormal (this is the kernels' denormal policy; MXCSR is left alone).
   The flush test is an ordered compare, false for NaN, so NaN stays NaN.
   Measured maximum error against glibc expf over every float in
   [-87.34, 0]: 1 ULP (the exp_ulp test asserts <= 2). */
SIMD_INLINE vf v_exp_nonpositive(vf x)
{
    const vmask flush = v_lt(x, v_set1(ATB_FLASH_EXP_FLUSH_BELOW));

    /* n is in [-126, 0] for every lane that is not flushed, so 2^n is a
       normal float there. Flushed lanes may compute garbage (NaN for -inf),
       and the final select replaces it with 0. */
    vf aux;
    const vf n = v_round_log2e(x, &aux);
    vf r = v_fnmadd(n, v_set1(0.693145751953125f), x);
    r = v_fnmadd(n, v_set1(1.42860682030941723212e-6f), r);

    vf p = v_set1(1.35168223641812801e-3f);
    p = v_fmadd(p, r, v_set1(8.37053637951612473e-3f));
    p = v_fmadd(p, r, v_set1(4.16733585298061371e-2f));
    p = v_fmadd(p, r, v_set1(1.66664764285087585e-1f));
    p = v_fmadd(p, r, v_set1(4.99999731779098511e-1f));
    p = v_fmadd(p, r, v_set1(1.0f));
    p = v_fmadd(p, r, v_set1(1.0f));

    return v_select(flush, v_zero(), v_scale_pow2(p, n, aux));
}

void SIMD_NAME(atb_simd_exp_f32_)(const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + VL <= n; i += VL)
        v_store(y + i, v_exp_nonpositive(v_load(x + i)));
    if (i < n) {
        float in[VL], out[VL];
        for (int lane = 0; lane < VL; lane++)
            in[lane] = i + lane < n ? x[i + lane] : 0.0f;
        v_store(out, v_exp_nonpositive(v_load(in)));
        memcpy(y + i, out, (size_t)(n - i) * sizeof(float));
    }
}

/* === K tile packing === */

/* Writes the transpose of an 8 x 8 block: rows are 8 keys' elements
   d0 .. d0+7, stored as 8 columns j0 .. j0+7 of the [D][KV_TILE] tile. */
SIMD_INLINE void transpose_8x8(const float *k, int64_t D, float *dst)
{
    __m256 r[8], t[8], u[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(k + i * D);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);     /* a0 b0 a1 b1 | a4 b4 a5 b5 */
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]); /* a2 b2 a3 b3 | a6 b6 a7 b7 */
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);     /* a0 b0 c0 d0 | a4 .. d4 */
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee); /* a1 .. d1 | a5 .. d5 */
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + i * KV_TILE, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * KV_TILE, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
    }
}

/* Packs keys 0 .. n-1 of k [n][D] into dst [D][KV_TILE] with zero columns
   n .. KV_TILE-1, like atb_flash_pack_k_tile but with 8 x 8 register
   transposes: about 5 instructions per 8 elements instead of 16, which
   matters when a K tile is packed for a few dozen query rows. */
static void pack_k_tile(const float *restrict k, int64_t D, int64_t n, float *restrict dst)
{
    const int64_t n8 = n / 8 * 8, D8 = D / 8 * 8;
    for (int64_t j = 0; j < n8; j += 8) {
        for (int64_t d = 0; d < D8; d += 8)
            transpose_8x8(k + j * D + d, D, dst + d * KV_TILE + j);
        for (int64_t jj = j; jj < j + 8; jj++)
            for (int64_t d = D8; d < D; d++)
                dst[d * KV_TILE + jj] = k[jj * D + d];
    }
    for (int64_t j = n8; j < n; j++)
        for (int64_t d = 0; d < D; d++)
            dst[d * KV_TILE + j] = k[j * D + d];
    if (n < KV_TILE)
        for (int64_t d = 0; d < D; d++)
            memset(dst + d * KV_TILE + n, 0, (size_t)(KV_TILE - n) * sizeof(float));
}

/* === QK^T register block === */

/* s[r][col .. col + QK_NC*VL) = q_r . kt[:, col ..] for nr <= MR rows.
   nr is a constant after inlining, so acc lives in registers. */
SIMD_INLINE void logits_micro(const int nr, const float *const *q_rows, int64_t D,
                              const float *restrict kt, int64_t col, float *restrict s)
{
    vf acc[MR][QK_NC];
    const float *q[MR];
    for (int r = 0; r < nr; r++) {
        q[r] = q_rows[r];
        for (int c = 0; c < QK_NC; c++)
            acc[r][c] = v_zero();
    }

    for (int64_t d = 0; d < D; d++) {
        vf k[QK_NC];
        for (int c = 0; c < QK_NC; c++)
            k[c] = v_load(kt + d * KV_TILE + col + c * VL);
        for (int r = 0; r < nr; r++) {
            const vf a = v_set1(q[r][d]);
            for (int c = 0; c < QK_NC; c++)
                acc[r][c] = v_fmadd(a, k[c], acc[r][c]);
        }
    }

    for (int r = 0; r < nr; r++)
        for (int c = 0; c < QK_NC; c++)
            v_store(s + r * KV_TILE + col + c * VL, acc[r][c]);
}

static void logits_block(int nr, const float *const *q_rows, int64_t D, const float *kt,
                         float *s)
{
    for (int64_t col = 0; col < KV_TILE; col += QK_NC * VL) {
        switch (nr) {
#define LOGITS_CASE(n)                                                                    \
    case n: logits_micro(n, q_rows, D, kt, col, s); break;
            LOGITS_CASE(1)
            LOGITS_CASE(2)
            LOGITS_CASE(3)
            LOGITS_CASE(4)
            LOGITS_CASE(5)
            LOGITS_CASE(6)
#if MR > 6
            LOGITS_CASE(7)
            LOGITS_CASE(8)
#endif
#undef LOGITS_CASE
        default: break;
        }
    }
}

/* === QK^T from unpacked K, for few rows === */

/* How far ahead a decode job prefetches, in tiles. On the development
   machine (Zen 4, decode with Lk = 8192, D = 128), 2 tiles (128 KiB of K
   and V at D = 128, within the 1 MiB L2) gave about 10% more bandwidth
   than 1 tile, and 3 tiles no more than 2. */
#define PREFETCH_TILES 2

/* The K and V rows of a later tile, [0, n_floats) of each, which a decode
   job prefetches while it computes on the current tile. n_floats is 0
   when there is no such tile. */
typedef struct {
    const float *k, *v;
    int64_t n_floats;
} atb_prefetch_span;

/* Prefetches floats [begin, end) of both arrays of the span into L2, one
   request per 64-byte line (one per second or fourth line was slower). The
   hardware prefetchers alone do not run far enough ahead of a job that
   computes between its loads, so without this the bandwidth-bound decode
   case waits on memory. */
SIMD_INLINE void prefetch_span_part(const atb_prefetch_span *next, int64_t begin, int64_t end)
{
    if (end > next->n_floats)
        end = next->n_floats;
    for (int64_t i = begin; i < end; i += 16) {
        _mm_prefetch((const char *)(next->k + i), _MM_HINT_T1);
        _mm_prefetch((const char *)(next->v + i), _MM_HINT_T1);
    }
}

/* Rows a job may have for logits_direct(); more rows amortize packing. */
#define DIRECT_MAX_ROWS 4

/* s[r][j] = q_r . k_j for nr <= DIRECT_MAX_ROWS rows and j < n_keys,
   reading K rows as they are stored. For decode (one to four query rows
   per KV head) this beats packing: K is read once, and a transpose would
   cost more than the products it feeds. A register block takes
   DIRECT_KEYS keys for every row. Each dot product runs along d, and
   v_store_row_sums() then reduces the block's accumulators across lanes
   in one tree. Each block also prefetches its share of a later tile (next),
   spread over its loads so the requests never come in one burst. nr is a
   constant after inlining. */
SIMD_INLINE void logits_direct_rows(const int nr, const float *const *q_rows, int64_t D,
                                    const float *restrict k, int64_t n_keys,
                                    const atb_prefetch_span *next, float *restrict s)
{
    const int64_t D_full = D / VL * VL, n_tail = D - D_full;
    const float *q[DIRECT_MAX_ROWS];
    for (int r = 0; r < DIRECT_MAX_ROWS; r++)
        q[r] = q_rows[r < nr ? r : 0];

    int64_t j = 0;
    for (; j + DIRECT_KEYS <= n_keys; j += DIRECT_KEYS) {
        vf acc[DIRECT_MAX_ROWS * DIRECT_KEYS];
        for (int i = 0; i < DIRECT_MAX_ROWS * DIRECT_KEYS; i++)
            acc[i] = v_zero();
        for (int64_t d = 0; d < D_full; d += VL) {
            /* The block's share of the prefetched tile, spread over its loads. */
            prefetch_span_part(next, j * D + d * DIRECT_KEYS, j * D + (d + VL) * DIRECT_KEYS);
            vf kv[DIRECT_KEYS];
            for (int c = 0; c < DIRECT_KEYS; c++)
                kv[c] = v_load(k + (j + c) * D + d);
            for (int r = 0; r < nr; r++) {
                const vf qv = v_load(q[r] + d);
                for (int c = 0; c < DIRECT_KEYS; c++)
                    acc[r * DIRECT_KEYS + c] = v_fmadd(qv, kv[c], acc[r * DIRECT_KEYS + c]);
            }
        }
        if (n_tail) {
            for (int r = 0; r < nr; r++) {
                const vf qv = v_load_first(q[r] + D_full, n_tail);
                for (int c = 0; c < DIRECT_KEYS; c++)
                    acc[r * DIRECT_KEYS + c] =
                        v_fmadd(qv, v_load_first(k + (j + c) * D + D_full, n_tail),
                                acc[r * DIRECT_KEYS + c]);
            }
        }
        v_store_row_sums(acc, nr, s + j, KV_TILE);
        prefetch_span_part(next, j * D + D_full * DIRECT_KEYS, (j + DIRECT_KEYS) * D);
    }

    for (; j < n_keys; j++) {
        const float *kj = k + j * D;
        vf acc[DIRECT_MAX_ROWS];
        for (int r = 0; r < nr; r++)
            acc[r] = v_zero();
        for (int64_t d = 0; d < D_full; d += VL) {
            const vf kv = v_load(kj + d);
            for (int r = 0; r < nr; r++)
                acc[r] = v_fmadd(v_load(q[r] + d), kv, acc[r]);
        }
        if (n_tail) {
            const vf kv = v_load_first(kj + D_full, n_tail);
            for (int r = 0; r < nr; r++)
                acc[r] = v_fmadd(v_load_first(q[r] + D_full, n_tail), kv, acc[r]);
        }
        for (int r = 0; r < nr; r++)
            s[r * KV_TILE + j] = v_reduce_add(acc[r]);
        prefetch_span_part(next, j * D, (j + 1) * D);
    }
}

static void logits_direct(int64_t n_rows, const float *const *q_rows, int64_t D,
                          const float *restrict k, int64_t n_keys,
                          const atb_prefetch_span *next, float *restrict s)
{
    switch (n_rows) {
    case 1: logits_direct_rows(1, q_rows, D, k, n_keys, next, s); break;
    case 2: logits_direct_rows(2, q_rows, D, k, n_keys, next, s); break;
    case 3: logits_direct_rows(3, q_rows, D, k, n_keys, next, s); break;
    case 4: logits_direct_rows(4, q_rows, D, k, n_keys, next, s); break;
    default: break;
    }
}

/* === PV register block === */

#define PV_MAX_NV 4

/* o[r][col .. col + nv*VL) += sum over j < n_keys of p[r][j] v[j][col ..]. */
SIMD_INLINE void values_micro(const int nr, const int nv, const float *restrict p, int64_t ldp,
                              const float *restrict v, int64_t ldv, int64_t n_keys,
                              float *restrict o, int64_t ldo, int64_t col)
{
    /* Sized for the widest tail case the dispatch below names (3 vectors),
       which AVX2's PV_NV = 2 never reaches but still compiles. */
    vf acc[MR][PV_MAX_NV];
    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nv; c++)
            acc[r][c] = v_load(o + r * ldo + col + c * VL);

    for (int64_t j = 0; j < n_keys; j++) {
        vf x[PV_MAX_NV];
        for (int c = 0; c < nv; c++)
            x[c] = v_load(v + j * ldv + col + c * VL);
        for (int r = 0; r < nr; r++) {
            const vf a = v_set1(p[r * ldp + j]);
            for (int c = 0; c < nv; c++)
                acc[r][c] = v_fmadd(a, x[c], acc[r][c]);
        }
    }

    for (int r = 0; r < nr; r++)
        for (int c = 0; c < nv; c++)
            v_store(o + r * ldo + col + c * VL, acc[r][c]);
}

/* Full-width column blocks for nr rows, then the narrower tail block. */
#define VALUES_ROWS(n)                                                                    \
    static void values_rows_##n(const float *p, int64_t ldp, const float *v, int64_t ldv, \
                                int64_t n_keys, float *o, int64_t ldo, int64_t n_vectors) \
    {                                                                                     \
        int64_t c = 0;                                                                    \
        for (; c + PV_NV <= n_vectors; c += PV_NV)                                        \
            values_micro(n, PV_NV, p, ldp, v, ldv, n_keys, o, ldo, c * VL);               \
        switch (n_vectors - c) {                                                          \
        case 1: values_micro(n, 1, p, ldp, v, ldv, n_keys, o, ldo, c * VL); break;        \
        case 2:                                                                           \
            if (PV_NV > 2)                                                                \
                values_micro(n, 2, p, ldp, v, ldv, n_keys, o, ldo, c * VL);               \
            break;                                                                        \
        case 3:                                                                           \
            if (PV_NV > 3)                                                                \
                values_micro(n, 3, p, ldp, v, ldv, n_keys, o, ldo, c * VL);               \
            break;                                                                        \
        default: break;                                                                   \
        }                                                                                 \
    }
_Static_assert(PV_NV <= PV_MAX_NV, "the tail switch covers up to 3 leftover vectors");
VALUES_ROWS(1)
VALUES_ROWS(2)
VALUES_ROWS(3)
VALUES_ROWS(4)
VALUES_ROWS(5)
VALUES_ROWS(6)
#if MR > 6
VALUES_ROWS(7)
VALUES_ROWS(8)
#endif
#undef VALUES_ROWS

static void values_block(int nr, const float *p, int64_t ldp, const float *v, int64_t ldv,
                         int64_t n_keys, float *o, int64_t ldo, int64_t n_vectors)
{
    switch (nr) {
    case 1: values_rows_1(p, ldp, v, ldv, n_keys, o, ldo, n_vectors); break;
    case 2: values_rows_2(p, ldp, v, ldv, n_keys, o, ldo, n_vectors); break;
    case 3: values_rows_3(p, ldp, v, ldv, n_keys, o, ldo, n_vectors); break;
    case 4: values_rows_4(p, ldp, v, ldv, n_keys, o, ldo, n_vectors); break;
    case 5: values_rows_5(p, ldp, v, ldv, n_keys, o, ldo, n_vectors); break;
    case 6: values_rows_6(p, ldp, v, ldv, n_keys, o, ldo, n_vectors); break;
#if MR > 6
    case 7: values_rows_7(p, ldp, v, ldv, n_keys, o, ldo, n_vectors); break;
    case 8: values_rows_8(p, ldp, v, ldv, n_keys, o, ldo, n_vectors); break;
#endif
    default: break;
    }
}

/* === Online softmax, one fused pass per row === */

/* Scales a row's KV_TILE logits, masks keys n_allowed.. and takes their
   max. Updates the running max m, and rescales the row's output and its
   sum l only when m changed. Then stores exp(x - m) and adds it to l. The
   row stays in registers between the two halves. Returns the number of
   keys the PV product must read: n_allowed, or 0 while every allowed logit
   so far is -inf. */
static int64_t softmax_row(float *restrict s, int64_t n_allowed, float scale, float *m,
                           float *l, float *restrict o_row, int64_t Dp)
{
    vf x[TILE_VECTORS];
    vf vmax = v_set1(-INFINITY);
    const vf vscale = v_set1(scale);

    /* The max may drop a NaN logit (a max instruction returns one of its
       operands), but the NaN still reaches exp(x - m), which returns NaN,
       so the sum and the output row become NaN, as in the max-subtracted
       softmax. No per-element NaN test is needed on this path. */
    for (int c = 0; c < TILE_VECTORS; c++) {
        x[c] = v_mul(v_load(s + c * VL), vscale);
        if (n_allowed < (c + 1) * VL)
            x[c] = v_select(v_first_lanes(n_allowed - c * VL), x[c], v_set1(-INFINITY));
        vmax = v_max(vmax, x[c]);
    }
    const float tile_max = v_reduce_max(vmax);

    const float m_old = *m;
    float m_new = m_old > tile_max ? m_old : tile_max;
    if (m_new == -INFINITY) {
        /* Every allowed logit so far is -inf, or NaN that the max dropped:
           the first adds nothing yet, the second must poison the row. */
        vmask nan = v_isnan(x[0]);
        for (int c = 1; c < TILE_VECTORS; c++)
            nan = v_mask_or(nan, v_isnan(x[c]));
        if (!v_mask_any(nan))
            return 0;
        m_new = NAN;
    }

    /* Rescale only when the max changed; NaN != NaN keeps a NaN row NaN. */
    if (m_new != m_old) {
        const float alpha = atb_flash_exp_scalar(m_old - m_new);
        const vf valpha = v_set1(alpha);
        *l *= alpha;
        for (int64_t c = 0; c < Dp; c += VL)
            v_store(o_row + c, v_mul(v_load(o_row + c), valpha));
        *m = m_new;
    }

    const vf vm = v_set1(m_new);
    vf sum = v_zero();
    for (int c = 0; c < TILE_VECTORS; c++) {
        const vf e = v_exp_nonpositive(v_sub(x[c], vm));
        v_store(s + c * VL, e);
        sum = v_add(sum, e);
    }
    *l += v_reduce_add(sum);
    return n_allowed;
}

/* === Job === */

static void finalize(const atb_flash_job *job)
{
    const int64_t D = job->head_dim, Dp = job->head_dim_padded;
    const atb_flash_scratch *sc = &job->scratch;

    if (job->partial_o) {
        memcpy(job->partial_o, sc->o, (size_t)(job->n_rows * Dp) * sizeof(float));
        memcpy(job->partial_m, sc->m, (size_t)job->n_rows * sizeof(float));
        memcpy(job->partial_l, sc->l, (size_t)job->n_rows * sizeof(float));
        return;
    }
    for (int64_t r = 0; r < job->n_rows; r++) {
        float *out = job->out_rows[r];
        const float *o = sc->o + r * Dp;
        if (job->row_limit[r] == 0) {
            memset(out, 0, (size_t)D * sizeof(float)); /* no allowed key */
            continue;
        }
        if (sc->m[r] == -INFINITY) {
            for (int64_t d = 0; d < D; d++)
                out[d] = NAN; /* every allowed logit is -inf: 0/0 */
            continue;
        }
        const float inverse = 1.0f / sc->l[r];
        const vf vinverse = v_set1(inverse);
        int64_t d = 0;
        for (; d + VL <= D; d += VL)
            v_store(out + d, v_mul(v_load(o + d), vinverse));
        for (; d < D; d++)
            out[d] = o[d] * inverse;
    }
}

static void simd_rows(const atb_flash_job *job)
{
    const int64_t D = job->head_dim, Dp = job->head_dim_padded, n_rows = job->n_rows;
    const int64_t n_vectors = Dp / VL;
    const atb_flash_scratch *sc = &job->scratch;
    int64_t n_weights[Q_TILE]; /* keys each row reads in the PV product of this tile */

    /* Rows start empty: max -inf, sum 0, output 0. */
    int64_t max_limit = 0;
    for (int64_t r = 0; r < n_rows; r++) {
        sc->m[r] = -INFINITY;
        sc->l[r] = 0.0f;
        max_limit = job->row_limit[r] > max_limit ? job->row_limit[r] : max_limit;
    }
    memset(sc->o, 0, (size_t)(n_rows * Dp) * sizeof(float));

    /* Tiles past every row's limit are skipped, not computed and masked. */
    for (int64_t j0 = job->kv_begin; j0 < job->kv_end && j0 < max_limit; j0 += KV_TILE) {
        const int64_t n_keys = job->kv_end - j0 < KV_TILE ? job->kv_end - j0 : KV_TILE;

        /* V rows [n_keys][Dp], packed here when the plan did not pack
           them and D needs padding. */
        const float *vt = job->v + j0 * D;
        if (job->v_packed) {
            vt = job->v_packed + j0 * Dp;
        } else if (Dp != D) {
            atb_flash_pack_v_rows(job->v + j0 * D, D, n_keys, Dp, sc->vt);
            vt = sc->vt;
        }

        if (!job->k_packed && n_rows <= DIRECT_MAX_ROWS) {
            /* Few rows: logits straight from the K rows, while the K and
               V rows PREFETCH_TILES tiles ahead are prefetched. */
            const int64_t j1 = j0 + PREFETCH_TILES * KV_TILE;
            const int64_t end = job->kv_end < max_limit ? job->kv_end : max_limit;
            atb_prefetch_span next = {.k = job->k, .v = job->v, .n_floats = 0};
            if (j1 < end) {
                next.k = job->k + j1 * D;
                next.v = job->v + j1 * D;
                next.n_floats = (end - j1 < KV_TILE ? end - j1 : KV_TILE) * D;
            }
            logits_direct(n_rows, job->q_rows, D, job->k + j0 * D, n_keys, &next, sc->s);
        } else {
            /* K tile [D][KV_TILE], packed here unless the plan packed it. */
            const float *kt = job->k_packed ? job->k_packed + (j0 / KV_TILE) * D * KV_TILE
                                            : sc->kt;
            if (!job->k_packed)
                pack_k_tile(job->k + j0 * D, D, n_keys, sc->kt);

            /* Logits of every row block that has an allowed key in the tile. */
            for (int64_t r0 = 0; r0 < n_rows; r0 += MR) {
                const int nb = (int)(n_rows - r0 < MR ? n_rows - r0 : MR);
                int64_t block_limit = 0;
                for (int64_t r = r0; r < r0 + nb; r++)
                    block_limit =
                        job->row_limit[r] > block_limit ? job->row_limit[r] : block_limit;
                if (block_limit > j0)
                    logits_block(nb, job->q_rows + r0, D, kt, sc->s + r0 * KV_TILE);
            }
        }

        /* Softmax of each row over its allowed keys in the tile. The mask
           is applied only when the row's limit or the key range ends
           inside the tile. */
        for (int64_t r = 0; r < n_rows; r++) {
            const int64_t limit = job->row_limit[r] < j0 + n_keys ? job->row_limit[r]
                                                                  : j0 + n_keys;
            n_weights[r] = 0;
            if (limit > j0)
                n_weights[r] = softmax_row(sc->s + r * KV_TILE, limit - j0, job->scale,
                                           &sc->m[r], &sc->l[r], sc->o + r * Dp, Dp);
        }

        /* PV: a block reads the keys that all its rows allow, and each row
           then adds its own remaining keys. A masked key's value (NaN, say)
           is thus never multiplied, not even by a zero weight. */
        for (int64_t r0 = 0; r0 < n_rows; r0 += MR) {
            const int nb = (int)(n_rows - r0 < MR ? n_rows - r0 : MR);
            int64_t common = KV_TILE;
            for (int64_t r = r0; r < r0 + nb; r++)
                common = n_weights[r] < common ? n_weights[r] : common;
            if (common > 0)
                values_block(nb, sc->s + r0 * KV_TILE, KV_TILE, vt, Dp, common,
                             sc->o + r0 * Dp, Dp, n_vectors);
            for (int64_t r = r0; r < r0 + nb; r++)
                if (n_weights[r] > common)
                    values_block(1, sc->s + r * KV_TILE + common, KV_TILE, vt + common * Dp,
                                 Dp, n_weights[r] - common, sc->o + r * Dp, Dp, n_vectors);
        }
    }

    finalize(job);
}

const atb_flash_kernel SIMD_NAME(atb_simd_attention_f32_kernel_) = {
    .isa_name = SIMD_STRING(SIMD_LEVEL),
    .vector_floats = VL,
    .kv_tile = KV_TILE,
    .q_tile = Q_TILE,
    .rows = simd_rows,
};
