/*
 * Tests of reports/stats.c: the Mann-Whitney U test against a brute-force
 * enumeration of every split of the pooled values, the smallest attainable
 * p-value, and the median.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "reports/stats.h"

static int n_failed = 0;

#define CHECK_CLOSE(got, expected, tol, what)                                                 \
    do {                                                                                      \
        double got_ = (got), expected_ = (expected);                                          \
        if (!(fabs(got_ - expected_) <= (tol))) {                                             \
            printf("FAILED: %s: got %.12g, expected %.12g (tolerance %g)\n", (what), got_,    \
                   expected_, (double)(tol));                                                 \
            n_failed++;                                                                       \
        }                                                                                     \
    } while (0)

/* U of a against b, ties counting 1/2. */
static double u_statistic(const double *a, int n_a, const double *b, int n_b)
{
    double u = 0.0;
    for (int i = 0; i < n_a; i++) {
        for (int j = 0; j < n_b; j++) {
            if (a[i] > b[j])
                u += 1.0;
            else if (a[i] == b[j])
                u += 0.5;
        }
    }
    return u;
}

/* Two-sided permutation p-value: the share of all splits of the pooled
 * values whose U is at least as far from the mean as the observed one. */
static double permutation_p(const double *a, int n_a, const double *b, int n_b)
{
    int n = n_a + n_b;
    double pooled[32], x[32], y[32];
    for (int i = 0; i < n_a; i++)
        pooled[i] = a[i];
    for (int j = 0; j < n_b; j++)
        pooled[n_a + j] = b[j];
    double mean = 0.5 * n_a * n_b;
    double observed = fabs(u_statistic(a, n_a, b, n_b) - mean);
    double extreme = 0.0, total = 0.0;
    for (unsigned mask = 0; mask < (1u << n); mask++) {
        if (__builtin_popcount(mask) != n_a)
            continue;
        int nx = 0, ny = 0;
        for (int i = 0; i < n; i++) {
            if (mask & (1u << i))
                x[nx++] = pooled[i];
            else
                y[ny++] = pooled[i];
        }
        total += 1.0;
        if (fabs(u_statistic(x, nx, y, ny) - mean) >= observed - 1e-9)
            extreme += 1.0;
    }
    return fmin(1.0, extreme / total);
}

static void test_exact_against_enumeration(void)
{
    srand(12345);
    for (int trial = 0; trial < 60; trial++) {
        int n_a = 2 + trial % 6, n_b = 2 + (trial / 6) % 6;
        double a[8], b[8];
        /* Distinct values, b shifted by a trial-dependent amount. */
        for (int i = 0; i < n_a; i++)
            a[i] = (double)rand() / RAND_MAX + 1e-9 * i;
        for (int j = 0; j < n_b; j++)
            b[j] = (double)rand() / RAND_MAX + 0.1 * (trial % 5) + 1e-9 * (j + 10);
        atb_utest u;
        if (atb_mann_whitney(a, (size_t)n_a, b, (size_t)n_b, &u) != 0) {
            printf("FAILED: atb_mann_whitney rejected sizes %d and %d\n", n_a, n_b);
            n_failed++;
            continue;
        }
        char label[128];
        snprintf(label, sizeof(label), "exact p-value, sizes %d and %d (trial %d)", n_a, n_b, trial);
        CHECK_CLOSE(u.p_value, permutation_p(a, n_a, b, n_b), 1e-12, label);
        if (!u.exact) {
            printf("FAILED: %s used the normal approximation\n", label);
            n_failed++;
        }
    }
}

static void test_separated_samples(void)
{
    const double a[] = {1, 2, 3, 4, 5}, b[] = {6, 7, 8, 9, 10};
    atb_utest u;
    atb_mann_whitney(a, 5, b, 5, &u);
    CHECK_CLOSE(u.u, 0.0, 0.0, "U of fully separated samples");
    CHECK_CLOSE(u.p_value, 2.0 / 252.0, 1e-15, "p of fully separated 5+5 samples");
    CHECK_CLOSE(u.min_p, 2.0 / 252.0, 1e-12, "smallest p for 5+5");

    const double c[] = {1, 2, 3}, d[] = {4, 5, 6};
    atb_mann_whitney(c, 3, d, 3, &u);
    CHECK_CLOSE(u.min_p, 0.1, 1e-12, "smallest p for 3+3 (cannot reach 0.05)");
}

static void test_ties_use_approximation(void)
{
    /* Timer resolution makes ties: the normal approximation must stay close
     * to the permutation p-value. */
    const double a[] = {10, 11, 11, 12, 12, 13, 14, 14};
    const double b[] = {12, 13, 13, 14, 15, 15, 16, 17};
    atb_utest u;
    atb_mann_whitney(a, 8, b, 8, &u);
    if (u.exact) {
        printf("FAILED: tied samples used the exact distribution\n");
        n_failed++;
    }
    CHECK_CLOSE(u.p_value, permutation_p(a, 8, b, 8), 0.01, "tied 8+8 samples against permutation");

    const double same[] = {5, 5, 5};
    atb_mann_whitney(same, 3, same, 3, &u);
    CHECK_CLOSE(u.p_value, 1.0, 0.0, "all values equal");
}

static void test_too_small(void)
{
    const double a[] = {1}, b[] = {2, 3};
    atb_utest u;
    if (atb_mann_whitney(a, 1, b, 2, &u) != -1) {
        printf("FAILED: a sample of one value was accepted\n");
        n_failed++;
    }
}

static void test_median(void)
{
    const double odd[] = {3, 1, 2}, even[] = {4, 1, 3, 2};
    CHECK_CLOSE(atb_median(odd, 3), 2.0, 0.0, "median of 3 values");
    CHECK_CLOSE(atb_median(even, 4), 2.5, 0.0, "median of 4 values");
    if (!isnan(atb_median(odd, 0))) {
        printf("FAILED: median of no values is not NAN\n");
        n_failed++;
    }
    const double spread[] = {9, 10, 11};
    CHECK_CLOSE(atb_stddev(spread, 3) / atb_mean(spread, 3), 0.1, 1e-15, "coefficient of variation");
}

int main(void)
{
    test_exact_against_enumeration();
    test_separated_samples();
    test_ties_use_approximation();
    test_too_small();
    test_median();
    if (n_failed) {
        printf("%d checks failed\n", n_failed);
        return 1;
    }
    printf("ok: stats\n");
    return 0;
}
