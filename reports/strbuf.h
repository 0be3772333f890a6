/*
 * A growable NUL-terminated text buffer for building Markdown, HTML and
 * gnuplot scripts. An allocation failure sets a sticky flag that callers
 * check once at the end, so that formatting code stays linear.
 */
#ifndef ATB_REPORTS_STRBUF_H
#define ATB_REPORTS_STRBUF_H

#include <stddef.h>

typedef struct {
    char *data;      /* always NUL-terminated once anything was appended */
    size_t len;
    size_t cap;
    int failed;      /* nonzero after an allocation failure */
} atb_strbuf;

void atb_strbuf_init(atb_strbuf *b);
void atb_strbuf_free(atb_strbuf *b);
void atb_strbuf_append(atb_strbuf *b, const char *text);
void atb_strbuf_append_n(atb_strbuf *b, const char *text, size_t n);
void atb_strbuf_printf(atb_strbuf *b, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Append text with &, <, > and " replaced by HTML entities. */
void atb_strbuf_append_html(atb_strbuf *b, const char *text);
/* Append text with | and newlines escaped for a Markdown table cell. */
void atb_strbuf_append_md_cell(atb_strbuf *b, const char *text);
/* Return the text ("" when empty); the buffer keeps ownership. */
const char *atb_strbuf_text(const atb_strbuf *b);

#endif /* ATB_REPORTS_STRBUF_H */
