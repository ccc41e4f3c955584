/* Shared pieces of the http unit tests: a tiny HTTP/1.1 client over a plain socket (no curl), and
 * the test groups main.c runs. */
#ifndef ODIN_TESTS_HTTP_TEST_H
#define ODIN_TESTS_HTTP_TEST_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

/* One parsed response. Heap-owned; free with test_resp_free. */
typedef struct {
    int status;
    char *head;       /* status line and headers, NUL-terminated */
    char *body;       /* de-chunked when Transfer-Encoding: chunked; NUL-terminated */
    size_t body_len;
} test_resp;

/* Connects to 127.0.0.1:port (or ::1 when v6); -1 on failure with errno set. */
int test_connect(int port, bool v6);
/* Writes all of p; false on error. */
bool test_write_all(int fd, const void *p, size_t len);
/* Reads a response from fd until the peer closes, then parses it. false on a malformed answer. */
bool test_read_resp(int fd, test_resp *out);
/* Reads exactly one response whose length is given by Content-Length, leaving the connection
 * open (keep-alive). */
bool test_read_one(int fd, test_resp *out);
/* Sends a raw request on a fresh connection and reads the answer. */
bool test_roundtrip(int port, const char *req, size_t len, test_resp *out);
/* GET path with optional extra header lines ("Name: v\r\n..."), Connection: close. */
bool test_get(int port, const char *method, const char *path, const char *extra, test_resp *out);
/* POST with a body and content type. */
bool test_post(int port, const char *path, const char *content_type, const char *body, size_t len,
               test_resp *out);
/* A header's value copied into buf (case-insensitive name); NULL when absent. */
const char *test_header(const test_resp *r, const char *name, char *buf, size_t cap);
void test_resp_free(test_resp *r);
/* Inflates a gzip body; heap-owned result in *out (free with free()). */
bool test_gunzip(const char *p, size_t len, char **out, size_t *out_len);

int http_server_tests(void);
int http_gzip_tests(void);
int http_signals_tests(void);
int http_small_tests(void);

#endif
