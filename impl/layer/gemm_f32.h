/*
 * Packed single-precision GEMM for the encoder layer:
 *   C[M, N] = A[M, K] * W[N, K]^T, then an optional fused epilogue,
 * with W in PyTorch's Linear layout, packed once (in the plan step) into
 * panels of NR columns, k-major: panel p contains W[p*NR + j][k] at
 * [k * NR + j], zero-padded past N.
 *
 * The blocked driver (gemm_f32_packed.c) is compiled three times, once per
 * ISA level, with ATB_LEVEL_SUFFIX naming its symbols (_scalar, _avx2,
 * _avx512). Micro-kernels are either the portable C one from the same file
 * or the intrinsics kernels in gemm_f32_avx2_6x16.c / gemm_f32_avx512_12x32.c.
 * All pointers are float32, row-major; strides are in elements.
 */
#ifndef ATB_LAYER_GEMM_F32_H
#define ATB_LAYER_GEMM_F32_H

#include <stddef.h>
#include <stdint.h>

/*
 * Micro-kernel: c[MR, NR] (row stride ldc) = (accumulate ? c : 0)
 *   + a_panel * w_panel over kc steps, where a_panel contains A[i][k] at
 *   [k * MR + i] and w_panel contains W^T[k][j] at [k * NR + j].
 */
typedef void (*atb_sgemm_kernel_fn)(int64_t kc, const float *restrict a_panel,
                                    const float *restrict w_panel, float *restrict c,
                                    int64_t ldc, int accumulate);

typedef struct {
    const char *name; /* e.g. "avx512 intrinsics 12x32" */
    int mr;           /* rows of C per call */
    int nr;           /* columns of C per call */
    atb_sgemm_kernel_fn kernel;
} atb_sgemm_kernel;

/* W packed for a kernel with panel width nr. */
typedef struct {
    int64_t n, k;
    int nr;
    float *panels; /* ceil(n / nr) * k * nr floats, 64-byte aligned */
} atb_packed_weight;

typedef enum {
    ATB_EPILOGUE_NONE = 0,
    ATB_EPILOGUE_BIAS,          /* C += bias[n] */
    ATB_EPILOGUE_BIAS_RELU,     /* C = max(C + bias[n], 0) */
    ATB_EPILOGUE_BIAS_GELU,     /* C = gelu(C + bias[n]), exact erf form */
    ATB_EPILOGUE_BIAS_RESIDUAL  /* C += bias[n] + residual[m, n] */
} atb_epilogue_kind;

typedef struct {
    atb_epilogue_kind kind;
    const float *bias;     /* [N] */
    const float *residual; /* [M, ld_residual] for ATB_EPILOGUE_BIAS_RESIDUAL */
    int64_t ld_residual;
} atb_epilogue;

/*
 * Cache blocking shared by every level (measured choices; docs/layer.md has
 * the table). KC: a K block of 512 halves the read-modify-write passes over
 * C against 256, which measured 10 percent faster even though the W
 * micro-panel (512 x 32 floats, 64 KiB) then streams from L2 instead of
 * staying in L1. MC: 120 rows of A by 512 is 240 KiB of packed A, a
 * quarter of a 1 MiB L2. NC: large, so each packed A block is used for
 * every N panel before the next one is packed. NC only bounds the W block
 * for very wide layers.
 */
#ifndef ATB_SGEMM_KC_MAX
#define ATB_SGEMM_KC_MAX 512
#endif
#ifndef ATB_SGEMM_MC_MAX
#define ATB_SGEMM_MC_MAX 120
#endif
#ifndef ATB_SGEMM_NC_MAX
#define ATB_SGEMM_NC_MAX 4096
#endif

/* Packs w [n, k] for kernels with panel width nr; returns 0 when the
   allocation fails. Free with atb_packed_weight_free. */
int atb_packed_weight_init(atb_packed_weight *pw, const float *w, int64_t n, int64_t k, int nr);
void atb_packed_weight_free(atb_packed_weight *pw);

/* Floats of A-packing scratch one thread needs for kernels with mr rows. */
size_t atb_sgemm_scratch_per_thread(int mr);

/* One ISA level of the driver, the epilogues and the portable kernel. */
#define ATB_DECLARE_SGEMM_LEVEL(suffix)                                                    \
    extern const atb_sgemm_kernel atb_sgemm_kernel_portable_##suffix;                      \
    void atb_sgemm_packed_##suffix(const atb_sgemm_kernel *kernel, int64_t m,              \
                                   const float *a, int64_t lda, const atb_packed_weight *w, \
                                   float *c, int64_t ldc, const atb_epilogue *epilogue,    \
                                   float *scratch, int n_threads);                         \
    void atb_erf_f32_##suffix(const float *x, float *y, int64_t n);                        \
    void atb_gelu_f32_##suffix(const float *x, float *y, int64_t n);

ATB_DECLARE_SGEMM_LEVEL(scalar)
ATB_DECLARE_SGEMM_LEVEL(avx2)
ATB_DECLARE_SGEMM_LEVEL(avx512)

/* Intrinsics micro-kernels; callable only when the CPU has the ISA. */
extern const atb_sgemm_kernel atb_sgemm_kernel_avx2_6x16;
extern const atb_sgemm_kernel atb_sgemm_kernel_avx512_12x32;

#endif /* ATB_LAYER_GEMM_F32_H */
