/* Shared pieces of the web unit tests: a plain-socket HTTP client, a test server holding an
 * in-memory tsdb behind the API, and the test groups main.c runs. */
#ifndef ODIN_TESTS_WEB_TEST_H
#define ODIN_TESTS_WEB_TEST_H

#include <stdbool.h>

#include "base/base.h"

/* One response; heap-owned, free with wt_resp_free. */
typedef struct {
    int status;
    char *head; /* status line and headers */
    char *body; /* NUL-terminated, de-chunked */
} wt_resp;

/* Sends one request on a fresh connection (Connection: close) to 127.0.0.1:port; a non-NULL
 * form is sent as an application/x-www-form-urlencoded body. False on a transport failure. */
bool wt_request(int port, const char *method, const char *path, const char *form, wt_resp *out);
/* A header's value (case-insensitive name) copied into buf; NULL when absent. */
const char *wt_header(const wt_resp *r, const char *name, char *buf, size_t cap);
void wt_resp_free(wt_resp *r);

int web_json_tests(void);
int web_params_tests(void);
int web_api_tests(void);

#endif
