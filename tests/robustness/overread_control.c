/*
 * A deliberate 32-byte read past the end of a heap block, in a named
 * function of an ordinary executable. valgrind_check.sh runs it under
 * memcheck with the oneDNN suppression file, and memcheck must still
 * report it: the suppression may only hide reads from run-time generated
 * code, never one like this.
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>

float g_lanes[8];

__attribute__((target("avx"), noinline)) static void read_past_end(const float *p)
{
    /* The 32 bytes right after an 8-float block, as oneDNN's loads are. */
    _mm256_storeu_ps(g_lanes, _mm256_loadu_ps(p + 8));
}

int main(void)
{
    if (!__builtin_cpu_supports("avx")) {
        fprintf(stderr, "overread_control: this CPU has no AVX, so the control read "
                "cannot be made\n");
        return 2;
    }
    float *block = malloc(8 * sizeof(float));
    if (!block)
        return 2;
    for (int i = 0; i < 8; i++)
        block[i] = (float)i;
    read_past_end(block);
    float sum = 0.0f;
    for (int i = 0; i < 8; i++)
        sum += g_lanes[i];
    printf("read %g\n", (double)sum);
    free(block);
    return 0;
}
