/* Tests for the API handlers (api.c, series.c, status.c, targets.c, query.c) through a real
 * http server on 127.0.0.1:0 over an in-memory tsdb, comparing whole JSON bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"
#include "promql/promql.h"
#include "web/web.h"
#include "web_test.h"

typedef struct {
    tsdb *db;
    promql_engine *eng;
    http_server *srv;
    web_api *api;
    int port;
    int quits;
    int reloads;
} fixture;

static fixture fx;

static void append(tsdb_appender *a, const char *const *kv, size_t n, int64_t t, double v)
{
    odin_label ls[8];
    for (size_t i = 0; i < n / 2; i++) {
        ls[i] = (odin_label){odin_str_c(kv[2 * i]), odin_str_c(kv[2 * i + 1])};
    }
    odin_labels_sort(ls, n / 2);
    uint64_t ref = 0;
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(tsdb_append(a, &ref, (odin_labels){ls, n / 2}, t, v, &err), 0);
}

static void fill(tsdb *db)
{
    static const char *const up_a[] = {"__name__", "up", "instance", "a:9100", "job", "node"};
    static const char *const up_b[] = {"__name__", "up", "instance", "b:9100", "job", "node"};
    static const char *const http[] = {"__name__", "http_requests_total", "code", "200",
                                       "handler", "/<x>&"};
    static const char *const gpu[] = {"__name__", "DCGM_FI_DEV_GPU_TEMP", "gpu", "0", "job",
                                      "dcgm"};
    tsdb_appender *a = tsdb_appender_new(db);
    for (int64_t k = 0; k < 2; k++) {
        int64_t t = 1700000000000 + k * 15000;
        append(a, up_a, 6, t, 1);
        append(a, up_b, 6, t, 0);
        append(a, http, 6, t, 5.5 + (double)k);
        append(a, gpu, 6, t, 45);
    }
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(tsdb_appender_commit(a, &err), 0);
}

static int on_reload(void *ctx, odin_err *err)
{
    fixture *f = ctx;
    return ++f->reloads == 1 ? 0 : odin_err_set(err, ODIN_ERR_PARSE, "bad.yml:3:1: oops");
}

static void on_quit(void *ctx)
{
    ((fixture *)ctx)->quits++;
}

/* One target and two metadata entries, as the scrape subsystem will report them. */
static odin_label tl[] = {{ODIN_STR("instance"), ODIN_STR("a:9100")}, {ODIN_STR("job"), ODIN_STR("node")}};
static odin_label dl[] = {{ODIN_STR("__address__"), ODIN_STR("a:9100")}, {ODIN_STR("job"), ODIN_STR("node")}};

static int provide_targets(void *ctx, odin_arena *a, web_targets *out, odin_err *err)
{
    (void)ctx, (void)a, (void)err;
    static const web_target t[] = {{
        .discovered_labels = {dl, 2},
        .labels = {tl, 2},
        .scrape_pool = "node",
        .scrape_url = "http://a:9100/metrics",
        .last_error = "",
        .last_scrape_ms = 1700000000123,
        .last_scrape_duration_s = 0.0125,
        .health = WEB_HEALTH_UP,
        .scrape_interval_ms = 15000,
        .scrape_timeout_ms = 10000,
    }};
    static const char *const pools[] = {"node"};
    static const size_t counts[] = {0};
    *out = (web_targets){.active = t, .nactive = 1, .pools = pools, .dropped_counts = counts,
                         .npools = 1};
    return 0;
}

static int provide_metadata(void *ctx, odin_arena *a, const web_metadata **out, size_t *n,
                            odin_err *err)
{
    (void)ctx, (void)a, (void)err;
    static const web_metadata md[] = {
        {.target = {tl, 2}, .metric = "up", .type = "gauge", .help = "Up.", .unit = ""},
        {.target = {tl, 2}, .metric = "go_goroutines", .type = "gauge", .help = "Goroutines.",
         .unit = ""},
        {.target = {tl, 2}, .metric = "up", .type = "gauge", .help = "Up.", .unit = ""},
    };
    *out = md;
    *n = ODIN_ARRAY_LEN(md);
    return 0;
}

static int start(bool admin_lifecycle, bool providers)
{
    odin_err err;
    odin_err_clear(&err);
    fx = (fixture){0};
    tsdb_opts to = {.dir = NULL};
    fx.db = tsdb_open(&to, &err);
    if (fx.db == NULL) {
        return -1;
    }
    fill(fx.db);
    fx.eng = promql_engine_new(NULL);
    static const char *const names[] = {"web.listen-address", "storage.tsdb.path"};
    static const char *const values[] = {":9090", "data/"};
    web_opts wo = {
        .db = fx.db,
        .engine = fx.eng,
        .enable_admin_api = admin_lifecycle,
        .enable_lifecycle = admin_lifecycle,
        .version = "2.53.0",
        .storage_retention = "15d",
        .flag_names = names,
        .flag_values = values,
        .nflags = 2,
        .lifecycle = {.ctx = &fx, .reload = on_reload, .quit = on_quit},
    };
    if (providers) {
        wo.scrape = (web_scrape_provider){.targets = provide_targets, .metadata = provide_metadata};
    }
    fx.api = web_api_new(&wo, &err);
    http_server_opts so = {.listen_address = "127.0.0.1:0", .threads = 2};
    fx.srv = http_server_start(&so, &err);
    if (fx.api == NULL || fx.srv == NULL) {
        return -1;
    }
    web_api_register(fx.api, fx.srv);
    web_api_set_config(fx.api, "global:\n  scrape_interval: 15s\n", true, 1700000000000);
    fx.port = http_server_port(fx.srv);
    return 0;
}

static int setup_plain(void **state)
{
    (void)state;
    return start(false, false);
}

static int setup_full(void **state)
{
    (void)state;
    return start(true, true);
}

static int teardown(void **state)
{
    (void)state;
    http_server_stop(fx.srv);
    web_api_free(fx.api);
    promql_engine_free(fx.eng);
    tsdb_close(fx.db);
    return 0;
}

typedef struct {
    const char *name;
    const char *method;
    const char *path;
    const char *form; /* POST body, NULL for none */
    int status;
    const char *body; /* exact; a leading '~' makes the rest a fragment to find */
} api_case;

static void run_cases(const api_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const api_case *c = &cases[i];
        wt_resp r;
        if (!wt_request(fx.port, c->method, c->path, c->form, &r)) {
            fail_msg("%s: no answer", c->name);
        }
        bool fragment = c->body[0] == '~';
        bool body_ok = fragment ? strstr(r.body, c->body + 1) != NULL : strcmp(r.body, c->body) == 0;
        if (r.status != c->status || !body_ok) {
            fail_msg("%s: status %d body %s\nwant %d %s", c->name, r.status, r.body, c->status,
                     c->body);
        }
        char ct[64];
        if (r.body[0] == '{' &&
            (wt_header(&r, "Content-Type", ct, sizeof ct) == NULL ||
             strcmp(ct, "application/json") != 0)) {
            fail_msg("%s: content type %s", c->name, ct);
        }
        wt_resp_free(&r);
    }
}

#define OK(x) "{\"status\":\"success\",\"data\":" x "}"
#define BAD(x) "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"" x "\"}"

static void test_metadata_endpoints(void **state)
{
    (void)state;
    static const api_case cases[] = {
        {"series", "GET", "/api/v1/series?match[]=up", NULL, 200,
         OK("[{\"__name__\":\"up\",\"instance\":\"a:9100\",\"job\":\"node\"},"
            "{\"__name__\":\"up\",\"instance\":\"b:9100\",\"job\":\"node\"}]")},
        {"series two sets merged", "GET",
         "/api/v1/series?match[]=up%7Binstance%3D%22b%3A9100%22%7D&match[]=up", NULL, 200,
         OK("[{\"__name__\":\"up\",\"instance\":\"a:9100\",\"job\":\"node\"},"
            "{\"__name__\":\"up\",\"instance\":\"b:9100\",\"job\":\"node\"}]")},
        {"series post form", "POST", "/api/v1/series", "match%5B%5D=%7Bhandler%3D~%22.%2B%22%7D",
         200,
         OK("[{\"__name__\":\"http_requests_total\",\"code\":\"200\",\"handler\":"
            "\"/\\u003cx\\u003e\\u0026\"}]")},
        {"series limit", "GET", "/api/v1/series?match[]=up&limit=1", NULL, 200,
         "{\"status\":\"success\",\"data\":[{\"__name__\":\"up\",\"instance\":\"a:9100\","
         "\"job\":\"node\"}],\"warnings\":[\"results truncated due to limit\"]}"},
        {"series no match", "GET", "/api/v1/series", NULL, 400,
         BAD("no match[] parameter provided")},
        {"series bad match", "GET", "/api/v1/series?match[]=%7B%7D", NULL, 400,
         BAD("invalid parameter \\\"match[]\\\": 1:1: parse error: vector selector must contain "
             "at least one non-empty matcher")},
        {"series bad start", "GET", "/api/v1/series?match[]=up&start=abc", NULL, 400,
         BAD("invalid parameter \\\"start\\\": invalid time value for 'start': cannot parse "
             "\\\"abc\\\" to a valid timestamp")},
        {"series empty range", "GET", "/api/v1/series?match[]=up&start=1&end=2", NULL, 200,
         OK("[]")},
        {"labels", "GET", "/api/v1/labels", NULL, 200,
         OK("[\"__name__\",\"code\",\"gpu\",\"handler\",\"instance\",\"job\"]")},
        {"labels match", "GET", "/api/v1/labels?match[]=DCGM_FI_DEV_GPU_TEMP", NULL, 200,
         OK("[\"__name__\",\"gpu\",\"job\"]")},
        {"labels two sets", "POST", "/api/v1/labels",
         "match[]=DCGM_FI_DEV_GPU_TEMP&match[]=http_requests_total", 200,
         OK("[\"__name__\",\"code\",\"gpu\",\"handler\",\"job\"]")},
        {"labels bad match", "GET", "/api/v1/labels?match[]=up%7B", NULL, 400,
         BAD("1:3: parse error: unexpected end of input inside braces")},
        {"metric names", "GET", "/api/v1/label/__name__/values", NULL, 200,
         OK("[\"DCGM_FI_DEV_GPU_TEMP\",\"http_requests_total\",\"up\"]")},
        {"values with match", "GET", "/api/v1/label/job/values?match[]=up", NULL, 200,
         OK("[\"node\"]")},
        {"values escaped", "GET", "/api/v1/label/handler/values", NULL, 200,
         OK("[\"/\\u003cx\\u003e\\u0026\"]")},
        {"values unknown", "GET", "/api/v1/label/nope/values", NULL, 200, OK("[]")},
        {"values U__", "GET", "/api/v1/label/U__jo_62_/values", NULL, 200, OK("[\"dcgm\",\"node\"]")},
        {"values bad name", "GET", "/api/v1/label/1bad/values", NULL, 400,
         BAD("invalid label name: \\\"1bad\\\"")},
        {"values limit", "GET", "/api/v1/label/__name__/values?limit=1", NULL, 200,
         "{\"status\":\"success\",\"data\":[\"DCGM_FI_DEV_GPU_TEMP\"],\"warnings\":"
         "[\"results truncated due to limit\"]}"},
        {"values bad limit", "GET", "/api/v1/label/job/values?limit=-1", NULL, 400,
         BAD("invalid parameter \\\"limit\\\": limit must be non-negative")},
        {"label path without values", "GET", "/api/v1/label/job", NULL, 404,
         "404 page not found\n"},
        {"unknown api path", "GET", "/api/v1/nope", NULL, 404, "404 page not found\n"},
        {"exemplars", "GET", "/api/v1/query_exemplars?query=up", NULL, 200, OK("[]")},
        {"targets empty", "GET", "/api/v1/targets", NULL, 200,
         OK("{\"activeTargets\":[],\"droppedTargets\":[],\"droppedTargetCounts\":{}}")},
        {"targets active only", "GET", "/api/v1/targets?state=active", NULL, 200,
         OK("{\"activeTargets\":[],\"droppedTargets\":[]}")},
        {"metadata empty", "GET", "/api/v1/metadata", NULL, 200, OK("{}")},
        {"targets metadata empty", "GET", "/api/v1/targets/metadata", NULL, 200, OK("[]")},
        {"rules empty", "GET", "/api/v1/rules", NULL, 200, OK("{\"groups\":[]}")},
        {"rules bad type", "GET", "/api/v1/rules?type=x", NULL, 400,
         BAD("invalid parameter \\\"type\\\": not supported value \\\"x\\\"")},
        {"alerts empty", "GET", "/api/v1/alerts", NULL, 200, OK("{\"alerts\":[]}")},
        {"alertmanagers", "GET", "/api/v1/alertmanagers", NULL, 200,
         OK("{\"activeAlertmanagers\":[],\"droppedAlertmanagers\":[]}")},
        {"scrape pools", "GET", "/api/v1/scrape_pools", NULL, 200, OK("{\"scrapePools\":[]}")},
    };
    run_cases(cases, ODIN_ARRAY_LEN(cases));
}

static void test_status_and_management(void **state)
{
    (void)state;
    static const api_case cases[] = {
        {"healthy", "GET", "/-/healthy", NULL, 200, "Prometheus Server is Healthy.\n"},
        {"ready", "GET", "/-/ready", NULL, 200, "Prometheus Server is Ready.\n"},
        {"reload off", "POST", "/-/reload", NULL, 403, "Lifecycle API is not enabled."},
        {"quit off", "PUT", "/-/quit", NULL, 403, "Lifecycle API is not enabled."},
        {"reload get", "GET", "/-/reload", NULL, 405, "Only POST or PUT requests allowed"},
        {"admin off", "POST", "/api/v1/admin/tsdb/snapshot", NULL, 500,
         "{\"status\":\"error\",\"errorType\":\"unavailable\",\"error\":\"admin APIs disabled\"}"},
        {"admin delete off", "PUT", "/api/v1/admin/tsdb/delete_series?match[]=up", NULL, 500,
         "{\"status\":\"error\",\"errorType\":\"unavailable\",\"error\":\"admin APIs disabled\"}"},
        {"config", "GET", "/api/v1/status/config", NULL, 200,
         OK("{\"yaml\":\"global:\\n  scrape_interval: 15s\\n\"}")},
        {"flags", "GET", "/api/v1/status/flags", NULL, 200,
         OK("{\"storage.tsdb.path\":\"data/\",\"web.listen-address\":\":9090\"}")},
        {"buildinfo", "GET", "/api/v1/status/buildinfo", NULL, 200,
         "~" "{\"status\":\"success\",\"data\":{\"version\":\"2.53.0\",\"revision\":\"\","
         "\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":"},
        {"runtimeinfo", "GET", "/api/v1/status/runtimeinfo", NULL, 200,
         "~" "\"reloadConfigSuccess\":true,\"lastConfigTime\":\"2023-11-14T22:13:20Z\","
         "\"corruptionCount\":0,"},
        {"runtimeinfo retention", "GET", "/api/v1/status/runtimeinfo", NULL, 200,
         "~" "\"storageRetention\":\"15d\"}}"},
        {"tsdb", "GET", "/api/v1/status/tsdb?limit=2", NULL, 200,
         "~\"numSeries\":4,\"numLabelPairs\":10,\"chunkCount\":"},
        {"tsdb tops", "GET", "/api/v1/status/tsdb?limit=2", NULL, 200,
         "~\"minTime\":1700000000000,\"maxTime\":1700000015000},"
            "\"seriesCountByMetricName\":[{\"name\":\"up\",\"value\":2},"
            "{\"name\":\"DCGM_FI_DEV_GPU_TEMP\",\"value\":1}],"
            "\"labelValueCountByLabelName\":[{\"name\":\"__name__\",\"value\":3},"
            "{\"name\":\"instance\",\"value\":2}],"
            "\"memoryInBytesByLabelName\":[{\"name\":\"__name__\",\"value\":43},"
            "{\"name\":\"instance\",\"value\":12}],"
            "\"seriesCountByLabelValuePair\":[{\"name\":\"__name__=up\",\"value\":2},"
            "{\"name\":\"job=node\",\"value\":2}]}}"},
        {"tsdb bad limit", "GET", "/api/v1/status/tsdb?limit=0", NULL, 400,
         BAD("limit must be a positive number")},
        {"walreplay", "GET", "/api/v1/status/walreplay", NULL, 200,
         OK("{\"min\":0,\"max\":0,\"current\":0}")},
    };
    run_cases(cases, ODIN_ARRAY_LEN(cases));
    web_api_set_ready(fx.api, false);
    static const api_case unready[] = {
        {"not ready", "GET", "/-/ready", NULL, 503, "Service Unavailable"},
        {"api not ready", "GET", "/api/v1/labels", NULL, 503, "Service Unavailable"},
        {"healthy while not ready", "GET", "/-/healthy", NULL, 200,
         "Prometheus Server is Healthy.\n"},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(unready); i++) {
        wt_resp r;
        assert_true(wt_request(fx.port, unready[i].method, unready[i].path, NULL, &r));
        assert_int_equal(r.status, unready[i].status);
        assert_string_equal(r.body, unready[i].body);
        wt_resp_free(&r);
    }
    web_api_set_ready(fx.api, true);
}

static void test_query_validation(void **state)
{
    (void)state;
    static const api_case cases[] = {
        {"range no start", "GET", "/api/v1/query_range?query=up", NULL, 400,
         BAD("invalid parameter \\\"start\\\": cannot parse \\\"\\\" to a valid timestamp")},
        {"range end before start", "GET", "/api/v1/query_range?query=up&start=10&end=5&step=1",
         NULL, 400,
         BAD("invalid parameter \\\"end\\\": end timestamp must not be before start time")},
        {"range zero step", "GET", "/api/v1/query_range?query=up&start=1&end=5&step=0", NULL,
         400,
         BAD("invalid parameter \\\"step\\\": zero or negative query resolution step widths are "
             "not accepted. Try a positive integer")},
        {"range bad step", "GET", "/api/v1/query_range?query=up&start=1&end=5&step=PT15S", NULL,
         400, BAD("invalid parameter \\\"step\\\": cannot parse \\\"PT15S\\\" to a valid duration")},
        {"range too many points", "GET", "/api/v1/query_range?query=up&start=0&end=11001&step=1",
         NULL, 400,
         BAD("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
             "query resolution (?step=XX)")},
        {"range bad timeout", "GET",
         "/api/v1/query_range?query=up&start=0&end=10&step=1&timeout=x", NULL, 400,
         BAD("invalid parameter \\\"timeout\\\": cannot parse \\\"x\\\" to a valid duration")},
        {"query bad time", "GET", "/api/v1/query?query=up&time=x", NULL, 400,
         BAD("invalid parameter \\\"time\\\": invalid time value for 'time': cannot parse "
             "\\\"x\\\" to a valid timestamp")},
        {"query parse error", "GET", "/api/v1/query?query=sum(", NULL, 400,
         "~" "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter "
         "\\\"query\\\": "},
        {"query exemplars bad query", "GET", "/api/v1/query_exemplars?query=sum(", NULL, 400,
         "~" "\"errorType\":\"bad_data\""},
    };
    run_cases(cases, ODIN_ARRAY_LEN(cases));
}

static void test_query_results(void **state)
{
    (void)state;
    static const api_case cases[] = {
        {"instant vector", "GET",
         "/api/v1/query?query=up%7Binstance%3D%22a%3A9100%22%7D&time=1700000015", NULL, 200,
         OK("{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":\"up\","
            "\"instance\":\"a:9100\",\"job\":\"node\"},\"value\":[1700000015,\"1\"]}]}")},
        {"instant post", "POST", "/api/v1/query",
         "query=DCGM_FI_DEV_GPU_TEMP&time=2023-11-14T22:13:20.5Z", 200,
         OK("{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"__name__\":"
            "\"DCGM_FI_DEV_GPU_TEMP\",\"gpu\":\"0\",\"job\":\"dcgm\"},"
            "\"value\":[1700000000.500,\"45\"]}]}")},
        {"instant empty", "GET", "/api/v1/query?query=nope&time=1700000015", NULL, 200,
         OK("{\"resultType\":\"vector\",\"result\":[]}")},
        {"scalar", "GET", "/api/v1/query?query=1.5&time=1700000000.5", NULL, 200,
         OK("{\"resultType\":\"scalar\",\"result\":[1700000000.5,\"1.5\"]}")},
        {"string", "GET", "/api/v1/query?query=%22a%3Cb%22&time=1700000000", NULL, 200,
         OK("{\"resultType\":\"string\",\"result\":[1700000000,\"a\\u003cb\"]}")},
        {"range matrix", "GET",
         "/api/v1/query_range?query=http_requests_total&start=1700000000&end=1700000015&step=15",
         NULL, 200,
         OK("{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":"
            "\"http_requests_total\",\"code\":\"200\",\"handler\":\"/\\u003cx\\u003e\\u0026\"},"
            "\"values\":[[1700000000,\"5.5\"],[1700000015,\"6.5\"]]}]}")},
        {"range sorted", "POST", "/api/v1/query_range",
         "query=up&start=1700000000&end=1700000000&step=15s", 200,
         OK("{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"up\","
            "\"instance\":\"a:9100\",\"job\":\"node\"},\"values\":[[1700000000,\"1\"]]},"
            "{\"metric\":{\"__name__\":\"up\",\"instance\":\"b:9100\",\"job\":\"node\"},"
            "\"values\":[[1700000000,\"0\"]]}]}")},
        {"query limit", "GET", "/api/v1/query?query=up&time=1700000015&limit=1", NULL, 200,
         "~" "\"warnings\":[\"results truncated due to limit\"]}"},
        {"format query", "GET", "/api/v1/format_query?query=sum(rate(x%5B5m%5D))by(job)", NULL,
         200, OK("\"sum by (job) (rate(x[5m]))\"")},
    };
    run_cases(cases, ODIN_ARRAY_LEN(cases));
}

static void test_providers_and_admin(void **state)
{
    (void)state;
    static const api_case cases[] = {
        {"targets", "GET", "/api/v1/targets", NULL, 200,
         OK("{\"activeTargets\":[{\"discoveredLabels\":{\"__address__\":\"a:9100\",\"job\":"
            "\"node\"},\"labels\":{\"instance\":\"a:9100\",\"job\":\"node\"},\"scrapePool\":"
            "\"node\",\"scrapeUrl\":\"http://a:9100/metrics\",\"globalUrl\":"
            "\"http://a:9100/metrics\",\"lastError\":\"\",\"lastScrape\":"
            "\"2023-11-14T22:13:20.123Z\",\"lastScrapeDuration\":0.0125,\"health\":\"up\","
            "\"scrapeInterval\":\"15s\",\"scrapeTimeout\":\"10s\"}],\"droppedTargets\":[],"
            "\"droppedTargetCounts\":{\"node\":0}}")},
        {"targets other pool", "GET", "/api/v1/targets?scrapePool=x&state=active", NULL, 200,
         OK("{\"activeTargets\":[],\"droppedTargets\":[]}")},
        {"scrape pools", "GET", "/api/v1/scrape_pools", NULL, 200,
         OK("{\"scrapePools\":[\"node\"]}")},
        {"metadata", "GET", "/api/v1/metadata", NULL, 200,
         OK("{\"go_goroutines\":[{\"type\":\"gauge\",\"help\":\"Goroutines.\",\"unit\":\"\"}],"
            "\"up\":[{\"type\":\"gauge\",\"help\":\"Up.\",\"unit\":\"\"}]}")},
        {"metadata one", "GET", "/api/v1/metadata?metric=up", NULL, 200,
         OK("{\"up\":[{\"type\":\"gauge\",\"help\":\"Up.\",\"unit\":\"\"}]}")},
        {"metadata limit", "GET", "/api/v1/metadata?limit=1", NULL, 200,
         OK("{\"go_goroutines\":[{\"type\":\"gauge\",\"help\":\"Goroutines.\",\"unit\":\"\"}]}")},
        {"metadata bad limit", "GET", "/api/v1/metadata?limit=x", NULL, 400,
         BAD("limit must be a number")},
        {"targets metadata", "GET",
         "/api/v1/targets/metadata?metric=go_goroutines&match_target=%7Bjob%3D%22node%22%7D",
         NULL, 200,
         OK("[{\"target\":{\"instance\":\"a:9100\",\"job\":\"node\"},\"type\":\"gauge\","
            "\"help\":\"Goroutines.\",\"unit\":\"\"}]")},
        {"targets metadata no match", "GET",
         "/api/v1/targets/metadata?match_target=%7Bjob%3D%22x%22%7D", NULL, 200, OK("[]")},
        {"reload ok", "POST", "/-/reload", NULL, 200, ""},
        {"reload fails", "PUT", "/-/reload", NULL, 500,
         "failed to reload config: bad.yml:3:1: oops\n"},
        {"quit", "POST", "/-/quit", NULL, 200, "Requesting termination... Goodbye!"},
        {"quit again", "POST", "/-/quit", NULL, 200, "Termination already in progress."},
        {"snapshot unsupported", "POST", "/api/v1/admin/tsdb/snapshot?skip_head=x", NULL, 400,
         BAD("invalid parameter \\\"skip_head\\\": unable to parse boolean: strconv.ParseBool: "
             "parsing \\\"x\\\": invalid syntax")},
        {"delete no match", "POST", "/api/v1/admin/tsdb/delete_series", NULL, 400,
         BAD("no match[] parameter provided")},
        {"clean tombstones", "POST", "/api/v1/admin/tsdb/clean_tombstones", NULL, 204, ""},
    };
    run_cases(cases, ODIN_ARRAY_LEN(cases));
    assert_int_equal(fx.quits, 1);
    assert_int_equal(fx.reloads, 2);
}

int web_api_tests(void)
{
    const struct CMUnitTest plain[] = {
        cmocka_unit_test(test_metadata_endpoints),
        cmocka_unit_test(test_status_and_management),
        cmocka_unit_test(test_query_validation),
        cmocka_unit_test(test_query_results),
    };
    const struct CMUnitTest full[] = {
        cmocka_unit_test(test_providers_and_admin),
    };
    int failed = cmocka_run_group_tests_name("web_api", plain, setup_plain, teardown);
    failed += cmocka_run_group_tests_name("web_api_providers", full, setup_full, teardown);
    return failed;
}
