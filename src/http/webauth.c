/* The web config on each request, as Prometheus' exporter toolkit applies it: the file is read
 * again and taken in when its bytes changed (a file that turns bad answers 500 until it is fixed),
 * then the rate limit (429), the configured headers on every answer, and basic auth against bcrypt
 * hashes (401 with WWW-Authenticate). bcrypt is slow on purpose, so verdicts are cached per (user,
 * hash, password) and one check runs at a time. */
#include "http/server_int.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The hash checked for an unknown user, so that a wrong name costs what a wrong password costs
 * and names cannot be told apart by timing. It is of a random password nobody knows. */
static const char dummy_hash[] = "$2b$10$rJQoSIxtMuSkGrruXfmhS.acmdODOLl1RPKsZXau6u4X9dDb5ecLW";

enum { AUTH_CACHE_SLOTS = 256, WEB_CONFIG_MAX_BYTES = 1 << 20 };

typedef struct {
    uint64_t key; /* odin_hash of user, hash and password; 0 = empty */
    bool ok;
} auth_verdict;

/* Owned by the server (server.c frees it). `path` and the rate settings are fixed after
 * http_web_new; `lock` guards the file state, `cur`, the cache and the token bucket; `bcrypt`
 * serialises the password checks and guards `cd`. */
struct http_web {
    char *path;
    int64_t rate_interval_ms;
    int rate_burst;

    pthread_mutex_t lock;
    char *text; /* the file as last read (NULL: unreadable) */
    size_t text_len;
    bool broken; /* the last read failed: answer 500 */
    http_web_settings cur;
    auth_verdict cache[AUTH_CACHE_SLOTS];
    double tokens;
    int64_t tokens_at_ns;

    pthread_mutex_t bcrypt;
    struct crypt_data *cd;
};

/* The file's bytes, as the toolkit reads them on every request: comparing them (not the file's
 * mtime, whose granularity is coarse) is what notices every change. */
static char *read_text(const char *path, size_t *len, odin_err *err)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    if (odin_read_file(path, &b, WEB_CONFIG_MAX_BYTES, err) < 0) {
        odin_strbuf_fini(&b);
        return NULL;
    }
    return odin_strbuf_take(&b, len);
}

http_web *http_web_new(const char *path, odin_err *err)
{
    size_t len = 0;
    char *text = read_text(path, &len, err);
    if (text == NULL) {
        return NULL;
    }
    http_web_settings s;
    if (http_web_settings_parse(text, len, path, true, &s, err) < 0) {
        free(text);
        return NULL;
    }
    http_web *w = odin_calloc(1, sizeof *w);
    w->path = odin_strdup(path);
    w->text = text;
    w->text_len = len;
    w->cur = s;
    w->rate_interval_ms = s.rate_interval_ms;
    w->rate_burst = s.rate_burst;
    w->tokens = s.rate_burst;
    w->tokens_at_ns = odin_mono_ns();
    w->cd = odin_calloc(1, sizeof *w->cd);
    pthread_mutex_init(&w->lock, NULL);
    pthread_mutex_init(&w->bcrypt, NULL);
    return w;
}

void http_web_free(http_web *w)
{
    if (w == NULL) {
        return;
    }
    http_web_settings_fini(&w->cur);
    pthread_mutex_destroy(&w->lock);
    pthread_mutex_destroy(&w->bcrypt);
    free(w->cd);
    free(w->text);
    free(w->path);
    free(w);
}

const http_web_settings *http_web_start_settings(const http_web *w)
{
    return &w->cur;
}

/* Reads the file and takes it in when its bytes changed since the last read. Lock held. */
static void refresh(http_web *w)
{
    odin_err err = {0};
    size_t len = 0;
    char *text = read_text(w->path, &len, &err);
    if (text == NULL) {
        if (!w->broken || w->text != NULL) {
            odin_log(ODIN_LOG_ERROR, "http", "Unable to read the web configuration", "err", err.msg,
                     NULL);
        }
        w->broken = true;
        free(w->text);
        w->text = NULL;
        return;
    }
    if (w->text != NULL && len == w->text_len && memcmp(text, w->text, len) == 0) {
        free(text);
        return;
    }
    free(w->text);
    w->text = text;
    w->text_len = len;
    http_web_settings s;
    if (http_web_settings_parse(text, len, w->path, true, &s, &err) < 0) {
        odin_log(ODIN_LOG_ERROR, "http", "Unable to parse the web configuration", "err", err.msg,
                 NULL);
        w->broken = true;
        return;
    }
    /* TLS material is read at start only: libmicrohttpd holds it for the daemon's life. */
    free(s.tls_cert);
    free(s.tls_key);
    free(s.tls_priorities);
    s.tls_cert = s.tls_key = s.tls_priorities = NULL;
    char *keep_cert = w->cur.tls_cert, *keep_key = w->cur.tls_key, *keep_pr = w->cur.tls_priorities;
    w->cur.tls_cert = w->cur.tls_key = w->cur.tls_priorities = NULL;
    http_web_settings_fini(&w->cur);
    w->cur = s;
    w->cur.tls_cert = keep_cert;
    w->cur.tls_key = keep_key;
    w->cur.tls_priorities = keep_pr;
    memset(w->cache, 0, sizeof w->cache);
    w->broken = false;
}

/* The token bucket of rate_limit (golang.org/x/time/rate's Limiter: burst tokens, one more each
 * interval). Lock held. */
static bool rate_allow(http_web *w)
{
    if (w->rate_interval_ms <= 0) {
        return true;
    }
    int64_t now = odin_mono_ns();
    double add = (double)(now - w->tokens_at_ns) / ((double)w->rate_interval_ms * 1e6);
    w->tokens_at_ns = now;
    w->tokens += add;
    if (w->tokens > w->rate_burst) {
        w->tokens = w->rate_burst;
    }
    if (w->tokens >= 1) {
        w->tokens -= 1;
        return true;
    }
    return false;
}

/* Splits "Basic base64(user:password)"; false when the header is absent or not basic auth. */
static bool basic_credentials(const char *h, char **user, char **pass)
{
    if (h == NULL || strncasecmp(h, "Basic ", 6) != 0) {
        return false;
    }
    size_t len = 0;
    char *raw = odin_base64_decode(odin_str_c(h + 6), &len);
    if (raw == NULL) {
        return false;
    }
    char *colon = memchr(raw, ':', len);
    if (colon == NULL || memchr(raw, '\0', len) != NULL) {
        free(raw); /* a NUL cannot be in a bcrypt password we could check */
        return false;
    }
    *colon = '\0';
    *user = raw;
    *pass = colon + 1;
    return true;
}

static bool const_time_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++) {
        d |= (unsigned char)(a[i] ^ b[i]);
    }
    return d == 0;
}

/* The credentials' verdict: cached, else one bcrypt check. */
static bool authorised(http_web *w, const char *user, const char *pass)
{
    pthread_mutex_lock(&w->lock);
    const char *hash = NULL;
    for (size_t i = 0; i < w->cur.nusers; i++) {
        if (strcmp(w->cur.users[i].name, user) == 0) {
            hash = w->cur.users[i].hash;
        }
    }
    bool known = hash != NULL;
    char setting[64]; /* a copy: a reload may free the hash while bcrypt runs unlocked */
    const char *h = known ? hash : dummy_hash;
    size_t hl = strnlen(h, sizeof setting - 1);
    memcpy(setting, h, hl);
    setting[hl] = '\0';
    odin_strbuf k;
    odin_strbuf_init(&k, 0);
    odin_strbuf_printf(&k, "%s%c%s%c%s", user, 0, setting, 0, pass);
    uint64_t key = odin_hash(k.p, k.len) | 1;
    odin_strbuf_fini(&k);
    auth_verdict *slot = &w->cache[key % AUTH_CACHE_SLOTS];
    if (slot->key == key) {
        bool ok = slot->ok;
        pthread_mutex_unlock(&w->lock);
        return ok;
    }
    pthread_mutex_unlock(&w->lock);

    pthread_mutex_lock(&w->bcrypt);
    const char *got = crypt_r(pass, setting, w->cd);
    bool ok = known && got != NULL && got[0] != '*' && const_time_eq(got, setting);
    pthread_mutex_unlock(&w->bcrypt);

    pthread_mutex_lock(&w->lock);
    slot->key = key; /* a reload in between cleared the cache: one stale verdict at most */
    slot->ok = ok;
    pthread_mutex_unlock(&w->lock);
    return ok;
}

bool http_web_admit(http_web *w, http_request *req, http_reply *reply)
{
    pthread_mutex_lock(&w->lock);
    refresh(w);
    if (w->broken) {
        pthread_mutex_unlock(&w->lock);
        http_reply_text(req, 500, "Internal Server Error\n", NULL, reply);
        return false;
    }
    bool allowed = rate_allow(w);
    /* The headers go on every answer from here on, a 401 or 429 included. */
    req->nextra = 0;
    for (size_t i = 0; i < HTTP_WEB_MAX_HEADERS; i++) {
        if (w->cur.header_values[i] != NULL) {
            req->extra_names[req->nextra] = http_web_header_name(i);
            req->extra_values[req->nextra] =
                odin_arena_strdup(&req->arena, w->cur.header_values[i]);
            req->nextra++;
        }
    }
    bool need_auth = w->cur.nusers > 0;
    pthread_mutex_unlock(&w->lock);
    if (!allowed) {
        http_reply_text(req, 429, "Too Many Requests\n", NULL, reply);
        return false;
    }
    if (!need_auth) {
        return true;
    }
    char *user = NULL, *pass = NULL;
    bool ok = basic_credentials(http_request_header(req, "Authorization"), &user, &pass) &&
              authorised(w, user, pass);
    free(user);
    if (ok) {
        return true;
    }
    req->extra_names[req->nextra] = "WWW-Authenticate";
    req->extra_values[req->nextra] = "Basic";
    req->nextra++;
    http_reply_text(req, 401, "Unauthorized\n", NULL, reply);
    return false;
}
