/*
 * Loading implementations from plugins: shared objects named with
 * `--plugin PATH` that export the two functions declared at the end of
 * include/attnbench/impl.h. Each of a plugin's implementations joins the
 * registry as "PLUGIN.IMPL". Plugins stay loaded until the process exits.
 */
#ifndef ATB_PLUGIN_H
#define ATB_PLUGIN_H

#include "attnbench/impl.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Help text for the option, for a command's --help output. */
#define ATB_PLUGIN_OPTION_HELP \
    "  --plugin FILE.so     load a plugin's implementations as PLUGIN.IMPL (repeatable)\n"

/*
 * Loads the plugin at path with dlopen(RTLD_NOW | RTLD_LOCAL), checks its
 * ABI version and its table, and registers its implementations. A path
 * without '/' is taken relative to the current directory, not searched for.
 * On failure nothing of the plugin is registered, and err names the file
 * and what is wrong: ATB_ERR_IO (cannot be loaded), ATB_ERR_FORMAT (missing
 * symbol, wrong ABI version, malformed table) or ATB_ERR_INVALID (a name
 * clash).
 */
atb_status atb_plugin_load(const char *path, char *err, size_t err_len);

/*
 * Removes every "--plugin PATH" and "--plugin=PATH" from argv (argv[0], the
 * command name, is kept), loads each plugin in order and updates *argc.
 * Returns 0 when all loaded; otherwise prints the error to stderr, prefixed
 * "attnbench COMMAND: error: ", and returns 2, the exit status for misuse.
 */
int atb_plugin_take_options(int *argc, char **argv, const char *command);

/* The file a registered implementation came from, or NULL for a built-in. */
const char *atb_plugin_file_of(const atb_impl *impl);

#ifdef __cplusplus
}
#endif

#endif /* ATB_PLUGIN_H */
