/*
 * Jobs, packing and threads for the flash-attention kernels; see
 * flash_tiling.h for the layouts. Baseline x86-64, OpenMP.
 *
 * Two ways to cut the work:
 * - grouped (G * Lq <= q_tile, with G = H / Hkv query heads per KV head):
 *   one job takes every query row of a KV head, so each K tile is packed
 *   once, inside the job, while it is hot in L1, and K and V are read from
 *   memory once. This is the decode case. When B * Hkv jobs are fewer than
 *   the threads, the keys are split into chunks, each thread keeps the
 *   running max, sum and unnormalized output of its chunk, and a second
 *   pass combines them exactly.
 * - tiled (larger Lq): K of every head is packed once in a first parallel
 *   pass, then the jobs are (b, h, query tile), scheduled dynamically
 *   because causal tiles differ in cost. With fewer such jobs than threads,
 *   the keys are split into chunks as in grouped mode.
 */
#include "impl/blocked/flash_tiling.h"

#include "harness/problem.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every scratch array starts on a 64-byte line so vector loads of a row
   never split a line more than its length requires. */
#define ALIGN_FLOATS 16

typedef struct {
    atb_flash_scratch scratch;
    const float **q_rows;
    float **out_rows;
    int64_t *row_limit;
} thread_scratch;

struct atb_flash_plan {
    atb_attention_shape shape;
    int n_threads;
    const atb_flash_kernel *kernel;
    char family[32];
    int64_t head_dim_padded;
    int64_t group;       /* query heads per KV head */
    int grouped;         /* 1: one job per (b, g, chunk); 0: per (b, h, query tile) */
    int64_t n_chunks;    /* key chunks per KV head in grouped mode */
    int64_t chunk_len;   /* keys per chunk, a multiple of T */
    int64_t n_kv_tiles;
    float *k_packed;     /* tiled mode: [B*Hkv][n_kv_tiles][D][T] */
    float *v_packed;     /* tiled mode when D != Dp: [B*Hkv][Lk][Dp] */
    float *partials;     /* grouped mode with n_chunks > 1 */
    float *arena;        /* per-thread float scratch */
    void *pointer_arena; /* per-thread row pointers and limits */
    thread_scratch *threads;
};

static int64_t round_up(int64_t x, int64_t multiple)
{
    return (x + multiple - 1) / multiple * multiple;
}

static float *alloc_floats(size_t n)
{
    /* aligned_alloc needs a size that is a multiple of the alignment. */
    size_t bytes = round_up((int64_t)(n ? n : 1), ALIGN_FLOATS) * sizeof(float);
    return aligned_alloc(64, bytes);
}

float atb_flash_exp_scalar(float x)
{
    if (x < ATB_FLASH_EXP_FLUSH_BELOW)
        return 0.0f;
    return expf(x); /* NaN stays NaN */
}

void atb_flash_pack_k_tile(const float *restrict k, int64_t D, int64_t n, int64_t T,
                           float *restrict dst)
{
    /* Key-major reads, strided writes: each key row is read once, and the
       [D][T] block is at most 32 KiB for D = 128, T = 64, so it stays in L1. */
    for (int64_t j = 0; j < n; j++)
        for (int64_t d = 0; d < D; d++)
            dst[d * T + j] = k[j * D + d];
    if (n < T)
        for (int64_t d = 0; d < D; d++)
            memset(dst + d * T + n, 0, (size_t)(T - n) * sizeof(float));
}

void atb_flash_pack_v_rows(const float *restrict v, int64_t D, int64_t n, int64_t Dp,
                           float *restrict dst)
{
    for (int64_t j = 0; j < n; j++) {
        memcpy(dst + j * Dp, v + j * D, (size_t)D * sizeof(float));
        memset(dst + j * Dp + D, 0, (size_t)(Dp - D) * sizeof(float));
    }
}

/* === Plan === */

static void choose_split(atb_flash_plan *p)
{
    const atb_attention_shape *s = &p->shape;
    const int64_t T = p->kernel->kv_tile, M = p->kernel->q_tile;

    p->grouped = p->group * s->q_len <= M;
    const int64_t n_jobs = p->grouped ? s->batch * s->kv_heads
                                      : s->batch * s->heads * ((s->q_len + M - 1) / M);
    p->n_chunks = 1;
    p->chunk_len = round_up(s->kv_len > 0 ? s->kv_len : 1, T);
    if (n_jobs >= p->n_threads || s->kv_len <= T)
        return;

    /* Fewer jobs than threads: give each thread an equal share of the key
       tiles of every job, so every thread is busy. */
    const int64_t want = (p->n_threads + n_jobs - 1) / n_jobs;
    const int64_t n_tiles = (s->kv_len + T - 1) / T;
    const int64_t tiles_per_chunk = (n_tiles + want - 1) / want;
    p->chunk_len = tiles_per_chunk * T;
    p->n_chunks = (s->kv_len + p->chunk_len - 1) / p->chunk_len;
}

static atb_status alloc_thread_scratch(atb_flash_plan *p)
{
    const int64_t M = p->kernel->q_tile, T = p->kernel->kv_tile;
    const int64_t D = p->shape.head_dim, Dp = p->head_dim_padded;
    const int64_t n_o = round_up(M * Dp, ALIGN_FLOATS), n_s = round_up(M * T, ALIGN_FLOATS);
    const int64_t n_kt = round_up(D * T, ALIGN_FLOATS), n_vt = round_up(T * Dp, ALIGN_FLOATS);
    const int64_t n_ml = round_up(M, ALIGN_FLOATS);
    const int64_t per_thread = n_o + n_s + n_kt + n_vt + 2 * n_ml;
    const size_t pointer_bytes = (size_t)M * (2 * sizeof(float *) + sizeof(int64_t));

    p->arena = alloc_floats((size_t)(per_thread * p->n_threads));
    p->pointer_arena = malloc(pointer_bytes * (size_t)p->n_threads);
    p->threads = calloc((size_t)p->n_threads, sizeof(thread_scratch));
    if (!p->arena || !p->pointer_arena || !p->threads)
        return ATB_ERR_NOMEM;

    for (int t = 0; t < p->n_threads; t++) {
        float *base = p->arena + per_thread * t;
        thread_scratch *ts = &p->threads[t];
        ts->scratch.o = base;
        ts->scratch.s = base + n_o;
        ts->scratch.kt = base + n_o + n_s;
        ts->scratch.vt = base + n_o + n_s + n_kt;
        ts->scratch.m = base + n_o + n_s + n_kt + n_vt;
        ts->scratch.l = base + n_o + n_s + n_kt + n_vt + n_ml;
        char *pointers = (char *)p->pointer_arena + pointer_bytes * (size_t)t;
        ts->row_limit = (int64_t *)pointers;
        ts->q_rows = (const float **)(pointers + (size_t)M * sizeof(int64_t));
        ts->out_rows = (float **)(pointers + (size_t)M * (sizeof(int64_t) + sizeof(float *)));
    }
    return ATB_OK;
}

atb_status atb_flash_plan_create(const atb_problem *problem, const atb_flash_kernel *kernel,
                                 const char *family, atb_flash_plan **out, char *err,
                                 size_t err_len)
{
    *out = NULL;
    if (problem->op != ATB_OP_ATTENTION) {
        snprintf(err, err_len, "%s: the attention kernel got a problem whose op is %d, not "
                 "attention", family, (int)problem->op);
        return ATB_ERR_INVALID;
    }
    atb_status st = atb_problem_validate(problem, err, err_len);
    if (st != ATB_OK)
        return st;
    if (problem->n_threads < 1) {
        snprintf(err, err_len, "%s: n_threads is %d; it must be at least 1", family,
                 problem->n_threads);
        return ATB_ERR_INVALID;
    }

    atb_flash_plan *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, err_len, "%s: cannot allocate the plan", family);
        return ATB_ERR_NOMEM;
    }
    p->shape = problem->attention;
    p->n_threads = problem->n_threads;
    p->kernel = kernel;
    snprintf(p->family, sizeof(p->family), "%s", family);
    const atb_attention_shape *s = &p->shape;
    const int64_t T = kernel->kv_tile, D = s->head_dim;
    p->head_dim_padded = round_up(D, kernel->vector_floats);
    p->group = s->heads / s->kv_heads;
    p->n_kv_tiles = (s->kv_len + T - 1) / T;
    choose_split(p);

    st = alloc_thread_scratch(p);
    const int64_t n_kv_heads = s->batch * s->kv_heads;
    if (st == ATB_OK && !p->grouped) {
        p->k_packed = alloc_floats((size_t)(n_kv_heads * p->n_kv_tiles * D * T));
        if (!p->k_packed)
            st = ATB_ERR_NOMEM;
        if (p->head_dim_padded != D) {
            p->v_packed = alloc_floats((size_t)(n_kv_heads * s->kv_len * p->head_dim_padded));
            if (!p->v_packed)
                st = ATB_ERR_NOMEM;
        }
    }
    if (st == ATB_OK && p->n_chunks > 1) {
        /* Both modes keep Dp + 2 floats per (query row, chunk). */
        const int64_t rows = s->batch * s->heads * s->q_len;
        p->partials =
            alloc_floats((size_t)(p->n_chunks * rows * (p->head_dim_padded + 2)));
        if (!p->partials)
            st = ATB_ERR_NOMEM;
    }
    if (st != ATB_OK) {
        snprintf(err, err_len, "%s: cannot allocate the packing and scratch buffers for "
                 "B=%lld H=%lld Lk=%lld D=%lld with %d threads", family,
                 (long long)s->batch, (long long)s->heads, (long long)s->kv_len,
                 (long long)D, p->n_threads);
        atb_flash_plan_destroy(p);
        return st;
    }
    *out = p;
    return ATB_OK;
}

void atb_flash_plan_destroy(atb_flash_plan *p)
{
    if (!p)
        return;
    free(p->k_packed);
    free(p->v_packed);
    free(p->partials);
    free(p->arena);
    free(p->pointer_arena);
    free(p->threads);
    free(p);
}

const atb_flash_kernel *atb_flash_plan_kernel(const atb_flash_plan *plan)
{
    return plan->kernel;
}

int64_t atb_flash_plan_split_chunk(const atb_flash_plan *plan)
{
    return plan->n_chunks > 1 ? plan->chunk_len : 0;
}

/* === Run === */

static atb_status check_inputs(const atb_flash_plan *p, const float *q, const float *k,
                               const float *v, const int32_t *kv_valid_len, const float *out,
                               char *err, size_t err_len)
{
    const atb_attention_shape *s = &p->shape;
    if (!q || !out || (s->kv_len > 0 && (!k || !v))) {
        snprintf(err, err_len, "%s: q, k, v and out must not be NULL (q=%p k=%p v=%p out=%p)",
                 p->family, (const void *)q, (const void *)k, (const void *)v,
                 (const void *)out);
        return ATB_ERR_INVALID;
    }
    if (!s->has_kv_valid_len)
        return ATB_OK;
    if (!kv_valid_len) {
        snprintf(err, err_len, "%s: the shape has kv_valid_len but run() got NULL", p->family);
        return ATB_ERR_INVALID;
    }
    for (int64_t b = 0; b < s->batch; b++) {
        if (kv_valid_len[b] < 0 || kv_valid_len[b] > s->kv_len) {
            snprintf(err, err_len, "%s: kv_valid_len[%lld] = %d is outside 0 .. kv_len = %lld",
                     p->family, (long long)b, (int)kv_valid_len[b], (long long)s->kv_len);
            return ATB_ERR_INVALID;
        }
    }
    return ATB_OK;
}

static int64_t valid_keys(const atb_attention_shape *s, const int32_t *kv_valid_len, int64_t b)
{
    return s->has_kv_valid_len ? kv_valid_len[b] : s->kv_len;
}

/* Packs K (and V when D != Dp) of every KV head, split by key tile. */
static void pack_all_heads(atb_flash_plan *p, const float *k, const float *v)
{
    const atb_attention_shape *s = &p->shape;
    const int64_t D = s->head_dim, Dp = p->head_dim_padded, T = p->kernel->kv_tile;
    const int64_t Lk = s->kv_len, n_tiles = p->n_kv_tiles;
    const int64_t n_items = s->batch * s->kv_heads * n_tiles;

#pragma omp for schedule(static)
    for (int64_t item = 0; item < n_items; item++) {
        const int64_t head = item / n_tiles, t = item % n_tiles;
        const int64_t j0 = t * T, n = Lk - j0 < T ? Lk - j0 : T;
        atb_flash_pack_k_tile(k + (head * Lk + j0) * D, D, n, T,
                              p->k_packed + (head * n_tiles + t) * D * T);
        if (p->v_packed)
            atb_flash_pack_v_rows(v + (head * Lk + j0) * D, D, n, Dp,
                                  p->v_packed + (head * Lk + j0) * Dp);
    }
}

/* Merges the per-chunk partial results of one row into its output. */
static void combine_row(const float *partial_o, const float *partial_m, const float *partial_l,
                        int64_t n_chunks, int64_t chunk_stride_o, int64_t chunk_stride_ml,
                        int64_t D, int64_t limit, float *out_row)
{
    if (limit == 0) {
        memset(out_row, 0, (size_t)D * sizeof(float));
        return;
    }
    /* The global max is NaN as soon as one chunk's is (a NaN logit). */
    float max = -INFINITY;
    for (int64_t c = 0; c < n_chunks; c++) {
        const float m = partial_m[c * chunk_stride_ml];
        if (isnan(m) || isnan(max))
            max = NAN;
        else if (m > max)
            max = m;
    }
    if (max == -INFINITY) {
        /* Every allowed logit is -inf: softmax is 0/0, as in the reference. */
        for (int64_t d = 0; d < D; d++)
            out_row[d] = NAN;
        return;
    }

    float sum = 0.0f;
    for (int64_t d = 0; d < D; d++)
        out_row[d] = 0.0f;
    for (int64_t c = 0; c < n_chunks; c++) {
        const float weight = atb_flash_exp_scalar(partial_m[c * chunk_stride_ml] - max);
        if (weight == 0.0f)
            continue; /* a chunk without allowed keys, or negligible */
        sum += weight * partial_l[c * chunk_stride_ml];
        for (int64_t d = 0; d < D; d++)
            out_row[d] += weight * partial_o[c * chunk_stride_o + d];
    }
    const float inverse = 1.0f / sum;
    for (int64_t d = 0; d < D; d++)
        out_row[d] *= inverse;
}

static void run_tiled(atb_flash_plan *p, const float *q, const float *k, const float *v,
                      const int32_t *kv_valid_len, float *out)
{
    const atb_attention_shape *s = &p->shape;
    const int64_t D = s->head_dim, Dp = p->head_dim_padded, T = p->kernel->kv_tile;
    const int64_t M = p->kernel->q_tile, Lq = s->q_len, Lk = s->kv_len;
    const int64_t n_q_tiles = (Lq + M - 1) / M, n_chunks = p->n_chunks;
    const int64_t n_jobs = s->batch * s->heads * n_q_tiles * n_chunks;
    const int64_t n_rows_total = s->batch * s->heads * Lq;
    /* Split keys: unnormalized rows [bh][chunk][Lq][Dp], then the maxima
       [bh][chunk][Lq], then the sums in the same layout. */
    float *partial_o = p->partials;
    float *partial_m = partial_o ? partial_o + n_chunks * n_rows_total * Dp : NULL;
    float *partial_l = partial_m ? partial_m + n_chunks * n_rows_total : NULL;

#pragma omp parallel num_threads(p->n_threads)
    {
        thread_scratch *ts = &p->threads[omp_get_thread_num()];
        pack_all_heads(p, k, v); /* ends with the barrier of its omp for */

#pragma omp for schedule(dynamic, 1)
        for (int64_t job_index = 0; job_index < n_jobs; job_index++) {
            const int64_t c = job_index % n_chunks, rest = job_index / n_chunks;
            const int64_t qt = rest % n_q_tiles, bh = rest / n_q_tiles;
            const int64_t b = bh / s->heads, h = bh % s->heads;
            const int64_t head = b * s->kv_heads + h / p->group;
            const int64_t i0 = qt * M, n_rows = Lq - i0 < M ? Lq - i0 : M;
            const int64_t valid = valid_keys(s, kv_valid_len, b);

            for (int64_t r = 0; r < n_rows; r++) {
                ts->q_rows[r] = q + (bh * Lq + i0 + r) * D;
                ts->out_rows[r] = out + (bh * Lq + i0 + r) * D;
                ts->row_limit[r] = atb_attention_allowed_keys(s, valid, i0 + r);
            }
            const int64_t kv_begin = c * p->chunk_len;
            const int64_t kv_end = kv_begin + p->chunk_len < Lk ? kv_begin + p->chunk_len : Lk;
            const int64_t first_row = (bh * n_chunks + c) * Lq + i0;
            const atb_flash_job job = {
                .head_dim = D, .head_dim_padded = Dp, .scale = (float)s->scale,
                .n_rows = n_rows, .q_rows = ts->q_rows, .row_limit = ts->row_limit,
                .k = k ? k + head * Lk * D : NULL, .v = v ? v + head * Lk * D : NULL,
                .k_packed = p->k_packed + head * p->n_kv_tiles * D * T,
                .v_packed = p->v_packed ? p->v_packed + head * Lk * Dp : NULL,
                .kv_begin = kv_begin, .kv_end = kv_end, .out_rows = ts->out_rows,
                .partial_o = partial_o ? partial_o + first_row * Dp : NULL,
                .partial_m = partial_m ? partial_m + first_row : NULL,
                .partial_l = partial_l ? partial_l + first_row : NULL,
                .scratch = ts->scratch,
            };
            p->kernel->rows(&job);
        }

        if (n_chunks > 1) {
#pragma omp for schedule(static)
            for (int64_t row = 0; row < n_rows_total; row++) {
                const int64_t bh = row / Lq, i = row % Lq, b = bh / s->heads;
                const int64_t first = bh * n_chunks * Lq + i;
                const int64_t limit =
                    atb_attention_allowed_keys(s, valid_keys(s, kv_valid_len, b), i);
                combine_row(partial_o + first * Dp, partial_m + first, partial_l + first,
                            n_chunks, Lq * Dp, Lq, D, limit, out + row * D);
            }
        }
    }
}

static void run_grouped(atb_flash_plan *p, const float *q, const float *k, const float *v,
                        const int32_t *kv_valid_len, float *out)
{
    const atb_attention_shape *s = &p->shape;
    const int64_t D = s->head_dim, Dp = p->head_dim_padded, Lq = s->q_len, Lk = s->kv_len;
    const int64_t rows = p->group * Lq, n_chunks = p->n_chunks;
    const int64_t n_heads = s->batch * s->kv_heads;
    const int64_t n_jobs = n_heads * n_chunks;
    /* Partials of (head, chunk): o [rows][Dp], then m [rows], then l [rows]. */
    const int64_t partial_stride = rows * (Dp + 2);

#pragma omp parallel num_threads(p->n_threads)
    {
        thread_scratch *ts = &p->threads[omp_get_thread_num()];

#pragma omp for schedule(dynamic, 1)
        for (int64_t job_index = 0; job_index < n_jobs; job_index++) {
            const int64_t head = job_index / n_chunks, c = job_index % n_chunks;
            const int64_t b = head / s->kv_heads, g = head % s->kv_heads;
            const int64_t valid = valid_keys(s, kv_valid_len, b);

            /* Row r is query i = r % Lq of head h = g * group + r / Lq. */
            for (int64_t r = 0; r < rows; r++) {
                const int64_t h = g * p->group + r / Lq, i = r % Lq;
                const int64_t offset = ((b * s->heads + h) * Lq + i) * D;
                ts->q_rows[r] = q + offset;
                ts->out_rows[r] = out + offset;
                ts->row_limit[r] = atb_attention_allowed_keys(s, valid, i);
            }
            const int64_t kv_begin = c * p->chunk_len;
            const int64_t kv_end = kv_begin + p->chunk_len < Lk ? kv_begin + p->chunk_len : Lk;
            float *partial = n_chunks > 1 ? p->partials + job_index * partial_stride : NULL;
            const atb_flash_job job = {
                .head_dim = D, .head_dim_padded = Dp, .scale = (float)s->scale,
                .n_rows = rows, .q_rows = ts->q_rows, .row_limit = ts->row_limit,
                .k = k ? k + head * Lk * D : NULL, .v = v ? v + head * Lk * D : NULL,
                .kv_begin = kv_begin, .kv_end = kv_end, .out_rows = ts->out_rows,
                .partial_o = partial, .partial_m = partial ? partial + rows * Dp : NULL,
                .partial_l = partial ? partial + rows * (Dp + 1) : NULL,
                .scratch = ts->scratch,
            };
            p->kernel->rows(&job);
        }

        if (n_chunks > 1) {
#pragma omp for schedule(static)
            for (int64_t item = 0; item < n_heads * rows; item++) {
                const int64_t head = item / rows, r = item % rows;
                const int64_t b = head / s->kv_heads, g = head % s->kv_heads;
                const int64_t h = g * p->group + r / Lq, i = r % Lq;
                const float *first = p->partials + head * n_chunks * partial_stride;
                const int64_t limit =
                    atb_attention_allowed_keys(s, valid_keys(s, kv_valid_len, b), i);
                combine_row(first + r * Dp, first + rows * Dp + r, first + rows * (Dp + 1) + r,
                            n_chunks, partial_stride, partial_stride, D, limit,
                            out + ((b * s->heads + h) * Lq + i) * D);
            }
        }
    }
}

atb_status atb_flash_run(atb_flash_plan *p, const float *q, const float *k, const float *v,
                         const int32_t *kv_valid_len, float *out, char *err, size_t err_len)
{
    atb_status st = check_inputs(p, q, k, v, kv_valid_len, out, err, err_len);
    if (st != ATB_OK)
        return st;
    if (p->grouped)
        run_grouped(p, q, k, v, kv_valid_len, out);
    else
        run_tiled(p, q, k, v, kv_valid_len, out);
    return ATB_OK;
}
