/*
 * Case tables of the committed suites (vectors/attention.h5 and
 * vectors/encoder_layer.h5) and the code that turns a table row into
 * inputs and a golden file.
 *
 * Size matters: the files are committed, so each case is as small as the
 * feature it covers allows. The attention file is dominated by q and the
 * f64 expected (12 bytes per query element); the layer file by the
 * weights (4 E^2 + 2 E F floats), so the one E = 512 case has F = 32 and
 * the F = 2048 cases have E of 16 and 64.
 */
#include "reference/suites.h"

#include "reference/golden_write.h"
#include "reference/prng.h"
#include "reference/reference.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* === Attention cases === */

/* Non-finite values planted after the random fill. */
typedef enum {
    PLANT_NONE = 0,
    PLANT_NAN_Q,       /* one q element NaN: that query row must be NaN */
    PLANT_INF_K,       /* +Inf and -Inf in two keys: a row whose logit is +Inf is NaN,
                          one whose logit is -Inf gives that key weight 0 */
    PLANT_NAN_INF_V,   /* NaN in one value column, +Inf in another: rows that use the
                          key get NaN and +Inf in those columns only */
    PLANT_NAN_PADDING  /* NaN, +Inf and -Inf in every key and value past the valid
                          length: the output must be finite */
} plant;

typedef struct {
    const char *name;
    const char *description;
    int64_t batch, heads, kv_heads, q_len, kv_len, head_dim;
    atb_causal causal;
    int32_t valid[3]; /* kv_valid_len per batch entry when has_valid */
    int has_valid;
    double scale;     /* 0 means 1/sqrt(head_dim) */
    float qk_gain;    /* q and k are multiplied by this; 0 means 1. A power of two
                         keeps the products exact. */
    plant planted;
} attention_case;

#define NONE ATB_CAUSAL_NONE
#define TOP_LEFT ATB_CAUSAL_TOP_LEFT
#define BOTTOM_RIGHT ATB_CAUSAL_BOTTOM_RIGHT

/* Columns: name, description, B, H, Hkv, Lq, Lk, D, causal, valid lengths,
   has_valid, scale, gain, planted values. */
static const attention_case attention_cases[] = {
    /* Smallest shapes and the basic head layouts. */
    {"attn_mha1_L1_D1", "one query and one key: the output equals v",
     1, 1, 1, 1, 1, 1, NONE, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_mha1_B3_L7_D1_causal_top_left", "three batch entries, head_dim 1, square causal mask",
     3, 1, 1, 7, 7, 1, TOP_LEFT, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_mha1_Lq7_Lk16_D8", "fewer queries than keys, no mask",
     1, 1, 1, 7, 16, 8, NONE, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_mha4_Lq16_Lk7_D8_causal_top_left",
     "more queries than keys with the top-left mask: rows 7 and later see every key",
     1, 4, 4, 16, 7, 8, TOP_LEFT, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_mha4_B3_L16_D17_causal_bottom_right",
     "square bottom-right mask, which equals top-left; odd head_dim",
     3, 4, 4, 16, 16, 17, BOTTOM_RIGHT, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_gqa8x2_Lq7_Lk63_D17_causal_bottom_right",
     "grouped-query heads 8 over 2; bottom-right mask with 56 cached keys before the queries",
     1, 8, 2, 7, 63, 17, BOTTOM_RIGHT, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_mqa6x1_L63_D32", "multi-query: six query heads share one key/value head",
     1, 6, 1, 63, 63, 32, NONE, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_mha4_L64_D32_causal_top_left", "exactly one 64-key block with the causal mask",
     1, 4, 4, 64, 64, 32, TOP_LEFT, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_gqa8x2_L64_D64", "grouped-query heads 8 over 2, one full 64-key block",
     1, 8, 2, 64, 64, 64, NONE, {0}, 0, 0, 0, PLANT_NONE},

    /* Key counts just past a block of 64 or 128: a kernel that drops the
       last partial block of keys fails these. */
    {"attn_gqa8x2_L65_D64_causal_top_left", "65 keys: one key past a 64-key block, causal",
     1, 8, 2, 65, 65, 64, TOP_LEFT, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_mha1_B3_Lq16_Lk65_D80", "65 keys seen by every row; head_dim 80",
     3, 1, 1, 16, 65, 80, NONE, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_mqa6x1_L127_D32_causal_top_left", "127 keys, multi-query, causal",
     1, 6, 1, 127, 127, 32, TOP_LEFT, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_mha4_Lq127_Lk128_D8_causal_bottom_right",
     "bottom-right mask with one more key than queries",
     1, 4, 4, 127, 128, 8, BOTTOM_RIGHT, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_mha1_L128_D256_causal_top_left", "head_dim 256 with 128 causal keys",
     1, 1, 1, 128, 128, 256, TOP_LEFT, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_mha1_L128_D128", "head_dim 128, 128 keys, no mask",
     1, 1, 1, 128, 128, 128, NONE, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_gqa8x2_L129_D32_causal_top_left", "129 keys: one past two 64-key blocks, causal",
     1, 8, 2, 129, 129, 32, TOP_LEFT, {0}, 0, 0, 0, PLANT_NONE},

    /* Rows that a causal rule masks completely must be exactly zero. */
    {"attn_mha1_Lq129_Lk128_D80_causal_bottom_right",
     "bottom-right mask with one more query than keys: row 0 has no allowed key and is 0",
     1, 1, 1, 129, 128, 80, BOTTOM_RIGHT, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_mha1_Lq513_Lk300_D17_causal_bottom_right",
     "bottom-right mask with 213 more queries than keys: rows 0 to 212 are 0",
     1, 1, 1, 513, 300, 17, BOTTOM_RIGHT, {0}, 0, 0, 0, PLANT_NONE},

    /* Longer sequences. */
    {"attn_mqa6x1_Lq300_Lk513_D8_causal_bottom_right",
     "300 queries after 213 cached keys, multi-query",
     1, 6, 1, 300, 513, 8, BOTTOM_RIGHT, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_mha1_L300_D64_causal_top_left", "300 causal keys, head_dim 64",
     1, 1, 1, 300, 300, 64, TOP_LEFT, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_mha4_L513_D8_causal_top_left", "513 causal keys, one past eight 64-key blocks",
     1, 4, 4, 513, 513, 8, TOP_LEFT, {0}, 0, 0, 0, PLANT_NONE},

    /* Decode steps: one query against a long key/value cache. */
    {"attn_decode_mqa6x1_Lk4096_D32", "decode step: one query, 4096 cached keys, multi-query",
     1, 6, 1, 1, 4096, 32, NONE, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_decode_gqa8x2_B3_Lk513_D32_causal_bottom_right_padded",
     "decode step with per-sequence cache lengths 513, 129 and 1",
     3, 8, 2, 1, 513, 32, BOTTOM_RIGHT, {513, 129, 1}, 1, 0, 0, PLANT_NONE},
    {"attn_decode_mha1_Lk128_D256_causal_top_left",
     "one query with the top-left mask sees only key 0: the output equals v[0]",
     1, 1, 1, 1, 128, 256, TOP_LEFT, {0}, 0, 0, 0, PLANT_NONE},

    /* No keys at all: every output is 0. */
    {"attn_mha4_Lq7_Lk0_D8", "kv_len 0: every row has no key and is 0",
     1, 4, 4, 7, 0, 8, NONE, {0}, 0, 0, 0, PLANT_NONE},
    {"attn_gqa8x2_B3_Lq16_Lk0_D17_causal_bottom_right",
     "kv_len 0 with the bottom-right mask and grouped-query heads",
     3, 8, 2, 16, 0, 17, BOTTOM_RIGHT, {0}, 0, 0, 0, PLANT_NONE},

    /* Key padding. */
    {"attn_mha4_B3_L16_D32_padded", "key padding with valid lengths 16, 0 and 9",
     3, 4, 4, 16, 16, 32, NONE, {16, 0, 9}, 1, 0, 0, PLANT_NONE},
    {"attn_gqa8x2_B3_Lq7_Lk65_D8_causal_bottom_right_padded",
     "padding and the bottom-right mask together: valid lengths 65, 64 and 1",
     3, 8, 2, 7, 65, 8, BOTTOM_RIGHT, {65, 64, 1}, 1, 0, 0, PLANT_NONE},
    {"attn_mqa6x1_B3_L129_D8_causal_top_left_padded",
     "padding and the top-left mask together: valid lengths 129, 100 and 0",
     3, 6, 1, 129, 129, 8, TOP_LEFT, {129, 100, 0}, 1, 0, 0, PLANT_NONE},

    /* Scales other than 1/sqrt(D), and logits in the hundreds. */
    {"attn_mha4_L64_D64_scale0.3", "custom scale 0.3",
     1, 4, 4, 64, 64, 64, NONE, {0}, 0, 0.3, 0, PLANT_NONE},
    {"attn_mqa6x1_L16_D17_causal_top_left_scale-0.25", "negative custom scale -0.25",
     1, 6, 1, 16, 16, 17, TOP_LEFT, {0}, 0, -0.25, 0, PLANT_NONE},
    {"attn_mha1_Lq65_Lk128_D128_scale1_big_logits",
     "scale 1 and q, k times 4: logits of about +-200, softmax close to one-hot",
     1, 1, 1, 65, 128, 128, NONE, {0}, 0, 1.0, 4.0f, PLANT_NONE},
    {"attn_mha4_L64_D64_causal_top_left_big_logits",
     "q and k times 16: logits reach several hundred; exp overflows unless the max is "
     "subtracted",
     1, 4, 4, 64, 64, 64, TOP_LEFT, {0}, 0, 0, 16.0f, PLANT_NONE},

    /* Non-finite inputs. */
    {"attn_mha4_L16_D8_nan_q", "a NaN in q[0,3,8,4] makes that output row NaN, others finite",
     1, 4, 4, 16, 16, 8, NONE, {0}, 0, 0, 0, PLANT_NAN_Q},
    {"attn_gqa8x2_B3_L65_D17_causal_top_left_nan_q",
     "a NaN in q[2,7,32,8] makes that output row NaN, others finite",
     3, 8, 2, 65, 65, 17, TOP_LEFT, {0}, 0, 0, 0, PLANT_NAN_Q},
    {"attn_mha1_L16_D8_causal_top_left_inf_k",
     "+Inf in k[0,0,2,0] and -Inf in k[0,0,15,7]: rows that get a +Inf logit are NaN, "
     "rows before key 2 do not see it",
     1, 1, 1, 16, 16, 8, TOP_LEFT, {0}, 0, 0, 0, PLANT_INF_K},
    {"attn_mqa6x1_B3_Lq7_Lk65_D8_inf_k",
     "+Inf in k[0,0,2,0] and -Inf in k[0,0,64,7] with six query heads reading them",
     3, 6, 1, 7, 65, 8, NONE, {0}, 0, 0, 0, PLANT_INF_K},
    {"attn_mha4_L16_D8_nan_inf_v",
     "NaN in v[0,0,1,0] and +Inf in v[0,0,8,7]: only those output columns are non-finite",
     1, 4, 4, 16, 16, 8, NONE, {0}, 0, 0, 0, PLANT_NAN_INF_V},
    {"attn_gqa8x2_Lq16_Lk129_D32_causal_bottom_right_nan_inf_v",
     "NaN in v[0,0,1,0] and +Inf in v[0,0,64,31] under the bottom-right mask",
     1, 8, 2, 16, 129, 32, BOTTOM_RIGHT, {0}, 0, 0, 0, PLANT_NAN_INF_V},
    {"attn_mha4_B3_L16_D8_nan_padding",
     "NaN and Inf in every padded key and value (valid lengths 16, 5 and 0): "
     "the output must stay finite",
     3, 4, 4, 16, 16, 8, NONE, {16, 5, 0}, 1, 0, 0, PLANT_NAN_PADDING},
    {"attn_gqa8x2_B3_Lq7_Lk129_D17_causal_bottom_right_nan_padding",
     "NaN and Inf in the padded keys and values (valid lengths 100, 64 and 1) with the "
     "bottom-right mask",
     3, 8, 2, 7, 129, 17, BOTTOM_RIGHT, {100, 64, 1}, 1, 0, 0, PLANT_NAN_PADDING},
};

#undef NONE
#undef TOP_LEFT
#undef BOTTOM_RIGHT

/* === Encoder-layer cases === */

typedef struct {
    const char *name;
    const char *description;
    int64_t batch, seq_len, embed_dim, heads, ffn_dim;
    atb_activation activation;
    int norm_first;
    double eps;
    atb_causal causal;
    int positional_encoding;
    int32_t valid[3];
    int has_valid;
} encoder_case;

#define RELU ATB_ACT_RELU
#define GELU ATB_ACT_GELU
#define NONE ATB_CAUSAL_NONE
#define TOP_LEFT ATB_CAUSAL_TOP_LEFT

/* Columns: name, description, B, L, E, H, F, activation, norm_first, eps,
   causal, positional encoding, valid lengths, has_valid. */
static const encoder_case encoder_cases[] = {
    {"enc_E16_H1_F32_L1_relu_post", "one token, one head, post-norm: attention returns v",
     1, 1, 16, 1, 32, RELU, 0, 1e-5, NONE, 0, {0}, 0},
    {"enc_E64_H1_F32_B3_L1_gelu_pre_padded",
     "one token per sequence, pre-norm; valid lengths 1, 0 and 1 (the middle one has no key)",
     3, 1, 64, 1, 32, GELU, 1, 1e-5, NONE, 0, {1, 0, 1}, 1},
    {"enc_E16_H4_F2048_L17_gelu_pre_pe",
     "wide feed-forward (F 2048), pre-norm, gelu, sinusoidal positions",
     1, 17, 16, 4, 2048, GELU, 1, 1e-5, NONE, 1, {0}, 0},
    {"enc_E64_H8_F2048_B3_L17_relu_post_padded",
     "F 2048, eight heads of 8, post-norm; valid lengths 17, 9 and 0",
     3, 17, 64, 8, 2048, RELU, 0, 1e-5, NONE, 0, {17, 9, 0}, 1},
    {"enc_E16_H4_F2048_B3_L128_gelu_post_causal_padded",
     "causal and padding together over 128 tokens; valid lengths 128, 65 and 1",
     3, 128, 16, 4, 2048, GELU, 0, 1e-5, TOP_LEFT, 0, {128, 65, 1}, 1},
    {"enc_E64_H4_F32_L128_gelu_post_causal_eps1e-6",
     "128 causal tokens, post-norm, LayerNorm eps 1e-6",
     1, 128, 64, 4, 32, GELU, 0, 1e-6, TOP_LEFT, 0, {0}, 0},
    {"enc_E96_H8_F32_L128_relu_pre_causal_pe",
     "E 96 in eight heads of 12, pre-norm, causal, sinusoidal positions",
     1, 128, 96, 8, 32, RELU, 1, 1e-5, TOP_LEFT, 1, {0}, 0},
    {"enc_E256_H4_F32_B3_L17_gelu_pre_padded_eps1e-6",
     "E 256, pre-norm, gelu, eps 1e-6; valid lengths 17, 1 and 12",
     3, 17, 256, 4, 32, GELU, 1, 1e-6, NONE, 0, {17, 1, 12}, 1},
    {"enc_E256_H8_F32_L128_relu_pre_causal_pe_eps1e-6",
     "E 256 over 128 causal tokens, pre-norm, sinusoidal positions, eps 1e-6",
     1, 128, 256, 8, 32, RELU, 1, 1e-6, TOP_LEFT, 1, {0}, 0},
    {"enc_E512_H8_F32_L17_relu_post_pe",
     "E 512 (the size of the common 512/2048 layer, with F cut to 32 to keep the file "
     "small), post-norm, sinusoidal positions",
     1, 17, 512, 8, 32, RELU, 0, 1e-5, NONE, 1, {0}, 0},
};

#undef RELU
#undef GELU
#undef NONE
#undef TOP_LEFT

/* === Building inputs === */

/* FNV-1a of the name, top bit cleared so it fits the int64 seed attribute.
   Seeding by name keeps every case's inputs fixed when cases are added,
   removed or reordered. */
static uint64_t seed_from_name(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        h ^= *c;
        h *= 0x100000001b3ull;
    }
    return h & 0x7fffffffffffffffull;
}

static void fill_uniform(float *a, size_t n, atb_prng *rng, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        a[i] = atb_prng_uniform(rng, lo, hi);
}

static void plant_values(const attention_case *c, atb_tensors *t)
{
    const atb_attention_shape *s = &t->problem.attention;
    const int64_t D = s->head_dim, Lk = s->kv_len;

    switch (c->planted) {
    case PLANT_NONE:
        break;

    case PLANT_NAN_Q: {
        /* Last batch entry and head, middle row and column. */
        const int64_t b = s->batch - 1, h = s->heads - 1, i = s->q_len / 2, d = D / 2;
        t->q[((b * s->heads + h) * s->q_len + i) * D + d] = NAN;
        break;
    }

    case PLANT_INF_K:
        t->k[2 * D] = INFINITY;               /* k[0, 0, 2, 0] */
        t->k[(Lk - 1) * D + D - 1] = -INFINITY; /* k[0, 0, Lk-1, D-1] */
        break;

    case PLANT_NAN_INF_V:
        t->v[1 * D] = NAN;                   /* v[0, 0, 1, 0] */
        t->v[(Lk / 2) * D + D - 1] = INFINITY; /* v[0, 0, Lk/2, D-1] */
        break;

    case PLANT_NAN_PADDING: {
        static const float poison[3] = {NAN, INFINITY, -INFINITY};
        for (int64_t b = 0; b < s->batch; b++)
            for (int64_t g = 0; g < s->kv_heads; g++)
                for (int64_t j = t->kv_valid_len[b]; j < Lk; j++)
                    for (int64_t d = 0; d < D; d++) {
                        const int64_t at = ((b * s->kv_heads + g) * Lk + j) * D + d;
                        t->k[at] = poison[(j + d) % 3];
                        t->v[at] = poison[(j + d + 1) % 3];
                    }
        break;
    }
    }
}

static atb_status build_attention(const attention_case *c, atb_tensors *t, char *err,
                                  size_t err_len)
{
    atb_problem problem = {.op = ATB_OP_ATTENTION, .n_threads = 1};
    atb_attention_shape *s = &problem.attention;
    s->batch = c->batch;
    s->heads = c->heads;
    s->kv_heads = c->kv_heads;
    s->q_len = c->q_len;
    s->kv_len = c->kv_len;
    s->head_dim = c->head_dim;
    s->scale = c->scale != 0.0 ? c->scale : 1.0 / sqrt((double)c->head_dim);
    s->causal = c->causal;
    s->has_kv_valid_len = c->has_valid;

    atb_status st = atb_tensors_alloc(t, &problem, err, err_len);
    if (st != ATB_OK)
        return st;

    const size_t nq = (size_t)(s->batch * s->heads * s->q_len * s->head_dim);
    const size_t nk = (size_t)(s->batch * s->kv_heads * s->kv_len * s->head_dim);
    atb_prng rng;
    atb_prng_seed(&rng, seed_from_name(c->name));
    fill_uniform(t->q, nq, &rng, -1.0f, 1.0f);
    fill_uniform(t->k, nk, &rng, -1.0f, 1.0f);
    fill_uniform(t->v, nk, &rng, -1.0f, 1.0f);
    if (c->qk_gain != 0.0f) {
        for (size_t i = 0; i < nq; i++)
            t->q[i] *= c->qk_gain;
        for (size_t i = 0; i < nk; i++)
            t->k[i] *= c->qk_gain;
    }
    if (c->has_valid)
        for (int64_t b = 0; b < s->batch; b++)
            t->kv_valid_len[b] = c->valid[b];
    plant_values(c, t);
    return ATB_OK;
}

static atb_status build_encoder(const encoder_case *c, atb_tensors *t, char *err,
                                size_t err_len)
{
    atb_problem problem = {.op = ATB_OP_ENCODER_LAYER, .n_threads = 1};
    atb_encoder_shape *s = &problem.encoder;
    s->batch = c->batch;
    s->seq_len = c->seq_len;
    s->embed_dim = c->embed_dim;
    s->heads = c->heads;
    s->ffn_dim = c->ffn_dim;
    s->activation = c->activation;
    s->norm_first = c->norm_first;
    s->layer_norm_eps = c->eps;
    s->causal = c->causal;
    s->positional_encoding = c->positional_encoding;
    s->has_kv_valid_len = c->has_valid;

    atb_status st = atb_tensors_alloc(t, &problem, err, err_len);
    if (st != ATB_OK)
        return st;

    const size_t E = (size_t)c->embed_dim, F = (size_t)c->ffn_dim;
    atb_prng rng;
    atb_prng_seed(&rng, seed_from_name(c->name));
    fill_uniform(t->x, (size_t)c->batch * (size_t)c->seq_len * E, &rng, -1.0f, 1.0f);

    /* Linear weights and biases uniform in +-1/sqrt(fan_in), the range of
       nn.Linear's default initialization, so activations keep unit scale
       through the layer.
       Order and sizes follow atb_encoder_weights. */
    const size_t counts[8] = {3 * E * E, 3 * E, E * E, E, F * E, F, E * F, E};
    const size_t fan_in[8] = {E, E, E, E, E, E, F, F};
    for (int i = 0; i < 8; i++) {
        const float a = (float)(1.0 / sqrt((double)fan_in[i]));
        fill_uniform(t->weights[i], counts[i], &rng, -a, a);
    }
    /* LayerNorm weights near 1 and small biases, so a swapped or missing
       affine step changes the output. */
    for (int i = 8; i < 12; i += 2) {
        fill_uniform(t->weights[i], E, &rng, 0.75f, 1.25f);
        fill_uniform(t->weights[i + 1], E, &rng, -0.1f, 0.1f);
    }
    if (c->has_valid)
        for (int64_t b = 0; b < c->batch; b++)
            t->kv_valid_len[b] = c->valid[b];
    return ATB_OK;
}

/* === Public functions === */

size_t atb_suite_count(atb_op op)
{
    if (op == ATB_OP_ATTENTION)
        return sizeof(attention_cases) / sizeof(attention_cases[0]);
    return sizeof(encoder_cases) / sizeof(encoder_cases[0]);
}

atb_status atb_suite_build(atb_op op, size_t index, atb_suite_case_info *info, atb_tensors *t,
                           char *err, size_t err_len)
{
    memset(t, 0, sizeof(*t));
    if (index >= atb_suite_count(op)) {
        snprintf(err, err_len, "case index %zu is out of range", index);
        return ATB_ERR_INVALID;
    }
    if (op == ATB_OP_ATTENTION) {
        const attention_case *c = &attention_cases[index];
        info->name = c->name;
        info->description = c->description;
        info->seed = seed_from_name(c->name);
        return build_attention(c, t, err, err_len);
    }
    const encoder_case *c = &encoder_cases[index];
    info->name = c->name;
    info->description = c->description;
    info->seed = seed_from_name(c->name);
    return build_encoder(c, t, err, err_len);
}

static atb_status compute_expected(const atb_tensors *t, double *expected)
{
    const atb_problem *p = &t->problem;
    if (p->op == ATB_OP_ATTENTION)
        return atb_ref_attention(&p->attention, t->q, t->k, t->v, t->kv_valid_len, expected);
    const atb_encoder_weights w = atb_tensors_weights(t);
    return atb_ref_encoder_layer(&p->encoder, &w, t->x, t->kv_valid_len, expected);
}

atb_status atb_suite_write(atb_op op, const char *path, const char *generator, char *err,
                           size_t err_len)
{
    atb_golden_writer *writer;
    atb_status st = atb_golden_writer_create(path, generator, &writer, err, err_len);
    if (st != ATB_OK)
        return st;

    const size_t n_cases = atb_suite_count(op);
    for (size_t index = 0; index < n_cases && st == ATB_OK; index++) {
        atb_suite_case_info info;
        atb_tensors t;
        st = atb_suite_build(op, index, &info, &t, err, err_len);
        if (st != ATB_OK)
            break;

        /* One extra element keeps the buffer non-NULL for empty outputs. */
        double *expected = malloc((atb_problem_output_count(&t.problem) + 1) * sizeof(double));
        if (!expected) {
            snprintf(err, err_len, "case %s: cannot allocate the expected output", info.name);
            st = ATB_ERR_NOMEM;
        }
        if (st == ATB_OK) {
            st = compute_expected(&t, expected);
            if (st != ATB_OK)
                snprintf(err, err_len, "case %s: the reference rejected the case (%s)",
                         info.name, st == ATB_ERR_INVALID ? "invalid shape" : "out of memory");
        }
        if (st == ATB_OK)
            st = atb_golden_writer_add_case(writer, info.name, info.description, info.seed, &t,
                                       expected, err, err_len);
        if (st == ATB_OK)
            fprintf(stderr, "attnbench: [%zu/%zu] %s: %s\n", index + 1, n_cases, path,
                    info.name);
        free(expected);
        atb_tensors_free(&t);
    }

    char close_err[256];
    const atb_status close_st = atb_golden_writer_close(writer, close_err, sizeof(close_err));
    if (st == ATB_OK && close_st != ATB_OK) {
        snprintf(err, err_len, "%s", close_err);
        st = close_st;
    }
    return st;
}
