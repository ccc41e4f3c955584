/* Targets from discovered groups: default labels, relabeling, validation, the public label set and
 * the scrape URL, following Prometheus' PopulateLabels and Target.URL. Pure functions over an
 * arena. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scrape/loop_int.h"

/* A label set under construction: unsorted, small, in the arena. */
typedef struct {
    odin_label *v;
    size_t len, cap;
    odin_arena *a;
} lbuild;

static odin_str lb_get(const lbuild *b, const char *name)
{
    for (size_t i = 0; i < b->len; i++) {
        if (odin_str_eq_c(b->v[i].name, name)) {
            return b->v[i].value;
        }
    }
    return (odin_str){"", 0};
}

static bool lb_has(const lbuild *b, odin_str name)
{
    for (size_t i = 0; i < b->len; i++) {
        if (odin_str_eq(b->v[i].name, name)) {
            return b->v[i].value.len > 0;
        }
    }
    return false;
}

static void lb_set(lbuild *b, odin_str name, odin_str value)
{
    for (size_t i = 0; i < b->len; i++) {
        if (odin_str_eq(b->v[i].name, name)) {
            b->v[i].value = value;
            return;
        }
    }
    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        odin_label *v = odin_arena_alloc(b->a, cap * sizeof *v);
        if (v == NULL) {
            odin_oom();
        }
        if (b->len > 0) {
            memcpy(v, b->v, b->len * sizeof *v);
        }
        b->v = v;
        b->cap = cap;
    }
    b->v[b->len++] = (odin_label){name, value};
}

static void lb_set_default(lbuild *b, const char *name, odin_str value)
{
    if (lb_get(b, name).len == 0) {
        lb_set(b, odin_str_c(name), value);
    }
}

/* Sorted copy without empty values (an empty value means "no label", as in Prometheus). */
static odin_labels lb_finish(lbuild *b)
{
    size_t w = 0;
    for (size_t i = 0; i < b->len; i++) {
        if (b->v[i].value.len > 0) {
            b->v[w++] = b->v[i];
        }
    }
    b->len = w;
    odin_labels_sort(b->v, b->len);
    return (odin_labels){b->v, b->len};
}

/* Prometheus' model.Duration.String: 1m30s, 500ms, 1d, 1w. */
static odin_str fmt_duration(odin_arena *a, int64_t ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"y", 365LL * 86400000},
                 {"w", 7LL * 86400000},
                 {"d", 86400000},
                 {"h", 3600000},
                 {"m", 60000},
                 {"s", 1000},
                 {"ms", 1}};
    odin_strbuf b;
    odin_strbuf_init(&b, 64);
    if (ms <= 0) {
        odin_strbuf_puts(&b, "0s");
    }
    for (size_t i = 0; ms > 0 && i < ODIN_ARRAY_LEN(units); i++) {
        if (ms >= units[i].ms) {
            odin_strbuf_put_i64(&b, ms / units[i].ms);
            odin_strbuf_puts(&b, units[i].unit);
            ms %= units[i].ms;
        }
    }
    char *s = odin_arena_strndup(a, b.p, b.len);
    size_t n = b.len;
    odin_strbuf_fini(&b);
    return (odin_str){s, n};
}

odin_labels scrape_labels_dup(odin_labels in, char **storage)
{
    size_t bytes = 0;
    for (size_t i = 0; i < in.len; i++) {
        bytes += in.v[i].name.len + in.v[i].value.len + 2;
    }
    odin_label *v = odin_calloc(in.len + 1, sizeof *v);
    char *p = odin_malloc(bytes + 1);
    *storage = p;
    for (size_t i = 0; i < in.len; i++) {
        memcpy(p, in.v[i].name.p, in.v[i].name.len);
        p[in.v[i].name.len] = '\0';
        v[i].name = (odin_str){p, in.v[i].name.len};
        p += in.v[i].name.len + 1;
        memcpy(p, in.v[i].value.p, in.v[i].value.len);
        p[in.v[i].value.len] = '\0';
        v[i].value = (odin_str){p, in.v[i].value.len};
        p += in.v[i].value.len + 1;
    }
    return (odin_labels){v, in.len};
}

/* Go's url.QueryEscape. */
static void query_escape(odin_strbuf *b, odin_str s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_' || c == '.' || c == '~';
        if (plain) {
            odin_strbuf_putc(b, (char)c);
        } else if (c == ' ') {
            odin_strbuf_putc(b, '+');
        } else {
            odin_strbuf_putc(b, '%');
            odin_strbuf_putc(b, hex[c >> 4]);
            odin_strbuf_putc(b, hex[c & 15]);
        }
    }
}

typedef struct {
    odin_str name, value;
} qparam;

static int qparam_cmp(const void *x, const void *y)
{
    const qparam *a = x, *b = y;
    return odin_str_cmp(a->name, b->name);
}

/* scheme://address/path?params: config params, with __param_<name> replacing the first value of
 * <name>; keys sorted as url.Values.Encode sorts them (values keep their order). */
static char *build_url(const scrape_job *job, odin_labels all, odin_arena *a)
{
    size_t cap = job->nparams + all.len + 1;
    qparam *ps = odin_arena_alloc(a, cap * sizeof *ps);
    if (ps == NULL) {
        odin_oom();
    }
    size_t n = 0;
    for (size_t i = 0; i < job->nparams; i++) {
        ps[n++] = (qparam){job->params[i].name, job->params[i].value};
    }
    for (size_t i = 0; i < all.len; i++) {
        if (!odin_str_has_prefix(all.v[i].name, "__param_")) {
            continue;
        }
        odin_str k = {all.v[i].name.p + 8, all.v[i].name.len - 8};
        size_t j = 0;
        while (j < n && !odin_str_eq(ps[j].name, k)) {
            j++;
        }
        if (j < n) {
            ps[j].value = all.v[i].value;
        } else {
            ps[n++] = (qparam){k, all.v[i].value};
        }
    }
    /* insertion sort keeps equal keys in order (qsort is not stable) */
    for (size_t i = 1; i < n; i++) {
        qparam t = ps[i];
        size_t j = i;
        while (j > 0 && qparam_cmp(&ps[j - 1], &t) > 0) {
            ps[j] = ps[j - 1];
            j--;
        }
        ps[j] = t;
    }
    const odin_str *scheme = odin_labels_get(all, "__scheme__");
    const odin_str *addr = odin_labels_get(all, "__address__");
    const odin_str *path = odin_labels_get(all, "__metrics_path__");
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    if (scheme != NULL) {
        odin_strbuf_putstr(&b, *scheme);
    }
    odin_strbuf_puts(&b, "://");
    if (addr != NULL) {
        odin_strbuf_putstr(&b, *addr);
    }
    if (path != NULL) {
        if (path->len > 0 && path->p[0] != '/') {
            odin_strbuf_putc(&b, '/');
        }
        odin_strbuf_putstr(&b, *path);
    }
    for (size_t i = 0; i < n; i++) {
        odin_strbuf_putc(&b, i == 0 ? '?' : '&');
        query_escape(&b, ps[i].name);
        odin_strbuf_putc(&b, '=');
        query_escape(&b, ps[i].value);
    }
    char *url = odin_arena_strndup(a, b.p != NULL ? b.p : "", b.len);
    odin_strbuf_fini(&b);
    return url;
}

static void populate_discovered(lbuild *b, const scrape_job *job, const discovery_group *g,
                                size_t i)
{
    if (g->target_labels != NULL && g->ntarget_labels != NULL) {
        for (size_t k = 0; k < g->ntarget_labels[i]; k++) {
            lb_set(b, g->target_labels[i][k].name, g->target_labels[i][k].value);
        }
    }
    lb_set_default(b, "__address__", odin_str_c(g->targets[i] != NULL ? g->targets[i] : ""));
    for (size_t k = 0; k < g->nlabels; k++) {
        if (!lb_has(b, g->labels[k].name)) {
            lb_set(b, g->labels[k].name, g->labels[k].value);
        }
    }
    lb_set_default(b, "job", odin_str_c(job->job_name != NULL ? job->job_name : ""));
    lb_set_default(b, "__scrape_interval__", fmt_duration(b->a, job->scrape_interval_ms));
    lb_set_default(b, "__scrape_timeout__", fmt_duration(b->a, job->scrape_timeout_ms));
    lb_set_default(b, "__metrics_path__",
                   odin_str_c(job->metrics_path != NULL ? job->metrics_path : "/metrics"));
    lb_set_default(b, "__scheme__", odin_str_c(job->scheme != NULL ? job->scheme : "http"));
    for (size_t k = 0; k < job->nparams; k++) {
        char *name = odin_arena_printf(b->a, "__param_%.*s", (int)job->params[k].name.len,
                                       job->params[k].name.p);
        lb_set_default(b, name, job->params[k].value);
    }
}

static int parse_dur_label(odin_labels ls, const char *name, const char *what, int64_t *out,
                           odin_err *err)
{
    const odin_str *v = odin_labels_get(ls, name);
    odin_str s = v != NULL ? *v : (odin_str){"", 0};
    if (odin_parse_duration_ms(s, out) < 0) {
        return odin_err_set(err, ODIN_ERR_INVALID, "error parsing scrape %s: %.*s", what,
                            (int)(s.len > 64 ? 64 : s.len), s.p);
    }
    if (*out == 0) {
        return odin_err_set(err, ODIN_ERR_INVALID, "scrape %s cannot be 0", what);
    }
    return 0;
}

int scrape_target_build(const scrape_job *job, const discovery_group *g, size_t i, odin_arena *a,
                        scrape_target *out, odin_err *err)
{
    memset(out, 0, sizeof *out);
    lbuild b = {.a = a};
    populate_discovered(&b, job, g, i);
    odin_labels disc = lb_finish(&b);
    out->discovered = disc;
    odin_labels res = disc;
    if (job->nrelabel > 0 && !relabel_process(job->relabel, job->nrelabel, disc, a, &res)) {
        return 0;
    }
    if (res.len == 0) {
        return 0;
    }
    const odin_str *addr = odin_labels_get(res, "__address__");
    if (addr == NULL || addr->len == 0) {
        return odin_err_set(err, ODIN_ERR_INVALID, "no address");
    }
    if (memchr(addr->p, '/', addr->len) != NULL) {
        return odin_err_set(err, ODIN_ERR_INVALID, "\"%.*s\" is not a valid hostname",
                            (int)(addr->len > 64 ? 64 : addr->len), addr->p);
    }
    if (parse_dur_label(res, "__scrape_interval__", "interval", &out->interval_ms, err) < 0 ||
        parse_dur_label(res, "__scrape_timeout__", "timeout", &out->timeout_ms, err) < 0) {
        return -ODIN_ERR_INVALID;
    }
    if (out->timeout_ms > out->interval_ms) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "scrape timeout cannot be greater than scrape interval");
    }
    /* Meta labels go after relabeling; instance defaults to the address. */
    lbuild f = {.a = a};
    for (size_t k = 0; k < res.len; k++) {
        if (!odin_str_has_prefix(res.v[k].name, "__meta_")) {
            lb_set(&f, res.v[k].name, res.v[k].value);
        }
    }
    lb_set_default(&f, "instance", *addr);
    out->all = lb_finish(&f);
    odin_label *pv = odin_arena_alloc(a, (out->all.len + 1) * sizeof *pv);
    if (pv == NULL) {
        odin_oom();
    }
    size_t np = 0;
    for (size_t k = 0; k < out->all.len; k++) {
        if (!odin_str_has_prefix(out->all.v[k].name, "__")) {
            pv[np++] = out->all.v[k];
        }
    }
    out->pub = (odin_labels){pv, np};
    out->url = build_url(job, out->all, a);
    odin_strbuf hb;
    odin_strbuf_init(&hb, 0);
    for (size_t k = 0; k < out->all.len; k++) {
        odin_strbuf_putstr(&hb, out->all.v[k].name);
        odin_strbuf_putc(&hb, '\xff');
        odin_strbuf_putstr(&hb, out->all.v[k].value);
        odin_strbuf_putc(&hb, '\xff');
    }
    odin_strbuf_puts(&hb, out->url);
    out->hash = odin_hash_stable(hb.p, hb.len, 0x6f64696e);
    odin_strbuf_fini(&hb);
    return 1;
}

/* Prometheus' Target.offset: pinned to absolute time, so restarts keep each target's phase. */
int64_t scrape_target_offset_ms(uint64_t hash, uint64_t seed, int64_t interval_ms, int64_t now_ms)
{
    if (interval_ms <= 0) {
        return 0;
    }
    int64_t base = interval_ms - now_ms % interval_ms;
    int64_t offset = (int64_t)((hash ^ seed) % (uint64_t)interval_ms);
    int64_t next = base + offset;
    if (next > interval_ms) {
        next -= interval_ms;
    }
    return next;
}

char *scrape_target_global_url(const char *url, odin_arena *a)
{
    const char *h = strstr(url, "://");
    if (h == NULL) {
        return odin_arena_strdup(a, url);
    }
    h += 3;
    size_t hl = strcspn(h, "/?");
    const char *colon = NULL;
    if (h[0] == '[') {
        const char *rb = memchr(h, ']', hl);
        colon = rb != NULL ? rb + 1 : NULL;
    } else {
        colon = memchr(h, ':', hl);
    }
    size_t host_len = colon != NULL ? (size_t)(colon - h) : hl;
    odin_str host = {h, host_len};
    bool loop = odin_str_eq_c(host, "localhost") || odin_str_has_prefix(host, "127.") ||
                odin_str_eq_c(host, "[::1]");
    char name[256];
    if (!loop || gethostname(name, sizeof name) != 0) {
        return odin_arena_strdup(a, url);
    }
    name[sizeof name - 1] = '\0';
    return odin_arena_printf(a, "%.*s%s%s", (int)(h - url), url, name, h + host_len);
}
