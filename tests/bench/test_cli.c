/*
 * Tests of the shared option parsers: integers, numbers, integer lists with
 * ranges and "all", word lists, and the messages that name the option.
 */
#include "harness/cli.h"
#include "harness/registry.h"

#include <stdio.h>
#include <string.h>

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

static void check_list(const char *text, int64_t all, const int64_t *expected, int n_expected)
{
    atb_int_list list;
    char err[256] = "";
    const int rc = atb_cli_parse_int_list("--seq", text, 0, 1 << 20, all, &list, err,
                                          sizeof(err));
    CHECK(rc == 0, "'%s': rejected: %s", text, err);
    if (rc != 0)
        return;
    CHECK(list.n == n_expected, "'%s': %d values, expected %d", text, list.n, n_expected);
    for (int k = 0; k < list.n && k < n_expected; k++)
        CHECK(list.values[k] == expected[k], "'%s': value %d is %lld, expected %lld", text, k,
              (long long)list.values[k], (long long)expected[k]);
}

static void check_list_rejected(const char *text, int64_t min, const char *in_message)
{
    atb_int_list list;
    char err[256] = "";
    const int rc = atb_cli_parse_int_list("--seq", text, min, 1 << 20, 0, &list, err,
                                          sizeof(err));
    CHECK(rc == -1, "'%s': accepted", text);
    CHECK(strstr(err, "--seq") != NULL, "'%s': message does not name the option: %s", text, err);
    CHECK(strstr(err, in_message) != NULL, "'%s': message lacks '%s': %s", text, in_message, err);
}

static void test_int_lists(void)
{
    check_list("128", 0, (const int64_t[]){128}, 1);
    check_list("128,256,64", 0, (const int64_t[]){128, 256, 64}, 3);
    check_list("128:1024", 0, (const int64_t[]){128, 256, 512, 1024}, 4);
    check_list("100:300", 0, (const int64_t[]){100, 200}, 2);
    check_list("10:40:10", 0, (const int64_t[]){10, 20, 30, 40}, 4);
    check_list("1,all", 8, (const int64_t[]){1, 8}, 2);
    check_list("2,2,4", 0, (const int64_t[]){2, 4}, 2);
    check_list("0", 0, (const int64_t[]){0}, 1);

    check_list_rejected("", 1, "empty");
    check_list_rejected("abc", 1, "abc");
    check_list_rejected("12x", 1, "12x");
    check_list_rejected("0", 1, "out of range");
    check_list_rejected("-5", 1, "-5");
    check_list_rejected("+5", 1, "+5");
    check_list_rejected(" 5", 1, " 5");
    check_list_rejected("99999999999", 1, "out of range");
    check_list_rejected("99999999999999999999999", 1, "out of range");
    check_list_rejected("128,,256", 1, "empty");
    check_list_rejected("256:128", 1, "below the start");
    check_list_rejected("0:128", 0, "start above 0");
    check_list_rejected("1:2:3:4", 1, "A:B:STEP");
    check_list_rejected("all", 1, "all");
    check_list_rejected("1:1000000:1", 1, "too many");
}

static void test_numbers(void)
{
    int64_t v = 0;
    double d = 0.0;
    char err[256] = "";
    CHECK(atb_cli_parse_int("--seed", "42", 0, 100, &v, err, sizeof(err)) == 0, "42: %s", err);
    CHECK(v == 42, "42 parsed as %lld", (long long)v);
    CHECK(atb_cli_parse_int("--seed", "101", 0, 100, &v, err, sizeof(err)) == -1,
          "101 accepted in 0..100");
    /* A negative integer is out of range, not "not an integer". */
    CHECK(atb_cli_parse_int("--head-dim", "-4", 1, 100, &v, err, sizeof(err)) == -1,
          "-4 accepted in 1..100");
    CHECK(strstr(err, "out of range") != NULL, "-4: message '%s' does not say out of range", err);
    CHECK(atb_cli_parse_int("--head-dim", "-", 1, 100, &v, err, sizeof(err)) == -1,
          "'-' accepted");
    CHECK(strstr(err, "expected an integer") != NULL, "'-': message '%s'", err);
    CHECK(atb_cli_parse_double("--budget-seconds", "2.5", 0.001, 10, &d, err, sizeof(err)) == 0
              && d == 2.5, "2.5: %s", err);
    CHECK(atb_cli_parse_double("--budget-seconds", "nan", 0.001, 10, &d, err, sizeof(err)) == -1,
          "nan accepted");
    CHECK(atb_cli_parse_double("--budget-seconds", "0", 0.001, 10, &d, err, sizeof(err)) == -1,
          "0 accepted with minimum 0.001");
    CHECK(atb_cli_parse_double("--budget-seconds", "1s", 0.001, 10, &d, err, sizeof(err)) == -1,
          "'1s' accepted");
    CHECK(strstr(err, "--budget-seconds") != NULL, "message does not name the option: %s", err);
}

static void test_words(void)
{
    int values[3];
    char err[256] = "";
    int n = atb_cli_parse_word_list("--causal", "none,top_left", atb_causal_parse,
                                    "none, top_left or bottom_right", values, 3, err,
                                    sizeof(err));
    CHECK(n == 2, "none,top_left: %d values (%s)", n, err);
    CHECK(values[0] == ATB_CAUSAL_NONE, "first value %d", values[0]);
    CHECK(values[1] == ATB_CAUSAL_TOP_LEFT, "second value %d", values[1]);
    n = atb_cli_parse_word_list("--causal", "none,upper", atb_causal_parse,
                                "none, top_left or bottom_right", values, 3, err, sizeof(err));
    CHECK(n == -1, "'upper' accepted");
    CHECK(strstr(err, "'upper'") && strstr(err, "--causal"), "message: %s", err);
}

static void test_option_matching(void)
{
    char *argv[] = {"bench", "--seq", "128", "--seq=256", "--sequence", "--seq"};
    const int argc = 6;
    const char *value = NULL;
    char err[256] = "";
    int i = 1;
    CHECK(atb_cli_option(argc, argv, &i, "--seq", &value, err, sizeof(err)) == 1
              && i == 2 && strcmp(value, "128") == 0, "--seq 128 not matched");
    i = 3;
    CHECK(atb_cli_option(argc, argv, &i, "--seq", &value, err, sizeof(err)) == 1
              && strcmp(value, "256") == 0, "--seq=256 not matched");
    i = 4;
    CHECK(atb_cli_option(argc, argv, &i, "--seq", &value, err, sizeof(err)) == 0,
          "--sequence matched --seq");
    i = 5;
    CHECK(atb_cli_option(argc, argv, &i, "--seq", &value, err, sizeof(err)) == -1,
          "--seq without a value accepted");
    CHECK(strstr(err, "--seq") != NULL, "message: %s", err);
}

int main(void)
{
    test_int_lists();
    test_numbers();
    test_words();
    test_option_matching();
    if (n_failures) {
        fprintf(stderr, "%d checks failed\n", n_failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
