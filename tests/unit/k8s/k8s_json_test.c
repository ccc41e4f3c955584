/* Tests for src/discovery/k8s_json.c: the grammar, escapes, limits and the one-block clone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "discovery/k8s_json.h"
#include "k8s_test.h"

typedef struct {
    const char *name;
    const char *in;
    int code;           /* 0 = parses */
    const char *path;   /* dotted path to check, or NULL */
    const char *want;   /* its string value */
} json_case;

void test_json_parse_cases(void **state)
{
    (void)state;
    static const json_case cases[] = {
        {"object", "{\"a\":{\"b\":\"c\"}}", 0, "a.b", "c"},
        {"whitespace", " \n{ \"a\" : \"x\" } \t", 0, "a", "x"},
        {"escapes", "{\"a\":\"q\\\"\\\\\\/\\n\\t\"}", 0, "a", "q\"\\/\n\t"},
        {"unicode", "{\"a\":\"\\u00e9\\u20ac\"}", 0, "a", "\xc3\xa9\xe2\x82\xac"},
        {"surrogate pair", "{\"a\":\"\\ud83d\\ude00\"}", 0, "a", "\xf0\x9f\x98\x80"},
        {"lone surrogate", "{\"a\":\"\\ud800x\"}", 0, "a", "\xef\xbf\xbdx"},
        {"duplicate key last wins", "{\"a\":\"1\",\"a\":\"2\"}", 0, "a", "2"},
        {"numbers", "[0,-1,1.5e3,2E-2]", 0, NULL, NULL},
        {"literals", "[true,false,null]", 0, NULL, NULL},
        {"empty containers", "{\"a\":[],\"b\":{}}", 0, NULL, NULL},
        {"unterminated string", "{\"a\":\"x", ODIN_ERR_PARSE, NULL, NULL},
        {"control char", "{\"a\":\"x\ny\"}", ODIN_ERR_PARSE, NULL, NULL},
        {"bad escape", "{\"a\":\"\\x\"}", ODIN_ERR_PARSE, NULL, NULL},
        {"short unicode", "{\"a\":\"\\u12\"}", ODIN_ERR_PARSE, NULL, NULL},
        {"trailing comma", "[1,]", ODIN_ERR_PARSE, NULL, NULL},
        {"trailing data", "{} {}", ODIN_ERR_PARSE, NULL, NULL},
        {"leading zero", "01", ODIN_ERR_PARSE, NULL, NULL},
        {"bare minus", "-", ODIN_ERR_PARSE, NULL, NULL},
        {"empty", "", ODIN_ERR_PARSE, NULL, NULL},
        {"missing colon", "{\"a\" 1}", ODIN_ERR_PARSE, NULL, NULL},
        {"bad literal", "tru", ODIN_ERR_PARSE, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const json_case *c = &cases[i];
        odin_arena a;
        odin_arena_init(&a, 0);
        odin_err err;
        odin_err_clear(&err);
        k8s_json *root;
        /* exact-size heap copy: a read past the end shows under ASan */
        size_t len = strlen(c->in);
        char *buf = malloc(len ? len : 1);
        memcpy(buf, c->in, len);
        int rc = k8s_json_parse(buf, len, &a, &root, &err);
        if (rc != -c->code) {
            fail_msg("%s: rc %d, want %d (%s)", c->name, rc, -c->code, err.msg);
        }
        if (c->code != 0 && strstr(err.msg, "offset ") == NULL) {
            fail_msg("%s: message without a place: %s", c->name, err.msg);
        }
        if (c->path != NULL) {
            odin_str got = k8s_json_str(k8s_json_path(root, c->path));
            if (!odin_str_eq_c(got, c->want)) {
                fail_msg("%s: got %.*s", c->name, (int)got.len, got.p);
            }
        }
        free(buf);
        odin_arena_fini(&a);
    }
}

void test_json_depth_limit(void **state)
{
    (void)state;
    char deep[2 * (K8S_JSON_MAX_DEPTH + 1)];
    for (int ok = 0; ok < 2; ok++) {
        size_t d = ok ? K8S_JSON_MAX_DEPTH : K8S_JSON_MAX_DEPTH + 1;
        for (size_t i = 0; i < d; i++) {
            deep[i] = '[';
            deep[d + i] = ']';
        }
        odin_arena a;
        odin_arena_init(&a, 0);
        odin_err err;
        odin_err_clear(&err);
        k8s_json *root;
        int rc = k8s_json_parse(deep, 2 * d, &a, &root, &err);
        assert_int_equal(rc, ok ? 0 : -ODIN_ERR_LIMIT);
        odin_arena_fini(&a);
    }
    /* a tiny arena cap turns a big document into ODIN_ERR_LIMIT, not a crash */
    odin_arena a;
    odin_arena_init(&a, 64);
    odin_err err;
    odin_err_clear(&err);
    k8s_json *root;
    const char *big = "{\"aaaaaaaaaaaaaaaa\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}";
    assert_int_equal(k8s_json_parse(big, strlen(big), &a, &root, &err), -ODIN_ERR_LIMIT);
    odin_arena_fini(&a);
}

void test_json_clone_skips(void **state)
{
    (void)state;
    const char *in = "{\"metadata\":{\"name\":\"p\",\"managedFields\":[{\"x\":1}],"
                     "\"labels\":{\"a\":\"b\"}},\"spec\":{\"n\":[1,2,{\"k\":true}]}}";
    odin_arena a;
    odin_arena_init(&a, 0);
    k8s_json *root;
    assert_int_equal(k8s_json_parse(in, strlen(in), &a, &root, NULL), 0);
    static const char *const skip[] = {"managedFields", NULL};
    k8s_json *c = k8s_json_clone(root, skip);
    odin_arena_fini(&a); /* the clone must not point into the arena */
    assert_true(odin_str_eq_c(k8s_json_str(k8s_json_path(c, "metadata.name")), "p"));
    assert_true(odin_str_eq_c(k8s_json_str(k8s_json_path(c, "metadata.labels.a")), "b"));
    assert_null(k8s_json_path(c, "metadata.managedFields"));
    const k8s_json *n = k8s_json_path(c, "spec.n");
    assert_int_equal(k8s_json_len(n, K8S_JSON_ARRAY), 3);
    int64_t v;
    assert_true(k8s_json_i64(&n->v[1], &v));
    assert_int_equal(v, 2);
    assert_true(k8s_json_bool(k8s_json_get(&n->v[2], "k"), NULL));
    free(c);
}
