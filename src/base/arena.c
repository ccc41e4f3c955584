/* Bump arena with reusable blocks and cleanup handlers (nginx pools, h2o's reusable pools). */
#include "base/base.h"

#include <stdlib.h>
#include <string.h>
#include <stdio.h>

struct odin_arena_block {
    odin_arena_block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(16) unsigned char data[];
};

struct odin_arena_cleanup {
    odin_arena_cleanup *next;
    void (*fn)(void *);
    void *arg;
};

enum { ARENA_BLOCK_MIN = 16 * 1024 };

void odin_arena_init(odin_arena *a, size_t cap_bytes)
{
    memset(a, 0, sizeof(*a));
    a->cap_bytes = cap_bytes;
}

static void run_cleanups(odin_arena *a)
{
    while (a->cleanups) {
        odin_arena_cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->arg);
        free(c);
    }
}

static void free_chain(odin_arena_block *b)
{
    while (b) {
        odin_arena_block *n = b->next;
        free(b);
        b = n;
    }
}

void odin_arena_fini(odin_arena *a)
{
    run_cleanups(a);
    free_chain(a->head);
    free_chain(a->spare);
    memset(a, 0, sizeof(*a));
}

/* Keeps the largest block for the next round and frees the rest, so an arena that served one big
 * request does not hold all of it forever, while a steady workload stops calling malloc. */
void odin_arena_reset(odin_arena *a)
{
    run_cleanups(a);
    odin_arena_block *keep = NULL;
    odin_arena_block *lists[2] = {a->head, a->spare};
    for (int i = 0; i < 2; i++) {
        odin_arena_block *b = lists[i];
        while (b) {
            odin_arena_block *n = b->next;
            if (!keep || b->size > keep->size) {
                free(keep);
                keep = b;
            } else {
                free(b);
            }
            b = n;
        }
    }
    a->head = NULL;
    a->spare = keep;
    a->held_bytes = 0;
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
        a->held_bytes = keep->size;
    }
    a->used_bytes = 0;
    a->overflow = false;
}

void *odin_arena_alloc(odin_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (a->cap_bytes && (n > a->cap_bytes || a->used_bytes > a->cap_bytes - n)) {
        a->overflow = true;
        return NULL;
    }
    odin_arena_block *b = a->head;
    if (!b || b->size - b->used < n) {
        if (a->spare && a->spare->size >= n) {
            b = a->spare;
            a->spare = NULL;
        } else {
            size_t size = ARENA_BLOCK_MIN;
            if (a->head && a->head->size < 1024 * 1024) {
                size = a->head->size * 2;
            }
            while (size < n) {
                size *= 2;
            }
            b = odin_malloc(sizeof(*b) + size);
            b->size = size;
            a->held_bytes += size;
        }
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    a->used_bytes += n;
    return p;
}

void *odin_arena_zalloc(odin_arena *a, size_t n)
{
    void *p = odin_arena_alloc(a, n);
    if (p) {
        memset(p, 0, n);
    }
    return p;
}

char *odin_arena_strndup(odin_arena *a, const char *s, size_t n)
{
    char *p = odin_arena_alloc(a, n + 1);
    if (p) {
        if (n) {
            memcpy(p, s, n);
        }
        p[n] = '\0';
    }
    return p;
}

char *odin_arena_strdup(odin_arena *a, const char *s)
{
    return odin_arena_strndup(a, s, strlen(s));
}

/* One formatting pass in the common case: write straight into the free tail of the current
 * block and claim what was used; only text longer than that tail is formatted twice. */
char *odin_arena_vprintf(odin_arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    odin_arena_block *b = a->head;
    size_t room = b ? b->size - b->used : 0;
    char *p = NULL;
    int n;
    if (room > 1) {
        char *w = (char *)b->data + b->used;
        n = vsnprintf(w, room, fmt, ap);
        if (n >= 0 && (size_t)n < room) {
            /* claim exactly what the text used, through the normal path so caps still apply */
            p = odin_arena_alloc(a, (size_t)n + 1);
            if (p && p != w) {
                memmove(p, w, (size_t)n + 1);
            }
            va_end(ap2);
            return p;
        }
    } else {
        n = vsnprintf(NULL, 0, fmt, ap);
    }
    if (n >= 0) {
        p = odin_arena_alloc(a, (size_t)n + 1);
        if (p) {
            vsnprintf(p, (size_t)n + 1, fmt, ap2);
        }
    }
    va_end(ap2);
    return p;
}

char *odin_arena_printf(odin_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = odin_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

/* Cleanup records live outside the arena's cap: registering must not fail, and running a cleanup
 * early (the only other way out at the cap) would free what the caller is still using. */
void odin_arena_on_reset(odin_arena *a, void (*fn)(void *), void *arg)
{
    odin_arena_cleanup *c = odin_malloc(sizeof(*c));
    c->fn = fn;
    c->arg = arg;
    c->next = a->cleanups;
    a->cleanups = c;
}
