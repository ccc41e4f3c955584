/* The JSON DOM behind Kubernetes discovery: a recursive-descent parser capped in depth, with
 * children gathered on one scratch stack and copied into the arena when their container closes,
 * plus readers and a one-block deep copy for objects kept in the provider's cache. */
#include <stdlib.h>
#include <string.h>

#include "discovery/k8s_json.h"

typedef struct {
    const char *buf;
    const char *p;
    const char *end;
    odin_arena *a;
    odin_err *err;
    /* scratch stack of children of the containers being parsed (heap, freed at the end) */
    k8s_json *stack;
    odin_str *kstack;
    size_t top;
    size_t cap;
} jparser;

static int jfail(jparser *c, int code, const char *reason)
{
    return odin_err_set(c->err, code, "offset %zu: %s", (size_t)(c->p - c->buf), reason);
}

static void jws(jparser *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) {
        c->p++;
    }
}

static void push(jparser *c, odin_str key, const k8s_json *v)
{
    if (c->top == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->stack = odin_realloc(c->stack, c->cap * sizeof *c->stack);
        c->kstack = odin_realloc(c->kstack, c->cap * sizeof *c->kstack);
    }
    c->stack[c->top] = *v;
    c->kstack[c->top] = key;
    c->top++;
}

static int hex4(const char *p, const char *end, uint32_t *out)
{
    if (end - p < 4) {
        return -1;
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char h = p[i];
        uint32_t d;
        if (h >= '0' && h <= '9') {
            d = (uint32_t)(h - '0');
        } else if (h >= 'a' && h <= 'f') {
            d = (uint32_t)(h - 'a' + 10);
        } else if (h >= 'A' && h <= 'F') {
            d = (uint32_t)(h - 'A' + 10);
        } else {
            return -1;
        }
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

bool k8s_json_unicode_escape(const char **pp, const char *end, uint32_t *cp)
{
    const char *p = *pp;
    if (hex4(p, end, cp) < 0) {
        return false;
    }
    p += 4;
    if (*cp >= 0xD800 && *cp < 0xDC00) {
        uint32_t lo;
        if (end - p >= 6 && p[0] == '\\' && p[1] == 'u' && hex4(p + 2, end, &lo) == 0 &&
            lo >= 0xDC00 && lo < 0xE000) {
            p += 6;
            *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
        } else {
            *cp = 0xFFFD;
        }
    } else if (*cp >= 0xDC00 && *cp < 0xE000) {
        *cp = 0xFFFD;
    }
    *pp = p;
    return true;
}

/* Reads a string at c->p (on the opening quote) into the arena. Unescaped text never grows, so
 * the raw length bounds the output. */
static int jstring(jparser *c, odin_str *out)
{
    c->p++;
    const char *start = c->p;
    const char *q = start;
    while (q < c->end && *q != '"') {
        q += (*q == '\\' && q + 1 < c->end) ? 2 : 1;
    }
    if (q >= c->end) {
        return jfail(c, ODIN_ERR_PARSE, "unterminated string");
    }
    char *o = odin_arena_alloc(c->a, (size_t)(q - start) + 1);
    if (o == NULL) {
        return jfail(c, ODIN_ERR_LIMIT, "document exceeds the memory cap");
    }
    size_t n = 0;
    while (c->p < q) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch < 0x20) {
            return jfail(c, ODIN_ERR_PARSE, "control character in string");
        }
        if (ch != '\\') {
            o[n++] = (char)ch;
            c->p++;
            continue;
        }
        char e = c->p[1];
        c->p += 2;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e != '\0' && simple != NULL) {
            static const char repl[] = "\"\\/\b\f\n\r\t";
            o[n++] = repl[simple - "\"\\/bfnrt"];
            continue;
        }
        if (e != 'u') {
            c->p--;
            return jfail(c, ODIN_ERR_PARSE, "invalid escape in string");
        }
        uint32_t cp = 0;
        if (!k8s_json_unicode_escape(&c->p, c->end, &cp)) {
            return jfail(c, ODIN_ERR_PARSE, "invalid \\u escape");
        }
        /* a \uXXXX (6 bytes) yields at most 3, a pair (12) at most 4: still within the raw length */
        n += odin_utf8_encode(cp, o + n);
    }
    c->p = q + 1;
    o[n] = '\0';
    *out = (odin_str){o, n};
    return 0;
}

static bool is_digit(const jparser *c)
{
    return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

static int jnumber(jparser *c, k8s_json *v)
{
    const char *start = c->p;
    if (c->p < c->end && *c->p == '-') {
        c->p++;
    }
    if (!is_digit(c)) {
        return jfail(c, ODIN_ERR_PARSE, "invalid number");
    }
    if (*c->p == '0') {
        c->p++;
    } else {
        while (is_digit(c)) {
            c->p++;
        }
    }
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!is_digit(c)) {
            return jfail(c, ODIN_ERR_PARSE, "invalid number");
        }
        while (is_digit(c)) {
            c->p++;
        }
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) {
            c->p++;
        }
        if (!is_digit(c)) {
            return jfail(c, ODIN_ERR_PARSE, "invalid number");
        }
        while (is_digit(c)) {
            c->p++;
        }
    }
    char *s = odin_arena_strndup(c->a, start, (size_t)(c->p - start));
    if (s == NULL) {
        return jfail(c, ODIN_ERR_LIMIT, "document exceeds the memory cap");
    }
    v->type = K8S_JSON_NUMBER;
    v->s = (odin_str){s, (size_t)(c->p - start)};
    return 0;
}

static int jliteral(jparser *c, const char *word, k8s_json_type t, k8s_json *v)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) {
        return jfail(c, ODIN_ERR_PARSE, "invalid literal");
    }
    c->p += n;
    v->type = t;
    return 0;
}

static int jvalue(jparser *c, k8s_json *v, int depth);

/* Moves the children pushed since `base` into the arena as v's items (and keys for objects). */
static int jclose(jparser *c, k8s_json *v, size_t base, bool object)
{
    size_t n = c->top - base;
    v->n = n;
    if (n > 0) {
        v->v = odin_arena_alloc(c->a, n * sizeof *v->v);
        if (v->v == NULL) {
            return jfail(c, ODIN_ERR_LIMIT, "document exceeds the memory cap");
        }
        memcpy(v->v, c->stack + base, n * sizeof *v->v);
        if (object) {
            v->keys = odin_arena_alloc(c->a, n * sizeof *v->keys);
            if (v->keys == NULL) {
                return jfail(c, ODIN_ERR_LIMIT, "document exceeds the memory cap");
            }
            memcpy(v->keys, c->kstack + base, n * sizeof *v->keys);
        }
    }
    c->top = base;
    return 0;
}

static int jarray(jparser *c, k8s_json *v, int depth)
{
    size_t base = c->top;
    v->type = K8S_JSON_ARRAY;
    c->p++;
    jws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return jclose(c, v, base, false);
    }
    for (;;) {
        k8s_json item = {0};
        int rc = jvalue(c, &item, depth + 1);
        if (rc < 0) {
            return rc;
        }
        push(c, (odin_str){NULL, 0}, &item);
        jws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == ']') {
            c->p++;
            return jclose(c, v, base, false);
        }
        return jfail(c, ODIN_ERR_PARSE, "expected , or ] in array");
    }
}

static int jobject(jparser *c, k8s_json *v, int depth)
{
    size_t base = c->top;
    v->type = K8S_JSON_OBJECT;
    c->p++;
    jws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return jclose(c, v, base, true);
    }
    for (;;) {
        jws(c);
        if (c->p >= c->end || *c->p != '"') {
            return jfail(c, ODIN_ERR_PARSE, "expected a member name");
        }
        odin_str key;
        int rc = jstring(c, &key);
        if (rc < 0) {
            return rc;
        }
        jws(c);
        if (c->p >= c->end || *c->p != ':') {
            return jfail(c, ODIN_ERR_PARSE, "expected : after member name");
        }
        c->p++;
        k8s_json item = {0};
        rc = jvalue(c, &item, depth + 1);
        if (rc < 0) {
            return rc;
        }
        push(c, key, &item);
        jws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '}') {
            c->p++;
            return jclose(c, v, base, true);
        }
        return jfail(c, ODIN_ERR_PARSE, "expected , or } in object");
    }
}

static int jvalue(jparser *c, k8s_json *v, int depth)
{
    if (depth > K8S_JSON_MAX_DEPTH) {
        return jfail(c, ODIN_ERR_LIMIT, "nesting deeper than 64");
    }
    jws(c);
    if (c->p >= c->end) {
        return jfail(c, ODIN_ERR_PARSE, "unexpected end of input");
    }
    switch (*c->p) {
    case '{':
        return jobject(c, v, depth);
    case '[':
        return jarray(c, v, depth);
    case '"':
        v->type = K8S_JSON_STRING;
        return jstring(c, &v->s);
    case 't':
        return jliteral(c, "true", K8S_JSON_TRUE, v);
    case 'f':
        return jliteral(c, "false", K8S_JSON_FALSE, v);
    case 'n':
        return jliteral(c, "null", K8S_JSON_NULL, v);
    default:
        return jnumber(c, v);
    }
}

int k8s_json_parse(const char *buf, size_t len, odin_arena *a, k8s_json **out, odin_err *err)
{
    jparser c = {.buf = buf, .p = buf, .end = buf + len, .a = a, .err = err};
    *out = NULL;
    k8s_json *root = odin_arena_zalloc(a, sizeof *root);
    int rc = root != NULL ? jvalue(&c, root, 1) : jfail(&c, ODIN_ERR_LIMIT, "memory cap");
    if (rc == 0) {
        jws(&c);
        if (c.p != c.end) {
            rc = jfail(&c, ODIN_ERR_PARSE, "trailing data after the value");
        }
    }
    free(c.stack);
    free(c.kstack);
    if (rc == 0) {
        *out = root;
    }
    return rc;
}

/* ---- Readers --------------------------------------------------------------------------------- */

static const k8s_json *get_n(const k8s_json *v, const char *key, size_t klen)
{
    if (v == NULL || v->type != K8S_JSON_OBJECT) {
        return NULL;
    }
    for (size_t i = v->n; i > 0; i--) {
        if (v->keys[i - 1].len == klen && memcmp(v->keys[i - 1].p, key, klen) == 0) {
            return &v->v[i - 1];
        }
    }
    return NULL;
}

const k8s_json *k8s_json_get(const k8s_json *v, const char *key)
{
    return get_n(v, key, strlen(key));
}

const k8s_json *k8s_json_path(const k8s_json *v, const char *path)
{
    const char *p = path;
    while (v != NULL) {
        const char *dot = strchr(p, '.');
        size_t n = dot != NULL ? (size_t)(dot - p) : strlen(p);
        v = get_n(v, p, n);
        if (dot == NULL) {
            return v;
        }
        p = dot + 1;
    }
    return NULL;
}

odin_str k8s_json_str(const k8s_json *v)
{
    if (v == NULL || v->type != K8S_JSON_STRING) {
        return (odin_str){"", 0};
    }
    return v->s;
}

bool k8s_json_is_str(const k8s_json *v)
{
    return v != NULL && v->type == K8S_JSON_STRING;
}

size_t k8s_json_len(const k8s_json *v, k8s_json_type want)
{
    return v != NULL && v->type == want ? v->n : 0;
}

bool k8s_json_i64(const k8s_json *v, int64_t *out)
{
    *out = 0;
    if (v == NULL || v->type != K8S_JSON_NUMBER) {
        return false;
    }
    return odin_parse_i64(v->s, out) == 0;
}

bool k8s_json_bool(const k8s_json *v, bool *present)
{
    bool is = v != NULL && (v->type == K8S_JSON_TRUE || v->type == K8S_JSON_FALSE);
    if (present != NULL) {
        *present = is;
    }
    return is && v->type == K8S_JSON_TRUE;
}

/* ---- Clone ----------------------------------------------------------------------------------- *
 * Layout of the block: [root node][all other nodes][all keys][all string bytes], so one free()
 * releases it and no pointer inside escapes it. Depth was bounded by the parser. */

typedef struct {
    size_t nodes;
    size_t keys;
    size_t bytes;
} clone_size;

typedef struct {
    k8s_json *nodes;
    odin_str *keys;
    char *bytes;
} clone_cursor;

static bool skipped(odin_str key, const char *const *skip)
{
    for (size_t i = 0; skip != NULL && skip[i] != NULL; i++) {
        if (odin_str_eq_c(key, skip[i])) {
            return true;
        }
    }
    return false;
}

static void clone_measure(const k8s_json *v, const char *const *skip, clone_size *sz)
{
    sz->bytes += v->s.len;
    for (size_t i = 0; i < v->n; i++) {
        if (v->type == K8S_JSON_OBJECT) {
            if (skipped(v->keys[i], skip)) {
                continue;
            }
            sz->keys++;
            sz->bytes += v->keys[i].len;
        }
        sz->nodes++;
        clone_measure(&v->v[i], skip, sz);
    }
}

static odin_str clone_bytes(odin_str s, clone_cursor *cur)
{
    if (s.len > 0) {
        memcpy(cur->bytes, s.p, s.len);
    }
    odin_str out = {cur->bytes, s.len};
    cur->bytes += s.len;
    return out;
}

static void clone_into(k8s_json *dst, const k8s_json *v, const char *const *skip,
                       clone_cursor *cur)
{
    *dst = (k8s_json){.type = v->type};
    dst->s = clone_bytes(v->s, cur);
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++) {
        n += v->type != K8S_JSON_OBJECT || !skipped(v->keys[i], skip);
    }
    if (n == 0) {
        return;
    }
    dst->v = cur->nodes;
    cur->nodes += n;
    if (v->type == K8S_JSON_OBJECT) {
        dst->keys = cur->keys;
        cur->keys += n;
    }
    for (size_t i = 0; i < v->n; i++) {
        if (v->type == K8S_JSON_OBJECT) {
            if (skipped(v->keys[i], skip)) {
                continue;
            }
            dst->keys[dst->n] = clone_bytes(v->keys[i], cur);
        }
        clone_into(&dst->v[dst->n], &v->v[i], skip, cur);
        dst->n++;
    }
}

k8s_json *k8s_json_clone(const k8s_json *v, const char *const *skip)
{
    clone_size sz = {1, 0, 0};
    clone_measure(v, skip, &sz);
    size_t total = sz.nodes * sizeof(k8s_json) + sz.keys * sizeof(odin_str) + sz.bytes;
    char *block = odin_malloc(total > 0 ? total : 1);
    clone_cursor cur = {
        .nodes = (k8s_json *)block + 1,
        .keys = (odin_str *)(block + sz.nodes * sizeof(k8s_json)),
        .bytes = block + sz.nodes * sizeof(k8s_json) + sz.keys * sizeof(odin_str),
    };
    k8s_json *root = (k8s_json *)block;
    clone_into(root, v, skip, &cur);
    return root;
}
