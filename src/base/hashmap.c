/* Open-addressing hash map (linear probing, tombstone-free deletion by backward shift). The whole
 * table is rehashed on growth; maps here are sized by configuration or per-scrape data, so the
 * occasional doubling is bounded by input the caller already capped. */
#include "base/base.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct odin_map_slot {
    const void *key;
    size_t klen;
    uint64_t hash;
    void *value; /* NULL marks an empty slot: values are never NULL */
};

static uint64_t process_seed;

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* A small multiply-rotate hash over 8-byte words; good enough for label and metric names. */
uint64_t odin_hash_stable(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ (n * 0x9E3779B97F4A7C15ULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = rotl(h ^ (w * 0xC2B2AE3D27D4EB4FULL), 31) * 0x9E3779B97F4A7C15ULL;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) {
        w |= (uint64_t)s[i] << (8 * i);
    }
    h = rotl(h ^ (w * 0xC2B2AE3D27D4EB4FULL), 31) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    return h;
}

uint64_t odin_hash(const void *p, size_t n)
{
    if (process_seed == 0) {
        /* racy first use is harmless: any thread writes some nonzero seed before the first map
         * exists, and maps are built after main starts */
        process_seed = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^ 0x5851F42D4C957F2DULL;
    }
    return odin_hash_stable(p, n, process_seed);
}

void odin_map_init(odin_map *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->len = 0;
}

void odin_map_fini(odin_map *m)
{
    free(m->slots);
    odin_map_init(m);
}

static size_t find(const odin_map *m, const void *key, size_t klen, uint64_t h)
{
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    for (;;) {
        struct odin_map_slot *s = &m->slots[i];
        if (!s->value) {
            return i;
        }
        if (s->hash == h && s->klen == klen && (klen == 0 || memcmp(s->key, key, klen) == 0)) {
            return i;
        }
        i = (i + 1) & mask;
    }
}

static void grow(odin_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    struct odin_map_slot *old = m->slots;
    size_t ocap = m->cap;
    m->slots = odin_calloc(ncap, sizeof(*m->slots));
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i].value) {
            m->slots[find(m, old[i].key, old[i].klen, old[i].hash)] = old[i];
        }
    }
    free(old);
}

void *odin_map_get(const odin_map *m, const void *key, size_t klen)
{
    if (m->len == 0) {
        return NULL;
    }
    return m->slots[find(m, key, klen, odin_hash(key, klen))].value;
}

void *odin_map_put(odin_map *m, const void *key, size_t klen, void *value)
{
    ODIN_ASSERT(value != NULL);
    if ((m->len + 1) * 4 > m->cap * 3) {
        grow(m);
    }
    uint64_t h = odin_hash(key, klen);
    struct odin_map_slot *s = &m->slots[find(m, key, klen, h)];
    void *prev = s->value;
    if (!prev) {
        m->len++;
    }
    *s = (struct odin_map_slot){key, klen, h, value};
    return prev;
}

void *odin_map_del(odin_map *m, const void *key, size_t klen)
{
    if (m->len == 0) {
        return NULL;
    }
    size_t mask = m->cap - 1;
    size_t i = find(m, key, klen, odin_hash(key, klen));
    void *prev = m->slots[i].value;
    if (!prev) {
        return NULL;
    }
    m->slots[i].value = NULL;
    m->len--;
    /* backward-shift the cluster that follows so lookups never stop early */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->slots[j].value) {
            break;
        }
        size_t home = m->slots[j].hash & mask;
        bool between = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
        if (!between) {
            m->slots[i] = m->slots[j];
            m->slots[j].value = NULL;
            i = j;
        }
    }
    return prev;
}

bool odin_map_next(const odin_map *m, size_t *pos, const void **key, size_t *klen, void **value)
{
    while (*pos < m->cap) {
        struct odin_map_slot *s = &m->slots[(*pos)++];
        if (s->value) {
            *key = s->key;
            *klen = s->klen;
            *value = s->value;
            return true;
        }
    }
    return false;
}

void odin_map_clear(odin_map *m)
{
    if (m->cap) {
        memset(m->slots, 0, m->cap * sizeof(*m->slots));
    }
    m->len = 0;
}
