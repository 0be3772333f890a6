/*
 * Strict option parsing for the subcommands; see cli.h.
 */
#include "harness/cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Maximum length of a word or list entry echoed back in a message. */
#define MAX_ECHO 64

int atb_cli_option(int argc, char **argv, int *i, const char *name, const char **value,
                   char *err, size_t err_len)
{
    const char *arg = argv[*i];
    const size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        snprintf(err, err_len, "option %s needs a value", name);
        return -1;
    }
    *i += 1;
    *value = argv[*i];
    return 1;
}

int atb_cli_flag(char **argv, int i, const char *name, char *err, size_t err_len)
{
    const size_t n = strlen(name);
    if (strncmp(argv[i], name, n) != 0)
        return 0;
    if (argv[i][n] == '=') {
        snprintf(err, err_len, "option %s takes no value (got '%s')", name, argv[i]);
        return -1;
    }
    return argv[i][n] == '\0';
}

int atb_cli_parse_int(const char *option, const char *text, int64_t min, int64_t max,
                      int64_t *out, char *err, size_t err_len)
{
    /* strtoll accepts leading spaces and a '+'; neither is a valid count.
       A negative number is parsed, so that the range check below names
       it as out of range rather than as not an integer. */
    const int starts_ok = isdigit((unsigned char)text[0])
                          || (text[0] == '-' && isdigit((unsigned char)text[1]));
    errno = 0;
    char *end = NULL;
    const long long v = starts_ok ? strtoll(text, &end, 10) : 0;
    if (!starts_ok || end == text || *end != '\0') {
        snprintf(err, err_len, "invalid value '%.*s' for %s: expected an integer", MAX_ECHO,
                 text, option);
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        snprintf(err, err_len, "value '%.*s' for %s is out of range (%lld to %lld)", MAX_ECHO,
                 text, option, (long long)min, (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int atb_cli_parse_double(const char *option, const char *text, double min, double max,
                         double *out, char *err, size_t err_len)
{
    errno = 0;
    char *end = NULL;
    const double v = strtod(text, &end);
    if (text[0] == '\0' || isspace((unsigned char)text[0]) || end == text || *end != '\0'
        || !isfinite(v)) {
        snprintf(err, err_len, "invalid value '%.*s' for %s: expected a number", MAX_ECHO, text,
                 option);
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        snprintf(err, err_len, "value '%.*s' for %s is out of range (%g to %g)", MAX_ECHO, text,
                 option, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* Appends v unless it is present; returns -1 when the list is full. */
static int list_add(atb_int_list *list, int64_t v)
{
    for (int k = 0; k < list->n; k++)
        if (list->values[k] == v)
            return 0;
    if (list->n == ATB_CLI_MAX_LIST)
        return -1;
    list->values[list->n++] = v;
    return 0;
}

/* Parses one entry (a number, "all", or a range) into list. */
static int parse_list_entry(const char *option, const char *entry, int64_t min, int64_t max,
                            int64_t all_value, atb_int_list *list, char *err, size_t err_len)
{
    if (all_value > 0 && strcmp(entry, "all") == 0) {
        if (list_add(list, all_value) != 0)
            goto too_many;
        return 0;
    }

    char parts[3][32];
    int n_parts = 0;
    const char *p = entry;
    for (;;) {
        const char *colon = strchr(p, ':');
        const size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (n_parts == 3 || len >= sizeof(parts[0])) {
            snprintf(err, err_len, "invalid entry '%.*s' for %s: expected N, A:B or A:B:STEP",
                     MAX_ECHO, entry, option);
            return -1;
        }
        memcpy(parts[n_parts], p, len);
        parts[n_parts++][len] = '\0';
        if (!colon)
            break;
        p = colon + 1;
    }

    int64_t first, last, step = 0;
    if (atb_cli_parse_int(option, parts[0], min, max, &first, err, err_len) != 0)
        return -1;
    if (n_parts == 1) {
        if (list_add(list, first) != 0)
            goto too_many;
        return 0;
    }
    if (atb_cli_parse_int(option, parts[1], min, max, &last, err, err_len) != 0)
        return -1;
    if (n_parts == 3 && atb_cli_parse_int(option, parts[2], 1, max, &step, err, err_len) != 0)
        return -1;
    if (last < first) {
        snprintf(err, err_len, "invalid range '%.*s' for %s: the end is below the start",
                 MAX_ECHO, entry, option);
        return -1;
    }
    if (step == 0 && first <= 0) {
        snprintf(err, err_len, "invalid range '%.*s' for %s: a doubling range must start "
                 "above 0", MAX_ECHO, entry, option);
        return -1;
    }

    for (int64_t v = first; v <= last;) {
        if (list_add(list, v) != 0)
            goto too_many;
        if (step ? v > INT64_MAX - step : v > INT64_MAX / 2)
            break;
        v = step ? v + step : v * 2;
    }
    return 0;

too_many:
    snprintf(err, err_len, "too many values for %s (at most %d)", option, ATB_CLI_MAX_LIST);
    return -1;
}

int atb_cli_parse_int_list(const char *option, const char *text, int64_t min, int64_t max,
                           int64_t all_value, atb_int_list *out, char *err, size_t err_len)
{
    out->n = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        const size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char entry[MAX_ECHO + 1];
        if (len == 0 || len > MAX_ECHO) {
            snprintf(err, err_len, "invalid list '%.*s' for %s: %s", MAX_ECHO, text, option,
                     len == 0 ? "an entry is empty" : "an entry is too long");
            return -1;
        }
        memcpy(entry, p, len);
        entry[len] = '\0';
        if (parse_list_entry(option, entry, min, max, all_value, out, err, err_len) != 0)
            return -1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

int atb_cli_parse_word_list(const char *option, const char *text, int (*parse)(const char *),
                            const char *expected, int *values, int max_values, char *err,
                            size_t err_len)
{
    int n = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        const size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char word[MAX_ECHO + 1];
        const int fits = len > 0 && len <= MAX_ECHO;
        if (fits) {
            memcpy(word, p, len);
            word[len] = '\0';
        }
        const int v = fits ? parse(word) : -1;
        if (v < 0) {
            snprintf(err, err_len, "invalid value '%.*s' for %s: expected %s", MAX_ECHO,
                     fits ? word : text, option, expected);
            return -1;
        }
        int seen = 0;
        for (int k = 0; k < n; k++)
            seen |= values[k] == v;
        if (!seen) {
            if (n == max_values) {
                snprintf(err, err_len, "too many values for %s (at most %d)", option, max_values);
                return -1;
            }
            values[n++] = v;
        }
        if (!comma)
            return n;
        p = comma + 1;
    }
}
