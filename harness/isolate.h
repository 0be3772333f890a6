/*
 * Running a function in a child process, for `check --isolate`: a crash or a
 * hang in code under test (a plugin, usually) ends that child, not attnbench.
 *
 * The child is a fork() of the caller, without exec, so it sees the
 * caller's memory as it was at the fork. It writes the result buffer back
 * through a pipe, so the result must be plain data (no pointers into the
 * child's heap).
 *
 * NOTE: libgomp is not fork-safe. Once the parent has run a parallel
 * region, a child's first parallel region never returns (seen with GCC 12's
 * libgomp). A caller that isolates code using OpenMP must therefore run
 * every parallel region in children, none in the parent.
 */
#ifndef ATB_ISOLATE_H
#define ATB_ISOLATE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fills result (result_size bytes) in the child. */
typedef void (*atb_isolated_fn)(void *context, void *result);

/*
 * Runs fn(context, result) in a child process and copies the child's result
 * buffer back into result. Waits at most timeout_s seconds (>= 1), then
 * kills the child with SIGKILL. Returns 1 on success; otherwise 0 with
 * result unchanged and a one-line reason in why: the signal that ended the
 * child ("killed by SIGSEGV (signal 11)"), "timed out after N s", an exit
 * status without a result, or why the child could not be started.
 */
int atb_isolate_run(atb_isolated_fn fn, void *context, void *result, size_t result_size,
                    int timeout_s, char *why, size_t why_len);

/* "SIGSEGV" for SIGSEGV, and so on; "signal N" for one not in the table. */
const char *atb_signal_name(int signal_number, char *buf, size_t buf_len);

#ifdef __cplusplus
}
#endif

#endif /* ATB_ISOLATE_H */
