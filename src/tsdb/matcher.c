/* Label matchers: =, !=, =~, !~ with regexes anchored at both ends, as Prometheus'. */
#include "tsdb/db_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

struct tsdb_regex {
    pcre2_code *code;
    pcre2_match_data *md; /* a matcher is used by one thread at a time (one query) */
    /* Plain-literal patterns (no metacharacters) compare directly: the common case of
     * `job=~"node"` from dashboards needs no regex engine. */
    bool literal;
};

static bool is_literal(const char *p)
{
    for (; *p; p++) {
        if (strchr(".+*?()[]{}|^$\\", *p)) {
            return false;
        }
    }
    return true;
}

int tsdb_matcher_init(tsdb_matcher *m, tsdb_match_type type, odin_str name, odin_str value,
                      odin_err *err)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->name = odin_strndup(name.p, name.len);
    m->value = odin_strndup(value.p, value.len);
    if (type != TSDB_MATCH_RE && type != TSDB_MATCH_NRE) {
        return 0;
    }
    tsdb_regex *re = odin_calloc(1, sizeof(*re));
    m->re = re;
    if (is_literal(m->value)) {
        re->literal = true;
        return 0;
    }
    odin_strbuf src;
    odin_strbuf_init(&src, 0);
    odin_strbuf_printf(&src, "^(?:%s)$", m->value);
    int ec;
    PCRE2_SIZE off;
    /* DOTALL: Prometheus compiles with (?s), so . matches newlines too */
    re->code = pcre2_compile((PCRE2_SPTR)src.p, src.len, PCRE2_UTF | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY,
                             &ec, &off, NULL);
    odin_strbuf_fini(&src);
    if (!re->code) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof(msg));
        tsdb_matcher_fini(m);
        return odin_err_set(err, ODIN_ERR_PARSE, "invalid regular expression \"%.64s\": %s",
                            value.len > 64 ? "(long)" : m->value ? m->value : "", (const char *)msg);
    }
    (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
    re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
    return 0;
}

void tsdb_matcher_fini(tsdb_matcher *m)
{
    if (m->re) {
        if (m->re->code) {
            pcre2_match_data_free(m->re->md);
            pcre2_code_free(m->re->code);
        }
        free(m->re);
    }
    free(m->name);
    free(m->value);
    memset(m, 0, sizeof(*m));
}

static bool re_match(const tsdb_matcher *m, odin_str v)
{
    tsdb_regex *re = m->re;
    if (re->literal) {
        return odin_str_eq_c(v, m->value);
    }
    return pcre2_match(re->code, (PCRE2_SPTR)(v.p ? v.p : ""), v.len, 0, 0, re->md, NULL) >= 0;
}

bool tsdb_matcher_matches(const tsdb_matcher *m, odin_str value)
{
    switch (m->type) {
    case TSDB_MATCH_EQ:
        return odin_str_eq_c(value, m->value);
    case TSDB_MATCH_NEQ:
        return !odin_str_eq_c(value, m->value);
    case TSDB_MATCH_RE:
        return re_match(m, value);
    case TSDB_MATCH_NRE:
        return !re_match(m, value);
    }
    return false;
}
