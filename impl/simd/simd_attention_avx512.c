/*
 * simd-avx512: flash attention, float32, AVX-512F intrinsics (compiled with
 * the AVX-512 flags only; reached only when atb_cpu_isa() has AVX-512).
 * The algorithm is simd_attention_template.h; this file gives its vector
 * operations and the tile sizes for 512-bit registers.
 */
#include "impl/simd/simd_attention.h"

#include <immintrin.h>

#define SIMD_LEVEL avx512
#define VL 16
/* QK^T block: 6 rows x 4 vectors (one whole 64-key tile) = 24 accumulators,
   plus 4 K vectors and a broadcast, within the 32 registers; 24 independent
   FMAs cover the 4-cycle latency on two FMA pipes three times over. */
#define MR 6
#define QK_NC 4
/* PV block: 6 rows x 4 vectors of output columns (64 columns). */
#define PV_NV 4
/* 64 keys: a row of the tile is four registers, so the softmax pass keeps it
   in registers, and the K tile ([D][64], 16 KiB at D = 64) and V tile fit
   L1 together. */
#define KV_TILE 64
/* 48 query rows (8 blocks of 6): each K and V tile loaded from L2 is reused
   by 8 row blocks, while the output tile ([48][Dp], 24 KiB at D = 128) and
   the score tile (12 KiB) stay in L1 or L2. */
#define Q_TILE 48
/* Decode logits: keys per register block of logits_direct(). 4 rows x 4
   keys = 16 accumulators, plus 4 K vectors and 4 query vectors. */
#define DIRECT_KEYS 4

typedef __m512 vf;
typedef __mmask16 vmask;

static inline vf v_zero(void) { return _mm512_setzero_ps(); }
static inline vf v_set1(float x) { return _mm512_set1_ps(x); }
static inline vf v_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void v_store(float *p, vf x) { _mm512_storeu_ps(p, x); }
static inline vf v_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf v_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf v_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf v_fmadd(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf v_fnmadd(vf a, vf b, vf c) { return _mm512_fnmadd_ps(a, b, c); }
static inline vf v_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vmask v_lt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
static inline vmask v_isnan(vf a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
static inline vmask v_mask_or(vmask a, vmask b) { return (vmask)(a | b); }
static inline int v_mask_any(vmask a) { return a != 0; }
static inline vf v_select(vmask m, vf a, vf b) { return _mm512_mask_blend_ps(m, b, a); }
static inline vmask v_first_lanes(int64_t n)
{
    if (n >= VL)
        return (vmask)0xffff;
    if (n <= 0)
        return (vmask)0;
    return (vmask)((1u << n) - 1u);
}
static inline vf v_load_first(const float *p, int64_t n)
{
    return _mm512_maskz_loadu_ps(v_first_lanes(n), p);
}
static inline float v_reduce_max(vf a) { return _mm512_reduce_max_ps(a); }
static inline float v_reduce_add(vf a) { return _mm512_reduce_add_ps(a); }
/* Stores the sum of the lanes of acc[r * 4 + k] to s[r * lds + k], for
   rows r < nr and keys k < 4. A tree of in-lane unpacks and shuffles, then
   128-bit block shuffles, adds the 16 vectors into one whose lane i is the
   sum of acc[i]: 30 shuffles and 15 adds instead of 16 full reductions. */
static inline void v_store_row_sums(const vf acc[16], int nr, float *s, int64_t lds)
{
    vf t[8], u[4], w[2];
    for (int i = 0; i < 8; i++) /* block c of t[i]: a0+a2 b0+b2 a1+a3 b1+b3 */
        t[i] = _mm512_add_ps(_mm512_unpacklo_ps(acc[2 * i], acc[2 * i + 1]),
                             _mm512_unpackhi_ps(acc[2 * i], acc[2 * i + 1]));
    for (int i = 0; i < 4; i++) /* block c of u[i]: block c's sums of acc[4i .. 4i+3] */
        u[i] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    for (int i = 0; i < 2; i++) /* blocks: u[2i] 0+1, 2+3, u[2i+1] 0+1, 2+3 */
        w[i] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    const vf sums = _mm512_add_ps(_mm512_shuffle_f32x4(w[0], w[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                  _mm512_shuffle_f32x4(w[0], w[1], _MM_SHUFFLE(3, 1, 3, 1)));
    _mm_storeu_ps(s, _mm512_castps512_ps128(sums));
    if (nr > 1)
        _mm_storeu_ps(s + lds, _mm512_extractf32x4_ps(sums, 1));
    if (nr > 2)
        _mm_storeu_ps(s + 2 * lds, _mm512_extractf32x4_ps(sums, 2));
    if (nr > 3)
        _mm_storeu_ps(s + 3 * lds, _mm512_extractf32x4_ps(sums, 3));
}
static inline vf v_round_log2e(vf x, vf *aux)
{
    *aux = x; /* unused: vscalefps takes n itself */
    return _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
/* vscalefps computes p * 2^floor(n) and returns NaN for a NaN p or n. */
static inline vf v_scale_pow2(vf p, vf n, vf aux)
{
    (void)aux;
    return _mm512_scalef_ps(p, n);
}

#include "impl/simd/simd_attention_template.h"
