/* Errors and the allocator wrappers: the first failure's message wins, allocation failure aborts
 * with a log line. */
#include "base/base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void odin_err_clear(odin_err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

static void err_vset(odin_err *err, int code, const char *fmt, va_list ap)
{
    err->code = code;
    int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    if (n < 0) {
        err->msg[0] = '\0';
    }
}

int odin_err_set(odin_err *err, int code, const char *fmt, ...)
{
    if (code < 0) {
        code = -code;
    }
    if (err && err->code == 0) {
        va_list ap;
        va_start(ap, fmt);
        err_vset(err, code, fmt, ap);
        va_end(ap);
    }
    return -code;
}

void odin_err_prefix(odin_err *err, const char *fmt, ...)
{
    if (!err || err->code == 0) {
        return;
    }
    char pre[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(pre, sizeof(pre), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    char joined[sizeof(err->msg)];
    int m = snprintf(joined, sizeof(joined), "%s%s", pre, err->msg);
    if (m >= 0) {
        memcpy(err->msg, joined, sizeof(joined));
    }
}

int odin_err_errno(odin_err *err, int errnum, const char *fmt, ...)
{
    if (err && err->code == 0) {
        char what[200];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        if (n < 0) {
            what[0] = '\0';
        }
        char ebuf[96];
        const char *etext = strerror_r(errnum, ebuf, sizeof(ebuf));
        err->code = ODIN_ERR_IO;
        int m = snprintf(err->msg, sizeof(err->msg), "%s: %s", what, etext);
        if (m < 0) {
            err->msg[0] = '\0';
        }
    }
    return -ODIN_ERR_IO;
}

const char *odin_code_name(int code)
{
    static const char *const names[] = {
        "ok", "parse", "invalid", "limit", "not found", "conflict", "io",
        "corrupt", "timeout", "canceled", "unavailable", "internal",
    };
    if (code < 0) {
        code = -code;
    }
    if ((size_t)code < ODIN_ARRAY_LEN(names)) {
        return names[code];
    }
    return "unknown";
}

void odin_oom(void)
{
    static const char line[] = "level=error component=base msg=\"out of memory\"\n";
    if (write(2, line, sizeof(line) - 1) < 0) {
        /* nothing left to do */
    }
    abort();
}

void odin_assert_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "level=error component=base msg=\"assertion failed\" file=%s line=%d expr=\"%s\"\n",
            file, line, expr);
    abort();
}

void *odin_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        odin_oom();
    }
    return p;
}

void *odin_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) {
        odin_oom();
    }
    return p;
}

void *odin_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        odin_oom();
    }
    return q;
}

char *odin_strdup(const char *s)
{
    return odin_strndup(s, strlen(s));
}

char *odin_strndup(const char *s, size_t n)
{
    char *p = odin_malloc(n + 1);
    if (n) {
        memcpy(p, s, n);
    }
    p[n] = '\0';
    return p;
}
