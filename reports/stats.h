/*
 * Statistics for benchmark repetitions: median, coefficient of variation
 * and the two-sided Mann-Whitney U test used by `attnbench compare`.
 */
#ifndef ATB_REPORTS_STATS_H
#define ATB_REPORTS_STATS_H

#include <stddef.h>

/* Median of x[0..n-1] (x is not modified); NAN when n == 0. */
double atb_median(const double *x, size_t n);
double atb_mean(const double *x, size_t n);
/* Sample standard deviation (n - 1 in the denominator); NAN when n < 2. */
double atb_stddev(const double *x, size_t n);

typedef struct {
    double u;          /* U statistic of sample a: pairs with a > b, ties count 1/2 */
    double p_value;    /* two-sided */
    double min_p;      /* smallest p-value these sample sizes can produce */
    int exact;         /* 1: exact distribution, 0: normal approximation */
} atb_utest;

/* Largest sample size for which the exact U distribution is computed. */
#define ATB_UTEST_EXACT_MAX 20

/*
 * Run the two-sided Mann-Whitney U test of a against b. Without ties and
 * with both samples of at most ATB_UTEST_EXACT_MAX values the p-value is
 * exact. Otherwise it uses the normal approximation with tie and
 * continuity corrections. Returns 0 on success, or -1 when a sample has
 * fewer than 2 values or memory runs out.
 */
int atb_mann_whitney(const double *a, size_t n_a, const double *b, size_t n_b, atb_utest *out);

#endif /* ATB_REPORTS_STATS_H */
