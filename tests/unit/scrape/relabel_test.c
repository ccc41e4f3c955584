/* Unit tests for src/scrape/relabel.c and md5.c: every action with Prometheus' semantics (our own
 * versions of the cases in Prometheus' relabel_test.go), templates, validation and MD5. Rules are
 * written in YAML and go through the real loader, as a user's would. */
#include <cmocka.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "scrape/config_int.h"

#include <stdio.h>
#include <string.h>

int scrape_relabel_tests(void);

typedef struct {
    const char *name;
    const char *rules; /* YAML list of relabel configs (flow or block, indented by 4) */
    const char *in;    /* "a=foo|b=bar" */
    const char *out;   /* expected, same form; NULL: dropped */
} relabel_case;

static const relabel_case cases[] = {
    {"replace with ${1} twice",
     "[{source_labels: [a], regex: 'f(.*)', target_label: d, "
     "replacement: 'ch${1}-ch${1}'}]",
     "a=foo|b=bar|c=baz", "a=foo|b=bar|c=baz|d=choo-choo"},
    {"replace joins sources",
     "[{source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, "
     "replacement: 'b${1}${2}m'}]",
     "a=foo|b=bar|c=baz", "a=boobam|b=bar|c=baz"},
    {"regex is anchored", "[{source_labels: [a], regex: 'o', target_label: x, replacement: y}]",
     "a=foo", "a=foo"},
    {"no match leaves labels", "[{source_labels: [a], regex: 'x(.*)', target_label: d}]", "a=foo",
     "a=foo"},
    {"empty replacement deletes",
     "[{source_labels: [a], regex: '(.*)', target_label: b, "
     "replacement: ''}]",
     "a=foo|b=bar", "a=foo"},
    {"default rule sets missing source", "[{target_label: x, replacement: fixed}]", "a=1",
     "a=1|x=fixed"},
    {"target from group",
     "[{source_labels: [a], regex: '(.*)', target_label: '${1}', "
     "replacement: v}]",
     "a=new", "a=new|new=v"},
    {"invalid expanded target skipped",
     "[{source_labels: [a], regex: '(.*)', target_label: "
     "'${1}', replacement: v}]",
     "b=1", "b=1"},
    {"named group and $name",
     "[{source_labels: [a], regex: '(?P<first>f)(?P<rest>.*)', "
     "target_label: b, replacement: '$rest-${first}'}]",
     "a=foo", "a=foo|b=oo-f"},
    {"$1x is a name, empty",
     "[{source_labels: [a], regex: '(f)oo', target_label: b, "
     "replacement: '$1x'}]",
     "a=foo", "a=foo"},
    {"$$ is a dollar",
     "[{source_labels: [a], regex: '(f)oo', target_label: b, replacement: "
     "'$$1'}]",
     "a=foo", "a=foo|b=$1"},
    {"dot matches newline", "[{source_labels: [a], regex: 'foo.bar', action: keep}]", "a=foo\nbar",
     "a=foo\nbar"},
    {"keep matches", "[{source_labels: [a], regex: 'f.*', action: keep}]", "a=foo", "a=foo"},
    {"keep drops", "[{source_labels: [a], regex: 'x.*', action: keep}]", "a=foo", NULL},
    {"keep missing label is empty", "[{source_labels: [z], regex: '', action: keep}]", "a=foo",
     "a=foo"},
    {"drop matches", "[{source_labels: [a], regex: 'f.*', action: drop}]", "a=foo", NULL},
    {"drop no match", "[{source_labels: [a], regex: 'x.*', action: drop}]", "a=foo", "a=foo"},
    {"keepequal keeps", "[{source_labels: [a], target_label: b, action: keepequal}]", "a=1|b=1",
     "a=1|b=1"},
    {"keepequal drops", "[{source_labels: [a], target_label: b, action: keepequal}]", "a=1|b=2",
     NULL},
    {"dropequal drops", "[{source_labels: [a], target_label: b, action: dropequal}]", "a=1|b=1",
     NULL},
    {"dropequal keeps", "[{source_labels: [a], target_label: b, action: dropequal}]", "a=1|b=2",
     "a=1|b=2"},
    {"hashmod baz", "[{source_labels: [c], target_label: d, action: hashmod, modulus: 1000}]",
     "a=foo|b=bar|c=baz", "a=foo|b=bar|c=baz|d=976"},
    {"hashmod newline",
     "[{source_labels: [a], target_label: b, action: hashmod, modulus: "
     "1000}]",
     "a=foo\nbar", "a=foo\nbar|b=734"},
    {"labelmap", "[{regex: '(b.*)', replacement: 'bar_${1}', action: labelmap}]",
     "a=foo|b1=bar|b2=baz", "a=foo|b1=bar|b2=baz|bar_b1=bar|bar_b2=baz"},
    {"labelmap default $1", "[{regex: '__meta_kubernetes_node_label_(.+)', action: labelmap}]",
     "__meta_kubernetes_node_label_zone=a|x=1", "__meta_kubernetes_node_label_zone=a|x=1|zone=a"},
    {"labelmap then labeldrop",
     "[{regex: '__meta_(my.*)', replacement: '${1}', action: "
     "labelmap}, {regex: '__meta.+', action: labeldrop}]",
     "__meta_my_bar=aaa|__meta_other=bbb|a=1", "a=1|my_bar=aaa"},
    {"labeldrop", "[{regex: '(b.*)', action: labeldrop}]", "a=foo|b1=bar|b2=baz", "a=foo"},
    {"labelkeep", "[{regex: '(b.*)', action: labelkeep}]", "a=foo|b1=bar|b2=baz", "b1=bar|b2=baz"},
    {"labelkeep everything gone drops", "[{regex: 'z', action: labelkeep}]", "a=foo", NULL},
    {"lowercase", "[{source_labels: [a, b], target_label: c, action: lowercase}]", "a=AbC|b=ÄÖ",
     "a=AbC|b=ÄÖ|c=abc;äö"},
    {"uppercase", "[{source_labels: [a], target_label: a, action: uppercase}]", "a=foö", "a=FOÖ"},
    {"action is case-insensitive", "[{source_labels: [a], regex: x, action: DROP}]", "a=x", NULL},
    {"separator", "[{source_labels: [a, b], separator: '-', regex: '(.*)', target_label: c}]",
     "a=1|b=2", "a=1|b=2|c=1-2"},
    {"utf8 target", "[{source_labels: [a], target_label: 'my.label', replacement: x}]", "a=1",
     "a=1|my.label=x"},
    {"seed apiservers keep",
     "[{source_labels: [__meta_kubernetes_namespace, "
     "__meta_kubernetes_service_name, __meta_kubernetes_endpoint_port_name], action: keep, "
     "regex: default;kubernetes;https}]",
     "__meta_kubernetes_endpoint_port_name=https|"
     "__meta_kubernetes_namespace=default|__meta_kubernetes_service_name=kubernetes",
     "__meta_kubernetes_endpoint_port_name=https|__meta_kubernetes_namespace=default|"
     "__meta_kubernetes_service_name=kubernetes"},
    {"seed node-exporter node label",
     "[{source_labels: [__meta_kubernetes_pod_label_app], "
     "action: keep, regex: node-exporter}, {source_labels: [__meta_kubernetes_pod_node_name], "
     "action: replace, target_label: node}]",
     "__meta_kubernetes_pod_label_app=node-exporter|"
     "__meta_kubernetes_pod_node_name=n1",
     "__meta_kubernetes_pod_label_app=node-exporter|"
     "__meta_kubernetes_pod_node_name=n1|node=n1"},
};

static odin_labels parse_labels(const char *s, odin_label *buf, size_t max)
{
    size_t n = 0;
    odin_str rest = odin_str_c(s);
    while (rest.len && n < max) {
        odin_str pair = odin_str_cut(&rest, '|');
        odin_str name = odin_str_cut(&pair, '=');
        buf[n++] = (odin_label){name, pair};
    }
    odin_labels_sort(buf, n);
    return (odin_labels){buf, n};
}

static void format_labels(odin_labels ls, odin_strbuf *b)
{
    for (size_t i = 0; i < ls.len; i++) {
        if (i) {
            odin_strbuf_putc(b, '|');
        }
        odin_strbuf_putstr(b, ls.v[i].name);
        odin_strbuf_putc(b, '=');
        odin_strbuf_putstr(b, ls.v[i].value);
    }
}

static scrape_config *load_rules(const char *rules, odin_err *err)
{
    odin_strbuf y;
    odin_strbuf_init(&y, 0);
    odin_strbuf_printf(&y, "scrape_configs:\n  - job_name: t\n    relabel_configs: %s\n", rules);
    scrape_config *c = scrape_config_parse(y.p, y.len, "rules.yml", err);
    odin_strbuf_fini(&y);
    return c;
}

static void test_relabel_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        const relabel_case *tc = &cases[i];
        odin_err err;
        odin_err_clear(&err);
        scrape_config *c = load_rules(tc->rules, &err);
        if (c == NULL) {
            fail_msg("%s: load: %s", tc->name, err.msg);
        }
        odin_label buf[16];
        odin_labels in = parse_labels(tc->in, buf, 16);
        odin_arena a;
        odin_arena_init(&a, 0);
        odin_labels out;
        bool keep = relabel_process(c->jobs[0].relabel, c->jobs[0].nrelabel, in, &a, &out);
        odin_strbuf got;
        odin_strbuf_init(&got, 0);
        format_labels(out, &got);
        if (tc->out == NULL && keep) {
            fail_msg("%s: want dropped, got %s", tc->name, got.p);
        }
        if (tc->out != NULL) {
            odin_label ebuf[16];
            odin_strbuf want;
            odin_strbuf_init(&want, 0);
            format_labels(parse_labels(tc->out, ebuf, 16), &want);
            if (!keep || strcmp(want.p, got.p ? got.p : "") != 0) {
                fail_msg("%s: want %s, got %s (keep=%d)", tc->name, want.p, got.p, keep);
            }
            odin_strbuf_fini(&want);
        }
        odin_strbuf_fini(&got);
        odin_arena_fini(&a);
        scrape_config_free(c);
    }
}

typedef struct {
    const char *name;
    const char *rules;
    const char *msg; /* fragment of the error */
} bad_case;

static const bad_case bad_cases[] = {
    {"hashmod needs modulus", "[{source_labels: [a], target_label: b, action: hashmod}]",
     "relabel_configs[0]: relabel configuration for hashmod requires non-zero modulus"},
    {"replace needs target", "[{source_labels: [a]}]", "requires 'target_label' value"},
    {"lowercase needs target", "[{source_labels: [a], action: lowercase}]",
     "relabel configuration for lowercase action requires 'target_label' value"},
    {"labeldrop only regex", "[{source_labels: [a], regex: x, action: labeldrop}]",
     "labeldrop action requires only 'regex', and no other fields"},
    {"labelkeep only regex", "[{target_label: y, regex: x, action: labelkeep}]",
     "labelkeep action requires only 'regex', and no other fields"},
    {"keepequal only two fields",
     "[{source_labels: [a], target_label: b, regex: x, "
     "action: keepequal}]",
     "keepequal action requires only 'source_labels' and 'target_label'"},
    {"uppercase no replacement",
     "[{source_labels: [a], target_label: b, replacement: x, "
     "action: uppercase}]",
     "'replacement' can not be set for uppercase action"},
    {"unknown action", "[{action: frobnicate}]",
     "relabel_configs[0].action: unknown relabel "
     "action \"frobnicate\""},
    {"bad regex", "[{source_labels: [a], regex: '(abc', target_label: b}]",
     "relabel_configs[0].regex: bad regex"},
    {"unknown field", "[{source_labels: [a], target: b}]",
     "relabel_configs[0].target: unknown field in relabel config"},
    {"null rule", "[null]", "empty or null relabeling rule"},
};

static void test_relabel_invalid(void **state)
{
    (void)state;
    for (size_t i = 0; i < ODIN_ARRAY_LEN(bad_cases); i++) {
        odin_err err;
        odin_err_clear(&err);
        scrape_config *c = load_rules(bad_cases[i].rules, &err);
        if (c != NULL) {
            scrape_config_free(c);
            fail_msg("%s: loaded, want error", bad_cases[i].name);
        }
        if (strstr(err.msg, bad_cases[i].msg) == NULL || strncmp(err.msg, "rules.yml:3:", 12)) {
            fail_msg("%s: message %s", bad_cases[i].name, err.msg);
        }
    }
}

static void test_relabel_struct_defaults(void **state)
{
    (void)state;
    relabel_config rc = {.action = RELABEL_REPLACE, .target_label = odin_strdup("x")};
    odin_err err;
    odin_err_clear(&err);
    assert_int_equal(relabel_config_finish(&rc, &err), 0);
    assert_string_equal(rc.separator, ";");
    assert_string_equal(rc.regex_text, "(.*)");
    assert_string_equal(rc.replacement, "$1");
    relabel_config_fini(&rc);

    relabel_config legacy = {
        .action = RELABEL_REPLACE, .target_label = odin_strdup("a.b"), .legacy_validation = true};
    assert_int_not_equal(relabel_config_finish(&legacy, &err), 0);
    assert_non_null(strstr(err.msg, "\"a.b\" is invalid 'target_label' for replace action"));
    relabel_config_fini(&legacy);
}

static void test_md5_vectors(void **state)
{
    (void)state;
    /* RFC 1321 appendix A.5 */
    static const struct {
        const char *in, *hex;
    } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(v); i++) {
        unsigned char sum[16];
        scrape_md5(v[i].in, strlen(v[i].in), sum);
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        for (int k = 0; k < 16; k++) {
            static const char hx[] = "0123456789abcdef";
            odin_strbuf_putc(&b, hx[sum[k] >> 4]);
            odin_strbuf_putc(&b, hx[sum[k] & 15]);
        }
        assert_string_equal(b.p, v[i].hex);
        odin_strbuf_fini(&b);
    }
}

int scrape_relabel_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relabel_table),
        cmocka_unit_test(test_relabel_invalid),
        cmocka_unit_test(test_relabel_struct_defaults),
        cmocka_unit_test(test_md5_vectors),
    };
    return cmocka_run_group_tests_name("scrape_relabel", tests, NULL, NULL);
}
