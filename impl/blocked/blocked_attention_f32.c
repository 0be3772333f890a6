/*
 * blocked: flash attention in portable C11, float32, no intrinsics.
 *
 * One job (see flash_tiling.h) is a tile of at most Q_TILE query rows of one
 * KV head against a range of keys, processed KV_TILE keys at a time. Each
 * tile computes the logits of 4-row blocks against the packed K tile, then
 * an online softmax per row, then the weighted sum of values. The softmax
 * keeps a running max and sum, rescales the output only when the max
 * grows, and divides by the sum once at the end. The Lq x Lk score matrix
 * never exists, only one tile of it in scratch.
 *
 * The loops run over fixed-size arrays (lane arrays for the reductions) so
 * that GCC vectorizes them. This file is compiled three times, for baseline
 * x86-64, AVX2 + FMA and AVX-512; BLOCKED_LEVEL gives each copy its own
 * symbol names, and blocked.c picks a copy at run time.
 */
#include "impl/blocked/blocked_attention.h"
#include "impl/blocked/flash_tiling.h"

#include <math.h>
#include <string.h>

#ifndef BLOCKED_LEVEL
#error "compile with -DBLOCKED_LEVEL=scalar, avx2 or avx512"
#endif
#define BLOCKED_CONCAT_(a, b) a##b
#define BLOCKED_CONCAT(a, b) BLOCKED_CONCAT_(a, b)
#define BLOCKED_STRING_(x) #x
#define BLOCKED_STRING(x) BLOCKED_STRING_(x)
#define BLOCKED_NAME(base) BLOCKED_CONCAT(base, BLOCKED_LEVEL)

/* Keys per tile: 64 logits of a row are four 512-bit vectors, and a
   [D][64] K tile plus a [64][D] V tile is 32 KiB at D = 64, which stays in
   the 48 KiB L1 of the machines this targets. */
#define KV_TILE 64
/* Query rows per job: the [Q_TILE][Dp] output tile (16 KiB at D = 128) and
   the [Q_TILE][KV_TILE] score tile stay in L1 while each K and V tile is
   reused Q_TILE times. */
#define Q_TILE 32
/* Rows per register block: 4 rows x 64 logits is sixteen 512-bit
   accumulators. */
#define ROW_BLOCK 4
/* Output columns per register block in the PV product. */
#define COL_BLOCK 64
/* Lanes of the max, NaN and sum reductions; 16 fills one 512-bit vector. */
#define LANES 16
/* Dp, the padded head dimension, is a multiple of this. */
#define PAD_FLOATS 16

_Static_assert(KV_TILE % LANES == 0, "the reductions run over whole lane groups");
_Static_assert(COL_BLOCK % PAD_FLOATS == 0, "column blocks are whole padded groups");

/* === Exponential === */

/* exp(x) for x <= 0 as 2^n * p(r), n = round(x / ln 2), r = x - n ln 2 in
   [-ln2/2, ln2/2]; p is a degree-6 polynomial fitted to exp on that interval
   (relative error 7e-9 in exact arithmetic). Inputs below
   ATB_FLASH_EXP_FLUSH_BELOW give exactly 0, so no result is a denormal, and
   NaN gives NaN. Maximum error against libm expf: 1 ULP, measured over
   every float in [-87.34, 0] by the exp_ulp test. */
static inline float exp_nonpositive(float x)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    const uint32_t magic_bits = 0x4b400000u;
    const int flush = x < ATB_FLASH_EXP_FLUSH_BELOW;
    const float xc = flush ? 0.0f : x;

    /* n is in [-126, 0], so 2^n is a normal float. */
    const float shifted = xc * 1.44269504088896341f + magic;
    const float n = shifted - magic;
    float r = xc - n * 0.693145751953125f;  /* ln 2 high part, exact in n * hi */
    r = r - n * 1.42860682030941723212e-6f; /* ln 2 low part */

    float p = 1.35168223641812801e-3f;
    p = p * r + 8.37053637951612473e-3f;
    p = p * r + 4.16733585298061371e-2f;
    p = p * r + 1.66664764285087585e-1f;
    p = p * r + 4.99999731779098511e-1f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;

    uint32_t bits;
    memcpy(&bits, &shifted, sizeof(bits));
    bits = (bits - magic_bits + 127u) << 23; /* the exponent field of 2^n */
    float power;
    memcpy(&power, &bits, sizeof(power));
    return flush ? 0.0f : p * power;
}

void BLOCKED_NAME(atb_blocked_exp_f32_)(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = exp_nonpositive(x[i]);
}

/* === Matrix products === */

/* s[r][0..KV_TILE) = q_r . kt[:, j] for the rows of one block. */
static void logits_block(int64_t n_rows, const float *const *q_rows, int64_t D,
                         const float *restrict kt, float *restrict s)
{
    float acc[ROW_BLOCK][KV_TILE];
    memset(acc, 0, sizeof(acc));
    if (n_rows == ROW_BLOCK) {
        const float *q0 = q_rows[0], *q1 = q_rows[1], *q2 = q_rows[2], *q3 = q_rows[3];
        for (int64_t d = 0; d < D; d++) {
            const float *restrict kd = kt + d * KV_TILE;
            const float a0 = q0[d], a1 = q1[d], a2 = q2[d], a3 = q3[d];
            for (int j = 0; j < KV_TILE; j++) {
                acc[0][j] += a0 * kd[j];
                acc[1][j] += a1 * kd[j];
                acc[2][j] += a2 * kd[j];
                acc[3][j] += a3 * kd[j];
            }
        }
    } else {
        for (int64_t d = 0; d < D; d++)
            for (int64_t r = 0; r < n_rows; r++) {
                const float a = q_rows[r][d];
                for (int j = 0; j < KV_TILE; j++)
                    acc[r][j] += a * kt[d * KV_TILE + j];
            }
    }
    memcpy(s, acc, (size_t)n_rows * KV_TILE * sizeof(float));
}

/* o[r][0..Dp) += sum over j < n_keys of p[r][j] * v[j][0..Dp). */
static void weighted_values(int64_t n_rows, const float *restrict p, int64_t ldp,
                            const float *restrict v, int64_t ldv, int64_t n_keys,
                            int64_t Dp, float *restrict o, int64_t ldo)
{
    for (int64_t c0 = 0; c0 < Dp; c0 += COL_BLOCK) {
        const int64_t width = Dp - c0 < COL_BLOCK ? Dp - c0 : COL_BLOCK;
        float acc[ROW_BLOCK][COL_BLOCK];
        for (int64_t r = 0; r < n_rows; r++)
            memcpy(acc[r], o + r * ldo + c0, (size_t)width * sizeof(float));

        if (n_rows == ROW_BLOCK && width == COL_BLOCK) {
            for (int64_t j = 0; j < n_keys; j++) {
                const float *restrict vj = v + j * ldv + c0;
                const float p0 = p[j], p1 = p[ldp + j], p2 = p[2 * ldp + j],
                            p3 = p[3 * ldp + j];
                for (int c = 0; c < COL_BLOCK; c++) {
                    acc[0][c] += p0 * vj[c];
                    acc[1][c] += p1 * vj[c];
                    acc[2][c] += p2 * vj[c];
                    acc[3][c] += p3 * vj[c];
                }
            }
        } else {
            for (int64_t j = 0; j < n_keys; j++)
                for (int64_t r = 0; r < n_rows; r++) {
                    const float pr = p[r * ldp + j];
                    for (int64_t c = 0; c < width; c++)
                        acc[r][c] += pr * v[j * ldv + c0 + c];
                }
        }

        for (int64_t r = 0; r < n_rows; r++)
            memcpy(o + r * ldo + c0, acc[r], (size_t)width * sizeof(float));
    }
}

/* === Online softmax === */

/* Turns one row's logits s[0..KV_TILE) into weights in place: scaled,
   keys n_allowed.. masked, and exponentiated against the new running max.
   Updates m and l, and rescales the row's output when the max grows.
   Returns the number of keys whose weight the PV product must read (0 when
   the row has no finite max yet). */
static int64_t softmax_row(float *restrict s, int64_t n_allowed, float scale, float *m,
                           float *l, float *restrict o_row, int64_t Dp)
{
    float lane_max[LANES], lane_sum[LANES];
    int lane_nan[LANES];
    for (int i = 0; i < LANES; i++) {
        lane_max[i] = -INFINITY;
        lane_nan[i] = 0;
        lane_sum[i] = 0.0f;
    }

    /* Scale, mask, max and NaN flag. A max written as a compare drops NaN,
       so NaN is tracked on its own: one NaN logit makes the row NaN. */
    for (int j0 = 0; j0 < KV_TILE; j0 += LANES)
        for (int i = 0; i < LANES; i++) {
            const float x = j0 + i < n_allowed ? s[j0 + i] * scale : -INFINITY;
            s[j0 + i] = x;
            lane_nan[i] |= x != x;
            lane_max[i] = x > lane_max[i] ? x : lane_max[i];
        }
    float tile_max = -INFINITY;
    int any_nan = 0;
    for (int i = 0; i < LANES; i++) {
        tile_max = lane_max[i] > tile_max ? lane_max[i] : tile_max;
        any_nan |= lane_nan[i];
    }

    const float m_old = *m;
    float m_new = m_old > tile_max ? m_old : tile_max;
    if (any_nan || isnan(m_old))
        m_new = NAN;
    if (m_new == -INFINITY)
        return 0; /* every allowed logit so far is -inf: nothing to add yet */

    /* Rescale only when the max changed; NaN != NaN keeps a NaN row NaN. */
    if (m_new != m_old) {
        const float alpha = atb_flash_exp_scalar(m_old - m_new);
        *l *= alpha;
        for (int64_t c = 0; c < Dp; c++)
            o_row[c] *= alpha;
        *m = m_new;
    }

    for (int j0 = 0; j0 < KV_TILE; j0 += LANES)
        for (int i = 0; i < LANES; i++) {
            const float e = exp_nonpositive(s[j0 + i] - m_new);
            s[j0 + i] = e;
            lane_sum[i] += e;
        }
    float sum = 0.0f;
    for (int i = 0; i < LANES; i++)
        sum += lane_sum[i];
    *l += sum;
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
        } else if (sc->m[r] == -INFINITY) {
            for (int64_t d = 0; d < D; d++)
                out[d] = NAN; /* every allowed logit is -inf: 0/0 */
        } else {
            const float inverse = 1.0f / sc->l[r];
            for (int64_t d = 0; d < D; d++)
                out[d] = o[d] * inverse;
        }
    }
}

static void blocked_rows(const atb_flash_job *job)
{
    const int64_t D = job->head_dim, Dp = job->head_dim_padded, n_rows = job->n_rows;
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

    for (int64_t j0 = job->kv_begin; j0 < job->kv_end && j0 < max_limit; j0 += KV_TILE) {
        const int64_t n_keys = job->kv_end - j0 < KV_TILE ? job->kv_end - j0 : KV_TILE;

        /* K tile [D][KV_TILE] and V rows [n_keys][Dp], packed unless the
           plan packed them already or V needs no padding. */
        const float *kt = job->k_packed ? job->k_packed + (j0 / KV_TILE) * D * KV_TILE
                                        : sc->kt;
        if (!job->k_packed)
            atb_flash_pack_k_tile(job->k + j0 * D, D, n_keys, KV_TILE, sc->kt);
        const float *vt = job->v + j0 * D;
        if (job->v_packed) {
            vt = job->v_packed + j0 * Dp;
        } else if (Dp != D) {
            atb_flash_pack_v_rows(job->v + j0 * D, D, n_keys, Dp, sc->vt);
            vt = sc->vt;
        }

        /* Logits of every row block that has an allowed key in the tile. */
        for (int64_t r0 = 0; r0 < n_rows; r0 += ROW_BLOCK) {
            const int64_t nb = n_rows - r0 < ROW_BLOCK ? n_rows - r0 : ROW_BLOCK;
            int64_t block_limit = 0;
            for (int64_t r = r0; r < r0 + nb; r++)
                block_limit = job->row_limit[r] > block_limit ? job->row_limit[r] : block_limit;
            if (block_limit > j0)
                logits_block(nb, job->q_rows + r0, D, kt, sc->s + r0 * KV_TILE);
        }

        /* Softmax of each row over its allowed keys in the tile. */
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
        for (int64_t r0 = 0; r0 < n_rows; r0 += ROW_BLOCK) {
            const int64_t nb = n_rows - r0 < ROW_BLOCK ? n_rows - r0 : ROW_BLOCK;
            int64_t common = KV_TILE;
            for (int64_t r = r0; r < r0 + nb; r++)
                common = n_weights[r] < common ? n_weights[r] : common;
            if (common > 0)
                weighted_values(nb, sc->s + r0 * KV_TILE, KV_TILE, vt, Dp, common, Dp,
                                sc->o + r0 * Dp, Dp);
            for (int64_t r = r0; r < r0 + nb; r++)
                if (n_weights[r] > common)
                    weighted_values(1, sc->s + r * KV_TILE + common, KV_TILE, vt + common * Dp,
                                    Dp, n_weights[r] - common, Dp, sc->o + r * Dp, Dp);
        }
    }

    finalize(job);
}

const atb_flash_kernel BLOCKED_NAME(atb_blocked_attention_f32_kernel_) = {
    .isa_name = BLOCKED_STRING(BLOCKED_LEVEL),
    .vector_floats = PAD_FLOATS,
    .kv_tile = KV_TILE,
    .q_tile = Q_TILE,
    .rows = blocked_rows,
};
