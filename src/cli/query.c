/* `odin query instant|range|series|labels`: promtool 2.42's query commands. Arguments, defaults,
 * output (`-o promql`, the Go client's String forms; `-o json`, its JSON re-encoding) and exit
 * codes follow promtool so scripts written for it keep working. HTTP through libcurl. */
#include "cli/cli.h"
#include "cli/cli_int.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Answers larger than this are refused: a runaway query should not take all memory. */
#define QUERY_MAX_BODY_BYTES ((size_t)1 << 31)
enum { QUERY_MAX_MATCH = 64, QUERY_MAX_POSITIONAL = 4 };

typedef struct {
    const char *cmd; /* instant, range, series, labels */
    bool json;
    const char *pos[QUERY_MAX_POSITIONAL];
    int npos;
    const char *time, *start, *end, *step;
    const char *match[QUERY_MAX_MATCH];
    int nmatch;
    struct curl_slist *headers;
} query_args;

static const char usage_text[] =
    "usage: odin query [-o promql|json] <command> [<flags>] <args>\n"
    "\n"
    "  instant [--time=TIME] <server> <expr>\n"
    "  range [--start=TIME] [--end=TIME] [--step=DURATION] [--header=NAME=VALUE]... <server> "
    "<expr>\n"
    "  series --match=SELECTOR... [--start=TIME] [--end=TIME] <server>\n"
    "  labels [--match=SELECTOR]... [--start=TIME] [--end=TIME] <server> <name>\n"
    "\n"
    "TIME is RFC 3339 or Unix seconds; output as promtool query's (-o/--format promql|json).\n";

/* Command output and error text: formatted into a buffer, written in one call. */
static void emit(FILE *f, const char *fmt, ...) ODIN_PRINTF(2, 3);
static void emit(FILE *f, const char *fmt, ...)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    va_list ap;
    va_start(ap, fmt);
    odin_strbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    fwrite(b.p ? b.p : "", 1, b.len, f);
    odin_strbuf_fini(&b);
}

static int usage_error(const char *msg, const char *arg)
{
    emit(stderr, "odin query: error: %s%s, try --help\n", msg, arg ? arg : "");
    return 1; /* promtool (kingpin) exits 1 on usage errors */
}

/* Flags take "--name=value" or "--name value", anywhere among the positionals (kingpin does). */
static int flag_value(int argc, char **argv, int *i, const char *name, const char **out)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) {
        return 0;
    }
    if (a[n] == '=') {
        *out = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') {
        return 0;
    }
    if (*i + 1 >= argc) {
        return -1;
    }
    *out = argv[++*i];
    return 1;
}

static int set_format(query_args *q, const char *v)
{
    if (strcmp(v, "json") == 0 || strcmp(v, "promql") == 0) {
        q->json = v[0] == 'j';
        return 0;
    }
    return usage_error("enum value must be one of promql,json, got ", v);
}

static int add_header(query_args *q, const char *v)
{
    const char *eq = strchr(v, '=');
    if (!eq) {
        return usage_error("expected KEY=VALUE got ", v);
    }
    odin_strbuf h;
    odin_strbuf_init(&h, 0);
    odin_strbuf_put(&h, v, (size_t)(eq - v));
    odin_strbuf_puts(&h, ": ");
    odin_strbuf_puts(&h, eq + 1);
    q->headers = curl_slist_append(q->headers, h.p);
    odin_strbuf_fini(&h);
    return 0;
}

/* One flag at argv[*i]: 1 handled, 0 not a known flag, or an exit code + 100 on error. */
static int parse_flag(query_args *q, int argc, char **argv, int *i)
{
    static const char *const plain[] = {"--time", "--start", "--end", "--step"};
    const char **slots[] = {&q->time, &q->start, &q->end, &q->step};
    const char *v = NULL;
    int r;
    for (size_t k = 0; k < sizeof(plain) / sizeof(plain[0]); k++) {
        if ((r = flag_value(argc, argv, i, plain[k], &v)) != 0) {
            *slots[k] = v;
            return r < 0 ? 100 + usage_error("expected argument for flag ", plain[k]) : 1;
        }
    }
    if ((r = flag_value(argc, argv, i, "-o", &v)) != 0 ||
        (r = flag_value(argc, argv, i, "--format", &v)) != 0) {
        return r < 0              ? 100 + usage_error("expected argument for flag --format", NULL)
               : set_format(q, v) ? 102
                                  : 1;
    }
    if ((r = flag_value(argc, argv, i, "--match", &v)) != 0) {
        if (r < 0 || q->nmatch == QUERY_MAX_MATCH) {
            return 100 + usage_error("bad or too many --match flags", NULL);
        }
        q->match[q->nmatch++] = v;
        return 1;
    }
    if ((r = flag_value(argc, argv, i, "--header", &v)) != 0) {
        return r < 0              ? 100 + usage_error("expected argument for flag --header", NULL)
               : add_header(q, v) ? 102
                                  : 1;
    }
    if ((r = flag_value(argc, argv, i, "--enable-feature", &v)) != 0) {
        return r < 0 ? 100 + usage_error("expected argument for flag --enable-feature", NULL) : 1;
    }
    return 0;
}

/* 0 when parsed, else the exit code (0 after --help is returned as -1). */
static int parse_args(query_args *q, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            emit(stdout, "%s", usage_text);
            return -1;
        }
        int r = parse_flag(q, argc, argv, &i);
        if (r >= 100) {
            return r - 100;
        }
        if (r == 1) {
            continue;
        }
        if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown long flag ", a);
        }
        if (!q->cmd) {
            q->cmd = a;
        } else if (q->npos < QUERY_MAX_POSITIONAL) {
            q->pos[q->npos++] = a;
        } else {
            return usage_error("unexpected ", a);
        }
    }
    if (!q->cmd) {
        emit(stderr, "%s", usage_text);
        return 1;
    }
    return 0;
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    odin_strbuf *b = arg;
    odin_strbuf_put(b, p, size * n);
    return odin_strbuf_ok(b) ? size * n : 0;
}

static void form_add(CURL *c, odin_strbuf *form, const char *name, const char *value)
{
    char *esc = curl_easy_escape(c, value, 0);
    if (form->len) {
        odin_strbuf_putc(form, '&');
    }
    odin_strbuf_puts(form, name);
    odin_strbuf_putc(form, '=');
    odin_strbuf_puts(form, esc ? esc : "");
    curl_free(esc);
}

/* Sends the request; on a transport failure prints promtool's message and returns 1. POST sends
 * the form as the body (the Go client's DoGetFallback tries POST first); GET puts it in the URL. */
static int http_call(const query_args *q, CURL *c, const char *endpoint, const char *form,
                     bool post, odin_strbuf *body, long *status)
{
    odin_strbuf url;
    odin_strbuf_init(&url, 0);
    const char *server = q->pos[0];
    if (!strstr(server, "://")) {
        odin_strbuf_puts(&url, "http://");
    }
    odin_strbuf_puts(&url, server);
    while (url.len && url.p[url.len - 1] == '/') {
        url.len--;
    }
    odin_strbuf_puts(&url, "/api/v1/");
    odin_strbuf_puts(&url, endpoint);
    if (!post && form[0]) {
        odin_strbuf_putc(&url, '?');
        odin_strbuf_puts(&url, form);
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url.p);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, q->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L); /* promtool's 2 minute context */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (post) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
    }
    CURLcode rc = curl_easy_perform(c);
    int ret = 0;
    if (rc != CURLE_OK) {
        emit(stderr, "query error: %s \"%s\": %s\n", post ? "Post" : "Get", url.p,
             errbuf[0] ? errbuf : curl_easy_strerror(rc));
        ret = 1;
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    }
    odin_strbuf_fini(&url);
    return ret;
}

/* The envelope's data, or NULL after printing the error as the Go client words it. */
static const cli_json *envelope_data(odin_arena *a, odin_strbuf *body, long status)
{
    odin_err err = {0};
    cli_json *root = cli_json_parse(a, body->p ? body->p : "", body->len, &err);
    bool api_status = status / 100 == 2 || status == 400 || status == 422;
    if (!api_status || !root) {
        odin_str detail = odin_str_trim((odin_str){body->p ? body->p : "", body->len});
        if (!api_status) {
            const char *kind = status / 100 == 5 ? "server" : "client";
            emit(stderr, "query error: %s_error: %s error: %ld (detail: %.*s)\n", kind, kind,
                 status, (int)detail.len, detail.p);
        } else {
            emit(stderr, "query error: bad_response: %s\n", err.msg);
        }
        return NULL;
    }
    const cli_json *st = cli_json_get(root, "status");
    if (st && st->type == CLI_JSON_STR && odin_str_eq_c(st->str, "success")) {
        return cli_json_get(root, "data");
    }
    const cli_json *et = cli_json_get(root, "errorType"), *em = cli_json_get(root, "error");
    odin_str t = et && et->type == CLI_JSON_STR ? et->str : ODIN_STR("bad_response");
    odin_str m = em && em->type == CLI_JSON_STR ? em->str : ODIN_STR("inconsistent body");
    emit(stderr, "query error: %.*s: %.*s\n", (int)t.len, t.p, (int)m.len, m.p);
    return NULL;
}

/* ---- results as the Go client's model types ------------------------------------------------ */

typedef struct {
    odin_label *v;
    size_t n;
} metric;

static metric read_metric(odin_arena *a, const cli_json *obj)
{
    metric m = {0};
    if (!obj || obj->type != CLI_JSON_OBJ) {
        return m;
    }
    m.v = odin_arena_alloc(a, (obj->n ? obj->n : 1) * sizeof(*m.v));
    for (const cli_json *e = obj->child; e; e = e->next) {
        if (e->type == CLI_JSON_STR) {
            m.v[m.n++] = (odin_label){e->key, e->str};
        }
    }
    odin_labels_sort(m.v, m.n);
    return m;
}

/* model.Metric.String: name{a="b", c="d"}, "{}" when empty. */
static void put_metric(odin_strbuf *b, metric m)
{
    const odin_str *name = NULL;
    size_t others = 0;
    for (size_t i = 0; i < m.n; i++) {
        if (odin_str_eq_c(m.v[i].name, "__name__")) {
            name = &m.v[i].value;
        } else {
            others++;
        }
    }
    if (name) {
        odin_strbuf_putstr(b, *name);
    }
    if (others == 0 && name) {
        return;
    }
    odin_strbuf_putc(b, '{');
    bool first = true;
    for (size_t i = 0; i < m.n; i++) {
        if (odin_str_eq_c(m.v[i].name, "__name__")) {
            continue;
        }
        odin_strbuf_puts(b, first ? "" : ", ");
        first = false;
        odin_strbuf_putstr(b, m.v[i].name);
        odin_strbuf_putc(b, '=');
        odin_strbuf_put_go_quote(b, m.v[i].value);
    }
    odin_strbuf_putc(b, '}');
}

/* model.LabelSet.String: every label, __name__ included, between braces. */
static void put_labelset(odin_strbuf *b, metric m)
{
    odin_strbuf_put_go_labels(b, (odin_labels){m.v, m.n});
}

/* A Go map[string]string as encoding/json writes it: keys sorted. */
static void put_metric_json(odin_strbuf *b, metric m)
{
    odin_strbuf_putc(b, '{');
    for (size_t i = 0; i < m.n; i++) {
        odin_strbuf_puts(b, i ? "," : "");
        cli_put_json_string(b, m.v[i].name);
        odin_strbuf_putc(b, ':');
        cli_put_json_string(b, m.v[i].value);
    }
    odin_strbuf_putc(b, '}');
}

/* [t, "v"] of the API into ms and a double; false when it is not that shape. */
static bool read_pair(const cli_json *p, int64_t *t, double *v, odin_str *raw)
{
    if (!p || p->type != CLI_JSON_ARR || p->n != 2 || p->child->type != CLI_JSON_NUM ||
        p->child->next->type != CLI_JSON_STR) {
        return false;
    }
    *raw = p->child->next->str;
    return cli_parse_time(p->child->str, t) == 0 && odin_parse_double(*raw, v) == 0;
}

/* model.SamplePair: "v @[t]" in text, [t,"v"] in JSON (values re-encoded in 'f' form). */
static void put_pair(odin_strbuf *b, const cli_json *p, bool json)
{
    int64_t t = 0;
    double v = 0;
    odin_str raw = {0};
    read_pair(p, &t, &v, &raw);
    if (json) {
        odin_strbuf_putc(b, '[');
        cli_put_time(b, t);
        odin_strbuf_puts(b, ",\"");
        cli_put_value(b, v);
        odin_strbuf_puts(b, "\"]");
        return;
    }
    cli_put_value(b, v);
    odin_strbuf_puts(b, " @[");
    cli_put_time(b, t);
    odin_strbuf_putc(b, ']');
}

/* model.LabelSet.Before: fewer labels first, then the first differing name or value in the
 * merged name order decides. The Go client sorts matrices this way before printing them. */
static int metric_before(const void *pa, const void *pb)
{
    const metric *a = *(const metric *const *)pa, *b = *(const metric *const *)pb;
    if (a->n != b->n) {
        return a->n < b->n ? -1 : 1;
    }
    size_t i = 0, j = 0;
    while (i < a->n && j < b->n) {
        int c = odin_str_cmp(a->v[i].name, b->v[j].name);
        if (c != 0) {
            return c < 0 ? 1 : -1; /* the smaller name is missing from the other side */
        }
        c = odin_str_cmp(a->v[i].value, b->v[j].value);
        if (c != 0) {
            return c;
        }
        i++;
        j++;
    }
    return 0;
}

typedef struct {
    metric m; /* first: metric_before sorts pointers to these */
    const cli_json *values;
} stream;

static void print_vector(odin_arena *a, odin_strbuf *out, const cli_json *res, bool json)
{
    odin_strbuf_puts(out, json ? "[" : "");
    size_t k = 0;
    for (const cli_json *e = res->child; e; e = e->next, k++) {
        metric m = read_metric(a, cli_json_get(e, "metric"));
        if (json) {
            odin_strbuf_puts(out, k ? ",{\"metric\":" : "{\"metric\":");
            put_metric_json(out, m);
            odin_strbuf_puts(out, ",\"value\":");
            put_pair(out, cli_json_get(e, "value"), true);
            odin_strbuf_putc(out, '}');
            continue;
        }
        odin_strbuf_puts(out, k ? "\n" : "");
        put_metric(out, m);
        odin_strbuf_puts(out, " => ");
        put_pair(out, cli_json_get(e, "value"), false);
    }
    odin_strbuf_puts(out, json ? "]\n" : "\n");
}

static void print_matrix(odin_arena *a, odin_strbuf *out, const cli_json *res, bool json)
{
    stream *s = odin_arena_alloc(a, (res->n ? res->n : 1) * sizeof(*s));
    stream **order = odin_arena_alloc(a, (res->n ? res->n : 1) * sizeof(*order));
    size_t n = 0;
    for (const cli_json *e = res->child; e; e = e->next, n++) {
        s[n] = (stream){read_metric(a, cli_json_get(e, "metric")), cli_json_get(e, "values")};
        order[n] = &s[n];
    }
    if (!json) {
        qsort(order, n, sizeof(*order), metric_before);
    }
    odin_strbuf_puts(out, json ? "[" : "");
    for (size_t k = 0; k < n; k++) {
        const cli_json *vals = order[k]->values;
        if (json) {
            odin_strbuf_puts(out, k ? ",{\"metric\":" : "{\"metric\":");
            put_metric_json(out, order[k]->m);
            odin_strbuf_puts(out, ",\"values\":[");
        } else {
            odin_strbuf_puts(out, k ? "\n" : "");
            put_metric(out, order[k]->m);
            odin_strbuf_puts(out, " =>\n");
        }
        size_t i = 0;
        for (const cli_json *p = vals ? vals->child : NULL; p; p = p->next, i++) {
            odin_strbuf_puts(out, i == 0 ? "" : json ? "," : "\n");
            put_pair(out, p, json);
        }
        odin_strbuf_puts(out, json ? "]}" : "");
    }
    odin_strbuf_puts(out, json ? "]\n" : "\n");
}

/* Prints data.result by data.resultType; 1 on an answer of the wrong shape. */
static int print_value(odin_arena *a, odin_strbuf *out, const cli_json *data, bool json)
{
    const cli_json *rt = cli_json_get(data, "resultType"), *res = cli_json_get(data, "result");
    if (!rt || rt->type != CLI_JSON_STR || !res) {
        emit(stderr, "%s", "query error: bad_response: no resultType or result in the answer\n");
        return 1;
    }
    if (odin_str_eq_c(rt->str, "vector") && res->type == CLI_JSON_ARR) {
        print_vector(a, out, res, json);
    } else if (odin_str_eq_c(rt->str, "matrix") && res->type == CLI_JSON_ARR) {
        print_matrix(a, out, res, json);
    } else if (odin_str_eq_c(rt->str, "scalar")) {
        odin_strbuf_puts(out, json ? "" : "scalar: ");
        put_pair(out, res, json);
        odin_strbuf_putc(out, '\n');
    } else if (odin_str_eq_c(rt->str, "string") && res->type == CLI_JSON_ARR && res->n == 2) {
        /* promtool 2.42's client cannot decode strings and fails; Odin prints them like a
         * scalar: "string: "abc" @[t]" or [t,"abc"] */
        int64_t t = 0;
        cli_parse_time(res->child->str, &t);
        odin_strbuf_puts(out, json ? "[" : "string: ");
        if (json) {
            cli_put_time(out, t);
            odin_strbuf_putc(out, ',');
            cli_put_json_string(out, res->child->next->str);
            odin_strbuf_puts(out, "]\n");
        } else {
            odin_strbuf_put_go_quote(out, res->child->next->str);
            odin_strbuf_puts(out, " @[");
            cli_put_time(out, t);
            odin_strbuf_puts(out, "]\n");
        }
    } else {
        emit(stderr, "query error: bad_response: unexpected value type \"%.*s\"\n",
             (int)rt->str.len, rt->str.p);
        return 1;
    }
    return 0;
}

/* series (label sets) and labels (strings): one per line, or one JSON array. */
static int print_list(odin_arena *a, odin_strbuf *out, const cli_json *data, bool json, bool sets)
{
    if (!data || data->type != CLI_JSON_ARR) {
        emit(stderr, "%s", "query error: bad_response: data is not a list\n");
        return 1;
    }
    odin_strbuf_puts(out, json ? "[" : "");
    size_t k = 0;
    for (const cli_json *e = data->child; e; e = e->next, k++) {
        odin_strbuf_puts(out, json && k ? "," : "");
        if (sets) {
            metric m = read_metric(a, e);
            if (json) {
                put_metric_json(out, m);
            } else {
                put_labelset(out, m);
            }
        } else if (json) {
            cli_put_json_string(out, e->str);
        } else {
            odin_strbuf_putstr(out, e->str);
        }
        odin_strbuf_puts(out, json ? "" : "\n");
    }
    odin_strbuf_puts(out, json ? "]\n" : "");
    return 0;
}

/* ---- commands ------------------------------------------------------------------------------ */

/* Unix seconds with ms, as the Go client's formatTime sends them. */
static void form_add_time(CURL *c, odin_strbuf *form, const char *name, int64_t t_ms)
{
    odin_strbuf t;
    odin_strbuf_init(&t, 0);
    cli_put_time(&t, t_ms);
    form_add(c, form, name, t.p);
    odin_strbuf_fini(&t);
}

static int time_arg(const char *s, const char *what, int64_t *t_ms)
{
    if (cli_parse_time(odin_str_c(s), t_ms) == 0) {
        return 0;
    }
    emit(stderr, "error parsing %s: cannot parse \"%s\" to a valid timestamp\n", what, s);
    return 1;
}

/* Builds the request form of q's command; 0, or the exit code after printing why not. */
static int build_form(const query_args *q, CURL *c, odin_strbuf *form)
{
    bool instant = strcmp(q->cmd, "instant") == 0;
    int64_t t, start, end, step_ms = 0;
    if (instant) {
        form_add(c, form, "query", q->pos[1]);
        if (q->time && time_arg(q->time, "evaluation time", &t)) {
            return 1;
        }
        form_add_time(c, form, "time", q->time ? t : odin_now_ms());
        return 0;
    }
    if (strcmp(q->cmd, "range") == 0) {
        end = odin_now_ms();
        if ((q->end && time_arg(q->end, "end time", &end)) ||
            (q->start && time_arg(q->start, "start time", &start))) {
            return 1;
        }
        if (!q->start) {
            start = end - 5 * 60 * 1000;
        }
        if (start >= end) {
            emit(stderr, "%s", "start time is not before end time\n");
            return 1;
        }
        if (q->step &&
            (odin_parse_duration_ms(odin_str_c(q->step), &step_ms) < 0 || step_ms <= 0)) {
            return usage_error("time: invalid duration ", q->step);
        }
        if (!q->step) {
            /* promtool: about 250 points, at least 1s */
            int64_t res_s = (end - start) / 1000 / 250;
            step_ms = (res_s < 1 ? 1 : res_s) * 1000;
        }
        form_add(c, form, "query", q->pos[1]);
        form_add_time(c, form, "start", start);
        form_add_time(c, form, "end", end);
        form_add_time(c, form, "step", step_ms);
        return 0;
    }
    for (int i = 0; i < q->nmatch; i++) {
        form_add(c, form, "match[]", q->match[i]);
    }
    if ((q->start && time_arg(q->start, "start time", &start)) ||
        (q->end && time_arg(q->end, "end time", &end))) {
        return 1;
    }
    if (q->start) {
        form_add_time(c, form, "start", start);
    }
    if (q->end) {
        form_add_time(c, form, "end", end);
    }
    return 0;
}

static int check_positionals(const query_args *q)
{
    bool series = strcmp(q->cmd, "series") == 0;
    bool known = series || strcmp(q->cmd, "instant") == 0 || strcmp(q->cmd, "range") == 0 ||
                 strcmp(q->cmd, "labels") == 0;
    if (!known) {
        return usage_error("expected command but got ", q->cmd);
    }
    int want = series ? 1 : 2;
    if (q->npos < want) {
        return usage_error(q->npos == 0 ? "required argument 'server' not provided"
                           : series     ? "required flag --match not provided"
                           : strcmp(q->cmd, "labels") == 0
                               ? "required argument 'name' not provided"
                               : "required argument 'expr' not provided",
                           NULL);
    }
    if (q->npos > want) {
        return usage_error("unexpected ", q->pos[want]);
    }
    if (series && q->nmatch == 0) {
        return usage_error("required flag --match not provided", NULL);
    }
    return 0;
}

static int run(const query_args *q, CURL *c)
{
    odin_strbuf form, body, out, ep;
    odin_strbuf_init(&form, 0);
    odin_strbuf_init(&body, QUERY_MAX_BODY_BYTES);
    odin_strbuf_init(&out, 0);
    odin_strbuf_init(&ep, 0);
    odin_arena a;
    odin_arena_init(&a, 0);
    int rc = build_form(q, c, &form);
    bool labels = strcmp(q->cmd, "labels") == 0, series = strcmp(q->cmd, "series") == 0;
    if (rc) {
        goto done;
    }
    if (labels) {
        char *esc = curl_easy_escape(c, q->pos[1], 0);
        odin_strbuf_puts(&ep, "label/");
        odin_strbuf_puts(&ep, esc ? esc : "");
        odin_strbuf_puts(&ep, "/values");
        curl_free(esc);
    } else {
        odin_strbuf_puts(&ep, series                         ? "series"
                              : strcmp(q->cmd, "range") == 0 ? "query_range"
                                                             : "query");
    }
    long status = 0;
    rc = http_call(q, c, ep.p, form.p ? form.p : "", !labels, &body, &status);
    if (rc) {
        goto done;
    }
    const cli_json *data = envelope_data(&a, &body, status);
    if (!data) {
        rc = 1;
        goto done;
    }
    rc = labels || series ? print_list(&a, &out, data, q->json, series)
                          : print_value(&a, &out, data, q->json);
    fwrite(out.p ? out.p : "", 1, out.len, stdout);
done:
    odin_arena_fini(&a);
    odin_strbuf_fini(&ep);
    odin_strbuf_fini(&out);
    odin_strbuf_fini(&body);
    odin_strbuf_fini(&form);
    return rc;
}

int cli_query_main(int argc, char **argv)
{
    query_args q = {0};
    int rc = parse_args(&q, argc, argv);
    if (rc == 0) {
        rc = check_positionals(&q);
    }
    if (rc == 0) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        CURL *c = curl_easy_init();
        if (!c) {
            emit(stderr, "%s", "query error: cannot initialize libcurl\n");
            rc = 1;
        } else {
            rc = run(&q, c);
            curl_easy_cleanup(c);
        }
        curl_global_cleanup();
    }
    curl_slist_free_all(q.headers);
    return rc < 0 ? 0 : rc;
}
