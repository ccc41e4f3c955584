/* libFuzzer target for the API parameter parsers (src/web/params.c): the input is tried as a
 * timestamp, a duration, a series selector (with default and tiny arena caps) and a boolean,
 * and each parser's claims are checked. A broken claim aborts, so the fuzzer reports it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/web_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

/* An error must carry its code and a non-empty message. */
static void check_err(int rc, const odin_err *err)
{
    if (rc == 0) {
        check(err->code == 0);
        return;
    }
    check(rc < 0 && err->code == -rc && err->msg[0] != '\0');
}

static void selector(odin_str s, size_t cap_bytes)
{
    odin_arena a;
    odin_arena_init(&a, cap_bytes);
    odin_err err;
    odin_err_clear(&err);
    tsdb_matcher *ms = NULL;
    size_t n = 0;
    int rc = web_parse_selector(s, &a, &ms, &n, &err);
    if (rc == 0) {
        check(n > 0 && ms != NULL);
        bool nonempty = false;
        for (size_t i = 0; i < n; i++) {
            check(ms[i].name != NULL && ms[i].value != NULL);
            check(ms[i].type >= TSDB_MATCH_EQ && ms[i].type <= TSDB_MATCH_NRE);
            nonempty = nonempty || !tsdb_matcher_matches(&ms[i], ODIN_STR(""));
        }
        check(nonempty);
    } else {
        check(err.code != 0 && err.msg[0] != '\0');
    }
    odin_arena_fini(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: a read past the end is caught by AddressSanitizer. */
    char *buf = malloc(size ? size : 1);
    check(buf != NULL);
    memcpy(buf, data, size);
    odin_str s = {buf, size};

    odin_err err;
    odin_err_clear(&err);
    int64_t t = 0;
    int rc = web_parse_time(s, &t, &err);
    check_err(rc, &err);

    odin_err_clear(&err);
    int64_t ns = 0;
    rc = web_parse_duration(s, &ns, &err);
    check_err(rc, &err);

    selector(s, 0);
    selector(s, 4096);

    bool b;
    rc = web_parse_bool(s, &b);
    check(rc == 0 || rc == -ODIN_ERR_PARSE);

    odin_strbuf q;
    odin_strbuf_init(&q, 0);
    web_put_quoted(&q, s);
    check(q.len >= 2 && q.p[0] == '"' && q.p[q.len - 1] == '"');
    odin_strbuf_fini(&q);

    free(buf);
    return 0;
}
