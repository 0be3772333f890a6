/*
 * How much more memory this process can allocate. Linux may limit it in
 * several ways: the memory the kernel reports available, the address-space
 * and data-segment limits (ulimit -v, ulimit -d), and the memory limit of
 * its cgroup and of every ancestor cgroup (v2 memory.max, v1
 * memory.limit_in_bytes). The smallest headroom wins. `attnbench bench`
 * skips a configuration that cannot fit before it allocates anything, and
 * names the limit.
 */
#ifndef ATB_MEMORY_LIMIT_H
#define ATB_MEMORY_LIMIT_H

#ifdef __cplusplus
extern "C" {
#endif

/* The smallest headroom found and the limit that sets it. */
typedef struct {
    double bytes;       /* < 0 when no limit could be read at all */
    char source[192];   /* for example "the address-space limit (ulimit -v)" */
} atb_memory_headroom;

/* Reads the limits of this process from /proc and /sys/fs/cgroup. */
atb_memory_headroom atb_memory_headroom_now(void);

/* The same, with every file path prefixed by root (a directory laid out
   like /), so tests can give a made-up /proc and /sys/fs/cgroup. The
   resource limits still come from getrlimit(). */
atb_memory_headroom atb_memory_headroom_under(const char *root);

#ifdef __cplusplus
}
#endif

#endif /* ATB_MEMORY_LIMIT_H */
