/* libFuzzer target for the PromQL parser (src/promql/parser.c and friends): parses the input
 * with default and experimental options; a parsed query is printed, and the printed text must
 * parse again and print the same (Prometheus' String() round-trips). Errors must carry the
 * "LINE:COL: parse error: " place. A broken claim aborts, so the fuzzer reports it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "promql/ast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

static bool message_has_place(const char *msg)
{
    if (strncmp(msg, "unknown position: ", 18) == 0) {
        return true;
    }
    size_t i = 0;
    for (int part = 0; part < 2; part++) {
        if (msg[i] < '1' || msg[i] > '9') {
            return false;
        }
        while (msg[i] >= '0' && msg[i] <= '9') {
            i++;
        }
        if (msg[i++] != ':') {
            return false;
        }
    }
    return msg[i] == ' ';
}

static void run(const char *buf, size_t len, const promql_parse_opts *opts)
{
    odin_err err;
    odin_err_clear(&err);
    promql_expr *e = promql_parse_ex(buf, len, opts, &err);
    if (!e) {
        check(err.code == ODIN_ERR_PARSE || err.code == ODIN_ERR_LIMIT);
        check(message_has_place(err.msg));
        return;
    }
    check(promql_expr_type(e) != PROMQL_TYPE_NONE);
    odin_strbuf a;
    odin_strbuf_init(&a, 0);
    promql_expr_format(&a, e);
    promql_expr_free(e);
    /* matches Prometheus: U+FFFD is printed as itself but its lexer rejects it in strings */
    if (a.p && memmem(a.p, a.len, "\xef\xbf\xbd", 3)) {
        odin_strbuf_fini(&a);
        return;
    }
    odin_err_clear(&err);
    promql_expr *e2 = promql_parse_ex(a.p ? a.p : "", a.len, opts, &err);
    check(e2 != NULL);
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    promql_expr_format(&b, e2);
    check(a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
    odin_strbuf_fini(&b);
    odin_strbuf_fini(&a);
    promql_expr_free(e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const promql_parse_opts modes[] = {{.experimental_functions = false},
                                              {.experimental_functions = true}};
    /* An exact-size copy: a read past the end is caught by AddressSanitizer. */
    char *buf = malloc(size ? size : 1);
    check(buf != NULL);
    memcpy(buf, data, size);
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        run(buf, size, &modes[i]);
    }
    free(buf);
    return 0;
}
