/* Targets from groups (src/scrape/target.c): default labels, instance, __meta_ removal, params in
 * the URL, durations as Prometheus prints them, errors, and the schedule offset. Table-driven. */
#include <string.h>

#include <cmocka.h>

#include "scrape/loop_int.h"
#include "scrape_test.h"

typedef struct {
    const char *name;
    const char *address;
    const char *group_label; /* "name=value" or NULL */
    int64_t interval_ms, timeout_ms;
    int want_rc;
    const char *want_url;
    const char *want_instance;
    const char *want_err; /* fragment */
} target_case;

static const target_case cases[] = {
    {"plain", "h:9100", NULL, 15000, 10000, 1, "http://h:9100/metrics", "h:9100", NULL},
    {"instance from group", "h:1", "instance=box", 60000, 10000, 1, "http://h:1/metrics", "box",
     NULL},
    {"param from group", "h:1", "__param_module=if mib", 60000, 10000, 1,
     "http://h:1/metrics?module=if+mib&target=a%2Fb", "h:1", NULL},
    {"scheme from group", "h:443", "__scheme__=https", 90000, 10000, 1, "https://h:443/metrics",
     "h:443", NULL},
    {"no address", "", NULL, 15000, 10000, -ODIN_ERR_INVALID, NULL, NULL, "no address"},
    {"bad host", "h/x", NULL, 15000, 10000, -ODIN_ERR_INVALID, NULL, NULL, "not a valid hostname"},
    {"timeout over interval", "h:1", NULL, 5000, 10000, -ODIN_ERR_INVALID, NULL, NULL,
     "greater than scrape interval"},
};

static void test_build_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        const target_case *c = &cases[i];
        odin_label gl[1];
        discovery_group g = {0};
        char *targets[1] = {(char *)c->address};
        g.targets = targets;
        g.ntargets = 1;
        if (c->group_label != NULL) {
            const char *eq = strchr(c->group_label, '=');
            gl[0].name = (odin_str){c->group_label, (size_t)(eq - c->group_label)};
            gl[0].value = odin_str_c(eq + 1);
            g.labels = gl;
            g.nlabels = 1;
        }
        odin_label params[1] = {{ODIN_STR("target"), ODIN_STR("a/b")}};
        scrape_job job = {.job_name = "node",
                          .scrape_interval_ms = c->interval_ms,
                          .scrape_timeout_ms = c->timeout_ms,
                          .metrics_path = "/metrics",
                          .scheme = "http"};
        if (strcmp(c->name, "param from group") == 0) {
            job.params = params;
            job.nparams = 1;
        }
        odin_arena a;
        odin_arena_init(&a, 0);
        scrape_target t;
        odin_err err;
        odin_err_clear(&err);
        int rc = scrape_target_build(&job, &g, 0, &a, &t, &err);
        if (rc != c->want_rc) {
            fail_msg("%s: rc %d, want %d (%s)", c->name, rc, c->want_rc, err.msg);
        }
        if (c->want_url != NULL && strcmp(t.url, c->want_url) != 0) {
            fail_msg("%s: url %s, want %s", c->name, t.url, c->want_url);
        }
        if (c->want_instance != NULL) {
            const odin_str *inst = odin_labels_get(t.pub, "instance");
            if (inst == NULL || !odin_str_eq_c(*inst, c->want_instance)) {
                fail_msg("%s: wrong instance", c->name);
            }
            if (odin_labels_get(t.pub, "__address__") != NULL ||
                odin_labels_get(t.pub, "job") == NULL) {
                fail_msg("%s: public labels wrong", c->name);
            }
        }
        if (c->want_err != NULL && strstr(err.msg, c->want_err) == NULL) {
            fail_msg("%s: error %s, want %s", c->name, err.msg, c->want_err);
        }
        odin_arena_fini(&a);
    }
}

static void test_discovered_defaults(void **state)
{
    (void)state;
    odin_label tl[2] = {{ODIN_STR("__meta_x"), ODIN_STR("1")},
                        {ODIN_STR("__address__"), ODIN_STR("override:1")}};
    odin_label *tls[1] = {tl};
    size_t ntl[1] = {2};
    char *targets[1] = {"h:1"};
    discovery_group g = {
        .targets = targets, .ntargets = 1, .target_labels = tls, .ntarget_labels = ntl};
    scrape_job job = {.job_name = "j", .scrape_interval_ms = 90000, .scrape_timeout_ms = 500};
    odin_arena a;
    odin_arena_init(&a, 0);
    scrape_target t;
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(scrape_target_build(&job, &g, 0, &a, &t, &err), 1);
    assert_true(odin_str_eq_c(*odin_labels_get(t.discovered, "__scrape_interval__"), "1m30s"));
    assert_true(odin_str_eq_c(*odin_labels_get(t.discovered, "__scrape_timeout__"), "500ms"));
    assert_true(odin_str_eq_c(*odin_labels_get(t.discovered, "__meta_x"), "1"));
    assert_true(odin_str_eq_c(*odin_labels_get(t.discovered, "__address__"), "override:1"));
    assert_null(odin_labels_get(t.all, "__meta_x"));
    assert_int_equal(t.interval_ms, 90000);
    assert_int_equal(t.timeout_ms, 500);
    assert_string_equal(t.url, "http://override:1/metrics");
    odin_arena_fini(&a);
}

static void test_offset(void **state)
{
    (void)state;
    for (uint64_t h = 1; h < 2000; h += 37) {
        int64_t off = scrape_target_offset_ms(h * 0x9e3779b97f4a7c15ULL, 42, 15000, 1700000000123);
        assert_true(off >= 0 && off <= 15000);
        /* pinned to absolute time: a later call lands on the same phase */
        int64_t later =
            scrape_target_offset_ms(h * 0x9e3779b97f4a7c15ULL, 42, 15000, 1700000000123 + 4000);
        assert_int_equal((1700000000123 + off) % 15000, (1700000004123 + later) % 15000);
    }
}

static void test_global_url(void **state)
{
    (void)state;
    odin_arena a;
    odin_arena_init(&a, 0);
    assert_string_equal(scrape_target_global_url("http://example:1/metrics", &a),
                        "http://example:1/metrics");
    const char *g = scrape_target_global_url("http://127.0.0.1:9/metrics", &a);
    assert_null(strstr(g, "127.0.0.1"));
    assert_non_null(strstr(g, ":9/metrics"));
    odin_arena_fini(&a);
}

int scrape_target_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_cases),
        cmocka_unit_test(test_discovered_defaults),
        cmocka_unit_test(test_offset),
        cmocka_unit_test(test_global_url),
    };
    return cmocka_run_group_tests_name("scrape_target", tests, NULL, NULL);
}
