/* WAL record encoding and decoding in Prometheus' record format (tsdb/record): Series, Samples,
 * Tombstones, Metadata, and a checking counter for Exemplars. Byte tables: docs/format/wal.md.
 * Decoders read through a bounds-checked cursor; corrupt bytes become ODIN_ERR_CORRUPT. */
#include "tsdb/wal.h"

#include "tsdb/chunk.h"

#include <string.h>

/* ---- byte helpers ---- */

static void put_be64(odin_strbuf *b, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++) {
        t[i] = (uint8_t)(v >> (56 - 8 * i));
    }
    odin_strbuf_put(b, t, sizeof(t));
}

static void put_uvarint(odin_strbuf *b, uint64_t v)
{
    uint8_t t[10];
    odin_strbuf_put(b, t, tsdb_put_uvarint(t, v));
}

static void put_varint(odin_strbuf *b, int64_t v)
{
    uint8_t t[10];
    odin_strbuf_put(b, t, tsdb_put_varint(t, v));
}

static void put_str(odin_strbuf *b, odin_str s)
{
    put_uvarint(b, s.len);
    odin_strbuf_put(b, s.p, s.len);
}

static uint64_t double_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    return u;
}

static double bits_double(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

/* A read position over one record; `bad` is set by the first read past the end or malformed
 * varint, after which every read returns zero, so a decoder checks once per entry. */
typedef struct {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool bad;
} rcur;

static size_t rc_left(const rcur *c)
{
    return c->len - c->pos;
}

static uint8_t rc_u8(rcur *c)
{
    if (c->bad || rc_left(c) < 1) {
        c->bad = true;
        return 0;
    }
    return c->p[c->pos++];
}

static uint64_t rc_be64(rcur *c)
{
    if (c->bad || rc_left(c) < 8) {
        c->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | c->p[c->pos + (size_t)i];
    }
    c->pos += 8;
    return v;
}

static uint64_t rc_uvarint(rcur *c)
{
    uint64_t v = 0;
    size_t n = 0;
    if (c->bad || tsdb_get_uvarint(c->p + c->pos, rc_left(c), &v, &n) < 0) {
        c->bad = true;
        return 0;
    }
    c->pos += n;
    return v;
}

static int64_t rc_varint(rcur *c)
{
    int64_t v = 0;
    size_t n = 0;
    if (c->bad || tsdb_get_varint(c->p + c->pos, rc_left(c), &v, &n) < 0) {
        c->bad = true;
        return 0;
    }
    c->pos += n;
    return v;
}

/* A uvarint-prefixed string, borrowed from the record. */
static odin_str rc_str(rcur *c)
{
    uint64_t n = rc_uvarint(c);
    if (c->bad || n > rc_left(c)) {
        c->bad = true;
        return (odin_str){"", 0};
    }
    odin_str s = {(const char *)c->p + c->pos, (size_t)n};
    c->pos += (size_t)n;
    return s;
}

static int rec_corrupt(odin_err *err, const char *what, const rcur *c, size_t entries)
{
    return odin_err_set(err, ODIN_ERR_CORRUPT,
                        "WAL %s record: malformed at byte %zu of %zu (after %zu entries)", what,
                        c->pos, c->len, entries);
}

static int rec_start(rcur *c, const uint8_t *rec, size_t len, int type, const char *what,
                     odin_err *err)
{
    *c = (rcur){rec, len, 0, false};
    int got = rc_u8(c);
    if (c->bad || got != type) {
        return odin_err_set(err, ODIN_ERR_CORRUPT, "WAL %s record: type byte is %d, want %d", what,
                            c->bad ? -1 : got, type);
    }
    return 0;
}

static int arena_full(odin_err *err, const char *what)
{
    return odin_err_set(err, ODIN_ERR_LIMIT, "WAL %s record: arena cap reached while decoding",
                        what);
}

/* Copies s into the arena; false when the arena is at its cap. */
static bool arena_str(odin_arena *a, odin_str s, odin_str *out)
{
    if (s.len == 0) {
        *out = (odin_str){"", 0};
        return true;
    }
    char *p = odin_arena_alloc(a, s.len);
    if (p == NULL) {
        return false;
    }
    memcpy(p, s.p, s.len);
    *out = (odin_str){p, s.len};
    return true;
}

int wal_record_type(const uint8_t *rec, size_t len)
{
    return len == 0 ? -1 : rec[0];
}

/* ---- Series ---- */

void wal_encode_series(odin_strbuf *out, const wal_series *s, size_t n)
{
    odin_strbuf_putc(out, (char)WAL_REC_SERIES);
    for (size_t i = 0; i < n; i++) {
        put_be64(out, s[i].ref);
        put_uvarint(out, s[i].labels.len);
        for (size_t j = 0; j < s[i].labels.len; j++) {
            put_str(out, s[i].labels.v[j].name);
            put_str(out, s[i].labels.v[j].value);
        }
    }
}

/* One Series entry; with `into` NULL only checks and counts labels. */
static void series_entry(rcur *c, wal_series *into, odin_label *labels, size_t *nlabels)
{
    uint64_t ref = rc_be64(c);
    uint64_t count = rc_uvarint(c);
    /* Each label takes at least two bytes, so a larger count is corrupt, not a big allocation. */
    if (c->bad || count > rc_left(c) / 2) {
        c->bad = true;
        return;
    }
    for (uint64_t j = 0; j < count && !c->bad; j++) {
        odin_str name = rc_str(c);
        odin_str value = rc_str(c);
        if (labels != NULL) {
            labels[j] = (odin_label){name, value};
        }
    }
    *nlabels = (size_t)count;
    if (into != NULL) {
        into->ref = ref;
        into->labels = (odin_labels){labels, (size_t)count};
    }
}

int wal_decode_series(const uint8_t *rec, size_t len, odin_arena *a, wal_series **out, size_t *n,
                      odin_err *err)
{
    rcur c;
    *out = NULL;
    *n = 0;
    int rc = rec_start(&c, rec, len, WAL_REC_SERIES, "series", err);
    if (rc < 0) {
        return rc;
    }
    /* Pass 1 checks the whole record and sizes the arrays, so nothing is allocated for a corrupt
     * record and the arena holds exactly what pass 2 fills. */
    size_t entries = 0;
    size_t total_labels = 0;
    size_t body = c.pos;
    while (rc_left(&c) > 0) {
        size_t nl = 0;
        series_entry(&c, NULL, NULL, &nl);
        if (c.bad) {
            return rec_corrupt(err, "series", &c, entries);
        }
        entries++;
        total_labels += nl;
    }
    wal_series *s = odin_arena_alloc(a, (entries ? entries : 1) * sizeof(*s));
    odin_label *labels = odin_arena_alloc(a, (total_labels ? total_labels : 1) * sizeof(*labels));
    if (s == NULL || labels == NULL) {
        return arena_full(err, "series");
    }
    c.pos = body;
    size_t used = 0;
    for (size_t i = 0; i < entries; i++) {
        size_t nl = 0;
        series_entry(&c, &s[i], labels + used, &nl);
        for (size_t j = 0; j < nl; j++) {
            odin_label *l = &labels[used + j];
            if (!arena_str(a, l->name, &l->name) || !arena_str(a, l->value, &l->value)) {
                return arena_full(err, "series");
            }
        }
        used += nl;
    }
    *out = s;
    *n = entries;
    return (int)entries;
}

/* ---- Samples ---- */

static uint8_t *raw_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
    return p + 8;
}

/* The room a slice of m samples may need, or NULL when that would pass the buffer's cap (then
 * the caller appends piecewise, as far as the cap allows). */
static uint8_t *reserve_slice(odin_strbuf *out, size_t bytes)
{
    size_t cap = out->cap_bytes ? out->cap_bytes : (size_t)1 << 30; /* odin_strbuf's default */
    if (out->overflow || out->len > cap || bytes > cap - out->len) {
        return NULL;
    }
    return (uint8_t *)odin_strbuf_reserve(out, bytes);
}

void wal_encode_samples(odin_strbuf *out, const wal_sample *s, size_t n)
{
    odin_strbuf_putc(out, (char)WAL_REC_SAMPLES);
    if (n == 0) {
        return;
    }
    put_be64(out, s[0].ref);
    put_be64(out, (uint64_t)s[0].t);
    /* Written straight into reserved room, a slice of samples at a time, instead of three
     * buffer appends per sample (a scrape commit encodes thousands). Slices keep the buffer near
     * the record's size: reserving the worst case for a whole 4096-sample checkpoint batch took
     * 128 KiB buffers, which glibc serves by mmap and whose frees raise its mmap threshold, so
     * later big allocations stayed in the heap (+12 % RSS after 4 h in bench_tsdb_bench). */
    enum { SLICE = 128, WORST = 28 }; /* two 10-byte varints and 8 bytes a sample */
    for (size_t i = 0; i < n;) {
        size_t m = n - i < SLICE ? n - i : SLICE;
        uint8_t *p0 = reserve_slice(out, m * WORST);
        if (p0 == NULL) {
            for (; i < n; i++) {
                put_varint(out, (int64_t)(s[i].ref - s[0].ref));
                put_varint(out, (int64_t)((uint64_t)s[i].t - (uint64_t)s[0].t));
                put_be64(out, double_bits(s[i].v));
            }
            return;
        }
        uint8_t *p = p0;
        for (size_t j = i; j < i + m; j++) {
            /* Deltas against the first sample, wrapping as Go's int64 arithmetic does. */
            p += tsdb_put_varint(p, (int64_t)(s[j].ref - s[0].ref));
            p += tsdb_put_varint(p, (int64_t)((uint64_t)s[j].t - (uint64_t)s[0].t));
            p = raw_be64(p, double_bits(s[j].v));
        }
        odin_strbuf_advance(out, (size_t)(p - p0));
        i += m;
    }
}

int wal_decode_samples(const uint8_t *rec, size_t len, odin_arena *a, wal_sample **out, size_t *n,
                       odin_err *err)
{
    rcur c;
    *out = NULL;
    *n = 0;
    int rc = rec_start(&c, rec, len, WAL_REC_SAMPLES, "samples", err);
    if (rc < 0) {
        return rc;
    }
    if (rc_left(&c) == 0) {
        return 0; /* matches Prometheus: an empty Samples record is just the type byte */
    }
    uint64_t base_ref = rc_be64(&c);
    uint64_t base_t = rc_be64(&c);
    if (c.bad) {
        return rec_corrupt(err, "samples", &c, 0);
    }
    /* Every sample takes at least 10 bytes: an upper bound for the array. */
    size_t cap = rc_left(&c) / 10;
    wal_sample *s = odin_arena_alloc(a, (cap ? cap : 1) * sizeof(*s));
    if (s == NULL) {
        return arena_full(err, "samples");
    }
    size_t count = 0;
    while (rc_left(&c) > 0) {
        int64_t dref = rc_varint(&c);
        int64_t dt = rc_varint(&c);
        uint64_t bits = rc_be64(&c);
        if (c.bad || count >= cap) {
            return rec_corrupt(err, "samples", &c, count);
        }
        s[count].ref = base_ref + (uint64_t)dref;
        s[count].t = (int64_t)(base_t + (uint64_t)dt);
        s[count].v = bits_double(bits);
        count++;
    }
    *out = s;
    *n = count;
    return (int)count;
}

/* ---- Tombstones ---- */

void wal_encode_tombstones(odin_strbuf *out, const wal_tombstone *s, size_t n)
{
    odin_strbuf_putc(out, (char)WAL_REC_TOMBSTONES);
    for (size_t i = 0; i < n; i++) {
        put_be64(out, s[i].ref);
        put_varint(out, s[i].mint);
        put_varint(out, s[i].maxt);
    }
}

int wal_decode_tombstones(const uint8_t *rec, size_t len, odin_arena *a, wal_tombstone **out,
                          size_t *n, odin_err *err)
{
    rcur c;
    *out = NULL;
    *n = 0;
    int rc = rec_start(&c, rec, len, WAL_REC_TOMBSTONES, "tombstones", err);
    if (rc < 0) {
        return rc;
    }
    size_t cap = rc_left(&c) / 10; /* 8 + two one-byte varints at least */
    wal_tombstone *s = odin_arena_alloc(a, (cap ? cap : 1) * sizeof(*s));
    if (s == NULL) {
        return arena_full(err, "tombstones");
    }
    size_t count = 0;
    while (rc_left(&c) > 0) {
        uint64_t ref = rc_be64(&c);
        int64_t mint = rc_varint(&c);
        int64_t maxt = rc_varint(&c);
        if (c.bad || count >= cap) {
            return rec_corrupt(err, "tombstones", &c, count);
        }
        s[count++] = (wal_tombstone){ref, mint, maxt};
    }
    *out = s;
    *n = count;
    return (int)count;
}

/* ---- Metadata ---- */

void wal_encode_metadata(odin_strbuf *out, const wal_metadata *m, size_t n)
{
    odin_strbuf_putc(out, (char)WAL_REC_METADATA);
    for (size_t i = 0; i < n; i++) {
        put_uvarint(out, m[i].ref);
        odin_strbuf_putc(out, (char)m[i].type);
        put_uvarint(out, 2); /* matches Prometheus: always the two fields unit and help */
        put_str(out, ODIN_STR("UNIT"));
        put_str(out, m[i].unit);
        put_str(out, ODIN_STR("HELP"));
        put_str(out, m[i].help);
    }
}

/* One Metadata entry with unit and help borrowed from the record. */
static void metadata_entry(rcur *c, wal_metadata *m)
{
    m->ref = rc_uvarint(c);
    m->type = rc_u8(c);
    m->unit = (odin_str){"", 0};
    m->help = (odin_str){"", 0};
    uint64_t fields = rc_uvarint(c);
    if (c->bad || fields > rc_left(c) / 2) {
        c->bad = true;
        return;
    }
    for (uint64_t j = 0; j < fields && !c->bad; j++) {
        odin_str name = rc_str(c);
        odin_str value = rc_str(c);
        if (odin_str_eq_c(name, "UNIT")) {
            m->unit = value;
        } else if (odin_str_eq_c(name, "HELP")) {
            m->help = value;
        }
    }
}

int wal_decode_metadata(const uint8_t *rec, size_t len, odin_arena *a, wal_metadata **out,
                        size_t *n, odin_err *err)
{
    rcur c;
    *out = NULL;
    *n = 0;
    int rc = rec_start(&c, rec, len, WAL_REC_METADATA, "metadata", err);
    if (rc < 0) {
        return rc;
    }
    size_t cap = rc_left(&c) / 3; /* ref, type and field count take a byte each at least */
    wal_metadata *m = odin_arena_alloc(a, (cap ? cap : 1) * sizeof(*m));
    if (m == NULL) {
        return arena_full(err, "metadata");
    }
    size_t count = 0;
    while (rc_left(&c) > 0) {
        wal_metadata e;
        metadata_entry(&c, &e);
        if (c.bad || count >= cap) {
            return rec_corrupt(err, "metadata", &c, count);
        }
        if (!arena_str(a, e.unit, &e.unit) || !arena_str(a, e.help, &e.help)) {
            return arena_full(err, "metadata");
        }
        m[count++] = e;
    }
    *out = m;
    *n = count;
    return (int)count;
}

/* ---- Exemplars ---- */

int wal_count_exemplars(const uint8_t *rec, size_t len, size_t *n, odin_err *err)
{
    rcur c;
    *n = 0;
    int rc = rec_start(&c, rec, len, WAL_REC_EXEMPLARS, "exemplars", err);
    if (rc < 0) {
        return rc;
    }
    if (rc_left(&c) == 0) {
        return 0;
    }
    (void)rc_be64(&c); /* base ref */
    (void)rc_be64(&c); /* base timestamp */
    size_t count = 0;
    while (!c.bad && rc_left(&c) > 0) {
        (void)rc_varint(&c);
        (void)rc_varint(&c);
        (void)rc_be64(&c);
        uint64_t labels = rc_uvarint(&c);
        if (c.bad || labels > rc_left(&c) / 2) {
            c.bad = true;
            break;
        }
        for (uint64_t j = 0; j < 2 * labels && !c.bad; j++) {
            (void)rc_str(&c);
        }
        if (!c.bad) {
            count++;
        }
    }
    if (c.bad || count > INT32_MAX) {
        return rec_corrupt(err, "exemplars", &c, count);
    }
    *n = count;
    return (int)count;
}
