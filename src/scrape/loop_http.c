/* The HTTP side of a scrape: one reused libcurl easy handle per loop (keeping its connection),
 * Prometheus' request headers and client settings, the body size cap, and error messages worded
 * as Prometheus words them ("Get \"URL\": ..."). Runs on the loop's worker thread only. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scrape/loop_int.h"

/* Prometheus 2.42's scrapeAcceptHeader (the project's baseline release), used when the job names
 * no scrape_protocols. */
static const char accept_header[] =
    "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const char scrape_err_body_limit[] = "body size limit exceeded";
const char scrape_user_agent[] = "Prometheus/2.42.0 odin/" ODIN_VERSION;
/* Secrets files are small; anything larger is a misconfiguration. */
enum { SECRET_FILE_MAX_BYTES = 64 * 1024 };
/* libcurl's receive buffer (16 KiB by default). A 2000-series body is ~140 KiB and loopback
 * hands over up to 64 KiB at once: the default took ~9 reads, write callbacks and trips through
 * curl's transfer loop per scrape, 64 KiB takes ~3 and cut curl's CPU per transfer by about a
 * third. Larger measured no better. */
enum { RECV_BUFFER_BYTES = 64 * 1024 };

/* Prometheus 3's acceptHeader(): the job's scrape_protocols in order with falling q-values,
 * escaping on the 1.0.0 text formats, then any type. The protobuf format is left out: Odin does
 * not parse it, so asking for it would only make a target send what we cannot read. */
const char *scrape_http_accept(const scrape_job *job, odin_arena *a)
{
    static const struct {
        const char *name, *mime;
        bool escaping;
    } protos[] = {
        {"OpenMetricsText1.0.0", "application/openmetrics-text;version=1.0.0", true},
        {"OpenMetricsText0.0.1", "application/openmetrics-text;version=0.0.1", false},
        {"PrometheusText1.0.0", "text/plain;version=1.0.0", true},
        {"PrometheusText0.0.4", "text/plain;version=0.0.4", false},
    };
    if (job->nscrape_protocols == 0) {
        return accept_header;
    }
    const char *esc = job->metric_name_escaping_scheme;
    if (esc == NULL) {
        bool legacy = job->metric_name_validation_scheme != NULL &&
                      strcmp(job->metric_name_validation_scheme, "legacy") == 0;
        esc = legacy ? "underscores" : "allow-utf-8";
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 4096);
    odin_strbuf_puts(&b, "Accept: ");
    int weight = 6; /* len(ScrapeProtocolsHeaders) + 1 in Prometheus 3 */
    for (size_t i = 0; i < job->nscrape_protocols; i++) {
        for (size_t k = 0; k < ODIN_ARRAY_LEN(protos); k++) {
            if (strcmp(job->scrape_protocols[i], protos[k].name) != 0) {
                continue;
            }
            odin_strbuf_puts(&b, protos[k].mime);
            if (protos[k].escaping) {
                odin_strbuf_printf(&b, ";escaping=%s", esc);
            }
            odin_strbuf_printf(&b, ";q=0.%d,", weight);
        }
        weight--;
    }
    odin_strbuf_printf(&b, "*/*;q=0.%d", weight > 0 ? weight : 1);
    const char *out = odin_arena_strndup(a, b.p, b.len);
    odin_strbuf_fini(&b);
    return out;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    scrape_loop *l = ud;
    size_t n = size * nmemb;
    if (l->body_limit > 0 && l->body.len + n > l->body_limit) {
        l->body_over = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    scrape_worker_take_buffer(l->worker, &l->body); /* on the first bytes only */
    odin_strbuf_put(&l->body, p, n);
    return odin_strbuf_ok(&l->body) ? n : 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    scrape_loop *l = ud;
    size_t n = size * nmemb;
    odin_str line = {p, n};
    if (n > 13 && strncasecmp(p, "content-type:", 13) == 0) {
        odin_str v = odin_str_trim((odin_str){p + 13, n - 13});
        l->content_type = odin_arena_strndup(&l->arena, v.p, v.len);
    } else if (odin_str_has_prefix(line, "HTTP/")) {
        l->content_type = NULL; /* a redirect's headers do not count */
    }
    return n;
}

/* Reads a secret file at scrape time, trimmed as Prometheus trims it. */
static char *read_secret(const char *path, odin_arena *a, const char **msg)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0); /* odin_read_file enforces the cap */
    odin_err err;
    odin_err_clear(&err);
    if (odin_read_file(path, &b, SECRET_FILE_MAX_BYTES, &err) < 0) {
        *msg = odin_arena_printf(a, "unable to read secret file %s: %s", path, err.msg);
        odin_strbuf_fini(&b);
        return NULL;
    }
    odin_str s = odin_str_trim((odin_str){b.p != NULL ? b.p : "", b.len});
    char *out = odin_arena_strndup(a, s.p, s.len);
    odin_strbuf_fini(&b);
    return out;
}

static void apply_tls(CURL *e, const http_tls_config *t)
{
    curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
    curl_easy_setopt(e, CURLOPT_SSLCERT, t->cert_file);
    curl_easy_setopt(e, CURLOPT_SSLKEY, t->key_file);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, t->insecure_skip_verify ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, t->insecure_skip_verify ? 0L : 2L);
    long v = CURL_SSLVERSION_DEFAULT;
    if (t->min_version != NULL && strcmp(t->min_version, "TLS13") == 0) {
        v = CURL_SSLVERSION_TLSv1_3;
    } else if (t->min_version != NULL && strcmp(t->min_version, "TLS12") == 0) {
        v = CURL_SSLVERSION_TLSv1_2;
    } else if (t->min_version != NULL && strcmp(t->min_version, "TLS11") == 0) {
        v = CURL_SSLVERSION_TLSv1_1;
    }
    if (t->max_version != NULL && strcmp(t->max_version, "TLS12") == 0) {
        v |= CURL_SSLVERSION_MAX_TLSv1_2;
    } else if (t->max_version != NULL && strcmp(t->max_version, "TLS13") == 0) {
        v |= CURL_SSLVERSION_MAX_TLSv1_3;
    }
    curl_easy_setopt(e, CURLOPT_SSLVERSION, v);
    /* Inline PEM (tls_config ca/cert/key); curl copies blobs with CURL_BLOB_COPY. */
    const char *pem[3] = {t->ca, t->cert, t->key};
    const CURLoption opt[3] = {CURLOPT_CAINFO_BLOB, CURLOPT_SSLCERT_BLOB, CURLOPT_SSLKEY_BLOB};
    for (size_t i = 0; i < 3; i++) {
        if (pem[i] != NULL) {
            struct curl_blob b = {(void *)pem[i], strlen(pem[i]), CURL_BLOB_COPY};
            curl_easy_setopt(e, opt[i], &b);
        }
    }
    if (t->cert != NULL) {
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    }
}

/* Auth is applied per scrape because password_file and credentials_file are read each time, so
 * a rotated token is used without a reload (as Prometheus does). */
static int apply_auth(scrape_loop *l, const http_client_config *h, struct curl_slist **hdrs,
                      const char **msg)
{
    CURL *e = l->easy;
    if (h->has_basic_auth) {
        const char *pw = h->basic_password != NULL ? h->basic_password : "";
        if (h->basic_password_file != NULL) {
            pw = read_secret(h->basic_password_file, &l->arena, msg);
            if (pw == NULL) {
                return -1;
            }
        }
        const char *user = h->basic_username != NULL ? h->basic_username : "";
        if (h->basic_username_file != NULL) {
            user = read_secret(h->basic_username_file, &l->arena, msg);
            if (user == NULL) {
                return -1;
            }
        }
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, pw);
    }
    if (h->has_authorization) {
        const char *cred = h->auth_credentials != NULL ? h->auth_credentials : "";
        if (h->auth_credentials_file != NULL) {
            cred = read_secret(h->auth_credentials_file, &l->arena, msg);
            if (cred == NULL) {
                return -1;
            }
        }
        const char *type = h->auth_type != NULL ? h->auth_type : "Bearer";
        *hdrs = curl_slist_append(*hdrs,
                                  odin_arena_printf(&l->arena, "Authorization: %s %s", type, cred));
    }
    return 0;
}

void scrape_http_begin(scrape_loop *l, const scrape_job *job)
{
    l->errbuf[0] = '\0';
    l->content_type = NULL;
    l->body_over = false;
    odin_strbuf_reset(&l->body);
    l->body_limit = (size_t)job->body_size_limit;
}

int scrape_http_prepare(scrape_loop *l, const scrape_job *job, uint64_t config_gen,
                        const char **msg)
{
    if (l->easy == NULL) {
        l->easy = curl_easy_init();
        if (l->easy == NULL) {
            odin_oom();
        }
        CURL *e = l->easy;
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, l);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, l);
        curl_easy_setopt(e, CURLOPT_PRIVATE, l);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, l->errbuf);
        curl_easy_setopt(e, CURLOPT_URL, l->url);
        curl_easy_setopt(e, CURLOPT_USERAGENT, scrape_user_agent);
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)RECV_BUFFER_BYTES);
    }
    CURL *e = l->easy;
    const http_client_config *h = &job->http;
    /* The options below follow from the job alone, unless a secret is read from a file (a
     * rotated one must be picked up at the next scrape): set once per configuration, not per
     * scrape, as each string option and header costs libcurl a copy. */
    bool reads_files = h->basic_password_file != NULL || h->basic_username_file != NULL ||
                       h->auth_credentials_file != NULL;
    if (config_gen != 0 && l->prepared_gen == config_gen && !reads_files) {
        return 0;
    }
    l->prepared_gen = 0;
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)l->timeout_ms);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, job->enable_compression ? "gzip" : "identity");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, h->follow_redirects ? 1L : 0L);
    /* libcurl reads http_proxy & co. by itself; Prometheus only with proxy_from_environment,
     * and an empty CURLOPT_PROXY switches the environment off. */
    const char *proxy = h->proxy_url;
    if (proxy == NULL && !h->proxy_from_environment) {
        proxy = "";
    }
    curl_easy_setopt(e, CURLOPT_PROXY, proxy);
    curl_easy_setopt(e, CURLOPT_NOPROXY, h->no_proxy);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     h->enable_http2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
    apply_tls(e, &h->tls);
    if (l->headers != NULL) {
        curl_slist_free_all(l->headers);
        l->headers = NULL;
    }
    struct curl_slist *hdrs = curl_slist_append(NULL, scrape_http_accept(job, &l->arena));
    hdrs = curl_slist_append(hdrs,
                             odin_arena_printf(&l->arena, "X-Prometheus-Scrape-Timeout-Seconds: %g",
                                               (double)l->timeout_ms / 1000.0));
    int rc = apply_auth(l, h, &hdrs, msg);
    l->headers = hdrs;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    if (rc == 0) {
        l->prepared_gen = config_gen;
    }
    return rc;
}

/* host:port of the URL, with the scheme's default port, for "dial tcp" messages. */
static const char *url_hostport(const char *url, odin_arena *a)
{
    const char *h = strstr(url, "://");
    bool tls = strncmp(url, "https", 5) == 0;
    h = h != NULL ? h + 3 : url;
    size_t n = strcspn(h, "/?#");
    const char *at = memchr(h, '@', n);
    if (at != NULL) {
        n -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    const char *rb = h[0] == '[' ? memchr(h, ']', n) : NULL;
    const char *colon = memchr(rb != NULL ? rb : h, ':', n - (size_t)((rb != NULL ? rb : h) - h));
    if (colon != NULL) {
        return odin_arena_strndup(a, h, n);
    }
    return odin_arena_printf(a, "%.*s:%s", (int)n, h, tls ? "443" : "80");
}

const char *scrape_http_status_text(long code)
{
    switch (code) {
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

static const char *transport_error(scrape_loop *l, CURLcode c)
{
    odin_arena *a = &l->arena;
    const char *detail;
    switch (c) {
    case CURLE_COULDNT_CONNECT:
        detail = odin_arena_printf(a, "dial tcp %s: connect: connection refused",
                                   url_hostport(l->url, a));
        break;
    case CURLE_OPERATION_TIMEDOUT:
        detail = "context deadline exceeded";
        break;
    case CURLE_COULDNT_RESOLVE_HOST: {
        const char *hp = url_hostport(l->url, a);
        const char *colon = strrchr(hp, ':');
        detail = odin_arena_printf(a, "dial tcp: lookup %.*s: no such host",
                                   (int)(colon != NULL ? colon - hp : (long)strlen(hp)), hp);
        break;
    }
    default:
        detail = l->errbuf[0] != '\0' ? l->errbuf : curl_easy_strerror(c);
        break;
    }
    return odin_arena_printf(a, "Get \"%s\": %s", l->url, detail);
}

void scrape_http_finish(scrape_loop *l, int curl_code, scrape_fetch *out)
{
    memset(out, 0, sizeof *out);
    CURLcode c = (CURLcode)curl_code;
    if (l->body_over) {
        out->err = scrape_err_body_limit;
        return;
    }
    if (c != CURLE_OK) {
        out->err = transport_error(l, c);
        return;
    }
    long status = 0;
    curl_easy_getinfo(l->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        const char *t = scrape_http_status_text(status);
        out->err = odin_arena_printf(&l->arena, "server returned HTTP status %ld%s%s", status,
                                     t[0] != '\0' ? " " : "", t);
        return;
    }
    out->ok = true;
    out->body = l->body.p != NULL ? l->body.p : "";
    out->len = l->body.len;
    out->content_type = l->content_type;
}

void scrape_http_cleanup(scrape_loop *l)
{
    if (l->easy != NULL) {
        curl_easy_cleanup(l->easy);
        l->easy = NULL;
    }
    if (l->headers != NULL) {
        curl_slist_free_all(l->headers);
        l->headers = NULL;
    }
}
