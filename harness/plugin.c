/*
 * Plugin loading: dlopen, the ABI check, validation of the plugin's table
 * and registration of copies of its implementations under "PLUGIN.IMPL".
 *
 * The registry stores pointers, so each plugin implementation is copied
 * into a table owned here, with the prefixed name. Plugins are never
 * unloaded: the registry, and any plan still alive, may point into them.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness/plugin.h"

#include "harness/registry.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A larger count is most likely garbage from a broken plugin. The
   registry's own limit on added entries is lower still. */
#define MAX_IMPLS_PER_PLUGIN 64
#define MAX_PLUGINS 32

typedef struct {
    char path[1024];
    char name[ATTNBENCH_PLUGIN_MAX_NAME + 1];
    void *handle;
    atb_impl *impls; /* copies with prefixed names */
    char (*full_names)[ATTNBENCH_PLUGIN_MAX_NAME + 1];
    size_t n_impls;
} loaded_plugin;

static loaded_plugin plugins[MAX_PLUGINS];
static size_t n_plugins;

typedef int (*abi_version_fn)(void);
typedef const atb_impl *const *(*impls_fn)(const char **plugin_name, size_t *n_impls);

/* Letters, digits, '_' and '-' only: no '/', ':' or '.', which separate
   the parts of benchmark names and of "PLUGIN.IMPL". */
static int is_valid_name_part(const char *name)
{
    if (!name || !*name)
        return 0;
    for (const char *p = name; *p; p++) {
        const char ch = *p;
        const int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
                       || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

/* dlsym with the POSIX-sanctioned way to tell "absent" from a NULL value. */
static void *find_symbol(void *handle, const char *path, const char *symbol, char *err,
                         size_t err_len)
{
    dlerror();
    void *address = dlsym(handle, symbol);
    const char *why = dlerror();
    if (why || !address) {
        snprintf(err, err_len, "plugin %s does not export %s (%s); a plugin defines both "
                               "functions declared in attnbench/impl.h",
                 path, symbol, why ? why : "the symbol is NULL");
        return NULL;
    }
    return address;
}

const char *atb_plugin_file_of(const atb_impl *impl)
{
    for (size_t p = 0; p < n_plugins; p++)
        if (impl >= plugins[p].impls && impl < plugins[p].impls + plugins[p].n_impls)
            return plugins[p].path;
    return NULL;
}

/* Checks the table returned by attnbench_plugin_impls before anything is
   copied: the name, the count and every entry's required fields. */
static atb_status validate_table(const char *path, const char *plugin_name,
                                 const atb_impl *const *table, size_t n_impls, char *err,
                                 size_t err_len)
{
    if (!is_valid_name_part(plugin_name)) {
        snprintf(err, err_len, "plugin %s: its name '%s' is empty or has characters other than "
                               "letters, digits, '_' and '-'",
                 path, plugin_name ? plugin_name : "(null)");
        return ATB_ERR_FORMAT;
    }
    if (!table || n_impls == 0 || n_impls > MAX_IMPLS_PER_PLUGIN) {
        snprintf(err, err_len, "plugin %s: %s returned %s %zu implementations (expected 1 to %d)",
                 path, ATTNBENCH_PLUGIN_IMPLS_SYMBOL, table ? "" : "a NULL table and", n_impls,
                 MAX_IMPLS_PER_PLUGIN);
        return ATB_ERR_FORMAT;
    }

    const unsigned known_ops = ATB_OPS_ATTENTION | ATB_OPS_ENCODER_LAYER;
    for (size_t i = 0; i < n_impls; i++) {
        const atb_impl *impl = table[i];
        if (!impl) {
            snprintf(err, err_len, "plugin %s: implementation %zu of %zu is a NULL pointer", path,
                     i + 1, n_impls);
            return ATB_ERR_FORMAT;
        }
        if (!is_valid_name_part(impl->name)) {
            snprintf(err, err_len, "plugin %s: implementation %zu has the name '%s', which is "
                                   "empty or has characters other than letters, digits, '_' "
                                   "and '-'",
                     path, i + 1, impl->name ? impl->name : "(null)");
            return ATB_ERR_FORMAT;
        }
        if (strlen(plugin_name) + 1 + strlen(impl->name) > ATTNBENCH_PLUGIN_MAX_NAME) {
            snprintf(err, err_len, "plugin %s: the name '%s.%s' is longer than %d characters",
                     path, plugin_name, impl->name, ATTNBENCH_PLUGIN_MAX_NAME);
            return ATB_ERR_FORMAT;
        }
        if (impl->ops == 0 || (impl->ops & ~known_ops)) {
            snprintf(err, err_len, "plugin %s: implementation '%s' has ops = 0x%x; expected "
                                   "ATB_OPS_ATTENTION and/or ATB_OPS_ENCODER_LAYER",
                     path, impl->name, impl->ops);
            return ATB_ERR_FORMAT;
        }
        const char *missing = !impl->plan ? "plan" : !impl->run ? "run"
                                                   : !impl->destroy ? "destroy" : NULL;
        if (missing) {
            snprintf(err, err_len, "plugin %s: implementation '%s' has no %s function", path,
                     impl->name, missing);
            return ATB_ERR_FORMAT;
        }
    }
    return ATB_OK;
}

/* Rejects a plugin name that is a built-in's or another plugin's name, and
   full names already registered or repeated within the plugin. */
static atb_status check_name_clashes(const char *path, const char *plugin_name,
                                     const atb_impl *const *table, size_t n_impls, char *err,
                                     size_t err_len)
{
    for (size_t p = 0; p < n_plugins; p++) {
        if (strcmp(plugins[p].name, plugin_name) == 0) {
            snprintf(err, err_len, "plugin %s is named '%s', like the plugin already loaded "
                                   "from %s; plugin names must be unique",
                     path, plugin_name, plugins[p].path);
            return ATB_ERR_INVALID;
        }
    }
    const atb_impl *builtin = atb_registry_find(plugin_name);
    if (builtin && !atb_plugin_file_of(builtin)) {
        snprintf(err, err_len, "plugin %s is named '%s', like the built-in implementation '%s'; "
                               "choose another plugin name",
                 path, plugin_name, builtin->name);
        return ATB_ERR_INVALID;
    }

    for (size_t i = 0; i < n_impls; i++) {
        char full[2 * ATTNBENCH_PLUGIN_MAX_NAME + 2];
        snprintf(full, sizeof(full), "%s.%s", plugin_name, table[i]->name);
        const atb_impl *existing = atb_registry_find(full);
        if (existing) {
            const char *owner = atb_plugin_file_of(existing);
            snprintf(err, err_len, "plugin %s: implementation '%s' clashes with the %s '%s'%s%s",
                     path, full, owner ? "implementation" : "built-in implementation",
                     existing->name, owner ? " from plugin " : "", owner ? owner : "");
            return ATB_ERR_INVALID;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(table[i]->name, table[j]->name) == 0) {
                snprintf(err, err_len, "plugin %s: implementations %zu and %zu are both named "
                                       "'%s'",
                         path, j + 1, i + 1, full);
                return ATB_ERR_INVALID;
            }
        }
    }
    return ATB_OK;
}

/* Copies the plugin's table with prefixed names and registers the copies. */
static atb_status register_impls(loaded_plugin *plugin, const atb_impl *const *table,
                                 char *err, size_t err_len)
{
    plugin->impls = calloc(plugin->n_impls, sizeof(*plugin->impls));
    plugin->full_names = calloc(plugin->n_impls, sizeof(*plugin->full_names));
    if (!plugin->impls || !plugin->full_names) {
        snprintf(err, err_len, "plugin %s: out of memory", plugin->path);
        return ATB_ERR_NOMEM;
    }
    for (size_t i = 0; i < plugin->n_impls; i++) {
        plugin->impls[i] = *table[i];
        if (!plugin->impls[i].notes)
            plugin->impls[i].notes = ""; /* the harness prints notes unchecked */
        /* validate_table checked that the full name fits. */
        const int n = snprintf(plugin->full_names[i], sizeof(plugin->full_names[i]), "%s.%s",
                               plugin->name, table[i]->name);
        if (n < 0 || (size_t)n >= sizeof(plugin->full_names[i])) {
            snprintf(err, err_len, "plugin %s: internal error: a name does not fit", plugin->path);
            return ATB_ERR_INTERNAL;
        }
        plugin->impls[i].name = plugin->full_names[i];
    }
    for (size_t i = 0; i < plugin->n_impls; i++) {
        char why[512];
        /* NOTE: when the registry runs out of room midway, the plugin's
           first implementations stay registered; callers exit on error. */
        if (atb_registry_add(&plugin->impls[i], why, sizeof(why)) != ATB_OK) {
            snprintf(err, err_len, "plugin %s: %s", plugin->path, why);
            return ATB_ERR_INVALID;
        }
    }
    return ATB_OK;
}

atb_status atb_plugin_load(const char *path, char *err, size_t err_len)
{
    if (n_plugins == MAX_PLUGINS) {
        snprintf(err, err_len, "cannot load plugin %s: at most %d plugins can be loaded", path,
                 MAX_PLUGINS);
        return ATB_ERR_INVALID;
    }
    loaded_plugin *plugin = &plugins[n_plugins];
    memset(plugin, 0, sizeof(*plugin));

    /* dlopen searches the library path for a bare file name, but a user who
       types "--plugin mine.so" means the file in the current directory. */
    if (strlen(path) + 3 > sizeof(plugin->path)) {
        snprintf(err, err_len, "cannot load plugin %.200s...: the path is too long", path);
        return ATB_ERR_IO;
    }
    snprintf(plugin->path, sizeof(plugin->path), "%s%s", strchr(path, '/') ? "" : "./", path);

    /* Load, resolving every symbol now so that a missing dependency is
       reported here rather than as a crash in the middle of a run. */
    dlerror();
    plugin->handle = dlopen(plugin->path, RTLD_NOW | RTLD_LOCAL);
    if (!plugin->handle) {
        const char *why = dlerror();
        snprintf(err, err_len, "cannot load plugin %s: %s", plugin->path,
                 why ? why : "dlopen failed");
        return ATB_ERR_IO;
    }
    for (size_t p = 0; p < n_plugins; p++) {
        if (plugins[p].handle == plugin->handle) {
            snprintf(err, err_len, "plugin %s is already loaded (from %s)", plugin->path,
                     plugins[p].path);
            dlclose(plugin->handle);
            return ATB_ERR_INVALID;
        }
    }

    /* ABI version first: a plugin built for another layout of atb_impl
       must not have its table read at all. */
    atb_status status = ATB_ERR_FORMAT;
    void *abi_symbol = find_symbol(plugin->handle, plugin->path, ATTNBENCH_PLUGIN_ABI_SYMBOL,
                                   err, err_len);
    if (!abi_symbol)
        goto fail;
    const int abi_version = ((abi_version_fn)abi_symbol)();
    if (abi_version != ATTNBENCH_ABI_VERSION) {
        snprintf(err, err_len, "plugin %s was built for plugin ABI version %d, but this "
                               "attnbench has ABI version %d; rebuild the plugin against this "
                               "attnbench's attnbench/impl.h",
                 plugin->path, abi_version, ATTNBENCH_ABI_VERSION);
        goto fail;
    }
    void *impls_symbol = find_symbol(plugin->handle, plugin->path, ATTNBENCH_PLUGIN_IMPLS_SYMBOL,
                                     err, err_len);
    if (!impls_symbol)
        goto fail;

    /* The table, then the names. */
    const char *plugin_name = NULL;
    size_t n_impls = 0;
    const atb_impl *const *table = ((impls_fn)impls_symbol)(&plugin_name, &n_impls);
    status = validate_table(plugin->path, plugin_name, table, n_impls, err, err_len);
    if (status != ATB_OK)
        goto fail;
    status = check_name_clashes(plugin->path, plugin_name, table, n_impls, err, err_len);
    if (status != ATB_OK)
        goto fail;

    snprintf(plugin->name, sizeof(plugin->name), "%s", plugin_name);
    plugin->n_impls = n_impls;
    n_plugins++;
    status = register_impls(plugin, table, err, err_len);
    if (status != ATB_OK)
        return status; /* stays loaded, because some copies may be registered */
    return ATB_OK;

fail:
    dlclose(plugin->handle);
    memset(plugin, 0, sizeof(*plugin));
    return status;
}

int atb_plugin_take_options(int *argc, char **argv, const char *command)
{
    int kept = 1;
    for (int i = 1; i < *argc; i++) {
        const char *path = NULL;
        if (strcmp(argv[i], "--plugin") == 0) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "attnbench %s: error: option '--plugin' needs a value: the path "
                                "of a plugin's .so file\n",
                        command);
                return 2;
            }
            path = argv[++i];
        } else if (strncmp(argv[i], "--plugin=", 9) == 0) {
            path = argv[i] + 9;
        } else {
            argv[kept++] = argv[i];
            continue;
        }

        char err[2048];
        if (!*path) {
            fprintf(stderr, "attnbench %s: error: option '--plugin' has an empty path\n", command);
            return 2;
        }
        if (atb_plugin_load(path, err, sizeof(err)) != ATB_OK) {
            fprintf(stderr, "attnbench %s: error: %s\n", command, err);
            return 2;
        }
    }
    argv[kept] = NULL;
    *argc = kept;
    return 0;
}
