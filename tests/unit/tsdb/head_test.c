/* Unit tests for head internals: the labels-hash table, the chunk descriptor's span limit, the
 * 32-bit ref limit and series labels kept as symbol references. */
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

/* A chunk's maxt and length come from the prefix before its bytes, and the head cuts an open
 * chunk 15 minutes after its first sample at the latest: a series sampled once a day (a chunk
 * range of 200 days) holds one chunk per sample, in order, with exact times. */
static void test_chunk_daily(void **state)
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
    assert_int_equal(n, 121);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cs[i].mint, (int64_t)i * day);
        assert_int_equal(head_chunk_maxt(&cs[i]), (int64_t)i * day);
        assert_int_equal(tsdb_chunk_samples(cs[i].b, head_chunk_len(&cs[i])), 1);
    }
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

/* Labels are kept as numbers of the head's label pairs (its postings lists): views give back
 * the exact label set (empty values and bytes that sort differently from their first byte
 * included), series that share a pair share it and pairs share interned names, lookups by label set tell sets apart by every byte, and the sort order
 * of head_series_labels_cmp is odin_labels_cmp's. */
static void test_labels_as_symbols(void **state)
{
    (void)state;
    head h;
    head_init(&h, 2 * HOUR);
    odin_label a[3] = {{ODIN_STR("__name__"), ODIN_STR("node_cpu_seconds_total")},
                       {ODIN_STR("cpu"), ODIN_STR("")},
                       {ODIN_STR("mode"), ODIN_STR("idle")}};
    odin_label b[3] = {{ODIN_STR("__name__"), ODIN_STR("node_cpu_seconds_total")},
                       {ODIN_STR("cpu"), ODIN_STR("1")},
                       {ODIN_STR("mode"), ODIN_STR("idlf")}};
    odin_label c[2] = {{ODIN_STR("__name__"), ODIN_STR("node_cpu_seconds_total")},
                       {ODIN_STR("cpu"), ODIN_STR("")}};
    bool created;
    head_series *sa = head_get_or_create(&h, (odin_labels){a, 3}, &created);
    assert_true(created);
    head_series *sb = head_get_or_create(&h, (odin_labels){b, 3}, &created);
    assert_true(created);
    head_series *sc = head_get_or_create(&h, (odin_labels){c, 2}, &created);
    assert_true(created);
    assert_ptr_not_equal(sa, sb);
    assert_ptr_equal(head_get_or_create(&h, (odin_labels){b, 3}, &created), sb);
    assert_false(created);
    assert_int_equal(sa->nlabels, 3);
    assert_int_equal(sa->labels[0], sb->labels[0]); /* one pair: __name__ */
    assert_int_not_equal(sa->labels[1], sb->labels[1]);
    assert_ptr_equal(head_pair(&h, sa->labels[1])->name,
                     head_pair(&h, sb->labels[1])->name); /* one symbol: cpu */
    assert_int_equal(sa->labels[1], sc->labels[1]);       /* cpu="" */
    assert_int_equal(head_pair(&h, sa->labels[1])->len, 2); /* its postings: a and c */
    assert_int_equal(head_pair(&h, sa->labels[1])->id, sa->labels[1]);

    head_labels_buf buf = {0};
    odin_labels v = head_series_labels(&h, sa, &buf);
    assert_int_equal(v.len, 3);
    assert_int_equal(odin_labels_cmp(v, (odin_labels){a, 3}), 0);
    assert_int_equal(v.v[1].value.len, 0);
    v = head_series_labels(&h, sb, &buf);
    assert_int_equal(odin_labels_cmp(v, (odin_labels){b, 3}), 0);
    odin_arena ar;
    odin_arena_init(&ar, 0);
    v = head_series_labels_arena(&h, sc, &ar);
    assert_int_equal(odin_labels_cmp(v, (odin_labels){c, 2}), 0);
    odin_arena_fini(&ar);
    head_labels_buf_fini(&buf);

    odin_str val;
    assert_true(head_series_label_get(&h, sb, "mode", &val));
    assert_true(odin_str_eq_c(val, "idlf"));
    assert_true(head_series_label_get(&h, sa, "cpu", &val));
    assert_int_equal(val.len, 0);
    assert_false(head_series_label_get(&h, sa, "mod", &val));
    assert_int_equal(val.len, 0);
    assert_false(head_series_label_get(&h, sc, "mode", &val));

    /* sorted as odin_labels_cmp: "" < "1", and a shorter set first on a common prefix */
    assert_true(head_series_labels_cmp(&h, sa, sb) < 0);
    assert_true(head_series_labels_cmp(&h, sb, sa) > 0);
    assert_true(head_series_labels_cmp(&h, sc, sa) < 0);
    assert_int_equal(head_series_labels_cmp(&h, sa, sa), 0);
    size_t n;
    head_series **sorted = head_sorted_series(&h, &n);
    assert_int_equal(n, 3);
    assert_ptr_equal(sorted[0], sc);
    assert_ptr_equal(sorted[1], sa);
    assert_ptr_equal(sorted[2], sb);
    free(sorted);
    head_fini(&h);
}

/* The label count is 16 bits in the series: a set over HEAD_MAX_LABELS is refused, not cut. */
static void test_too_many_labels(void **state)
{
    (void)state;
    head h;
    head_init(&h, 2 * HOUR);
    size_t n = (size_t)HEAD_MAX_LABELS + 1;
    odin_label *ls = odin_calloc(n, sizeof(*ls));
    char *names = odin_malloc(n * 8);
    for (size_t i = 0; i < n; i++) {
        snprintf(names + i * 8, 8, "l%06zu", i);
        ls[i] = (odin_label){{names + i * 8, 7}, ODIN_STR("v")};
    }
    bool created;
    assert_null(head_get_or_create(&h, (odin_labels){ls, n}, &created));
    assert_int_equal(h.nseries, 0);
    head_series *s = head_get_or_create(&h, (odin_labels){ls, n - 1}, &created);
    assert_non_null(s);
    assert_int_equal(s->nlabels, HEAD_MAX_LABELS);
    free(names);
    free(ls);
    head_fini(&h);
}

int tsdb_head_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_remove),
        cmocka_unit_test(test_chunk_daily),
        cmocka_unit_test(test_refs_run_out),
        cmocka_unit_test(test_labels_as_symbols),
        cmocka_unit_test(test_too_many_labels),
    };
    return cmocka_run_group_tests_name("tsdb_head", tests, NULL, NULL);
}
