/* Private to src/web/: the JSON writer, parameter parsers, the error table and the handler
 * entry points the files of this module share. Nothing here is seen outside src/web/. */
#ifndef ODIN_WEB_WEB_INT_H
#define ODIN_WEB_WEB_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "http/http.h"
#include "web/web.h"

/* ---- The API object --------------------------------------------------------------------------- */

typedef void (*web_fn)(web_api *api, http_request *req, http_response *resp);

/* A registered route's context: the handler and whether it waits for readiness. */
typedef struct {
    web_api *api;
    web_fn fn;
    bool needs_ready;
} web_route_ctx;

/* Fixed by the routes this module registers (about 60 with GET/POST pairs). */
#define WEB_MAX_ROUTES 96

/* Owned by the server, freed by web_api_free. Everything above `lock` is fixed once web_api_new
 * returns; `ready` is an atomic; the fields after `lock` are guarded by it. */
struct web_api {
    tsdb *db;
    promql_engine *engine;
    bool enable_admin;
    bool enable_lifecycle;
    char *version;
    char *storage_retention;
    char *cwd;
    char *hostname;
    int64_t start_ms;
    int64_t lookback_delta_ms;
    char **flag_names;       /* sorted by name */
    char **flag_values;
    size_t nflags;
    web_scrape_provider scrape;
    web_rules_provider rules;
    web_lifecycle_provider lifecycle;
    web_admin_provider admin;
    web_route_ctx routes[WEB_MAX_ROUTES];
    size_t nroutes;

    atomic_bool ready;
    atomic_bool quitting;

    pthread_mutex_t lock;
    char *config_yaml;
    bool reload_ok;
    int64_t last_config_ms;
    odin_labels external;      /* heap copy, strings in external_storage */
    char *external_storage;
};

/* ---- JSON writer (json.c) --------------------------------------------------------------------- */

/* Writes JSON into a strbuf, placing commas itself. Nesting is bounded by our own code (never by
 * input), so the fixed depth is an invariant. */
#define WEB_JSON_MAX_DEPTH 32
typedef struct {
    odin_strbuf *b;
    int depth;
    bool after_key;
    bool need_comma[WEB_JSON_MAX_DEPTH];
} web_json;

void web_json_init(web_json *j, odin_strbuf *b);
void web_json_obj_begin(web_json *j);
void web_json_obj_end(web_json *j);
void web_json_arr_begin(web_json *j);
void web_json_arr_end(web_json *j);
void web_json_key(web_json *j, const char *key);
void web_json_str(web_json *j, odin_str s);
void web_json_cstr(web_json *j, const char *s); /* NULL writes "" */
void web_json_i64(web_json *j, int64_t v);
void web_json_u64(web_json *j, uint64_t v);
void web_json_bool(web_json *j, bool v);
void web_json_null(web_json *j);
/* A float64 as Go's encoding/json writes it ('f', or 'e' below 1e-6 and from 1e21). NaN and
 * infinities are not JSON; they are written as null. */
void web_json_f64(web_json *j, double v);
/* A sample time in ms as Prometheus' API prints it: seconds, plus '.' and 3 digits when the ms
 * part is not 0 (1700000000.050). */
void web_json_time_ms(web_json *j, int64_t t);
/* A sample value as a JSON string, Prometheus' MarshalFloat ('f', 'e' outside [1e-6, 1e21),
 * NaN, +Inf, -Inf). */
void web_json_value(web_json *j, double v);
/* The texts of web_json_time_ms and web_json_value (without quotes) written to out, which holds
 * WEB_VALUE_MAX bytes; return the length (no terminator). For writers that put a whole point in
 * one append (range results: tens of thousands of points per answer). */
enum { WEB_VALUE_MAX = 48 };
size_t web_format_time_ms(int64_t t, char *out);
size_t web_format_value(double v, char *out);
/* Label set as an object, names in the set's (sorted) order. */
void web_json_labels(web_json *j, odin_labels ls);
/* Time as Go's RFC3339Nano in UTC; t_ms == 0 (never) prints Go's zero time. */
void web_json_rfc3339(web_json *j, int64_t t_ms);

/* Appends s as a JSON string literal with Go's escaping (HTML-safe: <, >, & as \u003c...,
 * U+2028/9 escaped, invalid UTF-8 as \ufffd). */
void web_json_put_string(odin_strbuf *b, const char *p, size_t len);
/* Go's strconv.FormatFloat(v, fmt, -1, 64) for fmt 'f' or 'e'. */
void web_put_float(odin_strbuf *b, double v, char fmt);
/* Prometheus' model.Duration String(): "1h30m", "5s", "0s". */
void web_put_duration(odin_strbuf *b, int64_t ms);

/* ---- Parameters (params.c) -------------------------------------------------------------------- */

/* Prometheus' MinTime and MaxTime in ms: the default bounds of optional ranges. */
#define WEB_MIN_TIME_MS (-9223309901257974000LL)
#define WEB_MAX_TIME_MS (9223309901257974999LL)

/* Unix seconds as a float or RFC 3339; -ODIN_ERR_PARSE with Prometheus' message otherwise. */
int web_parse_time(odin_str s, int64_t *t_ms, odin_err *err);
/* Float seconds or a Prometheus duration, in nanoseconds as Go's time.Duration (a step of
 * 0.0001 is positive though under a millisecond). */
int web_parse_duration(odin_str s, int64_t *ns, odin_err *err);
/* Appends s as Go's %q would print it, cut to 64 bytes of input. */
void web_put_quoted(odin_strbuf *b, odin_str s);
/* A series selector (`up{job="x"}`, `{__name__=~"a.*"}`) into matchers allocated from `a`; each
 * matcher registers its own cleanup on the arena. Messages follow Prometheus' parser. */
int web_parse_selector(odin_str s, odin_arena *a, tsdb_matcher **out, size_t *n, odin_err *err);
/* Go's strconv.ParseBool. */
int web_parse_bool(odin_str s, bool *out);

/* ---- Errors and responses (api.c) ------------------------------------------------------------- */

typedef enum {
    WEB_ERR_BAD_DATA,
    WEB_ERR_EXECUTION,
    WEB_ERR_CANCELED,
    WEB_ERR_TIMEOUT,
    WEB_ERR_INTERNAL,
    WEB_ERR_NOT_FOUND,
    WEB_ERR_UNAVAILABLE,
} web_err_type;

/* The errorType for an odin code (the one table, api.c). */
web_err_type web_err_type_of(int code);
/* Writes the error envelope with errorType's HTTP status. */
void web_respond_error(http_response *resp, web_err_type type, const char *msg);
/* Starts a success envelope: `{"status":"success","data":` is written and j is positioned for
 * the data value; finish with web_respond_end. */
void web_respond_begin(http_response *resp, web_json *j);
void web_respond_end(http_response *resp, web_json *j, const char *const *warnings,
                     size_t nwarnings);

/* Optional start/end parameters with Prometheus' defaults and messages. Returns false after
 * writing the error response. */
bool web_time_param(http_request *req, http_response *resp, const char *name, int64_t def,
                    int64_t *out);
/* match[] parameters parsed into matcher sets; each set has at least one matcher that does not
 * match "". `prefix_param` adds Prometheus' `invalid parameter "match[]": ` as /series does. */
typedef struct {
    tsdb_matcher *ms;
    size_t n;
} web_matcher_set;
bool web_match_params(http_request *req, http_response *resp, bool prefix_param,
                      web_matcher_set **sets, size_t *nsets);
/* Optional non-negative `limit`; 0 = none. */
bool web_limit_param(http_request *req, http_response *resp, size_t *out);

/* ---- Handlers (one file per family) ----------------------------------------------------------- */

/* Registers fn for method and path; API routes (needs_ready) answer 503 until ready and always
 * get Content-Type application/json. */
void web_route(web_api *api, http_server *srv, const char *method, const char *path, web_fn fn,
               bool needs_ready);
/* GET and POST both, as Prometheus' query and metadata endpoints. */
void web_route_get_post(web_api *api, http_server *srv, const char *path, web_fn fn);

void web_register_query(web_api *api, http_server *srv);
void web_register_series(web_api *api, http_server *srv);
void web_register_targets(web_api *api, http_server *srv);
void web_register_status(web_api *api, http_server *srv);
void web_register_federate(web_api *api, http_server *srv);

#endif
