/* Metadata from the tsdb alone: /api/v1/series, /labels, /label/<name>/values, and the admin
 * calls (/api/v1/admin/tsdb/...) behind --web.enable-admin-api. */
#include <stdlib.h>
#include <string.h>

#include "web/web_int.h"

static void querier_cleanup(void *q)
{
    tsdb_querier_close(q);
}

/* A querier for [mint, maxt] closed when the request's arena is reset. */
static tsdb_querier *open_querier(web_api *api, http_request *req, http_response *resp,
                                  int64_t mint, int64_t maxt)
{
    tsdb_querier *q = tsdb_querier_open(api->db, mint, maxt);
    if (q == NULL) {
        web_respond_error(resp, WEB_ERR_INTERNAL, "cannot open a querier");
        return NULL;
    }
    odin_arena_on_reset(http_request_arena(req), querier_cleanup, q);
    return q;
}

static const char *const truncated[] = {"results truncated due to limit"};

/* ---- /api/v1/series --------------------------------------------------------------------------- */

static int labels_order(const void *a, const void *b)
{
    return odin_labels_cmp(*(const odin_labels *)a, *(const odin_labels *)b);
}

/* Every series of every set with a sample in the querier's range (Prometheus skips series
 * whose chunks miss the range), sorted and without duplicates (Prometheus merges the sets). */
static odin_labels *collect_series(tsdb_querier *q, odin_arena *a, const web_matcher_set *sets,
                                   size_t nsets, size_t *n, odin_err *err)
{
    size_t cap = 64;
    size_t len = 0;
    odin_labels *v = odin_arena_alloc(a, cap * sizeof *v);
    for (size_t i = 0; i < nsets && v != NULL; i++) {
        tsdb_series_set *set = tsdb_querier_select(q, sets[i].ms, sets[i].n, err);
        if (set == NULL) {
            return NULL;
        }
        while (v != NULL && tsdb_series_next(set)) {
            tsdb_iter it;
            int64_t t;
            double val;
            tsdb_series_iter(set, &it);
            if (!tsdb_iter_next(&it, &t, &val)) {
                continue;
            }
            if (len == cap) {
                odin_labels *grown = odin_arena_alloc(a, 2 * cap * sizeof *v);
                if (grown != NULL) {
                    memcpy(grown, v, len * sizeof *v);
                }
                v = grown;
                cap *= 2;
                if (v == NULL) {
                    break;
                }
            }
            v[len++] = tsdb_series_labels(set);
        }
    }
    if (v == NULL) {
        odin_err_set(err, ODIN_ERR_LIMIT, "request memory limit reached");
        return NULL;
    }
    if (nsets > 1 && len > 1) {
        qsort(v, len, sizeof *v, labels_order);
        size_t w = 1;
        for (size_t i = 1; i < len; i++) {
            if (odin_labels_cmp(v[i], v[w - 1]) != 0) {
                v[w++] = v[i];
            }
        }
        len = w;
    }
    *n = len;
    return v;
}

static void handle_series(web_api *api, http_request *req, http_response *resp)
{
    const char *one;
    if (http_request_params(req, "match[]", &one, 1) == 0) {
        web_respond_error(resp, WEB_ERR_BAD_DATA, "no match[] parameter provided");
        return;
    }
    size_t limit;
    int64_t start, end;
    web_matcher_set *sets;
    size_t nsets;
    if (!web_limit_param(req, resp, &limit) ||
        !web_time_param(req, resp, "start", WEB_MIN_TIME_MS, &start) ||
        !web_time_param(req, resp, "end", WEB_MAX_TIME_MS, &end) ||
        !web_match_params(req, resp, true, &sets, &nsets)) {
        return;
    }
    tsdb_querier *q = open_querier(api, req, resp, start, end);
    if (q == NULL) {
        return;
    }
    odin_err err;
    odin_err_clear(&err);
    size_t n = 0;
    odin_labels *all = collect_series(q, http_request_arena(req), sets, nsets, &n, &err);
    if (all == NULL) {
        web_respond_error(resp, WEB_ERR_EXECUTION, err.msg);
        return;
    }
    bool cut = limit > 0 && n > limit;
    n = cut ? limit : n;
    web_json j;
    web_respond_begin(resp, &j);
    web_json_arr_begin(&j);
    for (size_t i = 0; i < n; i++) {
        web_json_labels(&j, all[i]);
    }
    web_json_arr_end(&j);
    web_respond_end(resp, &j, truncated, cut ? 1 : 0);
}

/* ---- /api/v1/labels and /api/v1/label/<name>/values ------------------------------------------- */

static int str_order(const void *a, const void *b)
{
    return odin_str_cmp(*(const odin_str *)a, *(const odin_str *)b);
}

/* Label names (name == NULL) or values of one name over every matcher set, sorted, unique. */
static int collect_strings(tsdb_querier *q, odin_arena *a, const char *name,
                           const web_matcher_set *sets, size_t nsets, odin_str **out, size_t *n,
                           odin_err *err)
{
    size_t rounds = nsets > 0 ? nsets : 1;
    size_t total = 0;
    const odin_str **parts = odin_arena_alloc(a, rounds * sizeof *parts);
    size_t *counts = odin_arena_alloc(a, rounds * sizeof *counts);
    if (parts == NULL || counts == NULL) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "request memory limit reached");
    }
    for (size_t i = 0; i < rounds; i++) {
        const tsdb_matcher *ms = nsets > 0 ? sets[i].ms : NULL;
        size_t nms = nsets > 0 ? sets[i].n : 0;
        int rc = name == NULL
                     ? tsdb_querier_label_names(q, ms, nms, &parts[i], &counts[i], err)
                     : tsdb_querier_label_values(q, name, ms, nms, &parts[i], &counts[i], err);
        if (rc < 0) {
            return rc;
        }
        total += counts[i];
    }
    odin_str *v = odin_arena_alloc(a, (total + 1) * sizeof *v);
    if (v == NULL) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "request memory limit reached");
    }
    size_t len = 0;
    for (size_t i = 0; i < rounds; i++) {
        memcpy(v + len, parts[i], counts[i] * sizeof *v);
        len += counts[i];
    }
    if (rounds > 1 && len > 1) {
        qsort(v, len, sizeof *v, str_order);
        size_t w = 1;
        for (size_t i = 1; i < len; i++) {
            if (!odin_str_eq(v[i], v[w - 1])) {
                v[w++] = v[i];
            }
        }
        len = w;
    }
    *out = v;
    *n = len;
    return 0;
}

static void answer_strings(web_api *api, http_request *req, http_response *resp, const char *name)
{
    size_t limit;
    int64_t start, end;
    web_matcher_set *sets;
    size_t nsets;
    if (!web_limit_param(req, resp, &limit) ||
        !web_time_param(req, resp, "start", WEB_MIN_TIME_MS, &start) ||
        !web_time_param(req, resp, "end", WEB_MAX_TIME_MS, &end) ||
        !web_match_params(req, resp, false, &sets, &nsets)) {
        return;
    }
    tsdb_querier *q = open_querier(api, req, resp, start, end);
    if (q == NULL) {
        return;
    }
    odin_err err;
    odin_err_clear(&err);
    odin_str *v = NULL;
    size_t n = 0;
    if (collect_strings(q, http_request_arena(req), name, sets, nsets, &v, &n, &err) < 0) {
        web_respond_error(resp, WEB_ERR_EXECUTION, err.msg);
        return;
    }
    bool cut = limit > 0 && n > limit;
    n = cut ? limit : n;
    web_json j;
    web_respond_begin(resp, &j);
    web_json_arr_begin(&j);
    for (size_t i = 0; i < n; i++) {
        web_json_str(&j, v[i]);
    }
    web_json_arr_end(&j);
    web_respond_end(resp, &j, truncated, cut ? 1 : 0);
}

static void handle_labels(web_api *api, http_request *req, http_response *resp)
{
    answer_strings(api, req, resp, NULL);
}

/* Prometheus 3's "U__" escaping of UTF-8 names: `__` is `_`, `_<hex>_` a code point. Returns
 * NULL when the text is not a valid escape, so the name is taken literally. */
static char *unescape_name(odin_arena *a, odin_str s)
{
    odin_strbuf b;
    odin_strbuf_init(&b, s.len + 8);
    bool ok = true;
    for (size_t i = 3; i < s.len && ok; i++) {
        if (s.p[i] != '_') {
            odin_strbuf_putc(&b, s.p[i]);
            continue;
        }
        if (i + 1 < s.len && s.p[i + 1] == '_') {
            odin_strbuf_putc(&b, '_');
            i++;
            continue;
        }
        size_t k = i + 1;
        while (k < s.len && s.p[k] != '_') {
            k++;
        }
        uint64_t cp;
        ok = k < s.len && k > i + 1 && k - i - 1 <= 6 &&
             odin_parse_hex_u64((odin_str){s.p + i + 1, k - i - 1}, &cp) == 0 && cp <= 0x10ffff &&
             cp > 0 && !(cp >= 0xd800 && cp <= 0xdfff);
        if (ok) {
            char u[4];
            size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            static const unsigned char lead[] = {0, 0, 0xc0, 0xe0, 0xf0};
            for (size_t m = n - 1; m > 0; m--) {
                u[m] = (char)(0x80 | (cp & 0x3f));
                cp >>= 6;
            }
            u[0] = (char)(lead[n] | cp);
            odin_strbuf_put(&b, u, n);
            i = k;
        }
    }
    char *out = ok && b.len > 0 ? odin_arena_strndup(a, b.p, b.len) : NULL;
    odin_strbuf_fini(&b);
    return out;
}

static void not_found(http_response *resp)
{
    resp->status = 404;
    odin_strbuf_puts(&resp->body, "404 page not found\n");
}

static void handle_label_values(web_api *api, http_request *req, http_response *resp)
{
    static const char prefix[] = "/api/v1/label/";
    odin_str path = odin_str_c(http_request_path(req));
    if (!odin_str_has_prefix(path, prefix) || !odin_str_has_suffix(path, "/values")) {
        not_found(resp);
        return;
    }
    if (path.len <= sizeof prefix - 1 + 7) {
        not_found(resp);
        return;
    }
    odin_str raw = {path.p + sizeof prefix - 1, path.len - (sizeof prefix - 1) - 7};
    if (memchr(raw.p, '/', raw.len) != NULL) {
        not_found(resp);
        return;
    }
    odin_arena *a = http_request_arena(req);
    char *name = NULL;
    if (odin_str_has_prefix(raw, "U__")) {
        name = unescape_name(a, raw);
    }
    if (name == NULL) {
        name = odin_arena_strndup(a, raw.p, raw.len);
        if (name == NULL || !odin_label_name_valid(raw)) {
            odin_strbuf q;
            odin_strbuf_init(&q, 512);
            web_put_quoted(&q, raw);
            odin_err err;
            odin_err_clear(&err);
            odin_err_set(&err, ODIN_ERR_INVALID, "invalid label name: %s", q.p);
            odin_strbuf_fini(&q);
            web_respond_error(resp, WEB_ERR_BAD_DATA, err.msg);
            return;
        }
    }
    answer_strings(api, req, resp, name);
}

/* ---- Admin ------------------------------------------------------------------------------------ */

static bool admin_enabled(web_api *api, http_response *resp)
{
    if (!api->enable_admin) {
        web_respond_error(resp, WEB_ERR_UNAVAILABLE, "admin APIs disabled");
        return false;
    }
    return true;
}

static void no_content(http_response *resp)
{
    /* Prometheus answers admin calls without data with 204 and no body. */
    resp->status = 204;
    resp->content_type = "application/json";
}

static void handle_delete_series(web_api *api, http_request *req, http_response *resp)
{
    if (!admin_enabled(api, resp)) {
        return;
    }
    const char *one;
    if (http_request_params(req, "match[]", &one, 1) == 0) {
        web_respond_error(resp, WEB_ERR_BAD_DATA, "no match[] parameter provided");
        return;
    }
    int64_t start, end;
    web_matcher_set *sets;
    size_t nsets;
    if (!web_time_param(req, resp, "start", WEB_MIN_TIME_MS, &start) ||
        !web_time_param(req, resp, "end", WEB_MAX_TIME_MS, &end) ||
        !web_match_params(req, resp, true, &sets, &nsets)) {
        return;
    }
    if (api->admin.delete_series == NULL) {
        web_respond_error(resp, WEB_ERR_INTERNAL, "deleting series is not supported by this storage");
        return;
    }
    for (size_t i = 0; i < nsets; i++) {
        odin_err err;
        odin_err_clear(&err);
        if (api->admin.delete_series(api->admin.ctx, sets[i].ms, sets[i].n, start, end, &err) < 0) {
            web_respond_error(resp, WEB_ERR_INTERNAL, err.msg);
            return;
        }
    }
    no_content(resp);
}

static void handle_snapshot(web_api *api, http_request *req, http_response *resp)
{
    if (!admin_enabled(api, resp)) {
        return;
    }
    bool skip_head = false;
    const char *s = http_request_param(req, "skip_head");
    if (s != NULL && s[0] != '\0' && web_parse_bool(odin_str_c(s), &skip_head) < 0) {
        odin_strbuf q;
        odin_strbuf_init(&q, 512);
        web_put_quoted(&q, odin_str_c(s));
        odin_err err;
        odin_err_clear(&err);
        odin_err_set(&err, ODIN_ERR_PARSE,
                     "invalid parameter \"skip_head\": unable to parse boolean: "
                     "strconv.ParseBool: parsing %s: invalid syntax", q.p);
        odin_strbuf_fini(&q);
        web_respond_error(resp, WEB_ERR_BAD_DATA, err.msg);
        return;
    }
    if (api->admin.snapshot == NULL) {
        web_respond_error(resp, WEB_ERR_INTERNAL, "create snapshot: not supported by this storage");
        return;
    }
    odin_err err;
    odin_err_clear(&err);
    const char *name = NULL;
    if (api->admin.snapshot(api->admin.ctx, skip_head, http_request_arena(req), &name, &err) < 0) {
        odin_err_prefix(&err, "create snapshot: ");
        web_respond_error(resp, WEB_ERR_INTERNAL, err.msg);
        return;
    }
    web_json j;
    web_respond_begin(resp, &j);
    web_json_obj_begin(&j);
    web_json_key(&j, "name");
    web_json_cstr(&j, name);
    web_json_obj_end(&j);
    web_respond_end(resp, &j, NULL, 0);
}

static void handle_clean_tombstones(web_api *api, http_request *req, http_response *resp)
{
    (void)req;
    if (!admin_enabled(api, resp)) {
        return;
    }
    if (api->admin.clean_tombstones != NULL) {
        odin_err err;
        odin_err_clear(&err);
        if (api->admin.clean_tombstones(api->admin.ctx, &err) < 0) {
            web_respond_error(resp, WEB_ERR_INTERNAL, err.msg);
            return;
        }
    }
    no_content(resp);
}

void web_register_series(web_api *api, http_server *srv)
{
    web_route_get_post(api, srv, "/api/v1/series", handle_series);
    web_route_get_post(api, srv, "/api/v1/labels", handle_labels);
    web_route(api, srv, "GET", "/api/v1/label/*", handle_label_values, true);
    static const char *const admin[] = {"POST", "PUT"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(admin); i++) {
        web_route(api, srv, admin[i], "/api/v1/admin/tsdb/delete_series", handle_delete_series,
                  true);
        web_route(api, srv, admin[i], "/api/v1/admin/tsdb/snapshot", handle_snapshot, true);
        web_route(api, srv, admin[i], "/api/v1/admin/tsdb/clean_tombstones",
                  handle_clean_tombstones, true);
    }
}
