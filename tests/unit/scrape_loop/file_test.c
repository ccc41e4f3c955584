/* Target files for file discovery (src/discovery/file.c, json.c): JSON and YAML shapes, escapes,
 * __meta_filepath and source, and errors that name the file and position. Table-driven. */
#include <string.h>

#include <cmocka.h>

#include "discovery/provider.h"
#include "scrape_test.h"

typedef struct {
    const char *name;
    bool yaml;
    const char *text;
    int want_rc;
    size_t want_groups;
    const char *want_target0; /* first target of group 0 */
    const char *want_label;   /* "name=value" on group 0 */
    const char *want_err;
} file_case;

static const file_case cases[] = {
    {"json basic", false, "[{\"targets\":[\"a:1\",\"b:2\"],\"labels\":{\"env\":\"prod\"}}]", 0, 1,
     "a:1", "env=prod", NULL},
    {"json escapes", false, "[{\"targets\":[\"h\\u00e9:1\"],\"labels\":{\"k\":\"a\\\"b\\n\"}}]", 0,
     1, "h\xc3\xa9:1", "k=a\"b\n", NULL},
    {"json case-insensitive keys and unknown", false,
     "[{\"Targets\":[\"x:1\"],\"extra\":{\"deep\":[1,2,{\"z\":null}]},\"labels\":null}]", 0, 1,
     "x:1", NULL, NULL},
    {"json empty", false, " [ ] ", 0, 0, NULL, NULL, NULL},
    {"json trailing garbage", false, "[] x", -ODIN_ERR_PARSE, 0, NULL, NULL, "t.json:1:4"},
    {"json bad label", false, "[{\"targets\":[],\"labels\":{\"1x\":\"v\"}}]", -ODIN_ERR_PARSE, 0,
     NULL, NULL, "invalid label name"},
    {"json unterminated", false, "[{\"targets\":[\"a", -ODIN_ERR_PARSE, 0, NULL, NULL,
     "unterminated"},
    {"json too deep", false,
     "[{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
     "]]]}]",
     -ODIN_ERR_PARSE, 0, NULL, NULL, "too deep"},
    {"yaml basic", true, "- targets: ['a:1']\n  labels:\n    env: dev\n- targets: [b:2]\n", 0, 2,
     "a:1", "env=dev", NULL},
    {"yaml unknown field", true, "- targets: [a]\n  bogus: 1\n", -ODIN_ERR_PARSE, 0, NULL, NULL,
     "t.json:2:3"},
    {"yaml not a list", true, "targets: [a]\n", -ODIN_ERR_PARSE, 0, NULL, NULL,
     "list of target groups"},
    {"yaml syntax", true, "- targets: [a\n", -ODIN_ERR_PARSE, 0, NULL, NULL, "yaml:"},
};

static void test_file_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        const file_case *c = &cases[i];
        discovery_group *g = NULL;
        size_t n = 0;
        odin_err err;
        odin_err_clear(&err);
        int rc = discovery_file_parse(c->text, strlen(c->text), c->yaml, "t.json", &g, &n, &err);
        if (rc != c->want_rc) {
            fail_msg("%s: rc %d want %d (%s)", c->name, rc, c->want_rc, err.msg);
        }
        if (c->want_err != NULL && strstr(err.msg, c->want_err) == NULL) {
            fail_msg("%s: error '%s' lacks '%s'", c->name, err.msg, c->want_err);
        }
        if (rc == 0 && n != c->want_groups) {
            fail_msg("%s: %zu groups, want %zu", c->name, n, c->want_groups);
        }
        if (c->want_target0 != NULL && strcmp(g[0].targets[0], c->want_target0) != 0) {
            fail_msg("%s: target %s", c->name, g[0].targets[0]);
        }
        if (rc == 0 && n > 0) {
            bool fp = false, lab = c->want_label == NULL;
            for (size_t k = 0; k < g[0].nlabels; k++) {
                odin_label l = g[0].labels[k];
                fp = fp ||
                     (odin_str_eq_c(l.name, "__meta_filepath") && odin_str_eq_c(l.value, "t.json"));
                if (c->want_label != NULL) {
                    const char *eq = strchr(c->want_label, '=');
                    lab = lab || (odin_str_eq(l.name, (odin_str){c->want_label,
                                                                 (size_t)(eq - c->want_label)}) &&
                                  odin_str_eq_c(l.value, eq + 1));
                }
            }
            if (!fp || !lab || strcmp(g[0].source, "t.json:0") != 0) {
                fail_msg("%s: labels or source wrong", c->name);
            }
        }
        discovery_groups_free(g, n);
    }
}

int discovery_file_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_cases),
    };
    return cmocka_run_group_tests_name("discovery_file", tests, NULL, NULL);
}
