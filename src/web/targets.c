/* What the scrape and rules subsystems know, in Prometheus' shapes: /api/v1/targets,
 * /scrape_pools, /targets/metadata, /metadata, /rules, /alerts, /alertmanagers. Data comes from
 * the providers in web.h; without a provider the lists are empty. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "web/web_int.h"

static const char *const health_names[] = {
    [WEB_HEALTH_UNKNOWN] = "unknown", [WEB_HEALTH_UP] = "up", [WEB_HEALTH_DOWN] = "down"};

static void provider_error(http_response *resp, odin_err *err)
{
    web_respond_error(resp, web_err_type_of(err->code ? err->code : ODIN_ERR_INTERNAL), err->msg);
}

/* The targets from the provider, or none; false after answering an error. */
static bool get_targets(web_api *api, http_request *req, http_response *resp, web_targets *t)
{
    memset(t, 0, sizeof *t);
    if (api->scrape.targets == NULL) {
        return true;
    }
    odin_err err;
    odin_err_clear(&err);
    if (api->scrape.targets(api->scrape.ctx, http_request_arena(req), t, &err) < 0) {
        provider_error(resp, &err);
        return false;
    }
    return true;
}

static void write_duration(web_json *j, int64_t ms)
{
    odin_strbuf d;
    odin_strbuf_init(&d, 64);
    web_put_duration(&d, ms);
    web_json_str(j, (odin_str){d.p, d.len});
    odin_strbuf_fini(&d);
}

static void write_target(web_json *j, const web_target *t)
{
    web_json_obj_begin(j);
    web_json_key(j, "discoveredLabels");
    web_json_labels(j, t->discovered_labels);
    web_json_key(j, "labels");
    web_json_labels(j, t->labels);
    web_json_key(j, "scrapePool");
    web_json_cstr(j, t->scrape_pool);
    web_json_key(j, "scrapeUrl");
    web_json_cstr(j, t->scrape_url);
    web_json_key(j, "globalUrl");
    web_json_cstr(j, t->global_url != NULL ? t->global_url : t->scrape_url);
    web_json_key(j, "lastError");
    web_json_cstr(j, t->last_error);
    web_json_key(j, "lastScrape");
    web_json_rfc3339(j, t->last_scrape_ms);
    web_json_key(j, "lastScrapeDuration");
    web_json_f64(j, t->last_scrape_duration_s);
    web_json_key(j, "health");
    web_json_cstr(j, health_names[t->health <= WEB_HEALTH_DOWN ? t->health : 0]);
    web_json_key(j, "scrapeInterval");
    write_duration(j, t->scrape_interval_ms);
    web_json_key(j, "scrapeTimeout");
    write_duration(j, t->scrape_timeout_ms);
    web_json_obj_end(j);
}

static bool pool_ok(const char *want, const char *pool)
{
    return want == NULL || want[0] == '\0' || strcmp(want, pool != NULL ? pool : "") == 0;
}

static void handle_targets(web_api *api, http_request *req, http_response *resp)
{
    web_targets t;
    if (!get_targets(api, req, resp, &t)) {
        return;
    }
    const char *pool = http_request_param(req, "scrapePool");
    const char *state = http_request_param(req, "state");
    state = state != NULL ? state : "";
    bool any = state[0] == '\0' || strcasecmp(state, "any") == 0;
    bool active = any || strcasecmp(state, "active") == 0;
    bool dropped = any || strcasecmp(state, "dropped") == 0;
    web_json j;
    web_respond_begin(resp, &j);
    web_json_obj_begin(&j);
    web_json_key(&j, "activeTargets");
    web_json_arr_begin(&j);
    for (size_t i = 0; active && i < t.nactive; i++) {
        if (pool_ok(pool, t.active[i].scrape_pool)) {
            write_target(&j, &t.active[i]);
        }
    }
    web_json_arr_end(&j);
    web_json_key(&j, "droppedTargets");
    web_json_arr_begin(&j);
    for (size_t i = 0; dropped && i < t.ndropped; i++) {
        if (!pool_ok(pool, t.dropped[i].scrape_pool)) {
            continue;
        }
        web_json_obj_begin(&j);
        web_json_key(&j, "discoveredLabels");
        web_json_labels(&j, t.dropped[i].discovered_labels);
        web_json_key(&j, "scrapePool");
        web_json_cstr(&j, t.dropped[i].scrape_pool);
        web_json_obj_end(&j);
    }
    web_json_arr_end(&j);
    if (dropped) {
        /* Prometheus 3 sends the counts whenever dropped targets are asked for. */
        web_json_key(&j, "droppedTargetCounts");
        web_json_obj_begin(&j);
        for (size_t i = 0; i < t.npools; i++) {
            web_json_key(&j, t.pools[i]);
            web_json_u64(&j, t.dropped_counts != NULL ? t.dropped_counts[i] : 0);
        }
        web_json_obj_end(&j);
    }
    web_json_obj_end(&j);
    web_respond_end(resp, &j, NULL, 0);
}

static void handle_scrape_pools(web_api *api, http_request *req, http_response *resp)
{
    web_targets t;
    if (!get_targets(api, req, resp, &t)) {
        return;
    }
    web_json j;
    web_respond_begin(resp, &j);
    web_json_obj_begin(&j);
    web_json_key(&j, "scrapePools");
    web_json_arr_begin(&j);
    for (size_t i = 0; i < t.npools; i++) {
        web_json_cstr(&j, t.pools[i]);
    }
    web_json_arr_end(&j);
    web_json_obj_end(&j);
    web_respond_end(resp, &j, NULL, 0);
}

/* ---- Metadata --------------------------------------------------------------------------------- */

static bool get_metadata(web_api *api, http_request *req, http_response *resp,
                         const web_metadata **md, size_t *n)
{
    *md = NULL;
    *n = 0;
    if (api->scrape.metadata == NULL) {
        return true;
    }
    odin_err err;
    odin_err_clear(&err);
    if (api->scrape.metadata(api->scrape.ctx, http_request_arena(req), md, n, &err) < 0) {
        provider_error(resp, &err);
        return false;
    }
    return true;
}

/* An optional integer parameter; -1 when absent. Prometheus: "<name> must be a number". */
static bool int_param(http_request *req, http_response *resp, const char *name, int64_t *out)
{
    const char *v = http_request_param(req, name);
    *out = -1;
    if (v == NULL || v[0] == '\0') {
        return true;
    }
    if (odin_parse_i64(odin_str_c(v), out) < 0) {
        odin_err err;
        odin_err_clear(&err);
        odin_err_set(&err, ODIN_ERR_PARSE, "%s must be a number", name);
        web_respond_error(resp, WEB_ERR_BAD_DATA, err.msg);
        return false;
    }
    return true;
}

static bool labels_match(odin_labels ls, const tsdb_matcher *ms, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const odin_str *v = odin_labels_get(ls, ms[i].name);
        if (!tsdb_matcher_matches(&ms[i], v != NULL ? *v : ODIN_STR(""))) {
            return false;
        }
    }
    return true;
}

static bool str_is(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

static void handle_targets_metadata(web_api *api, http_request *req, http_response *resp)
{
    int64_t limit;
    if (!int_param(req, resp, "limit", &limit)) {
        return;
    }
    const char *mt = http_request_param(req, "match_target");
    tsdb_matcher *ms = NULL;
    size_t nms = 0;
    if (mt != NULL && mt[0] != '\0') {
        odin_err err;
        odin_err_clear(&err);
        if (web_parse_selector(odin_str_c(mt), http_request_arena(req), &ms, &nms, &err) < 0) {
            odin_err_prefix(&err, "invalid parameter \"match_target\": ");
            web_respond_error(resp, WEB_ERR_BAD_DATA, err.msg);
            return;
        }
    }
    const char *metric = http_request_param(req, "metric");
    bool one = metric != NULL && metric[0] != '\0';
    const web_metadata *md;
    size_t n;
    if (!get_metadata(api, req, resp, &md, &n)) {
        return;
    }
    web_json j;
    web_respond_begin(resp, &j);
    web_json_arr_begin(&j);
    int64_t written = 0;
    for (size_t i = 0; i < n && (limit < 0 || written < limit); i++) {
        if ((one && !str_is(md[i].metric, metric)) || !labels_match(md[i].target, ms, nms)) {
            continue;
        }
        web_json_obj_begin(&j);
        web_json_key(&j, "target");
        web_json_labels(&j, md[i].target);
        if (!one) {
            web_json_key(&j, "metric");
            web_json_cstr(&j, md[i].metric);
        }
        web_json_key(&j, "type");
        web_json_cstr(&j, md[i].type);
        web_json_key(&j, "help");
        web_json_cstr(&j, md[i].help);
        web_json_key(&j, "unit");
        web_json_cstr(&j, md[i].unit);
        web_json_obj_end(&j);
        written++;
    }
    web_json_arr_end(&j);
    web_respond_end(resp, &j, NULL, 0);
}

static int md_order(const void *a, const void *b)
{
    const web_metadata *x = *(const web_metadata *const *)a;
    const web_metadata *y = *(const web_metadata *const *)b;
    return strcmp(x->metric != NULL ? x->metric : "", y->metric != NULL ? y->metric : "");
}

/* Sort order: by metric, then by position in the provider's array, so a metric's entries keep
 * the order first seen (qsort alone is not stable). */
static int md_sort_order(const void *a, const void *b)
{
    int c = md_order(a, b);
    if (c != 0) {
        return c;
    }
    const web_metadata *x = *(const web_metadata *const *)a;
    const web_metadata *y = *(const web_metadata *const *)b;
    return x < y ? -1 : x > y;
}

static bool md_same(const web_metadata *x, const web_metadata *y)
{
    return str_is(x->type, y->type) && str_is(x->help, y->help) && str_is(x->unit, y->unit);
}

static void handle_metadata(web_api *api, http_request *req, http_response *resp)
{
    int64_t limit, per_metric;
    if (!int_param(req, resp, "limit", &limit) ||
        !int_param(req, resp, "limit_per_metric", &per_metric)) {
        return;
    }
    const char *metric = http_request_param(req, "metric");
    const web_metadata *md;
    size_t n;
    if (!get_metadata(api, req, resp, &md, &n)) {
        return;
    }
    /* Grouped by metric (sorted, as Go encodes a map), each metric's distinct entries once. */
    const web_metadata **v = odin_arena_alloc(http_request_arena(req), (n + 1) * sizeof *v);
    if (v == NULL) {
        web_respond_error(resp, WEB_ERR_INTERNAL, "request memory limit reached");
        return;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (metric == NULL || metric[0] == '\0' || str_is(md[i].metric, metric)) {
            v[m++] = &md[i];
        }
    }
    qsort(v, m, sizeof *v, md_sort_order);
    web_json j;
    web_respond_begin(resp, &j);
    web_json_obj_begin(&j);
    int64_t metrics = 0;
    for (size_t i = 0; i < m && (limit < 0 || metrics < limit);) {
        size_t end = i;
        while (end < m && md_order(&v[i], &v[end]) == 0) {
            end++;
        }
        web_json_key(&j, v[i]->metric != NULL ? v[i]->metric : "");
        web_json_arr_begin(&j);
        int64_t kept = 0;
        for (size_t k = i; k < end && (per_metric <= 0 || kept < per_metric); k++) {
            bool seen = false;
            for (size_t p = i; p < k && !seen; p++) {
                seen = md_same(v[p], v[k]);
            }
            if (seen) {
                continue;
            }
            web_json_obj_begin(&j);
            web_json_key(&j, "type");
            web_json_cstr(&j, v[k]->type);
            web_json_key(&j, "help");
            web_json_cstr(&j, v[k]->help);
            web_json_key(&j, "unit");
            web_json_cstr(&j, v[k]->unit);
            web_json_obj_end(&j);
            kept++;
        }
        web_json_arr_end(&j);
        metrics++;
        i = end;
    }
    web_json_obj_end(&j);
    web_respond_end(resp, &j, NULL, 0);
}

/* ---- Rules and alerts ------------------------------------------------------------------------- */

static bool get_groups(web_api *api, http_request *req, http_response *resp,
                       const web_rule_group **g, size_t *n)
{
    *g = NULL;
    *n = 0;
    if (api->rules.groups == NULL) {
        return true;
    }
    odin_err err;
    odin_err_clear(&err);
    if (api->rules.groups(api->rules.ctx, http_request_arena(req), g, n, &err) < 0) {
        provider_error(resp, &err);
        return false;
    }
    return true;
}

static void write_alert(web_json *j, const web_alert *a)
{
    web_json_obj_begin(j);
    web_json_key(j, "labels");
    web_json_labels(j, a->labels);
    web_json_key(j, "annotations");
    web_json_labels(j, a->annotations);
    web_json_key(j, "state");
    web_json_cstr(j, a->state);
    web_json_key(j, "activeAt");
    web_json_rfc3339(j, a->active_at_ms);
    if (a->keep_firing_since_ms != 0) {
        web_json_key(j, "keepFiringSince");
        web_json_rfc3339(j, a->keep_firing_since_ms);
    }
    /* Prometheus prints an alert's value with strconv 'e' (0e+00, 1.5e+01). */
    web_json_key(j, "value");
    odin_strbuf e;
    odin_strbuf_init(&e, 64);
    web_put_float(&e, a->value, 'e');
    web_json_str(j, (odin_str){e.p, e.len});
    odin_strbuf_fini(&e);
    web_json_obj_end(j);
}

static void write_rule(web_json *j, const web_rule *r, bool exclude_alerts)
{
    bool alerting = r->type == WEB_RULE_ALERTING;
    web_json_obj_begin(j);
    if (alerting) {
        web_json_key(j, "state");
        web_json_cstr(j, r->state != NULL ? r->state : "inactive");
    }
    web_json_key(j, "name");
    web_json_cstr(j, r->name);
    web_json_key(j, "query");
    web_json_cstr(j, r->query);
    if (alerting) {
        web_json_key(j, "duration");
        web_json_f64(j, (double)r->duration_ms / 1000.0);
        web_json_key(j, "keepFiringFor");
        web_json_f64(j, (double)r->keep_firing_for_ms / 1000.0);
    }
    web_json_key(j, "labels");
    web_json_labels(j, r->labels);
    if (alerting) {
        web_json_key(j, "annotations");
        web_json_labels(j, r->annotations);
        web_json_key(j, "alerts");
        web_json_arr_begin(j);
        for (size_t i = 0; !exclude_alerts && i < r->nalerts; i++) {
            write_alert(j, &r->alerts[i]);
        }
        web_json_arr_end(j);
    }
    web_json_key(j, "health");
    web_json_cstr(j, r->health != NULL ? r->health : "unknown");
    if (r->last_error != NULL && r->last_error[0] != '\0') {
        web_json_key(j, "lastError");
        web_json_cstr(j, r->last_error);
    }
    web_json_key(j, "evaluationTime");
    web_json_f64(j, r->evaluation_time_s);
    web_json_key(j, "lastEvaluation");
    web_json_rfc3339(j, r->last_evaluation_ms);
    web_json_key(j, "type");
    web_json_cstr(j, alerting ? "alerting" : "recording");
    web_json_obj_end(j);
}

/* True when the repeated parameter is absent or lists `value`. */
static bool in_param_set(http_request *req, const char *name, const char *value)
{
    const char *vals[64];
    size_t n = http_request_params(req, name, vals, ODIN_ARRAY_LEN(vals));
    for (size_t i = 0; i < n; i++) {
        if (str_is(vals[i], value)) {
            return true;
        }
    }
    return n == 0;
}

static bool rule_wanted(http_request *req, const web_rule *r, int type_filter)
{
    return (type_filter < 0 || (int)r->type == type_filter) &&
           in_param_set(req, "rule_name[]", r->name);
}

static void write_group(web_json *j, http_request *req, const web_rule_group *g, int type_filter,
                        bool exclude_alerts)
{
    web_json_obj_begin(j);
    web_json_key(j, "name");
    web_json_cstr(j, g->name);
    web_json_key(j, "file");
    web_json_cstr(j, g->file);
    web_json_key(j, "rules");
    web_json_arr_begin(j);
    for (size_t i = 0; i < g->nrules; i++) {
        if (rule_wanted(req, &g->rules[i], type_filter)) {
            write_rule(j, &g->rules[i], exclude_alerts);
        }
    }
    web_json_arr_end(j);
    web_json_key(j, "interval");
    web_json_f64(j, (double)g->interval_ms / 1000.0);
    web_json_key(j, "limit");
    web_json_i64(j, g->limit);
    web_json_key(j, "evaluationTime");
    web_json_f64(j, g->evaluation_time_s);
    web_json_key(j, "lastEvaluation");
    web_json_rfc3339(j, g->last_evaluation_ms);
    web_json_obj_end(j);
}

static void handle_rules(web_api *api, http_request *req, http_response *resp)
{
    const char *type = http_request_param(req, "type");
    int type_filter = -1;
    if (type != NULL && type[0] != '\0') {
        if (strcasecmp(type, "alert") == 0) {
            type_filter = WEB_RULE_ALERTING;
        } else if (strcasecmp(type, "record") == 0) {
            type_filter = WEB_RULE_RECORDING;
        } else {
            odin_strbuf q;
            odin_strbuf_init(&q, 512);
            web_put_quoted(&q, odin_str_c(type));
            odin_err err;
            odin_err_clear(&err);
            odin_err_set(&err, ODIN_ERR_INVALID,
                         "invalid parameter \"type\": not supported value %s", q.p);
            odin_strbuf_fini(&q);
            web_respond_error(resp, WEB_ERR_BAD_DATA, err.msg);
            return;
        }
    }
    bool exclude_alerts = false;
    const char *ex = http_request_param(req, "exclude_alerts");
    if (ex != NULL && ex[0] != '\0' && web_parse_bool(odin_str_c(ex), &exclude_alerts) < 0) {
        web_respond_error(resp, WEB_ERR_BAD_DATA,
                          "invalid parameter \"exclude_alerts\": unable to parse boolean");
        return;
    }
    const web_rule_group *g;
    size_t n;
    if (!get_groups(api, req, resp, &g, &n)) {
        return;
    }
    web_json j;
    web_respond_begin(resp, &j);
    web_json_obj_begin(&j);
    web_json_key(&j, "groups");
    web_json_arr_begin(&j);
    for (size_t i = 0; i < n; i++) {
        if (in_param_set(req, "rule_group[]", g[i].name) && in_param_set(req, "file[]", g[i].file)) {
            write_group(&j, req, &g[i], type_filter, exclude_alerts);
        }
    }
    web_json_arr_end(&j);
    web_json_obj_end(&j);
    web_respond_end(resp, &j, NULL, 0);
}

static void handle_alerts(web_api *api, http_request *req, http_response *resp)
{
    const web_rule_group *g;
    size_t n;
    if (!get_groups(api, req, resp, &g, &n)) {
        return;
    }
    web_json j;
    web_respond_begin(resp, &j);
    web_json_obj_begin(&j);
    web_json_key(&j, "alerts");
    web_json_arr_begin(&j);
    for (size_t i = 0; i < n; i++) {
        for (size_t r = 0; r < g[i].nrules; r++) {
            const web_rule *rule = &g[i].rules[r];
            for (size_t a = 0; rule->type == WEB_RULE_ALERTING && a < rule->nalerts; a++) {
                write_alert(&j, &rule->alerts[a]);
            }
        }
    }
    web_json_arr_end(&j);
    web_json_obj_end(&j);
    web_respond_end(resp, &j, NULL, 0);
}

static void write_urls(web_json *j, const char *key, const char *const *urls, size_t n)
{
    web_json_key(j, key);
    web_json_arr_begin(j);
    for (size_t i = 0; i < n; i++) {
        web_json_obj_begin(j);
        web_json_key(j, "url");
        web_json_cstr(j, urls[i]);
        web_json_obj_end(j);
    }
    web_json_arr_end(j);
}

static void handle_alertmanagers(web_api *api, http_request *req, http_response *resp)
{
    const char *const *active = NULL;
    const char *const *dropped = NULL;
    size_t nactive = 0;
    size_t ndropped = 0;
    if (api->rules.alertmanagers != NULL) {
        odin_err err;
        odin_err_clear(&err);
        if (api->rules.alertmanagers(api->rules.ctx, http_request_arena(req), &active, &nactive,
                                     &dropped, &ndropped, &err) < 0) {
            provider_error(resp, &err);
            return;
        }
    }
    web_json j;
    web_respond_begin(resp, &j);
    web_json_obj_begin(&j);
    write_urls(&j, "activeAlertmanagers", active, nactive);
    write_urls(&j, "droppedAlertmanagers", dropped, ndropped);
    web_json_obj_end(&j);
    web_respond_end(resp, &j, NULL, 0);
}

void web_register_targets(web_api *api, http_server *srv)
{
    web_route(api, srv, "GET", "/api/v1/targets", handle_targets, true);
    web_route(api, srv, "GET", "/api/v1/scrape_pools", handle_scrape_pools, true);
    web_route(api, srv, "GET", "/api/v1/targets/metadata", handle_targets_metadata, true);
    web_route(api, srv, "GET", "/api/v1/metadata", handle_metadata, true);
    web_route(api, srv, "GET", "/api/v1/rules", handle_rules, true);
    web_route(api, srv, "GET", "/api/v1/alerts", handle_alerts, true);
    web_route(api, srv, "GET", "/api/v1/alertmanagers", handle_alertmanagers, true);
}
