/* Unit tests for src/agent/registry.c: families come out sorted by name in every scrape, also when
 * the set of families changes between scrapes (render reuses the last sorting permutation only
 * when it still sorts), and agent_emit's per-scrape descriptor memory starts over each scrape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>

#include "agent/core.h"

#include <stdio.h>
#include <string.h>

/* The family names of one scrape, in emission order; NULL ends the list. */
typedef struct {
    const char *name;
    const char *emit[8];
} render_case;

static void render_and_check(agent_scrape *sc, const render_case *c)
{
    agent_scrape_begin(sc);
    size_t n = 0;
    for (; c->emit[n]; n++) {
        agent_emit_dyn(sc, c->emit[n], "help", EXPFMT_GAUGE, (double)n, 0, NULL, NULL);
    }
    odin_strbuf out;
    odin_strbuf_init(&out, 1 << 20);
    agent_scrape_render(sc, &out);
    /* every emitted family appears once, and each after the ones that sort before it */
    const char *last = NULL;
    size_t seen = 0;
    for (const char *p = out.p ? out.p : ""; (p = strstr(p, "# TYPE ")) != NULL; p++) {
        const char *name = p + 7;
        size_t len = strcspn(name, " ");
        char buf[64];
        snprintf(buf, sizeof buf, "%.*s", (int)len, name);
        if (last && strcmp(last, buf) >= 0) {
            fail_msg("%s: %s after %s", c->name, buf, last);
        }
        last = agent_strdup(sc, odin_str_c(buf));
        seen++;
    }
    if (seen != n) {
        fail_msg("%s: %zu families rendered, %zu emitted", c->name, seen, n);
    }
    odin_strbuf_fini(&out);
}

static void test_families_sorted_every_scrape(void **state)
{
    (void)state;
    static const render_case cases[] = {
        {"first scrape", {"node_b", "node_a", "node_c", NULL}},
        {"same families", {"node_b", "node_a", "node_c", NULL}},
        {"same count, other names", {"node_z", "node_a", "node_c", NULL}},
        {"same names, other order", {"node_c", "node_z", "node_a", NULL}},
        {"fewer", {"node_y", "node_x", NULL}},
        {"more", {"node_e", "node_d", "node_c", "node_b", "node_a", NULL}},
        {"none", {NULL}},
        {"again", {"node_e", "node_d", "node_c", "node_b", "node_a", NULL}},
    };
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        render_and_check(&sc, &cases[i]);
    }
    agent_scrape_fini(&sc);
}

static const agent_desc d_one = {"node_one", "One.", EXPFMT_GAUGE, {"x", NULL}};

static void test_emit_memory_starts_over_each_scrape(void **state)
{
    (void)state;
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    for (int gen = 0; gen < 3; gen++) {
        agent_scrape_begin(&sc);
        const char *a[] = {"a"}, *b[] = {"b"};
        agent_emit(&sc, &d_one, 1, a);
        agent_emit(&sc, &d_one, 2, b);
        odin_strbuf out;
        odin_strbuf_init(&out, 1 << 20);
        agent_scrape_render(&sc, &out);
        assert_string_equal(out.p, "# HELP node_one One.\n# TYPE node_one gauge\n"
                                   "node_one{x=\"a\"} 1\nnode_one{x=\"b\"} 2\n");
        odin_strbuf_fini(&out);
    }
    agent_scrape_fini(&sc);
}

static const agent_desc d_two = {"node_two", "Two.", EXPFMT_COUNTER, {"b", "a", NULL}};
static const agent_desc d_two_gauge = {"node_two", "Other help.", EXPFMT_GAUGE, {NULL}};

static const char *render_text(agent_scrape *sc, odin_strbuf *out)
{
    odin_strbuf_reset(out);
    agent_scrape_render(sc, out);
    return out->p ? out->p : "";
}

/* Families are kept between scrapes: each scrape shows only what it emitted, with the help and
 * type of its own first emission, whatever the order of the descriptors; a run-time descriptor
 * at a reused address with another name gets its own family; families unseen for a while are
 * freed. */
static void test_families_kept_between_scrapes(void **state)
{
    (void)state;
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    odin_strbuf out;
    odin_strbuf_init(&out, 1 << 20);
    const char *one[] = {"v"}, *two[] = {"B", "A"};

    agent_scrape_begin(&sc);
    agent_emit(&sc, &d_one, 1, one);
    agent_emit(&sc, &d_two, 2, two);
    assert_string_equal(render_text(&sc, &out),
                        "# HELP node_one One.\n# TYPE node_one gauge\nnode_one{x=\"v\"} 1\n"
                        "# HELP node_two Two.\n# TYPE node_two counter\n"
                        "node_two{a=\"A\",b=\"B\"} 2\n");
    /* the other order, and node_two first made by name with another type and help */
    agent_scrape_begin(&sc);
    agent_emit_dyn(&sc, "node_two", "Other help.", EXPFMT_GAUGE, 5, 0, NULL, NULL);
    agent_emit(&sc, &d_two, 2, two); /* conflicts with the first: dropped */
    agent_emit(&sc, &d_one, 3, one);
    assert_string_equal(render_text(&sc, &out),
                        "# HELP node_one One.\n# TYPE node_one gauge\nnode_one{x=\"v\"} 3\n"
                        "# HELP node_two Other help.\n# TYPE node_two gauge\nnode_two 5\n");
    assert_true(agent_family_exists(&sc, ODIN_STR("node_two")));
    /* node_one alone: node_two is kept but not shown, and not reported as emitted */
    agent_scrape_begin(&sc);
    agent_emit(&sc, &d_one, 4, one);
    assert_false(agent_family_exists(&sc, ODIN_STR("node_two")));
    assert_string_equal(render_text(&sc, &out),
                        "# HELP node_one One.\n# TYPE node_one gauge\nnode_one{x=\"v\"} 4\n");
    /* a descriptor at the same address as last scrape's, naming another family */
    agent_desc dyn = {"node_dyn_a", "A.", EXPFMT_UNTYPED, {NULL}};
    for (int gen = 0; gen < 2; gen++) {
        agent_scrape_begin(&sc);
        dyn.name = gen ? "node_dyn_b" : "node_dyn_a";
        dyn.help = gen ? "B." : "A.";
        agent_emit(&sc, &dyn, gen, NULL);
        agent_emit(&sc, &d_two_gauge, 7, NULL);
        const char *want = gen ? "# HELP node_dyn_b B.\n# TYPE node_dyn_b untyped\nnode_dyn_b 1\n"
                                 "# HELP node_two Other help.\n# TYPE node_two gauge\nnode_two 7\n"
                               : "# HELP node_dyn_a A.\n# TYPE node_dyn_a untyped\nnode_dyn_a 0\n"
                                 "# HELP node_two Other help.\n# TYPE node_two gauge\nnode_two 7\n";
        assert_string_equal(render_text(&sc, &out), want);
    }
    /* after enough scrapes without them, only node_one is kept */
    for (int gen = 0; gen < 10; gen++) {
        agent_scrape_begin(&sc);
        agent_emit(&sc, &d_one, gen, one);
        render_text(&sc, &out);
    }
    assert_int_equal(sc.families.len, 1);
    agent_scrape_begin(&sc);
    agent_emit(&sc, &d_two, 9, two); /* made again after being freed */
    assert_string_equal(render_text(&sc, &out), "# HELP node_two Two.\n# TYPE node_two counter\n"
                                                "node_two{a=\"A\",b=\"B\"} 9\n");
    odin_strbuf_fini(&out);
    agent_scrape_fini(&sc);
}

/* agent_scrape_memo: a value lasts for its scrape only; more keys than slots push out the ones of
 * older scrapes first, and a key put again is replaced in place. */
static void test_scrape_memo(void **state)
{
    (void)state;
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    static const char k[6] = {0};
    int v[6];
    agent_scrape_begin(&sc);
    assert_null(agent_scrape_memo_get(&sc, &k[0]));
    agent_scrape_memo_put(&sc, &k[0], &v[0]);
    agent_scrape_memo_put(&sc, &k[1], &v[1]);
    agent_scrape_memo_put(&sc, &k[0], &v[2]);
    assert_ptr_equal(agent_scrape_memo_get(&sc, &k[0]), &v[2]);
    assert_ptr_equal(agent_scrape_memo_get(&sc, &k[1]), &v[1]);
    agent_scrape_begin(&sc);
    assert_null(agent_scrape_memo_get(&sc, &k[0]));
    assert_null(agent_scrape_memo_get(&sc, &k[1]));
    for (int i = 0; i < 4; i++) {
        agent_scrape_memo_put(&sc, &k[i + 2], &v[i + 2]);
    }
    for (int i = 0; i < 4; i++) {
        assert_ptr_equal(agent_scrape_memo_get(&sc, &k[i + 2]), &v[i + 2]);
    }
    agent_scrape_fini(&sc);
}

int agent_registry_tests(void); /* called from main.c */

int agent_registry_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_families_sorted_every_scrape),
        cmocka_unit_test(test_emit_memory_starts_over_each_scrape),
        cmocka_unit_test(test_families_kept_between_scrapes),
        cmocka_unit_test(test_scrape_memo),
    };
    return cmocka_run_group_tests_name("agent_registry", tests, NULL, NULL);
}
