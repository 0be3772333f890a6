/*
 * `attnbench report`: Markdown and self-contained HTML reports, with SVG
 * plots drawn by gnuplot, from Google Benchmark JSON files written by
 * `attnbench bench` and optional `attnbench check --json` files.
 */
#ifndef ATB_REPORTS_REPORT_H
#define ATB_REPORTS_REPORT_H

#include <stddef.h>

#include "attnbench/impl.h"
#include "reports/results.h"

typedef struct {
    atb_bench_file **bench;  /* one or more; several give side-by-side tables */
    size_t n_bench;
    atb_check_file **check;  /* zero or more */
    size_t n_check;
    const char *out_dir;     /* created when missing */
} atb_report_input;

/*
 * Write out_dir/report.md, out_dir/report.html and the SVG plots, with
 * progress on stderr. Returns ATB_ERR_LIBRARY when gnuplot fails (its
 * stderr in err), ATB_ERR_IO when a file cannot be written.
 */
atb_status atb_report_write(const atb_report_input *in, char *err, size_t err_len);

#endif /* ATB_REPORTS_REPORT_H */
