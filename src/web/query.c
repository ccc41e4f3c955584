/* PromQL over HTTP: /api/v1/query, /query_range, /format_query and /query_exemplars, with
 * Prometheus' parameter validation order and messages and its result JSON. */
#include <stdlib.h>
#include <string.h>

#include "promql/promql.h"
#include "web/web_int.h"

/* Prometheus' cap on points per series in a range query. */
#define MAX_POINTS_PER_SERIES 11000

static bool engine_ready(web_api *api, http_response *resp)
{
    if (api->engine == NULL) {
        web_respond_error(resp, WEB_ERR_UNAVAILABLE, "query engine not available");
        return false;
    }
    return true;
}

/* An engine failure as Prometheus reports it: errors found before evaluation (the parser's, or a
 * wrong expression type) are bad_data on the "query" parameter (invalidParamError); timeouts
 * and cancellation keep their types; storage faults are internal; everything else (too many
 * samples, many-to-many matching) is execution (returnAPIError). */
static void query_error(http_response *resp, odin_err *err)
{
    switch (err->code) {
    case ODIN_ERR_PARSE:
    case ODIN_ERR_INVALID:
        odin_err_prefix(err, "invalid parameter \"query\": ");
        web_respond_error(resp, WEB_ERR_BAD_DATA, err->msg);
        return;
    case ODIN_ERR_TIMEOUT:
        web_respond_error(resp, WEB_ERR_TIMEOUT, err->msg);
        return;
    case ODIN_ERR_CANCELED:
        web_respond_error(resp, WEB_ERR_CANCELED, err->msg);
        return;
    case ODIN_ERR_IO:
    case ODIN_ERR_CORRUPT:
        web_respond_error(resp, WEB_ERR_INTERNAL, err->msg);
        return;
    default:
        web_respond_error(resp, WEB_ERR_EXECUTION, err->msg);
        return;
    }
}

/* A duration parameter; absent leaves *ns alone. `wrap` is Prometheus' text before the parse
 * error for this parameter. */
static bool duration_param(http_request *req, http_response *resp, const char *name,
                           const char *wrap, int64_t *ns)
{
    const char *v = http_request_param(req, name);
    if (v == NULL || v[0] == '\0') {
        return true;
    }
    odin_err err;
    odin_err_clear(&err);
    if (web_parse_duration(odin_str_c(v), ns, &err) == 0) {
        return true;
    }
    odin_err_prefix(&err, "%s", wrap);
    web_respond_error(resp, WEB_ERR_BAD_DATA, err.msg);
    return false;
}

/* Parameters every query takes after its times: timeout, lookback_delta. */
static bool common_params(http_request *req, http_response *resp)
{
    int64_t timeout_ns = 0;
    int64_t lookback_ns = 0;
    /* The engine applies its own --query.timeout; the parameter is validated as Prometheus
     * does, and a per-query deadline needs a promql entry that takes one. */
    return duration_param(req, resp, "timeout", "invalid parameter \"timeout\": ", &timeout_ns) &&
           duration_param(req, resp, "lookback_delta", "error parsing lookback delta duration: ",
                          &lookback_ns);
}

static int series_order(const void *a, const void *b)
{
    return odin_labels_cmp(((const promql_series *)a)->labels, ((const promql_series *)b)->labels);
}

/* Formatted point times of one answer. The series of a range query share one step grid, so each
 * time is formatted once and copied after (formatting every point's time was ~14% of a 256-series
 * 1 h panel). Direct-mapped by a hash of t; a miss formats and replaces the slot. */
enum { TIME_SLOTS = 1024 };
typedef struct {
    int64_t t;
    uint32_t len;
    char s[28]; /* web_format_time_ms writes at most 25 bytes */
} time_slot;

typedef struct {
    time_slot slot[TIME_SLOTS];
} time_cache;

static time_cache *time_cache_new(void)
{
    /* zeroed: len 0 marks an empty slot (every formatted time has a digit), and put_time's
     * fixed-size copy never reads uninitialised bytes */
    return odin_calloc(1, sizeof(time_cache));
}

static size_t put_time(time_cache *c, int64_t t, char *out)
{
    if (!c) {
        return web_format_time_ms(t, out);
    }
    time_slot *sl = &c->slot[((uint64_t)t * UINT64_C(0x9e3779b97f4a7c15)) >> 54];
    if (sl->len == 0 || sl->t != t) {
        sl->t = t;
        sl->len = (uint32_t)web_format_time_ms(t, sl->s);
    }
    memcpy(out, sl->s, sizeof(sl->s));
    return sl->len;
}

/* One point `[t,"v"]` (with a leading comma unless first) at out, which has room for POINT_MAX
 * bytes; returns its length. c may be NULL (no cache). */
enum { POINT_MAX = sizeof(((time_slot *)0)->s) + WEB_VALUE_MAX + 8 };

static size_t put_point(time_cache *c, int64_t t, double v, bool first, char *out)
{
    size_t o = 0;
    if (!first) {
        out[o++] = ',';
    }
    out[o++] = '[';
    o += put_time(c, t, out + o);
    out[o++] = ',';
    out[o++] = '"';
    o += web_format_value(v, out + o);
    out[o++] = '"';
    out[o++] = ']';
    return o;
}

/* A matrix series' points, comma-separated, written straight into the answer (a 256-series 1 h
 * panel is 62k points; per-character appends were a third of its time). */
static void put_points(odin_strbuf *b, time_cache *c, const promql_series *s)
{
    for (size_t k = 0; k < s->n; k++) {
        bool overflowed = b->overflow;
        char *w = odin_strbuf_reserve(b, POINT_MAX);
        if (w) {
            odin_strbuf_advance(b, put_point(c, s->t[k], s->v[k], k == 0, w));
            continue;
        }
        /* near the buffer's cap: append exactly what the point needs, as any other write */
        b->overflow = overflowed;
        char buf[POINT_MAX];
        odin_strbuf_put(b, buf, put_point(c, s->t[k], s->v[k], k == 0, buf));
    }
}

static void write_result(web_json *j, promql_result *r, size_t limit, bool *cut)
{
    web_json_obj_begin(j);
    web_json_key(j, "resultType");
    web_json_cstr(j, promql_type_name(r->type));
    web_json_key(j, "result");
    *cut = false;
    if (r->type == PROMQL_TYPE_SCALAR || r->type == PROMQL_TYPE_STRING) {
        /* Scalars and strings go through encoding/json: time as a float64 of seconds, a
         * scalar's value with 'f' formatting (Prometheus' Scalar.MarshalJSON). */
        web_json_arr_begin(j);
        web_json_f64(j, (double)r->t / 1000.0);
        if (r->type == PROMQL_TYPE_STRING) {
            web_json_cstr(j, r->string);
        } else {
            odin_strbuf_putc(j->b, ',');
            odin_strbuf_putc(j->b, '"');
            web_put_float(j->b, r->scalar, 'f');
            odin_strbuf_putc(j->b, '"');
        }
        web_json_arr_end(j);
        web_json_obj_end(j);
        return;
    }
    bool matrix = r->type == PROMQL_TYPE_MATRIX;
    if (matrix && r->nseries > 1) {
        qsort(r->series, r->nseries, sizeof *r->series, series_order);
    }
    size_t n = r->nseries;
    if (limit > 0 && n > limit) {
        n = limit;
        *cut = true;
    }
    /* one series has nothing to share its times with */
    time_cache *tc = matrix && n > 1 ? time_cache_new() : NULL;
    web_json_arr_begin(j);
    for (size_t i = 0; i < n; i++) {
        const promql_series *s = &r->series[i];
        web_json_obj_begin(j);
        web_json_key(j, "metric");
        web_json_labels(j, s->labels);
        web_json_key(j, matrix ? "values" : "value");
        if (matrix) {
            web_json_arr_begin(j);
            put_points(j->b, tc, s);
            web_json_arr_end(j);
        } else if (s->n > 0) {
            web_json_arr_begin(j);
            web_json_time_ms(j, s->t[0]);
            web_json_value(j, s->v[0]);
            web_json_arr_end(j);
        }
        web_json_obj_end(j);
    }
    free(tc);
    web_json_arr_end(j);
    web_json_obj_end(j);
}

static void respond_result(http_response *resp, promql_result *r, size_t limit)
{
    web_json j;
    web_respond_begin(resp, &j);
    bool cut;
    write_result(&j, r, limit, &cut);
    size_t nw = r->nwarnings;
    const char **w = (const char **)r->warnings;
    const char *with_cut[65];
    if (cut) {
        /* The truncation warning follows the engine's (kept to 64, far above what one query
         * produces). */
        nw = nw > 64 ? 64 : nw;
        for (size_t i = 0; i < nw; i++) {
            with_cut[i] = r->warnings[i];
        }
        with_cut[nw++] = "results truncated due to limit";
        w = with_cut;
    }
    web_respond_end(resp, &j, w, nw);
}

static void handle_query(web_api *api, http_request *req, http_response *resp)
{
    size_t limit;
    int64_t t;
    if (!web_limit_param(req, resp, &limit) ||
        !web_time_param(req, resp, "time", odin_now_ms(), &t) || !common_params(req, resp) ||
        !engine_ready(api, resp)) {
        return;
    }
    const char *q = http_request_param(req, "query");
    q = q != NULL ? q : "";
    odin_err err;
    odin_err_clear(&err);
    promql_result *r = promql_query_instant(api->engine, api->db, q, strlen(q), t, &err);
    if (r == NULL) {
        query_error(resp, &err);
        return;
    }
    respond_result(resp, r, limit);
    promql_result_free(r);
}

/* start, end and step as Prometheus validates them, in its order; false after answering. */
static bool range_params(http_request *req, http_response *resp, int64_t *start, int64_t *end,
                         int64_t *step_ms)
{
    static const char *const names[] = {"start", "end"};
    int64_t *outs[] = {start, end};
    for (size_t i = 0; i < 2; i++) {
        const char *v = http_request_param(req, names[i]);
        odin_err err;
        odin_err_clear(&err);
        if (web_parse_time(odin_str_c(v != NULL ? v : ""), outs[i], &err) < 0) {
            odin_err_prefix(&err, "invalid parameter \"%s\": ", names[i]);
            web_respond_error(resp, WEB_ERR_BAD_DATA, err.msg);
            return false;
        }
    }
    if (*end < *start) {
        web_respond_error(resp, WEB_ERR_BAD_DATA,
                          "invalid parameter \"end\": end timestamp must not be before start time");
        return false;
    }
    const char *sv = http_request_param(req, "step");
    int64_t step_ns = 0;
    odin_err err;
    odin_err_clear(&err);
    if (web_parse_duration(odin_str_c(sv != NULL ? sv : ""), &step_ns, &err) < 0) {
        odin_err_prefix(&err, "invalid parameter \"step\": ");
        web_respond_error(resp, WEB_ERR_BAD_DATA, err.msg);
        return false;
    }
    /* A positive step under a millisecond is refused too: our engine steps in ms. */
    if (step_ns < 1000000) {
        web_respond_error(resp, WEB_ERR_BAD_DATA,
                          "invalid parameter \"step\": zero or negative query resolution step "
                          "widths are not accepted. Try a positive integer");
        return false;
    }
    /* Go's end.Sub(start) saturates at the largest duration; so does this. */
    uint64_t range_ms = (uint64_t)*end - (uint64_t)*start;
    uint64_t range_ns = range_ms > (uint64_t)INT64_MAX / 1000000 ? (uint64_t)INT64_MAX
                                                                 : range_ms * 1000000;
    if (range_ns / (uint64_t)step_ns > MAX_POINTS_PER_SERIES) {
        web_respond_error(resp, WEB_ERR_BAD_DATA,
                          "exceeded maximum resolution of 11,000 points per timeseries. Try "
                          "decreasing the query resolution (?step=XX)");
        return false;
    }
    *step_ms = step_ns / 1000000;
    return true;
}

static void handle_query_range(web_api *api, http_request *req, http_response *resp)
{
    size_t limit;
    int64_t start, end, step;
    if (!web_limit_param(req, resp, &limit) || !range_params(req, resp, &start, &end, &step) ||
        !common_params(req, resp) || !engine_ready(api, resp)) {
        return;
    }
    const char *q = http_request_param(req, "query");
    q = q != NULL ? q : "";
    odin_err err;
    odin_err_clear(&err);
    promql_result *r = promql_query_range(api->engine, api->db, q, strlen(q), start, end, step,
                                          &err);
    if (r == NULL) {
        query_error(resp, &err);
        return;
    }
    respond_result(resp, r, limit);
    promql_result_free(r);
}

static void handle_format_query(web_api *api, http_request *req, http_response *resp)
{
    (void)api;
    const char *q = http_request_param(req, "query");
    q = q != NULL ? q : "";
    odin_err err;
    odin_err_clear(&err);
    promql_expr *e = promql_parse(q, strlen(q), &err);
    if (e == NULL) {
        odin_err_prefix(&err, "invalid parameter \"query\": ");
        web_respond_error(resp, WEB_ERR_BAD_DATA, err.msg);
        return;
    }
    odin_strbuf text;
    odin_strbuf_init(&text, 0);
    promql_expr_format(&text, e);
    promql_expr_free(e);
    web_json j;
    web_respond_begin(resp, &j);
    web_json_str(&j, (odin_str){text.p != NULL ? text.p : "", text.len});
    web_respond_end(resp, &j, NULL, 0);
    odin_strbuf_fini(&text);
}

static void handle_query_exemplars(web_api *api, http_request *req, http_response *resp)
{
    (void)api;
    int64_t start, end;
    if (!web_time_param(req, resp, "start", WEB_MIN_TIME_MS, &start) ||
        !web_time_param(req, resp, "end", WEB_MAX_TIME_MS, &end)) {
        return;
    }
    if (end < start) {
        web_respond_error(resp, WEB_ERR_BAD_DATA,
                          "end timestamp must not be before start timestamp");
        return;
    }
    const char *q = http_request_param(req, "query");
    q = q != NULL ? q : "";
    odin_err err;
    odin_err_clear(&err);
    promql_expr *e = promql_parse(q, strlen(q), &err);
    if (e == NULL) {
        web_respond_error(resp, WEB_ERR_BAD_DATA, err.msg);
        return;
    }
    promql_expr_free(e);
    /* Exemplars are dropped at ingestion, so every valid query has none. */
    web_json j;
    web_respond_begin(resp, &j);
    web_json_arr_begin(&j);
    web_json_arr_end(&j);
    web_respond_end(resp, &j, NULL, 0);
}

void web_register_query(web_api *api, http_server *srv)
{
    web_route_get_post(api, srv, "/api/v1/query", handle_query);
    web_route_get_post(api, srv, "/api/v1/query_range", handle_query_range);
    web_route_get_post(api, srv, "/api/v1/format_query", handle_format_query);
    web_route_get_post(api, srv, "/api/v1/query_exemplars", handle_query_exemplars);
}
