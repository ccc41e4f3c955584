/* Shared pieces of the scrape_loop unit tests: an in-process target (our HTTP server serving a
 * scripted body), hand-built scrape configs, tsdb read-back helpers and bounded waits. */
#ifndef ODIN_TESTS_SCRAPE_TEST_H
#define ODIN_TESTS_SCRAPE_TEST_H

#include <pthread.h>

#include "scrape/scrape.h"

/* A scripted target. The body, status and content type can be changed while it is scraped. */
typedef struct {
    http_server *srv;
    int port;
    pthread_mutex_t lock;
    char *body;
    const char *content_type;
    int status;
    int requests;
    char accept[512];
    char accept_encoding[64];
    char timeout_hdr[32];
    char authorization[128];
} test_target;

void test_target_start(test_target *t, const char *body);
void test_target_set(test_target *t, const char *body, int status, const char *content_type);
int test_target_requests(test_target *t);
void test_target_stop(test_target *t);

/* A one-job config scraping the given "host:port" addresses every 100ms. Free with
 * test_config_free. */
scrape_config *test_config_new(const char *job, const char *const *targets, size_t n);
void test_config_free(scrape_config *c);

/* Samples of series matching __name__=name and, when label is not NULL, label=value. */
typedef struct {
    size_t nseries;
    size_t nsamples;
    size_t nstale;
    double last; /* last non-stale value */
    int64_t last_t;
    bool last_is_stale; /* the newest sample is a stale marker */
    char labels[512];   /* the first series' labels as name="value",... */
} test_series;

void test_query(tsdb *db, const char *name, const char *label, const char *value, test_series *out);
tsdb *test_db_open(void);

/* Polls fn(arg) every 20ms for up to 15s. */
bool test_wait(bool (*fn)(void *), void *arg);

int scrape_loop_tests(void);
int scrape_fast_tests(void);
int scrape_target_tests(void);
int discovery_file_tests(void);

#endif
