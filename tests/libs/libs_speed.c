/*
 * Speed driver for blas and onednn (a measurement, not a test). Prints, for
 * 1 and 2 threads: the AVX-512 FMA peak (16 independent accumulators), the
 * attention and encoder-layer GFLOP/s, and the GFLOP/s that the GEMMs alone
 * reach at the attention's QK^T and PV shapes. Then a sequence-length sweep
 * with the bytes the score matrix moves per FLOP.
 * Usage: libs_speed [quick]. Needs AVX-512F; built with the AVX-512 flags.
 */
#include "harness/problem.h"
#include "harness/registry.h"

#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One thread is timed in the calling thread's CPU time, so that time spent
   descheduled by other processes on a shared machine does not count; the
   library runs a one-thread call on the calling thread. Two threads are
   timed in wall time. */
static clockid_t timing_clock = CLOCK_MONOTONIC;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(timing_clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* GFLOP/s of n_threads threads each running 16 independent FMA chains
   (16 accumulators cover the FMA latency on two 512-bit pipes), best of 3
   runs of about 10 ms. Measured again before every row, so that each ratio
   compares numbers taken under the same load from other processes. */
static double fma_peak_gflops(int n_threads)
{
    const long iters = 4000000;
    double best = 0.0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_s();
#pragma omp parallel num_threads(n_threads)
        {
            /* Sixteen named accumulators: an array would live on the stack
               and every FMA would wait for a store and a load. */
            const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
            __m512 c0 = _mm512_set1_ps(0.0f), c1 = _mm512_set1_ps(1.0f);
            __m512 c2 = _mm512_set1_ps(2.0f), c3 = _mm512_set1_ps(3.0f);
            __m512 c4 = _mm512_set1_ps(4.0f), c5 = _mm512_set1_ps(5.0f);
            __m512 c6 = _mm512_set1_ps(6.0f), c7 = _mm512_set1_ps(7.0f);
            __m512 c8 = _mm512_set1_ps(8.0f), c9 = _mm512_set1_ps(9.0f);
            __m512 c10 = _mm512_set1_ps(10.0f), c11 = _mm512_set1_ps(11.0f);
            __m512 c12 = _mm512_set1_ps(12.0f), c13 = _mm512_set1_ps(13.0f);
            __m512 c14 = _mm512_set1_ps(14.0f), c15 = _mm512_set1_ps(15.0f);
            for (long i = 0; i < iters; i++) {
                c0 = _mm512_fmadd_ps(c0, a, b);
                c1 = _mm512_fmadd_ps(c1, a, b);
                c2 = _mm512_fmadd_ps(c2, a, b);
                c3 = _mm512_fmadd_ps(c3, a, b);
                c4 = _mm512_fmadd_ps(c4, a, b);
                c5 = _mm512_fmadd_ps(c5, a, b);
                c6 = _mm512_fmadd_ps(c6, a, b);
                c7 = _mm512_fmadd_ps(c7, a, b);
                c8 = _mm512_fmadd_ps(c8, a, b);
                c9 = _mm512_fmadd_ps(c9, a, b);
                c10 = _mm512_fmadd_ps(c10, a, b);
                c11 = _mm512_fmadd_ps(c11, a, b);
                c12 = _mm512_fmadd_ps(c12, a, b);
                c13 = _mm512_fmadd_ps(c13, a, b);
                c14 = _mm512_fmadd_ps(c14, a, b);
                c15 = _mm512_fmadd_ps(c15, a, b);
                /* An empty asm that claims to change the accumulators keeps
                   GCC from evaluating the loop at compile time. */
                __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4),
                                 "+v"(c5), "+v"(c6), "+v"(c7));
                __asm__ volatile("" : "+v"(c8), "+v"(c9), "+v"(c10), "+v"(c11), "+v"(c12),
                                 "+v"(c13), "+v"(c14), "+v"(c15));
            }
            __m512 sum = _mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3));
            sum = _mm512_add_ps(sum, _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
            sum = _mm512_add_ps(sum, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
            sum = _mm512_add_ps(sum,
                                _mm512_add_ps(_mm512_add_ps(c12, c13), _mm512_add_ps(c14, c15)));
            volatile float sink = _mm512_reduce_add_ps(sum);
            (void)sink;
        }
        const double flops = (double)n_threads * iters * 16 * 16 * 2;
        const double g = flops / (now_s() - t0) / 1e9;
        best = g > best ? g : best;
    }
    return best;
}

/* Best-of-reps seconds of one run, after one warm-up run. */
static double time_impl(const char *name, const atb_problem *p, int reps, double *plan_s)
{
    const atb_impl *impl = atb_registry_find(name);
    if (!impl)
        return -1.0;
    char err[512];
    if (impl->supports && !impl->supports(p, err, sizeof(err))) {
        printf("  %s: skip: %s\n", name, err);
        return -1.0;
    }
    atb_tensors t;
    if (atb_tensors_alloc(&t, p, err, sizeof(err)) != ATB_OK)
        return -1.0;
    atb_tensors_fill_random(&t, 1);
    float *out = malloc(atb_problem_output_count(p) * sizeof(float));
    atb_encoder_weights w = atb_tensors_weights(&t);
    void *plan = NULL;
    omp_set_num_threads(p->n_threads);
    double t0 = now_s();
    if (impl->plan(p, p->op == ATB_OP_ENCODER_LAYER ? &w : NULL, &plan, err, sizeof(err))
        != ATB_OK) {
        printf("  %s: plan failed: %s\n", name, err);
        free(out);
        atb_tensors_free(&t);
        return -1.0;
    }
    *plan_s = now_s() - t0;
    atb_run_args args = atb_tensors_args(&t, out);
    double best = 1e30;
    for (int r = 0; r <= reps; r++) {
        t0 = now_s();
        impl->run(plan, &args, err, sizeof(err));
        const double dt = now_s() - t0;
        if (r > 0 && dt < best)
            best = dt;
    }
    impl->destroy(plan);
    free(out);
    atb_tensors_free(&t);
    return best;
}

/* The sgemm calls blas makes for non-causal attention, alone: per
   (head, 64-row block) QK^T [64 x L x D] and PV [64 x D x L]. */
static void blas_gemm_roofline(int64_t H, int64_t L, int64_t D, int n_threads, double *qk,
                               double *pv)
{
    const int64_t QB = 64, n_blocks = L / QB;
    float *q = calloc((size_t)(H * L * D), sizeof(float));
    float *k = calloc((size_t)(H * L * D), sizeof(float));
    float *s = calloc((size_t)(n_threads * QB * L), sizeof(float));
    float *o = calloc((size_t)(H * L * D), sizeof(float));
    for (int64_t i = 0; i < H * L * D; i++)
        q[i] = k[i] = 0.01f * (float)(i % 7);
    const double flops = 2.0 * (double)H * L * L * D;
    double best_qk = 1e30, best_pv = 1e30;
    openblas_set_num_threads(n_threads);
    for (int rep = 0; rep < 4; rep++) {
        double t0 = now_s();
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
        for (int64_t task = 0; task < H * n_blocks; task++) {
            const int64_t h = task / n_blocks, blk = task % n_blocks;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)QB, (int)L, (int)D, 0.125f,
                        q + (h * L + blk * QB) * D, (int)D, k + h * L * D, (int)D, 0.0f,
                        s + (size_t)omp_get_thread_num() * QB * L, (int)L);
        }
        double dt = now_s() - t0;
        best_qk = rep && dt < best_qk ? dt : best_qk;
        t0 = now_s();
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
        for (int64_t task = 0; task < H * n_blocks; task++) {
            const int64_t h = task / n_blocks, blk = task % n_blocks;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)QB, (int)D, (int)L, 1.0f,
                        s + (size_t)omp_get_thread_num() * QB * L, (int)L, k + h * L * D, (int)D,
                        0.0f, o + (h * L + blk * QB) * D, (int)D);
        }
        dt = now_s() - t0;
        best_pv = rep && dt < best_pv ? dt : best_pv;
    }
    *qk = flops / best_qk / 1e9;
    *pv = flops / best_pv / 1e9;
    free(q);
    free(k);
    free(s);
    free(o);
}

/* Seconds of one oneDNN matmul src [H, M, K] x wei [H, K, N] (wei
   transposed through strides when transposed), best of 3 after a warm-up. */
static double onednn_matmul_s(int64_t H, int64_t M, int64_t K, int64_t N, int transposed)
{
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    dnnl_engine_create(&eng, dnnl_cpu, 0);
    dnnl_stream_create(&stream, eng, dnnl_stream_default_flags);
    dnnl_memory_desc_t a_md, b_md, c_md;
    const dnnl_dims_t a_dims = {H, M, K}, b_dims = {H, K, N}, c_dims = {H, M, N};
    const dnnl_dims_t bt_strides = {K * N, 1, K};
    dnnl_memory_desc_init_by_tag(&a_md, 3, a_dims, dnnl_f32, dnnl_abc);
    if (transposed)
        dnnl_memory_desc_init_by_strides(&b_md, 3, b_dims, dnnl_f32, bt_strides);
    else
        dnnl_memory_desc_init_by_tag(&b_md, 3, b_dims, dnnl_f32, dnnl_abc);
    dnnl_memory_desc_init_by_tag(&c_md, 3, c_dims, dnnl_f32, dnnl_abc);
    dnnl_matmul_desc_t desc;
    dnnl_matmul_desc_init(&desc, &a_md, &b_md, NULL, &c_md);
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    double best = 1e30;
    if (dnnl_primitive_desc_create(&pd, &desc, NULL, eng, NULL) == dnnl_success
        && dnnl_primitive_create(&prim, pd) == dnnl_success) {
        float *a = calloc((size_t)(H * M * K), 4), *b = calloc((size_t)(H * K * N), 4);
        float *c = calloc((size_t)(H * M * N), 4);
        dnnl_memory_t am, bm, cm;
        dnnl_memory_create(&am, &a_md, eng, a);
        dnnl_memory_create(&bm, &b_md, eng, b);
        dnnl_memory_create(&cm, &c_md, eng, c);
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}};
        for (int rep = 0; rep < 4; rep++) {
            const double t0 = now_s();
            dnnl_primitive_execute(prim, stream, 3, args);
            dnnl_stream_wait(stream);
            const double dt = now_s() - t0;
            best = rep && dt < best ? dt : best;
        }
        dnnl_memory_destroy(am);
        dnnl_memory_destroy(bm);
        dnnl_memory_destroy(cm);
        free(a);
        free(b);
        free(c);
        dnnl_primitive_destroy(prim);
        dnnl_primitive_desc_destroy(pd);
    }
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(eng);
    return best;
}

static atb_problem attention(int64_t L, int64_t D, atb_causal causal, int threads)
{
    atb_problem p = {.op = ATB_OP_ATTENTION, .n_threads = threads};
    p.attention = (atb_attention_shape){.batch = 1, .heads = 8, .kv_heads = 8, .q_len = L,
                                        .kv_len = L, .head_dim = D,
                                        .scale = 1.0 / sqrt((double)D), .causal = causal};
    return p;
}

int main(int argc, char **argv)
{
    const int quick = argc > 1 && strcmp(argv[1], "quick") == 0;
    const char *impls[] = {"blas", "onednn"};
    char buf[4096];
    atb_registry_find("blas")->describe(NULL, buf, sizeof(buf));
    printf("# %s\n", buf);
    atb_registry_find("onednn")->describe(NULL, buf, sizeof(buf));
    printf("# %s\n# CPU %s\n", buf, atb_cpu_model());

    for (int threads = 1; threads <= 2; threads++) {
        timing_clock = threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
        printf("\n## %d thread(s), %s time: AVX-512 FMA peak %.1f GFLOP/s at the start\n",
               threads, threads == 1 ? "thread CPU" : "wall", fma_peak_gflops(threads));
        printf("%-8s %-22s %10s %8s %8s\n", "impl", "problem", "GFLOP/s", "of_peak", "plan_ms");
        for (int64_t D = 64; D <= 128; D += 64) {
            for (int c = 0; c < 2; c++) {
                atb_problem p = attention(2048, D, c ? ATB_CAUSAL_TOP_LEFT : ATB_CAUSAL_NONE,
                                          threads);
                for (int i = 0; i < 2; i++) {
                    double plan_s = 0.0;
                    const double s = time_impl(impls[i], &p, quick ? 2 : 5, &plan_s);
                    if (s <= 0.0)
                        continue;
                    const double g = atb_problem_flops(&p, NULL) / s / 1e9;
                    const double peak = fma_peak_gflops(threads);
                    printf("%-8s attn_L2048_D%lld_%-8s %10.1f %8.2f %8.1f\n", impls[i],
                           (long long)D, c ? "top_left" : "none", g, g / peak, plan_s * 1e3);
                }
            }
            double qk, pv;
            blas_gemm_roofline(8, 2048, D, threads, &qk, &pv);
            omp_set_num_threads(threads);
            const double flops = 2.0 * 8 * 2048.0 * 2048.0 * (double)D;
            const double dq = flops / onednn_matmul_s(8, 2048, D, 2048, 1) / 1e9;
            const double dp = flops / onednn_matmul_s(8, 2048, 2048, D, 0) / 1e9;
            printf("gemm-only D=%lld: blas QK^T %.1f PV %.1f; onednn matmul QK^T %.1f PV %.1f "
                   "GFLOP/s (peak now %.1f)\n", (long long)D, qk, pv, dq, dp,
                   fma_peak_gflops(threads));
        }
        for (int act = 0; act < 2; act++) {
            atb_problem p = {.op = ATB_OP_ENCODER_LAYER, .n_threads = threads};
            p.encoder = (atb_encoder_shape){.batch = 1, .seq_len = 1024, .embed_dim = 512,
                                            .heads = 8, .ffn_dim = 2048,
                                            .activation = act ? ATB_ACT_GELU : ATB_ACT_RELU,
                                            .layer_norm_eps = 1e-5};
            for (int i = 0; i < 2; i++) {
                double plan_s = 0.0;
                const double s = time_impl(impls[i], &p, quick ? 2 : 5, &plan_s);
                if (s <= 0.0)
                    continue;
                const double g = atb_problem_flops(&p, NULL) / s / 1e9;
                const double peak = fma_peak_gflops(threads);
                printf("%-8s enc_L1024_E512_%-7s %10.1f %8.2f %8.1f\n", impls[i],
                       act ? "gelu" : "relu", g, g / peak, plan_s * 1e3);
            }
        }
    }

    /* Sweep: 1 thread, H=8, D=64, no mask. Score traffic counts one write
       by QK^T, a read and a write by the softmax and a read by PV: 16 bytes
       per score for 4*D FLOPs. */
    timing_clock = CLOCK_THREAD_CPUTIME_ID;
    printf("\n## sweep, 1 thread, thread CPU time, B=1 H=8 D=64, causal none (GFLOP/s)\n");
    printf("%6s %14s %16s %12s", "L", "scores_MiB_all", "score_bytes/FLOP", "head_MiB");
    const char *sweep[] = {"blas", "onednn", "blocked", "simd-avx512"};
    for (int i = 0; i < 4; i++)
        printf(" %12s", sweep[i]);
    printf(" %12s\n", "peak_now");
    for (int64_t L = 256; L <= 4096; L *= 2) {
        atb_problem p = attention(L, 64, ATB_CAUSAL_NONE, 1);
        printf("%6lld %14.1f %16.4f %12.1f", (long long)L, 8.0 * L * L * 4 / 1048576.0,
               16.0 / (4.0 * 64), (double)L * L * 4 / 1048576.0);
        for (int i = 0; i < 4; i++) {
            double plan_s;
            const double s = atb_registry_find(sweep[i])
                                 ? time_impl(sweep[i], &p, quick ? 1 : 3, &plan_s)
                                 : -1.0;
            if (s > 0.0)
                printf(" %12.1f", atb_problem_flops(&p, NULL) / s / 1e9);
            else
                printf(" %12s", "-");
        }
        printf(" %12.1f\n", fma_peak_gflops(1));
        fflush(stdout);
    }
    return 0;
}
