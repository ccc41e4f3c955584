/* libFuzzer target for the CLI's JSON reader and time parsing (src/cli/json.c), which read the
 * API's answers and the times given to `odin query`. The input is parsed as a JSON document; what
 * parses is written back (strings through cli_put_json_string, numbers as written) and must parse
 * again to the same tree, each string the same bytes when it was valid UTF-8 (Go's encoding/json
 * writes U+FFFD for the rest). The input's first line is also read as a time, and a time that
 * reads is printed as promtool prints it and must read back to the same millisecond. A broken
 * claim aborts, so the fuzzer reports it. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(ok) fuzz_check_at((ok), "cli_json", __LINE__)

static void write_value(odin_strbuf *b, const cli_json *v)
{
    switch (v->type) {
    case CLI_JSON_NULL:
        odin_strbuf_puts(b, "null");
        break;
    case CLI_JSON_BOOL:
        odin_strbuf_puts(b, v->b ? "true" : "false");
        break;
    case CLI_JSON_NUM:
        odin_strbuf_put(b, v->str.p, v->str.len);
        break;
    case CLI_JSON_STR:
        cli_put_json_string(b, v->str);
        break;
    case CLI_JSON_ARR:
    case CLI_JSON_OBJ: {
        bool obj = v->type == CLI_JSON_OBJ;
        odin_strbuf_putc(b, obj ? '{' : '[');
        size_t n = 0;
        for (const cli_json *c = v->child; c != NULL; c = c->next, n++) {
            if (n > 0) {
                odin_strbuf_putc(b, ',');
            }
            if (obj) {
                cli_put_json_string(b, c->key);
                odin_strbuf_putc(b, ':');
            }
            write_value(b, c);
        }
        check(n == v->n);
        odin_strbuf_putc(b, obj ? '}' : ']');
        break;
    }
    default:
        check(false);
    }
}

static void same_string(odin_str a, odin_str b)
{
    if (odin_utf8_valid(a.p, a.len)) {
        check(a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0));
    }
}

static void same_tree(const cli_json *a, const cli_json *b, bool in_obj)
{
    check(a->type == b->type && a->n == b->n);
    if (in_obj) {
        same_string(a->key, b->key);
    }
    if (a->type == CLI_JSON_BOOL) {
        check(a->b == b->b);
    } else if (a->type == CLI_JSON_NUM) {
        check(odin_str_eq(a->str, b->str));
    } else if (a->type == CLI_JSON_STR) {
        same_string(a->str, b->str);
    }
    const cli_json *x = a->child, *y = b->child;
    for (; x != NULL && y != NULL; x = x->next, y = y->next) {
        same_tree(x, y, a->type == CLI_JSON_OBJ);
    }
    check(x == NULL && y == NULL);
}

static void check_time(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    odin_str s = {(const char *)data, nl ? (size_t)(nl - data) : size};
    int64_t t;
    if (cli_parse_time(s, &t) < 0 || t > 1000000000000000LL || t < -1000000000000000LL) {
        return; /* past 10^15 ms a double's 17 digits no longer hold seconds and 3 decimals */
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    cli_put_time(&b, t);
    int64_t back;
    check(cli_parse_time((odin_str){b.p, b.len}, &back) == 0 && back == t);
    odin_strbuf_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    odin_arena a;
    odin_arena_init(&a, 0);
    odin_err err;
    odin_err_clear(&err);
    cli_json *v = cli_json_parse(&a, (const char *)data, size, &err);
    if (v == NULL) {
        check(err.code == ODIN_ERR_PARSE && strstr(err.msg, "invalid JSON at byte ") == err.msg);
    } else {
        check(err.code == 0);
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        write_value(&b, v);
        odin_err err2;
        odin_err_clear(&err2);
        cli_json *v2 = cli_json_parse(&a, b.p, b.len, &err2);
        if (v2 == NULL) {
            fprintf(stderr, "cli_json: rewritten document does not parse: %s\n", err2.msg);
        }
        check(v2 != NULL);
        same_tree(v, v2, false);
        odin_strbuf_fini(&b);
    }
    check_time(data, size);
    odin_arena_fini(&a);
    return 0;
}
