/*
 * Tiling, threading and packing for the project's flash-attention kernels
 * (blocked and simd-*). Portable C11, compiled for baseline x86-64.
 *
 * The work of attention is split into jobs: a set of at most q_tile query
 * rows that all read the same key/value head, run against a range of key
 * tiles. An ISA-specific rows() function does one job with an online
 * softmax; this module decides the jobs, packs K (and V when D is not a
 * multiple of the vector width), runs the jobs on OpenMP threads and
 * combines partial results when one row's keys were split across threads.
 *
 * Layouts (elements, row-major):
 * - q, out [B][H][Lq][D]; k, v [B][Hkv][Lk][D], as in attnbench/impl.h.
 * - Packed K of one head: tile t (keys t*T .. t*T+T-1) at offset t*D*T, key
 *   j of the tile at column j of a [D][T] block; columns past Lk are zero.
 * - Packed V of one head: [Lk][Dp] with Dp = D rounded up to the vector
 *   width; columns D .. Dp-1 are zero.
 * - Allowed keys of a row form a prefix 0 .. limit-1 (both the causal rule
 *   and the valid length are upper bounds on the key index), so a row's
 *   mask is one integer.
 */
#ifndef ATB_FLASH_TILING_H
#define ATB_FLASH_TILING_H

#include "attnbench/impl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-thread scratch of one job, carved out by the plan. */
typedef struct {
    float *o;  /* [q_tile][Dp] unnormalized output rows */
    float *s;  /* [q_tile][T] logits, then softmax weights */
    float *kt; /* [D][T] locally packed K tile */
    float *vt; /* [T][Dp] locally packed V tile (only when D != Dp) */
    float *m;  /* [q_tile] running max of each row */
    float *l;  /* [q_tile] running sum of exp of each row */
} atb_flash_scratch;

/* One job: n_rows query rows of one KV head against keys kv_begin .. kv_end-1. */
typedef struct {
    int64_t head_dim;        /* D */
    int64_t head_dim_padded; /* Dp */
    float scale;
    int64_t n_rows;                   /* 1 .. q_tile */
    const float *const *q_rows;       /* [n_rows], each D floats */
    const int64_t *row_limit;         /* [n_rows]: keys 0 .. limit-1 allowed */
    const float *k, *v;               /* head base, [Lk][D] */
    const float *k_packed;            /* packed K of the head, or NULL: pack per tile */
    const float *v_packed;            /* packed V [Lk][Dp], or NULL */
    int64_t kv_begin, kv_end;         /* kv_begin is a multiple of T */
    /* Finalized output: out_rows[r] gets D floats (zero for a row with no
       allowed key). Used when partial_o is NULL. */
    float *const *out_rows;
    /* Partial output for split keys: unnormalized rows [n_rows][Dp], the
       running max (-inf when the range held no allowed key) and sum. */
    float *partial_o, *partial_m, *partial_l;
    atb_flash_scratch scratch;
} atb_flash_job;

/* The ISA-specific part. */
typedef struct {
    const char *isa_name;  /* "scalar", "avx2", "avx512" */
    int vector_floats;     /* Dp = D rounded up to a multiple of this */
    int kv_tile;           /* T, a multiple of vector_floats */
    int q_tile;            /* rows per job */
    void (*rows)(const atb_flash_job *job);
} atb_flash_kernel;

typedef struct atb_flash_plan atb_flash_plan;

/* Validates the attention shape and allocates packing, partial and
   per-thread scratch buffers for problem->n_threads threads. */
atb_status atb_flash_plan_create(const atb_problem *problem, const atb_flash_kernel *kernel,
                                 const char *family, atb_flash_plan **plan, char *err,
                                 size_t err_len);
atb_status atb_flash_run(atb_flash_plan *plan, const float *q, const float *k, const float *v,
                         const int32_t *kv_valid_len, float *out, char *err, size_t err_len);
void atb_flash_plan_destroy(atb_flash_plan *plan);
const atb_flash_kernel *atb_flash_plan_kernel(const atb_flash_plan *plan);
/* Keys per thread-level chunk when one row's keys are split across
   threads (decode shapes), or 0 when they are not. */
int64_t atb_flash_plan_split_chunk(const atb_flash_plan *plan);

/* Packs keys 0 .. n-1 of k [n][D] into dst [D][T], zero-filling columns
   n .. T-1. */
void atb_flash_pack_k_tile(const float *restrict k, int64_t D, int64_t n, int64_t T,
                           float *restrict dst);
/* Copies n rows of v [n][D] into dst [n][Dp], zero-filling columns D .. Dp-1. */
void atb_flash_pack_v_rows(const float *restrict v, int64_t D, int64_t n, int64_t Dp,
                           float *restrict dst);

/* exp(x - 0) below this input is flushed to exactly 0: expf(-87.3365) is
   FLT_MIN (2^-126), so no result is ever a denormal. Every kernel uses the
   same threshold, also for the scalar rescale factors. */
#define ATB_FLASH_EXP_FLUSH_BELOW (-87.33654f)

/* exp(x) for x <= 0 in scalar code (the rescale factors): libm expf, with
   results below FLT_MIN flushed to 0 and NaN passed through. */
float atb_flash_exp_scalar(float x);

#ifdef __cplusplus
}
#endif

#endif /* ATB_FLASH_TILING_H */
