/*
 * A minimal attnbench plugin: one attention implementation, "example.rows",
 * in plain single-threaded C11 with f32 arithmetic. It computes each output
 * row with a max-subtracted softmax over the allowed keys only, so that it
 * handles every feature of the operation: the three causal modes, key
 * padding (kv_valid_len), grouped-query attention, Lq != Lk, Lk = 0, and
 * rows with no allowed key (output exactly 0). Keys that are not allowed
 * are never read, so NaN or Inf stored there cannot reach the output.
 *
 * Build it against an installed attnbench with the CMakeLists.txt beside
 * this file, then: attnbench check --plugin ./example_plugin.so --impl example
 */
#include <attnbench/impl.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    atb_attention_shape shape;
    float *scores; /* [kv_len]: one row of scores, then of softmax weights */
} rows_plan;

static atb_status rows_plan_create(const atb_problem *problem, const atb_encoder_weights *weights,
                                   void **out, char *err, size_t err_len)
{
    (void)weights;
    if (problem->op != ATB_OP_ATTENTION) {
        snprintf(err, err_len, "example.rows implements attention only");
        return ATB_ERR_UNSUPPORTED;
    }
    rows_plan *plan = calloc(1, sizeof(*plan));
    /* One extra element so that kv_len = 0 still gets a valid pointer. */
    float *scores = malloc(((size_t)problem->attention.kv_len + 1) * sizeof(float));
    if (!plan || !scores) {
        free(plan);
        free(scores);
        snprintf(err, err_len, "example.rows: cannot allocate the score row");
        return ATB_ERR_NOMEM;
    }
    plan->shape = problem->attention;
    plan->scores = scores;
    *out = plan;
    return ATB_OK;
}

/* Number of keys allowed for query row i: keys 0 .. end-1. */
static int64_t allowed_key_end(const atb_attention_shape *s, int64_t valid, int64_t i)
{
    int64_t end = valid;
    if (s->causal == ATB_CAUSAL_TOP_LEFT && i + 1 < end)
        end = i + 1;
    if (s->causal == ATB_CAUSAL_BOTTOM_RIGHT && i + 1 + (s->kv_len - s->q_len) < end)
        end = i + 1 + (s->kv_len - s->q_len);
    return end < 0 ? 0 : end;
}

static atb_status rows_run(void *opaque, const atb_run_args *args, char *err, size_t err_len)
{
    rows_plan *plan = opaque;
    const atb_attention_shape *s = &plan->shape;
    const int64_t d_len = s->head_dim, group = s->heads / s->kv_heads;
    const float scale = (float)s->scale;
    float *restrict scores = plan->scores;

    for (int64_t b = 0; b < s->batch; b++) {
        const int64_t valid = args->kv_valid_len ? args->kv_valid_len[b] : s->kv_len;
        if (valid < 0 || valid > s->kv_len) {
            snprintf(err, err_len, "kv_valid_len[%lld] = %lld is outside 0..%lld",
                     (long long)b, (long long)valid, (long long)s->kv_len);
            return ATB_ERR_INVALID;
        }
        for (int64_t h = 0; h < s->heads; h++) {
            /* Query head h reads key/value head h / group. */
            const int64_t g = h / group;
            const float *k = args->k + (b * s->kv_heads + g) * s->kv_len * d_len;
            const float *v = args->v + (b * s->kv_heads + g) * s->kv_len * d_len;

            for (int64_t i = 0; i < s->q_len; i++) {
                const float *q = args->q + ((b * s->heads + h) * s->q_len + i) * d_len;
                float *out = args->out + ((b * s->heads + h) * s->q_len + i) * d_len;
                const int64_t end = allowed_key_end(s, valid, i);

                /* A row without allowed keys is defined as zeros. */
                for (int64_t d = 0; d < d_len; d++)
                    out[d] = 0.0f;
                if (end == 0)
                    continue;

                /* Scores and their maximum. A NaN score does not raise the
                   maximum, but it still makes its weight, and so the row, NaN. */
                float max_score = -INFINITY;
                for (int64_t j = 0; j < end; j++) {
                    float dot = 0.0f;
                    for (int64_t d = 0; d < d_len; d++)
                        dot += q[d] * k[j * d_len + d];
                    scores[j] = scale * dot;
                    if (scores[j] > max_score)
                        max_score = scores[j];
                }

                /* Softmax weights, max-subtracted so that exp cannot overflow. */
                float sum = 0.0f;
                for (int64_t j = 0; j < end; j++) {
                    scores[j] = expf(scores[j] - max_score);
                    sum += scores[j];
                }

                /* Weighted sum of the value rows, then normalization. */
                for (int64_t j = 0; j < end; j++)
                    for (int64_t d = 0; d < d_len; d++)
                        out[d] += scores[j] * v[j * d_len + d];
                for (int64_t d = 0; d < d_len; d++)
                    out[d] /= sum;
            }
        }
    }
    return ATB_OK;
}

static void rows_destroy(void *opaque)
{
    rows_plan *plan = opaque;
    if (plan)
        free(plan->scores);
    free(plan);
}

static void rows_describe(const void *plan, char *buf, size_t buf_len)
{
    (void)plan;
    snprintf(buf, buf_len, "portable C, one thread");
}

static const atb_impl rows_impl = {
    .name = "rows",
    .ops = ATB_OPS_ATTENTION,
    .isa_required = 0,
    .notes = "example plugin: one query row at a time, f32",
    .supports = NULL,
    .plan = rows_plan_create,
    .run = rows_run,
    .destroy = rows_destroy,
    .describe = rows_describe,
};

static const atb_impl *const example_impls[] = {&rows_impl};

int attnbench_plugin_abi_version(void)
{
    return ATTNBENCH_ABI_VERSION;
}

const atb_impl *const *attnbench_plugin_impls(const char **plugin_name, size_t *n_impls)
{
    *plugin_name = "example";
    *n_impls = sizeof(example_impls) / sizeof(example_impls[0]);
    return example_impls;
}
