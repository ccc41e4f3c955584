/* logfmt logging to stderr, one write(2) per line so lines from threads never interleave. */
#include "base/base.h"

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static _Atomic int log_level = ODIN_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

int odin_log_set_level(const char *name)
{
    for (int i = 0; i < (int)ODIN_ARRAY_LEN(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            atomic_store(&log_level, i);
            return 0;
        }
    }
    return -ODIN_ERR_INVALID;
}

bool odin_log_enabled(odin_log_level level)
{
    return (int)level >= atomic_load(&log_level);
}

static bool needs_quotes(const char *v)
{
    if (*v == '\0') {
        return true;
    }
    for (const char *c = v; *c; c++) {
        if (*c <= ' ' || *c == '=' || *c == '"' || *c == '\\' || *c == 0x7f) {
            return true;
        }
    }
    return false;
}

void odin_logfmt_pair(odin_strbuf *b, const char *key, const char *value)
{
    if (!value) {
        value = "";
    }
    odin_strbuf_puts(b, key);
    odin_strbuf_putc(b, '=');
    if (!needs_quotes(value)) {
        odin_strbuf_puts(b, value);
        return;
    }
    odin_strbuf_putc(b, '"');
    for (const char *c = value; *c; c++) {
        if (*c == '"' || *c == '\\') {
            odin_strbuf_putc(b, '\\');
            odin_strbuf_putc(b, *c);
        } else if (*c == '\n') {
            odin_strbuf_puts(b, "\\n");
        } else {
            odin_strbuf_putc(b, *c);
        }
    }
    odin_strbuf_putc(b, '"');
}

void odin_log(odin_log_level level, const char *component, const char *msg, ...)
{
    if (!odin_log_enabled(level)) {
        return;
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 64 * 1024);
    char ts[32];
    odin_format_rfc3339(odin_now_ms(), ts);
    odin_logfmt_pair(&b, "ts", ts);
    odin_strbuf_putc(&b, ' ');
    odin_logfmt_pair(&b, "level", level_names[level]);
    odin_strbuf_putc(&b, ' ');
    odin_logfmt_pair(&b, "component", component);
    odin_strbuf_putc(&b, ' ');
    odin_logfmt_pair(&b, "msg", msg);
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k) {
            break;
        }
        const char *v = va_arg(ap, const char *);
        odin_strbuf_putc(&b, ' ');
        odin_logfmt_pair(&b, k, v);
    }
    va_end(ap);
    odin_strbuf_putc(&b, '\n');
    if (b.p && write(2, b.p, b.len) < 0) {
        /* stderr is gone: nowhere left to report it */
    }
    odin_strbuf_fini(&b);
}
