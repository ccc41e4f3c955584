/* Unit tests for the head's cardinality figures (head_card.c, GET /api/v1/status/tsdb): every
 * list against counts made here from the series appended, ties ordered by name, the top `limit`
 * equal to the head of the full list, and only series still in the head counted. */
#include <cmocka.h>

#include "tsdb/db_int.h"
#include "tsdb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tsdb_head_card_tests(void);

static const int64_t HOUR = 3600 * 1000LL;

static char *temp_dir(void)
{
    return tsdb_test_dir("card");
}

static tsdb *open_db(const char *dir)
{
    return tsdb_test_open(&(tsdb_opts){.dir = dir, .wal_fsync_ms = 0});
}

static void remove_dir(char *dir)
{
    assert_int_equal(odin_remove_tree(dir), 0);
    free(dir);
}

/* The expected figures, counted from the labels appended. */
typedef struct {
    char name[64];
    uint64_t value;
} want_entry;

typedef struct {
    want_entry v[1024];
    size_t len;
} want_list;

static void want_add(want_list *l, const char *name, uint64_t by)
{
    for (size_t i = 0; i < l->len; i++) {
        if (strcmp(l->v[i].name, name) == 0) {
            l->v[i].value += by;
            return;
        }
    }
    assert_true(l->len < ODIN_ARRAY_LEN(l->v));
    snprintf(l->v[l->len].name, sizeof(l->v[0].name), "%s", name);
    l->v[l->len++].value = by;
}

static int want_cmp(const void *a, const void *b)
{
    const want_entry *x = a, *y = b;
    if (x->value != y->value) {
        return x->value > y->value ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

static void assert_list(const tsdb_card_list *got, want_list *want, size_t limit)
{
    qsort(want->v, want->len, sizeof(want->v[0]), want_cmp);
    size_t n = want->len < limit ? want->len : limit;
    assert_int_equal(got->len, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(got->v[i].name, want->v[i].name);
        assert_int_equal(got->v[i].value, want->v[i].value);
    }
}

enum { NSERIES = 300 };

/* Series i: metric m0..m3 with 100, 100, 60 and 40 series (a tie at the top), job a or bb, an
 * instance of seven, a unique id; the odd ones also have a "zone". */
static int series_labels(int i, odin_label ls[5], char *inst, char *id, const char **metric)
{
    static const char *metrics[] = {"m0", "m1", "m2", "m3"};
    *metric = metrics[i < 100 ? 0 : i < 200 ? 1 : i < 260 ? 2 : 3];
    snprintf(inst, 16, "host-%d:9100", i % 7);
    snprintf(id, 16, "%d", i);
    int n = 0;
    ls[n++] = (odin_label){ODIN_STR("__name__"), odin_str_c(*metric)};
    ls[n++] = (odin_label){ODIN_STR("id"), odin_str_c(id)};
    ls[n++] = (odin_label){ODIN_STR("instance"), odin_str_c(inst)};
    ls[n++] = (odin_label){ODIN_STR("job"), i % 3 == 0 ? ODIN_STR("a") : ODIN_STR("bb")};
    if (i % 2 == 1) {
        ls[n++] = (odin_label){ODIN_STR("zone"), ODIN_STR("eu")};
    }
    return n;
}

static void test_card_matches_counts(void **state)
{
    (void)state;
    char *dir = temp_dir();
    tsdb *db = open_db(dir);
    odin_err err = {0};
    tsdb_appender *a = tsdb_appender_new(db);
    want_list metrics = {0}, names = {0}, memory = {0}, pairs = {0};
    for (int i = 0; i < NSERIES; i++) {
        odin_label ls[5];
        char inst[16], id[16];
        const char *metric;
        int n = series_labels(i, ls, inst, id, &metric);
        assert_int_equal(tsdb_append(a, NULL, (odin_labels){ls, (size_t)n}, 1000, 1.0, &err), 0);
        want_add(&metrics, metric, 1);
        for (int k = 0; k < n; k++) {
            char pair[64];
            snprintf(pair, sizeof(pair), "%.*s=%.*s", (int)ls[k].name.len, ls[k].name.p,
                     (int)ls[k].value.len, ls[k].value.p);
            size_t before = pairs.len;
            want_add(&pairs, pair, 1);
            if (pairs.len > before) {
                char name[32];
                snprintf(name, sizeof(name), "%.*s", (int)ls[k].name.len, ls[k].name.p);
                want_add(&names, name, 1);
            }
            char name[32];
            snprintf(name, sizeof(name), "%.*s", (int)ls[k].name.len, ls[k].name.p);
            want_add(&memory, name, ls[k].value.len);
        }
    }
    assert_int_equal(tsdb_appender_commit(a, &err), 0);

    size_t limits[] = {10000, 10, 3, 1};
    for (size_t li = 0; li < ODIN_ARRAY_LEN(limits); li++) {
        tsdb_card_stats c;
        tsdb_head_card_stats(db, "__name__", limits[li], &c);
        assert_int_equal(c.num_label_pairs, pairs.len);
        assert_list(&c.metrics, &metrics, limits[li]);
        assert_list(&c.names, &names, limits[li]);
        assert_list(&c.memory, &memory, limits[li]);
        assert_list(&c.pairs, &pairs, limits[li]);
        tsdb_card_stats_fini(&c);
    }
    /* the tie at the top goes by name */
    tsdb_card_stats c;
    tsdb_head_card_stats(db, "__name__", 2, &c);
    assert_string_equal(c.metrics.v[0].name, "m0");
    assert_string_equal(c.metrics.v[1].name, "m1");
    assert_string_equal(c.pairs.v[0].name, "job=bb");
    assert_int_equal(c.pairs.v[0].value, 200);
    tsdb_card_stats_fini(&c);
    /* another label as the "metric" one */
    tsdb_head_card_stats(db, "job", 10, &c);
    assert_int_equal(c.metrics.len, 2);
    assert_string_equal(c.metrics.v[0].name, "bb");
    assert_string_equal(c.metrics.v[1].name, "a");
    assert_int_equal(c.metrics.v[1].value, 100);
    tsdb_card_stats_fini(&c);
    tsdb_close(db);
    remove_dir(dir);
}

static void test_card_empty_head(void **state)
{
    (void)state;
    char *dir = temp_dir();
    tsdb *db = open_db(dir);
    tsdb_card_stats c;
    tsdb_head_card_stats(db, "__name__", 10, &c);
    assert_int_equal(c.num_label_pairs, 0);
    assert_int_equal(c.metrics.len + c.names.len + c.memory.len + c.pairs.len, 0);
    tsdb_card_stats_fini(&c);
    tsdb_close(db);
    remove_dir(dir);
}

/* Series cut into a block and gone from the head are not counted (Prometheus reports the head). */
static void test_card_head_only(void **state)
{
    (void)state;
    char *dir = temp_dir();
    tsdb *db = open_db(dir);
    odin_err err = {0};
    for (int64_t t = 0; t < 5 * HOUR; t += 60000) {
        tsdb_appender *a = tsdb_appender_new(db);
        for (int i = 0; i < 20; i++) {
            if (i < 10 && t >= HOUR) {
                continue; /* pods 0-9 stop at 1 h */
            }
            char pod[16];
            snprintf(pod, sizeof(pod), "p%d", i);
            odin_label ls[2] = {{ODIN_STR("__name__"), ODIN_STR("m")},
                                {ODIN_STR("pod"), odin_str_c(pod)}};
            assert_int_equal(tsdb_append(a, NULL, (odin_labels){ls, 2}, t, 1.0, &err), 0);
        }
        assert_int_equal(tsdb_appender_commit(a, &err), 0);
    }
    tsdb_card_stats c;
    tsdb_head_card_stats(db, "__name__", 100, &c);
    assert_int_equal(c.num_label_pairs, 21);
    assert_int_equal(c.metrics.v[0].value, 20);
    tsdb_card_stats_fini(&c);
    assert_int_equal(tsdb_compact(db, &err), 0);
    tsdb_head_card_stats(db, "__name__", 100, &c);
    assert_int_equal(c.num_label_pairs, 11);
    assert_int_equal(c.metrics.len, 1);
    assert_string_equal(c.metrics.v[0].name, "m");
    assert_int_equal(c.metrics.v[0].value, 10);
    assert_int_equal(c.pairs.len, 11);
    for (size_t i = 0; i < c.pairs.len; i++) {
        assert_false(strcmp(c.pairs.v[i].name, "pod=p3") == 0);
    }
    assert_string_equal(c.names.v[0].name, "pod");
    assert_int_equal(c.names.v[0].value, 10);
    /* "p10".."p19": 3 bytes each */
    assert_string_equal(c.memory.v[0].name, "pod");
    assert_int_equal(c.memory.v[0].value, 30);
    tsdb_card_stats_fini(&c);
    tsdb_close(db);
    remove_dir(dir);
}

int tsdb_head_card_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_card_matches_counts),
        cmocka_unit_test(test_card_empty_head),
        cmocka_unit_test(test_card_head_only),
    };
    return cmocka_run_group_tests_name("tsdb_head_card", tests, NULL, NULL);
}
