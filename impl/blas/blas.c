/*
 * Registry entry for blas: the memory check, the plan (scratch and the
 * positional encoding), run() and describe().
 */
#include "impl/blas/blas.h"

#include "harness/memory_limit.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The score scratch may use at most half of the memory the kernel reports
   available, and never more than this cap, so that a plan on a large
   machine still leaves room for inputs and other processes. */
#define SCRATCH_CAP_BYTES (64.0 * 1024 * 1024 * 1024)
#define GIB (1024.0 * 1024.0 * 1024.0)

typedef struct {
    atb_problem problem;
    atb_encoder_weights weights;
    float *scratch;
    float *positional_encoding; /* [L, E] or NULL */
} blas_plan;

/* Half the memory this process can still get (every limit, see
   harness/memory_limit.h), else half the free pages, at most the cap. */
static double scratch_limit_bytes(void)
{
    const atb_memory_headroom headroom = atb_memory_headroom_now();
    double available = headroom.bytes;
    if (available < 0.0) {
        const long pages = sysconf(_SC_AVPHYS_PAGES), page_bytes = sysconf(_SC_PAGESIZE);
        available = pages > 0 && page_bytes > 0 ? (double)pages * (double)page_bytes : 0.0;
    }
    const double half = 0.5 * available;
    return half < SCRATCH_CAP_BYTES ? half : SCRATCH_CAP_BYTES;
}

/* Scratch floats of the plan, with the score part apart; computed in
   double so that absurd shapes cannot overflow. */
static void scratch_counts(const atb_problem *p, double *n_total, double *n_scores)
{
    const double threads = (double)p->n_threads;
    if (p->op == ATB_OP_ATTENTION) {
        const double lk = p->attention.kv_len > 0 ? (double)p->attention.kv_len : 1.0;
        *n_scores = threads * ATB_BLAS_QUERY_BLOCK * lk;
        *n_total = *n_scores;
    } else {
        const atb_encoder_shape *s = &p->encoder;
        const double n = (double)s->batch * (double)s->seq_len;
        *n_scores = threads * ATB_BLAS_QUERY_BLOCK * (double)s->seq_len;
        *n_total = n * (7.0 * (double)s->embed_dim + (double)s->ffn_dim) + *n_scores
                   + (double)s->seq_len * (double)s->embed_dim;
    }
}

static int blas_supports(const atb_problem *p, char *why, size_t why_len)
{
    double n_total, n_scores;
    scratch_counts(p, &n_total, &n_scores);
    const double need = n_total * sizeof(float), limit = scratch_limit_bytes();
    if (need > limit) {
        snprintf(why, why_len,
                 "needs %.1f GiB for the score matrix (%.1f GiB of scratch in all), limit "
                 "%.1f GiB (half of the memory left to the process, at most %.0f GiB)",
                 n_scores * sizeof(float) / GIB, need / GIB, limit / GIB,
                 SCRATCH_CAP_BYTES / GIB);
        return 0;
    }
    /* cblas takes int extents and leading dimensions. */
    const int64_t widest = p->op == ATB_OP_ATTENTION
                               ? p->attention.kv_len
                               : 3 * p->encoder.embed_dim > p->encoder.ffn_dim
                                     ? 3 * p->encoder.embed_dim
                                     : p->encoder.ffn_dim;
    const int64_t rows = p->op == ATB_OP_ATTENTION ? p->attention.q_len
                                                   : p->encoder.batch * p->encoder.seq_len;
    if (widest > INT32_MAX || rows > INT32_MAX) {
        snprintf(why, why_len, "a GEMM extent exceeds the int range of the CBLAS interface");
        return 0;
    }
    return 1;
}

static void set_threads(int n_threads)
{
    omp_set_num_threads(n_threads);
    openblas_set_num_threads(n_threads);
}

/* PE[p, 2i] = sin(p / 10000^(2i/E)), PE[p, 2i+1] = cos(same), evaluated in
   double and rounded once: an f32 angle at positions in the hundreds is
   already off by about 1e-5. */
static void fill_positional_encoding(float *pe, int64_t L, int64_t E)
{
    for (int64_t pos = 0; pos < L; pos++) {
        for (int64_t c = 0; c < E; c += 2) {
            const double angle = (double)pos / pow(10000.0, (double)c / (double)E);
            pe[pos * E + c] = (float)sin(angle);
            if (c + 1 < E)
                pe[pos * E + c + 1] = (float)cos(angle);
        }
    }
}

static atb_status blas_plan_create(const atb_problem *p, const atb_encoder_weights *w,
                                   void **out, char *err, size_t err_len)
{
    if (!blas_supports(p, err, err_len))
        return ATB_ERR_NOMEM;
    if (p->op == ATB_OP_ENCODER_LAYER && !w) {
        snprintf(err, err_len, "blas: the encoder layer needs weights, got NULL");
        return ATB_ERR_INVALID;
    }
    set_threads(p->n_threads);

    double n_total, n_scores;
    scratch_counts(p, &n_total, &n_scores);
    blas_plan *plan = calloc(1, sizeof(*plan));
    float *scratch = malloc((size_t)n_total * sizeof(float));
    if (!plan || !scratch) {
        free(plan);
        free(scratch);
        snprintf(err, err_len, "blas: cannot allocate %.0f bytes of scratch",
                 n_total * sizeof(float));
        return ATB_ERR_NOMEM;
    }
    plan->problem = *p;
    plan->scratch = scratch;
    if (p->op == ATB_OP_ENCODER_LAYER) {
        plan->weights = *w;
        if (p->encoder.positional_encoding) {
            /* The table sits at the end of the scratch allocation. */
            plan->positional_encoding =
                scratch + (size_t)n_total - (size_t)(p->encoder.seq_len * p->encoder.embed_dim);
            fill_positional_encoding(plan->positional_encoding, p->encoder.seq_len,
                                     p->encoder.embed_dim);
        }
    }
    *out = plan;
    return ATB_OK;
}

static atb_status check_valid_lengths(const int32_t *kv_valid_len, int has, int64_t batch,
                                      int64_t kv_len, char *err, size_t err_len)
{
    if (!has)
        return ATB_OK;
    if (!kv_valid_len) {
        snprintf(err, err_len, "blas: the problem has kv_valid_len but run() got NULL");
        return ATB_ERR_INVALID;
    }
    for (int64_t b = 0; b < batch; b++) {
        if (kv_valid_len[b] < 0 || kv_valid_len[b] > kv_len) {
            snprintf(err, err_len, "blas: kv_valid_len[%lld] = %d is outside 0..%lld",
                     (long long)b, (int)kv_valid_len[b], (long long)kv_len);
            return ATB_ERR_INVALID;
        }
    }
    return ATB_OK;
}

static atb_status blas_run(void *opaque, const atb_run_args *a, char *err, size_t err_len)
{
    blas_plan *plan = opaque;
    const atb_problem *p = &plan->problem;
    set_threads(p->n_threads);

    if (p->op == ATB_OP_ATTENTION) {
        const atb_attention_shape *s = &p->attention;
        const int32_t *valid = s->has_kv_valid_len ? a->kv_valid_len : NULL;
        atb_status st = check_valid_lengths(a->kv_valid_len, s->has_kv_valid_len, s->batch,
                                            s->kv_len, err, err_len);
        if (st != ATB_OK)
            return st;
        const int64_t D = s->head_dim;
        const atb_blas_attention_view view = {
            .shape = s, .q = a->q, .k = a->k, .v = a->v, .out = a->out,
            .q_batch_stride = s->heads * s->q_len * D, .q_head_stride = s->q_len * D,
            .q_row_stride = D,
            .kv_batch_stride = s->kv_heads * s->kv_len * D, .kv_head_stride = s->kv_len * D,
            .kv_row_stride = D,
            .out_batch_stride = s->heads * s->q_len * D, .out_head_stride = s->q_len * D,
            .out_row_stride = D,
            .kv_valid_len = valid,
        };
        atb_blas_attention_f32(&view, plan->scratch, p->n_threads);
    } else {
        const atb_encoder_shape *s = &p->encoder;
        atb_status st = check_valid_lengths(a->kv_valid_len, s->has_kv_valid_len, s->batch,
                                            s->seq_len, err, err_len);
        if (st != ATB_OK)
            return st;
        atb_blas_encoder_f32(s, &plan->weights, plan->positional_encoding, a->x,
                             s->has_kv_valid_len ? a->kv_valid_len : NULL, a->out,
                             plan->scratch, p->n_threads);
    }
    return ATB_OK;
}

static void blas_destroy(void *opaque)
{
    blas_plan *plan = opaque;
    if (plan)
        free(plan->scratch);
    free(plan);
}

static const char *parallel_name(int mode)
{
    switch (mode) {
    case 0: return "sequential";
    case 1: return "pthreads";
    case 2: return "OpenMP";
    }
    return "unknown";
}

static void blas_describe(const void *opaque, char *buf, size_t buf_len)
{
    const blas_plan *plan = opaque;
    int n = snprintf(buf, buf_len, "OpenBLAS config '%s', core %s, threading %s",
                     openblas_get_config(), openblas_get_corename(),
                     parallel_name(openblas_get_parallel()));
    if (plan && n >= 0 && (size_t)n < buf_len)
        snprintf(buf + n, buf_len - (size_t)n, ", %d threads, query block %d",
                 plan->problem.n_threads, ATB_BLAS_QUERY_BLOCK);
}

const atb_impl atb_impl_blas = {
    .name = "blas",
    .ops = ATB_OPS_ATTENTION | ATB_OPS_ENCODER_LAYER,
    .isa_required = 0,
    .notes = "OpenBLAS sgemm for QK^T, PV and projections; own softmax and LayerNorm",
    .supports = blas_supports,
    .plan = blas_plan_create,
    .run = blas_run,
    .destroy = blas_destroy,
    .describe = blas_describe,
};
