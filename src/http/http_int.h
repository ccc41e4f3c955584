/* Private to src/http/: the pieces of the server that are worth testing on their own (form and
 * URL decoding, gzip, Accept-Encoding). Nothing here takes a lock; all of it is pure. */
#ifndef ODIN_HTTP_HTTP_INT_H
#define ODIN_HTTP_HTTP_INT_H

#include "base/base.h"

/* One name/value pair of a query string or form body. Both strings are NUL-terminated and live
 * in the request's arena (form values) or in libmicrohttpd's connection memory (query values);
 * either way they are valid until the request completes. */
typedef struct {
    const char *name;
    const char *value;
} http_param;

/* Growable array of pairs, backed by an arena: growing copies into a larger arena block. */
typedef struct {
    http_param *v;
    size_t len;
    size_t cap;
} http_params;

/* Appends one pair (the strings are borrowed). 0, or -ODIN_ERR_LIMIT when the arena is full. */
int http_params_push(http_params *ps, odin_arena *a, const char *name, const char *value);

/* Decodes application/x-www-form-urlencoded escapes in place: '+' becomes a space and %XX the
 * byte it names. A '%' not followed by two hex digits is kept as it is (libmicrohttpd treats the
 * query string the same way). Returns the new length; the result is not NUL-terminated. */
size_t http_url_decode(char *p, size_t len);

/* Splits an application/x-www-form-urlencoded text ("a=1&b=x+y&c") into pairs appended to ps,
 * decoded, copied into the arena. A name without '=' gets the value "". Empty pieces are skipped.
 * 0, or -ODIN_ERR_LIMIT with err set when the arena cap is reached. */
int http_form_parse(odin_str text, odin_arena *a, http_params *ps, odin_err *err);

/* Whether an Accept-Encoding header value allows gzip: a "gzip", "x-gzip" or "*" coding whose
 * q-value is not zero. NULL is false. */
bool http_accepts_gzip(const char *accept_encoding);

/* Compresses p[0..len) into one gzip member at level 1 (scrapes and query answers are sent far
 * more often than they are reused, so speed beats ratio). Returns a malloc'd buffer the caller
 * frees with free(), its length in *out_len; NULL when zlib fails or len is too large for one
 * deflate call. */
char *http_gzip(const void *p, size_t len, size_t *out_len);

#endif
