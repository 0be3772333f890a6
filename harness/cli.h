/*
 * Command-line helpers shared by the subcommands: matching "--name VALUE"
 * and "--name=VALUE", and strict parsing of integers, numbers and integer
 * lists. Every parser rejects empty text, trailing characters, signs where
 * a count is expected and values out of range, and writes a message that
 * names the option and the value.
 */
#ifndef ATB_CLI_H
#define ATB_CLI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Maximum number of entries in an integer list after ranges are expanded. */
#define ATB_CLI_MAX_LIST 64

typedef struct {
    int64_t values[ATB_CLI_MAX_LIST];
    int n;
} atb_int_list;

/* Matches argv[*i] against option name (e.g. "--seq"). Returns 1 with
   *value set and *i advanced past the value when it matches ("--seq 128" or
   "--seq=128"), 0 when argv[*i] is another option, and -1 (with a message
   in err) when the value is missing. */
int atb_cli_option(int argc, char **argv, int *i, const char *name, const char **value,
                   char *err, size_t err_len);

/* Matches a flag without a value; "--name=..." is an error (-1). */
int atb_cli_flag(char **argv, int i, const char *name, char *err, size_t err_len);

/* Parses a decimal integer in [min, max]. Returns 0, or -1 with a message. */
int atb_cli_parse_int(const char *option, const char *text, int64_t min, int64_t max,
                      int64_t *out, char *err, size_t err_len);

/* Parses a finite decimal number in [min, max]. Returns 0, or -1. */
int atb_cli_parse_double(const char *option, const char *text, double min, double max,
                         double *out, char *err, size_t err_len);

/*
 * Parses a comma-separated list of integers in [min, max]. An entry may be a
 * range: A:B lists A, 2A, 4A, ... up to B (powers-of-two sweeps), and A:B:S
 * lists A, A+S, A+2S, ... up to B. Duplicates are kept in order once.
 * When all_value > 0 the word "all" stands for it (thread counts).
 * Returns 0, or -1 with a message naming the option and the bad entry.
 */
int atb_cli_parse_int_list(const char *option, const char *text, int64_t min, int64_t max,
                           int64_t all_value, atb_int_list *out, char *err, size_t err_len);

/*
 * Splits a comma-separated list of words and maps each through parse
 * (returning a value >= 0, or -1 when unknown) into values[]. Returns the
 * count, or -1 with a message that names the option, the word and the
 * accepted words (expected, e.g. "none, top_left or bottom_right").
 */
int atb_cli_parse_word_list(const char *option, const char *text, int (*parse)(const char *),
                            const char *expected, int *values, int max_values, char *err,
                            size_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* ATB_CLI_H */
