/* Routing by method and path (exact, or prefix for a path ending in '*'), shared by both server
 * backends. Routes are added before serving starts and only read afterwards. */
#include <stdlib.h>
#include <string.h>

#include "http/server_int.h"

void http_server_route(http_server *s, const char *method, const char *path, http_handler_fn fn,
                       void *ctx)
{
    if (s->nroutes == s->routes_cap) {
        s->routes_cap = s->routes_cap ? s->routes_cap * 2 : 16;
        s->routes = odin_realloc(s->routes, s->routes_cap * sizeof *s->routes);
    }
    size_t len = strlen(path);
    bool prefix = len > 0 && path[len - 1] == '*';
    if (prefix) {
        len--;
    }
    s->routes[s->nroutes++] = (http_route){
        .method = method ? odin_strdup(method) : NULL,
        .path = odin_strndup(path, len),
        .path_len = len,
        .prefix = prefix,
        .fn = fn,
        .ctx = ctx,
    };
}

/* How well a route's path matches: 0 for no match, else longer is better, and an exact route
 * beats a prefix route of the same length. */
static size_t route_score(const http_route *rt, const char *path, size_t path_len)
{
    if (rt->prefix) {
        if (path_len < rt->path_len || memcmp(path, rt->path, rt->path_len) != 0) {
            return 0;
        }
        return rt->path_len * 2 + 1;
    }
    if (path_len != rt->path_len || memcmp(path, rt->path, path_len) != 0) {
        return 0;
    }
    return rt->path_len * 2 + 2;
}

/* A GET route also answers HEAD; the backend leaves the body out. */
static bool route_method_ok(const http_route *rt, const char *method)
{
    if (rt->method == NULL || strcmp(rt->method, method) == 0) {
        return true;
    }
    return strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0;
}

const http_route *http_route_find(const http_server *s, const char *method, const char *path,
                                  bool *path_matched)
{
    size_t path_len = strlen(path);
    const http_route *best = NULL;
    size_t best_score = 0;
    *path_matched = false;
    for (size_t i = 0; i < s->nroutes; i++) {
        size_t score = route_score(&s->routes[i], path, path_len);
        if (score == 0) {
            continue;
        }
        *path_matched = true;
        if (score > best_score && route_method_ok(&s->routes[i], method)) {
            best = &s->routes[i];
            best_score = score;
        }
    }
    return best;
}

/* The methods of every route whose path matches, each once. */
const char *http_route_allowed(http_request *req)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 4096);
    size_t path_len = strlen(req->path);
    const http_server *s = req->srv;
    for (size_t i = 0; i < s->nroutes; i++) {
        const http_route *rt = &s->routes[i];
        if (rt->method == NULL || route_score(rt, req->path, path_len) == 0) {
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) {
            const http_route *o = &s->routes[j];
            dup = o->method && strcmp(o->method, rt->method) == 0 &&
                  route_score(o, req->path, path_len) > 0;
        }
        if (!dup) {
            if (b.len > 0) {
                odin_strbuf_puts(&b, ", ");
            }
            odin_strbuf_puts(&b, rt->method);
        }
    }
    const char *out = odin_arena_strdup(&req->arena, b.len > 0 ? b.p : "");
    odin_strbuf_fini(&b);
    return out;
}
