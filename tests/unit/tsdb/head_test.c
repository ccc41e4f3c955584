/* Unit tests for head internals: the labels-hash table, the chunk descriptor's span limit and the
 * 32-bit ref limit. */
#include <cmocka.h>

#include "tsdb/head.h"

#include <stdio.h>
#include <stdlib.h>

int tsdb_head_tests(void);

static const int64_t HOUR = 3600 * 1000LL;

static odin_labels pod_labels(odin_label ls[2], const char *name)
{
    ls[0] = (odin_label){ODIN_STR("__name__"), ODIN_STR("m")};
    ls[1] = (odin_label){ODIN_STR("pod"), odin_str_c(name)};
    return (odin_labels){ls, 2};
}

/* The labels-hash table's removal shifts later entries of a probe run back: every series left must
 * still be found, and a removed one not (at ~60% load, runs of several slots are common). */
static void test_table_remove(void **state)
{
    (void)state;
    head h;
    head_init(&h, 2 * HOUR);
    enum { N = 5000 };
    head_series **v = odin_malloc(N * sizeof(*v));
    char name[16];
    odin_label ls[2];
    bool created;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        v[i] = head_get_or_create(&h, pod_labels(ls, name), &created);
        assert_true(created);
    }
    for (int i = 1; i < N; i += 2) {
        head_table_remove_locked(&h, v[i]);
    }
    assert_int_equal(h.table_len, N / 2);
    for (int i = 0; i < N; i += 2) {
        snprintf(name, sizeof(name), "p%d", i);
        assert_ptr_equal(head_get_or_create(&h, pod_labels(ls, name), &created), v[i]);
        assert_false(created);
    }
    for (int i = 1; i < N; i += 2) {
        snprintf(name, sizeof(name), "p%d", i);
        head_series *s = head_get_or_create(&h, pod_labels(ls, name), &created);
        assert_true(created);
        assert_ptr_not_equal(s, v[i]);
    }
    assert_int_equal(h.table_len, N);
    free(v);
    head_fini(&h);
}

/* A chunk descriptor holds maxt as a 32-bit span from mint: with a chunk range over 49 days the
 * head cuts chunks at the span limit, and every chunk's times come back exact. */
static void test_chunk_span_limit(void **state)
{
    (void)state;
    head h;
    const int64_t day = 24 * HOUR;
    head_init(&h, 200 * day);
    odin_label ls[2];
    bool created;
    head_series *s = head_get_or_create(&h, pod_labels(ls, "a"), &created);
    int kind = 0;
    for (int64_t t = 0; t <= 120 * day; t += day) {
        assert_int_equal(head_series_append(&h, s, t, (double)t, &kind), 0);
    }
    head_chunk *cs;
    size_t n = head_series_chunks(&h, s, 0, 200 * day, &cs);
    assert_true(n >= 3); /* 120 days in spans under 49.7 days */
    int64_t prev = -1;
    for (size_t i = 0; i < n; i++) {
        assert_true(head_chunk_maxt(&cs[i]) - cs[i].mint <= HEAD_CHUNK_MAX_SPAN);
        assert_true(cs[i].mint > prev);
        prev = head_chunk_maxt(&cs[i]);
    }
    assert_int_equal(cs[0].mint, 0);
    assert_int_equal(head_chunk_maxt(&cs[n - 1]), 120 * day);
    free(cs);
    head_fini(&h);
}

/* Postings hold 32-bit refs and refs are never reused: once HEAD_MAX_REFS were handed out, a new
 * label set is refused (NULL) while existing series are still found. */
static void test_refs_run_out(void **state)
{
    (void)state;
    head h;
    head_init(&h, 2 * HOUR);
    odin_label ls[2];
    bool created;
    head_series *a = head_get_or_create(&h, pod_labels(ls, "a"), &created);
    size_t real = h.nseries;
    h.nseries = (size_t)HEAD_MAX_REFS;
    assert_null(head_get_or_create(&h, pod_labels(ls, "b"), &created));
    assert_ptr_equal(head_get_or_create(&h, pod_labels(ls, "a"), &created), a);
    assert_false(created);
    h.nseries = real;
    head_fini(&h);
}

int tsdb_head_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_remove),
        cmocka_unit_test(test_chunk_span_limit),
        cmocka_unit_test(test_refs_run_out),
    };
    return cmocka_run_group_tests_name("tsdb_head", tests, NULL, NULL);
}
