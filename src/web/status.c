/* /api/v1/status/{buildinfo,config,flags,runtimeinfo,tsdb,walreplay}: what the server is and
 * holds. The tsdb cardinality figures are computed from a querier over all series. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "web/web_int.h"

#define TSDB_STATUS_MAX_LIMIT 10000

static void handle_buildinfo(web_api *api, http_request *req, http_response *resp)
{
    (void)req;
    web_json j;
    web_respond_begin(resp, &j);
    web_json_obj_begin(&j);
    web_json_key(&j, "version");
    web_json_cstr(&j, api->version);
    web_json_key(&j, "revision");
    web_json_cstr(&j, "");
    web_json_key(&j, "branch");
    web_json_cstr(&j, "");
    web_json_key(&j, "buildUser");
    web_json_cstr(&j, "");
    web_json_key(&j, "buildDate");
    web_json_cstr(&j, "");
    /* The field name is Prometheus'; the value says which compiler built us. */
    web_json_key(&j, "goVersion");
    web_json_cstr(&j, __VERSION__);
    web_json_obj_end(&j);
    web_respond_end(resp, &j, NULL, 0);
}

static void handle_config(web_api *api, http_request *req, http_response *resp)
{
    (void)req;
    web_json j;
    web_respond_begin(resp, &j);
    web_json_obj_begin(&j);
    web_json_key(&j, "yaml");
    pthread_mutex_lock(&api->lock);
    web_json_cstr(&j, api->config_yaml);
    pthread_mutex_unlock(&api->lock);
    web_json_obj_end(&j);
    web_respond_end(resp, &j, NULL, 0);
}

static void handle_flags(web_api *api, http_request *req, http_response *resp)
{
    (void)req;
    web_json j;
    web_respond_begin(resp, &j);
    web_json_obj_begin(&j);
    for (size_t i = 0; i < api->nflags; i++) {
        web_json_key(&j, api->flag_names[i]);
        web_json_cstr(&j, api->flag_values[i]);
    }
    web_json_obj_end(&j);
    web_respond_end(resp, &j, NULL, 0);
}

static int64_t thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) {
        return 0;
    }
    int64_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        n += de->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static void handle_runtimeinfo(web_api *api, http_request *req, http_response *resp)
{
    (void)req;
    tsdb_stats st;
    tsdb_get_stats(api->db, &st);
    pthread_mutex_lock(&api->lock);
    bool reload_ok = api->reload_ok;
    int64_t last_config_ms = api->last_config_ms;
    pthread_mutex_unlock(&api->lock);
    web_json j;
    web_respond_begin(resp, &j);
    web_json_obj_begin(&j);
    web_json_key(&j, "startTime");
    web_json_rfc3339(&j, api->start_ms);
    web_json_key(&j, "CWD");
    web_json_cstr(&j, api->cwd);
    web_json_key(&j, "hostname");
    web_json_cstr(&j, api->hostname);
    web_json_key(&j, "serverTime");
    web_json_rfc3339(&j, odin_now_ms());
    web_json_key(&j, "reloadConfigSuccess");
    web_json_bool(&j, reload_ok);
    web_json_key(&j, "lastConfigTime");
    web_json_rfc3339(&j, last_config_ms);
    web_json_key(&j, "corruptionCount");
    web_json_u64(&j, st.wal_corruptions);
    /* Go runtime fields keep their names; their values describe our threads and CPUs. */
    web_json_key(&j, "goroutineCount");
    web_json_i64(&j, thread_count());
    web_json_key(&j, "GOMAXPROCS");
    web_json_i64(&j, sysconf(_SC_NPROCESSORS_ONLN));
    web_json_key(&j, "GOMEMLIMIT");
    web_json_i64(&j, INT64_MAX);
    web_json_key(&j, "GOGC");
    web_json_cstr(&j, "");
    web_json_key(&j, "GODEBUG");
    web_json_cstr(&j, "");
    web_json_key(&j, "storageRetention");
    web_json_cstr(&j, api->storage_retention);
    web_json_obj_end(&j);
    web_respond_end(resp, &j, NULL, 0);
}

static void handle_walreplay(web_api *api, http_request *req, http_response *resp)
{
    (void)api, (void)req;
    /* The WAL is replayed before the API serves (web_api_set_ready), so progress is done. */
    web_json j;
    web_respond_begin(resp, &j);
    web_json_obj_begin(&j);
    web_json_key(&j, "min");
    web_json_i64(&j, 0);
    web_json_key(&j, "max");
    web_json_i64(&j, 0);
    web_json_key(&j, "current");
    web_json_i64(&j, 0);
    web_json_obj_end(&j);
    web_respond_end(resp, &j, NULL, 0);
}

/* ---- /api/v1/status/tsdb ---------------------------------------------------------------------- */

typedef struct {
    odin_str name;  /* for pairs: "name=value" in arena memory */
    uint64_t value;
} stat_entry;

typedef struct {
    stat_entry *v;
    size_t len, cap;
} stat_list;

static bool stat_push(odin_arena *a, stat_list *l, odin_str name, uint64_t value)
{
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        stat_entry *v = odin_arena_alloc(a, cap * sizeof *v);
        if (v == NULL) {
            return false;
        }
        if (l->len > 0) {
            memcpy(v, l->v, l->len * sizeof *v);
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->len++] = (stat_entry){name, value};
    return true;
}

/* Larger counts first; equal counts by name, so answers are stable. */
static int stat_cmp(const void *a, const void *b)
{
    const stat_entry *x = a;
    const stat_entry *y = b;
    if (x->value != y->value) {
        return x->value > y->value ? -1 : 1;
    }
    return odin_str_cmp(x->name, y->name);
}

static void stat_write(web_json *j, const char *key, stat_list *l, size_t limit)
{
    if (l->len > 0) {
        qsort(l->v, l->len, sizeof *l->v, stat_cmp);
    }
    web_json_key(j, key);
    web_json_arr_begin(j);
    for (size_t i = 0; i < l->len && i < limit; i++) {
        web_json_obj_begin(j);
        web_json_key(j, "name");
        web_json_str(j, l->v[i].name);
        web_json_key(j, "value");
        web_json_u64(j, l->v[i].value);
        web_json_obj_end(j);
    }
    web_json_arr_end(j);
}

typedef struct {
    stat_list metrics, names, memory, pairs;
    uint64_t num_label_pairs;
} tsdb_card;

/* Series counts per value of one label name, from a select on name=~".+". */
static int card_one_name(tsdb_querier *q, odin_arena *a, odin_str name, tsdb_card *c,
                         odin_err *err)
{
    tsdb_matcher m;
    if (tsdb_matcher_init(&m, TSDB_MATCH_RE, name, ODIN_STR(".+"), err) < 0) {
        return -err->code;
    }
    tsdb_series_set *set = tsdb_querier_select(q, &m, 1, err);
    if (set == NULL) {
        tsdb_matcher_fini(&m);
        return -err->code;
    }
    char *cname = odin_arena_strndup(a, name.p, name.len);
    if (cname == NULL) {
        tsdb_matcher_fini(&m);
        return odin_err_set(err, ODIN_ERR_LIMIT, "request memory limit reached");
    }
    odin_map counts;
    odin_map_init(&counts);
    while (tsdb_series_next(set)) {
        const odin_str *v = odin_labels_get(tsdb_series_labels(set), cname);
        if (v == NULL) {
            continue;
        }
        uintptr_t n = (uintptr_t)odin_map_get(&counts, v->p, v->len);
        odin_map_put(&counts, v->p, v->len, (void *)(n + 1));
    }
    bool is_metric = odin_str_eq_c(name, "__name__");
    uint64_t bytes = 0;
    bool ok = true;
    size_t pos = 0;
    const void *key;
    size_t klen;
    void *val;
    while (ok && odin_map_next(&counts, &pos, &key, &klen, &val)) {
        uint64_t n = (uintptr_t)val;
        odin_str value = {key, klen};
        bytes += klen * n;
        char *pair = odin_arena_printf(a, "%.*s=%.*s", (int)name.len, name.p, (int)klen,
                                       (const char *)key);
        ok = pair != NULL && stat_push(a, &c->pairs, odin_str_c(pair), n) &&
             (!is_metric || stat_push(a, &c->metrics, value, n));
    }
    ok = ok && stat_push(a, &c->names, name, counts.len) && stat_push(a, &c->memory, name, bytes);
    c->num_label_pairs += counts.len;
    odin_map_fini(&counts);
    tsdb_matcher_fini(&m);
    return ok ? 0 : odin_err_set(err, ODIN_ERR_LIMIT, "request memory limit reached");
}

static void querier_cleanup(void *q)
{
    tsdb_querier_close(q);
}

static bool tsdb_status_limit(http_request *req, http_response *resp, size_t *limit)
{
    const char *s = http_request_param(req, "limit");
    *limit = 10;
    if (s == NULL || s[0] == '\0') {
        return true;
    }
    int64_t n;
    if (odin_parse_i64(odin_str_c(s), &n) < 0 || n < 1) {
        web_respond_error(resp, WEB_ERR_BAD_DATA, "limit must be a positive number");
        return false;
    }
    if (n > TSDB_STATUS_MAX_LIMIT) {
        web_respond_error(resp, WEB_ERR_BAD_DATA, "limit must not exceed 10000");
        return false;
    }
    *limit = (size_t)n;
    return true;
}

static void handle_tsdb(web_api *api, http_request *req, http_response *resp)
{
    size_t limit;
    if (!tsdb_status_limit(req, resp, &limit)) {
        return;
    }
    odin_arena *a = http_request_arena(req);
    tsdb_stats st;
    tsdb_get_stats(api->db, &st);
    tsdb_querier *q = tsdb_querier_open(api->db, INT64_MIN, INT64_MAX);
    if (q == NULL) {
        web_respond_error(resp, WEB_ERR_INTERNAL, "cannot open a querier");
        return;
    }
    odin_arena_on_reset(a, querier_cleanup, q);
    odin_err err;
    odin_err_clear(&err);
    const odin_str *names;
    size_t nnames;
    tsdb_card c = {0};
    if (tsdb_querier_label_names(q, NULL, 0, &names, &nnames, &err) < 0) {
        web_respond_error(resp, WEB_ERR_INTERNAL, err.msg);
        return;
    }
    for (size_t i = 0; i < nnames; i++) {
        if (card_one_name(q, a, names[i], &c, &err) < 0) {
            web_respond_error(resp, WEB_ERR_INTERNAL, err.msg);
            return;
        }
    }
    web_json j;
    web_respond_begin(resp, &j);
    web_json_obj_begin(&j);
    web_json_key(&j, "headStats");
    web_json_obj_begin(&j);
    web_json_key(&j, "numSeries");
    web_json_u64(&j, st.head_series);
    web_json_key(&j, "numLabelPairs");
    web_json_u64(&j, c.num_label_pairs);
    web_json_key(&j, "chunkCount");
    web_json_u64(&j, st.head_chunks);
    web_json_key(&j, "minTime");
    web_json_i64(&j, st.head_min_t);
    web_json_key(&j, "maxTime");
    web_json_i64(&j, st.head_max_t);
    web_json_obj_end(&j);
    stat_write(&j, "seriesCountByMetricName", &c.metrics, limit);
    stat_write(&j, "labelValueCountByLabelName", &c.names, limit);
    stat_write(&j, "memoryInBytesByLabelName", &c.memory, limit);
    stat_write(&j, "seriesCountByLabelValuePair", &c.pairs, limit);
    web_json_obj_end(&j);
    web_respond_end(resp, &j, NULL, 0);
}

void web_register_status(web_api *api, http_server *srv)
{
    web_route(api, srv, "GET", "/api/v1/status/buildinfo", handle_buildinfo, true);
    web_route(api, srv, "GET", "/api/v1/status/config", handle_config, true);
    web_route(api, srv, "GET", "/api/v1/status/flags", handle_flags, true);
    web_route(api, srv, "GET", "/api/v1/status/runtimeinfo", handle_runtimeinfo, true);
    web_route(api, srv, "GET", "/api/v1/status/tsdb", handle_tsdb, true);
    web_route(api, srv, "GET", "/api/v1/status/walreplay", handle_walreplay, true);
}
