/*
 * Memory headroom of this process under every limit Linux may apply; see
 * memory_limit.h.
 */
#include "harness/memory_limit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* cgroup v1 writes a page-rounded 2^63 - 1 when no limit is set; anything
   this large means no limit. */
#define NO_LIMIT_BYTES 4.0e18

#define MIB (1024.0 * 1024.0)

/* Reads root + path into buf (NUL-terminated, truncated to len - 1 bytes).
   Returns 0, or -1 when the file cannot be read. */
static int read_text(const char *root, const char *path, char *buf, size_t len)
{
    char full[1024];
    if ((size_t)snprintf(full, sizeof(full), "%s%s", root, path) >= sizeof(full))
        return -1;
    FILE *f = fopen(full, "r");
    if (!f)
        return -1;
    const size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return 0;
}

/* The number after "key" at the start of a line of text (as in
   "MemAvailable:   123 kB"), times scale; -1 when absent. */
static double field(const char *text, const char *key, double scale)
{
    const size_t key_len = strlen(key);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, key, key_len) == 0) {
            char *end;
            const double value = strtod(line + key_len, &end);
            return end == line + key_len ? -1.0 : value * scale;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return -1.0;
}

/* Keeps the smaller headroom. */
static void consider(atb_memory_headroom *h, double bytes, const char *source)
{
    if (bytes < 0.0)
        bytes = 0.0;
    if (h->bytes >= 0.0 && h->bytes <= bytes)
        return;
    h->bytes = bytes;
    snprintf(h->source, sizeof(h->source), "%s", source);
}

static void consider_rlimit(atb_memory_headroom *h, int resource, double used_bytes,
                            const char *name)
{
    struct rlimit limit;
    if (getrlimit(resource, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY || used_bytes < 0.0)
        return;
    char source[192];
    snprintf(source, sizeof(source), "%s of %.0f MiB, with %.0f MiB already in use", name,
             (double)limit.rlim_cur / MIB, used_bytes / MIB);
    consider(h, (double)limit.rlim_cur - used_bytes, source);
}

/* One cgroup directory: its limit minus what it uses, counting inactive
   file pages (page cache the kernel reclaims first) as free. */
static void consider_cgroup_dir(atb_memory_headroom *h, const char *root, const char *dir,
                                const char *limit_file, const char *usage_file,
                                const char *inactive_key)
{
    char path[1024], text[64];
    snprintf(path, sizeof(path), "%s/%s", dir, limit_file);
    if (read_text(root, path, text, sizeof(text)) != 0 || strncmp(text, "max", 3) == 0)
        return;
    char *end;
    const double limit = strtod(text, &end);
    if (end == text || limit >= NO_LIMIT_BYTES)
        return;

    snprintf(path, sizeof(path), "%s/%s", dir, usage_file);
    double usage = 0.0;
    if (read_text(root, path, text, sizeof(text)) == 0)
        usage = strtod(text, NULL);
    char stat[16384];
    snprintf(path, sizeof(path), "%s/memory.stat", dir);
    if (read_text(root, path, stat, sizeof(stat)) == 0) {
        const double inactive = field(stat, inactive_key, 1.0);
        if (inactive > 0.0 && inactive <= usage)
            usage -= inactive;
    }

    char source[192];
    snprintf(source, sizeof(source), "the memory limit of cgroup %s (%s) of %.0f MiB, with "
             "%.0f MiB in use", dir, limit_file, limit / MIB, usage / MIB);
    consider(h, limit - usage, source);
}

/* The cgroup at path under mount, then each ancestor up to the root,
   since every ancestor's limit applies too. */
static void consider_cgroup_tree(atb_memory_headroom *h, const char *root, const char *mount,
                                 const char *path, int v2)
{
    char relative[512];
    snprintf(relative, sizeof(relative), "%s", path);
    for (;;) {
        char dir[768];
        snprintf(dir, sizeof(dir), "%s%s", mount, strcmp(relative, "/") == 0 ? "" : relative);
        if (v2)
            consider_cgroup_dir(h, root, dir, "memory.max", "memory.current", "inactive_file ");
        else
            consider_cgroup_dir(h, root, dir, "memory.limit_in_bytes", "memory.usage_in_bytes",
                                "total_inactive_file ");
        char *slash = strrchr(relative, '/');
        if (!slash || strcmp(relative, "/") == 0)
            break;
        if (slash == relative)
            slash[1] = '\0'; /* "/a" -> "/" */
        else
            *slash = '\0';
    }
}

/* Whether the comma-separated controller list names the memory controller. */
static int names_memory(const char *controllers, size_t len)
{
    for (size_t i = 0; i + 6 <= len; i++)
        if (strncmp(controllers + i, "memory", 6) == 0 && (i == 0 || controllers[i - 1] == ',') &&
            (i + 6 == len || controllers[i + 6] == ','))
            return 1;
    return 0;
}

static void consider_cgroups(atb_memory_headroom *h, const char *root)
{
    char text[8192];
    if (read_text(root, "/proc/self/cgroup", text, sizeof(text)) != 0)
        return;
    /* Lines are "hierarchy-id:controllers:path"; v2 has id 0 and no
       controllers. */
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *first = strchr(line, ':');
        char *second = first ? strchr(first + 1, ':') : NULL;
        if (second && second[1] == '/') {
            const size_t controllers_len = (size_t)(second - first - 1);
            if (strncmp(line, "0:", 2) == 0 && controllers_len == 0) {
                consider_cgroup_tree(h, root, "/sys/fs/cgroup", second + 1, 1);
                consider_cgroup_tree(h, root, "/sys/fs/cgroup/unified", second + 1, 1);
            } else if (names_memory(first + 1, controllers_len)) {
                consider_cgroup_tree(h, root, "/sys/fs/cgroup/memory", second + 1, 0);
            }
        }
        line = next;
    }
}

atb_memory_headroom atb_memory_headroom_under(const char *root)
{
    atb_memory_headroom h = {.bytes = -1.0, .source = ""};
    char text[16384];

    if (read_text(root, "/proc/meminfo", text, sizeof(text)) == 0) {
        const double available = field(text, "MemAvailable:", 1024.0);
        if (available >= 0.0)
            consider(&h, available, "the memory the kernel reports available (MemAvailable)");
    }

    double mapped = -1.0, data = -1.0;
    if (read_text(root, "/proc/self/status", text, sizeof(text)) == 0) {
        mapped = field(text, "VmSize:", 1024.0);
        data = field(text, "VmData:", 1024.0);
    }
    consider_rlimit(&h, RLIMIT_AS, mapped, "the address-space limit (ulimit -v)");
    consider_rlimit(&h, RLIMIT_DATA, data, "the data-segment limit (ulimit -d)");

    consider_cgroups(&h, root);
    return h;
}

atb_memory_headroom atb_memory_headroom_now(void)
{
    return atb_memory_headroom_under("");
}
