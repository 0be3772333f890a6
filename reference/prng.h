/*
 * A small seeded generator (SplitMix64) so that golden vectors and bench
 * inputs are the same on every machine and C library. Not cryptographic.
 */
#ifndef ATB_PRNG_H
#define ATB_PRNG_H

#include <stdint.h>

typedef struct {
    uint64_t state;
} atb_prng;

static inline void atb_prng_seed(atb_prng *rng, uint64_t seed)
{
    rng->state = seed;
}

static inline uint64_t atb_prng_next(atb_prng *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi), rounded to float; the top 24 bits give an exact
   float in [0, 1) before scaling. */
static inline float atb_prng_uniform(atb_prng *rng, float lo, float hi)
{
    const float unit = (float)(atb_prng_next(rng) >> 40) * (1.0f / 16777216.0f);
    return lo + (hi - lo) * unit;
}

#endif /* ATB_PRNG_H */
