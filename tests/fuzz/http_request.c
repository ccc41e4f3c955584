/* libFuzzer target for the small server's request-head parser (src/http/parse.c) and the decoding
 * a request then goes through (path, query string): the input is parsed under two head caps, and
 * the parser's claims are checked. A broken claim aborts, so the fuzzer reports it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

static bool inside(odin_str s, const char *p, size_t len)
{
    return s.p >= p && s.len <= len && (size_t)(s.p - p) <= len - s.len;
}

static void parse(const char *p, size_t len, size_t max_head)
{
    http_head h;
    long rc = http_head_parse(p, len, max_head, &h);
    if (rc <= 0) {
        check(rc == 0 || rc == -400 || rc == -431 || rc == -501 || rc == -505);
        check(rc != 0 || len < max_head);
        return;
    }
    size_t head_len = (size_t)rc;
    check(head_len <= len && head_len <= max_head);
    check(inside(h.method, p, head_len) && h.method.len > 0);
    check(inside(h.target, p, head_len) && h.target.len > 0 && h.target.p[0] == '/');
    check(h.minor == 0 || h.minor == 1);
    check(h.nfields <= HTTP_HEAD_MAX_FIELDS);
    for (size_t i = 0; i < h.nfields; i++) {
        check(inside(h.fields[i].name, p, head_len) && h.fields[i].name.len > 0);
        check(inside(h.fields[i].value, p, head_len));
        check(memchr(h.fields[i].value.p, '\n', h.fields[i].value.len) == NULL);
    }
    check(!h.has_length || h.content_length < 1000000000000000ULL);
    /* A head is complete only with its last byte: one byte less asks for more. */
    http_head shorter;
    check(http_head_parse(p, head_len - 1, max_head, &shorter) == 0);

    /* What the server does next: decode the path, split the query into parameters. */
    odin_arena a;
    odin_arena_init(&a, 64 * 1024);
    char *path = odin_arena_strndup(&a, h.target.p, h.target.len);
    if (path != NULL) {
        check(http_path_decode(path, h.target.len) <= h.target.len);
    }
    const char *q = memchr(h.target.p, '?', h.target.len);
    if (q != NULL) {
        http_params ps = {0};
        odin_err err;
        odin_err_clear(&err);
        size_t qlen = h.target.len - (size_t)(q + 1 - h.target.p);
        int prc = http_form_parse((odin_str){q + 1, qlen}, &a, &ps, &err);
        check(prc == 0 || (prc == -ODIN_ERR_LIMIT && err.code == ODIN_ERR_LIMIT));
        for (size_t i = 0; i < ps.len; i++) {
            check(ps.v[i].name != NULL && ps.v[i].value != NULL);
        }
    }
    odin_arena_fini(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: a read past the end is caught by AddressSanitizer. */
    char *buf = malloc(size ? size : 1);
    check(buf != NULL);
    memcpy(buf, data, size);
    parse(buf, size, 16 * 1024);
    parse(buf, size, 64);
    free(buf);
    return 0;
}
