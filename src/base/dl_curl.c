/* libcurl, loaded on first use: defines the curl_* functions Odin calls and forwards them to
 * libcurl.so.4 opened with dlopen, so roles that never make an HTTP request (the agent) never map
 * libcurl and the TLS, LDAP, Kerberos and SSH libraries it pulls in. */
/* The type-checking macros of curl.h would rename the definitions below. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "base/dl.h"

#ifndef LIBCURL_SONAME /* overridable to test the path where the library is missing */
#define LIBCURL_SONAME "libcurl.so.4"
#endif

static struct {
    CURLcode (*global_init)(long);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    char *(*easy_escape)(CURL *, const char *, int);
    void (*free)(void *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_cleanup)(CURLM *);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_perform)(CURLM *, int *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int, int, int *);
    CURLMcode (*multi_wakeup)(CURLM *);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
} real;

static const odin_dl_sym syms[] = {
    {"curl_global_init", (void **)&real.global_init},
    {"curl_global_cleanup", (void **)&real.global_cleanup},
    {"curl_easy_init", (void **)&real.easy_init},
    {"curl_easy_cleanup", (void **)&real.easy_cleanup},
    {"curl_easy_setopt", (void **)&real.easy_setopt},
    {"curl_easy_perform", (void **)&real.easy_perform},
    {"curl_easy_getinfo", (void **)&real.easy_getinfo},
    {"curl_easy_strerror", (void **)&real.easy_strerror},
    {"curl_easy_escape", (void **)&real.easy_escape},
    {"curl_free", (void **)&real.free},
    {"curl_slist_append", (void **)&real.slist_append},
    {"curl_slist_free_all", (void **)&real.slist_free_all},
    {"curl_multi_init", (void **)&real.multi_init},
    {"curl_multi_cleanup", (void **)&real.multi_cleanup},
    {"curl_multi_add_handle", (void **)&real.multi_add_handle},
    {"curl_multi_remove_handle", (void **)&real.multi_remove_handle},
    {"curl_multi_perform", (void **)&real.multi_perform},
    {"curl_multi_info_read", (void **)&real.multi_info_read},
    {"curl_multi_poll", (void **)&real.multi_poll},
    {"curl_multi_wakeup", (void **)&real.multi_wakeup},
    {"curl_multi_setopt", (void **)&real.multi_setopt},
};

static odin_dl_lib lib =
    ODIN_DL_LIB(LIBCURL_SONAME, syms, "cannot load libcurl, HTTP requests will fail");

static bool have_curl(void)
{
    return odin_dl_ensure(&lib);
}

/* Stand-ins when libcurl is missing: every transfer ends with CURLE_FAILED_INIT, and the error
 * buffer and curl_easy_strerror carry lib.error, so callers report it as any transfer error
 * (a failed scrape, a failed query) instead of crashing. */
typedef struct nolib_easy {
    void *priv;
    char *errbuf;
    struct nolib_easy *next; /* pending completion in a nolib_multi */
} nolib_easy;

typedef struct nolib_multi {
    nolib_easy *pending; /* added handles whose failure is not yet read */
    CURLMsg msg;
} nolib_multi;

static void nolib_fail(nolib_easy *e)
{
    if (e->errbuf != NULL) {
        snprintf(e->errbuf, CURL_ERROR_SIZE, "%s", lib.error);
    }
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init_once(void)
{
    global_rc = real.global_init(CURL_GLOBAL_DEFAULT);
}

/* Once per process, with CURL_GLOBAL_DEFAULT (what every caller passes): scrape workers and
 * Kubernetes discovery call it from their own threads when they first need libcurl, and the
 * libcurl Odin builds against must not run it twice at once. */
CURLcode curl_global_init(long flags)
{
    (void)flags;
    if (!have_curl()) {
        return CURLE_FAILED_INIT;
    }
    pthread_once(&global_once, global_init_once);
    return global_rc;
}

void curl_global_cleanup(void)
{
    if (have_curl()) {
        real.global_cleanup();
    }
}

CURL *curl_easy_init(void)
{
    if (have_curl()) {
        return real.easy_init();
    }
    return calloc(1, sizeof(nolib_easy));
}

void curl_easy_cleanup(CURL *curl)
{
    if (have_curl()) {
        real.easy_cleanup(curl);
    } else {
        free(curl);
    }
}

static CURLcode nolib_setopt(nolib_easy *e, CURLoption option, void *p)
{
    if (option == CURLOPT_PRIVATE) {
        e->priv = p;
    } else if (option == CURLOPT_ERRORBUFFER) {
        e->errbuf = p;
    }
    return CURLE_OK;
}

/* The argument's type follows from the option's number, as in libcurl itself: longs below
 * CURLOPTTYPE_OBJECTPOINT, then data pointers, function pointers, curl_off_t, and blobs. */
CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
    va_list ap;
    va_start(ap, option);
    CURLcode rc;
    if (option < CURLOPTTYPE_OBJECTPOINT) {
        long v = va_arg(ap, long);
        rc = have_curl() ? real.easy_setopt(curl, option, v) : CURLE_OK;
    } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
        void *v = va_arg(ap, void *);
        rc = have_curl() ? real.easy_setopt(curl, option, v) : nolib_setopt(curl, option, v);
    } else if (option < CURLOPTTYPE_OFF_T) {
        void (*v)(void) = va_arg(ap, void (*)(void));
        rc = have_curl() ? real.easy_setopt(curl, option, v) : CURLE_OK;
    } else if (option < CURLOPTTYPE_BLOB) {
        curl_off_t v = va_arg(ap, curl_off_t);
        rc = have_curl() ? real.easy_setopt(curl, option, v) : CURLE_OK;
    } else {
        void *v = va_arg(ap, void *);
        rc = have_curl() ? real.easy_setopt(curl, option, v) : CURLE_OK;
    }
    va_end(ap);
    return rc;
}

CURLcode curl_easy_perform(CURL *curl)
{
    if (have_curl()) {
        return real.easy_perform(curl);
    }
    nolib_fail(curl);
    return CURLE_FAILED_INIT;
}

/* Every CURLINFO result is returned through a pointer. */
CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
    va_list ap;
    va_start(ap, info);
    void *p = va_arg(ap, void *);
    va_end(ap);
    if (have_curl()) {
        return real.easy_getinfo(curl, info, p);
    }
    if (info == CURLINFO_PRIVATE) {
        *(void **)p = ((nolib_easy *)curl)->priv;
        return CURLE_OK;
    }
    if ((info & CURLINFO_TYPEMASK) == CURLINFO_LONG) {
        *(long *)p = 0;
        return CURLE_OK;
    }
    return CURLE_FAILED_INIT;
}

const char *curl_easy_strerror(CURLcode code)
{
    return have_curl() ? real.easy_strerror(code) : lib.error;
}

char *curl_easy_escape(CURL *curl, const char *s, int length)
{
    return have_curl() ? real.easy_escape(curl, s, length) : NULL;
}

void curl_free(void *p)
{
    if (have_curl()) {
        real.free(p);
    } else {
        free(p);
    }
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
    if (have_curl()) {
        return real.slist_append(list, s);
    }
    struct curl_slist *n = calloc(1, sizeof *n);
    if (n == NULL) {
        return NULL;
    }
    n->data = odin_strdup(s);
    if (list == NULL) {
        return n;
    }
    struct curl_slist *last = list;
    while (last->next != NULL) {
        last = last->next;
    }
    last->next = n;
    return list;
}

void curl_slist_free_all(struct curl_slist *list)
{
    if (have_curl()) {
        real.slist_free_all(list);
        return;
    }
    while (list != NULL) {
        struct curl_slist *next = list->next;
        free(list->data);
        free(list);
        list = next;
    }
}

CURLM *curl_multi_init(void)
{
    if (have_curl()) {
        return real.multi_init();
    }
    return calloc(1, sizeof(nolib_multi));
}

CURLMcode curl_multi_cleanup(CURLM *multi)
{
    if (have_curl()) {
        return real.multi_cleanup(multi);
    }
    free(multi);
    return CURLM_OK;
}

CURLMcode curl_multi_add_handle(CURLM *multi, CURL *curl)
{
    if (have_curl()) {
        return real.multi_add_handle(multi, curl);
    }
    nolib_multi *m = multi;
    nolib_easy *e = curl;
    e->next = m->pending;
    m->pending = e;
    return CURLM_OK;
}

CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *curl)
{
    if (have_curl()) {
        return real.multi_remove_handle(multi, curl);
    }
    nolib_multi *m = multi;
    for (nolib_easy **pp = &m->pending; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == curl) {
            *pp = ((nolib_easy *)curl)->next;
            break;
        }
    }
    return CURLM_OK;
}

CURLMcode curl_multi_perform(CURLM *multi, int *running)
{
    if (have_curl()) {
        return real.multi_perform(multi, running);
    }
    *running = 0;
    return CURLM_OK;
}

CURLMsg *curl_multi_info_read(CURLM *multi, int *left)
{
    if (have_curl()) {
        return real.multi_info_read(multi, left);
    }
    nolib_multi *m = multi;
    nolib_easy *e = m->pending;
    *left = 0;
    if (e == NULL) {
        return NULL;
    }
    m->pending = e->next;
    nolib_fail(e);
    m->msg = (CURLMsg){.msg = CURLMSG_DONE, .easy_handle = e, .data.result = CURLE_FAILED_INIT};
    return &m->msg;
}

CURLMcode curl_multi_poll(CURLM *multi, struct curl_waitfd extra_fds[], unsigned int extra_nfds,
                          int timeout_ms, int *numfds)
{
    if (have_curl()) {
        return real.multi_poll(multi, extra_fds, extra_nfds, timeout_ms, numfds);
    }
    /* The stand-in multi handle has no transfers of its own: wait on the caller's descriptors
     * alone, as libcurl would, so their transfers go on; pending failures return at once. */
    int timeout = ((nolib_multi *)multi)->pending != NULL ? 0 : timeout_ms;
    int ready = 0;
    if (extra_nfds == 0) {
        if (timeout > 0) {
            struct timespec ts = {timeout / 1000, (long)(timeout % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    } else {
        struct pollfd stack[8];
        struct pollfd *p = extra_nfds <= 8 ? stack : calloc(extra_nfds, sizeof *p);
        if (p == NULL) {
            return CURLM_OUT_OF_MEMORY;
        }
        for (unsigned i = 0; i < extra_nfds; i++) {
            short ev = 0;
            ev |= (extra_fds[i].events & CURL_WAIT_POLLIN) ? POLLIN : 0;
            ev |= (extra_fds[i].events & CURL_WAIT_POLLPRI) ? POLLPRI : 0;
            ev |= (extra_fds[i].events & CURL_WAIT_POLLOUT) ? POLLOUT : 0;
            p[i] = (struct pollfd){.fd = extra_fds[i].fd, .events = ev};
        }
        ready = poll(p, extra_nfds, timeout);
        for (unsigned i = 0; i < extra_nfds; i++) {
            /* as libcurl: POLLIN, POLLPRI and POLLOUT only (the caller sees errors on its recv) */
            short rev = 0;
            rev |= (p[i].revents & POLLIN) ? CURL_WAIT_POLLIN : 0;
            rev |= (p[i].revents & POLLPRI) ? CURL_WAIT_POLLPRI : 0;
            rev |= (p[i].revents & POLLOUT) ? CURL_WAIT_POLLOUT : 0;
            extra_fds[i].revents = rev;
        }
        if (p != stack) {
            free(p);
        }
    }
    if (numfds != NULL) {
        *numfds = ready > 0 ? ready : 0;
    }
    return CURLM_OK;
}

CURLMcode curl_multi_wakeup(CURLM *multi)
{
    return have_curl() ? real.multi_wakeup(multi) : CURLM_OK;
}

/* As curl_easy_setopt: the option's number says whether a long, a pointer, a function pointer
 * or a curl_off_t follows. Without libcurl the stand-in multi handle has no options to keep. */
CURLMcode curl_multi_setopt(CURLM *multi, CURLMoption option, ...)
{
    va_list ap;
    va_start(ap, option);
    CURLMcode rc = CURLM_OK;
    if (option < CURLOPTTYPE_OBJECTPOINT) {
        long v = va_arg(ap, long);
        rc = have_curl() ? real.multi_setopt(multi, option, v) : CURLM_OK;
    } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
        void *v = va_arg(ap, void *);
        rc = have_curl() ? real.multi_setopt(multi, option, v) : CURLM_OK;
    } else if (option < CURLOPTTYPE_OFF_T) {
        void (*v)(void) = va_arg(ap, void (*)(void));
        rc = have_curl() ? real.multi_setopt(multi, option, v) : CURLM_OK;
    } else {
        curl_off_t v = va_arg(ap, curl_off_t);
        rc = have_curl() ? real.multi_setopt(multi, option, v) : CURLM_OK;
    }
    va_end(ap);
    return rc;
}
