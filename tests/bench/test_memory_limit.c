/*
 * Tests of the memory headroom that bench uses to skip configurations
 * that cannot fit: each case writes a made-up /proc and /sys/fs/cgroup
 * under a temporary directory and checks the headroom and the limit named.
 */
#include "harness/memory_limit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1024.0 * 1024.0)

static int n_failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            n_failures++;                                                                  \
        }                                                                                  \
    } while (0)

static char g_root[256];

/* Creates every directory of root + path's parent, then writes text. */
static void put(const char *path, const char *text)
{
    char full[1024];
    snprintf(full, sizeof(full), "%s%s", g_root, path);
    for (char *p = full + strlen(g_root) + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(full, 0755) != 0 && errno != EEXIST)
            fprintf(stderr, "cannot create %s\n", full);
        *p = '/';
    }
    FILE *f = fopen(full, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", full);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

/* A fresh empty root for each case. */
static void new_root(const char *name)
{
    char command[1024];
    snprintf(g_root, sizeof(g_root), "%s/%s", getenv("TEST_MEMORY_ROOT"), name);
    snprintf(command, sizeof(command), "rm -rf '%s' && mkdir -p '%s'", g_root, g_root);
    if (system(command) != 0) {
        fprintf(stderr, "cannot prepare %s\n", g_root);
        exit(2);
    }
}

static void put_meminfo(void)
{
    put("/proc/meminfo", "MemTotal:       24000000 kB\nMemFree:         1000 kB\n"
                         "MemAvailable:    8000000 kB\nBuffers:          100 kB\n");
    put("/proc/self/status", "Name:\tattnbench\nVmPeak:\t  200000 kB\nVmSize:\t  102400 kB\n"
                             "VmData:\t   51200 kB\n");
}

static void expect(const char *label, double mib, const char *source_part)
{
    const atb_memory_headroom h = atb_memory_headroom_under(g_root);
    CHECK(h.bytes >= 0.0, "%s: no headroom found", label);
    CHECK(fabs(h.bytes / MIB - mib) < 0.01, "%s: headroom %.3f MiB, expected %.3f", label,
          h.bytes / MIB, mib);
    CHECK(strstr(h.source, source_part) != NULL, "%s: source '%s' does not name '%s'", label,
          h.source, source_part);
}

/* The address-space limit, against the VmSize of the made-up status
   (100 MiB): 1 GiB leaves 924 MiB. It limits this process too, so it runs
   on its own (and not under AddressSanitizer, which needs terabytes of
   address space). */
static void test_address_space_limit(void)
{
    new_root("rlimit");
    put_meminfo();
    struct rlimit limit;
    CHECK(getrlimit(RLIMIT_AS, &limit) == 0, "cannot read RLIMIT_AS");
    limit.rlim_cur = (rlim_t)1024 * 1024 * 1024;
    CHECK(setrlimit(RLIMIT_AS, &limit) == 0, "cannot set RLIMIT_AS for the test");
    expect("address-space limit", 924.0, "ulimit -v");
}

int main(int argc, char **argv)
{
    if (!getenv("TEST_MEMORY_ROOT")) {
        fprintf(stderr, "set TEST_MEMORY_ROOT to a scratch directory\n");
        return 2;
    }
    if (argc > 1 && strcmp(argv[1], "rlimit") == 0) {
        test_address_space_limit();
        if (!n_failures)
            printf("ok   memory headroom under ulimit -v\n");
        return n_failures ? 1 : 0;
    }

    new_root("nothing");
    CHECK(atb_memory_headroom_under(g_root).bytes < 0.0, "an empty root has a known headroom");

    new_root("meminfo_only");
    put_meminfo();
    expect("meminfo only", 8000000.0 / 1024.0, "MemAvailable");

    /* v2: limit 1 GiB, 512 MiB in use of which 256 MiB is inactive page
       cache, so 768 MiB left; the parent has no limit. */
    new_root("v2");
    put_meminfo();
    put("/proc/self/cgroup", "0::/a/b\n");
    put("/sys/fs/cgroup/a/b/memory.max", "1073741824\n");
    put("/sys/fs/cgroup/a/b/memory.current", "536870912\n");
    put("/sys/fs/cgroup/a/b/memory.stat", "anon 100\nfile 300\ninactive_file 268435456\n"
                                          "active_file 5\n");
    put("/sys/fs/cgroup/a/memory.max", "max\n");
    expect("v2 own limit", 768.0, "/sys/fs/cgroup/a/b (memory.max)");

    /* An ancestor with less room wins. */
    put("/sys/fs/cgroup/a/memory.max", "629145600\n");
    put("/sys/fs/cgroup/a/memory.current", "104857600\n");
    expect("v2 ancestor", 500.0, "/sys/fs/cgroup/a (memory.max)");

    /* v1, with the memory controller among others on its line. */
    new_root("v1");
    put_meminfo();
    put("/proc/self/cgroup", "9:name=systemd:/\n4:cpu,memory:/x/y\n0::/\n");
    put("/sys/fs/cgroup/memory/x/y/memory.limit_in_bytes", "2147483648\n");
    put("/sys/fs/cgroup/memory/x/y/memory.usage_in_bytes", "1610612736\n");
    put("/sys/fs/cgroup/memory/x/y/memory.stat", "cache 5\ninactive_file 1\n"
                                                 "total_inactive_file 536870912\n");
    put("/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
    expect("v1 limit", 1024.0, "/sys/fs/cgroup/memory/x/y (memory.limit_in_bytes)");

    /* A controller whose name only contains "memory" is not the memory
       controller, and a v1 limit of 2^63 is no limit. */
    new_root("v1_unlimited");
    put_meminfo();
    put("/proc/self/cgroup", "4:memoryx:/x\n5:memory:/z\n");
    put("/sys/fs/cgroup/memory/x/memory.limit_in_bytes", "1048576\n");
    put("/sys/fs/cgroup/memory/z/memory.limit_in_bytes", "9223372036854771712\n");
    expect("v1 unlimited", 8000000.0 / 1024.0, "MemAvailable");

    /* A full cgroup leaves 0, not a negative headroom. */
    new_root("v2_full");
    put_meminfo();
    put("/proc/self/cgroup", "0::/\n");
    put("/sys/fs/cgroup/memory.max", "1048576\n");
    put("/sys/fs/cgroup/memory.current", "2097152\n");
    expect("v2 full", 0.0, "(memory.max)");

    if (n_failures)
        fprintf(stderr, "%d checks failed\n", n_failures);
    else
        printf("ok   memory headroom from meminfo and cgroup v1 and v2\n");
    return n_failures ? 1 : 0;
}
