/*
 * attnbench implementation interface.
 *
 * Every implementation of attention or of the encoder layer, built in or
 * loaded from a plugin, is one `atb_impl` table entry. The harness calls
 * supports() to filter problems, plan() once per problem shape (outside any
 * timed region), run() any number of times, and destroy() at the end.
 *
 * Layout: all tensors are row-major and contiguous float32, as documented in
 * README.md and vectors/FORMAT.md. Strides are in elements.
 * Threads: the harness sets the OpenMP thread count to problem.n_threads
 * before plan(); implementations that drive other thread pools (OpenBLAS,
 * oneDNN) set those to the same count in plan().
 *
 * This header is C11 and C++-safe, and it is installed for plugin authors.
 * ATTNBENCH_ABI_VERSION changes whenever a struct layout or function
 * signature below changes.
 */
#ifndef ATTNBENCH_IMPL_H
#define ATTNBENCH_IMPL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ATTNBENCH_ABI_VERSION 1

/* Status codes shared by the harness and every implementation. */
typedef enum {
    ATB_OK = 0,
    ATB_ERR_INVALID = 1,     /* a shape or parameter breaks the operation's limits */
    ATB_ERR_UNSUPPORTED = 2, /* valid, but this implementation cannot run it */
    ATB_ERR_NOMEM = 3,       /* an allocation failed or would exceed the memory budget */
    ATB_ERR_LIBRARY = 4,     /* an underlying library (oneDNN, OpenBLAS) reported an error */
    ATB_ERR_IO = 5,          /* reading or writing a file failed */
    ATB_ERR_FORMAT = 6,      /* a file's contents do not follow the golden-file format */
    ATB_ERR_INTERNAL = 7     /* a bug in attnbench itself */
} atb_status;

typedef enum { ATB_OP_ATTENTION = 0, ATB_OP_ENCODER_LAYER = 1 } atb_op;

/* Bit flags for atb_impl.ops. */
#define ATB_OPS_ATTENTION (1u << ATB_OP_ATTENTION)
#define ATB_OPS_ENCODER_LAYER (1u << ATB_OP_ENCODER_LAYER)

typedef enum {
    ATB_CAUSAL_NONE = 0,
    ATB_CAUSAL_TOP_LEFT = 1,     /* key j allowed for query i when j <= i */
    ATB_CAUSAL_BOTTOM_RIGHT = 2  /* key j allowed when j <= i + (kv_len - q_len) */
} atb_causal;

typedef enum { ATB_ACT_RELU = 0, ATB_ACT_GELU = 1 } atb_activation;

/* ISA bits for atb_impl.isa_required and atb_cpu_isa(). */
#define ATB_ISA_AVX2 (1u << 0)   /* AVX2 and FMA3 */
#define ATB_ISA_AVX512 (1u << 1) /* AVX-512 F, CD, BW, DQ and VL */

/* Scaled-dot-product attention: q [B,H,Lq,D], k and v [B,Hkv,Lk,D], out [B,H,Lq,D]. */
typedef struct {
    int64_t batch;
    int64_t heads;
    int64_t kv_heads;
    int64_t q_len;
    int64_t kv_len;  /* may be 0 */
    int64_t head_dim;
    double scale;    /* multiplies q.k; usually 1/sqrt(head_dim) */
    atb_causal causal;
    int has_kv_valid_len; /* nonzero: run() receives kv_valid_len[batch] */
} atb_attention_shape;

/* nn.TransformerEncoderLayer (batch_first, eval mode): x and out [B,L,E]. */
typedef struct {
    int64_t batch;
    int64_t seq_len;
    int64_t embed_dim;
    int64_t heads;    /* embed_dim % heads == 0 */
    int64_t ffn_dim;
    atb_activation activation;
    int norm_first;   /* 0: post-norm, 1: pre-norm */
    double layer_norm_eps;
    atb_causal causal; /* ATB_CAUSAL_NONE or ATB_CAUSAL_TOP_LEFT */
    int positional_encoding; /* 0: none, 1: sinusoidal added to x first */
    int has_kv_valid_len;
} atb_encoder_shape;

typedef struct {
    atb_op op;
    atb_attention_shape attention; /* valid when op == ATB_OP_ATTENTION */
    atb_encoder_shape encoder;     /* valid when op == ATB_OP_ENCODER_LAYER */
    int n_threads;                 /* >= 1 */
} atb_problem;

/* The layer's weights, named after PyTorch's state_dict keys. */
typedef struct {
    const float *in_proj_weight;  /* [3E, E] */
    const float *in_proj_bias;    /* [3E] */
    const float *out_proj_weight; /* [E, E] */
    const float *out_proj_bias;   /* [E] */
    const float *linear1_weight;  /* [F, E] */
    const float *linear1_bias;    /* [F] */
    const float *linear2_weight;  /* [E, F] */
    const float *linear2_bias;    /* [E] */
    const float *norm1_weight;    /* [E] */
    const float *norm1_bias;      /* [E] */
    const float *norm2_weight;    /* [E] */
    const float *norm2_bias;      /* [E] */
} atb_encoder_weights;

/* Inputs and output of one run. Unused pointers are NULL. */
typedef struct {
    const float *q, *k, *v;       /* attention */
    const float *x;               /* encoder_layer */
    const int32_t *kv_valid_len;  /* [batch] or NULL */
    float *out;
} atb_run_args;

/*
 * One implementation. Functions return ATB_OK or an error code and write a
 * one-line reason to err (err_len bytes, NUL-terminated) on failure.
 */
typedef struct atb_impl {
    const char *name;      /* registry name, e.g. "naive" or "simd-avx512" */
    unsigned ops;          /* ATB_OPS_* bits */
    unsigned isa_required; /* ATB_ISA_* bits the CPU must have */
    const char *notes;     /* one line for `attnbench list` */

    /* Returns 1 when this implementation can run the problem; otherwise 0
       with the reason in why. May be NULL (supports everything in ops). */
    int (*supports)(const atb_problem *problem, char *why, size_t why_len);

    /* Prepares everything that depends only on the shape and the weights
       (weights is NULL for attention) and returns it in *plan. */
    atb_status (*plan)(const atb_problem *problem, const atb_encoder_weights *weights,
                       void **plan, char *err, size_t err_len);

    /* Computes args->out from the inputs. Must not allocate when avoidable. */
    atb_status (*run)(void *plan, const atb_run_args *args, char *err, size_t err_len);

    void (*destroy)(void *plan);

    /* Writes a one-line description of what the implementation runs on
       (ISA level, library versions, and with a plan the implementation
       string of each primitive). plan may be NULL. The pointer may be NULL. */
    void (*describe)(const void *plan, char *buf, size_t buf_len);
} atb_impl;

/*
 * Plugins. A plugin is a shared object (a CMake MODULE library) that
 * attnbench loads with `--plugin PATH` on list, check and bench. It
 * exports two functions with C linkage:
 *
 *   int attnbench_plugin_abi_version(void);
 *       Returns ATTNBENCH_ABI_VERSION as the plugin saw it when it was
 *       built. attnbench rejects the plugin when the value differs from its
 *       own.
 *
 *   const atb_impl *const *attnbench_plugin_impls(const char **plugin_name,
 *                                                 size_t *n_impls);
 *       Returns the plugin's implementations (*n_impls >= 1 pointers) and
 *       stores the plugin's name in *plugin_name. The table, the
 *       implementations and the strings must stay valid until the process
 *       exits, because attnbench never unloads a plugin.
 *
 * attnbench registers each implementation as "PLUGIN.IMPL": the plugin's
 * name, a dot, the implementation's own name, e.g. "myplugin.flash".
 * Both parts are non-empty, use only letters, digits, '_' and '-', and the
 * whole name has at most ATTNBENCH_PLUGIN_MAX_NAME characters, so that it
 * fits in benchmark names ("attention/myplugin.flash/B:1/...") and reports.
 * The plugin's name must differ from every built-in implementation's name
 * and from every other loaded plugin's name.
 */
#define ATTNBENCH_PLUGIN_MAX_NAME 63
#define ATTNBENCH_PLUGIN_ABI_SYMBOL "attnbench_plugin_abi_version"
#define ATTNBENCH_PLUGIN_IMPLS_SYMBOL "attnbench_plugin_impls"

#if defined(__GNUC__) || defined(__clang__)
#define ATTNBENCH_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define ATTNBENCH_PLUGIN_EXPORT
#endif

ATTNBENCH_PLUGIN_EXPORT int attnbench_plugin_abi_version(void);
ATTNBENCH_PLUGIN_EXPORT const atb_impl *const *attnbench_plugin_impls(const char **plugin_name,
                                                                     size_t *n_impls);

#ifdef __cplusplus
}
#endif

#endif /* ATTNBENCH_IMPL_H */
