/* A small JSON reader for file_sd target files: exactly the shape Prometheus reads (a list of
 * {"targets": [strings], "labels": {string: string}}), unknown keys skipped. Every read is bounded
 * by the end of the buffer and nesting is capped, so hostile files become errors. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "discovery/k8s_json.h"
#include "discovery/provider.h"

typedef struct {
    const char *buf;
    const char *p;
    const char *end;
    const char *path;
    odin_err *err;
    odin_strbuf s; /* the last string read, unescaped */
} jcur;

static int jfail(jcur *c, const char *reason)
{
    size_t line = 1, col = 1;
    for (const char *q = c->buf; q < c->p && q < c->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return odin_err_set(c->err, ODIN_ERR_PARSE, "%s:%zu:%zu: %s", c->path, line, col, reason);
}

static void jws(jcur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) {
        c->p++;
    }
}

/* Skips whitespace and consumes ch if it is next. */
static bool jeat(jcur *c, char ch)
{
    jws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* \uXXXX, with a following low surrogate joined; lone surrogates become U+FFFD as in Go. */
static int junicode(jcur *c)
{
    uint32_t cp;
    if (!k8s_json_unicode_escape(&c->p, c->end, &cp)) {
        return jfail(c, "invalid \\u escape");
    }
    char o[4];
    odin_strbuf_put(&c->s, o, odin_utf8_encode(cp, o));
    return 0;
}

static int jstring(jcur *c)
{
    odin_strbuf_reset(&c->s);
    if (!jeat(c, '"')) {
        return jfail(c, "expected a string");
    }
    while (c->p < c->end) {
        char ch = *c->p++;
        if (ch == '"') {
            return odin_strbuf_ok(&c->s) ? 0 : jfail(c, "string too long");
        }
        if ((unsigned char)ch < 0x20) {
            return jfail(c, "control character in string");
        }
        if (ch != '\\') {
            odin_strbuf_putc(&c->s, ch);
            continue;
        }
        if (c->p >= c->end) {
            break;
        }
        char e = *c->p++;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e != '\0' && simple != NULL) {
            static const char repl[] = "\"\\/\b\f\n\r\t";
            odin_strbuf_putc(&c->s, repl[simple - "\"\\/bfnrt"]);
        } else if (e == 'u') {
            if (junicode(c) < 0) {
                return -ODIN_ERR_PARSE;
            }
        } else {
            c->p--;
            return jfail(c, "invalid escape in string");
        }
    }
    return jfail(c, "unterminated string");
}

static int jskip(jcur *c, int depth);

static int jskip_container(jcur *c, int depth, char close, bool object)
{
    if (depth >= DISCOVERY_JSON_MAX_DEPTH) {
        return jfail(c, "nesting too deep");
    }
    if (jeat(c, close)) {
        return 0;
    }
    for (;;) {
        if (object && (jstring(c) < 0 || (!jeat(c, ':') && jfail(c, "expected ':'") < 0))) {
            return -ODIN_ERR_PARSE;
        }
        if (jskip(c, depth + 1) < 0) {
            return -ODIN_ERR_PARSE;
        }
        if (jeat(c, close)) {
            return 0;
        }
        if (!jeat(c, ',')) {
            return jfail(c, "expected ',' or end of list");
        }
    }
}

static bool jword(jcur *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return true;
    }
    return false;
}

/* Skips one value of any type; numbers are checked only for their characters. */
static int jskip(jcur *c, int depth)
{
    jws(c);
    if (c->p >= c->end) {
        return jfail(c, "unexpected end of input");
    }
    char ch = *c->p;
    if (ch == '"') {
        return jstring(c);
    }
    if (ch == '[' || ch == '{') {
        c->p++;
        return jskip_container(c, depth, ch == '[' ? ']' : '}', ch == '{');
    }
    if (jword(c, "true") || jword(c, "false") || jword(c, "null")) {
        return 0;
    }
    const char *start = c->p;
    while (c->p < c->end && strchr("+-0123456789.eE", *c->p) != NULL && *c->p != '\0') {
        c->p++;
    }
    return c->p > start ? 0 : jfail(c, "unexpected character");
}

/* Array of strings, or null. */
static int jtargets(jcur *c, discovery_group *g)
{
    jws(c);
    if (jword(c, "null")) {
        return 0;
    }
    if (!jeat(c, '[')) {
        return jfail(c, "\"targets\" must be a list of strings");
    }
    if (jeat(c, ']')) {
        return 0;
    }
    for (;;) {
        if (jstring(c) < 0) {
            return -ODIN_ERR_PARSE;
        }
        g->targets = odin_realloc(g->targets, (g->ntargets + 1) * sizeof *g->targets);
        g->targets[g->ntargets++] = odin_strndup(c->s.p != NULL ? c->s.p : "", c->s.len);
        if (jeat(c, ']')) {
            return 0;
        }
        if (!jeat(c, ',')) {
            return jfail(c, "expected ',' or ']'");
        }
    }
}

static void group_set_label(discovery_group *g, odin_str name, const char *value, size_t vlen)
{
    for (size_t i = 0; i < g->nlabels; i++) {
        if (odin_str_eq(g->labels[i].name, name)) {
            free((void *)g->labels[i].value.p);
            g->labels[i].value = (odin_str){odin_strndup(value, vlen), vlen};
            return;
        }
    }
    g->labels = odin_realloc(g->labels, (g->nlabels + 1) * sizeof *g->labels);
    g->labels[g->nlabels].name = (odin_str){odin_strndup(name.p, name.len), name.len};
    g->labels[g->nlabels].value = (odin_str){odin_strndup(value, vlen), vlen};
    g->nlabels++;
}

/* Object of string to string, or null. Later duplicates win, as in Go's map decoding. */
static int jlabels(jcur *c, discovery_group *g)
{
    jws(c);
    if (jword(c, "null")) {
        return 0;
    }
    if (!jeat(c, '{')) {
        return jfail(c, "\"labels\" must be an object of strings");
    }
    if (jeat(c, '}')) {
        return 0;
    }
    for (;;) {
        if (jstring(c) < 0) {
            return -ODIN_ERR_PARSE;
        }
        char *name = odin_strndup(c->s.p != NULL ? c->s.p : "", c->s.len);
        odin_str ns = {name, c->s.len};
        if (!odin_label_name_valid(ns)) {
            free(name);
            return jfail(c, "invalid label name");
        }
        if (!jeat(c, ':') || jstring(c) < 0) {
            free(name);
            return jfail(c, "expected ':' and a string value");
        }
        group_set_label(g, ns, c->s.p != NULL ? c->s.p : "", c->s.len);
        free(name);
        if (jeat(c, '}')) {
            return 0;
        }
        if (!jeat(c, ',')) {
            return jfail(c, "expected ',' or '}'");
        }
    }
}

/* Keys match case-insensitively, as Go's encoding/json matches struct fields. */
static int jgroup(jcur *c, discovery_group *g)
{
    if (!jeat(c, '{')) {
        return jfail(c, "expected a target group object");
    }
    if (jeat(c, '}')) {
        return 0;
    }
    for (;;) {
        if (jstring(c) < 0 || !jeat(c, ':')) {
            return jfail(c, "expected a key and ':'");
        }
        int rc;
        if (c->s.len == 7 && strncasecmp(c->s.p, "targets", 7) == 0) {
            rc = jtargets(c, g);
        } else if (c->s.len == 6 && strncasecmp(c->s.p, "labels", 6) == 0) {
            rc = jlabels(c, g);
        } else {
            rc = jskip(c, 2);
        }
        if (rc < 0) {
            return rc;
        }
        if (jeat(c, '}')) {
            return 0;
        }
        if (!jeat(c, ',')) {
            return jfail(c, "expected ',' or '}'");
        }
    }
}

int discovery_json_parse_groups(const char *buf, size_t len, const char *path,
                                discovery_group **out, size_t *n, odin_err *err)
{
    jcur c = {.buf = buf, .p = buf, .end = buf + len, .path = path, .err = err};
    odin_strbuf_init(&c.s, DISCOVERY_FILE_MAX_BYTES);
    discovery_group *gs = NULL;
    size_t ng = 0;
    int rc = 0;
    jws(&c);
    if (jword(&c, "null")) {
        goto trailer;
    }
    if (!jeat(&c, '[')) {
        rc = jfail(&c, "expected a list of target groups");
        goto done;
    }
    for (bool first = true; !(first && jeat(&c, ']')); first = false) {
        gs = odin_realloc(gs, (ng + 1) * sizeof *gs);
        memset(&gs[ng], 0, sizeof gs[ng]);
        ng++;
        rc = jgroup(&c, &gs[ng - 1]);
        if (rc < 0) {
            goto done;
        }
        if (jeat(&c, ']')) {
            break;
        }
        if (!jeat(&c, ',')) {
            rc = jfail(&c, "expected ',' or ']'");
            goto done;
        }
    }
trailer:
    jws(&c);
    if (c.p != c.end) {
        rc = jfail(&c, "unexpected data after the list");
    }
done:
    odin_strbuf_fini(&c.s);
    if (rc < 0) {
        discovery_groups_free(gs, ng);
        return rc;
    }
    *out = gs;
    *n = ng;
    return 0;
}
