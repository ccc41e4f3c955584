/* meta.json: written byte for byte as Prometheus 2.42 writes it, and read with a small
 * bounds-checked JSON scanner that keeps only the fields Odin uses and skips the rest. */
#include "tsdb/block_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- Writing --------------------------------------------------------------------------------- */

/* A JSON string as Go's encoding/json writes it: HTML-sensitive characters and U+2028/2029 are
 * \u-escaped too (matches Go's default HTMLEscape), so our files diff clean against Prometheus'. */
static void put_json_string(odin_strbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    odin_strbuf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            odin_strbuf_putc(b, '\\');
            odin_strbuf_putc(b, (char)c);
        } else if (c == '\n') {
            odin_strbuf_puts(b, "\\n");
        } else if (c == '\r') {
            odin_strbuf_puts(b, "\\r");
        } else if (c == '\t') {
            odin_strbuf_puts(b, "\\t");
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            odin_strbuf_put(b, e, sizeof(e));
        } else if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
                   ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9)) {
            odin_strbuf_puts(b, (unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029");
            i += 2;
        } else {
            odin_strbuf_putc(b, (char)c);
        }
    }
    odin_strbuf_putc(b, '"');
}

static void put_indent(odin_strbuf *b, int depth)
{
    for (int i = 0; i < depth; i++) {
        odin_strbuf_putc(b, '\t');
    }
}

/* One `"key": number` member; `*first` tracks whether a comma is needed before it. */
static void put_member_u64(odin_strbuf *b, int depth, bool *first, const char *key, uint64_t v)
{
    odin_strbuf_puts(b, *first ? "\n" : ",\n");
    *first = false;
    put_indent(b, depth);
    put_json_string(b, key, strlen(key));
    odin_strbuf_puts(b, ": ");
    odin_strbuf_put_u64(b, v);
}

static int ext_label_cmp(const void *a, const void *b)
{
    const char *const *x = a;
    const char *const *y = b;
    return strcmp(x[0], y[0]);
}

static void put_thanos(odin_strbuf *b, const char *const *ext, size_t n)
{
    /* Go writes map keys sorted; sort (name, value) pairs by name. */
    const char **pairs = odin_malloc((n ? n : 1) * 2 * sizeof(*pairs));
    memcpy(pairs, ext, n * 2 * sizeof(*pairs));
    qsort(pairs, n, 2 * sizeof(*pairs), ext_label_cmp);
    odin_strbuf_puts(b, ",\n\t\"thanos\": {\n\t\t\"labels\": {");
    for (size_t i = 0; i < n; i++) {
        odin_strbuf_puts(b, i ? ",\n\t\t\t" : "\n\t\t\t");
        put_json_string(b, pairs[2 * i], strlen(pairs[2 * i]));
        odin_strbuf_puts(b, ": ");
        put_json_string(b, pairs[2 * i + 1], strlen(pairs[2 * i + 1]));
    }
    odin_strbuf_puts(b, n ? "\n\t\t},\n" : "},\n");
    odin_strbuf_puts(b, "\t\t\"downsample\": {\n\t\t\t\"resolution\": 0\n\t\t},\n");
    /* matches Thanos' sidecar: it uploads Prometheus' blocks with source "sidecar" */
    odin_strbuf_puts(b, "\t\t\"source\": \"sidecar\"\n\t}");
    free(pairs);
}

void block_meta_format(odin_strbuf *out, const block_meta *m, const char *const *sources,
                       size_t nsources, const char *const *external_labels, size_t nexternal)
{
    odin_strbuf_puts(out, "{\n\t\"ulid\": ");
    put_json_string(out, m->ulid, strlen(m->ulid));
    odin_strbuf_puts(out, ",\n\t\"minTime\": ");
    odin_strbuf_put_i64(out, m->mint);
    odin_strbuf_puts(out, ",\n\t\"maxTime\": ");
    odin_strbuf_put_i64(out, m->maxt);
    odin_strbuf_puts(out, ",\n\t\"stats\": {");
    bool first = true;
    /* matches Prometheus 2.42: the stats fields are omitempty */
    const struct {
        const char *key;
        uint64_t v;
    } stats[] = {{"numSamples", m->num_samples},
                 {"numSeries", m->num_series},
                 {"numChunks", m->num_chunks}};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(stats); i++) {
        if (stats[i].v) {
            put_member_u64(out, 2, &first, stats[i].key, stats[i].v);
        }
    }
    odin_strbuf_puts(out, first ? "}" : "\n\t}");
    odin_strbuf_puts(out, ",\n\t\"compaction\": {\n\t\t\"level\": ");
    odin_strbuf_put_i64(out, m->level);
    odin_strbuf_puts(out, ",\n\t\t\"sources\": [");
    if (nsources == 0) {
        odin_strbuf_puts(out, "\n\t\t\t");
        put_json_string(out, m->ulid, strlen(m->ulid));
    }
    for (size_t i = 0; i < nsources; i++) {
        odin_strbuf_puts(out, i ? ",\n\t\t\t" : "\n\t\t\t");
        put_json_string(out, sources[i], strlen(sources[i]));
    }
    odin_strbuf_puts(out, "\n\t\t]\n\t},\n\t\"version\": 1");
    if (nexternal > 0) {
        put_thanos(out, external_labels, nexternal);
    }
    odin_strbuf_puts(out, "\n}");
}

/* ---- Reading --------------------------------------------------------------------------------- */

enum { JSON_MAX_DEPTH = 64, JSON_KEY_BYTES = 64 };

typedef struct {
    const char *p;
    size_t len, pos;
    const char *file;
    odin_err *err;
} json_scan;

static int jfail(json_scan *j, const char *what)
{
    return odin_err_set(j->err, ODIN_ERR_CORRUPT, "%s: byte %zu: %s", j->file, j->pos, what);
}

static void jws(json_scan *j)
{
    while (j->pos < j->len && (j->p[j->pos] == ' ' || j->p[j->pos] == '\t' ||
                               j->p[j->pos] == '\n' || j->p[j->pos] == '\r')) {
        j->pos++;
    }
}

/* The next non-blank character, not consumed; '\0' at the end of input. */
static char jpeek(json_scan *j)
{
    jws(j);
    return j->pos < j->len ? j->p[j->pos] : '\0';
}

static int jexpect(json_scan *j, char c)
{
    if (jpeek(j) != c) {
        char what[32] = "expected 'x'";
        what[10] = c;
        return jfail(j, what);
    }
    j->pos++;
    return 0;
}

/* Decodes a string into out (cap bytes); *n gets the decoded length, or cap + 1 when it did not
 * fit (the string is still consumed). Non-ASCII \u escapes become '?': the fields we read are
 * ASCII, and a key that needed one is unknown to us anyway. */
static int jstring(json_scan *j, char *out, size_t cap, size_t *n)
{
    if (jexpect(j, '"') < 0) {
        return -ODIN_ERR_CORRUPT;
    }
    size_t k = 0;
    for (;;) {
        if (j->pos >= j->len) {
            return jfail(j, "unterminated string");
        }
        unsigned char c = (unsigned char)j->p[j->pos++];
        if (c == '"') {
            break;
        }
        if (c < 0x20) {
            return jfail(j, "control character in string");
        }
        if (c == '\\') {
            if (j->pos >= j->len) {
                return jfail(j, "unterminated string");
            }
            char e = j->p[j->pos++];
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *hit = e ? strchr(from, e) : NULL;
            if (hit) {
                c = (unsigned char)to[hit - from];
            } else if (e == 'u') {
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    int h = j->pos < j->len ? odin_hex_digit(j->p[j->pos]) : -1;
                    if (h < 0) {
                        return jfail(j, "bad \\u escape");
                    }
                    v = v << 4 | (unsigned)h;
                    j->pos++;
                }
                c = v < 0x80 ? (unsigned char)v : '?';
            } else {
                j->pos--;
                return jfail(j, "bad escape");
            }
        }
        if (k < cap) {
            out[k] = (char)c;
        }
        k++;
    }
    *n = k <= cap ? k : cap + 1;
    return 0;
}

/* A JSON number; *is_int is false when it has a fraction or exponent (then *out is 0). */
static int jnumber(json_scan *j, int64_t *out, bool *is_int)
{
    jws(j);
    size_t start = j->pos;
    if (j->pos < j->len && j->p[j->pos] == '-') {
        j->pos++;
    }
    size_t digits = j->pos;
    while (j->pos < j->len && j->p[j->pos] >= '0' && j->p[j->pos] <= '9') {
        j->pos++;
    }
    if (j->pos == digits) {
        return jfail(j, "expected a number");
    }
    size_t int_end = j->pos;
    *is_int = true;
    if (j->pos < j->len && j->p[j->pos] == '.') {
        *is_int = false;
        j->pos++;
        while (j->pos < j->len && j->p[j->pos] >= '0' && j->p[j->pos] <= '9') {
            j->pos++;
        }
    }
    if (j->pos < j->len && (j->p[j->pos] == 'e' || j->p[j->pos] == 'E')) {
        *is_int = false;
        j->pos++;
        if (j->pos < j->len && (j->p[j->pos] == '+' || j->p[j->pos] == '-')) {
            j->pos++;
        }
        while (j->pos < j->len && j->p[j->pos] >= '0' && j->p[j->pos] <= '9') {
            j->pos++;
        }
    }
    *out = 0;
    if (*is_int && odin_parse_i64((odin_str){j->p + start, int_end - start}, out) < 0) {
        j->pos = start;
        return jfail(j, "integer out of range");
    }
    return 0;
}

static int jint(json_scan *j, int64_t *out)
{
    size_t at = j->pos;
    bool is_int;
    int rc = jnumber(j, out, &is_int);
    if (rc == 0 && !is_int) {
        j->pos = at;
        jws(j);
        return jfail(j, "expected an integer");
    }
    return rc;
}

static int jliteral(json_scan *j, const char *word)
{
    size_t n = strlen(word);
    if (j->len - j->pos < n || memcmp(j->p + j->pos, word, n) != 0) {
        return jfail(j, "unexpected character");
    }
    j->pos += n;
    return 0;
}

static int jskip(json_scan *j, int depth);

/* Walks an object or array: on '{' each member's key goes to key_cb-free skipping. */
static int jskip_container(json_scan *j, int depth, char open, char close)
{
    if (depth >= JSON_MAX_DEPTH) {
        return jfail(j, "nested too deeply");
    }
    j->pos++; /* the opening bracket, checked by the caller */
    if (jpeek(j) == close) {
        j->pos++;
        return 0;
    }
    for (;;) {
        if (open == '{') {
            char key[1];
            size_t kn;
            if (jstring(j, key, 0, &kn) < 0 || jexpect(j, ':') < 0) {
                return -ODIN_ERR_CORRUPT;
            }
        }
        if (jskip(j, depth + 1) < 0) {
            return -ODIN_ERR_CORRUPT;
        }
        char c = jpeek(j);
        j->pos++;
        if (c == close) {
            return 0;
        }
        if (c != ',') {
            j->pos--;
            return jfail(j, "expected ',' or closing bracket");
        }
    }
}

static int jskip(json_scan *j, int depth)
{
    char c = jpeek(j);
    char tmp[1];
    size_t n;
    int64_t v;
    bool is_int;
    switch (c) {
    case '"':
        return jstring(j, tmp, 0, &n);
    case '{':
        return jskip_container(j, depth, '{', '}');
    case '[':
        return jskip_container(j, depth, '[', ']');
    case 't':
        return jliteral(j, "true");
    case 'f':
        return jliteral(j, "false");
    case 'n':
        return jliteral(j, "null");
    default:
        return jnumber(j, &v, &is_int);
    }
}

/* Object iteration: returns 1 with the next key, 0 after the closing brace, negative on error.
 * Call with *first = true right after the opening brace was consumed. */
static int jnext_key(json_scan *j, bool *first, char *key, size_t *klen)
{
    char c = jpeek(j);
    if (c == '}') {
        j->pos++;
        return 0;
    }
    if (!*first) {
        if (c != ',') {
            return jfail(j, "expected ',' or '}'");
        }
        j->pos++;
    }
    *first = false;
    if (jstring(j, key, JSON_KEY_BYTES, klen) < 0 || jexpect(j, ':') < 0) {
        return -ODIN_ERR_CORRUPT;
    }
    return 1;
}

static bool key_is(const char *key, size_t klen, const char *want)
{
    return klen == strlen(want) && memcmp(key, want, klen) == 0;
}

static int parse_ulid(json_scan *j, char out[27])
{
    size_t n;
    jws(j);
    size_t at = j->pos;
    if (jstring(j, out, 26, &n) < 0) {
        return -ODIN_ERR_CORRUPT;
    }
    if (!block_ulid_valid((odin_str){out, n <= 26 ? n : 0})) {
        j->pos = at;
        return jfail(j, "invalid ULID");
    }
    out[26] = '\0';
    return 0;
}

static int parse_u64(json_scan *j, uint64_t *out)
{
    int64_t v;
    if (jint(j, &v) < 0) {
        return -ODIN_ERR_CORRUPT;
    }
    if (v < 0) {
        return jfail(j, "negative count");
    }
    *out = (uint64_t)v;
    return 0;
}

static int parse_stats(json_scan *j, block_meta_file *f)
{
    if (jexpect(j, '{') < 0) {
        return -ODIN_ERR_CORRUPT;
    }
    bool first = true;
    char key[JSON_KEY_BYTES];
    size_t kl;
    int r;
    while ((r = jnext_key(j, &first, key, &kl)) > 0) {
        uint64_t *dst = key_is(key, kl, "numSamples")      ? &f->m.num_samples
                        : key_is(key, kl, "numSeries")     ? &f->m.num_series
                        : key_is(key, kl, "numChunks")     ? &f->m.num_chunks
                        : key_is(key, kl, "numTombstones") ? &f->num_tombstones
                                                           : NULL;
        r = dst ? parse_u64(j, dst) : jskip(j, 2);
        if (r < 0) {
            return r;
        }
    }
    return r;
}

static int parse_sources(json_scan *j, block_meta_file *f)
{
    if (jexpect(j, '[') < 0) {
        return -ODIN_ERR_CORRUPT;
    }
    free(f->sources);
    f->sources = NULL;
    f->nsources = 0;
    size_t cap = 0;
    if (jpeek(j) == ']') {
        j->pos++;
        return 0;
    }
    for (;;) {
        if (f->nsources == cap) {
            cap = cap ? cap * 2 : 4;
            f->sources = odin_realloc(f->sources, cap * sizeof(*f->sources));
        }
        if (parse_ulid(j, f->sources[f->nsources]) < 0) {
            return -ODIN_ERR_CORRUPT;
        }
        f->nsources++;
        char c = jpeek(j);
        if (c == ']') {
            j->pos++;
            return 0;
        }
        if (c != ',') {
            return jfail(j, "expected ',' or ']'");
        }
        j->pos++;
    }
}

static int parse_compaction(json_scan *j, block_meta_file *f)
{
    if (jexpect(j, '{') < 0) {
        return -ODIN_ERR_CORRUPT;
    }
    bool first = true;
    char key[JSON_KEY_BYTES];
    size_t kl;
    int r;
    while ((r = jnext_key(j, &first, key, &kl)) > 0) {
        if (key_is(key, kl, "level")) {
            int64_t v;
            r = jint(j, &v);
            if (r == 0 && (v < 0 || v > 1000000)) {
                r = jfail(j, "compaction level out of range");
            }
            f->m.level = (int)v;
        } else if (key_is(key, kl, "sources")) {
            r = parse_sources(j, f);
        } else {
            r = jskip(j, 2);
        }
        if (r < 0) {
            return r;
        }
    }
    return r;
}

/* One member of the top-level object; `seen` collects the required fields found. */
enum { SEEN_ULID = 1, SEEN_MINT = 2, SEEN_MAXT = 4, SEEN_VERSION = 8 };

static int parse_top_member(json_scan *j, const char *key, size_t kl, block_meta_file *f,
                            unsigned *seen)
{
    int64_t v;
    if (key_is(key, kl, "ulid")) {
        *seen |= SEEN_ULID;
        return parse_ulid(j, f->m.ulid);
    }
    if (key_is(key, kl, "minTime")) {
        *seen |= SEEN_MINT;
        return jint(j, &f->m.mint);
    }
    if (key_is(key, kl, "maxTime")) {
        *seen |= SEEN_MAXT;
        return jint(j, &f->m.maxt);
    }
    if (key_is(key, kl, "stats")) {
        return parse_stats(j, f);
    }
    if (key_is(key, kl, "compaction")) {
        return parse_compaction(j, f);
    }
    if (key_is(key, kl, "version")) {
        *seen |= SEEN_VERSION;
        if (jint(j, &v) < 0) {
            return -ODIN_ERR_CORRUPT;
        }
        if (v != BLOCK_META_VERSION) {
            return jfail(j, "unsupported meta.json version");
        }
        f->version = (int)v;
        return 0;
    }
    return jskip(j, 1);
}

void block_meta_file_fini(block_meta_file *f)
{
    free(f->sources);
    memset(f, 0, sizeof(*f));
}

int block_meta_parse(const char *text, size_t len, const char *file, block_meta_file *out,
                     odin_err *err)
{
    memset(out, 0, sizeof(*out));
    json_scan j = {.p = text, .len = len, .pos = 0, .file = file, .err = err};
    if (jexpect(&j, '{') < 0) {
        return -ODIN_ERR_CORRUPT;
    }
    bool first = true;
    char key[JSON_KEY_BYTES];
    size_t kl;
    unsigned seen = 0;
    int r;
    while ((r = jnext_key(&j, &first, key, &kl)) > 0) {
        if (parse_top_member(&j, key, kl, out, &seen) < 0) {
            r = -ODIN_ERR_CORRUPT;
            break;
        }
    }
    jws(&j);
    if (r == 0 && j.pos < j.len) {
        r = jfail(&j, "trailing data after the object");
    }
    if (r == 0 && seen != (SEEN_ULID | SEEN_MINT | SEEN_MAXT | SEEN_VERSION)) {
        r = odin_err_set(err, ODIN_ERR_CORRUPT, "%s: missing %s", file,
                         !(seen & SEEN_ULID)     ? "ulid"
                         : !(seen & SEEN_MINT)   ? "minTime"
                         : !(seen & SEEN_MAXT)   ? "maxTime"
                                                 : "version");
    }
    if (r < 0) {
        block_meta_file_fini(out);
        return -ODIN_ERR_CORRUPT;
    }
    return 0;
}
