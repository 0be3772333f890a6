/*
 * Shared between report.c (document, tables) and report_plots.c (which
 * plots to draw from the results): the document being written, in
 * Markdown and HTML side by side.
 */
#ifndef ATB_REPORTS_REPORT_INTERNAL_H
#define ATB_REPORTS_REPORT_INTERNAL_H

#include "reports/plot.h"
#include "reports/report.h"
#include "reports/strbuf.h"

typedef struct {
    atb_strbuf md;
    atb_strbuf html;
    const char *out_dir;
    char tmp_dir[4096];
    int n_plots;
    atb_status status;  /* first failure; later steps are skipped */
    char *err;
    size_t err_len;
} atb_report_doc;

void atb_doc_heading(atb_report_doc *doc, int level, const char *text);
void atb_doc_paragraph(atb_report_doc *doc, const char *text);

/* Render plot p to out_dir/<stem>.svg and add it with its caption. Plots
 * without points are left out. */
void atb_doc_plot(atb_report_doc *doc, atb_plot *p, const char *stem, const char *caption);

/* Add every plot drawn from the bench and check files. */
void atb_report_add_plots(atb_report_doc *doc, const atb_report_input *in);

#endif /* ATB_REPORTS_REPORT_INTERNAL_H */
