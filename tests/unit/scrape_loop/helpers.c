/* Helpers for the scrape_loop tests: scripted targets, hand-built configs, tsdb read-back. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scrape_test.h"
#include "tsdb/tsdb.h"

static void copy_header(http_request *req, const char *name, char *out, size_t cap)
{
    const char *v = http_request_header(req, name);
    size_t n = v != NULL ? strlen(v) : 0;
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(out, v != NULL ? v : "", n);
    out[n] = '\0';
}

static void serve(void *ctx, http_request *req, http_response *resp)
{
    test_target *t = ctx;
    pthread_mutex_lock(&t->lock);
    t->requests++;
    copy_header(req, "Accept", t->accept, sizeof t->accept);
    copy_header(req, "Accept-Encoding", t->accept_encoding, sizeof t->accept_encoding);
    copy_header(req, "X-Prometheus-Scrape-Timeout-Seconds", t->timeout_hdr, sizeof t->timeout_hdr);
    copy_header(req, "Authorization", t->authorization, sizeof t->authorization);
    resp->status = t->status;
    resp->content_type = t->content_type;
    odin_strbuf_puts(&resp->body, t->body);
    pthread_mutex_unlock(&t->lock);
}

void test_target_start(test_target *t, const char *body)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    t->body = odin_strdup(body);
    t->status = 200;
    t->content_type = "text/plain; version=0.0.4; charset=utf-8";
    odin_err err;
    odin_err_clear(&err);
    http_server_opts o = {.listen_address = "127.0.0.1:0", .threads = 2};
    t->srv = http_server_start(&o, &err);
    if (t->srv == NULL) {
        abort();
    }
    http_server_route(t->srv, NULL, "/*", serve, t);
    t->port = http_server_port(t->srv);
}

void test_target_set(test_target *t, const char *body, int status, const char *content_type)
{
    pthread_mutex_lock(&t->lock);
    free(t->body);
    t->body = odin_strdup(body);
    t->status = status;
    if (content_type != NULL) {
        t->content_type = content_type;
    }
    pthread_mutex_unlock(&t->lock);
}

int test_target_requests(test_target *t)
{
    pthread_mutex_lock(&t->lock);
    int n = t->requests;
    pthread_mutex_unlock(&t->lock);
    return n;
}

void test_target_stop(test_target *t)
{
    http_server_stop(t->srv);
    free(t->body);
    pthread_mutex_destroy(&t->lock);
}

scrape_config *test_config_new(const char *job, const char *const *targets, size_t n)
{
    scrape_config *c = odin_calloc(1, sizeof *c);
    c->scrape_interval_ms = 100;
    c->scrape_timeout_ms = 100;
    c->jobs = odin_calloc(1, sizeof *c->jobs);
    c->njobs = 1;
    scrape_job *j = &c->jobs[0];
    j->job_name = odin_strdup(job);
    j->scrape_interval_ms = 100;
    j->scrape_timeout_ms = 100;
    j->metrics_path = odin_strdup("/metrics");
    j->scheme = odin_strdup("http");
    j->honor_timestamps = true;
    j->enable_compression = true;
    j->http.follow_redirects = true;
    if (n > 0) {
        j->sd.static_groups = odin_calloc(1, sizeof *j->sd.static_groups);
        j->sd.nstatic = 1;
        discovery_group *g = &j->sd.static_groups[0];
        g->targets = odin_calloc(n, sizeof *g->targets);
        g->ntargets = n;
        for (size_t i = 0; i < n; i++) {
            g->targets[i] = odin_strdup(targets[i]);
        }
        g->source = odin_strdup("0");
    }
    return c;
}

void test_config_free(scrape_config *c)
{
    for (size_t i = 0; i < c->njobs; i++) {
        scrape_job *j = &c->jobs[i];
        free(j->job_name);
        free(j->metrics_path);
        free(j->scheme);
        for (size_t k = 0; k < j->nparams; k++) {
            free((void *)j->params[k].name.p);
            free((void *)j->params[k].value.p);
        }
        free(j->params);
        discovery_config_fini(&j->sd);
        for (size_t k = 0; k < j->nrelabel; k++) {
            relabel_config_fini(&j->relabel[k]);
        }
        free(j->relabel);
        for (size_t k = 0; k < j->nmetric_relabel; k++) {
            relabel_config_fini(&j->metric_relabel[k]);
        }
        free(j->metric_relabel);
    }
    free(c->jobs);
    free(c);
}

tsdb *test_db_open(void)
{
    tsdb_opts o = {.dir = NULL};
    odin_err err;
    odin_err_clear(&err);
    tsdb *db = tsdb_open(&o, &err);
    if (db == NULL) {
        abort();
    }
    return db;
}

void test_query(tsdb *db, const char *name, const char *label, const char *value, test_series *out)
{
    memset(out, 0, sizeof *out);
    tsdb_querier *q = tsdb_querier_open(db, 0, INT64_MAX);
    tsdb_matcher ms[2];
    size_t n = 0;
    odin_err err;
    odin_err_clear(&err);
    tsdb_matcher_init(&ms[n++], TSDB_MATCH_EQ, ODIN_STR("__name__"), odin_str_c(name), &err);
    if (label != NULL) {
        tsdb_matcher_init(&ms[n++], TSDB_MATCH_EQ, odin_str_c(label), odin_str_c(value), &err);
    }
    tsdb_series_set *s = tsdb_querier_select(q, ms, n, &err);
    while (s != NULL && tsdb_series_next(s)) {
        if (out->nseries++ == 0) {
            odin_labels ls = tsdb_series_labels(s);
            odin_strbuf b;
            odin_strbuf_init(&b, sizeof out->labels - 1);
            for (size_t i = 0; i < ls.len; i++) {
                odin_strbuf_printf(&b, "%s%.*s=\"%.*s\"", i ? "," : "", (int)ls.v[i].name.len,
                                   ls.v[i].name.p, (int)ls.v[i].value.len, ls.v[i].value.p);
            }
            memcpy(out->labels, b.p != NULL ? b.p : "", b.len);
            out->labels[b.len] = '\0';
            odin_strbuf_fini(&b);
        }
        tsdb_iter it;
        tsdb_series_iter(s, &it);
        int64_t t;
        double v;
        while (tsdb_iter_next(&it, &t, &v)) {
            out->nsamples++;
            out->last_is_stale = tsdb_is_stale(v);
            if (tsdb_is_stale(v)) {
                out->nstale++;
            } else {
                out->last = v;
                out->last_t = t;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        tsdb_matcher_fini(&ms[i]);
    }
    tsdb_querier_close(q);
}

bool test_wait(bool (*fn)(void *), void *arg)
{
    for (int i = 0; i < 750; i++) {
        if (fn(arg)) {
            return true;
        }
        struct timespec ts = {.tv_nsec = 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return false;
}
