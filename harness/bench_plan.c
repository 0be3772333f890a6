/*
 * Presets and sweep expansion for `attnbench bench`; see bench_plan.h.
 * Preset sizes are chosen for wall time: quick is a CI smoke test of every
 * implementation, default the main job, full a long sweep for a quiet
 * machine.
 */
#include "harness/bench_plan.h"

#include "harness/problem.h"
#include "harness/registry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST(...)                                                                          \
    {                                                                                      \
        .values = {__VA_ARGS__}, .n = (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)) \
    }

/* === Presets === */

static const atb_bench_preset presets[] = {
    {
        .name = "quick",
        .summary = "CI smoke test: small shapes, every implementation, well under a minute",
        .min_time_s = 0.01,
        .budget_s = 2.0,
        .attention = {
            {.batch = LIST(1), .heads = LIST(4), .kv_heads = LIST(4, 1), .head_dim = LIST(64),
             .seq = LIST(64, 256), .causal = {ATB_CAUSAL_NONE, ATB_CAUSAL_TOP_LEFT}, .n_causal = 2},
            /* A decode step: one query row against a KV cache. */
            {.batch = LIST(1), .heads = LIST(8), .kv_heads = LIST(2), .head_dim = LIST(64),
             .q_len = LIST(1), .kv_len = LIST(512), .causal = {ATB_CAUSAL_BOTTOM_RIGHT},
             .n_causal = 1},
        },
        .n_attention = 2,
        .encoder = {
            {.batch = LIST(1), .seq = LIST(64, 128), .heads = LIST(4), .head_dim = LIST(32),
             .act = {ATB_ACT_GELU}, .n_act = 1, .norm_first = {0}, .n_norm_first = 1,
             .causal = {ATB_CAUSAL_NONE}, .n_causal = 1},
        },
        .n_encoder = 1,
    },
    {
        .name = "default",
        .summary = "the main sweep: Lq = Lk 128..4096, H 1/8/16, D 64/128, a decode step, "
                   "the layer at E=512",
        .min_time_s = 0.05,
        .budget_s = 4.0,
        .attention = {
            {.batch = LIST(1), .heads = LIST(1, 8, 16), .head_dim = LIST(64, 128),
             .seq = LIST(128, 256, 512, 1024, 2048, 4096),
             .causal = {ATB_CAUSAL_NONE, ATB_CAUSAL_TOP_LEFT}, .n_causal = 2},
            {.batch = LIST(1), .heads = LIST(32), .kv_heads = LIST(8), .head_dim = LIST(128),
             .q_len = LIST(1), .kv_len = LIST(4096), .causal = {ATB_CAUSAL_BOTTOM_RIGHT},
             .n_causal = 1},
        },
        .n_attention = 2,
        .encoder = {
            {.batch = LIST(1), .seq = LIST(128, 256, 512, 1024), .heads = LIST(8),
             .head_dim = LIST(64), .ffn_dim = LIST(2048), .act = {ATB_ACT_GELU}, .n_act = 1,
             .norm_first = {0}, .n_norm_first = 1, .causal = {ATB_CAUSAL_NONE}, .n_causal = 1},
        },
        .n_encoder = 1,
    },
    {
        .name = "full",
        .summary = "a long sweep: batch 1/4, D up to 256, L up to 16384, GQA, decode, both "
                   "layer variants",
        .min_time_s = 0.5,
        .budget_s = 30.0,
        .attention = {
            {.batch = LIST(1, 4), .heads = LIST(8, 16, 32), .head_dim = LIST(64, 128, 256),
             .seq = LIST(128, 256, 512, 1024, 2048, 4096, 8192, 16384),
             .causal = {ATB_CAUSAL_NONE, ATB_CAUSAL_TOP_LEFT, ATB_CAUSAL_BOTTOM_RIGHT},
             .n_causal = 3},
            {.batch = LIST(1), .heads = LIST(32), .kv_heads = LIST(1, 4, 8),
             .head_dim = LIST(128), .seq = LIST(512, 1024, 2048, 4096, 8192),
             .causal = {ATB_CAUSAL_NONE, ATB_CAUSAL_TOP_LEFT}, .n_causal = 2},
            {.batch = LIST(1, 8), .heads = LIST(32), .kv_heads = LIST(8, 32),
             .head_dim = LIST(128), .q_len = LIST(1, 16),
             .kv_len = LIST(1024, 2048, 4096, 8192, 16384, 32768),
             .causal = {ATB_CAUSAL_BOTTOM_RIGHT}, .n_causal = 1},
        },
        .n_attention = 3,
        .encoder = {
            {.batch = LIST(1, 4), .seq = LIST(64, 128, 256, 512, 1024, 2048, 4096),
             .heads = LIST(8, 16), .head_dim = LIST(64), .act = {ATB_ACT_RELU, ATB_ACT_GELU},
             .n_act = 2, .norm_first = {0, 1}, .n_norm_first = 2,
             .causal = {ATB_CAUSAL_NONE, ATB_CAUSAL_TOP_LEFT}, .n_causal = 2},
        },
        .n_encoder = 1,
    },
};

#define N_PRESETS (sizeof(presets) / sizeof(presets[0]))

const atb_bench_preset *atb_bench_find_preset(const char *name)
{
    for (size_t i = 0; i < N_PRESETS; i++)
        if (strcmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}

const char *atb_bench_preset_names(void)
{
    return "quick, default, full";
}

int atb_bench_overrides_any(const atb_bench_overrides *o)
{
    return o->batch.n || o->heads.n || o->kv_heads.n || o->head_dim.n || o->seq.n || o->q_len.n
           || o->kv_len.n || o->ffn_dim.n || o->n_causal || o->n_act || o->n_norm_first;
}

/* === Expansion === */

typedef struct {
    atb_bench_shape *items;
    int n, capacity, max;
    int overflow; /* 1: more than max shapes; 2: out of memory */
} shape_list;

static void shape_add(shape_list *list, const atb_problem *p)
{
    if (list->overflow)
        return;
    for (int k = 0; k < list->n; k++)
        if (memcmp(&list->items[k].problem, p, sizeof(*p)) == 0)
            return;
    if (list->n == list->max) {
        list->overflow = 1;
        return;
    }
    if (list->n == list->capacity) {
        const int capacity = list->capacity ? 2 * list->capacity : 64;
        atb_bench_shape *grown = realloc(list->items, (size_t)capacity * sizeof(*grown));
        if (!grown) {
            list->overflow = 2;
            return;
        }
        list->items = grown;
        list->capacity = capacity;
    }
    list->items[list->n].problem = *p;
    list->items[list->n].flops = atb_problem_flops(p, NULL);
    list->n++;
}

static void expand_attention(const atb_bench_attention_grid *g, shape_list *out)
{
    const int pairs = g->q_len.n == 0 && g->kv_len.n == 0;
    const atb_int_list *qs = g->q_len.n ? &g->q_len : &g->seq;
    const atb_int_list *ks = g->kv_len.n ? &g->kv_len : &g->seq;

    for (int ib = 0; ib < g->batch.n; ib++)
        for (int ih = 0; ih < g->heads.n; ih++)
            for (int ikv = 0; ikv < (g->kv_heads.n ? g->kv_heads.n : 1); ikv++)
                for (int id = 0; id < g->head_dim.n; id++)
                    for (int iq = 0; iq < qs->n; iq++)
                        for (int ik = 0; ik < ks->n; ik++)
                            for (int ic = 0; ic < g->n_causal; ic++) {
                                if (pairs && iq != ik)
                                    continue;
                                const int64_t heads = g->heads.values[ih];
                                const int64_t kv_heads =
                                    g->kv_heads.n ? g->kv_heads.values[ikv] : heads;
                                if (heads % kv_heads != 0)
                                    continue;
                                atb_problem p;
                                memset(&p, 0, sizeof(p));
                                p.op = ATB_OP_ATTENTION;
                                p.n_threads = 1;
                                p.attention.batch = g->batch.values[ib];
                                p.attention.heads = heads;
                                p.attention.kv_heads = kv_heads;
                                p.attention.q_len = qs->values[iq];
                                p.attention.kv_len = ks->values[ik];
                                p.attention.head_dim = g->head_dim.values[id];
                                p.attention.scale = 1.0 / sqrt((double)p.attention.head_dim);
                                p.attention.causal = (atb_causal)g->causal[ic];
                                shape_add(out, &p);
                            }
}

static void expand_encoder(const atb_bench_encoder_grid *g, shape_list *out)
{
    for (int ib = 0; ib < g->batch.n; ib++)
        for (int il = 0; il < g->seq.n; il++)
            for (int ih = 0; ih < g->heads.n; ih++)
                for (int id = 0; id < g->head_dim.n; id++)
                    for (int iff = 0; iff < (g->ffn_dim.n ? g->ffn_dim.n : 1); iff++)
                        for (int ia = 0; ia < g->n_act; ia++)
                            for (int inf = 0; inf < g->n_norm_first; inf++)
                                for (int ic = 0; ic < g->n_causal; ic++) {
                                    if (g->causal[ic] == ATB_CAUSAL_BOTTOM_RIGHT)
                                        continue;
                                    const int64_t embed_dim =
                                        g->heads.values[ih] * g->head_dim.values[id];
                                    atb_problem p;
                                    memset(&p, 0, sizeof(p));
                                    p.op = ATB_OP_ENCODER_LAYER;
                                    p.n_threads = 1;
                                    p.encoder.batch = g->batch.values[ib];
                                    p.encoder.seq_len = g->seq.values[il];
                                    p.encoder.embed_dim = embed_dim;
                                    p.encoder.heads = g->heads.values[ih];
                                    p.encoder.ffn_dim =
                                        g->ffn_dim.n ? g->ffn_dim.values[iff] : 4 * embed_dim;
                                    p.encoder.activation = (atb_activation)g->act[ia];
                                    p.encoder.norm_first = g->norm_first[inf];
                                    p.encoder.layer_norm_eps = 1e-5;
                                    p.encoder.causal = (atb_causal)g->causal[ic];
                                    shape_add(out, &p);
                                }
}

static void apply_attention_overrides(atb_bench_attention_grid *g, const atb_bench_overrides *o)
{
    if (o->batch.n)
        g->batch = o->batch;
    if (o->heads.n)
        g->heads = o->heads;
    if (o->kv_heads.n)
        g->kv_heads = o->kv_heads;
    if (o->head_dim.n)
        g->head_dim = o->head_dim;
    if (o->seq.n || o->q_len.n || o->kv_len.n) {
        if (o->seq.n)
            g->seq = o->seq;
        /* A grid that had only (Lq, Lk) lists needs a seq list for the side
           the user left out. */
        if (!g->seq.n)
            g->seq = g->q_len.n ? g->q_len : g->kv_len;
        g->q_len = o->q_len;
        g->kv_len = o->kv_len;
    }
    if (o->n_causal) {
        memcpy(g->causal, o->causal, sizeof(g->causal));
        g->n_causal = o->n_causal;
    }
}

static void apply_encoder_overrides(atb_bench_encoder_grid *g, const atb_bench_overrides *o)
{
    if (o->batch.n)
        g->batch = o->batch;
    if (o->heads.n)
        g->heads = o->heads;
    if (o->head_dim.n)
        g->head_dim = o->head_dim;
    if (o->seq.n)
        g->seq = o->seq;
    if (o->ffn_dim.n)
        g->ffn_dim = o->ffn_dim;
    else if (o->heads.n || o->head_dim.n)
        g->ffn_dim.n = 0; /* a new E: F = 4E, as for nn.TransformerEncoderLayer users */
    if (o->n_act) {
        memcpy(g->act, o->act, sizeof(g->act));
        g->n_act = o->n_act;
    }
    if (o->n_norm_first) {
        memcpy(g->norm_first, o->norm_first, sizeof(g->norm_first));
        g->n_norm_first = o->n_norm_first;
    }
    if (o->n_causal) {
        g->n_causal = 0;
        for (int k = 0; k < o->n_causal; k++)
            if (o->causal[k] != ATB_CAUSAL_BOTTOM_RIGHT)
                g->causal[g->n_causal++] = o->causal[k];
    }
}

static int compare_shapes(const void *a, const void *b)
{
    const atb_bench_shape *x = a, *y = b;
    if (x->problem.op != y->problem.op)
        return x->problem.op < y->problem.op ? -1 : 1;
    if (x->flops != y->flops)
        return x->flops < y->flops ? -1 : 1;
    char nx[256], ny[256];
    atb_bench_name(&x->problem, "", nx, sizeof(nx));
    atb_bench_name(&y->problem, "", ny, sizeof(ny));
    return strcmp(nx, ny);
}

int atb_bench_expand(const atb_bench_preset *preset, const atb_bench_overrides *overrides,
                     int do_attention, int do_encoder, int max_shapes,
                     atb_bench_shape **shapes, char *err, size_t err_len)
{
    shape_list list = {.max = max_shapes};
    const int custom = atb_bench_overrides_any(overrides);

    if (do_attention)
        for (int k = 0; k < (custom ? 1 : preset->n_attention); k++) {
            atb_bench_attention_grid g = preset->attention[k];
            if (custom)
                apply_attention_overrides(&g, overrides);
            expand_attention(&g, &list);
        }
    if (do_encoder)
        for (int k = 0; k < (custom ? 1 : preset->n_encoder); k++) {
            atb_bench_encoder_grid g = preset->encoder[k];
            if (custom)
                apply_encoder_overrides(&g, overrides);
            expand_encoder(&g, &list);
        }

    if (list.overflow) {
        free(list.items);
        if (list.overflow == 2)
            snprintf(err, err_len, "out of memory while listing the sweep's shapes");
        else
            snprintf(err, err_len, "the sweep has more than %d shapes; narrow the options",
                     max_shapes);
        return -1;
    }
    if (list.n > 1)
        qsort(list.items, (size_t)list.n, sizeof(*list.items), compare_shapes);
    *shapes = list.items;
    return list.n;
}

void atb_bench_name(const atb_problem *p, const char *impl_name, char *buf, size_t buf_len)
{
    if (p->op == ATB_OP_ATTENTION) {
        const atb_attention_shape *s = &p->attention;
        snprintf(buf, buf_len, "attention/%s/B:%lld/H:%lld/Hkv:%lld/Lq:%lld/Lk:%lld/D:%lld/"
                 "causal:%s/threads:%d", impl_name, (long long)s->batch, (long long)s->heads,
                 (long long)s->kv_heads, (long long)s->q_len, (long long)s->kv_len,
                 (long long)s->head_dim, atb_causal_name(s->causal), p->n_threads);
        return;
    }
    const atb_encoder_shape *s = &p->encoder;
    snprintf(buf, buf_len, "encoder_layer/%s/B:%lld/L:%lld/E:%lld/H:%lld/F:%lld/act:%s/"
             "norm_first:%d/causal:%s/threads:%d", impl_name, (long long)s->batch,
             (long long)s->seq_len, (long long)s->embed_dim, (long long)s->heads,
             (long long)s->ffn_dim, s->activation == ATB_ACT_GELU ? "gelu" : "relu",
             s->norm_first, atb_causal_name(s->causal), p->n_threads);
}
