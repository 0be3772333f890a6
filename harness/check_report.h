/*
 * Results of `attnbench check`: one record per (implementation, case), the
 * lines printed as they arrive, and the JSON and JUnit XML files.
 */
#ifndef ATB_CHECK_REPORT_H
#define ATB_CHECK_REPORT_H

#include "harness/tolerance.h"

#include <stdio.h>

typedef enum { CHECK_PASS = 0, CHECK_FAIL, CHECK_SKIP, CHECK_ERROR } check_status;

typedef struct {
    char impl[64];
    char file[1024];
    char case_name[128];
    int op; /* atb_op, or -1 when the case could not be read */
    check_status status;
    char reason[1024];
    atb_compare_result cmp;
    int has_naive;          /* error_vs_naive and within_naive_bound are set */
    double naive_abs_error;
    double error_vs_naive;  /* this max abs error / naive's */
    int within_naive_bound; /* error <= 2 x naive's + 4 ULP of the output's magnitude */
} check_result;

typedef struct {
    check_result *results;
    size_t n_results;
    size_t capacity;
    char command[2048]; /* the command line, for the JSON context */
    int case_width;     /* width of the case column on the console */
    int impl_width;     /* width of the implementation column */
} check_report;

void check_report_init(check_report *report, int argc, char **argv);
/* Appends a zeroed record; NULL when memory runs out (reported once). */
check_result *check_report_add(check_report *report);
/* Widens the console's case column (44 to 120 characters) to fit a name. */
void check_report_fit_case(check_report *report, const char *case_name);
/* Widens the implementation column (16 to 60 characters) to fit a name. */
void check_report_fit_impl(check_report *report, const char *impl_name);
void check_report_print(const check_report *report, const check_result *r);
/* Prints the first mismatches and the command that reproduces the failure. */
void check_report_print_failure(const check_result *r, const atb_problem *problem);
/* Prints the summary, writes the files asked for and returns the exit
   status: 0 when nothing failed, 1 on any FAIL or ERROR (or a file that
   could not be written). */
int check_report_finish(check_report *report, const char *json_path, const char *junit_path);
void check_report_free(check_report *report);
const char *check_status_name(check_status status);

#endif /* ATB_CHECK_REPORT_H */
