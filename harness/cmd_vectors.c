/*
 * `attnbench vectors generate`: writes the golden-vector suites from the
 * float64 reference. The committed files in vectors/ come from
 *   ./build/attnbench vectors generate --out-dir vectors
 * run at the repository root.
 */
#include "harness/commands.h"

#include "reference/suites.h"

#include <stdio.h>
#include <string.h>

#define USAGE "usage: attnbench vectors generate [--suite attention|encoder_layer|all] " \
              "[--out-dir DIR]\n"

static void print_help(FILE *to)
{
    fprintf(to,
            USAGE "\n"
            "Writes the golden-vector suites, computed with the float64 reference, as\n"
            "HDF5 files (the format is described in vectors/FORMAT.md).\n\n"
            "options:\n"
            "  --suite NAME    attention, encoder_layer or all (default all)\n"
            "  --out-dir DIR   folder for attention.h5 and encoder_layer.h5; it must\n"
            "                  exist (default: the current directory)\n"
            "  -h, --help      show this help\n\n"
            "The same command writes the same values on every machine. The committed\n"
            "files are regenerated from the repository root with\n"
            "  ./build/attnbench vectors generate --out-dir vectors\n");
}

static int misuse(const char *message, const char *value)
{
    fprintf(stderr, "attnbench: error: vectors: %s%s%s\n", message, value ? " " : "",
            value ? value : "");
    fputs(USAGE, stderr);
    return 2;
}

static int write_suite(atb_op op, const char *out_dir)
{
    char path[4096];
    const char *file = op == ATB_OP_ATTENTION ? "attention.h5" : "encoder_layer.h5";
    const int n = snprintf(path, sizeof(path), "%s/%s", out_dir, file);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        fprintf(stderr, "attnbench: error: vectors: --out-dir is too long\n");
        return 1;
    }

    char err[512];
    const atb_status st =
        atb_suite_write(op, path, "attnbench " ATB_VERSION " vectors generate", err, sizeof(err));
    if (st != ATB_OK) {
        fprintf(stderr, "attnbench: error: %s\n", err);
        return 1;
    }
    fprintf(stderr, "attnbench: wrote %zu cases to %s\n", atb_suite_count(op), path);
    return 0;
}

int atb_cmd_vectors(int argc, char **argv)
{
    if (argc < 2)
        return misuse("missing the action (the only action is 'generate')", NULL);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_help(stdout);
        return 0;
    }
    if (strcmp(argv[1], "generate") != 0)
        return misuse("unknown action (the only action is 'generate'):", argv[1]);

    const char *suite = "all";
    const char *out_dir = ".";
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--suite") == 0 || strcmp(argv[i], "--out-dir") == 0) {
            if (i + 1 >= argc)
                return misuse("missing the value of", argv[i]);
            if (strcmp(argv[i], "--suite") == 0)
                suite = argv[++i];
            else
                out_dir = argv[++i];
            continue;
        }
        return misuse("unknown option", argv[i]);
    }

    const int want_attention = strcmp(suite, "all") == 0 || strcmp(suite, "attention") == 0;
    const int want_encoder = strcmp(suite, "all") == 0 || strcmp(suite, "encoder_layer") == 0;
    if (!want_attention && !want_encoder)
        return misuse("invalid --suite (use attention, encoder_layer or all):", suite);
    if (out_dir[0] == '\0')
        return misuse("--out-dir is empty", NULL);

    if (want_attention && write_suite(ATB_OP_ATTENTION, out_dir) != 0)
        return 1;
    if (want_encoder && write_suite(ATB_OP_ENCODER_LAYER, out_dir) != 0)
        return 1;
    return 0;
}
