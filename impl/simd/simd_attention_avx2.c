/*
 * simd-avx2: flash attention, float32, AVX2 + FMA intrinsics (compiled with
 * the AVX2 flags only; reached only when atb_cpu_isa() has AVX2).
 * The algorithm is simd_attention_template.h; this file gives its vector
 * operations and the tile sizes for the sixteen 256-bit registers.
 */
#include "impl/simd/simd_attention.h"

#include <immintrin.h>

#define SIMD_LEVEL avx2
#define VL 8
/* QK^T block: 6 rows x 2 vectors = 12 accumulators, plus 2 K vectors and a
   broadcast: 15 of the 16 registers; 12 independent FMAs cover the FMA
   latency on two pipes. */
#define MR 6
#define QK_NC 2
/* PV block: 6 rows x 2 vectors of output columns, the same register count. */
#define PV_NV 2
/* 64 keys, as for AVX-512: the K and V tiles fit L1 together at D = 64,
   and the rescale and softmax bookkeeping is paid once per 64 keys. */
#define KV_TILE 64
/* 48 query rows (8 blocks of 6) reuse each K and V tile 8 times. */
#define Q_TILE 48
/* Decode logits: keys per register block of logits_direct(). 4 rows x 2
   keys = 8 accumulators, plus 2 K vectors and a query vector. */
#define DIRECT_KEYS 2

typedef __m256 vf;
typedef __m256 vmask; /* all-ones lanes where true */

static inline vf v_zero(void) { return _mm256_setzero_ps(); }
static inline vf v_set1(float x) { return _mm256_set1_ps(x); }
static inline vf v_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void v_store(float *p, vf x) { _mm256_storeu_ps(p, x); }
static inline vf v_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf v_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf v_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf v_fmadd(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf v_fnmadd(vf a, vf b, vf c) { return _mm256_fnmadd_ps(a, b, c); }
static inline vf v_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vmask v_lt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
static inline vmask v_isnan(vf a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
static inline vmask v_mask_or(vmask a, vmask b) { return _mm256_or_ps(a, b); }
static inline int v_mask_any(vmask a) { return _mm256_movemask_ps(a) != 0; }
static inline vf v_select(vmask m, vf a, vf b) { return _mm256_blendv_ps(b, a, m); }
static inline vmask v_first_lanes(int64_t n)
{
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int clamped = (int)(n < VL ? n : VL);
    if (clamped < 0)
        clamped = 0;
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(clamped), lanes));
}
static inline vf v_load_first(const float *p, int64_t n)
{
    return _mm256_maskload_ps(p, _mm256_castps_si256(v_first_lanes(n)));
}
static inline float v_reduce_max(vf a)
{
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    x = _mm_max_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}
static inline float v_reduce_add(vf a)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}
/* Stores the sum of the lanes of acc[r * 2 + k] to s[r * lds + k], for
   rows r < nr and keys k < 2. In-lane unpacks and shuffles, then a 128-bit
   permute, add the 8 vectors into one whose lane i is the sum of acc[i]. */
static inline void v_store_row_sums(const vf acc[8], int nr, float *s, int64_t lds)
{
    vf t[4], u[2];
    for (int i = 0; i < 4; i++)
        t[i] = _mm256_add_ps(_mm256_unpacklo_ps(acc[2 * i], acc[2 * i + 1]),
                             _mm256_unpackhi_ps(acc[2 * i], acc[2 * i + 1]));
    for (int i = 0; i < 2; i++)
        u[i] = _mm256_add_ps(_mm256_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm256_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    const vf sums = _mm256_add_ps(_mm256_permute2f128_ps(u[0], u[1], 0x20),
                                  _mm256_permute2f128_ps(u[0], u[1], 0x31));
    const __m128 low = _mm256_castps256_ps128(sums), high = _mm256_extractf128_ps(sums, 1);
    _mm_storel_pi((__m64 *)s, low);
    if (nr > 1)
        _mm_storeh_pi((__m64 *)(s + lds), low);
    if (nr > 2)
        _mm_storel_pi((__m64 *)(s + 2 * lds), high);
    if (nr > 3)
        _mm_storeh_pi((__m64 *)(s + 3 * lds), high);
}
/* 1.5 * 2^23 + 127: adding it to x / ln 2 (|x / ln 2| < 2^22) rounds to an
   integer and leaves n + 127, the exponent field of 2^n, in the low bits. */
#define ROUND_MAGIC 12583039.0f

/* One FMA rounds and biases; *aux keeps the sum for v_scale_pow2. */
static inline vf v_round_log2e(vf x, vf *aux)
{
    const vf magic = _mm256_set1_ps(ROUND_MAGIC);
    *aux = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), magic);
    return _mm256_sub_ps(*aux, magic);
}
/* Shifting the low 9 bits of aux (n + 127, in [1, 127] for every lane the
   caller keeps) into the exponent field gives 2^n. A NaN aux shifts to 0,
   and p is NaN too in that case, so the product stays NaN. */
static inline vf v_scale_pow2(vf p, vf n, vf aux)
{
    (void)n;
    const __m256i bits = _mm256_slli_epi32(_mm256_castps_si256(aux), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

#include "impl/simd/simd_attention_template.h"
