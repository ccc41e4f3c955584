/* GET /federate: the latest sample of every series matching match[] within the lookback window,
 * as text format 0.0.4 with the external labels added, as Prometheus 2.42's web/federate.go
 * writes it. Native histograms do not exist in Odin's tsdb, so there is nothing to skip. */
#include <stdlib.h>
#include <string.h>

#include "expfmt/expfmt.h"
#include "web/web_int.h"

void web_api_set_external_labels(web_api *api, odin_labels ls)
{
    size_t bytes = 0;
    for (size_t i = 0; i < ls.len; i++) {
        bytes += ls.v[i].name.len + ls.v[i].value.len + 2;
    }
    odin_label *v = ls.len > 0 ? odin_calloc(ls.len, sizeof *v) : NULL;
    char *storage = bytes > 0 ? odin_calloc(1, bytes) : NULL;
    char *p = storage;
    for (size_t i = 0; i < ls.len; i++) {
        odin_str parts[2] = {ls.v[i].name, ls.v[i].value};
        for (size_t k = 0; k < 2; k++) {
            if (parts[k].len > 0) {
                memcpy(p, parts[k].p, parts[k].len);
            }
            p[parts[k].len] = '\0';
            odin_str copy = {p, parts[k].len};
            if (k == 0) {
                v[i].name = copy;
            } else {
                v[i].value = copy;
            }
            p += parts[k].len + 1;
        }
    }
    if (v != NULL) {
        odin_labels_sort(v, ls.len);
    }
    pthread_mutex_lock(&api->lock);
    odin_label *old = (odin_label *)api->external.v;
    char *old_storage = api->external_storage;
    api->external = (odin_labels){v, ls.len};
    api->external_storage = storage;
    pthread_mutex_unlock(&api->lock);
    free(old);
    free(old_storage);
}

/* More selectors than any sane federation config has; one past it is refused. */
enum { FEDERATE_MAX_SELECTORS = 1024 };

/* One federated sample. */
typedef struct {
    odin_labels labels;
    odin_str name;
    int64_t t;
    double v;
} fed_sample;

static int fed_order(const void *a, const void *b)
{
    const fed_sample *x = a, *y = b;
    int c = odin_str_cmp(x->name, y->name);
    return c != 0 ? c : odin_labels_cmp(x->labels, y->labels);
}

static void querier_cleanup(void *q)
{
    tsdb_querier_close(q);
}

/* Go's http.Error: plain text, the message and a newline. */
static void plain_error(http_response *resp, int status, const char *msg)
{
    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    http_response_header(resp, "X-Content-Type-Options", "nosniff");
    odin_strbuf_puts(&resp->body, msg);
    odin_strbuf_putc(&resp->body, '\n');
}

typedef struct {
    fed_sample *v;
    size_t len, cap;
} fed_vec;

static bool fed_push(fed_vec *vec, odin_arena *a, fed_sample s)
{
    if (vec->len == vec->cap) {
        size_t cap = vec->cap ? vec->cap * 2 : 1024;
        fed_sample *v = odin_arena_alloc(a, cap * sizeof *v);
        if (v == NULL) {
            return false;
        }
        if (vec->len > 0) {
            memcpy(v, vec->v, vec->len * sizeof *v);
        }
        vec->v = v;
        vec->cap = cap;
    }
    vec->v[vec->len++] = s;
    return true;
}

/* The latest sample of each series of one matcher set. Matches Prometheus 2.42: a series whose
 * latest sample is a stale marker is left out (the exposition format cannot carry one). */
static int collect(tsdb_querier *q, const tsdb_matcher *ms, size_t n, odin_arena *a, fed_vec *out,
                   odin_err *err)
{
    tsdb_series_set *set = tsdb_querier_select(q, ms, n, err);
    if (set == NULL) {
        return -ODIN_ERR_INVALID;
    }
    while (tsdb_series_next(set)) {
        tsdb_iter it;
        int64_t t, last_t = 0;
        double v, last_v = 0;
        bool any = false;
        tsdb_series_iter(set, &it);
        while (tsdb_iter_next(&it, &t, &v)) {
            last_t = t;
            last_v = v;
            any = true;
        }
        if (!any || tsdb_is_stale(last_v)) {
            continue;
        }
        odin_labels ls = tsdb_series_labels(set);
        const odin_str *name = odin_labels_get(ls, "__name__");
        if (name == NULL || name->len == 0) {
            continue; /* Prometheus ignores nameless metrics (and logs a warning) */
        }
        if (!fed_push(out, a, (fed_sample){ls, *name, last_t, last_v})) {
            return odin_err_set(err, ODIN_ERR_LIMIT, "request memory limit reached");
        }
    }
    return 0;
}

/* The sample's labels without __name__ and empty values, then each external label the series
 * lacks, in name order: Prometheus appends them after the series' own labels. */
static odin_labels output_labels(const fed_sample *s, odin_labels ext, odin_arena *a)
{
    odin_label *v = odin_arena_alloc(a, (s->labels.len + ext.len + 1) * sizeof *v);
    if (v == NULL) {
        return (odin_labels){NULL, 0};
    }
    size_t n = 0;
    for (size_t i = 0; i < s->labels.len; i++) {
        const odin_label *l = &s->labels.v[i];
        if (l->value.len > 0 && !odin_str_eq(l->name, ODIN_STR("__name__"))) {
            v[n++] = *l;
        }
    }
    size_t own = n;
    for (size_t i = 0; i < ext.len; i++) {
        bool used = false;
        for (size_t k = 0; k < own && !used; k++) {
            used = odin_str_eq(v[k].name, ext.v[i].name);
        }
        if (!used) {
            v[n++] = ext.v[i];
        }
    }
    return (odin_labels){v, n};
}

/* External labels plus instance="" when they lack one (Prometheus 2.42 always adds it). */
static odin_labels external_with_instance(web_api *api, odin_arena *a)
{
    pthread_mutex_lock(&api->lock);
    odin_labels src = api->external;
    odin_label *v = odin_arena_alloc(a, (src.len + 2) * sizeof *v);
    size_t n = 0;
    bool has_instance = false;
    for (size_t i = 0; v != NULL && i < src.len; i++) {
        v[n].name = odin_str_c(odin_arena_strndup(a, src.v[i].name.p, src.v[i].name.len));
        v[n].value = odin_str_c(odin_arena_strndup(a, src.v[i].value.p, src.v[i].value.len));
        has_instance = has_instance || odin_str_eq(src.v[i].name, ODIN_STR("instance"));
        n++;
    }
    pthread_mutex_unlock(&api->lock);
    if (v == NULL) {
        return (odin_labels){NULL, 0};
    }
    if (!has_instance) {
        v[n++] = (odin_label){ODIN_STR("instance"), ODIN_STR("")};
        odin_labels_sort(v, n);
    }
    return (odin_labels){v, n};
}

static void write_families(odin_strbuf *out, const fed_vec *vec, odin_labels ext, odin_arena *a)
{
    expfmt_sample *samples = odin_arena_alloc(a, (vec->len + 1) * sizeof *samples);
    if (samples == NULL) {
        return;
    }
    for (size_t i = 0; i < vec->len;) {
        size_t end = i;
        while (end < vec->len && odin_str_eq(vec->v[end].name, vec->v[i].name)) {
            const fed_sample *s = &vec->v[end];
            samples[end - i] = (expfmt_sample){
                .labels = output_labels(s, ext, a), .value = s->v, .t_ms = s->t, .has_t = true};
            end++;
        }
        expfmt_family f = {
            .name = vec->v[i].name, .type = EXPFMT_UNTYPED, .samples = samples, .len = end - i};
        expfmt_write_family(out, &f);
        i = end;
    }
}

static void handle_federate(web_api *api, http_request *req, http_response *resp)
{
    odin_arena *a = http_request_arena(req);
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    const char **sel = odin_arena_alloc(a, FEDERATE_MAX_SELECTORS * sizeof *sel);
    if (sel == NULL) {
        plain_error(resp, 500, "request memory limit reached");
        return;
    }
    size_t nsel = http_request_params(req, "match[]", sel, FEDERATE_MAX_SELECTORS);
    if (nsel == FEDERATE_MAX_SELECTORS) {
        plain_error(resp, 400, "too many match[] parameters");
        return;
    }
    tsdb_matcher **ms = odin_arena_alloc(a, (nsel + 1) * sizeof *ms);
    size_t *nms = odin_arena_alloc(a, (nsel + 1) * sizeof *nms);
    odin_err err;
    odin_err_clear(&err);
    for (size_t i = 0; ms != NULL && nms != NULL && i < nsel; i++) {
        if (web_parse_selector(odin_str_c(sel[i]), a, &ms[i], &nms[i], &err) < 0) {
            plain_error(resp, 400, err.msg);
            return;
        }
    }
    if (nsel == 0) {
        return; /* matches Prometheus 2.42: no match[] is an empty 200 */
    }
    int64_t maxt = odin_now_ms();
    tsdb_querier *q = tsdb_querier_open(api->db, maxt - api->lookback_delta_ms, maxt);
    if (q == NULL) {
        plain_error(resp, 500, "cannot open a querier");
        return;
    }
    odin_arena_on_reset(a, querier_cleanup, q);
    fed_vec vec = {0};
    for (size_t i = 0; i < nsel; i++) {
        if (collect(q, ms[i], nms[i], a, &vec, &err) < 0) {
            plain_error(resp, err.code == ODIN_ERR_LIMIT ? 500 : 400, err.msg);
            return;
        }
    }
    qsort(vec.v, vec.len, sizeof *vec.v, fed_order);
    /* Several match[] may select one series; Prometheus merges the sets. */
    size_t w = 0;
    for (size_t i = 0; i < vec.len; i++) {
        if (w == 0 || odin_labels_cmp(vec.v[i].labels, vec.v[w - 1].labels) != 0) {
            vec.v[w++] = vec.v[i];
        }
    }
    vec.len = w;
    write_families(&resp->body, &vec, external_with_instance(api, a), a);
}

void web_register_federate(web_api *api, http_server *srv)
{
    web_route(api, srv, "GET", "/federate", handle_federate, true);
}
