/* Scrape loops end to end against in-process targets: samples with job/instance, report series,
 * staleness on disappearance, failure and removal, honor_labels, metric relabeling, sample_limit,
 * gzip and OpenMetrics bodies, file discovery, and the timestamp alignment rule. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scrape/loop_int.h"
#include "scrape_test.h"
#include "tsdb/tsdb.h"

typedef enum { HAS_VALUE, HAS_STALE, LAST_STALE, HAS_ANY } cond_kind;

typedef struct {
    tsdb *db;
    const char *name, *label, *value;
    cond_kind kind;
    double want;
} cond;

static bool check(void *arg)
{
    cond *c = arg;
    test_series s;
    test_query(c->db, c->name, c->label, c->value, &s);
    switch (c->kind) {
    case HAS_VALUE:
        return s.nsamples > 0 && !s.last_is_stale && s.last == c->want;
    case HAS_STALE:
        return s.nstale > 0;
    case LAST_STALE:
        return s.nsamples > 0 && s.last_is_stale;
    case HAS_ANY:
        return s.nsamples > 0;
    }
    return false;
}

static bool wait_for(tsdb *db, const char *name, const char *label, const char *value,
                     cond_kind kind, double want)
{
    cond c = {db, name, label, value, kind, want};
    return test_wait(check, &c);
}

typedef struct {
    test_target tgt;
    char addr[64];
    tsdb *db;
    scrape_manager *m;
    scrape_config *cfg;
} env;

static void env_start(env *e, const char *body)
{
    memset(e, 0, sizeof *e);
    test_target_start(&e->tgt, body);
    odin_arena a;
    odin_arena_init(&a, 0);
    char *s = odin_arena_printf(&a, "127.0.0.1:%d", e->tgt.port);
    memcpy(e->addr, s, strlen(s) + 1);
    odin_arena_fini(&a);
    e->db = test_db_open();
    e->m = scrape_manager_new(e->db);
    const char *t[] = {e->addr};
    e->cfg = test_config_new("test", t, 1);
}

static void env_apply(env *e)
{
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(scrape_manager_apply(e->m, e->cfg, &err), 0);
}

static void env_stop(env *e)
{
    scrape_manager_free(e->m);
    tsdb_close(e->db);
    test_config_free(e->cfg);
    test_target_stop(&e->tgt);
}

static const scrape_target_info *find_target(const scrape_targets_snapshot *s, const char *job)
{
    for (size_t i = 0; i < s->len; i++) {
        if (!s->v[i].dropped && strcmp(s->v[i].job, job) == 0) {
            return &s->v[i];
        }
    }
    return NULL;
}

typedef struct {
    scrape_manager *m;
    const char *fragment;
} err_cond;

static bool error_matches(void *arg)
{
    err_cond *c = arg;
    scrape_targets_snapshot snap;
    scrape_manager_targets(c->m, &snap);
    const scrape_target_info *t = find_target(&snap, "test");
    bool ok = t != NULL && strstr(t->last_error, c->fragment) != NULL;
    scrape_targets_snapshot_fini(&snap);
    return ok;
}

static bool wait_error(scrape_manager *m, const char *fragment)
{
    err_cond c = {m, fragment};
    return test_wait(error_matches, &c);
}

static void test_samples_and_report(void **state)
{
    (void)state;
    env e;
    env_start(&e, "# TYPE metric_a gauge\nmetric_a 1\nmetric_b{x=\"y\"} 2\n");
    env_apply(&e);
    assert_true(wait_for(e.db, "up", NULL, NULL, HAS_VALUE, 1));
    assert_true(wait_for(e.db, "metric_b", "x", "y", HAS_VALUE, 2));
    test_series s;
    test_query(e.db, "metric_a", "job", "test", &s);
    assert_int_equal(s.nseries, 1);
    char want[128];
    odin_arena a;
    odin_arena_init(&a, 0);
    char *w = odin_arena_printf(&a, "__name__=\"metric_a\",instance=\"%s\",job=\"test\"", e.addr);
    memcpy(want, w, strlen(w) + 1);
    odin_arena_fini(&a);
    assert_string_equal(s.labels, want);
    assert_true(wait_for(e.db, "scrape_samples_scraped", NULL, NULL, HAS_VALUE, 2));
    assert_true(wait_for(e.db, "scrape_samples_post_metric_relabeling", NULL, NULL, HAS_VALUE, 2));
    test_query(e.db, "scrape_series_added", NULL, NULL, &s);
    assert_true(s.nsamples > 0);
    test_query(e.db, "scrape_duration_seconds", NULL, NULL, &s);
    assert_true(s.nsamples > 0 && s.last >= 0 && s.last < 5);
    /* after the first scrape the cache knows every series */
    assert_true(wait_for(e.db, "scrape_series_added", NULL, NULL, HAS_VALUE, 0));

    scrape_targets_snapshot snap;
    scrape_manager_targets(e.m, &snap);
    const scrape_target_info *t = find_target(&snap, "test");
    assert_non_null(t);
    assert_string_equal(t->health, "up");
    assert_string_equal(t->last_error, "");
    assert_true(t->last_scrape_ms > 0);
    assert_int_equal(t->interval_ms, 100);
    assert_non_null(strstr(t->scrape_url, "/metrics"));
    assert_non_null(odin_labels_get(t->labels, "instance"));
    assert_null(odin_labels_get(t->labels, "__address__"));
    assert_non_null(odin_labels_get(t->discovered, "__address__"));
    assert_non_null(odin_labels_get(t->discovered, "__scrape_interval__"));
    scrape_targets_snapshot_fini(&snap);

    pthread_mutex_lock(&e.tgt.lock);
    assert_non_null(strstr(e.tgt.accept, "application/openmetrics-text"));
    assert_non_null(strstr(e.tgt.accept, "text/plain;version=0.0.4"));
    assert_string_equal(e.tgt.timeout_hdr, "0.1");
    pthread_mutex_unlock(&e.tgt.lock);
    env_stop(&e);
}

static void test_staleness(void **state)
{
    (void)state;
    env e;
    env_start(&e, "metric_a 1\nmetric_b 2\n");
    env_apply(&e);
    assert_true(wait_for(e.db, "metric_b", NULL, NULL, HAS_VALUE, 2));
    test_target_set(&e.tgt, "metric_a 1\n", 200, NULL);
    assert_true(wait_for(e.db, "metric_b", NULL, NULL, LAST_STALE, 0));
    test_series s;
    test_query(e.db, "metric_a", NULL, NULL, &s);
    assert_false(s.last_is_stale);

    /* a failing target: up=0, stale markers for what it had, health down */
    test_target_set(&e.tgt, "oops", 500, NULL);
    assert_true(wait_for(e.db, "up", NULL, NULL, HAS_VALUE, 0));
    assert_true(wait_for(e.db, "metric_a", NULL, NULL, LAST_STALE, 0));
    scrape_targets_snapshot snap;
    scrape_manager_targets(e.m, &snap);
    const scrape_target_info *t = find_target(&snap, "test");
    assert_non_null(t);
    assert_string_equal(t->health, "down");
    assert_string_equal(t->last_error, "server returned HTTP status 500 Internal Server Error");
    scrape_targets_snapshot_fini(&snap);

    /* back up, then removed from the config: stale markers after about two intervals */
    test_target_set(&e.tgt, "metric_a 5\n", 200, NULL);
    assert_true(wait_for(e.db, "metric_a", NULL, NULL, HAS_VALUE, 5));
    scrape_config *empty = test_config_new("other", NULL, 0);
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(scrape_manager_apply(e.m, empty, &err), 0);
    test_config_free(e.cfg);
    e.cfg = empty;
    assert_true(wait_for(e.db, "metric_a", NULL, NULL, LAST_STALE, 0));
    assert_true(wait_for(e.db, "up", "job", "test", LAST_STALE, 0));
    env_stop(&e);
}

static void test_connection_refused(void **state)
{
    (void)state;
    env e;
    env_start(&e, "x 1\n");
    /* a port nobody listens on: bind and close one */
    test_target dead;
    test_target_start(&dead, "");
    int port = dead.port;
    test_target_stop(&dead);
    odin_arena a;
    odin_arena_init(&a, 0);
    char *addr = odin_arena_printf(&a, "127.0.0.1:%d", port);
    free(e.cfg->jobs[0].sd.static_groups[0].targets[0]);
    e.cfg->jobs[0].sd.static_groups[0].targets[0] = odin_strdup(addr);
    env_apply(&e);
    assert_true(wait_for(e.db, "up", NULL, NULL, HAS_VALUE, 0));
    scrape_targets_snapshot snap;
    scrape_manager_targets(e.m, &snap);
    const scrape_target_info *t = find_target(&snap, "test");
    assert_non_null(t);
    assert_string_equal(t->health, "down");
    char *want = odin_arena_printf(&a,
                                   "Get \"http://%s/metrics\": dial tcp %s: connect: connection "
                                   "refused",
                                   addr, addr);
    assert_string_equal(t->last_error, want);
    scrape_targets_snapshot_fini(&snap);
    odin_arena_fini(&a);
    env_stop(&e);
}

static void test_honor_labels(void **state)
{
    (void)state;
    env e;
    env_start(&e, "m{job=\"other\",instance=\"x\",exported_job=\"taken\"} 1\n");
    env_apply(&e);
    assert_true(wait_for(e.db, "m", "job", "test", HAS_VALUE, 1));
    test_series s;
    test_query(e.db, "m", "exported_instance", "x", &s);
    assert_int_equal(s.nseries, 1);
    test_query(e.db, "m", "exported_exported_job", "other", &s);
    assert_int_equal(s.nseries, 1);
    test_query(e.db, "m", "exported_job", "taken", &s);
    assert_int_equal(s.nseries, 1);
    scrape_manager_free(e.m);
    tsdb_close(e.db);

    e.db = test_db_open();
    e.m = scrape_manager_new(e.db);
    e.cfg->jobs[0].honor_labels = true;
    env_apply(&e);
    assert_true(wait_for(e.db, "m", "job", "other", HAS_VALUE, 1));
    test_query(e.db, "m", "instance", "x", &s);
    assert_int_equal(s.nseries, 1);
    env_stop(&e);
}

static void test_metric_relabel(void **state)
{
    (void)state;
    env e;
    env_start(&e, "keep_me 1\ndrop_me_total 2\ndrop_me_too 3\n");
    scrape_job *j = &e.cfg->jobs[0];
    j->metric_relabel = odin_calloc(1, sizeof *j->metric_relabel);
    j->nmetric_relabel = 1;
    relabel_config *rc = &j->metric_relabel[0];
    rc->source_labels = odin_calloc(1, sizeof *rc->source_labels);
    rc->source_labels[0] = odin_strdup("__name__");
    rc->nsource_labels = 1;
    rc->regex_text = odin_strdup("drop_me.*");
    rc->action = RELABEL_DROP;
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(relabel_config_finish(rc, &err), 0);
    env_apply(&e);
    assert_true(wait_for(e.db, "keep_me", NULL, NULL, HAS_VALUE, 1));
    assert_true(wait_for(e.db, "scrape_samples_post_metric_relabeling", NULL, NULL, HAS_VALUE, 1));
    test_series s;
    test_query(e.db, "scrape_samples_scraped", NULL, NULL, &s);
    assert_true(s.last == 3);
    test_query(e.db, "drop_me_total", NULL, NULL, &s);
    assert_int_equal(s.nsamples, 0);
    env_stop(&e);
}

static void test_limits(void **state)
{
    (void)state;
    env e;
    env_start(&e, "a 1\nb 2\nc 3\n");
    e.cfg->jobs[0].sample_limit = 2;
    env_apply(&e);
    assert_true(wait_for(e.db, "up", NULL, NULL, HAS_VALUE, 0));
    test_series s;
    test_query(e.db, "a", NULL, NULL, &s);
    assert_int_equal(s.nsamples - s.nstale, 0);
    assert_true(wait_for(e.db, "scrape_samples_scraped", NULL, NULL, HAS_VALUE, 3));
    scrape_targets_snapshot snap;
    scrape_manager_targets(e.m, &snap);
    assert_string_equal(find_target(&snap, "test")->last_error, "sample limit exceeded");
    scrape_targets_snapshot_fini(&snap);
    /* under the limit again: samples flow */
    test_target_set(&e.tgt, "a 7\n", 200, NULL);
    assert_true(wait_for(e.db, "a", NULL, NULL, HAS_VALUE, 7));
    assert_true(wait_for(e.db, "up", NULL, NULL, HAS_VALUE, 1));

    /* label_limit: the job label plus instance plus __name__ plus two is five */
    test_target_set(&e.tgt, "wide{p=\"1\",q=\"2\"} 1\n", 200, NULL);
    scrape_config *c2 = test_config_new("test", (const char *const[]){e.addr}, 1);
    c2->jobs[0].label_limit = 4;
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(scrape_manager_apply(e.m, c2, &err), 0);
    test_config_free(e.cfg);
    e.cfg = c2;
    assert_true(wait_for(e.db, "up", NULL, NULL, HAS_VALUE, 0));
    scrape_manager_targets(e.m, &snap);
    assert_non_null(strstr(find_target(&snap, "test")->last_error, "label_limit exceeded"));
    scrape_targets_snapshot_fini(&snap);

    /* target_limit: two targets over a limit of one fail them all */
    test_target_set(&e.tgt, "tl 1\n", 200, NULL);
    char second[80];
    memcpy(second, e.addr, strlen(e.addr) + 1);
    second[0] = 'l'; /* "l27.0.0.1:port" is a different target that never answers */
    scrape_config *c3 = test_config_new("test", (const char *const[]){e.addr, second}, 2);
    c3->jobs[0].target_limit = 1;
    assert_int_equal(scrape_manager_apply(e.m, c3, &err), 0);
    test_config_free(e.cfg);
    e.cfg = c3;
    assert_true(wait_error(e.m, "target_limit exceeded (number of targets: 2, limit: 1)"));
    assert_true(wait_for(e.db, "up", "instance", e.addr, HAS_VALUE, 0));
    env_stop(&e);
}

static void test_gzip_and_openmetrics(void **state)
{
    (void)state;
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    for (int i = 0; i < 40; i++) {
        odin_strbuf_printf(&b, "gz_metric{idx=\"%d\",pad=\"padding-padding\"} %d\n", i, i);
    }
    env e;
    env_start(&e, b.p);
    odin_strbuf_fini(&b);
    env_apply(&e);
    assert_true(wait_for(e.db, "gz_metric", "idx", "39", HAS_VALUE, 39));
    pthread_mutex_lock(&e.tgt.lock);
    assert_non_null(strstr(e.tgt.accept_encoding, "gzip"));
    pthread_mutex_unlock(&e.tgt.lock);

    test_target_set(&e.tgt, "# TYPE om_thing counter\nom_thing_total 3 123.5\n# EOF\n", 200,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert_true(wait_for(e.db, "om_thing_total", NULL, NULL, HAS_VALUE, 3));
    test_series s;
    test_query(e.db, "om_thing_total", NULL, NULL, &s);
    assert_int_equal(s.last_t, 123500); /* honor_timestamps: the exposed time */
    /* without "# EOF" an OpenMetrics body is invalid: the scrape fails */
    test_target_set(&e.tgt, "om_thing_total 4\n", 200, NULL);
    assert_true(wait_for(e.db, "up", NULL, NULL, HAS_VALUE, 0));
    env_stop(&e);
}

static void test_body_size_limit(void **state)
{
    (void)state;
    env e;
    env_start(&e, "some_metric_with_a_long_name 1\nanother_metric_with_a_long_name 2\n");
    e.cfg->jobs[0].body_size_limit = 16;
    e.cfg->jobs[0].enable_compression = false;
    env_apply(&e);
    assert_true(wait_for(e.db, "up", NULL, NULL, HAS_VALUE, 0));
    scrape_targets_snapshot snap;
    scrape_manager_targets(e.m, &snap);
    assert_string_equal(find_target(&snap, "test")->last_error, "body size limit exceeded");
    scrape_targets_snapshot_fini(&snap);
    pthread_mutex_lock(&e.tgt.lock);
    assert_string_equal(e.tgt.accept_encoding, "identity");
    pthread_mutex_unlock(&e.tgt.lock);
    env_stop(&e);
}

static void test_bearer_file(void **state)
{
    (void)state;
    char path[] = "/tmp/odin-scrape-token-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\n", 7), 7);
    close(fd);
    env e;
    env_start(&e, "x 1\n");
    e.cfg->jobs[0].http.has_authorization = true;
    e.cfg->jobs[0].http.auth_credentials_file = odin_strdup(path);
    env_apply(&e);
    bool ok = wait_for(e.db, "x", NULL, NULL, HAS_VALUE, 1);
    if (!ok) {
        scrape_targets_snapshot snap;
        scrape_manager_targets(e.m, &snap);
        fail_msg("no sample; last error: %s", find_target(&snap, "test")->last_error);
    }
    pthread_mutex_lock(&e.tgt.lock);
    assert_string_equal(e.tgt.authorization, "Bearer s3cret");
    pthread_mutex_unlock(&e.tgt.lock);
    free(e.cfg->jobs[0].http.auth_credentials_file);
    e.cfg->jobs[0].http.auth_credentials_file = NULL;
    env_stop(&e);
    unlink(path);
}

static void write_file(const char *path, const char *text)
{
    char tmp[512];
    odin_arena a;
    odin_arena_init(&a, 0);
    char *t = odin_arena_printf(&a, "%s.tmp", path);
    memcpy(tmp, t, strlen(t) + 1);
    odin_arena_fini(&a);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(rename(tmp, path), 0);
}

typedef struct {
    test_target *tgt;
    const char *want;
} auth_cond;

static bool authorization_is(void *arg)
{
    auth_cond *c = arg;
    pthread_mutex_lock(&c->tgt->lock);
    bool ok = strcmp(c->tgt->authorization, c->want) == 0;
    pthread_mutex_unlock(&c->tgt->lock);
    return ok;
}

/* test_config_free leaves the HTTP settings to the test that set them. */
static void free_auth(scrape_config *c)
{
    http_client_config *h = &c->jobs[0].http;
    free(h->auth_type);
    free(h->auth_credentials);
    free(h->auth_credentials_file);
    h->auth_type = h->auth_credentials = h->auth_credentials_file = NULL;
}

/* The easy handle keeps its options between scrapes: a reload that changes only the HTTP
 * settings of a surviving loop must still reach the request, and so must a rotated secret file
 * without a reload. */
static void test_http_settings_follow_reload_and_files(void **state)
{
    (void)state;
    char path[] = "/tmp/odin-scrape-token-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "first\n", 6), 6);
    close(fd);
    env e;
    env_start(&e, "x 1\n");
    e.cfg->jobs[0].http.has_authorization = true;
    e.cfg->jobs[0].http.auth_credentials = odin_strdup("inline-a");
    env_apply(&e);
    auth_cond c = {&e.tgt, "Bearer inline-a"};
    assert_true(test_wait(authorization_is, &c));

    const char *t[] = {e.addr};
    scrape_config *next = test_config_new("test", t, 1);
    next->jobs[0].http.has_authorization = true;
    next->jobs[0].http.auth_type = odin_strdup("Token");
    next->jobs[0].http.auth_credentials = odin_strdup("inline-b");
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(scrape_manager_apply(e.m, next, &err), 0);
    free_auth(e.cfg);
    test_config_free(e.cfg);
    e.cfg = next;
    c.want = "Token inline-b";
    assert_true(test_wait(authorization_is, &c));

    scrape_config *files = test_config_new("test", t, 1);
    files->jobs[0].http.has_authorization = true;
    files->jobs[0].http.auth_credentials_file = odin_strdup(path);
    assert_int_equal(scrape_manager_apply(e.m, files, &err), 0);
    free_auth(e.cfg);
    test_config_free(e.cfg);
    e.cfg = files;
    c.want = "Bearer first";
    assert_true(test_wait(authorization_is, &c));
    write_file(path, "second\n");
    c.want = "Bearer second";
    assert_true(test_wait(authorization_is, &c));
    scrape_manager_free(e.m);
    tsdb_close(e.db);
    free_auth(e.cfg);
    test_config_free(e.cfg);
    test_target_stop(&e.tgt);
    unlink(path);
}

static void test_file_sd(void **state)
{
    (void)state;
    char dir[] = "/tmp/odin-filesd-XXXXXX";
    assert_non_null(mkdtemp(dir));
    odin_arena a;
    odin_arena_init(&a, 0);
    char *file = odin_arena_printf(&a, "%s/targets.json", dir);
    env e;
    env_start(&e, "fsd 1\n");
    write_file(file, odin_arena_printf(
                         &a, "[{\"targets\": [\"%s\"], \"labels\": {\"env\": \"a\"}}]", e.addr));
    discovery_config *sd = &e.cfg->jobs[0].sd;
    discovery_config_fini(sd);
    sd->files = odin_calloc(1, sizeof *sd->files);
    sd->nfiles = 1;
    sd->files[0].files = odin_calloc(1, sizeof(char *));
    sd->files[0].files[0] = odin_strdup(odin_arena_printf(&a, "%s/*.json", dir));
    sd->files[0].nfiles = 1;
    sd->files[0].refresh_interval_ms = 100;
    env_apply(&e);
    assert_true(wait_for(e.db, "fsd", "env", "a", HAS_VALUE, 1));
    write_file(file, odin_arena_printf(&a,
                                       "[{\"targets\": [\"%s\"], \"labels\": {\"env\": \"b\"}},\n"
                                       " {\"targets\": [], \"labels\": null}]",
                                       e.addr));
    assert_true(wait_for(e.db, "fsd", "env", "b", HAS_VALUE, 1));
    /* the env="a" target went away: its series go stale */
    assert_true(wait_for(e.db, "fsd", "env", "a", LAST_STALE, 0));
    scrape_targets_snapshot snap;
    scrape_manager_targets(e.m, &snap);
    const scrape_target_info *t = find_target(&snap, "test");
    assert_non_null(t);
    const odin_str *fp = odin_labels_get(t->discovered, "__meta_filepath");
    assert_non_null(fp);
    assert_null(odin_labels_get(t->labels, "__meta_filepath"));
    scrape_targets_snapshot_fini(&snap);
    env_stop(&e);
    unlink(file);
    rmdir(dir);
    odin_arena_fini(&a);
}

static void test_dropped_and_kept_on_reload(void **state)
{
    (void)state;
    env e;
    env_start(&e, "k 1\n");
    const char *t2[] = {e.addr, "10.255.255.1:9"};
    scrape_config *c = test_config_new("test", t2, 2);
    scrape_job *j = &c->jobs[0];
    j->relabel = odin_calloc(1, sizeof *j->relabel);
    j->nrelabel = 1;
    relabel_config *rc = &j->relabel[0];
    rc->source_labels = odin_calloc(1, sizeof *rc->source_labels);
    rc->source_labels[0] = odin_strdup("__address__");
    rc->nsource_labels = 1;
    rc->regex_text = odin_strdup("10\\..*");
    rc->action = RELABEL_DROP;
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(relabel_config_finish(rc, &err), 0);
    test_config_free(e.cfg);
    e.cfg = c;
    env_apply(&e);
    assert_true(wait_for(e.db, "k", NULL, NULL, HAS_VALUE, 1));
    scrape_targets_snapshot snap;
    scrape_manager_targets(e.m, &snap);
    size_t active = 0, dropped = 0;
    for (size_t i = 0; i < snap.len; i++) {
        if (snap.v[i].dropped) {
            dropped++;
            assert_non_null(odin_labels_get(snap.v[i].discovered, "__address__"));
            assert_int_equal(snap.v[i].labels.len, 0);
        } else {
            active++;
        }
    }
    assert_int_equal(active, 1);
    assert_int_equal(dropped, 1);
    int64_t last = find_target(&snap, "test")->last_scrape_ms;
    scrape_targets_snapshot_fini(&snap);

    /* the same config again: the loop survives with its state */
    scrape_config *same = test_config_new("test", t2, 2);
    same->jobs[0].relabel = c->jobs[0].relabel;
    same->jobs[0].nrelabel = 1;
    c->jobs[0].relabel = NULL;
    c->jobs[0].nrelabel = 0;
    assert_int_equal(scrape_manager_apply(e.m, same, &err), 0);
    test_config_free(c);
    e.cfg = same;
    scrape_manager_targets(e.m, &snap);
    const scrape_target_info *t = find_target(&snap, "test");
    assert_non_null(t);
    assert_string_equal(t->health, "up");
    assert_true(t->last_scrape_ms >= last);
    scrape_targets_snapshot_fini(&snap);
    env_stop(&e);
}

static void test_timestamp_alignment(void **state)
{
    (void)state;
    scrape_target t = {.url = "http://x/metrics", .interval_ms = 1000, .timeout_ms = 1000};
    scrape_loop *l = scrape_loop_new(&t);
    assert_int_equal(scrape_loop_tick_ts(l, 50000, 50000), 50000); /* first tick, on time */
    assert_int_equal(scrape_loop_tick_ts(l, 51001, 51000), 51000); /* 1ms late: aligned */
    assert_int_equal(scrape_loop_tick_ts(l, 52002, 52000), 52000); /* 2ms late: aligned */
    assert_int_equal(scrape_loop_tick_ts(l, 53003, 53000), 53003); /* past tolerance: as is */
    assert_int_equal(scrape_loop_tick_ts(l, 55000, 55000), 55000); /* a skipped tick */
    assert_int_equal(scrape_loop_tick_ts(l, 56001, 56000), 56000);
    scrape_loop_free(l);
    /* tolerance is 1% of short intervals: 100ms -> 1ms */
    scrape_target t2 = {.url = "http://x/metrics", .interval_ms = 100, .timeout_ms = 100};
    l = scrape_loop_new(&t2);
    assert_int_equal(scrape_loop_tick_ts(l, 1000, 1000), 1000);
    assert_int_equal(scrape_loop_tick_ts(l, 1101, 1100), 1100);
    assert_int_equal(scrape_loop_tick_ts(l, 1202, 1200), 1202);
    scrape_loop_free(l);
    /* A first start 1ms after its tick: the grid is the tick's, so a later start on time is
     * on the grid (it used to read as 1ms early and kept its own time) */
    l = scrape_loop_new(&t);
    assert_int_equal(scrape_loop_tick_ts(l, 50001, 50000), 50000);
    assert_int_equal(scrape_loop_tick_ts(l, 51000, 51000), 51000);
    assert_int_equal(scrape_loop_tick_ts(l, 52001, 52000), 52000);
    /* the wall clock stepped back 10 s: a new grid from that tick */
    assert_int_equal(scrape_loop_tick_ts(l, 43001, 43000), 43000);
    assert_int_equal(scrape_loop_tick_ts(l, 44002, 44000), 44000);
    scrape_loop_free(l);
    /* --scrape.timestamp-tolerance=5ms, then --no-scrape.adjust-timestamps */
    scrape_set_timestamp_alignment(true, 5);
    l = scrape_loop_new(&t);
    assert_int_equal(scrape_loop_tick_ts(l, 50000, 50000), 50000);
    assert_int_equal(scrape_loop_tick_ts(l, 51005, 51000), 51000);
    assert_int_equal(scrape_loop_tick_ts(l, 52006, 52000), 52006);
    scrape_loop_free(l);
    scrape_set_timestamp_alignment(false, 2);
    l = scrape_loop_new(&t);
    assert_int_equal(scrape_loop_tick_ts(l, 50001, 50000), 50001);
    assert_int_equal(scrape_loop_tick_ts(l, 51001, 51000), 51001);
    scrape_loop_free(l);
    scrape_set_timestamp_alignment(true, 2);
}

/* One worker per CPU the process may run on: a narrowed affinity (a container's cpuset, taskset)
 * gives fewer workers than the machine has CPUs. */
static void test_workers_follow_affinity(void **state)
{
    (void)state;
    cpu_set_t saved, one;
    assert_int_equal(sched_getaffinity(0, sizeof saved, &saved), 0);
    int first = 0;
    while (!CPU_ISSET(first, &saved)) {
        first++;
    }
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    tsdb *db = test_db_open();
    scrape_manager *m = scrape_manager_new(db);
    assert_int_equal(m->nworkers, 1);
    scrape_manager_free(m);
    assert_int_equal(sched_setaffinity(0, sizeof saved, &saved), 0);
    m = scrape_manager_new(db);
    assert_int_equal(m->nworkers, CPU_COUNT(&saved) < 4 ? CPU_COUNT(&saved) : 4); /* MAX_WORKERS */
    scrape_manager_free(m);
    tsdb_close(db);
}

int scrape_loop_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamp_alignment),
        cmocka_unit_test(test_samples_and_report),
        cmocka_unit_test(test_staleness),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_honor_labels),
        cmocka_unit_test(test_metric_relabel),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_gzip_and_openmetrics),
        cmocka_unit_test(test_body_size_limit),
        cmocka_unit_test(test_bearer_file),
        cmocka_unit_test(test_http_settings_follow_reload_and_files),
        cmocka_unit_test(test_file_sd),
        cmocka_unit_test(test_dropped_and_kept_on_reload),
        cmocka_unit_test(test_workers_follow_affinity),
    };
    return cmocka_run_group_tests_name("scrape_loop", tests, NULL, NULL);
}
