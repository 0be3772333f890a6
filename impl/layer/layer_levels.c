/*
 * The three ISA levels of the layer's plain-C code, and the choice of the
 * best one that atb_cpu_isa() allows.
 */
#include "impl/layer/layer_internal.h"

#include "harness/registry.h"

#define LEVEL_TABLE(suffix, isa_bits)                                                      \
    const atb_layer_level atb_layer_level_##suffix = {                                     \
        .name = #suffix,                                                                   \
        .isa = isa_bits,                                                                   \
        .sgemm = atb_sgemm_packed_##suffix,                                                \
        .layernorm = atb_layernorm_f32_##suffix,                                           \
        .gelu = atb_gelu_f32_##suffix,                                                     \
        .erf = atb_erf_f32_##suffix,                                                       \
        .portable_kernel = &atb_sgemm_kernel_portable_##suffix,                            \
    };

LEVEL_TABLE(scalar, 0)
LEVEL_TABLE(avx2, ATB_ISA_AVX2)
LEVEL_TABLE(avx512, ATB_ISA_AVX2 | ATB_ISA_AVX512)

const atb_layer_level *atb_layer_best_level(void)
{
    const unsigned isa = atb_cpu_isa();
    if (isa & ATB_ISA_AVX512)
        return &atb_layer_level_avx512;
    if (isa & ATB_ISA_AVX2)
        return &atb_layer_level_avx2;
    return &atb_layer_level_scalar;
}
