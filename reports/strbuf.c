/*
 * Growable text buffer: see strbuf.h.
 */
#include "reports/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void atb_strbuf_init(atb_strbuf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = 0;
}

void atb_strbuf_free(atb_strbuf *b)
{
    free(b->data);
    atb_strbuf_init(b);
}

static int reserve(atb_strbuf *b, size_t extra)
{
    if (b->failed)
        return 0;
    if (b->len + extra + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown) {
        b->failed = 1;
        return 0;
    }
    b->data = grown;
    b->cap = cap;
    return 1;
}

void atb_strbuf_append_n(atb_strbuf *b, const char *text, size_t n)
{
    if (!reserve(b, n))
        return;
    memcpy(b->data + b->len, text, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void atb_strbuf_append(atb_strbuf *b, const char *text)
{
    atb_strbuf_append_n(b, text, strlen(text));
}

void atb_strbuf_printf(atb_strbuf *b, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    va_list copy;
    va_copy(copy, args);
    int n = vsnprintf(NULL, 0, format, copy);
    va_end(copy);
    if (n < 0 || !reserve(b, (size_t)n)) {
        if (n < 0)
            b->failed = 1;
        va_end(args);
        return;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, format, args);
    b->len += (size_t)n;
    va_end(args);
}

void atb_strbuf_append_html(atb_strbuf *b, const char *text)
{
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '&': atb_strbuf_append(b, "&amp;"); break;
        case '<': atb_strbuf_append(b, "&lt;"); break;
        case '>': atb_strbuf_append(b, "&gt;"); break;
        case '"': atb_strbuf_append(b, "&quot;"); break;
        default: atb_strbuf_append_n(b, p, 1); break;
        }
    }
}

void atb_strbuf_append_md_cell(atb_strbuf *b, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            atb_strbuf_append(b, "\\|");
        else if (*p == '\n' || *p == '\r')
            atb_strbuf_append(b, " ");
        else
            atb_strbuf_append_n(b, p, 1);
    }
}

const char *atb_strbuf_text(const atb_strbuf *b)
{
    return b->data ? b->data : "";
}
