/*
 * Accuracy of the layer's vectorized erf and GELU at every ISA level the
 * CPU has. erf is measured in ulp against the correctly rounded value
 * (double erf rounded to float) and, for comparison, against glibc's erff,
 * over every 61st float in [-5, 5] plus special values. GELU is checked
 * against the double formula with a relative bound of (8 + 3 z^2) ulp,
 * z = x / sqrt 2, for z < -1 (there 1 + erf(z) = erfc(|z|) = exp(-z^2 + q):
 * rounding z to f32 moves z^2 by 2 z^2 ulp, and the f32 sum in the exponent
 * adds about z^2 ulp more), (8 + 4 erf|z| / erfc|z|) ulp for -1 <= z < 0
 * (1 + erf(z) cancels there, so erf's own few ulp grow by that ratio,
 * at most 5.3), and 8 ulp
 * elsewhere, and with an absolute bound of 1e-7 where its value is tiny
 * (x < -5.6).
 */
#include "impl/layer/layer_internal.h"

#include "harness/registry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* erf is within this many ulp of the correctly rounded value. */
#define ERF_MAX_ULP 4
/* GELU relative bound away from the negative tail, in units of 2^-24. */
#define GELU_MAX_REL_ULP 8.0

static int n_failures;

static float float_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

/* Distance in representable floats, for finite values of the same sign
   (or zero). */
static int64_t ulp_distance(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof(ia));
    memcpy(&ib, &b, sizeof(ib));
    if (ia < 0)
        ia = INT32_MIN - ia;
    if (ib < 0)
        ib = INT32_MIN - ib;
    return ia > ib ? (int64_t)ia - ib : (int64_t)ib - ia;
}

static void check_level(const atb_layer_level *level)
{
    /* Every 61st float with |x| <= 5; beyond 3.92 erf rounds to +-1. */
    enum { CHUNK = 4096 };
    static float x[CHUNK], y[CHUNK];
    int64_t max_ulp = 0, max_ulp_libm = 0, n_tested = 0;
    float worst_x = 0.0f;
    const uint32_t limit = 0x40a00000u; /* 5.0f */
    for (int sign = 0; sign < 2; sign++) {
        uint32_t bits = 0;
        while (bits <= limit) {
            int count = 0;
            for (; count < CHUNK && bits <= limit; count++, bits += 61)
                x[count] = float_from_bits(bits | (sign ? 0x80000000u : 0u));
            level->erf(x, y, count);
            for (int i = 0; i < count; i++) {
                const float exact = (float)erf((double)x[i]);
                const int64_t d = ulp_distance(y[i], exact);
                const int64_t d_libm = ulp_distance(y[i], erff(x[i]));
                if (d > max_ulp) {
                    max_ulp = d;
                    worst_x = x[i];
                }
                if (d_libm > max_ulp_libm)
                    max_ulp_libm = d_libm;
            }
            n_tested += count;
        }
    }
    printf("%s erf: max %lld ulp from the correctly rounded value (at x = %.9g), max %lld ulp "
           "from glibc erff, %lld inputs\n", level->name, (long long)max_ulp, worst_x,
           (long long)max_ulp_libm, (long long)n_tested);
    if (max_ulp > ERF_MAX_ULP) {
        printf("FAIL %s erf: %lld ulp exceeds the %d ulp bound at x = %.9g\n", level->name,
               (long long)max_ulp, ERF_MAX_ULP, worst_x);
        n_failures++;
    }

    /* Special values. */
    const float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-30f, -1e-30f, 100.0f,
                             -100.0f, 1.0f, -1.0f};
    const int n_special = (int)(sizeof(special) / sizeof(special[0]));
    float out[16];
    level->erf(special, out, n_special);
    for (int i = 0; i < n_special; i++) {
        const float expected = erff(special[i]);
        const int ok = isnan(expected) ? isnan(out[i])
                                       : out[i] == expected && signbit(out[i]) == signbit(expected);
        const int close = !isnan(expected) && !isnan(out[i]) && isfinite(expected)
                          && ulp_distance(out[i], expected) <= ERF_MAX_ULP;
        if (!ok && !close) {
            printf("FAIL %s erf(%g): expected %.9g got %.9g\n", level->name, special[i],
                   expected, out[i]);
            n_failures++;
        }
    }

    /* GELU on a grid over [-12, 12]. */
    const int n_gelu = 24001;
    float *gx = malloc(sizeof(float) * (size_t)n_gelu);
    float *gy = malloc(sizeof(float) * (size_t)n_gelu);
    for (int i = 0; i < n_gelu; i++)
        gx[i] = -12.0f + 24.0f * (float)i / (float)(n_gelu - 1);
    level->gelu(gx, gy, n_gelu);
    double max_rel = 0.0;
    for (int i = 0; i < n_gelu; i++) {
        const double xd = gx[i];
        const double expected = 0.5 * xd * erfc(-xd / sqrt(2.0));
        const double err = fabs(gy[i] - expected);
        const double z = xd / sqrt(2.0);
        double rel_ulp = GELU_MAX_REL_ULP;
        if (z < -1.0)
            rel_ulp += 3.0 * z * z;
        else if (z < 0.0)
            rel_ulp += 4.0 * erf(-z) / erfc(-z);
        const double rel_bound = rel_ulp * ldexp(1.0, -24) * fabs(expected);
        const int ok = xd < -5.6 ? err <= 1e-7 : err <= rel_bound + 1e-45;
        if (xd >= -5.6 && expected != 0.0 && err / fabs(expected) / rel_ulp > max_rel)
            max_rel = err / fabs(expected) / rel_ulp;
        if (!ok) {
            printf("FAIL %s gelu(%.9g): expected %.9g got %.9g\n", level->name, gx[i],
                   expected, gy[i]);
            n_failures++;
            break;
        }
    }
    printf("%s gelu: max relative error used %.3f of its bound for x >= -5.6\n", level->name,
           max_rel / ldexp(1.0, -24));
    free(gx);
    free(gy);

    const float gelu_special[] = {NAN, INFINITY, 0.0f};
    level->gelu(gelu_special, out, 3);
    if (!isnan(out[0]) || out[1] != INFINITY || out[2] != 0.0f) {
        printf("FAIL %s gelu special values: gelu(nan) = %g, gelu(inf) = %g, gelu(0) = %g\n",
               level->name, out[0], out[1], out[2]);
        n_failures++;
    }
}

int main(void)
{
    const unsigned isa = atb_cpu_isa();
    check_level(&atb_layer_level_scalar);
    if (isa & ATB_ISA_AVX2)
        check_level(&atb_layer_level_avx2);
    if (isa & ATB_ISA_AVX512)
        check_level(&atb_layer_level_avx512);
    if (n_failures) {
        printf("%d erf/gelu checks failed\n", n_failures);
        return 1;
    }
    return 0;
}
