/*
 * gnuplot runner: see plot.h. gnuplot is started with fork, execlp and
 * waitpid. Its stdout is discarded, and its stderr goes to a file in the
 * temporary directory so that a failure can quote it.
 */
#define _POSIX_C_SOURCE 200809L

#include "reports/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reports/strbuf.h"

/* Colour-blind-safe palette (Okabe and Ito) followed by darker extras. */
static const char *const palette[] = {
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9",
    "#000000", "#F0E442", "#7F3C8D", "#11A579", "#3969AC", "#E73F74",
};
#define N_PALETTE (sizeof(palette) / sizeof(palette[0]))

static const char *const known_impls[] = {"naive", "blocked", "simd-avx2", "simd-avx512",
                                          "blas", "onednn"};

int atb_plot_impl_color(const char *impl)
{
    for (size_t i = 0; i < sizeof(known_impls) / sizeof(known_impls[0]); i++)
        if (strcmp(impl, known_impls[i]) == 0)
            return (int)i;
    unsigned hash = 5381;
    for (const char *c = impl; *c; c++)
        hash = hash * 33u + (unsigned char)*c;
    return 6 + (int)(hash % (N_PALETTE - 6));
}

atb_plot_series *atb_plot_add_series(atb_plot *p, const char *title, int color, int dash)
{
    atb_plot_series *grown = realloc(p->series, (p->n_series + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    p->series = grown;
    atb_plot_series *s = &p->series[p->n_series];
    memset(s, 0, sizeof(*s));
    s->title = strdup(title);
    if (!s->title)
        return NULL;
    s->color = color;
    s->dash = dash;
    p->n_series++;
    return s;
}

int atb_plot_series_add(atb_plot_series *s, double x, double y, const char *label)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        double *x_grown = realloc(s->x, cap * sizeof(double));
        if (!x_grown)
            return -1;
        s->x = x_grown;
        double *y_grown = realloc(s->y, cap * sizeof(double));
        if (!y_grown)
            return -1;
        s->y = y_grown;
        char **labels_grown = realloc(s->point_labels, cap * sizeof(char *));
        if (!labels_grown)
            return -1;
        s->point_labels = labels_grown;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->point_labels[s->n] = label ? strdup(label) : NULL;
    s->n++;
    return 0;
}

int atb_plot_add_hline(atb_plot *p, double y, const char *title, int dash)
{
    if (p->n_hlines == ATB_PLOT_MAX_HLINES || isnan(y))
        return -1;
    p->hline_title[p->n_hlines] = strdup(title);
    if (!p->hline_title[p->n_hlines])
        return -1;
    p->hline_y[p->n_hlines] = y;
    p->hline_dash[p->n_hlines] = dash;
    p->n_hlines++;
    return 0;
}

size_t atb_plot_n_points(const atb_plot *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_series; i++)
        n += p->series[i].n;
    return n;
}

void atb_plot_free(atb_plot *p)
{
    for (size_t i = 0; i < p->n_series; i++) {
        atb_plot_series *s = &p->series[i];
        for (size_t j = 0; j < s->n; j++)
            free(s->point_labels[j]);
        free(s->point_labels);
        free(s->x);
        free(s->y);
        free(s->title);
    }
    free(p->series);
    for (size_t i = 0; i < p->n_hlines; i++)
        free(p->hline_title[i]);
    free(p->title);
    memset(p, 0, sizeof(*p));
}

/* Append text as a gnuplot single-quoted string (quotes are doubled). */
static void append_quoted(atb_strbuf *b, const char *text)
{
    atb_strbuf_append(b, "'");
    for (const char *c = text; *c; c++) {
        if (*c == '\'')
            atb_strbuf_append(b, "''");
        else if (*c != '\n')
            atb_strbuf_append_n(b, c, 1);
    }
    atb_strbuf_append(b, "'");
}

/* Append text as a double-quoted datablock field (labels column). */
static void append_data_label(atb_strbuf *b, const char *text)
{
    atb_strbuf_append(b, "\"");
    for (const char *c = text; *c; c++)
        if (*c != '"' && *c != '\n')
            atb_strbuf_append_n(b, c, 1);
    atb_strbuf_append(b, "\"");
}

static void build_script(const atb_plot *p, const char *svg_path, atb_strbuf *s)
{
    /* Long legend entries (machine names) would squeeze the plot area, so
     * they go below the plot, one per line, and the image grows to fit. */
    size_t longest_title = 0;
    for (size_t i = 0; i < p->n_series; i++)
        if (strlen(p->series[i].title) > longest_title)
            longest_title = strlen(p->series[i].title);
    for (size_t i = 0; i < p->n_hlines; i++)
        if (strlen(p->hline_title[i]) > longest_title)
            longest_title = strlen(p->hline_title[i]);
    int key_below = longest_title > 28;
    size_t height = 460 + (key_below ? 18 * (p->n_series + p->n_hlines) : 0);
    atb_strbuf_printf(s, "set terminal svg size 800,%zu dynamic noenhanced "
                         "font 'Helvetica,12' background rgb 'white'\n", height);
    atb_strbuf_append(s, "set output ");
    append_quoted(s, svg_path);
    atb_strbuf_append(s, "\nset encoding utf8\nset title ");
    append_quoted(s, p->title ? p->title : "");
    atb_strbuf_append(s, "\nset xlabel ");
    append_quoted(s, p->xlabel ? p->xlabel : "");
    atb_strbuf_append(s, "\nset ylabel ");
    append_quoted(s, p->ylabel ? p->ylabel : "");
    atb_strbuf_append(s, "\nset grid\n");
    if (key_below)
        atb_strbuf_append(s, "set key below left vertical Left reverse maxcols 1 samplen 3\n");
    else
        atb_strbuf_append(s, "set key outside right top vertical Left reverse samplen 3 "
                             "spacing 1.1\n");
    if (p->log2_x)
        atb_strbuf_append(s, "set logscale x 2\nset format x '%.0f'\n");
    if (p->log10_x)
        atb_strbuf_append(s, "set logscale x 10\n");
    if (p->log10_y)
        atb_strbuf_append(s, "set logscale y 10\nset format y '%.0e'\n");
    else
        atb_strbuf_append(s, "set yrange [0:*]\n");
    atb_strbuf_append(s, "set offsets graph 0.04, graph 0.04, graph 0.05, 0\n");

    /* With every point at one x, gnuplot widens the axis but samples the
       reference lines only around that x, so they show as a tick. An
       explicit range around the point draws them across the plot. */
    double x_min = INFINITY, x_max = -INFINITY;
    for (size_t i = 0; i < p->n_series; i++)
        for (size_t j = 0; j < p->series[i].n; j++) {
            const double x = p->series[i].x[j];
            if (isfinite(x) && isfinite(p->series[i].y[j])) {
                x_min = x < x_min ? x : x_min;
                x_max = x > x_max ? x : x_max;
            }
        }
    if (p->n_hlines > 0 && x_min == x_max) {
        if ((p->log2_x || p->log10_x) && x_min > 0.0)
            atb_strbuf_printf(s, "set xrange [%.9g:%.9g]\n", x_min / 2.0, x_min * 2.0);
        else
            atb_strbuf_printf(s, "set xrange [%.9g:%.9g]\n", x_min - 1.0, x_min + 1.0);
    }

    /* One datablock per series; NAN points are left out. */
    for (size_t i = 0; i < p->n_series; i++) {
        const atb_plot_series *ser = &p->series[i];
        atb_strbuf_printf(s, "$s%zu << EOD\n", i);
        for (size_t j = 0; j < ser->n; j++) {
            if (isnan(ser->x[j]) || isnan(ser->y[j]) || isinf(ser->y[j]))
                continue;
            atb_strbuf_printf(s, "%.9g %.9g ", ser->x[j], ser->y[j]);
            append_data_label(s, ser->point_labels[j] ? ser->point_labels[j] : "");
            atb_strbuf_append(s, "\n");
        }
        atb_strbuf_append(s, "EOD\n");
    }

    atb_strbuf_append(s, "plot ");
    int first = 1;
    for (size_t i = 0; i < p->n_series; i++) {
        const atb_plot_series *ser = &p->series[i];
        const char *color = palette[(size_t)ser->color % N_PALETTE];
        atb_strbuf_printf(s, "%s$s%zu using 1:2 with %s lw 2 pt %d ps 0.8 lc rgb '%s' dt %d title ",
                          first ? "" : ", \\\n     ", i,
                          p->points_only ? "points" : "linespoints", 7 + 2 * (ser->dash % 4),
                          color, 1 + ser->dash % 5);
        append_quoted(s, ser->title);
        first = 0;
        int labelled = 0;
        for (size_t j = 0; j < ser->n; j++)
            labelled |= ser->point_labels[j] != NULL;
        if (labelled)
            atb_strbuf_printf(s, ", \\\n     $s%zu using 1:2:3 with labels offset char 1,0.7 "
                                 "left font ',10' tc rgb '%s' notitle", i, color);
    }
    for (size_t i = 0; i < p->n_hlines; i++) {
        atb_strbuf_printf(s, "%s%.9g with lines lw 1.5 lc rgb '#444444' dt %d title ",
                          first ? "" : ", \\\n     ", p->hline_y[i], 2 + p->hline_dash[i] % 4);
        append_quoted(s, p->hline_title[i]);
        first = 0;
    }
    if (first)
        atb_strbuf_append(s, "NaN notitle");
    atb_strbuf_append(s, "\nunset output\n");
}

static void read_error_file(const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    size_t got = 0;
    if (f) {
        got = fread(err, 1, err_len - 1, f);
        fclose(f);
    }
    err[got] = '\0';
    while (got > 0 && (err[got - 1] == '\n' || err[got - 1] == ' '))
        err[--got] = '\0';
}

atb_status atb_plot_render(const atb_plot *p, const char *svg_path, const char *tmp_dir,
                           char *err, size_t err_len)
{
    char script_path[4096], stderr_path[4096];
    snprintf(script_path, sizeof(script_path), "%s/plot.gp", tmp_dir);
    snprintf(stderr_path, sizeof(stderr_path), "%s/gnuplot.stderr", tmp_dir);

    atb_strbuf script;
    atb_strbuf_init(&script);
    build_script(p, svg_path, &script);
    if (script.failed) {
        atb_strbuf_free(&script);
        snprintf(err, err_len, "out of memory while writing the gnuplot script");
        return ATB_ERR_NOMEM;
    }
    FILE *f = fopen(script_path, "w");
    if (!f) {
        snprintf(err, err_len, "cannot write '%s': %s", script_path, strerror(errno));
        atb_strbuf_free(&script);
        return ATB_ERR_IO;
    }
    fputs(atb_strbuf_text(&script), f);
    atb_strbuf_free(&script);
    if (fclose(f) != 0) {
        snprintf(err, err_len, "cannot write '%s': %s", script_path, strerror(errno));
        return ATB_ERR_IO;
    }

    const char *program = getenv("ATTNBENCH_GNUPLOT");
    if (!program || !*program)
        program = "gnuplot";
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, err_len, "cannot start %s: %s", program, strerror(errno));
        return ATB_ERR_LIBRARY;
    }
    if (pid == 0) {
        int err_fd = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null_fd = open("/dev/null", O_WRONLY);
        if (err_fd >= 0)
            dup2(err_fd, 2);
        if (null_fd >= 0)
            dup2(null_fd, 1);
        execlp(program, program, script_path, (char *)NULL);
        fprintf(stderr, "cannot run '%s': %s\n", program, strerror(errno));
        _exit(127);
    }
    int wstatus = 0;
    while (waitpid(pid, &wstatus, 0) < 0) {
        if (errno != EINTR) {
            snprintf(err, err_len, "waiting for %s failed: %s", program, strerror(errno));
            return ATB_ERR_LIBRARY;
        }
    }
    int ok = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
    if (ok) {
        FILE *svg = fopen(svg_path, "r");
        long size = -1;
        if (svg) {
            fseek(svg, 0, SEEK_END);
            size = ftell(svg);
            fclose(svg);
        }
        if (size > 0)
            return ATB_OK;
    }
    char gnuplot_stderr[2048];
    read_error_file(stderr_path, gnuplot_stderr, sizeof(gnuplot_stderr));
    if (WIFEXITED(wstatus))
        snprintf(err, err_len, "%s exited with status %d%s: %s", program, WEXITSTATUS(wstatus),
                 ok ? " but wrote no SVG" : "", gnuplot_stderr[0] ? gnuplot_stderr : "(no stderr)");
    else
        snprintf(err, err_len, "%s was killed by signal %d: %s", program,
                 WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0,
                 gnuplot_stderr[0] ? gnuplot_stderr : "(no stderr)");
    return ATB_ERR_LIBRARY;
}
