/* Unit tests for querier.c: series selection over the head and persisted blocks checked against a
 * brute-force model on random matchers and ranges, in label order (tsdb_querier_select) and in any
 * order (tsdb_querier_select_any_order: the same series, each once, with the same samples). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tsdb/db_int.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int tsdb_querier_tests(void);

enum { NSERIES = 48, STEP_MS = 60000 };
static const int64_t HOUR = 3600 * 1000LL;

typedef struct {
    char name[8], x[8], y[8], id[8];
    odin_label ls[4];
    size_t nls;
    int64_t from, to; /* samples at from, from + STEP_MS, ... < to */
} model_series;

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

/* Labels in name order, with x left out when empty (an absent label). */
static void model_init(model_series *m, int i)
{
    static const char *const xs[] = {"", "1", "2", "10"};
    static const int64_t spans[][2] = {{0, 13}, {0, 3}, {10, 13}, {4, 12}};
    snprintf(m->name, sizeof(m->name), "q_%c", i % 2 ? 'a' : 'b');
    snprintf(m->x, sizeof(m->x), "%s", xs[rnd() % 4]);
    snprintf(m->y, sizeof(m->y), "%c", rnd() % 2 ? 'u' : 'v');
    snprintf(m->id, sizeof(m->id), "%02d", i);
    m->nls = 0;
    m->ls[m->nls++] = (odin_label){ODIN_STR("__name__"), odin_str_c(m->name)};
    m->ls[m->nls++] = (odin_label){ODIN_STR("id"), odin_str_c(m->id)};
    if (m->x[0]) {
        m->ls[m->nls++] = (odin_label){ODIN_STR("x"), odin_str_c(m->x)};
    }
    m->ls[m->nls++] = (odin_label){ODIN_STR("y"), odin_str_c(m->y)};
    const int64_t *sp = spans[rnd() % 4];
    m->from = sp[0] * HOUR;
    m->to = sp[1] * HOUR;
}

static size_t model_samples(const model_series *m, int64_t mint, int64_t maxt)
{
    size_t n = 0;
    for (int64_t t = m->from; t < m->to; t += STEP_MS) {
        n += t >= mint && t <= maxt;
    }
    return n;
}

static odin_str model_value(const model_series *m, const char *name)
{
    for (size_t i = 0; i < m->nls; i++) {
        if (odin_str_eq_c(m->ls[i].name, name)) {
            return m->ls[i].value;
        }
    }
    return (odin_str){"", 0};
}

/* Appends the model (series in shuffled order, one commit per hour) and cuts blocks. */
static tsdb *make_db(const char *dir, model_series *ms)
{
    tsdb_opts o = {.dir = dir, .wal_fsync_ms = 0};
    odin_err err = {0};
    tsdb *db = tsdb_open(&o, &err);
    assert_non_null(db);
    uint64_t refs[NSERIES] = {0};
    for (int64_t h = 0; h < 13; h++) {
        tsdb_appender *ap = tsdb_appender_new(db);
        for (int i = 0; i < NSERIES; i++) {
            model_series *m = &ms[(i * 7) % NSERIES];
            for (int64_t t = h * HOUR; t < (h + 1) * HOUR; t += STEP_MS) {
                if (t >= m->from && t < m->to) {
                    assert_int_equal(tsdb_append(ap, &refs[(i * 7) % NSERIES],
                                                 (odin_labels){m->ls, m->nls}, t, (double)t, &err),
                                     0);
                }
            }
        }
        assert_int_equal(tsdb_appender_commit(ap, &err), 0);
    }
    assert_int_equal(tsdb_compact(db, &err), 0);
    tsdb_stats st;
    tsdb_get_stats(db, &st);
    assert_true(st.blocks >= 2); /* selections merge blocks and the head */
    return db;
}

typedef struct {
    tsdb_match_type type;
    const char *name, *value;
} matcher_spec;

static const matcher_spec specs[] = {
    {TSDB_MATCH_EQ, "__name__", "q_a"},
    {TSDB_MATCH_RE, "__name__", "q_.*"},
    {TSDB_MATCH_NEQ, "__name__", "q_b"},
    {TSDB_MATCH_EQ, "x", "1"},
    {TSDB_MATCH_RE, "x", "1|10"},
    {TSDB_MATCH_NEQ, "x", "2"},
    {TSDB_MATCH_NRE, "x", "1.*"},
    {TSDB_MATCH_EQ, "x", ""},
    {TSDB_MATCH_RE, "x", ".+"},
    {TSDB_MATCH_EQ, "y", "v"},
    {TSDB_MATCH_RE, "y", "u|v|w"},
    {TSDB_MATCH_RE, "id", "0.*"},
    {TSDB_MATCH_EQ, "nope", ""},
    /* one series' list against long ones: probed rather than walked */
    {TSDB_MATCH_EQ, "id", "07"},
    {TSDB_MATCH_EQ, "id", "30"},
    {TSDB_MATCH_EQ, "id", "47"},
    {TSDB_MATCH_EQ, "id", "99"},
    /* literal alternatives (looked up one by one) and near misses (tested per value) */
    {TSDB_MATCH_RE, "x", "(1|10)"},
    {TSDB_MATCH_RE, "id", "01|02|03|47|99"},
    {TSDB_MATCH_RE, "x", "1|1"},
    {TSDB_MATCH_RE, "__name__", "(q_a|q_b)"},
    {TSDB_MATCH_RE, "x", "(1|)"},
    {TSDB_MATCH_RE, "id", "0.|1.|20"},
    {TSDB_MATCH_NRE, "x", "(1|2)"},
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Runs one selection both ways and compares it with the model. */
static void check_select(tsdb *db, const model_series *ms, const tsdb_matcher *m, size_t nm,
                         int64_t mint, int64_t maxt, const char *what)
{
    bool selective = false;
    for (size_t i = 0; i < nm; i++) {
        selective |= !tsdb_matcher_matches(&m[i], (odin_str){"", 0});
    }
    bool match[NSERIES], want[NSERIES];
    size_t nwant = 0;
    for (int i = 0; i < NSERIES; i++) {
        match[i] = true;
        for (size_t k = 0; k < nm && match[i]; k++) {
            match[i] = tsdb_matcher_matches(&m[k], model_value(&ms[i], m[k].name));
        }
        want[i] = match[i] && model_samples(&ms[i], mint, maxt) > 0;
        nwant += want[i];
    }
    for (int sorted = 0; sorted < 2; sorted++) {
        odin_err err = {0};
        tsdb_querier *q = tsdb_querier_open(db, mint, maxt);
        tsdb_series_set *set = sorted ? tsdb_querier_select(q, m, nm, &err)
                                      : tsdb_querier_select_any_order(q, m, nm, &err);
        if (!selective) {
            assert_null(set);
            tsdb_querier_close(q);
            continue;
        }
        assert_non_null(set);
        bool seen[NSERIES] = {false};
        size_t n = 0;
        odin_labels prev = {NULL, 0};
        while (tsdb_series_next(set)) {
            odin_labels ls = tsdb_series_labels(set);
            if (sorted && n > 0 && odin_labels_cmp(prev, ls) >= 0) {
                fail_msg("%s: not in label order", what);
            }
            prev = ls;
            const odin_str *idv = odin_labels_get(ls, "id");
            int id = (idv->p[0] - '0') * 10 + (idv->p[1] - '0'); /* ids are two digits */
            if (id < 0 || id >= NSERIES || seen[id]) {
                fail_msg("%s (sorted %d): series %d unexpected or repeated", what, sorted, id);
            }
            /* any order may also yield matching series without samples in the range */
            bool empty_ok = !sorted && match[id] && model_samples(&ms[id], mint, maxt) == 0;
            if (!want[id] && !empty_ok) {
                fail_msg("%s (sorted %d): series %d unexpected or repeated", what, sorted, id);
            }
            seen[id] = true;
            tsdb_iter it;
            tsdb_series_iter(set, &it);
            int64_t t, last = INT64_MIN;
            double v;
            size_t ns = 0;
            while (tsdb_iter_next(&it, &t, &v)) {
                assert_true(t > last && t >= mint && t <= maxt && v == (double)t);
                last = t;
                ns++;
            }
            if (ns != model_samples(&ms[id], mint, maxt)) {
                fail_msg("%s: series %d has %zu samples, want %zu", what, id, ns,
                         model_samples(&ms[id], mint, maxt));
            }
            n += ns > 0 || sorted;
        }
        if (n != nwant) {
            fail_msg("%s (sorted %d): %zu series, want %zu", what, sorted, n, nwant);
        }
        tsdb_querier_close(q);
    }
}

static void test_select_matches_model(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/odin-querier-test-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    model_series ms[NSERIES];
    for (int i = 0; i < NSERIES; i++) {
        model_init(&ms[i], i);
    }
    tsdb *db = make_db(dir, ms);
    static const int64_t ranges[][2] = {{0, 13}, {0, 2}, {10, 13}, {5, 6}, {11, 11}};
    for (int round = 0; round < 400; round++) {
        size_t nm = 1 + rnd() % 3;
        tsdb_matcher m[3];
        char what[160] = "";
        size_t wl = 0;
        for (size_t i = 0; i < nm; i++) {
            const matcher_spec *sp = &specs[rnd() % ODIN_ARRAY_LEN(specs)];
            odin_err err = {0};
            assert_int_equal(tsdb_matcher_init(&m[i], sp->type, odin_str_c(sp->name),
                                               odin_str_c(sp->value), &err),
                             0);
            wl += (size_t)snprintf(what + wl, sizeof(what) - wl, "%s%d%s ", sp->name, (int)sp->type,
                                   sp->value);
        }
        const int64_t *r = ranges[rnd() % ODIN_ARRAY_LEN(ranges)];
        check_select(db, ms, m, nm, r[0] * HOUR, r[1] * HOUR + (r[0] == r[1] ? 0 : -1), what);
        for (size_t i = 0; i < nm; i++) {
            tsdb_matcher_fini(&m[i]);
        }
    }
    tsdb_close(db);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int tsdb_querier_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_matches_model),
    };
    return cmocka_run_group_tests_name("tsdb_querier", tests, NULL, NULL);
}
