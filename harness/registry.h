/*
 * Registry of the built-in implementations (and, later, plugins), and the
 * CPU features they are checked against. Features are detected once.
 */
#ifndef ATB_REGISTRY_H
#define ATB_REGISTRY_H

#include "attnbench/impl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ISA bits of this CPU, detected on first call, then lowered by the
   ATTNBENCH_MAX_ISA environment variable (avx512, avx2 or scalar). */
unsigned atb_cpu_isa(void);

/* The ISA bits the CPU itself has, ignoring ATTNBENCH_MAX_ISA. */
unsigned atb_cpu_isa_detected(void);

/* A short name for the highest bit in isa: "avx512", "avx2" or "scalar". */
const char *atb_isa_name(unsigned isa);

/* The CPU model string from CPUID, e.g. "AMD EPYC". */
const char *atb_cpu_model(void);

size_t atb_registry_count(void);
const atb_impl *atb_registry_get(size_t index);
const atb_impl *atb_registry_find(const char *name);
/* Adds an implementation (a plugin's, or a test's); the table must outlive
   the registry. Rejects a name that is already registered. */
atb_status atb_registry_add(const atb_impl *impl, char *err, size_t err_len);

/* Returns 1 when impl can run on this CPU; otherwise 0 with the reason. */
int atb_impl_runs_here(const atb_impl *impl, char *why, size_t why_len);

const char *atb_status_string(atb_status status);
const char *atb_op_name(atb_op op);
const char *atb_causal_name(atb_causal causal);
/* Parses "none", "top_left" or "bottom_right"; returns -1 when unknown. */
int atb_causal_parse(const char *text);

#ifdef __cplusplus
}
#endif

#endif /* ATB_REGISTRY_H */
