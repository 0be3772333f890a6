/*
 * ATTNBENCH_MAX_ISA caps what the layer runs. Run as
 *   ATTNBENCH_MAX_ISA=LEVEL test_layer_isa_cap LEVEL
 * (LEVEL: avx512, avx2 or scalar; the uncapped run passes avx512 and no
 * variable). Checks that the blocked family's plan uses the GEMM of LEVEL,
 * that a simd family above the cap returns ATB_ERR_UNSUPPORTED instead of
 * running, and that the families the cap allows run. Exits 77 (skipped,
 * with the reason) when the CPU itself lacks LEVEL.
 */
#include "impl/layer/layer.h"

#include "harness/problem.h"
#include "harness/registry.h"

#include <stdio.h>
#include <string.h>

static int n_failures;

/* Plans and runs one family; returns the status and the plan's description. */
static atb_status plan_and_run(const char *family, const atb_tensors *t, char *description,
                               size_t description_len)
{
    char err[256] = "";
    const atb_encoder_weights w = atb_tensors_weights(t);
    float out[2 * 8 * 16];
    void *plan = NULL;
    atb_status st;
    description[0] = '\0';
    if (strcmp(family, "blocked") == 0) {
        st = atb_blocked_encoder_plan(&t->problem, &w, &plan, err, sizeof(err));
        if (st == ATB_OK)
            st = atb_blocked_encoder_run(plan, t->x, t->kv_valid_len, out, err, sizeof(err));
        atb_blocked_encoder_describe(plan, description, description_len);
        atb_blocked_encoder_destroy(plan);
    } else if (strcmp(family, "simd-avx2") == 0) {
        st = atb_simd_avx2_encoder_plan(&t->problem, &w, &plan, err, sizeof(err));
        if (st == ATB_OK)
            st = atb_simd_avx2_encoder_run(plan, t->x, t->kv_valid_len, out, err, sizeof(err));
        atb_simd_avx2_encoder_describe(plan, description, description_len);
        atb_simd_avx2_encoder_destroy(plan);
    } else {
        st = atb_simd_avx512_encoder_plan(&t->problem, &w, &plan, err, sizeof(err));
        if (st == ATB_OK)
            st = atb_simd_avx512_encoder_run(plan, t->x, t->kv_valid_len, out, err,
                                             sizeof(err));
        atb_simd_avx512_encoder_describe(plan, description, description_len);
        atb_simd_avx512_encoder_destroy(plan);
    }
    if (st != ATB_OK)
        printf("%s: %s: %s\n", family, atb_status_string(st), err);
    return st;
}

static void expect(int condition, const char *what, const char *detail)
{
    printf("%s %s (%s)\n", condition ? "ok  " : "FAIL", what, detail);
    if (!condition)
        n_failures++;
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "avx512") && strcmp(argv[1], "avx2")
                      && strcmp(argv[1], "scalar"))) {
        fprintf(stderr, "usage: test_layer_isa_cap avx512|avx2|scalar\n");
        return 2;
    }
    const char *level = argv[1];
    const unsigned level_isa = strcmp(level, "avx512") == 0 ? ATB_ISA_AVX2 | ATB_ISA_AVX512
                               : strcmp(level, "avx2") == 0 ? ATB_ISA_AVX2
                                                            : 0;
    if ((atb_cpu_isa_detected() & level_isa) != level_isa) {
        printf("skipped: the CPU has only %s, so a cap at %s changes nothing\n",
               atb_isa_name(atb_cpu_isa_detected()), level);
        return 77;
    }
    if (atb_cpu_isa() != level_isa) {
        printf("FAIL atb_cpu_isa() is %s but the test expects %s: run it with "
               "ATTNBENCH_MAX_ISA=%s\n", atb_isa_name(atb_cpu_isa()), level, level);
        return 1;
    }

    atb_problem p = {.op = ATB_OP_ENCODER_LAYER, .n_threads = 1};
    p.encoder = (atb_encoder_shape){.batch = 2, .seq_len = 8, .embed_dim = 16, .heads = 2,
                                    .ffn_dim = 32, .activation = ATB_ACT_GELU,
                                    .layer_norm_eps = 1e-5, .has_kv_valid_len = 1};
    atb_tensors t;
    char err[256];
    if (atb_tensors_alloc(&t, &p, err, sizeof(err)) != ATB_OK) {
        printf("FAIL setup: %s\n", err);
        return 1;
    }
    atb_tensors_fill_random(&t, 5);

    char description[256], wanted[64];
    atb_status st = plan_and_run("blocked", &t, description, sizeof(description));
    snprintf(wanted, sizeof(wanted), "(%s level)", level);
    expect(st == ATB_OK, "blocked runs under the cap", atb_status_string(st));
    expect(strstr(description, wanted) != NULL, "blocked uses the GEMM of the capped level",
           description);

    st = plan_and_run("simd-avx2", &t, description, sizeof(description));
    if (level_isa & ATB_ISA_AVX2) {
        expect(st == ATB_OK, "simd-avx2 runs under the cap", atb_status_string(st));
        expect(strstr(description, "avx2 intrinsics") != NULL,
               "simd-avx2 uses the AVX2 intrinsics GEMM", description);
    } else
        expect(st == ATB_ERR_UNSUPPORTED, "simd-avx2 is unsupported above the cap",
               atb_status_string(st));

    st = plan_and_run("simd-avx512", &t, description, sizeof(description));
    if (level_isa & ATB_ISA_AVX512) {
        expect(st == ATB_OK, "simd-avx512 runs under the cap", atb_status_string(st));
        expect(strstr(description, "avx512 intrinsics") != NULL,
               "simd-avx512 uses the AVX-512 intrinsics GEMM", description);
    } else
        expect(st == ATB_ERR_UNSUPPORTED, "simd-avx512 is unsupported above the cap",
               atb_status_string(st));

    atb_tensors_free(&t);
    return n_failures ? 1 : 0;
}
