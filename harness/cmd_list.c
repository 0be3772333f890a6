/*
 * `attnbench list`: every registered implementation, the operations it
 * implements, the ISA it needs and whether it runs on this CPU.
 */
#include "harness/commands.h"
#include "harness/plugin.h"
#include "harness/registry.h"

#include <stdio.h>
#include <string.h>

static void print_list_usage(FILE *to)
{
    fprintf(to, "usage: attnbench list [--plugin FILE.so ...]\n");
}

int atb_cmd_list(int argc, char **argv)
{
    const int plugin_status = atb_plugin_take_options(&argc, argv, "list");
    if (plugin_status != 0)
        return plugin_status;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_list_usage(stdout);
            return 0;
        }
        fprintf(stderr, "attnbench list: error: unknown option '%s'\n", argv[i]);
        print_list_usage(stderr);
        return 2;
    }

    const unsigned detected = atb_cpu_isa_detected(), usable = atb_cpu_isa();
    printf("CPU: %s, ISA %s", atb_cpu_model(), atb_isa_name(detected));
    if (usable != detected)
        printf(" (capped to %s by ATTNBENCH_MAX_ISA)", atb_isa_name(usable));
    printf("\n\n%-14s %-26s %-7s %-5s %s\n", "name", "operations", "needs", "runs", "details");

    for (size_t i = 0; i < atb_registry_count(); i++) {
        const atb_impl *impl = atb_registry_get(i);
        char ops[64] = "", why[256] = "", details[1024] = "";
        if (impl->ops & ATB_OPS_ATTENTION)
            strcat(ops, "attention");
        if (impl->ops & ATB_OPS_ENCODER_LAYER)
            strcat(ops, ops[0] ? ",encoder_layer" : "encoder_layer");
        const int runs = atb_impl_runs_here(impl, why, sizeof(why));
        if (runs && impl->describe)
            impl->describe(NULL, details, sizeof(details));
        const char *plugin_file = atb_plugin_file_of(impl);
        printf("%-14s %-26s %-7s %-5s %s%s%s%s%s\n", impl->name, ops,
               impl->isa_required ? atb_isa_name(impl->isa_required) : "-", runs ? "yes" : "no",
               runs ? details : why, runs && details[0] ? "; " : "", runs ? impl->notes : "",
               plugin_file ? "; from plugin " : "", plugin_file ? plugin_file : "");
    }
#ifdef ATB_ONEDNN_NOT_BUILT
    printf("%-14s %-26s %-7s %-5s not built into this attnbench: %s\n", "onednn", "-", "-",
           "no", ATB_ONEDNN_NOT_BUILT);
#endif
    return 0;
}
