/* Relabeling as Prometheus' model/relabel does it: rule validation, anchored PCRE2 regexes
 * compiled once, Go regexp.Expand-style templates, and every action applied to a label set
 * built in an arena. Hashmod uses MD5 so shard numbers agree with Prometheus. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "scrape/config_int.h"

#include <locale.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

struct scrape_regex {
    pcre2_code *code;
    uint32_t ngroups; /* capture groups, without group 0 */
};

static const char *const action_names[] = {
    [RELABEL_REPLACE] = "replace",     [RELABEL_KEEP] = "keep",
    [RELABEL_DROP] = "drop",           [RELABEL_KEEPEQUAL] = "keepequal",
    [RELABEL_DROPEQUAL] = "dropequal", [RELABEL_HASHMOD] = "hashmod",
    [RELABEL_LABELMAP] = "labelmap",   [RELABEL_LABELDROP] = "labeldrop",
    [RELABEL_LABELKEEP] = "labelkeep", [RELABEL_LOWERCASE] = "lowercase",
    [RELABEL_UPPERCASE] = "uppercase",
};

bool scrape_relabel_action_parse(const char *s, relabel_action *out)
{
    for (size_t i = 0; i < ODIN_ARRAY_LEN(action_names); i++) {
        if (strcasecmp(s, action_names[i]) == 0) {
            *out = (relabel_action)i;
            return true;
        }
    }
    return false;
}

const char *scrape_relabel_action_name(relabel_action a)
{
    return (size_t)a < ODIN_ARRAY_LEN(action_names) ? action_names[a] : "unknown";
}

/* ---- Regexes --------------------------------------------------------------------------------- */

/* Match data is per thread (pcre2 match data may not be shared), kept for the thread's life. */
static pthread_key_t md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_free(void *p)
{
    pcre2_match_data_free(p);
}

static void md_init(void)
{
    ODIN_ASSERT(pthread_key_create(&md_key, md_free) == 0);
}

/* Match data with room for at least `pairs` offset pairs, reused across calls on this thread. */
static pcre2_match_data *thread_match_data(uint32_t pairs)
{
    pthread_once(&md_once, md_init);
    pcre2_match_data *md = pthread_getspecific(md_key);
    if (md && pcre2_get_ovector_count(md) >= pairs) {
        return md;
    }
    pcre2_match_data_free(md);
    md = pcre2_match_data_create(pairs < 16 ? 16 : pairs, NULL);
    if (md == NULL) {
        odin_oom();
    }
    pthread_setspecific(md_key, md);
    return md;
}

scrape_regex *scrape_regex_compile(const char *text, odin_err *err)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    /* matches Prometheus: fully anchored, '.' also matches newline */
    odin_strbuf_puts(&b, "^(?s:");
    odin_strbuf_puts(&b, text);
    odin_strbuf_puts(&b, ")$");
    int ec;
    PCRE2_SIZE off;
    /* $ only at the very end (RE2's meaning); no \C, which could split a UTF-8 character */
    uint32_t opts =
        PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)b.p, b.len, opts, &ec, &off, NULL);
    odin_strbuf_fini(&b);
    if (code == NULL) {
        PCRE2_UCHAR msg[120];
        if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0) {
            msg[0] = '\0';
        }
        size_t at = off >= 5 ? off - 5 : 0; /* offset within the user's text */
        return odin_err_set(err, ODIN_ERR_INVALID, "bad regex: %s at offset %zu", (char *)msg, at),
               NULL;
    }
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* the interpreter serves if JIT fails */
    scrape_regex *re = odin_calloc(1, sizeof(*re));
    re->code = code;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &re->ngroups);
    return re;
}

void scrape_regex_free(scrape_regex *re)
{
    if (re) {
        pcre2_code_free(re->code);
        free(re);
    }
}

/* Runs the match; on success the returned ovector holds ngroups+1 pairs (PCRE2_UNSET if a group
 * did not take part). A match that hits PCRE2's limits counts as no match. */
static PCRE2_SIZE *regex_exec(const scrape_regex *re, odin_str s)
{
    pcre2_match_data *md = thread_match_data(re->ngroups + 1);
    const char *p = s.p ? s.p : "";
    int rc = pcre2_match(re->code, (PCRE2_SPTR)p, s.len, 0, 0, md, NULL);
    return rc > 0 ? pcre2_get_ovector_pointer(md) : NULL;
}

bool scrape_regex_match(const scrape_regex *re, odin_str s)
{
    return regex_exec(re, s) != NULL;
}

/* ---- Templates ($1, ${1}, $name) ------------------------------------------------------------- */

static bool name_char(unsigned char c)
{
    /* Go takes Unicode letters and digits; every non-ASCII byte counts as one here */
    return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c >= 0x80;
}

static void put_group(odin_strbuf *out, odin_str src, const PCRE2_SIZE *ov, uint32_t ngroups,
                      long g)
{
    if (g < 0 || (uint32_t)g > ngroups || ov[2 * g] == PCRE2_UNSET) {
        return;
    }
    odin_strbuf_put(out, src.p + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
}

/* Group number of a name, or -1; Go uses the first group of that name that took part. */
static long named_group(const scrape_regex *re, const PCRE2_SIZE *ov, const char *name, size_t len)
{
    uint32_t count, entry;
    PCRE2_SPTR table;
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &entry);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &table);
    long best = -1;
    for (uint32_t i = 0; i < count; i++) {
        const unsigned char *e = table + (size_t)i * entry;
        long g = (long)((e[0] << 8) | e[1]);
        const char *n = (const char *)e + 2;
        if (strlen(n) == len && memcmp(n, name, len) == 0 && ov[2 * g] != PCRE2_UNSET &&
            (best < 0 || g < best)) {
            best = g;
        }
    }
    return best;
}

/* Appends template with $-references to src's groups, as Go's regexp.Expand. */
static void expand(odin_strbuf *out, const scrape_regex *re, const char *tmpl, odin_str src,
                   const PCRE2_SIZE *ov)
{
    const char *t = tmpl;
    while (*t) {
        const char *dollar = strchr(t, '$');
        if (dollar == NULL) {
            odin_strbuf_puts(out, t);
            return;
        }
        odin_strbuf_put(out, t, (size_t)(dollar - t));
        t = dollar + 1;
        if (*t == '$') {
            odin_strbuf_putc(out, '$');
            t++;
            continue;
        }
        bool brace = *t == '{';
        const char *name = brace ? t + 1 : t;
        size_t len = 0;
        while (name_char((unsigned char)name[len])) {
            len++;
        }
        if (len == 0 || (brace && name[len] != '}')) {
            odin_strbuf_putc(out, '$'); /* malformed: the $ is literal text */
            continue;
        }
        t = name + len + (brace ? 1 : 0);
        long num = 0;
        for (size_t i = 0; i < len && num >= 0; i++) {
            bool digit = name[i] >= '0' && name[i] <= '9';
            num = digit && num < 100000000 ? num * 10 + (name[i] - '0') : -1;
        }
        if (name[0] == '0' && len > 1) {
            num = -1;
        }
        if (num < 0) {
            num = named_group(re, ov, name, len);
        }
        put_group(out, src, ov, re->ngroups, num);
    }
}

/* ---- Rule validation ------------------------------------------------------------------------- */

static bool label_ok(const relabel_config *rc, const char *s)
{
    return scrape_label_name_ok(odin_str_c(s), rc->legacy_validation);
}

/* Prometheus' relabelTargetLegacy: legacy name characters plus $var and ${var} pieces. */
static bool legacy_template_ok(const char *s)
{
    if (*s == '\0' || (*s >= '0' && *s <= '9')) {
        return false;
    }
    while (*s) {
        if (*s == '$') {
            s++;
            bool brace = *s == '{';
            s += brace;
            size_t n = 0;
            while (s[n] == '_' || (s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'z') ||
                   (s[n] >= 'A' && s[n] <= 'Z')) {
                n++;
            }
            if (n == 0 || (brace && s[n] != '}')) {
                return false;
            }
            s += n + brace;
            continue;
        }
        if (!(*s == '_' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z'))) {
            return false;
        }
        s++;
    }
    return true;
}

static bool template_ok(const relabel_config *rc, const char *s)
{
    return rc->legacy_validation ? legacy_template_ok(s) : label_ok(rc, s);
}

static bool has_var(const char *s)
{
    return s && strchr(s, '$') != NULL;
}

/* Fields that these actions refuse; messages are Prometheus 3's. */
static int check_only_fields(const relabel_config *rc, bool explicit_regex, odin_err *err)
{
    const char *act = scrape_relabel_action_name(rc->action);
    bool sep = rc->separator && strcmp(rc->separator, ";") != 0;
    bool repl = rc->replacement && strcmp(rc->replacement, "$1") != 0;
    if (rc->action == RELABEL_KEEPEQUAL || rc->action == RELABEL_DROPEQUAL) {
        if (explicit_regex || rc->modulus || sep || repl) {
            return odin_err_set(err, ODIN_ERR_INVALID,
                                "%s action requires only 'source_labels' "
                                "and 'target_label', and no other fields",
                                act);
        }
    }
    if (rc->action == RELABEL_LABELDROP || rc->action == RELABEL_LABELKEEP) {
        if (rc->source_labels || rc->nsource_labels || (rc->target_label && *rc->target_label) ||
            rc->modulus || sep || repl) {
            return odin_err_set(err, ODIN_ERR_INVALID,
                                "%s action requires only 'regex', and no other fields", act);
        }
    }
    return 0;
}

static int validate(const relabel_config *rc, odin_err *err)
{
    relabel_action a = rc->action;
    const char *act = scrape_relabel_action_name(a);
    const char *tl = rc->target_label ? rc->target_label : "";
    const char *repl = rc->replacement ? rc->replacement : "$1";
    if ((size_t)a >= ODIN_ARRAY_LEN(action_names)) {
        return odin_err_set(err, ODIN_ERR_INVALID, "unknown relabel action");
    }
    if (a == RELABEL_HASHMOD && rc->modulus == 0) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "relabel configuration for hashmod requires non-zero modulus");
    }
    bool needs_target = a == RELABEL_REPLACE || a == RELABEL_HASHMOD || a == RELABEL_LOWERCASE ||
                        a == RELABEL_UPPERCASE || a == RELABEL_KEEPEQUAL || a == RELABEL_DROPEQUAL;
    if (needs_target && *tl == '\0') {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "relabel configuration for %s action requires 'target_label' value",
                            act);
    }
    bool plain_target = a == RELABEL_LOWERCASE || a == RELABEL_UPPERCASE ||
                        a == RELABEL_KEEPEQUAL || a == RELABEL_DROPEQUAL || a == RELABEL_HASHMOD;
    bool bad_target = a == RELABEL_REPLACE
                          ? (has_var(tl) ? !template_ok(rc, tl) : !label_ok(rc, tl))
                          : plain_target && !label_ok(rc, tl);
    if (bad_target) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "\"%.64s\" is invalid 'target_label' for %s action", tl, act);
    }
    bool fixed = a == RELABEL_LOWERCASE || a == RELABEL_UPPERCASE || a == RELABEL_KEEPEQUAL ||
                 a == RELABEL_DROPEQUAL;
    if (fixed && strcmp(repl, "$1") != 0) {
        return odin_err_set(err, ODIN_ERR_INVALID, "'replacement' can not be set for %s action",
                            act);
    }
    if (a == RELABEL_LABELMAP && !template_ok(rc, repl)) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "\"%.64s\" is invalid 'replacement' for %s action", repl, act);
    }
    return 0;
}

int relabel_config_finish(relabel_config *rc, odin_err *err)
{
    bool explicit_regex = rc->regex_text != NULL || rc->regex != NULL;
    int r = validate(rc, err);
    if (r == 0) {
        r = check_only_fields(rc, explicit_regex, err);
    }
    if (r < 0) {
        return r;
    }
    for (size_t i = 0; i < rc->nsource_labels; i++) {
        if (!scrape_label_name_ok(odin_str_c(rc->source_labels[i]), rc->legacy_validation)) {
            return odin_err_set(err, ODIN_ERR_INVALID, "\"%.64s\" is not a valid label name",
                                rc->source_labels[i]);
        }
    }
    if (rc->separator == NULL) {
        rc->separator = odin_strdup(";");
    }
    if (rc->replacement == NULL) {
        rc->replacement = odin_strdup("$1");
    }
    if (rc->regex_text == NULL) {
        rc->regex_text = odin_strdup("(.*)");
    }
    if (rc->regex == NULL) {
        rc->regex = scrape_regex_compile(rc->regex_text, err);
        if (rc->regex == NULL) {
            return -ODIN_ERR_INVALID;
        }
    }
    return 0;
}

void relabel_config_fini(relabel_config *rc)
{
    if (rc == NULL) {
        return;
    }
    for (size_t i = 0; i < rc->nsource_labels; i++) {
        free(rc->source_labels[i]);
    }
    free(rc->source_labels);
    free(rc->separator);
    free(rc->regex_text);
    scrape_regex_free(rc->regex);
    free(rc->target_label);
    free(rc->replacement);
    *rc = (relabel_config){0};
}

/* ---- Applying rules -------------------------------------------------------------------------- */

/* The label set being rewritten: unsorted while rules run, names unique, empty values removed. */
typedef struct {
    odin_label *v;
    size_t len, cap;
    odin_arena *a;
    bool oom;
    odin_strbuf val, tmp; /* joined source values; expansion scratch */
} label_builder;

static odin_str lb_get(const label_builder *b, odin_str name)
{
    for (size_t i = 0; i < b->len; i++) {
        if (odin_str_eq(b->v[i].name, name)) {
            return b->v[i].value;
        }
    }
    return (odin_str){"", 0};
}

static void lb_del(label_builder *b, odin_str name)
{
    for (size_t i = 0; i < b->len; i++) {
        if (odin_str_eq(b->v[i].name, name)) {
            b->v[i] = b->v[--b->len];
            return;
        }
    }
}

/* name and value must outlive the result (input labels, the rules, or the arena). */
static void lb_set(label_builder *b, odin_str name, odin_str value)
{
    if (value.len == 0) {
        lb_del(b, name);
        return;
    }
    for (size_t i = 0; i < b->len; i++) {
        if (odin_str_eq(b->v[i].name, name)) {
            b->v[i].value = value;
            return;
        }
    }
    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        odin_label *v = odin_arena_alloc(b->a, cap * sizeof(*v));
        if (v == NULL) {
            b->oom = true;
            return;
        }
        if (b->len) {
            memcpy(v, b->v, b->len * sizeof(*v));
        }
        b->v = v;
        b->cap = cap;
    }
    b->v[b->len++] = (odin_label){name, value};
}

static odin_str lb_keep(label_builder *b, const char *p, size_t n)
{
    char *s = odin_arena_strndup(b->a, p, n);
    if (s == NULL) {
        b->oom = true;
        return (odin_str){"", 0};
    }
    return (odin_str){s, n};
}

/* Unicode case mapping as Go's strings.ToLower/ToUpper, through a C.UTF-8 locale; invalid
 * UTF-8 bytes become U+FFFD as Go's strings.Map makes them. ASCII-only if no such locale. */
static locale_t case_locale;
static pthread_once_t case_once = PTHREAD_ONCE_INIT;

static void case_init(void)
{
    case_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Go's utf8.DecodeRune: an invalid byte is U+FFFD, one byte long. */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t l = odin_utf8_len(p, n, cp);
    if (l == 0) {
        *cp = 0xfffd;
        return 1;
    }
    return l;
}

static void map_case(odin_strbuf *out, odin_str s, bool upper)
{
    pthread_once(&case_once, case_init);
    const unsigned char *p = (const unsigned char *)s.p;
    for (size_t i = 0; i < s.len;) {
        uint32_t c;
        i += utf8_decode(p + i, s.len - i, &c);
        if (c < 0x80) {
            c = upper ? (c >= 'a' && c <= 'z' ? c - 32 : c) : (c >= 'A' && c <= 'Z' ? c + 32 : c);
        } else if (case_locale != (locale_t)0) {
            c = upper ? (uint32_t)towupper_l((wint_t)c, case_locale)
                      : (uint32_t)towlower_l((wint_t)c, case_locale);
        }
        odin_strbuf_put_utf8(out, c);
    }
}

static void do_replace(label_builder *b, const relabel_config *rc, odin_str val)
{
    odin_str target = odin_str_c(rc->target_label);
    /* Prometheus' fast path: a default rule on an empty value just sets the label */
    if (val.len == 0 && strcmp(rc->regex_text, "(.*)") == 0 && !has_var(rc->target_label) &&
        !has_var(rc->replacement)) {
        lb_set(b, target, odin_str_c(rc->replacement));
        return;
    }
    const PCRE2_SIZE *ov = regex_exec(rc->regex, val);
    if (ov == NULL) {
        return;
    }
    if (has_var(rc->target_label)) {
        odin_strbuf_reset(&b->tmp);
        expand(&b->tmp, rc->regex, rc->target_label, val, ov);
        target = lb_keep(b, b->tmp.p ? b->tmp.p : "", b->tmp.len);
    }
    if (!scrape_label_name_ok(target, rc->legacy_validation)) {
        return;
    }
    odin_strbuf_reset(&b->tmp);
    expand(&b->tmp, rc->regex, rc->replacement, val, ov);
    if (b->tmp.len == 0) {
        lb_del(b, target);
        return;
    }
    lb_set(b, target, lb_keep(b, b->tmp.p, b->tmp.len));
}

static void do_hashmod(label_builder *b, const relabel_config *rc, odin_str val)
{
    unsigned char sum[16];
    scrape_md5(val.p, val.len, sum);
    /* matches Prometheus: the digest's last 8 bytes as a big-endian integer */
    uint64_t h = 0;
    for (int i = 8; i < 16; i++) {
        h = (h << 8) | sum[i];
    }
    odin_strbuf_reset(&b->tmp);
    odin_strbuf_put_u64(&b->tmp, h % rc->modulus);
    lb_set(b, odin_str_c(rc->target_label), lb_keep(b, b->tmp.p, b->tmp.len));
}

/* labelmap, labeldrop, labelkeep: visit the names present before the rule ran. */
static void do_names(label_builder *b, const relabel_config *rc)
{
    size_t n = b->len;
    odin_label *snap = odin_arena_alloc(b->a, (n ? n : 1) * sizeof(*snap));
    if (snap == NULL) {
        b->oom = true;
        return;
    }
    if (n) {
        memcpy(snap, b->v, n * sizeof(*snap));
    }
    for (size_t i = 0; i < n; i++) {
        const PCRE2_SIZE *ov = regex_exec(rc->regex, snap[i].name);
        if (rc->action == RELABEL_LABELDROP && ov) {
            lb_del(b, snap[i].name);
        } else if (rc->action == RELABEL_LABELKEEP && !ov) {
            lb_del(b, snap[i].name);
        } else if (rc->action == RELABEL_LABELMAP && ov) {
            odin_strbuf_reset(&b->tmp);
            expand(&b->tmp, rc->regex, rc->replacement, snap[i].name, ov);
            lb_set(b, lb_keep(b, b->tmp.p ? b->tmp.p : "", b->tmp.len), snap[i].value);
        }
    }
}

/* One rule; false when it drops the set. */
static bool apply(label_builder *b, const relabel_config *rc)
{
    odin_strbuf_reset(&b->val);
    for (size_t i = 0; i < rc->nsource_labels; i++) {
        if (i > 0) {
            odin_strbuf_puts(&b->val, rc->separator);
        }
        odin_strbuf_putstr(&b->val, lb_get(b, odin_str_c(rc->source_labels[i])));
    }
    odin_str val = {b->val.p ? b->val.p : "", b->val.len};
    switch (rc->action) {
    case RELABEL_DROP:
        return !scrape_regex_match(rc->regex, val);
    case RELABEL_KEEP:
        return scrape_regex_match(rc->regex, val);
    case RELABEL_DROPEQUAL:
        return !odin_str_eq(lb_get(b, odin_str_c(rc->target_label)), val);
    case RELABEL_KEEPEQUAL:
        return odin_str_eq(lb_get(b, odin_str_c(rc->target_label)), val);
    case RELABEL_REPLACE:
        do_replace(b, rc, val);
        return true;
    case RELABEL_LOWERCASE:
    case RELABEL_UPPERCASE:
        odin_strbuf_reset(&b->tmp);
        map_case(&b->tmp, val, rc->action == RELABEL_UPPERCASE);
        lb_set(b, odin_str_c(rc->target_label), lb_keep(b, b->tmp.p ? b->tmp.p : "", b->tmp.len));
        return true;
    case RELABEL_HASHMOD:
        do_hashmod(b, rc, val);
        return true;
    case RELABEL_LABELMAP:
    case RELABEL_LABELDROP:
    case RELABEL_LABELKEEP:
        do_names(b, rc);
        return true;
    }
    return true;
}

bool relabel_process(const relabel_config *rules, size_t n, odin_labels in, odin_arena *a,
                     odin_labels *out)
{
    label_builder b = {.a = a};
    odin_strbuf_init(&b.val, 0);
    odin_strbuf_init(&b.tmp, 0);
    for (size_t i = 0; i < in.len; i++) {
        lb_set(&b, in.v[i].name, in.v[i].value);
    }
    bool keep = true;
    for (size_t i = 0; i < n && keep && !b.oom; i++) {
        keep = apply(&b, &rules[i]);
    }
    bool overflow = !odin_strbuf_ok(&b.val) || !odin_strbuf_ok(&b.tmp);
    odin_strbuf_fini(&b.val);
    odin_strbuf_fini(&b.tmp);
    if (!keep || b.oom || overflow || b.len == 0) {
        *out = (odin_labels){NULL, 0};
        return false;
    }
    odin_labels_sort(b.v, b.len);
    *out = (odin_labels){b.v, b.len};
    return true;
}
