/*
 * The table of built-in implementations, CPU feature detection (once, via
 * CPUID and XGETBV so that OS support for the wider registers is checked),
 * and the ATTNBENCH_MAX_ISA cap.
 */
#include "harness/registry.h"

#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef ATB_HAVE_NAIVE
#include "impl/naive/naive.h"
#endif
#ifdef ATB_HAVE_BLOCKED
extern const atb_impl atb_impl_blocked;
#endif
#ifdef ATB_HAVE_SIMD
extern const atb_impl atb_impl_simd_avx2;
extern const atb_impl atb_impl_simd_avx512;
#endif
#ifdef ATB_HAVE_BLAS
extern const atb_impl atb_impl_blas;
#endif
#ifdef ATB_HAVE_ONEDNN
extern const atb_impl atb_impl_onednn;
#endif

static const atb_impl *const builtin_impls[] = {
#ifdef ATB_HAVE_NAIVE
    &atb_impl_naive,
#endif
#ifdef ATB_HAVE_BLOCKED
    &atb_impl_blocked,
#endif
#ifdef ATB_HAVE_SIMD
    &atb_impl_simd_avx2,
    &atb_impl_simd_avx512,
#endif
#ifdef ATB_HAVE_BLAS
    &atb_impl_blas,
#endif
#ifdef ATB_HAVE_ONEDNN
    &atb_impl_onednn,
#endif
};

#define MAX_EXTRA_IMPLS 64
static const atb_impl *extra_impls[MAX_EXTRA_IMPLS];
static size_t n_extra_impls;

/* Deliberately broken variants of naive, registered only when the
   environment variable ATTNBENCH_TEST_FAULTY_IMPL is set to 1. Tests use
   them to prove that check and bench report wrong results as failures. */
static void add_test_faulty_impls(void)
{
    static int done;
    if (done)
        return;
    done = 1;
#ifdef ATB_HAVE_NAIVE
    const char *flag = getenv("ATTNBENCH_TEST_FAULTY_IMPL");
    if (!flag || strcmp(flag, "1") != 0)
        return;
    static const struct {
        atb_naive_fault fault;
        const char *name;
    } faults[] = {
        {ATB_NAIVE_FAULT_MASK_OFF_BY_ONE, "naive-broken-mask"},
        {ATB_NAIVE_FAULT_NO_SCALE, "naive-broken-scale"},
        {ATB_NAIVE_FAULT_DROP_LAST_BLOCK, "naive-broken-lastblock"},
        {ATB_NAIVE_FAULT_PV_HALF, "naive-broken-pvhalf"},
        {ATB_NAIVE_FAULT_LN_UNBIASED, "naive-broken-lnvar"},
        {ATB_NAIVE_FAULT_GELU_TANH, "naive-broken-gelutanh"},
    };
    static atb_impl tables[sizeof(faults) / sizeof(faults[0])];
    char err[256];
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        tables[i] = atb_naive_faulty_impl(faults[i].fault, faults[i].name);
        if (atb_registry_add(&tables[i], err, sizeof(err)) != ATB_OK)
            fprintf(stderr, "attnbench: warning: %s\n", err);
    }
#endif
}

size_t atb_registry_count(void)
{
    add_test_faulty_impls();
    return sizeof(builtin_impls) / sizeof(builtin_impls[0]) + n_extra_impls;
}

const atb_impl *atb_registry_get(size_t index)
{
    add_test_faulty_impls();
    const size_t n_builtin = sizeof(builtin_impls) / sizeof(builtin_impls[0]);
    if (index < n_builtin)
        return builtin_impls[index];
    if (index - n_builtin < n_extra_impls)
        return extra_impls[index - n_builtin];
    return NULL;
}

const atb_impl *atb_registry_find(const char *name)
{
    for (size_t i = 0; i < atb_registry_count(); i++)
        if (strcmp(atb_registry_get(i)->name, name) == 0)
            return atb_registry_get(i);
    return NULL;
}

atb_status atb_registry_add(const atb_impl *impl, char *err, size_t err_len)
{
    if (atb_registry_find(impl->name)) {
        snprintf(err, err_len, "an implementation named '%s' is already registered", impl->name);
        return ATB_ERR_INVALID;
    }
    if (n_extra_impls == MAX_EXTRA_IMPLS) {
        snprintf(err, err_len, "too many implementations (at most %d extra)", MAX_EXTRA_IMPLS);
        return ATB_ERR_INVALID;
    }
    extra_impls[n_extra_impls++] = impl;
    return ATB_OK;
}

/* === CPU features === */

static unsigned detect_isa(void)
{
    unsigned eax, ebx, ecx, edx;
    unsigned isa = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return 0;
    const int has_fma = (ecx >> 12) & 1, has_osxsave = (ecx >> 27) & 1, has_avx = (ecx >> 28) & 1;
    if (!has_osxsave || !has_avx)
        return 0;

    /* XCR0 lists the register states the OS saves: YMM (bits 1-2) and
       the AVX-512 opmask and ZMM states (bits 5-7). */
    unsigned xcr0_lo, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    const int os_ymm = (xcr0_lo & 0x6) == 0x6;
    const int os_zmm = (xcr0_lo & 0xe6) == 0xe6;

    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    const int has_avx2 = (ebx >> 5) & 1;
    const int has_avx512 = ((ebx >> 16) & 1) && ((ebx >> 17) & 1) && ((ebx >> 28) & 1)
                           && ((ebx >> 30) & 1) && ((ebx >> 31) & 1); /* F DQ CD BW VL */
    if (os_ymm && has_avx2 && has_fma)
        isa |= ATB_ISA_AVX2;
    if (os_zmm && (isa & ATB_ISA_AVX2) && has_avx512)
        isa |= ATB_ISA_AVX512;
    return isa;
}

static unsigned detected_isa;
static unsigned capped_isa;
static int isa_ready;

static void init_isa(void)
{
    if (isa_ready)
        return;
    detected_isa = detect_isa();
    capped_isa = detected_isa;
    const char *cap = getenv("ATTNBENCH_MAX_ISA");
    if (cap && *cap) {
        if (strcmp(cap, "scalar") == 0)
            capped_isa = 0;
        else if (strcmp(cap, "avx2") == 0)
            capped_isa &= ATB_ISA_AVX2;
        else if (strcmp(cap, "avx512") != 0)
            fprintf(stderr, "attnbench: warning: ATTNBENCH_MAX_ISA='%s' is not one of "
                            "avx512, avx2, scalar; ignoring it\n", cap);
    }
    isa_ready = 1;
}

unsigned atb_cpu_isa(void)
{
    init_isa();
    return capped_isa;
}

unsigned atb_cpu_isa_detected(void)
{
    init_isa();
    return detected_isa;
}

const char *atb_isa_name(unsigned isa)
{
    if (isa & ATB_ISA_AVX512)
        return "avx512";
    if (isa & ATB_ISA_AVX2)
        return "avx2";
    return "scalar";
}

const char *atb_cpu_model(void)
{
    static char model[49];
    if (model[0])
        return model;
    unsigned regs[12];
    if (__get_cpuid_max(0x80000000u, NULL) < 0x80000004u) {
        snprintf(model, sizeof(model), "unknown x86-64");
        return model;
    }
    for (unsigned leaf = 0; leaf < 3; leaf++)
        __get_cpuid(0x80000002u + leaf, &regs[leaf * 4], &regs[leaf * 4 + 1],
                    &regs[leaf * 4 + 2], &regs[leaf * 4 + 3]);
    memcpy(model, regs, 48);
    model[48] = '\0';
    /* Trim the padding spaces some CPUs put around the name. */
    char *start = model;
    while (*start == ' ')
        start++;
    memmove(model, start, strlen(start) + 1);
    for (size_t n = strlen(model); n > 0 && model[n - 1] == ' '; n--)
        model[n - 1] = '\0';
    return model;
}

int atb_impl_runs_here(const atb_impl *impl, char *why, size_t why_len)
{
    const unsigned missing = impl->isa_required & ~atb_cpu_isa();
    if (!missing)
        return 1;
    const unsigned missing_on_cpu = impl->isa_required & ~atb_cpu_isa_detected();
    if (missing_on_cpu)
        snprintf(why, why_len, "this CPU lacks %s", atb_isa_name(missing_on_cpu));
    else
        snprintf(why, why_len, "%s disabled by ATTNBENCH_MAX_ISA=%s", atb_isa_name(missing),
                 getenv("ATTNBENCH_MAX_ISA"));
    return 0;
}

/* === Names === */

const char *atb_status_string(atb_status status)
{
    switch (status) {
    case ATB_OK: return "ok";
    case ATB_ERR_INVALID: return "invalid argument";
    case ATB_ERR_UNSUPPORTED: return "unsupported";
    case ATB_ERR_NOMEM: return "out of memory";
    case ATB_ERR_LIBRARY: return "library error";
    case ATB_ERR_IO: return "I/O error";
    case ATB_ERR_FORMAT: return "format error";
    case ATB_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *atb_op_name(atb_op op)
{
    return op == ATB_OP_ATTENTION ? "attention" : "encoder_layer";
}

const char *atb_causal_name(atb_causal causal)
{
    switch (causal) {
    case ATB_CAUSAL_NONE: return "none";
    case ATB_CAUSAL_TOP_LEFT: return "top_left";
    case ATB_CAUSAL_BOTTOM_RIGHT: return "bottom_right";
    }
    return "unknown";
}

int atb_causal_parse(const char *text)
{
    if (strcmp(text, "none") == 0)
        return ATB_CAUSAL_NONE;
    if (strcmp(text, "top_left") == 0)
        return ATB_CAUSAL_TOP_LEFT;
    if (strcmp(text, "bottom_right") == 0)
        return ATB_CAUSAL_BOTTOM_RIGHT;
    return -1;
}
