/*
 * Sweep planning for `attnbench bench`: the presets, the user's overrides
 * of each dimension, and their expansion into the list of problem shapes
 * to time. Shapes come out ordered by operation and then by FLOPs, smallest
 * first, so that the time budget can extrapolate from measured smaller
 * shapes, and equal shapes are merged.
 */
#ifndef ATB_BENCH_PLAN_H
#define ATB_BENCH_PLAN_H

#include "attnbench/impl.h"
#include "harness/cli.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One attention grid: the cross product of its lists. */
typedef struct {
    atb_int_list batch, heads, head_dim;
    atb_int_list kv_heads; /* empty: kv_heads = heads */
    atb_int_list seq;      /* Lq = Lk, used when q_len and kv_len are both empty */
    atb_int_list q_len;    /* when q_len or kv_len is set: every (Lq, Lk) pair, */
    atb_int_list kv_len;   /* the empty one taken from seq */
    int causal[3];
    int n_causal;
} atb_bench_attention_grid;

/* One encoder_layer grid; E = heads x head_dim. */
typedef struct {
    atb_int_list batch, seq, heads, head_dim;
    atb_int_list ffn_dim; /* empty: 4E */
    int act[2], n_act;
    int norm_first[2], n_norm_first;
    int causal[2], n_causal;
} atb_bench_encoder_grid;

#define ATB_BENCH_MAX_GRIDS 3

typedef struct {
    const char *name;
    const char *summary;
    double min_time_s; /* minimum timed time per benchmark */
    double budget_s;   /* default --budget-seconds */
    atb_bench_attention_grid attention[ATB_BENCH_MAX_GRIDS];
    int n_attention;
    atb_bench_encoder_grid encoder[ATB_BENCH_MAX_GRIDS];
    int n_encoder;
} atb_bench_preset;

/* "quick", "default" or "full"; NULL for another name. */
const atb_bench_preset *atb_bench_find_preset(const char *name);
/* The preset names, comma-separated, for messages. */
const char *atb_bench_preset_names(void);

/* The user's shape options. A list with n == 0 (or a count of 0) was not
   given on the command line. */
typedef struct {
    atb_int_list batch, heads, kv_heads, head_dim, seq, q_len, kv_len, ffn_dim;
    int causal[3], n_causal;
    int act[2], n_act;
    int norm_first[2], n_norm_first;
} atb_bench_overrides;

/* Nonzero when any shape option was given. */
int atb_bench_overrides_any(const atb_bench_overrides *o);

typedef struct {
    atb_problem problem; /* n_threads is left at 1 */
    double flops;        /* per run, by the FLOP convention */
} atb_bench_shape;

/*
 * Expands the preset's grids, or with any override a single grid per
 * operation built from the preset's first grid with the overridden lists
 * replaced, into shapes. Combinations outside an operation's limits
 * (H not a multiple of Hkv, bottom_right for the layer) are left out.
 * Returns the count (possibly 0) with *shapes allocated, or -1 with a
 * message when memory runs out or the sweep is larger than max_shapes.
 */
int atb_bench_expand(const atb_bench_preset *preset, const atb_bench_overrides *overrides,
                     int do_attention, int do_encoder, int max_shapes,
                     atb_bench_shape **shapes, char *err, size_t err_len);

/* The result name of a shape run by impl_name on n_threads threads:
   attention/IMPL/B:../H:../Hkv:../Lq:../Lk:../D:../causal:../threads:N or
   encoder_layer/IMPL/B:../L:../E:../H:../F:../act:../norm_first:../causal:../threads:N. */
void atb_bench_name(const atb_problem *problem, const char *impl_name, char *buf,
                    size_t buf_len);

#ifdef __cplusplus
}
#endif

#endif /* ATB_BENCH_PLAN_H */
