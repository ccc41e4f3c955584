/* Query-string and form-body decoding (application/x-www-form-urlencoded), shared by both server
 * backends. Pure functions over caller memory and arenas. */
#include <string.h>

#include "http/http_int.h"

/* ---- Form decoding --------------------------------------------------------------------------- */

size_t http_url_decode(char *p, size_t len)
{
    size_t w = 0;
    for (size_t r = 0; r < len; r++) {
        char c = p[r];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && r + 2 < len) {
            int hi = odin_hex_digit(p[r + 1]);
            int lo = odin_hex_digit(p[r + 2]);
            if (hi >= 0 && lo >= 0) {
                c = (char)(hi * 16 + lo);
                r += 2;
            }
        }
        p[w++] = c;
    }
    return w;
}

int http_params_push(http_params *ps, odin_arena *a, const char *name, const char *value)
{
    if (ps->len == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        http_param *v = odin_arena_alloc(a, cap * sizeof *v);
        if (v == NULL) {
            return -ODIN_ERR_LIMIT;
        }
        if (ps->len > 0) {
            memcpy(v, ps->v, ps->len * sizeof *v);
        }
        ps->v = v;
        ps->cap = cap;
    }
    ps->v[ps->len++] = (http_param){name, value};
    return 0;
}

/* Copies s into the arena, decoded and NUL-terminated; NULL when the arena is full. */
static char *decode_dup(odin_arena *a, odin_str s)
{
    char *out = odin_arena_strndup(a, s.p, s.len);
    if (out == NULL) {
        return NULL;
    }
    out[http_url_decode(out, s.len)] = '\0';
    return out;
}

int http_form_parse(odin_str text, odin_arena *a, http_params *ps, odin_err *err)
{
    while (text.len > 0) {
        odin_str pair = odin_str_cut(&text, '&');
        if (pair.len == 0) {
            continue;
        }
        odin_str name = odin_str_cut(&pair, '=');
        char *n = decode_dup(a, name);
        char *v = n ? decode_dup(a, pair) : NULL;
        if (v == NULL || http_params_push(ps, a, n, v) < 0) {
            return odin_err_set(err, ODIN_ERR_LIMIT, "form body: request arena cap reached");
        }
    }
    return 0;
}
