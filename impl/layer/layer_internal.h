/*
 * Internal interface of the encoder layer: the per-ISA-level functions
 * (GEMM driver, LayerNorm) and the attention the layer calls.
 */
#ifndef ATB_LAYER_INTERNAL_H
#define ATB_LAYER_INTERNAL_H

#include "impl/layer/gemm_f32.h"

#include "attnbench/impl.h"

#define ATB_DECLARE_LAYERNORM_LEVEL(suffix)                                                \
    void atb_layernorm_f32_##suffix(const float *x, const float *weight, const float *bias, \
                                    float *y, int64_t n_rows, int64_t dim, double eps,      \
                                    int n_threads);

ATB_DECLARE_LAYERNORM_LEVEL(scalar)
ATB_DECLARE_LAYERNORM_LEVEL(avx2)
ATB_DECLARE_LAYERNORM_LEVEL(avx512)

/* The functions of one ISA level. */
typedef struct {
    const char *name; /* "scalar", "avx2" or "avx512" */
    unsigned isa;     /* ATB_ISA_* bits it needs */
    void (*sgemm)(const atb_sgemm_kernel *kernel, int64_t m, const float *a, int64_t lda,
                  const atb_packed_weight *w, float *c, int64_t ldc,
                  const atb_epilogue *epilogue, float *scratch, int n_threads);
    void (*layernorm)(const float *x, const float *weight, const float *bias, float *y,
                      int64_t n_rows, int64_t dim, double eps, int n_threads);
    void (*gelu)(const float *x, float *y, int64_t n);
    void (*erf)(const float *x, float *y, int64_t n);
    const atb_sgemm_kernel *portable_kernel;
} atb_layer_level;

extern const atb_layer_level atb_layer_level_scalar;
extern const atb_layer_level atb_layer_level_avx2;
extern const atb_layer_level atb_layer_level_avx512;

/* The best level that atb_cpu_isa() allows (so ATTNBENCH_MAX_ISA caps it). */
const atb_layer_level *atb_layer_best_level(void);

/* Attention on q, k, v [B, H, L, Dh] with the family's own kernels. */
typedef struct {
    const char *name;
    atb_status (*plan)(const atb_problem *problem, void **plan, char *err, size_t err_len);
    atb_status (*run)(void *plan, const float *q, const float *k, const float *v,
                      const int32_t *kv_valid_len, float *out, char *err, size_t err_len);
    void (*destroy)(void *plan);
} atb_layer_attention;

/* The attention functions a family uses inside the layer. */
extern const atb_layer_attention atb_layer_attention_blocked;
extern const atb_layer_attention atb_layer_attention_simd_avx2;
extern const atb_layer_attention atb_layer_attention_simd_avx512;

#endif /* ATB_LAYER_INTERNAL_H */
