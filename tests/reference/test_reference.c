/*
 * The float64 reference against small cases worked out by hand: single
 * keys, known logits, each causal rule, padding, GQA head mapping,
 * non-finite inputs, LayerNorm, activations, positional encoding and a
 * one-token layer. Each check prints the expected and the computed value
 * when it fails. Run as `test_reference NAME` for one group, or without
 * arguments for all of them.
 */
#include "harness/problem.h"
#include "harness/registry.h"
#include "reference/golden_write.h"
#include "reference/reference.h"
#include "reference/suites.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int n_failed;

/* Compares got with want: equal when both are NaN, both the same infinity,
   or within tol * max(1, |want|). */
static void check_value(const char *label, int index, double want, double got, double tol,
                        const char *file, int line)
{
    int ok;
    if (isnan(want))
        ok = isnan(got);
    else if (isinf(want))
        ok = got == want;
    else
        ok = isfinite(got) && fabs(got - want) <= tol * fmax(1.0, fabs(want));
    if (!ok) {
        fprintf(stderr, "%s:%d: %s[%d]: expected %.17g, got %.17g\n", file, line, label, index,
                want, got);
        n_failed++;
    }
}

#define CHECK_NEAR(label, index, want, got) \
    check_value(label, index, want, got, 1e-14, __FILE__, __LINE__)

#define CHECK_STATUS(want, got)                                                        \
    do {                                                                               \
        const atb_status got_ = (got);                                                 \
        if (got_ != (want)) {                                                          \
            fprintf(stderr, "%s:%d: expected status %d, got %d\n", __FILE__, __LINE__, \
                    (int)(want), (int)got_);                                           \
            n_failed++;                                                                \
        }                                                                              \
    } while (0)

static atb_attention_shape attention_shape(int64_t heads, int64_t kv_heads, int64_t q_len,
                                           int64_t kv_len, int64_t head_dim, atb_causal causal)
{
    atb_attention_shape s = {
        .batch = 1, .heads = heads, .kv_heads = kv_heads, .q_len = q_len, .kv_len = kv_len,
        .head_dim = head_dim, .scale = 1.0 / sqrt((double)head_dim), .causal = causal,
    };
    return s;
}

/* === Attention === */

static void test_single_key_returns_v(void)
{
    const atb_attention_shape s = attention_shape(1, 1, 2, 1, 3, ATB_CAUSAL_NONE);
    const float q[] = {0.5f, -1.0f, 2.0f, 3.0f, 1.0f, -0.25f};
    const float k[] = {0.75f, 0.125f, -2.0f};
    const float v[] = {1.5f, -2.5f, 0.0625f};
    double out[6];
    CHECK_STATUS(ATB_OK, atb_ref_attention(&s, q, k, v, NULL, out));
    for (int i = 0; i < 6; i++)
        CHECK_NEAR("out", i, (double)v[i % 3], out[i]);
}

static void test_two_keys_known_logits(void)
{
    /* scale 0.5, q = 2, keys 0 and 1: logits 0 and 1, so the weights are
       1/(1+e) and e/(1+e). */
    atb_attention_shape s = attention_shape(1, 1, 1, 2, 1, ATB_CAUSAL_NONE);
    s.scale = 0.5;
    const float q[] = {2.0f}, k[] = {0.0f, 1.0f}, v[] = {10.0f, -4.0f};
    double out[1];
    CHECK_STATUS(ATB_OK, atb_ref_attention(&s, q, k, v, NULL, out));
    const double e = exp(1.0);
    CHECK_NEAR("out", 0, (10.0 - 4.0 * e) / (1.0 + e), out[0]);
}

/* With q = 0 every logit is 0, so each row is the mean of its allowed values. */
static void check_causal_means(atb_causal causal, int64_t q_len, int64_t kv_len,
                               const double *want)
{
    const atb_attention_shape s = attention_shape(1, 1, q_len, kv_len, 1, causal);
    const float q[8] = {0};
    const float k[8] = {1.0f, -2.0f, 3.0f, 0.5f, 0.25f, 7.0f, 1.0f, 2.0f};
    const float v[8] = {1.0f, 2.0f, 4.0f, 8.0f, 16.0f, 32.0f, 64.0f, 128.0f};
    double out[8];
    CHECK_STATUS(ATB_OK, atb_ref_attention(&s, q, k, v, NULL, out));
    for (int i = 0; i < q_len; i++)
        CHECK_NEAR(atb_causal_name(causal), i, want[i], out[i]);
}

static void test_causal_masks(void)
{
    /* top_left, 3 x 3: row i averages v[0..i]. */
    const double top_left[] = {1.0, 1.5, 7.0 / 3.0};
    check_causal_means(ATB_CAUSAL_TOP_LEFT, 3, 3, top_left);

    /* top_left with more queries than keys: rows 2 and 3 see both keys. */
    const double top_left_long[] = {1.0, 1.5, 1.5, 1.5};
    check_causal_means(ATB_CAUSAL_TOP_LEFT, 4, 2, top_left_long);

    /* bottom_right, 2 queries and 3 keys: row i sees keys j <= i + 1. */
    const double bottom_right[] = {1.5, 7.0 / 3.0};
    check_causal_means(ATB_CAUSAL_BOTTOM_RIGHT, 2, 3, bottom_right);

    /* bottom_right, 3 queries and 2 keys: row 0 has no allowed key and is
       exactly 0, row 1 sees key 0, row 2 both. */
    const double fully_masked[] = {0.0, 1.0, 1.5};
    check_causal_means(ATB_CAUSAL_BOTTOM_RIGHT, 3, 2, fully_masked);

    /* none: every row is the mean of all keys. */
    const double none[] = {7.0 / 3.0, 7.0 / 3.0};
    check_causal_means(ATB_CAUSAL_NONE, 2, 3, none);
}

static void test_padding_excludes_poisoned_keys(void)
{
    /* Two batch entries with valid lengths 1 and 0. Key 1 of entry 0 and
       both keys of entry 1 contain NaN and Inf, which must not leak. */
    atb_attention_shape s = attention_shape(1, 1, 2, 2, 1, ATB_CAUSAL_NONE);
    s.batch = 2;
    s.has_kv_valid_len = 1;
    const float q[] = {1.0f, -1.0f, 1.0f, 1.0f};
    const float k[] = {0.5f, NAN, INFINITY, NAN};
    const float v[] = {3.0f, INFINITY, NAN, -INFINITY};
    const int32_t valid[] = {1, 0};
    double out[4];
    CHECK_STATUS(ATB_OK, atb_ref_attention(&s, q, k, v, valid, out));
    const double want[] = {3.0, 3.0, 0.0, 0.0};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR("padded", i, want[i], out[i]);
    if (signbit(out[2]) || signbit(out[3])) {
        fprintf(stderr, "%s:%d: a fully masked row is -0.0, expected +0.0\n", __FILE__,
                __LINE__);
        n_failed++;
    }
}

static void test_gqa_head_mapping(void)
{
    /* Four query heads over two key/value heads and one key: head h
       returns v of head h / 2. */
    const atb_attention_shape s = attention_shape(4, 2, 1, 1, 2, ATB_CAUSAL_NONE);
    const float q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const float k[4] = {1, 1, 1, 1};
    const float v[4] = {10.0f, 11.0f, -20.0f, -21.0f};
    double out[8];
    CHECK_STATUS(ATB_OK, atb_ref_attention(&s, q, k, v, NULL, out));
    const double want[8] = {10, 11, 10, 11, -20, -21, -20, -21};
    for (int i = 0; i < 8; i++)
        CHECK_NEAR("gqa", i, want[i], out[i]);

    /* Two keys per head with different logits: the grouping also selects
       the keys. Head 0 and 1 read keys {0, 1}; heads 2 and 3 read keys
       {2, 3}, whose second key dominates. */
    atb_attention_shape s2 = attention_shape(4, 2, 1, 2, 1, ATB_CAUSAL_NONE);
    s2.scale = 1.0;
    const float q2[4] = {1, 1, 1, 1};
    const float k2[4] = {0.0f, 0.0f, 0.0f, 100.0f};
    const float v2[4] = {1.0f, 3.0f, 5.0f, 7.0f};
    double out2[4];
    CHECK_STATUS(ATB_OK, atb_ref_attention(&s2, q2, k2, v2, NULL, out2));
    const double w = 1.0 / (1.0 + exp(-100.0)); /* weight of key 3 */
    const double want2[4] = {2.0, 2.0, 5.0 * (1.0 - w) + 7.0 * w, 5.0 * (1.0 - w) + 7.0 * w};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR("gqa keys", i, want2[i], out2[i]);
}

static void test_zero_keys_give_zero(void)
{
    const atb_attention_shape s = attention_shape(2, 1, 3, 0, 4, ATB_CAUSAL_BOTTOM_RIGHT);
    const float q[24] = {1};
    const float none[1] = {0};
    double out[24];
    for (int i = 0; i < 24; i++)
        out[i] = 99.0;
    CHECK_STATUS(ATB_OK, atb_ref_attention(&s, q, none, none, NULL, out));
    for (int i = 0; i < 24; i++)
        CHECK_NEAR("Lk=0", i, 0.0, out[i]);
}

static void test_nonfinite_rules(void)
{
    /* Row 0: q is NaN, so every logit and the row are NaN.
       Row 1: q = 1, key 1 is +Inf: logit +Inf, Inf - Inf = NaN, row NaN.
       Row 2: q = -1, key 1 gives logit -Inf: weight 0, row equals v[0]. */
    atb_attention_shape s = attention_shape(1, 1, 3, 2, 1, ATB_CAUSAL_NONE);
    s.scale = 1.0;
    const float q[] = {NAN, 1.0f, -1.0f};
    const float k[] = {0.5f, INFINITY};
    const float v[] = {2.0f, 5.0f};
    double out[3];
    CHECK_STATUS(ATB_OK, atb_ref_attention(&s, q, k, v, NULL, out));
    CHECK_NEAR("nan q", 0, NAN, out[0]);
    CHECK_NEAR("+inf logit", 1, NAN, out[1]);
    CHECK_NEAR("-inf logit", 2, 2.0, out[2]);

    /* An Inf in v reaches only its own column; NaN likewise. */
    const atb_attention_shape s2 = attention_shape(1, 1, 1, 2, 3, ATB_CAUSAL_NONE);
    const float q2[] = {0, 0, 0};
    const float k2[] = {0, 0, 0, 0, 0, 0};
    const float v2[] = {1.0f, INFINITY, 2.0f, 3.0f, 0.0f, NAN};
    double out2[3];
    CHECK_STATUS(ATB_OK, atb_ref_attention(&s2, q2, k2, v2, NULL, out2));
    CHECK_NEAR("inf v", 0, 2.0, out2[0]);
    CHECK_NEAR("inf v", 1, INFINITY, out2[1]);
    CHECK_NEAR("inf v", 2, NAN, out2[2]);
}

static void test_attention_row_matches_full(void)
{
    atb_suite_case_info info;
    atb_tensors t;
    char err[256];
    /* Any suite case with padding and grouped heads will do; search by name
       so the test does not depend on the table's order. */
    for (size_t index = 0; index < atb_suite_count(ATB_OP_ATTENTION); index++) {
        if (atb_suite_build(ATB_OP_ATTENTION, index, &info, &t, err, sizeof(err)) != ATB_OK) {
            fprintf(stderr, "cannot build case %zu: %s\n", index, err);
            n_failed++;
            return;
        }
        if (strcmp(info.name, "attn_gqa8x2_B3_Lq7_Lk65_D8_causal_bottom_right_padded") == 0)
            break;
        atb_tensors_free(&t);
    }
    const atb_attention_shape *s = &t.problem.attention;
    double *full = malloc(atb_problem_output_count(&t.problem) * sizeof(double));
    double row[64];
    CHECK_STATUS(ATB_OK, atb_ref_attention(s, t.q, t.k, t.v, t.kv_valid_len, full));
    const int64_t picks[][3] = {{0, 0, 0}, {1, 5, 6}, {2, 7, 3}, {2, 1, 0}};
    for (int p = 0; p < 4; p++) {
        const int64_t b = picks[p][0], h = picks[p][1], i = picks[p][2];
        CHECK_STATUS(ATB_OK,
                     atb_ref_attention_row(s, t.q, t.k, t.v, t.kv_valid_len, b, h, i, row));
        const double *want = full + ((b * s->heads + h) * s->q_len + i) * s->head_dim;
        for (int d = 0; d < s->head_dim; d++)
            check_value("row", d, want[d], row[d], 0.0, __FILE__, __LINE__);
    }
    free(full);
    atb_tensors_free(&t);
}

static void test_attention_invalid_shapes(void)
{
    const float x[16] = {0};
    double out[16], row[4];
    atb_attention_shape s = attention_shape(3, 2, 1, 1, 1, ATB_CAUSAL_NONE);
    CHECK_STATUS(ATB_ERR_INVALID, atb_ref_attention(&s, x, x, x, NULL, out)); /* 3 % 2 */
    s = attention_shape(1, 1, 0, 1, 1, ATB_CAUSAL_NONE);
    CHECK_STATUS(ATB_ERR_INVALID, atb_ref_attention(&s, x, x, x, NULL, out)); /* q_len 0 */
    s = attention_shape(1, 1, 1, 2, 1, ATB_CAUSAL_NONE);
    s.has_kv_valid_len = 1;
    const int32_t too_long[] = {3}, negative[] = {-1};
    CHECK_STATUS(ATB_ERR_INVALID, atb_ref_attention(&s, x, x, x, too_long, out));
    CHECK_STATUS(ATB_ERR_INVALID, atb_ref_attention(&s, x, x, x, negative, out));
    CHECK_STATUS(ATB_ERR_INVALID, atb_ref_attention(&s, x, x, x, NULL, out));
    s = attention_shape(2, 1, 2, 2, 1, ATB_CAUSAL_NONE);
    CHECK_STATUS(ATB_ERR_INVALID, atb_ref_attention_row(&s, x, x, x, NULL, 0, 2, 0, row));
    CHECK_STATUS(ATB_ERR_INVALID, atb_ref_attention_row(&s, x, x, x, NULL, 0, 0, 2, row));
    CHECK_STATUS(ATB_ERR_INVALID, atb_ref_attention_row(&s, x, x, x, NULL, 1, 0, 0, row));
}

/* === Encoder layer === */

/* A layer of E = 4 whose weights are all zero except the ones a test sets;
   the arrays live in this struct. */
typedef struct {
    float in_w[48], in_b[12], out_w[16], out_b[4];
    float l1_w[64], l1_b[16], l2_w[64], l2_b[4];
    float n1_w[4], n1_b[4], n2_w[4], n2_b[4];
} small_weights;

static atb_encoder_weights weights_of(const small_weights *m)
{
    atb_encoder_weights w = {m->in_w, m->in_b, m->out_w, m->out_b, m->l1_w, m->l1_b,
                             m->l2_w, m->l2_b, m->n1_w, m->n1_b, m->n2_w, m->n2_b};
    return w;
}

static atb_encoder_shape encoder_shape(int64_t seq_len, int64_t embed_dim, int64_t ffn_dim,
                                       atb_activation act, int norm_first)
{
    atb_encoder_shape s = {
        .batch = 1, .seq_len = seq_len, .embed_dim = embed_dim, .heads = 1, .ffn_dim = ffn_dim,
        .activation = act, .norm_first = norm_first, .layer_norm_eps = 1e-5,
        .causal = ATB_CAUSAL_NONE,
    };
    return s;
}

static void test_layer_norm_and_activations(void)
{
    /* Pre-norm with a zero attention output and FF = act(LN2(x)) through
       identity linear layers: out = x + act(LN2(x)). */
    small_weights m = {0};
    for (int c = 0; c < 4; c++) {
        m.l1_w[c * 4 + c] = 1.0f;
        m.l2_w[c * 4 + c] = 1.0f;
        m.n1_w[c] = 1.0f;
        m.n2_w[c] = 1.0f;
    }
    const atb_encoder_weights w = weights_of(&m);
    atb_encoder_shape s = encoder_shape(1, 4, 4, ATB_ACT_RELU, 1);
    double out[4];

    /* x = [1, 2, 3, 6]: mean 3, biased variance 3.5, so LN2(x) =
       [-2, -1, 0, 3] / sqrt(3.5 + eps), and relu keeps only the last. */
    const float x[] = {1.0f, 2.0f, 3.0f, 6.0f};
    CHECK_STATUS(ATB_OK, atb_ref_encoder_layer(&s, &w, x, NULL, out));
    const double relu_want[] = {1.0, 2.0, 3.0, 6.0 + 3.0 / sqrt(3.5 + 1e-5)};
    for (int c = 0; c < 4; c++)
        CHECK_NEAR("relu(LN)", c, relu_want[c], out[c]);

    /* x = [0, 2, 0, 2] with eps 1e-12: LN2(x) = [-1, 1, -1, 1] up to 5e-13,
       and gelu(1) = 0.841344746068543, gelu(-1) = -0.158655253931457
       (0.5 x (1 + erf(x / sqrt 2)) from tables of the normal CDF). */
    s.activation = ATB_ACT_GELU;
    s.layer_norm_eps = 1e-12;
    const float x2[] = {0.0f, 2.0f, 0.0f, 2.0f};
    CHECK_STATUS(ATB_OK, atb_ref_encoder_layer(&s, &w, x2, NULL, out));
    const double gelu_want[] = {-0.158655253931457, 2.841344746068543, -0.158655253931457,
                                2.841344746068543};
    for (int c = 0; c < 4; c++)
        check_value("gelu(LN)", c, gelu_want[c], out[c], 1e-11, __FILE__, __LINE__);

    /* Post-norm with everything else zero: out = LN2(LN1(x)). With norm2
       weight 2 and bias 0.5: LN1(x) = (x - 3) / sqrt(3.5 + eps) has mean 0
       and variance 3.5 / (3.5 + eps). */
    s = encoder_shape(1, 4, 4, ATB_ACT_RELU, 0);
    memset(m.l1_w, 0, sizeof(m.l1_w));
    memset(m.l2_w, 0, sizeof(m.l2_w));
    for (int c = 0; c < 4; c++) {
        m.n2_w[c] = 2.0f;
        m.n2_b[c] = 0.5f;
    }
    const atb_encoder_weights w2 = weights_of(&m);
    CHECK_STATUS(ATB_OK, atb_ref_encoder_layer(&s, &w2, x, NULL, out));
    const double eps = 1e-5, var1 = 3.5 / (3.5 + eps);
    for (int c = 0; c < 4; c++) {
        const double ln1 = ((double)x[c] - 3.0) / sqrt(3.5 + eps);
        CHECK_NEAR("LN(LN)", c, ln1 / sqrt(var1 + eps) * 2.0 + 0.5, out[c]);
    }
}

static void test_one_token_layer(void)
{
    /* With one token, attention returns its value row, so
       SA(y) = Wo (Wv y + bv) + bo, and the post-norm layer is
       LN2(x1 + W2 relu(W1 x1 + b1) + b2) with x1 = LN1(x + SA(x)).
       E = 2, F = 3: every step below is written out by hand. */
    small_weights m = {0};
    const float wv[4] = {0.5f, -0.25f, 0.75f, 1.0f}, bv[2] = {0.1f, -0.2f};
    const float wo[4] = {1.0f, 0.5f, -0.5f, 0.25f}, bo[2] = {0.05f, 0.3f};
    const float w1[6] = {1.0f, -1.0f, 0.5f, 0.5f, -2.0f, 0.25f}, b1[3] = {0.0f, -0.1f, 0.2f};
    const float w2[6] = {0.3f, -0.6f, 0.9f, 1.2f, 0.0f, -0.4f}, b2[2] = {0.01f, 0.5f};
    /* Q and K rows get arbitrary values: with one key they cannot matter. */
    for (int r = 0; r < 4; r++)
        m.in_w[r] = (float)(r + 1);
    memcpy(m.in_w + 8, wv, sizeof(wv));
    memcpy(m.in_b + 4, bv, sizeof(bv));
    memcpy(m.out_w, wo, sizeof(wo));
    memcpy(m.out_b, bo, sizeof(bo));
    memcpy(m.l1_w, w1, sizeof(w1));
    memcpy(m.l1_b, b1, sizeof(b1));
    memcpy(m.l2_w, w2, sizeof(w2));
    memcpy(m.l2_b, b2, sizeof(b2));
    const float n1w[2] = {1.5f, 0.5f}, n1b[2] = {0.25f, -0.25f};
    const float n2w[2] = {0.75f, 1.25f}, n2b[2] = {-0.5f, 0.125f};
    memcpy(m.n1_w, n1w, sizeof(n1w));
    memcpy(m.n1_b, n1b, sizeof(n1b));
    memcpy(m.n2_w, n2w, sizeof(n2w));
    memcpy(m.n2_b, n2b, sizeof(n2b));
    const atb_encoder_weights w = weights_of(&m);
    const atb_encoder_shape s = encoder_shape(1, 2, 3, ATB_ACT_RELU, 0);
    const float x[2] = {0.8f, -0.3f};
    double out[2];
    CHECK_STATUS(ATB_OK, atb_ref_encoder_layer(&s, &w, x, NULL, out));

    const double eps = 1e-5;
    double val[2], sa[2], y[2], x1[2], h[3], z[2], want[2];
    for (int o = 0; o < 2; o++)
        val[o] = (double)wv[2 * o] * x[0] + (double)wv[2 * o + 1] * x[1] + bv[o];
    for (int o = 0; o < 2; o++)
        sa[o] = (double)wo[2 * o] * val[0] + (double)wo[2 * o + 1] * val[1] + bo[o];
    for (int c = 0; c < 2; c++)
        y[c] = x[c] + sa[c];
    /* LayerNorm of two values: mean (a+b)/2, variance ((a-b)/2)^2. */
    double half = (y[0] - y[1]) / 2.0;
    x1[0] = half / sqrt(half * half + eps) * n1w[0] + n1b[0];
    x1[1] = -half / sqrt(half * half + eps) * n1w[1] + n1b[1];
    for (int f = 0; f < 3; f++)
        h[f] = fmax(0.0, (double)w1[2 * f] * x1[0] + (double)w1[2 * f + 1] * x1[1] + b1[f]);
    for (int c = 0; c < 2; c++)
        z[c] = x1[c] + (double)w2[3 * c] * h[0] + (double)w2[3 * c + 1] * h[1]
               + (double)w2[3 * c + 2] * h[2] + b2[c];
    half = (z[0] - z[1]) / 2.0;
    want[0] = half / sqrt(half * half + eps) * n2w[0] + n2b[0];
    want[1] = -half / sqrt(half * half + eps) * n2w[1] + n2b[1];
    for (int c = 0; c < 2; c++)
        CHECK_NEAR("one token", c, want[c], out[c]);
}

static void test_layer_masks_and_positions(void)
{
    /* Pre-norm, E = 2, zero Q and K (all logits 0, so attention averages
       the allowed values), V = LN1(x0), Wo = I, FF = 0:
       out_i = x0_i + mean of LN1(x0_j) over allowed j. With x0 rows
       [0, 2] and [2, 0], LN1 gives [-a, a] and [a, -a], a = 1/sqrt(1+eps). */
    small_weights m = {0};
    m.in_w[8] = 1.0f;  /* V row 0 picks column 0 */
    m.in_w[11] = 1.0f; /* V row 1 picks column 1 */
    m.out_w[0] = 1.0f;
    m.out_w[3] = 1.0f;
    m.n1_w[0] = m.n1_w[1] = 1.0f;
    m.n2_w[0] = m.n2_w[1] = 1.0f;
    const atb_encoder_weights w = weights_of(&m);
    atb_encoder_shape s = encoder_shape(2, 2, 1, ATB_ACT_RELU, 1);
    const float x[4] = {0.0f, 2.0f, 2.0f, 0.0f};
    const double a = 1.0 / sqrt(1.0 + 1e-5);
    double out[4];

    /* No mask: the values cancel and out = x. */
    CHECK_STATUS(ATB_OK, atb_ref_encoder_layer(&s, &w, x, NULL, out));
    for (int c = 0; c < 4; c++)
        CHECK_NEAR("no mask", c, (double)x[c], out[c]);

    /* Causal: row 0 sees only itself; row 1 sees both (the mean is 0). */
    s.causal = ATB_CAUSAL_TOP_LEFT;
    CHECK_STATUS(ATB_OK, atb_ref_encoder_layer(&s, &w, x, NULL, out));
    const double causal_want[4] = {-a, 2.0 + a, 2.0, 0.0};
    for (int c = 0; c < 4; c++)
        CHECK_NEAR("causal", c, causal_want[c], out[c]);

    /* Padding to one key: both rows see only key 0. Padding to zero keys:
       attention is 0, so out = x. */
    s.causal = ATB_CAUSAL_NONE;
    s.has_kv_valid_len = 1;
    const int32_t one[] = {1}, zero[] = {0};
    CHECK_STATUS(ATB_OK, atb_ref_encoder_layer(&s, &w, x, one, out));
    const double padded_want[4] = {-a, 2.0 + a, 2.0 - a, a};
    for (int c = 0; c < 4; c++)
        CHECK_NEAR("padded to 1", c, padded_want[c], out[c]);
    CHECK_STATUS(ATB_OK, atb_ref_encoder_layer(&s, &w, x, zero, out));
    for (int c = 0; c < 4; c++)
        CHECK_NEAR("padded to 0", c, (double)x[c], out[c]);

    /* Sinusoidal positions with V = 0 (all weights but the norms zero):
       out = x + PE, PE[0] = [sin 0, cos 0], PE[1] = [sin 1, cos 1] for E = 2. */
    memset(m.in_w, 0, sizeof(m.in_w));
    const atb_encoder_weights w0 = weights_of(&m);
    s.has_kv_valid_len = 0;
    s.positional_encoding = 1;
    CHECK_STATUS(ATB_OK, atb_ref_encoder_layer(&s, &w0, x, NULL, out));
    const double pe_want[4] = {0.0, 3.0, 2.0 + sin(1.0), cos(1.0)};
    for (int c = 0; c < 4; c++)
        CHECK_NEAR("positions", c, pe_want[c], out[c]);
}

static void test_layer_rows_match_full(void)
{
    atb_suite_case_info info;
    atb_tensors t;
    char err[256];
    for (size_t index = 0; index < atb_suite_count(ATB_OP_ENCODER_LAYER); index++) {
        if (atb_suite_build(ATB_OP_ENCODER_LAYER, index, &info, &t, err, sizeof(err))
            != ATB_OK) {
            fprintf(stderr, "cannot build case %zu: %s\n", index, err);
            n_failed++;
            return;
        }
        if (strcmp(info.name, "enc_E16_H4_F2048_B3_L128_gelu_post_causal_padded") == 0)
            break;
        atb_tensors_free(&t);
    }
    const atb_encoder_shape *s = &t.problem.encoder;
    const atb_encoder_weights w = atb_tensors_weights(&t);
    const int64_t E = s->embed_dim;
    double *full = malloc(atb_problem_output_count(&t.problem) * sizeof(double));
    CHECK_STATUS(ATB_OK, atb_ref_encoder_layer(s, &w, t.x, t.kv_valid_len, full));

    /* Rows from every batch entry, out of order and with a repeat. */
    const int64_t rows[] = {383, 0, 200, 129, 127, 0};
    const int64_t n_rows = (int64_t)(sizeof(rows) / sizeof(rows[0]));
    double picked[6 * 16];
    CHECK_STATUS(ATB_OK,
                 atb_ref_encoder_layer_rows(s, &w, t.x, t.kv_valid_len, n_rows, rows, picked));
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t c = 0; c < E; c++)
            check_value("rows", (int)(r * E + c), full[rows[r] * E + c], picked[r * E + c],
                        0.0, __FILE__, __LINE__);

    const int64_t out_of_range[] = {384};
    CHECK_STATUS(ATB_ERR_INVALID, atb_ref_encoder_layer_rows(s, &w, t.x, t.kv_valid_len, 1,
                                                             out_of_range, picked));
    free(full);
    atb_tensors_free(&t);
}

static void test_layer_invalid_shapes(void)
{
    small_weights m = {0};
    const atb_encoder_weights w = weights_of(&m);
    const float x[8] = {0};
    double out[8];
    atb_encoder_shape s = encoder_shape(2, 4, 4, ATB_ACT_RELU, 0);
    s.heads = 3; /* 4 % 3 != 0 */
    CHECK_STATUS(ATB_ERR_INVALID, atb_ref_encoder_layer(&s, &w, x, NULL, out));
    s = encoder_shape(2, 4, 4, ATB_ACT_RELU, 0);
    s.causal = ATB_CAUSAL_BOTTOM_RIGHT;
    CHECK_STATUS(ATB_ERR_INVALID, atb_ref_encoder_layer(&s, &w, x, NULL, out));
    s = encoder_shape(2, 4, 4, ATB_ACT_RELU, 0);
    s.has_kv_valid_len = 1;
    const int32_t too_long[] = {3};
    CHECK_STATUS(ATB_ERR_INVALID, atb_ref_encoder_layer(&s, &w, x, too_long, out));
    s = encoder_shape(2, 3, 4, ATB_ACT_RELU, 0);
    s.positional_encoding = 1; /* odd E */
    CHECK_STATUS(ATB_ERR_INVALID, atb_ref_encoder_layer(&s, &w, x, NULL, out));
}

static void test_case_names(void)
{
    const char *good[] = {"attn_mha1_L1_D1", "a.b-c_9", "X"};
    const char *bad[] = {"", "a/b", "a b", "caf\xc3\xa9"};
    for (int i = 0; i < 3; i++)
        if (!atb_golden_name_valid(good[i])) {
            fprintf(stderr, "%s:%d: name '%s' rejected\n", __FILE__, __LINE__, good[i]);
            n_failed++;
        }
    for (int i = 0; i < 4; i++)
        if (atb_golden_name_valid(bad[i])) {
            fprintf(stderr, "%s:%d: name '%s' accepted\n", __FILE__, __LINE__, bad[i]);
            n_failed++;
        }
}

typedef struct {
    const char *name;
    void (*run)(void);
} test_entry;

static const test_entry tests[] = {
    {"single_key", test_single_key_returns_v},
    {"two_keys", test_two_keys_known_logits},
    {"causal", test_causal_masks},
    {"padding", test_padding_excludes_poisoned_keys},
    {"gqa", test_gqa_head_mapping},
    {"zero_keys", test_zero_keys_give_zero},
    {"nonfinite", test_nonfinite_rules},
    {"attention_row", test_attention_row_matches_full},
    {"attention_invalid", test_attention_invalid_shapes},
    {"layer_norm_activations", test_layer_norm_and_activations},
    {"one_token_layer", test_one_token_layer},
    {"layer_masks_positions", test_layer_masks_and_positions},
    {"layer_rows", test_layer_rows_match_full},
    {"layer_invalid", test_layer_invalid_shapes},
    {"case_names", test_case_names},
};

int main(int argc, char **argv)
{
    int n_run = 0;
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        const int before = n_failed;
        tests[i].run();
        printf("%s %s\n", n_failed == before ? "ok  " : "FAIL", tests[i].name);
        n_run++;
    }
    if (n_run == 0) {
        fprintf(stderr, "no test named '%s'\n", argc > 1 ? argv[1] : "");
        return 2;
    }
    return n_failed ? 1 : 0;
}
