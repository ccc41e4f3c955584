/* `odin promqltest`: runs upstream PromQL .test scripts (load / clear / eval blocks, see
 * shared/reference/promql-dsl.md) against a fresh in-memory tsdb and this engine, and reports one
 * line per failed eval. Evals that need native histograms are reported as skipped, not passed. */
#include "promql/lexer.h"
#include "promql/test_runner_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <string.h>

typedef struct {
    const char *path;
    odin_strbuf *out;
    tsdb *db;
    promql_engine *eng;
    odin_arena arena;
    odin_str *lines;
    size_t nlines;
    int passed, failed, skipped;
    odin_str *hist_names; /* metric names loaded with native histograms since the last clear */
    size_t nhist, caphist;
} tr_state;

typedef struct {
    bool range, fail, ordered, want_warn, want_info, no_warn, no_info;
    bool has_scalar, has_string, has_rangevec;
    int64_t start, end, step;
    int64_t rv_from, rv_to, rv_step;
    double scalar;
    const char *string;
    const char *fail_msg, *fail_regex;
    const char *warn_msgs[16], *info_msgs[16];
    bool warn_is_re[16], info_is_re[16];
    size_t nwarn_msgs, ninfo_msgs;
    tr_series_line *series;
    size_t nseries;
    bool expect_histogram;
} tr_eval;

static void *tr_alloc(tr_state *st, size_t n)
{
    void *p = odin_arena_alloc(&st->arena, n ? n : 1);
    if (!p) {
        odin_oom();
    }
    return p;
}

static char *tr_strdup(tr_state *st, odin_str s)
{
    char *p = tr_alloc(st, s.len + 1);
    memcpy(p, s.p, s.len);
    p[s.len] = '\0';
    return p;
}

static void report(tr_state *st, size_t line, const char *fmt, ...) ODIN_PRINTF(3, 4);
static void report(tr_state *st, size_t line, const char *fmt, ...)
{
    odin_strbuf_printf(st->out, "%s:%zu: ", st->path, line + 1);
    va_list ap;
    va_start(ap, fmt);
    odin_strbuf_vprintf(st->out, fmt, ap);
    va_end(ap);
    odin_strbuf_putc(st->out, '\n');
}

static int open_db(tr_state *st, odin_err *err)
{
    tsdb_close(st->db);
    tsdb_opts o = {.dir = NULL};
    st->db = tsdb_open(&o, err);
    st->nhist = 0;
    return st->db ? 0 : -1;
}

static void add_hist_name(tr_state *st, odin_str name)
{
    if (st->nhist == st->caphist) {
        size_t ncap = st->caphist ? st->caphist * 2 : 16;
        odin_str *n = tr_alloc(st, ncap * sizeof(odin_str));
        if (st->nhist) {
            memcpy(n, st->hist_names, st->nhist * sizeof(odin_str));
        }
        st->hist_names = n;
        st->caphist = ncap;
    }
    st->hist_names[st->nhist++] = name;
}

static bool ident_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == ':';
}

/* Whether the query names `name` as a whole identifier. */
static bool mentions(odin_str q, odin_str name)
{
    for (size_t i = 0; name.len && i + name.len <= q.len; i++) {
        if (memcmp(q.p + i, name.p, name.len) != 0) {
            continue;
        }
        bool before = i > 0 && ident_char(q.p[i - 1]);
        bool after = i + name.len < q.len && ident_char(q.p[i + name.len]);
        if (!before && !after) {
            return true;
        }
    }
    return false;
}

/* ---- load ---- */

static size_t block_end(const tr_state *st, size_t i)
{
    while (i < st->nlines && st->lines[i].len) {
        i++;
    }
    return i;
}

static int load_block(tr_state *st, size_t at, odin_str cmd, odin_str rest, size_t *next)
{
    size_t end = block_end(st, at + 1);
    *next = end;
    bool nhcb = odin_str_eq_c(cmd, "load_with_nhcb");
    int64_t interval;
    if (odin_parse_duration_ms(odin_str_trim(rest), &interval) < 0) {
        report(st, at, "invalid load interval \"%.*s\"", (int)rest.len, rest.p);
        return -1;
    }
    odin_map seen;
    odin_map_init(&seen);
    odin_strbuf key, msg;
    odin_strbuf_init(&key, 0);
    odin_strbuf_init(&msg, 0);
    tr_series_line *sl = tr_alloc(st, (end - at) * sizeof(*sl));
    size_t n = 0;
    int rc = 0;
    for (size_t i = at + 1; i < end; i++) {
        tr_series_line s;
        if (tr_parse_series_line(&st->arena, st->lines[i], &s, &msg) < 0) {
            report(st, i, "load: %s", msg.p);
            odin_strbuf_reset(&msg);
            rc = -1;
            continue;
        }
        const odin_str *name = odin_labels_get(s.ls, "__name__");
        if (s.has_histogram && name) {
            add_hist_name(st, *name);
            continue;
        }
        if (nhcb && name && odin_str_has_suffix(*name, "_bucket")) {
            add_hist_name(st, (odin_str){name->p, name->len - 7});
        }
        odin_strbuf_reset(&key);
        ev_labels_key(&key, s.ls);
        void *hit = odin_map_get(&seen, key.p ? key.p : "", key.len);
        if (hit) {
            sl[(uintptr_t)hit - 1] = s; /* a later definition replaces the earlier one */
            continue;
        }
        char *k = tr_alloc(st, key.len + 1);
        memcpy(k, key.p ? key.p : "", key.len);
        sl[n++] = s;
        odin_map_put(&seen, k, key.len, (void *)(uintptr_t)n);
    }
    tsdb_appender *app = tsdb_appender_new(st->db);
    odin_err err;
    odin_err_clear(&err);
    for (size_t i = 0; i < n; i++) {
        uint64_t ref = 0;
        for (size_t k = 0; k < sl[i].nvals; k++) {
            if (sl[i].vals[k].kind != TR_VAL_FLOAT) {
                continue;
            }
            if (tsdb_append(app, &ref, sl[i].ls, (int64_t)k * interval, sl[i].vals[k].v, &err) < 0) {
                report(st, at, "load: %s", err.msg);
                odin_err_clear(&err);
                rc = -1;
            }
        }
    }
    if (tsdb_appender_commit(app, &err) < 0) {
        report(st, at, "load: commit: %s", err.msg);
        rc = -1;
    }
    odin_map_fini(&seen);
    odin_strbuf_fini(&key);
    odin_strbuf_fini(&msg);
    return rc;
}

/* ---- eval header and block ---- */

static bool take_word(odin_str *s, const char *want)
{
    odin_str save = *s;
    odin_str w = odin_str_field(s);
    if (odin_str_eq_c(w, want)) {
        return true;
    }
    *s = save;
    return false;
}

static int take_time(odin_str *s, int64_t *out)
{
    odin_str w = odin_str_field(s);
    return odin_parse_duration_ms(w, out);
}

/* `expect <kind> [msg: text | regex: text]` */
static int parse_expect(tr_state *st, odin_str rest, tr_eval *ev)
{
    odin_str kind = odin_str_field(&rest);
    rest = odin_str_trim(rest);
    const char *msg = NULL, *regex = NULL;
    if (odin_str_has_prefix(rest, "msg:")) {
        msg = tr_strdup(st, odin_str_trim((odin_str){rest.p + 4, rest.len - 4}));
    } else if (odin_str_has_prefix(rest, "regex:")) {
        regex = tr_strdup(st, odin_str_trim((odin_str){rest.p + 6, rest.len - 6}));
    }
    if (odin_str_eq_c(kind, "fail")) {
        ev->fail = true;
        ev->fail_msg = msg;
        ev->fail_regex = regex;
    } else if (odin_str_eq_c(kind, "warn")) {
        ev->want_warn = true;
        if ((msg || regex) && ev->nwarn_msgs < 16) {
            ev->warn_is_re[ev->nwarn_msgs] = regex != NULL;
            ev->warn_msgs[ev->nwarn_msgs++] = msg ? msg : regex;
        }
    } else if (odin_str_eq_c(kind, "info")) {
        ev->want_info = true;
        if ((msg || regex) && ev->ninfo_msgs < 16) {
            ev->info_is_re[ev->ninfo_msgs] = regex != NULL;
            ev->info_msgs[ev->ninfo_msgs++] = msg ? msg : regex;
        }
    } else if (odin_str_eq_c(kind, "no_warn")) {
        ev->no_warn = true;
    } else if (odin_str_eq_c(kind, "no_info")) {
        ev->no_info = true;
    } else if (odin_str_eq_c(kind, "ordered")) {
        ev->ordered = true;
    } else if (odin_str_eq_c(kind, "range")) {
        /* expect range vector from <t> to <t> step <d> */
        if (!take_word(&rest, "vector") || !take_word(&rest, "from") ||
            take_time(&rest, &ev->rv_from) < 0 || !take_word(&rest, "to") ||
            take_time(&rest, &ev->rv_to) < 0 || !take_word(&rest, "step") ||
            take_time(&rest, &ev->rv_step) < 0) {
            return -1;
        }
        ev->has_rangevec = true;
    } else if (odin_str_eq_c(kind, "string")) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        int rc = promql_unquote(rest.p, rest.len, &b);
        ev->string = tr_strdup(st, (odin_str){b.p ? b.p : "", b.len});
        ev->has_string = true;
        odin_strbuf_fini(&b);
        return rc < 0 ? -1 : 0;
    } else {
        return -1;
    }
    return 0;
}

static bool bare_number(odin_str s, double *v)
{
    int64_t i;
    if (s.len > 2 && s.p[0] == '0' && (s.p[1] == 'x' || s.p[1] == 'X')) {
        uint64_t u;
        if (odin_parse_hex_u64((odin_str){s.p + 2, s.len - 2}, &u) == 0) {
            *v = (double)u;
            return true;
        }
        return false;
    }
    if (odin_parse_i64(s, &i) == 0) {
        *v = (double)i;
        return true;
    }
    return odin_parse_double(s, v) == 0;
}

/* Reads the eval block's lines; returns the index after the block. */
static size_t parse_eval_block(tr_state *st, size_t at, tr_eval *ev, bool *bad)
{
    size_t end = block_end(st, at + 1);
    ev->series = tr_alloc(st, (end - at) * sizeof(tr_series_line));
    odin_strbuf msg;
    odin_strbuf_init(&msg, 0);
    size_t i = at + 1;
    for (; i < end; i++) {
        odin_str l = st->lines[i];
        odin_str rest = l;
        odin_str w = odin_str_field(&rest);
        if (odin_str_eq_c(w, "expect")) {
            if (parse_expect(st, rest, ev) < 0) {
                report(st, i, "invalid expect line");
                *bad = true;
            }
            continue;
        }
        if (odin_str_eq_c(w, "expected_fail_message") || odin_str_eq_c(w, "expected_fail_regexp")) {
            const char *t = tr_strdup(st, odin_str_trim(rest));
            if (w.p[15] == 'm') {
                ev->fail_msg = t;
            } else {
                ev->fail_regex = t;
            }
            i++;
            break;
        }
        double v;
        if (bare_number(l, &v)) {
            ev->has_scalar = true;
            ev->scalar = v;
            i++;
            break;
        }
        tr_series_line *s = &ev->series[ev->nseries];
        if (tr_parse_series_line(&st->arena, l, s, &msg) < 0) {
            report(st, i, "%s", msg.p);
            odin_strbuf_reset(&msg);
            *bad = true;
            continue;
        }
        if (s->has_histogram) {
            ev->expect_histogram = true;
        }
        ev->nseries++;
    }
    odin_strbuf_fini(&msg);
    return i;
}

/* ---- comparison ---- */

static bool almost_equal(double a, double b)
{
    const double eps = 1e-6, min_normal = 2.2250738585072014e-308;
    if (tsdb_is_stale(a) || tsdb_is_stale(b)) {
        return tsdb_is_stale(a) && tsdb_is_stale(b);
    }
    if (isnan(a) && isnan(b)) {
        return true;
    }
    if (a == b) {
        return true;
    }
    double sum = fabs(a) + fabs(b), diff = fabs(a - b);
    if (a == 0 || b == 0 || sum < min_normal) {
        return diff < eps * min_normal;
    }
    return diff / fmin(sum, 1.7976931348623157e308) < eps;
}

static void put_labels(odin_strbuf *b, odin_labels ls)
{
    ev_labels_string(b, ls);
}

static const promql_series *find_series(const promql_result *r, odin_labels ls, size_t *pos)
{
    for (size_t i = 0; i < r->nseries; i++) {
        if (odin_labels_cmp(r->series[i].labels, ls) == 0) {
            *pos = i;
            return &r->series[i];
        }
    }
    return NULL;
}

static bool check_vector(tr_state *st, size_t line, const tr_eval *ev, const promql_result *r,
                         odin_strbuf *why)
{
    (void)st;
    (void)line;
    if (r->type != PROMQL_TYPE_VECTOR) {
        odin_strbuf_printf(why, "expected an instant vector, got %s", promql_type_name(r->type));
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < ev->nseries; i++) {
        const tr_series_line *e = &ev->series[i];
        size_t pos;
        const promql_series *s = find_series(r, e->ls, &pos);
        if (!s) {
            odin_strbuf_puts(why, "missing ");
            put_labels(why, e->ls);
            odin_strbuf_puts(why, "; ");
            ok = false;
            continue;
        }
        double want = e->nvals ? e->vals[0].v : NAN;
        if (!almost_equal(s->v[0], want)) {
            put_labels(why, e->ls);
            odin_strbuf_puts(why, " want ");
            odin_strbuf_put_double(why, want);
            odin_strbuf_puts(why, " got ");
            odin_strbuf_put_double(why, s->v[0]);
            odin_strbuf_puts(why, "; ");
            ok = false;
        }
        if (ev->ordered && pos != i) {
            odin_strbuf_printf(why, "%s at position %zu, want %zu; ", "series", pos + 1, i + 1);
            ok = false;
        }
    }
    for (size_t i = 0; i < r->nseries; i++) {
        bool expected = false;
        for (size_t k = 0; k < ev->nseries && !expected; k++) {
            expected = odin_labels_cmp(ev->series[k].ls, r->series[i].labels) == 0;
        }
        if (!expected) {
            odin_strbuf_puts(why, "unexpected ");
            put_labels(why, r->series[i].labels);
            odin_strbuf_puts(why, " ");
            odin_strbuf_put_double(why, r->series[i].v[0]);
            odin_strbuf_puts(why, "; ");
            ok = false;
        }
    }
    return ok;
}

static bool check_matrix(const tr_eval *ev, const promql_result *r, int64_t from, int64_t step,
                         odin_strbuf *why)
{
    if (r->type != PROMQL_TYPE_MATRIX) {
        odin_strbuf_printf(why, "expected a range vector, got %s", promql_type_name(r->type));
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < ev->nseries; i++) {
        const tr_series_line *e = &ev->series[i];
        size_t pos;
        const promql_series *s = find_series(r, e->ls, &pos);
        size_t want_n = 0;
        for (size_t k = 0; k < e->nvals; k++) {
            want_n += e->vals[k].kind == TR_VAL_FLOAT;
        }
        if (!s) {
            if (want_n == 0) {
                continue;
            }
            odin_strbuf_puts(why, "missing ");
            put_labels(why, e->ls);
            odin_strbuf_puts(why, "; ");
            ok = false;
            continue;
        }
        size_t j = 0;
        bool sok = s->n == want_n;
        for (size_t k = 0; k < e->nvals && sok; k++) {
            if (e->vals[k].kind != TR_VAL_FLOAT) {
                continue;
            }
            int64_t t = from + (int64_t)k * step;
            sok = j < s->n && s->t[j] == t && almost_equal(s->v[j], e->vals[k].v);
            j++;
        }
        if (!sok) {
            put_labels(why, e->ls);
            odin_strbuf_puts(why, " got");
            for (size_t k = 0; k < s->n && k < 20; k++) {
                odin_strbuf_printf(why, " %lld:", (long long)s->t[k]);
                odin_strbuf_put_double(why, s->v[k]);
            }
            odin_strbuf_puts(why, "; ");
            ok = false;
        }
    }
    for (size_t i = 0; i < r->nseries; i++) {
        bool expected = false;
        for (size_t k = 0; k < ev->nseries && !expected; k++) {
            expected = odin_labels_cmp(ev->series[k].ls, r->series[i].labels) == 0;
        }
        if (!expected) {
            odin_strbuf_puts(why, "unexpected ");
            put_labels(why, r->series[i].labels);
            odin_strbuf_puts(why, "; ");
            ok = false;
        }
    }
    return ok;
}

/* Unanchored regex search, as Go's regexp.MatchString. */
static bool regex_search(const char *re_text, const char *subject)
{
    int ecode;
    PCRE2_SIZE eoff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)re_text, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ecode,
                                   &eoff, NULL);
    if (!re) {
        return false;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc >= 0;
}

static bool annotation_matches(const char *want, bool is_re, const char *got)
{
    return is_re ? regex_search(want, got) : strcmp(want, got) == 0;
}

static bool check_annotations(const tr_eval *ev, const promql_result *r, odin_strbuf *why)
{
    size_t nw = 0, ni = 0;
    for (size_t i = 0; i < r->nwarnings; i++) {
        if (strncmp(r->warnings[i], "PromQL info", 11) == 0) {
            ni++;
        } else {
            nw++;
        }
    }
    bool ok = true;
    if ((ev->want_warn && nw == 0) || (ev->no_warn && nw > 0)) {
        odin_strbuf_printf(why, "got %zu warnings, want %s; ", nw, ev->no_warn ? "none" : "some");
        ok = false;
    }
    if ((ev->want_info && ni == 0) || (ev->no_info && ni > 0)) {
        odin_strbuf_printf(why, "got %zu infos, want %s; ", ni, ev->no_info ? "none" : "some");
        ok = false;
    }
    for (size_t k = 0; k < ev->nwarn_msgs + ev->ninfo_msgs; k++) {
        bool w = k < ev->nwarn_msgs;
        const char *want = w ? ev->warn_msgs[k] : ev->info_msgs[k - ev->nwarn_msgs];
        bool is_re = w ? ev->warn_is_re[k] : ev->info_is_re[k - ev->nwarn_msgs];
        bool found = false;
        for (size_t i = 0; i < r->nwarnings && !found; i++) {
            found = annotation_matches(want, is_re, r->warnings[i]);
        }
        if (!found) {
            odin_strbuf_printf(why, "missing annotation \"%s\"; ", want);
            ok = false;
        }
    }
    return ok;
}

static const char *const nh_functions[] = {"histogram_count(", "histogram_sum(",
                                           "histogram_avg(", "histogram_stddev(",
                                           "histogram_stdvar(", "histogram_fraction(",
                                           "histogram_quantiles("};

static const char *skip_reason(const tr_state *st, const tr_eval *ev, odin_str q)
{
    if (ev->expect_histogram) {
        return "native histogram in the expected result";
    }
    for (size_t i = 0; i < ODIN_ARRAY_LEN(nh_functions); i++) {
        if (memmem(q.p, q.len, nh_functions[i], strlen(nh_functions[i]))) {
            return "native-histogram function";
        }
    }
    for (size_t i = 0; i < st->nhist; i++) {
        if (mentions(q, st->hist_names[i])) {
            return "queries a metric loaded with native histograms";
        }
    }
    /* a selector without a plain metric name may reach histogram series too */
    for (size_t i = 0; st->nhist && i < q.len; i++) {
        if (q.p[i] != '{') {
            continue;
        }
        size_t k = i;
        while (k > 0 && q.p[k - 1] == ' ') {
            k--;
        }
        if (k == 0 || !ident_char(q.p[k - 1]) || memmem(q.p, q.len, "__name__", 8)) {
            return "name-less selector while native histograms are loaded";
        }
    }
    return NULL;
}

static bool run_checks(tr_state *st, const tr_eval *ev, const promql_result *r, odin_err *err,
                       odin_strbuf *why)
{
    (void)st;
    if (ev->fail) {
        if (r) {
            odin_strbuf_puts(why, "expected the query to fail, it succeeded");
            return false;
        }
        if (ev->fail_msg && strcmp(ev->fail_msg, err->msg) != 0) {
            odin_strbuf_printf(why, "error \"%s\", want \"%s\"", err->msg, ev->fail_msg);
            return false;
        }
        return true;
    }
    if (!r) {
        odin_strbuf_printf(why, "query failed: %s", err->msg);
        return false;
    }
    bool ok = check_annotations(ev, r, why);
    if (ev->has_scalar) {
        if (r->type != PROMQL_TYPE_SCALAR || !almost_equal(r->scalar, ev->scalar)) {
            odin_strbuf_puts(why, "scalar want ");
            odin_strbuf_put_double(why, ev->scalar);
            if (r->type == PROMQL_TYPE_SCALAR) {
                odin_strbuf_puts(why, " got ");
                odin_strbuf_put_double(why, r->scalar);
            } else {
                odin_strbuf_printf(why, " got a %s", promql_type_name(r->type));
            }
            return false;
        }
        return ok;
    }
    if (ev->has_string) {
        if (r->type != PROMQL_TYPE_STRING || strcmp(r->string, ev->string) != 0) {
            odin_strbuf_printf(why, "string want \"%s\"", ev->string);
            return false;
        }
        return ok;
    }
    if (ev->range) {
        return check_matrix(ev, r, ev->start, ev->step, why) && ok;
    }
    if (ev->has_rangevec || r->type == PROMQL_TYPE_MATRIX) {
        return check_matrix(ev, r, ev->rv_from, ev->rv_step ? ev->rv_step : 1, why) && ok;
    }
    return check_vector(st, 0, ev, r, why) && ok;
}

static size_t eval_cmd(tr_state *st, size_t at, odin_str cmd, odin_str rest)
{
    tr_eval ev;
    memset(&ev, 0, sizeof(ev));
    ev.fail = odin_str_eq_c(cmd, "eval_fail");
    ev.want_warn = odin_str_eq_c(cmd, "eval_warn");
    ev.want_info = odin_str_eq_c(cmd, "eval_info");
    ev.ordered = odin_str_eq_c(cmd, "eval_ordered");
    bool bad = false;
    if (take_word(&rest, "instant")) {
        bad = !take_word(&rest, "at") || take_time(&rest, &ev.start) < 0;
        ev.end = ev.start;
    } else if (take_word(&rest, "range")) {
        ev.range = true;
        bad = !take_word(&rest, "from") || take_time(&rest, &ev.start) < 0 ||
              !take_word(&rest, "to") || take_time(&rest, &ev.end) < 0 ||
              !take_word(&rest, "step") || take_time(&rest, &ev.step) < 0 || ev.end < ev.start;
    } else {
        bad = true;
    }
    odin_str q = odin_str_trim(rest);
    size_t next = parse_eval_block(st, at, &ev, &bad);
    if (bad) {
        report(st, at, "invalid eval command");
        st->failed++;
        return next;
    }
    const char *skip = skip_reason(st, &ev, q);
    if (skip) {
        report(st, at, "SKIP %s", skip);
        st->skipped++;
        return next;
    }
    odin_err err;
    odin_err_clear(&err);
    promql_parse_opts popts = {.experimental_functions = true};
    promql_result *r = ev_query(st->eng, st->db, q.p, q.len, ev.start, ev.end,
                                ev.range ? ev.step : 0, ev.range, &popts, &err);
    odin_strbuf why;
    odin_strbuf_init(&why, 1 << 16);
    if (run_checks(st, &ev, r, &err, &why)) {
        st->passed++;
    } else {
        report(st, at, "FAIL %.*s: %s", (int)(q.len > 120 ? 120 : q.len), q.p,
               why.p ? why.p : "");
        st->failed++;
    }
    odin_strbuf_fini(&why);
    promql_result_free(r);
    return next;
}

static void split_lines(tr_state *st, const odin_strbuf *text)
{
    size_t n = 1;
    for (size_t i = 0; i < text->len; i++) {
        n += text->p[i] == '\n';
    }
    st->lines = tr_alloc(st, n * sizeof(odin_str));
    odin_str rest = {text->p ? text->p : "", text->len};
    while (st->nlines < n) {
        odin_str l = odin_str_trim(odin_str_cut(&rest, '\n'));
        if (l.len && l.p[0] == '#') {
            l.len = 0;
        }
        st->lines[st->nlines++] = l;
        if (!rest.len) {
            break;
        }
    }
}

static void run_script(tr_state *st)
{
    size_t i = 0;
    while (i < st->nlines) {
        odin_str l = st->lines[i];
        if (!l.len) {
            i++;
            continue;
        }
        odin_str rest = l;
        odin_str cmd = odin_str_field(&rest);
        if (odin_str_eq_c(cmd, "clear")) {
            odin_err err;
            odin_err_clear(&err);
            if (open_db(st, &err) < 0) {
                report(st, i, "clear: %s", err.msg);
            }
            i++;
        } else if (odin_str_has_prefix(cmd, "load")) {
            if (load_block(st, i, cmd, rest, &i) < 0) {
                st->failed++;
            }
        } else if (odin_str_has_prefix(cmd, "eval")) {
            i = eval_cmd(st, i, cmd, rest);
        } else {
            report(st, i, "invalid command \"%.*s\"", (int)cmd.len, cmd.p);
            st->failed++;
            i = block_end(st, i);
        }
    }
}

int promql_test_run_file(const char *path, odin_strbuf *out, int *passed, int *failed)
{
    tr_state st = {.path = path, .out = out};
    odin_arena_init(&st.arena, 0);
    odin_strbuf text;
    odin_strbuf_init(&text, 64u << 20);
    odin_err err;
    odin_err_clear(&err);
    int nfailed = 0;
    if (odin_read_file(path, &text, 64u << 20, &err) < 0 || open_db(&st, &err) < 0) {
        odin_strbuf_printf(out, "%s: %s\n", path, err.msg);
        nfailed = 1;
        goto done;
    }
    promql_engine_opts eo = {.lookback_delta_ms = 5 * 60 * 1000, .timeout_ms = 100 * 1000};
    st.eng = promql_engine_new(&eo);
    split_lines(&st, &text);
    run_script(&st);
    odin_strbuf_printf(out, "%s: %d passed, %d failed, %d skipped\n", path, st.passed, st.failed,
                       st.skipped);
    nfailed = st.failed;
done:
    if (passed) {
        *passed = st.passed;
    }
    if (failed) {
        *failed = nfailed;
    }
    promql_engine_free(st.eng);
    tsdb_close(st.db);
    odin_strbuf_fini(&text);
    odin_arena_fini(&st.arena);
    return nfailed;
}
