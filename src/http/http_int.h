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
/* The same, reusing the deflate state in *kept (made on first use, NULL before) for bodies up to
 * 128 KiB; larger ones get a state of their own. The output is a valid gzip member either way. */
typedef struct http_gzip_stream http_gzip_stream;
char *http_gzip_kept(http_gzip_stream **kept, const void *p, size_t len, size_t *out_len);
void http_gzip_stream_free(http_gzip_stream *st);

/* ---- Request heads (parse.c) ----------------------------------------------------------------- */

enum {
    /* Header fields one request may carry; more is answered 431. */
    HTTP_HEAD_MAX_FIELDS = 64,
};

/* One header field: both sides point into the parsed buffer; the value has no surrounding
 * blanks. */
typedef struct {
    odin_str name;
    odin_str value;
} http_head_field;

/* An HTTP/1.x request line and header fields, as (pointer, length) slices of the input. */
typedef struct {
    odin_str method;
    odin_str target;        /* origin-form: starts with '/', may carry "?query" */
    int minor;              /* HTTP/1.<minor>: 0 or 1 */
    http_head_field fields[HTTP_HEAD_MAX_FIELDS];
    size_t nfields;
    bool has_length;
    uint64_t content_length;
    bool keep_alive;        /* HTTP/1.1 without "Connection: close", or 1.0 with keep-alive */
} http_head;

/* Parses the head at the start of p[0..len): optional empty lines, the request line, header
 * fields, the empty line; lines end in LF or CRLF. Reads at most max_head bytes of p.
 * Returns the head's length (the body starts there) when complete; 0 when more bytes are needed
 * (len < max_head); or minus the HTTP status to answer before closing: 400 malformed, 431 head
 * longer than max_head or too many fields, 501 a Transfer-Encoding, 505 not HTTP/1.x. */
long http_head_parse(const char *p, size_t len, size_t max_head, http_head *h);

/* Decodes %XX escapes in place (not '+': that is a space only in query strings). Returns the new
 * length. */
size_t http_path_decode(char *p, size_t len);

#endif
