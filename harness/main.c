/*
 * attnbench: the command-line entry point. Each subcommand lives in
 * harness/cmd_NAME.c; the build defines ATB_HAVE_CMD_NAME for those present.
 */
#include "harness/commands.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
#ifdef ATB_HAVE_CMD_LIST
    {"list", atb_cmd_list, "show the implementations and whether each runs on this CPU"},
#endif
#ifdef ATB_HAVE_CMD_CHECK
    {"check", atb_cmd_check, "check implementations against golden vectors"},
#endif
#ifdef ATB_HAVE_CMD_BENCH
    {"bench", atb_cmd_bench, "time implementations across a sweep of shapes"},
#endif
#ifdef ATB_HAVE_CMD_PEAK
    {"peak", atb_cmd_peak, "measure this machine's FMA peak and memory bandwidth"},
#endif
#ifdef ATB_HAVE_CMD_REPORT
    {"report", atb_cmd_report, "write Markdown and HTML reports from results files"},
#endif
#ifdef ATB_HAVE_CMD_COMPARE
    {"compare", atb_cmd_compare, "compare two results or check files and gate regressions"},
#endif
#ifdef ATB_HAVE_CMD_VECTORS
    {"vectors", atb_cmd_vectors, "generate golden-vector files from the f64 reference"},
#endif
};

static void print_usage(FILE *to)
{
    fprintf(to, "usage: attnbench COMMAND [options]   (attnbench COMMAND --help for details)\n\n"
                "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(to, "  %-9s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("attnbench %s\n", ATB_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);

    fprintf(stderr, "attnbench: error: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return 2;
}
