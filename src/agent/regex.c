/* Regular expressions for collector filters, on PCRE2. Go's RE2 syntax used in node_exporter's
 * flags is a subset PCRE2 reads the same way; matches are bounded by PCRE2's match limit. Each
 * regex remembers its answers: collectors match the same few hundred names every scrape. */
#include "agent/agent_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* A remembered answer; the key is the name itself, stored after the struct. */
typedef struct {
    bool match;
    size_t len;
    char name[];
} regex_memo_entry;

/* Names churn on some hosts (veth devices, mounts of short-lived containers): past this many
 * remembered names the memo starts over, so it stays bounded. */
enum { REGEX_MEMO_MAX = 2048 };

/* Matched only by collectors, under the agent's scrape lock: `md` and `memo` need no lock of
 * their own. */
struct agent_regex {
    pcre2_code *code;
    pcre2_match_data *md;
    odin_map memo; /* name -> regex_memo_entry, owned */
};

static void memo_clear(agent_regex *re)
{
    size_t pos = 0, kl;
    const void *k;
    void *v;
    while (odin_map_next(&re->memo, &pos, &k, &kl, &v)) {
        free(v);
    }
    odin_map_clear(&re->memo);
}

agent_regex *agent_regex_new(const char *pattern, bool anchored, odin_err *err)
{
    odin_strbuf src;
    odin_strbuf_init(&src, 0);
    if (anchored) {
        odin_strbuf_printf(&src, "^(?:%s)$", pattern);
    } else {
        odin_strbuf_puts(&src, pattern);
    }
    int ec;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)src.p, src.len, PCRE2_UTF | PCRE2_DOLLAR_ENDONLY,
                                     &ec, &off, NULL);
    odin_strbuf_fini(&src);
    if (!code) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof(msg));
        odin_err_set(err, ODIN_ERR_INVALID, "regex \"%.64s\": %s at offset %zu", pattern,
                     (const char *)msg, (size_t)off);
        return NULL;
    }
    /* No JIT: the memo answers nearly every match after the first scrape, and the JIT's code
     * and compiler pages cost about 0.5 MiB of the agent's RSS. */
    agent_regex *re = odin_malloc(sizeof(*re));
    re->code = code;
    re->md = pcre2_match_data_create_from_pattern(code, NULL);
    odin_map_init(&re->memo);
    return re;
}

void agent_regex_free(agent_regex *re)
{
    if (!re) {
        return;
    }
    memo_clear(re);
    odin_map_fini(&re->memo);
    pcre2_match_data_free(re->md);
    pcre2_code_free(re->code);
    free(re);
}

bool agent_regex_match_direct(const agent_regex *re, const char *s, size_t len)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, re->md, NULL);
    return rc >= 0;
}

bool agent_regex_match(agent_regex *re, const char *s, size_t len)
{
    const regex_memo_entry *seen = odin_map_get(&re->memo, s, len);
    if (seen) {
        return seen->match;
    }
    bool match = agent_regex_match_direct(re, s, len);
    if (re->memo.len >= REGEX_MEMO_MAX) {
        memo_clear(re);
    }
    regex_memo_entry *e = odin_malloc(sizeof(*e) + len);
    e->match = match;
    e->len = len;
    if (len) {
        memcpy(e->name, s, len);
    }
    odin_map_put(&re->memo, e->name, len, e);
    return match;
}

int agent_filter_init(agent_filter *f, const char *include, const char *exclude, const char *what,
                      odin_err *err)
{
    f->include = f->exclude = NULL;
    bool has_inc = include && *include, has_exc = exclude && *exclude;
    if (has_inc && has_exc) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "%s: device-include and device-exclude are mutually exclusive", what);
    }
    if (has_inc && !(f->include = agent_regex_new(include, false, err))) {
        odin_err_prefix(err, "%s include: ", what);
        return -ODIN_ERR_INVALID;
    }
    if (has_exc && !(f->exclude = agent_regex_new(exclude, false, err))) {
        odin_err_prefix(err, "%s exclude: ", what);
        return -ODIN_ERR_INVALID;
    }
    return 0;
}

void agent_filter_fini(agent_filter *f)
{
    agent_regex_free(f->include);
    agent_regex_free(f->exclude);
    f->include = f->exclude = NULL;
}

bool agent_filter_ignored(const agent_filter *f, const char *name)
{
    size_t n = strlen(name);
    if (f->exclude && agent_regex_match(f->exclude, name, n)) {
        return true;
    }
    if (f->include && !agent_regex_match(f->include, name, n)) {
        return true;
    }
    return false;
}
