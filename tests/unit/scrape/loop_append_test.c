/* Unit tests for src/scrape/loop_append.c: the cache keyed by series text; whole passes must fail
 * as the eager parser does; and series that go away get exactly one stale marker. Also the
 * worker's pool of receive buffers (loop.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scrape/loop_int.h"
#include "tsdb/db_int.h"
#include "tsdb/tsdb.h"

int scrape_loop_append_tests(void);

/* An in-memory tsdb, and a loop for a target scraped every second. */
static tsdb *open_loop(scrape_loop **l)
{
    tsdb_opts o = {.dir = NULL};
    odin_err err;
    odin_err_clear(&err);
    tsdb *db = tsdb_open(&o, &err);
    assert_non_null(db);
    scrape_target t = {.url = "http://127.0.0.1:1/metrics", .interval_ms = 1000};
    *l = scrape_loop_new(&t);
    return db;
}

/* ---- Whole passes: lazy labels in the loop against the eager parser ---------------------------- */

/* The error the eager parser gives for body, or "" when it parses. */
static char *eager_error(const char *body)
{
    expfmt_parser *p = expfmt_parser_new(body, strlen(body), NULL);
    expfmt_entry e;
    odin_err err;
    odin_err_clear(&err);
    int rc;
    while ((rc = expfmt_parser_next(p, &e, &err)) == 1) {
    }
    expfmt_parser_free(p);
    return odin_strdup(rc < 0 ? err.msg : "");
}

/* Scrapes bodies in turn through one loop (so later ones meet a warm cache) and checks each
 * scrape's error against the eager parser's: a cached line must neither hide nor change one. */
static void test_passes_match_eager(void **state)
{
    (void)state;
    static const struct {
        const char *body;
    } steps[] = {
        {"a{x=\"1\",y=\"2\"} 1\nb{x=\"q\\\"\"} 2\nc 3\n"},
        {"a{x=\"1\",y=\"2\"} 1\nb{x=\"q\\\"\"} 2\nc 3\n"},              /* all hits */
        {"a{ x=\"1\", y=\"2\" } 1\nb{x=\"q\\\"\",} 2\nc 3\n"},          /* respelled */
        {"a{x=\"1\",y=\"2\"} 1\nb{x=\"q\\\"\"} 2\nc{x=\"1\" 3\n"},      /* bad new line */
        {"a{x=\"1\",y=\"2\"} 1\nb{x=\"q\\\"\"} 2 zz\nc 3\n"},           /* bad value on a hit */
        {"a{x=\"1\",x=\"2\"} 1\nb{x=\"q\\\"\"} 2\nc 3\n"},              /* duplicate label */
        {"a{x=\"1\",y=\"2\"} 1\nb{x=\"q\\\"\"} 2\nc 3\nd{=\"1\"} oops\n"}, /* labels first */
        {"c 3\na{x=\"1\",y=\"2\"} 1\nb{x=\"q\\\"\"} 2\nd 4\n"},         /* moved, one new */
    };
    scrape_loop *l;
    tsdb *db = open_loop(&l);
    scrape_job job = {.honor_timestamps = true};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        char *want = eager_error(steps[i].body);
        scrape_fetch f = {.ok = true, .body = steps[i].body, .len = strlen(steps[i].body)};
        double dur;
        const char *got = scrape_loop_append(l, db, &job, &f, 1000 * (int64_t)(i + 1), 0, &dur);
        assert_string_equal(got != NULL ? got : "", want);
        assert_true(i < 3 || i == 7 ? want[0] == '\0' : want[0] != '\0');
        free(want);
        odin_arena_reset(&l->arena);
    }
    scrape_loop_free(l);
    tsdb_close(db);
}

/* "name@t,name@t,..." for every stale marker of series a, b, c and d, in that order. */
static void stale_markers(tsdb *db, char *out, size_t cap)
{
    static const char *const names[] = {"a", "b", "c", "d"};
    size_t n = 0;
    out[0] = '\0';
    tsdb_querier *q = tsdb_querier_open(db, 0, INT64_MAX);
    for (size_t i = 0; i < 4; i++) {
        odin_err err;
        odin_err_clear(&err);
        tsdb_matcher m;
        tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("__name__"), odin_str_c(names[i]), &err);
        tsdb_series_set *s = tsdb_querier_select(q, &m, 1, &err);
        while (s != NULL && tsdb_series_next(s)) {
            tsdb_iter it;
            tsdb_series_iter(s, &it);
            int64_t t;
            double v;
            while (tsdb_iter_next(&it, &t, &v)) {
                if (tsdb_is_stale(v)) {
                    n += (size_t)snprintf(out + n, cap - n, "%s%s@%lld", n ? "," : "", names[i],
                                          (long long)t);
                    assert_true(n < cap);
                }
            }
        }
        tsdb_matcher_fini(&m);
    }
    tsdb_querier_close(q);
}

/* Staleness across passes: a series the last good pass saw and this one does not gets a marker
 * (also when as many new series came as old ones went, and when the only change is that a
 * series now carries its own timestamp); a failed scrape marks everything, also what it saw
 * before it failed, and nothing it saw first; a series on two lines gets one marker; a second
 * failed scrape marks nothing again; reordering alone marks nothing. */
static void test_stale_markers(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "a 1\nb 1\nc 1\n",
        "a 2\nb 2\nc 2\n",
        "a 3\nc 3\n",
        "a 4\nc 4\nb 4\n",
        "c 5\nd 5\n",
        "c 6\nd 6 5999\n",
        "c{ 7\n",
        "c 8\n",
        "c 9\n",
        "c 10\nd 10\nbad{ 10\n",
        "a 11\na 11\nc 11\n",
        "b 12\n",
        "{ 13\n",
        "{ 14\n",
        "b 15\n",
    };
    scrape_loop *l;
    tsdb *db = open_loop(&l);
    scrape_job job = {.honor_timestamps = true};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        scrape_fetch f = {.ok = true, .body = bodies[i], .len = strlen(bodies[i])};
        double dur;
        const char *got = scrape_loop_append(l, db, &job, &f, 1000 * (int64_t)(i + 1), 0, &dur);
        bool fails = i == 6 || i == 9 || i == 12 || i == 13;
        assert_true(fails ? got != NULL : got == NULL);
        odin_arena_reset(&l->arena);
    }
    char markers[256];
    stale_markers(db, markers, sizeof markers);
    assert_string_equal(markers,
                        "a@5000,a@12000,b@3000,b@5000,b@13000,c@7000,c@10000,c@12000,d@6000");
    scrape_loop_free(l);
    tsdb_close(db);
}

/* What a pass refused, for prometheus_target_scrapes_* and the label limit counter: a repeated
 * explicit timestamp with a new value, a timestamp going back, a sample limit, a label limit;
 * each pass starts from nothing. */
static void test_faults(void **state)
{
    (void)state;
    scrape_loop *l;
    tsdb *db = open_loop(&l);
    static const struct {
        const char *body;
        uint64_t sample_limit, label_limit;
        uint32_t ooo, dup;
        bool over_samples, over_labels;
    } passes[] = {
        {"x 1 5000\ny 1 5000\n", 0, 0, 0, 0, false, false},
        {"x 2 5000\ny 1 5000\n", 0, 0, 0, 1, false, false}, /* y repeats itself: no fault */
        {"x 3 4000\ny 2 4000\n", 0, 0, 2, 0, false, false},
        {"x 4 6000\ny 4 6000\n", 0, 0, 0, 0, false, false},
        {"x 5 7000\ny 5 7000\n", 1, 0, 0, 0, true, false},
        {"x{a=\"1\",b=\"2\"} 1\n", 0, 2, 0, 0, false, true},
    };
    for (size_t i = 0; i < sizeof(passes) / sizeof(passes[0]); i++) {
        scrape_job job = {.honor_timestamps = true,
                          .sample_limit = passes[i].sample_limit,
                          .label_limit = passes[i].label_limit};
        scrape_fetch f = {.ok = true, .body = passes[i].body, .len = strlen(passes[i].body)};
        double dur;
        const char *got = scrape_loop_append(l, db, &job, &f, 10000 * (int64_t)(i + 1), 0, &dur);
        assert_true((got != NULL) == (passes[i].over_samples || passes[i].over_labels));
        if (l->faults.out_of_order != passes[i].ooo || l->faults.duplicate != passes[i].dup ||
            l->faults.sample_limit != passes[i].over_samples ||
            l->faults.label_limit != passes[i].over_labels || l->faults.out_of_bounds != 0) {
            fail_msg("pass %zu: ooo %u dup %u sample limit %d label limit %d", i,
                     l->faults.out_of_order, l->faults.duplicate, l->faults.sample_limit,
                     l->faults.label_limit);
        }
        odin_arena_reset(&l->arena);
    }
    scrape_loop_free(l);
    tsdb_close(db);
}

/* Samples of name{label="value"} ("" matches the label's absence), all series summed. */
static size_t samples_of(tsdb *db, const char *name, const char *label, const char *value)
{
    odin_err err;
    odin_err_clear(&err);
    tsdb_matcher m[2];
    tsdb_matcher_init(&m[0], TSDB_MATCH_EQ, ODIN_STR("__name__"), odin_str_c(name), &err);
    tsdb_matcher_init(&m[1], TSDB_MATCH_EQ, odin_str_c(label), odin_str_c(value), &err);
    tsdb_querier *q = tsdb_querier_open(db, 0, INT64_MAX);
    tsdb_series_set *set = tsdb_querier_select(q, m, 2, &err);
    size_t n = 0;
    while (set != NULL && tsdb_series_next(set)) {
        tsdb_iter it;
        tsdb_series_iter(set, &it);
        int64_t t;
        double v;
        while (tsdb_iter_next(&it, &t, &v)) {
            n += !tsdb_is_stale(v);
        }
    }
    tsdb_querier_close(q);
    tsdb_matcher_fini(&m[0]);
    tsdb_matcher_fini(&m[1]);
    return n;
}

/* A reload that changes metric relabeling applies to the series already cached (as Prometheus
 * starts a new scrape cache then): dropped, relabeled, kept again. One with the same settings in
 * a new configuration object changes nothing. */
static void test_reload_relabel(void **state)
{
    (void)state;
    static const char *const rules[] = {
        "[{source_labels: [__name__], regex: x, action: drop}]",
        "[{source_labels: [__name__], regex: x, target_label: changed, replacement: 'yes'}]",
    };
    scrape_config *cfg[3];
    for (size_t i = 0; i < 3; i++) {
        odin_strbuf y;
        odin_strbuf_init(&y, 0);
        odin_strbuf_printf(&y, "scrape_configs:\n  - job_name: t\n    metric_relabel_configs: %s\n",
                           rules[i == 0 ? 0 : 1]);
        odin_err err;
        odin_err_clear(&err);
        cfg[i] = scrape_config_parse(y.p, y.len, "reload.yml", &err);
        odin_strbuf_fini(&y);
        assert_non_null(cfg[i]);
    }
    scrape_loop *l;
    tsdb *db = open_loop(&l);
    /* configuration per pass: drop, drop, relabel, the same relabel anew, drop */
    static const size_t plan[] = {0, 0, 1, 2, 0};
    static const uint32_t epochs[] = {1, 1, 2, 2, 3};
    const char *body = "x 1\ny 1\n";
    for (size_t i = 0; i < ODIN_ARRAY_LEN(plan); i++) {
        scrape_fetch f = {.ok = true, .body = body, .len = strlen(body)};
        double dur;
        const char *got =
            scrape_loop_append(l, db, &cfg[plan[i]]->jobs[0], &f, 1000 * (int64_t)(i + 1), 0, &dur);
        assert_null(got);
        assert_int_equal(l->cfg_epoch, epochs[i]);
        odin_arena_reset(&l->arena);
    }
    assert_int_equal(samples_of(db, "x", "changed", "yes"), 2);
    assert_int_equal(samples_of(db, "x", "changed", ""), 0);
    assert_int_equal(samples_of(db, "y", "changed", ""), 5);
    scrape_loop_free(l);
    tsdb_close(db);
    for (size_t i = 0; i < 3; i++) {
        scrape_config_free(cfg[i]);
    }
}

/* Deletes every sample of name and lets the head drop the emptied series, as its GC does after a
 * truncation: the cache's ref for it goes stale. */
static void drop_series(tsdb *db, const char *name)
{
    odin_err err;
    odin_err_clear(&err);
    tsdb_matcher m;
    tsdb_matcher_init(&m, TSDB_MATCH_EQ, ODIN_STR("__name__"), odin_str_c(name), &err);
    assert_int_equal(tsdb_delete_series(db, &m, 1, INT64_MIN, INT64_MAX, &err), 0);
    tsdb_matcher_fini(&m);
    pthread_mutex_lock(&db->wal_lock);
    assert_int_equal(head_gc(&db->head), 1);
    pthread_mutex_unlock(&db->wal_lock);
}

/* Cached series keep only their tsdb ref: one the head dropped is made again from the line's
 * labels when the line comes back, and gets no stale marker when it does not. */
static void test_stale_refs(void **state)
{
    (void)state;
    scrape_loop *l;
    tsdb *db = open_loop(&l);
    scrape_job job = {.honor_timestamps = true};
    static const char *const bodies[] = {"x{a=\"1\"} 1\ny 1\n", "x{a=\"1\"} 2\ny 2\n",
                                         "x{a=\"1\"} 3\ny 3\n", "y 4\n"};
    /* x's samples after each pass: made again at 2 s with its label, 3 s follows by ref; the
     * drop before 4 s leaves no series for a marker */
    static const size_t x_after[] = {1, 1, 2, 0};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(bodies); i++) {
        if (i == 1 || i == 3) {
            drop_series(db, "x");
        }
        scrape_fetch f = {.ok = true, .body = bodies[i], .len = strlen(bodies[i])};
        double dur;
        assert_null(scrape_loop_append(l, db, &job, &f, 1000 * (int64_t)(i + 1), 0, &dur));
        odin_arena_reset(&l->arena);
        assert_int_equal(samples_of(db, "x", "a", "1"), x_after[i]);
    }
    assert_int_equal(samples_of(db, "y", "a", ""), 4);
    char markers[256];
    stale_markers(db, markers, sizeof markers);
    assert_string_equal(markers, "");
    scrape_loop_free(l);
    tsdb_close(db);
}

/* The cache is keyed by series text and format, as Prometheus': a series spelled another way
 * gets an entry of its own with the same tsdb series, a line that moved is found by its text,
 * and text parsed as OpenMetrics is not the same key as that text parsed as 0.0.4. */
static void test_text_keys(void **state)
{
    (void)state;
    scrape_loop *l;
    tsdb *db = open_loop(&l);
    scrape_job job = {.honor_timestamps = true};
    static const struct {
        const char *body;
        uint32_t entries; /* in the cache after the pass */
        size_t a_samples; /* a{x="1"}'s samples after it */
    } passes[] = {
        {"a{x=\"1\",y=\"2\"} 1\n", 1, 1},
        {"a{y=\"2\",x=\"1\"} 2\n", 2, 2},      /* respelled: the same series */
        {"b 1\na{x=\"1\",y=\"2\"} 3\n", 3, 3}, /* moved: found by its text */
        {"b 2\n", 3, 3},                       /* a goes stale */
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(passes); i++) {
        scrape_fetch f = {.ok = true, .body = passes[i].body, .len = strlen(passes[i].body)};
        double dur;
        assert_null(scrape_loop_append(l, db, &job, &f, 1000 * (int64_t)(i + 1), 0, &dur));
        odin_arena_reset(&l->arena);
        assert_int_equal(l->cache.table_len, passes[i].entries);
        assert_int_equal(samples_of(db, "a", "x", "1"), passes[i].a_samples);
    }
    const char *t1 = "a{x=\"1\",y=\"2\"}", *t2 = "a{y=\"2\",x=\"1\"}";
    scrape_series *s1 = scrape_cache_get(&l->cache, t1, strlen(t1), false);
    scrape_series *s2 = scrape_cache_get(&l->cache, t2, strlen(t2), false);
    assert_non_null(s1);
    assert_non_null(s2);
    assert_true(s1 != s2);
    assert_true(s1->ref != 0 && s1->ref == s2->ref);
    assert_null(scrape_cache_get(&l->cache, t1, strlen(t1), true));
    assert_null(scrape_cache_get(&l->cache, t1, strlen(t1) - 1, false));
    char markers[256];
    stale_markers(db, markers, sizeof markers);
    assert_string_equal(markers, "a@4000");
    scrape_loop_free(l);
    tsdb_close(db);
}

/* Hands body to l as one scrape at ts, which must succeed. */
static void append_pass(scrape_loop *l, tsdb *db, const odin_strbuf *body, int64_t ts)
{
    scrape_job job = {.honor_timestamps = true};
    scrape_fetch f = {.ok = true, .body = body->p, .len = body->len};
    double dur;
    assert_null(scrape_loop_append(l, db, &job, &f, ts, 0, &dur));
}

/* A target whose series all change every pass: the cache evicts what the last pass did not use,
 * and its table shrinks back, so it stays about the size of one pass. */
static void test_eviction(void **state)
{
    (void)state;
    scrape_loop *l;
    tsdb *db = open_loop(&l);
    odin_strbuf body;
    odin_strbuf_init(&body, 0);
    uint32_t most = 0;
    for (int pass = 0; pass < 20; pass++) {
        odin_strbuf_reset(&body);
        for (int i = 0; i < 100; i++) {
            odin_strbuf_printf(&body, "churn{pass=\"%d\",i=\"%d\"} 1\n", pass, i);
        }
        append_pass(l, db, &body, 1000 * (int64_t)(pass + 1));
        odin_arena_reset(&l->arena);
        most = l->cache.table_len > most ? l->cache.table_len : most;
        /* every line of this pass is found by its text */
        char text[64];
        int n = snprintf(text, sizeof text, "churn{pass=\"%d\",i=\"%d\"}", pass, 99);
        assert_non_null(scrape_cache_get(&l->cache, text, (size_t)n, false));
    }
    assert_true(most <= 2 * 100 + 64 + 100);
    assert_true(l->cache.table_cap <= 512);
    odin_strbuf_fini(&body);
    scrape_loop_free(l);
    tsdb_close(db);
}

/* Eviction moves the surviving entries into one new block in the last pass's order: the order
 * then names the moved entries (the ones the table finds, a series sent twice included), the
 * next passes find every stable line without a miss, and the blocks shrink back after churn. */
static void test_eviction_moves_entries(void **state)
{
    (void)state;
    scrape_loop *l;
    tsdb *db = open_loop(&l);
    odin_strbuf body;
    odin_strbuf_init(&body, 0);
    size_t most = 0, after_churn = 0;
    for (int pass = 0; pass < 30; pass++) {
        odin_strbuf_reset(&body);
        for (int i = 0; i < 50; i++) {
            odin_strbuf_printf(&body, "stable{i=\"%d\"} %d\n", i, pass);
            if (i == 7) { /* the same series twice: a duplicate, its entry twice in the order */
                odin_strbuf_printf(&body, "stable{i=\"%d\"} %d\n", i, pass);
            }
        }
        int churn = pass < 20 ? 200 : 0;
        for (int i = 0; i < churn; i++) {
            odin_strbuf_printf(&body, "churn{pass=\"%d\",i=\"%d\"} 1\n", pass, i);
        }
        append_pass(l, db, &body, 1000 * (int64_t)(pass + 1));
        scrape_loop_release_arena(l);
        const scrape_cache *c = &l->cache;
        assert_int_equal(c->norder, 51 + (size_t)churn);
        for (size_t i = 0; i < c->norder; i++) {
            const scrape_series *s = c->order[i];
            assert_ptr_equal(scrape_cache_get(c, s->text, s->rlen, false), s);
        }
        assert_ptr_equal(c->order[7], c->order[8]);
        size_t bytes = scrape_cache_bytes(c);
        most = bytes > most ? bytes : most;
        after_churn = bytes;
    }
    /* every stable sample is there (the duplicate's second line refused), one per pass */
    for (int i = 0; i < 50; i += 7) {
        char v[8];
        snprintf(v, sizeof v, "%d", i);
        assert_int_equal(samples_of(db, "stable", "i", v), 30);
    }
    /* the last eviction left the 50 stable entries in one block of their own bytes */
    assert_true(after_churn < 50 * 64);
    assert_true(most > 4 * after_churn);
    odin_strbuf_fini(&body);
    scrape_loop_free(l);
    tsdb_close(db);
}

/* The per-scrape arena holds nothing between scrapes: the first scrape of a big target (every
 * series new, their labels in it) needs a lot of it, a warm one a little, and the release after
 * each gives all of it back and leaves the arena usable for the next. */
static void test_arena_release(void **state)
{
    (void)state;
    scrape_loop *l;
    tsdb *db = open_loop(&l);
    scrape_job job = {.honor_timestamps = true};
    odin_strbuf body;
    odin_strbuf_init(&body, 0);
    for (int i = 0; i < 2000; i++) {
        odin_strbuf_printf(&body, "series_%d{instance_label=\"value-%d\",other=\"x\"} %d\n", i, i,
                           i);
    }
    size_t held[3];
    for (size_t pass = 0; pass < 3; pass++) {
        scrape_fetch f = {.ok = true, .body = body.p, .len = body.len};
        double dur;
        assert_null(scrape_loop_append(l, db, &job, &f, 1000 * (int64_t)(pass + 1), 0, &dur));
        held[pass] = l->arena.held_bytes;
        scrape_loop_release_arena(l);
        assert_int_equal(l->arena.held_bytes, 0);
    }
    assert_true(held[0] > 64 * 1024);                /* the first scrape: all labels */
    assert_true(held[1] > 0 && held[1] < 64 * 1024); /* warm: the report series' labels */
    assert_int_equal(samples_of(db, "series_7", "other", "x"), 3);
    odin_strbuf_fini(&body);
    scrape_loop_free(l);
    tsdb_close(db);
}

/* Receive buffers lent by the worker: a loop gets a spare buffer's memory (keeping its own size
 * cap), hands it back after its scrape, and the pool keeps at most SCRAPE_SPARE_BUFFERS; without
 * a worker a loop just keeps or frees its own. */
static void test_buffer_pool(void **state)
{
    (void)state;
    scrape_worker w;
    memset(&w, 0, sizeof w);
    odin_strbuf b[SCRAPE_SPARE_BUFFERS + 2];
    for (size_t i = 0; i < ODIN_ARRAY_LEN(b); i++) {
        odin_strbuf_init(&b[i], 0);
        odin_strbuf_printf(&b[i], "body %zu", i);
    }
    for (size_t i = 0; i < ODIN_ARRAY_LEN(b); i++) {
        scrape_worker_give_buffer(&w, &b[i]);
        assert_null(b[i].p);
        assert_int_equal(b[i].len, 0);
    }
    assert_int_equal(w.nspare, SCRAPE_SPARE_BUFFERS); /* the two over the limit were freed */
    odin_strbuf got;
    odin_strbuf_init(&got, 4096);
    scrape_worker_take_buffer(&w, &got);
    assert_non_null(got.p);
    assert_int_equal(got.len, 0);
    assert_string_equal(got.p, "");
    assert_int_equal(got.cap_bytes, 4096);
    assert_int_equal(w.nspare, SCRAPE_SPARE_BUFFERS - 1);
    char *mem = got.p;
    scrape_worker_take_buffer(&w, &got); /* it has memory already: nothing taken */
    assert_ptr_equal(got.p, mem);
    assert_int_equal(w.nspare, SCRAPE_SPARE_BUFFERS - 1);
    odin_strbuf_put(&got, "x", 1);
    scrape_worker_give_buffer(&w, &got);
    assert_int_equal(w.nspare, SCRAPE_SPARE_BUFFERS);
    scrape_worker_take_buffer(NULL, &got); /* no worker: nothing to take */
    assert_null(got.p);
    odin_strbuf_put(&got, "y", 1);
    scrape_worker_give_buffer(NULL, &got); /* ... and giving frees */
    assert_null(got.p);
    while (w.nspare > 0) {
        odin_strbuf_fini(&w.spare[--w.nspare]);
    }
}

int scrape_loop_append_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_keys),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_eviction_moves_entries),
        cmocka_unit_test(test_passes_match_eager),
        cmocka_unit_test(test_stale_markers),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_reload_relabel),
        cmocka_unit_test(test_stale_refs),
        cmocka_unit_test(test_arena_release),
        cmocka_unit_test(test_buffer_pool),
    };
    return cmocka_run_group_tests_name("scrape_loop_append", tests, NULL, NULL);
}
