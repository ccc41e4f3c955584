/* One list/watch loop against the Kubernetes API, on its own thread with a blocking libcurl easy
 * handle: list (paginated) and swap the result into the cache, then watch from the list's
 * resourceVersion with bookmarks, re-watch when the server ends the stream, relist on 410 Gone or
 * any failure, with bounded exponential backoff. Stop is noticed by curl's progress callback. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "discovery/kubernetes.h"

enum {
    LIST_PAGE_SIZE = 500,
    CONNECT_TIMEOUT_S = 10,
    LIST_TIMEOUT_S = 300,
    /* client-go picks 5-10 minutes so that watches of many clients do not expire together */
    WATCH_MIN_S = 300,
    WATCH_SLACK_S = 60,
    BACKOFF_MIN_MS = 1000,
    BACKOFF_MAX_MS = 30000,
    /* a stream that ends this quickly without events is treated like a failure's retry pace */
    SHORT_WATCH_MS = 1000,
    K8S_RELIST = 1, /* result: the resourceVersion is gone or events were lost; list again */
};

#define LIST_MAX_BYTES ((size_t)256 << 20)  /* one list page */
#define EVENT_MAX_BYTES ((size_t)16 << 20)  /* one watch event line */
#define ERROR_BODY_MAX_BYTES ((size_t)64 << 10)
#define SECRET_MAX_BYTES ((size_t)64 << 10)
#define ARENA_MAX_BYTES ((size_t)1 << 30)

/* One transfer's state, reused by the watch's thread for every request. */
typedef struct {
    k8s_watch *w;
    CURL *e;
    char errbuf[CURL_ERROR_SIZE];
    bool watch;         /* stream events instead of collecting a list body */
    long status;        /* HTTP status, known once the body starts */
    odin_strbuf body;   /* list body, or an error response's body */
    odin_strbuf line;   /* watch: the event line being received */
    odin_arena arena;   /* the parsed tree of one page or one event */
    bool relist;        /* a 410 or an undecodable event: list again */
    size_t events;
    odin_err err;       /* a failure found inside a callback */
} xfer;

static const char *ns_field(const k8s_watch *w)
{
    return w->ns != NULL ? w->ns : "";
}

/* ---- Requests ----------------------------------------------------------------------------------- */

static void query_escape(odin_strbuf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        if (plain) {
            odin_strbuf_putc(b, (char)*p);
        } else {
            odin_strbuf_printf(b, "%%%02X", (unsigned)*p);
        }
    }
}

static char *build_url(const k8s_watch *w, bool watch, const char *cont)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    char *path = k8s_resource_path(w->res, w->ns);
    odin_strbuf_puts(&b, w->p->client.base_url);
    odin_strbuf_puts(&b, path);
    free(path);
    if (watch) {
        odin_strbuf_puts(&b, "?watch=1&allowWatchBookmarks=true&resourceVersion=");
        query_escape(&b, w->rv != NULL ? w->rv : "");
        unsigned jitter = (unsigned)(odin_mono_ns() / 1000) % WATCH_MIN_S;
        odin_strbuf_printf(&b, "&timeoutSeconds=%u", (unsigned)WATCH_MIN_S + jitter);
    } else {
        odin_strbuf_printf(&b, "?limit=%d", LIST_PAGE_SIZE);
        if (cont != NULL) {
            odin_strbuf_puts(&b, "&continue=");
            query_escape(&b, cont);
        }
    }
    if (w->label_selector != NULL) {
        odin_strbuf_puts(&b, "&labelSelector=");
        query_escape(&b, w->label_selector);
    }
    if (w->field_selector != NULL) {
        odin_strbuf_puts(&b, "&fieldSelector=");
        query_escape(&b, w->field_selector);
    }
    return odin_strbuf_take(&b, NULL);
}

/* Reads a secret file (token, password), trimmed as Prometheus trims it; heap, wipe with
 * wipe_free. NULL with err when unreadable. */
static char *read_secret(const char *path, odin_err *err)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    if (odin_read_file(path, &b, SECRET_MAX_BYTES, err) < 0) {
        odin_strbuf_fini(&b);
        return NULL;
    }
    odin_str s = odin_str_trim((odin_str){b.p != NULL ? b.p : "", b.len});
    char *out = odin_strndup(s.p, s.len);
    if (b.p != NULL) {
        memset(b.p, 0, b.len);
    }
    odin_strbuf_fini(&b);
    return out;
}

static void wipe_free(char *s)
{
    if (s != NULL) {
        volatile char *v = s;
        while (*v != '\0') {
            *v++ = '\0';
        }
        free(s);
    }
}

/* Sets credentials for one request; files are read each time, so rotated tokens are used. */
static int apply_auth(xfer *x, struct curl_slist **hdrs)
{
    const k8s_client *cl = &x->w->p->client;
    if (cl->has_basic_auth) {
        char *user = cl->basic_username_file != NULL ? read_secret(cl->basic_username_file, &x->err)
                                                     : odin_strdup(cl->basic_username ? cl->basic_username : "");
        char *pw = cl->basic_password_file != NULL ? read_secret(cl->basic_password_file, &x->err)
                                                   : odin_strdup(cl->basic_password ? cl->basic_password : "");
        if (user != NULL && pw != NULL) {
            curl_easy_setopt(x->e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(x->e, CURLOPT_USERNAME, user);
            curl_easy_setopt(x->e, CURLOPT_PASSWORD, pw);
        }
        wipe_free(user);
        wipe_free(pw);
        if (x->err.code != 0) {
            return -x->err.code;
        }
    }
    if (cl->has_authorization) {
        char *cred = cl->auth_credentials_file != NULL ? read_secret(cl->auth_credentials_file, &x->err)
                                                       : odin_strdup(cl->auth_credentials ? cl->auth_credentials : "");
        if (cred == NULL) {
            return -x->err.code;
        }
        odin_strbuf h;
        odin_strbuf_init(&h, 0);
        odin_strbuf_printf(&h, "Authorization: %s %s", cl->auth_type ? cl->auth_type : "Bearer",
                           cred);
        *hdrs = curl_slist_append(*hdrs, h.p);
        memset(h.p, 0, h.len);
        odin_strbuf_fini(&h);
        wipe_free(cred);
    }
    return 0;
}

static void apply_tls(CURL *e, const k8s_client *cl)
{
    curl_easy_setopt(e, CURLOPT_CAINFO, cl->ca_file);
    curl_easy_setopt(e, CURLOPT_SSLCERT, cl->cert_file);
    curl_easy_setopt(e, CURLOPT_SSLKEY, cl->key_file);
    if (cl->ca_pem != NULL) {
        struct curl_blob blob = {cl->ca_pem, strlen(cl->ca_pem), CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (cl->cert_pem != NULL) {
        struct curl_blob blob = {cl->cert_pem, strlen(cl->cert_pem), CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
    }
    if (cl->key_pem != NULL) {
        struct curl_blob blob = {cl->key_pem, strlen(cl->key_pem), CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
    }
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, cl->insecure_skip_verify ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, cl->insecure_skip_verify ? 0L : 2L);
    long v = CURL_SSLVERSION_DEFAULT;
    if (cl->min_version != NULL && strcmp(cl->min_version, "TLS13") == 0) {
        v = CURL_SSLVERSION_TLSv1_3;
    } else if (cl->min_version != NULL && strcmp(cl->min_version, "TLS12") == 0) {
        v = CURL_SSLVERSION_TLSv1_2;
    }
    curl_easy_setopt(e, CURLOPT_SSLVERSION, v);
}

/* ---- Watch events ------------------------------------------------------------------------------- */

static void set_rv(k8s_watch *w, const k8s_json *obj)
{
    const k8s_json *rv = k8s_json_path(obj, "metadata.resourceVersion");
    if (k8s_json_is_str(rv) && rv->s.len > 0) {
        free(w->rv);
        w->rv = odin_strndup(rv->s.p, rv->s.len);
    }
}

/* Applies one event line; -1 aborts the stream (x->relist or x->err says why). */
static int handle_event(xfer *x, const char *line, size_t len)
{
    odin_str t = odin_str_trim((odin_str){line, len});
    if (t.len == 0) {
        return 0;
    }
    odin_arena_reset(&x->arena);
    k8s_json *ev;
    odin_err perr;
    odin_err_clear(&perr);
    if (k8s_json_parse(t.p, t.len, &x->arena, &ev, &perr) < 0) {
        odin_err_set(&x->err, perr.code, "watch event: %s", perr.msg);
        x->relist = true;
        return -1;
    }
    odin_str type = k8s_json_str(k8s_json_get(ev, "type"));
    const k8s_json *obj = k8s_json_get(ev, "object");
    if (odin_str_eq_c(type, "ERROR")) {
        int64_t code = 0;
        k8s_json_i64(k8s_json_get(obj, "code"), &code);
        odin_str msg = k8s_json_str(k8s_json_get(obj, "message"));
        if (code == 410) {
            x->relist = true;
        } else {
            int mlen = (int)(msg.len > 160 ? 160 : msg.len);
            odin_err_set(&x->err, ODIN_ERR_UNAVAILABLE, "watch error %lld: %.*s", (long long)code,
                         mlen, msg.p);
        }
        return -1;
    }
    if (obj == NULL || obj->type != K8S_JSON_OBJECT) {
        odin_err_set(&x->err, ODIN_ERR_PARSE, "watch event without an object");
        x->relist = true;
        return -1;
    }
    k8s_watch *w = x->w;
    k8s_provider *p = w->p;
    set_rv(w, obj);
    x->events++;
    if (odin_str_eq_c(type, "BOOKMARK")) {
        return 0;
    }
    bool del = odin_str_eq_c(type, "DELETED");
    bool put = odin_str_eq_c(type, "ADDED") || odin_str_eq_c(type, "MODIFIED");
    if (!del && !put) {
        return 0; /* unknown event types are ignored, as client-go's watcher does */
    }
    pthread_mutex_lock(&p->lock);
    bool changed = del ? k8s_cache_del(&p->cache, w->res, obj)
                       : k8s_cache_put(&p->cache, w->res, w->index, obj);
    if (changed) {
        p->dirty = true;
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static int watch_bytes(xfer *x, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl != NULL ? (size_t)(nl - p) : n;
        odin_strbuf_put(&x->line, p, take);
        if (!odin_strbuf_ok(&x->line)) {
            odin_err_set(&x->err, ODIN_ERR_LIMIT, "watch event larger than %zu bytes",
                         EVENT_MAX_BYTES);
            x->relist = true;
            return -1;
        }
        if (nl == NULL) {
            return 0;
        }
        int rc = handle_event(x, x->line.p != NULL ? x->line.p : "", x->line.len);
        odin_strbuf_reset(&x->line);
        if (rc < 0) {
            return -1;
        }
        p += take + 1;
        n -= take + 1;
    }
    return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (x->status == 0) {
        curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &x->status);
    }
    bool ok = x->status >= 200 && x->status < 300;
    if (x->watch && ok) {
        return watch_bytes(x, ptr, n) < 0 ? 0 : n;
    }
    odin_strbuf_put(&x->body, ptr, n);
    if (!odin_strbuf_ok(&x->body)) {
        if (!ok) {
            x->body.overflow = false; /* an error body is only read for its message */
            return n;
        }
        odin_err_set(&x->err, ODIN_ERR_LIMIT, "list response larger than %zu bytes",
                     LIST_MAX_BYTES);
        return 0;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    const xfer *x = ud;
    return atomic_load(&x->w->p->stopping) ? 1 : 0;
}

/* The API's Status message of an error response, when it has one. */
static void status_message(xfer *x, const char *what)
{
    odin_arena_reset(&x->arena);
    k8s_json *st = NULL;
    odin_str msg = {"", 0};
    if (x->body.len > 0 && k8s_json_parse(x->body.p, x->body.len, &x->arena, &st, NULL) == 0) {
        msg = k8s_json_str(k8s_json_get(st, "message"));
    }
    odin_err_set(&x->err, ODIN_ERR_UNAVAILABLE, "%s: server returned HTTP status %ld%s%.*s", what,
                 x->status, msg.len > 0 ? ": " : "", (int)(msg.len > 160 ? 160 : msg.len), msg.p);
}

/* Runs one GET. Returns 0 on a 2xx that ran to its end, K8S_RELIST on 410 (or a lost event), or
 * a negative code with x->err set (-ODIN_ERR_CANCELED when stopping). */
static int perform(xfer *x, const char *url, bool watch, const char *what)
{
    k8s_provider *p = x->w->p;
    CURL *e = x->e;
    x->watch = watch;
    x->status = 0;
    x->relist = false;
    x->errbuf[0] = '\0';
    odin_err_clear(&x->err);
    odin_strbuf_reset(&x->body);
    odin_strbuf_reset(&x->line);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, watch ? (long)(2 * WATCH_MIN_S + WATCH_SLACK_S)
                                               : (long)LIST_TIMEOUT_S);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, p->client.follow_redirects ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, p->client.proxy_url);
    apply_tls(e, &p->client);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/json");
    int rc = apply_auth(x, &hdrs);
    if (rc < 0) {
        curl_slist_free_all(hdrs);
        return rc;
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    CURLcode cc = curl_easy_perform(e);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(e, CURLOPT_USERNAME, NULL);
    curl_easy_setopt(e, CURLOPT_PASSWORD, NULL);
    curl_slist_free_all(hdrs);
    if (x->status == 0) {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &x->status);
    }
    if (atomic_load(&p->stopping)) {
        return odin_err_set(&x->err, ODIN_ERR_CANCELED, "stopped");
    }
    if (x->relist) {
        return K8S_RELIST;
    }
    if (x->err.code != 0) {
        return -x->err.code;
    }
    if (cc != CURLE_OK) {
        return odin_err_set(&x->err, ODIN_ERR_UNAVAILABLE, "%s: %s", what,
                            x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(cc));
    }
    if (x->status == 410) {
        return K8S_RELIST;
    }
    if (x->status < 200 || x->status >= 300) {
        status_message(x, what);
        return -x->err.code;
    }
    return 0;
}

/* ---- List and watch ----------------------------------------------------------------------------- */

/* Lists every page into a fresh cache and swaps it in whole, so a relist never shows a half. */
static int do_list(xfer *x)
{
    k8s_watch *w = x->w;
    k8s_provider *p = w->p;
    k8s_cache fresh;
    k8s_cache_init(&fresh);
    char *cont = NULL;
    char *rv = NULL;
    int rc;
    for (;;) {
        char *url = build_url(w, false, cont);
        rc = perform(x, url, false, "list");
        free(url);
        if (rc != 0) {
            break;
        }
        odin_arena_reset(&x->arena);
        k8s_json *root;
        odin_err perr;
        odin_err_clear(&perr);
        if (k8s_json_parse(x->body.p, x->body.len, &x->arena, &root, &perr) < 0) {
            rc = odin_err_set(&x->err, perr.code, "list response: %s", perr.msg);
            break;
        }
        const k8s_json *items = k8s_json_get(root, "items");
        for (size_t i = 0; i < k8s_json_len(items, K8S_JSON_ARRAY); i++) {
            k8s_cache_put(&fresh, w->res, w->index, &items->v[i]);
        }
        free(rv);
        odin_str v = k8s_json_str(k8s_json_path(root, "metadata.resourceVersion"));
        rv = odin_strndup(v.p, v.len);
        odin_str c = k8s_json_str(k8s_json_path(root, "metadata.continue"));
        free(cont);
        cont = c.len > 0 ? odin_strndup(c.p, c.len) : NULL;
        if (cont == NULL) {
            break;
        }
    }
    if (rc == 0) {
        free(w->rv);
        w->rv = rv;
        rv = NULL;
        pthread_mutex_lock(&p->lock);
        k8s_cache_replace_owner(&p->cache, w->res, w->index, &fresh);
        w->synced = true;
        p->dirty = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
    }
    free(rv);
    free(cont);
    k8s_cache_fini(&fresh);
    return rc;
}

static void note_failure(k8s_watch *w, const char *phase, const char *msg)
{
    if (!w->failing || strcmp(w->last_err, msg) != 0) {
        odin_log(ODIN_LOG_WARN, "discovery", "Kubernetes API request failed; retrying with backoff",
                 "resource", k8s_resource_name(w->res), "namespace", ns_field(w), "phase", phase,
                 "err", msg, NULL);
        size_t n = strlen(msg);
        n = n < sizeof w->last_err - 1 ? n : sizeof w->last_err - 1;
        memcpy(w->last_err, msg, n);
        w->last_err[n] = '\0';
    }
    w->failing = true;
    w->backoff_ms = w->backoff_ms == 0 ? BACKOFF_MIN_MS : w->backoff_ms * 2;
    if (w->backoff_ms > BACKOFF_MAX_MS) {
        w->backoff_ms = BACKOFF_MAX_MS;
    }
}

static void note_success(k8s_watch *w)
{
    if (w->failing) {
        odin_log(ODIN_LOG_INFO, "discovery", "Kubernetes API requests succeed again", "resource",
                 k8s_resource_name(w->res), "namespace", ns_field(w), NULL);
    }
    w->failing = false;
    w->backoff_ms = 0;
}

void *k8s_watch_main(void *arg)
{
    k8s_watch *w = arg;
    k8s_provider *p = w->p;
    xfer x = {.w = w};
    odin_strbuf_init(&x.body, LIST_MAX_BYTES);
    odin_strbuf_init(&x.line, EVENT_MAX_BYTES);
    odin_arena_init(&x.arena, ARENA_MAX_BYTES);
    x.e = curl_easy_init();
    if (x.e == NULL) {
        odin_oom();
    }
    curl_easy_setopt(x.e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x.e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x.e, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(x.e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(x.e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(x.e, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(x.e, CURLOPT_ERRORBUFFER, x.errbuf);
    curl_easy_setopt(x.e, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
    curl_easy_setopt(x.e, CURLOPT_USERAGENT, "Odin/" ODIN_VERSION);
    bool need_list = true;
    while (!atomic_load(&p->stopping)) {
        int64_t start = odin_mono_ns();
        const char *phase = need_list ? "list" : "watch";
        int rc;
        if (need_list) {
            rc = do_list(&x);
        } else {
            char *url = build_url(w, true, NULL);
            x.events = 0;
            rc = perform(&x, url, true, "watch");
            free(url);
        }
        if (rc == -ODIN_ERR_CANCELED) {
            break;
        }
        if (rc == K8S_RELIST) {
            /* 410 Gone: the resourceVersion expired; relist at once (unless it repeats) */
            if (need_list) {
                note_failure(w, phase, "list answered 410 Gone");
                k8s_provider_sleep(p, w->backoff_ms);
            }
            need_list = true;
            continue;
        }
        if (rc < 0) {
            note_failure(w, phase, x.err.msg);
            need_list = true; /* events may have been missed: start over from a list */
            k8s_provider_sleep(p, w->backoff_ms);
            continue;
        }
        note_success(w);
        bool short_idle = !need_list && x.events == 0 &&
                          (odin_mono_ns() - start) / 1000000 < SHORT_WATCH_MS;
        need_list = false;
        if (short_idle) {
            k8s_provider_sleep(p, SHORT_WATCH_MS);
        }
    }
    curl_easy_cleanup(x.e);
    odin_strbuf_fini(&x.body);
    odin_strbuf_fini(&x.line);
    odin_arena_fini(&x.arena);
    return NULL;
}
