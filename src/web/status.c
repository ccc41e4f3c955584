/* /api/v1/status/{buildinfo,config,flags,runtimeinfo,tsdb,walreplay}: what the server is and
 * holds. The tsdb cardinality figures come from the head's postings (tsdb_head_card_stats). */
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

static void card_write(web_json *j, const char *key, const tsdb_card_list *l)
{
    web_json_key(j, key);
    web_json_arr_begin(j);
    for (size_t i = 0; i < l->len; i++) {
        web_json_obj_begin(j);
        web_json_key(j, "name");
        web_json_str(j, odin_str_c(l->v[i].name));
        web_json_key(j, "value");
        web_json_u64(j, l->v[i].value);
        web_json_obj_end(j);
    }
    web_json_arr_end(j);
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
    tsdb_stats st;
    tsdb_get_stats(api->db, &st);
    tsdb_card_stats c;
    tsdb_head_card_stats(api->db, "__name__", limit, &c);
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
    card_write(&j, "seriesCountByMetricName", &c.metrics);
    card_write(&j, "labelValueCountByLabelName", &c.names);
    card_write(&j, "memoryInBytesByLabelName", &c.memory);
    card_write(&j, "seriesCountByLabelValuePair", &c.pairs);
    web_json_obj_end(&j);
    web_respond_end(resp, &j, NULL, 0);
    tsdb_card_stats_fini(&c);
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
