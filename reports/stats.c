/*
 * Median, spread and the Mann-Whitney U test: see stats.h.
 */
#include "reports/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double atb_median(const double *x, size_t n)
{
    if (n == 0)
        return NAN;
    double *sorted = malloc(n * sizeof(double));
    if (!sorted)
        return NAN;
    memcpy(sorted, x, n * sizeof(double));
    qsort(sorted, n, sizeof(double), compare_doubles);
    double m = (n % 2) ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    free(sorted);
    return m;
}

double atb_mean(const double *x, size_t n)
{
    if (n == 0)
        return NAN;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    return sum / (double)n;
}

double atb_stddev(const double *x, size_t n)
{
    if (n < 2)
        return NAN;
    double mean = atb_mean(x, n), sum_sq = 0.0;
    for (size_t i = 0; i < n; i++)
        sum_sq += (x[i] - mean) * (x[i] - mean);
    return sqrt(sum_sq / (double)(n - 1));
}

/*
 * Count the orderings of m values of sample a and n of sample b that give
 * each U in 0..m*n, into counts[u]. The recurrence is over the largest
 * value. If it belongs to a, it beats all n values of b, so U grows by n.
 * If it belongs to b, U is unchanged. Returns 0, or -1 without memory.
 */
static int u_distribution(size_t m, size_t n, double *counts)
{
    size_t width = m * n + 1;
    /* table[i][j][u] for i <= m, j <= n; built row by row in i. */
    double *prev = calloc((n + 1) * width, sizeof(double));
    double *cur = calloc((n + 1) * width, sizeof(double));
    if (!prev || !cur) {
        free(prev);
        free(cur);
        return -1;
    }
    for (size_t j = 0; j <= n; j++)
        prev[j * width] = 1.0; /* i = 0: one ordering, U = 0 */
    for (size_t i = 1; i <= m; i++) {
        memset(cur, 0, (n + 1) * width * sizeof(double));
        cur[0] = 1.0; /* j = 0 */
        for (size_t j = 1; j <= n; j++) {
            double *out = cur + j * width;
            const double *a_last = prev + j * width;     /* (i-1, j), shift by j */
            const double *b_last = cur + (j - 1) * width; /* (i, j-1) */
            for (size_t u = 0; u <= i * j; u++) {
                double c = b_last[u];
                if (u >= j)
                    c += a_last[u - j];
                out[u] = c;
            }
        }
        double *swap = prev;
        prev = cur;
        cur = swap;
    }
    memcpy(counts, prev + n * width, width * sizeof(double));
    free(prev);
    free(cur);
    return 0;
}

/* log of the binomial coefficient C(n, k). */
static double log_binomial(size_t n, size_t k)
{
    return lgamma((double)n + 1.0) - lgamma((double)k + 1.0) - lgamma((double)(n - k) + 1.0);
}

int atb_mann_whitney(const double *a, size_t n_a, const double *b, size_t n_b, atb_utest *out)
{
    if (n_a < 2 || n_b < 2)
        return -1;

    /* U statistic of a, and whether any values tie across or within samples. */
    double u = 0.0;
    for (size_t i = 0; i < n_a; i++)
        for (size_t j = 0; j < n_b; j++)
            u += (a[i] > b[j]) ? 1.0 : (a[i] == b[j]) ? 0.5 : 0.0;

    size_t n = n_a + n_b;
    double *all = malloc(n * sizeof(double));
    if (!all)
        return -1;
    memcpy(all, a, n_a * sizeof(double));
    memcpy(all + n_a, b, n_b * sizeof(double));
    qsort(all, n, sizeof(double), compare_doubles);
    double tie_term = 0.0; /* sum of t^3 - t over groups of t equal values */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && all[j] == all[i])
            j++;
        double t = (double)(j - i);
        tie_term += t * t * t - t;
        i = j;
    }
    free(all);

    out->u = u;
    /* Each of the two extreme orderings (U = 0 and U = n_a n_b) is 1 of
     * C(n, n_a) equally likely splits. */
    out->min_p = fmin(1.0, 2.0 * exp(-log_binomial(n, n_a)));

    if (tie_term == 0.0 && n_a <= ATB_UTEST_EXACT_MAX && n_b <= ATB_UTEST_EXACT_MAX) {
        size_t width = n_a * n_b + 1;
        double *counts = malloc(width * sizeof(double));
        if (!counts || u_distribution(n_a, n_b, counts) != 0) {
            free(counts);
            return -1;
        }
        double total = 0.0, below = 0.0, above = 0.0;
        for (size_t k = 0; k < width; k++) {
            total += counts[k];
            if ((double)k <= u)
                below += counts[k];
            if ((double)k >= u)
                above += counts[k];
        }
        free(counts);
        out->p_value = fmin(1.0, 2.0 * fmin(below, above) / total);
        out->exact = 1;
        return 0;
    }

    double mean_u = 0.5 * (double)n_a * (double)n_b;
    double var_u = (double)n_a * (double)n_b / 12.0
                   * (((double)n + 1.0) - tie_term / ((double)n * ((double)n - 1.0)));
    out->exact = 0;
    if (var_u <= 0.0) {
        out->p_value = 1.0; /* every value equal */
        return 0;
    }
    double z = (fabs(u - mean_u) - 0.5) / sqrt(var_u);
    if (z < 0.0)
        z = 0.0;
    out->p_value = fmin(1.0, erfc(z / sqrt(2.0)));
    return 0;
}
