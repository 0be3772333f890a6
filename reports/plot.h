/*
 * Line and scatter plots drawn by gnuplot (5.x, svg terminal) run as a
 * child process. Each plot is one script in a temporary directory with its
 * data inline as datablocks; the SVG goes to the requested path.
 * The program is "gnuplot" on PATH unless ATTNBENCH_GNUPLOT names another.
 */
#ifndef ATB_REPORTS_PLOT_H
#define ATB_REPORTS_PLOT_H

#include <stddef.h>

#include "attnbench/impl.h"

typedef struct {
    char *title;        /* legend entry */
    double *x;
    double *y;
    char **point_labels; /* optional text beside each point, or NULL */
    size_t n;
    size_t cap;
    int color;          /* index into the palette */
    int dash;           /* 0 solid; other values give dash patterns (one per machine) */
} atb_plot_series;

#define ATB_PLOT_MAX_HLINES 4

typedef struct {
    char *title;
    const char *xlabel;
    const char *ylabel;
    int log2_x;         /* log2 x axis (sequence lengths, thread and head counts) */
    int log10_x;
    int log10_y;
    int points_only;    /* scatter: points without connecting lines */
    double hline_y[ATB_PLOT_MAX_HLINES];
    char *hline_title[ATB_PLOT_MAX_HLINES];
    int hline_dash[ATB_PLOT_MAX_HLINES];
    size_t n_hlines;
    atb_plot_series *series;
    size_t n_series;
} atb_plot;

/* Append a new empty series and return it, or NULL without memory. */
atb_plot_series *atb_plot_add_series(atb_plot *p, const char *title, int color, int dash);
/* Append a point; returns 0, or -1 without memory. label may be NULL. */
int atb_plot_series_add(atb_plot_series *s, double x, double y, const char *label);
int atb_plot_add_hline(atb_plot *p, double y, const char *title, int dash);
/* Number of points over all series. */
size_t atb_plot_n_points(const atb_plot *p);
void atb_plot_free(atb_plot *p);

/* Palette colour for an implementation name: fixed for the built-in
 * implementations so every plot draws one implementation in one colour. */
int atb_plot_impl_color(const char *impl);

/*
 * Render p to svg_path with gnuplot, using tmp_dir for the script and
 * gnuplot's stderr. Returns ATB_ERR_LIBRARY when gnuplot fails or cannot
 * run, with its stderr in err; ATB_ERR_IO when the script cannot be written.
 */
atb_status atb_plot_render(const atb_plot *p, const char *svg_path, const char *tmp_dir,
                           char *err, size_t err_len);

#endif /* ATB_REPORTS_PLOT_H */
