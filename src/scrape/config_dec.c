/* Typed decoding of YAML nodes into configuration fields, and the table-driven mapping decoder
 * that refuses unknown keys. Every failure names "file:line:col: field.path: reason"; values of
 * secret fields are never quoted in a message (scalars are quoted only by type-specific code). */
#include "scrape/config_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int scrape_dec_fail(scrape_dec *d, const odin_yaml_node *n, const char *fmt, ...)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 4096);
    va_list ap;
    va_start(ap, fmt);
    odin_strbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    const char *reason = b.p && odin_strbuf_ok(&b) ? b.p : "invalid value";
    size_t line = n ? n->line : 1;
    size_t col = n ? n->col : 1;
    int rc;
    if (d->path_len == 0) {
        rc = odin_err_set(d->err, ODIN_ERR_INVALID, "%s:%zu:%zu: %s", d->name, line, col, reason);
    } else {
        rc = odin_err_set(d->err, ODIN_ERR_INVALID, "%s:%zu:%zu: %s: %s", d->name, line, col,
                          d->path, reason);
    }
    odin_strbuf_fini(&b);
    return rc;
}

static size_t push(scrape_dec *d, const char *piece, size_t len)
{
    size_t old = d->path_len;
    if (d->path_len + len + 1 > sizeof(d->path)) {
        len = sizeof(d->path) - 1 - d->path_len; /* deep paths are cut, never overflowed */
    }
    memcpy(d->path + d->path_len, piece, len);
    d->path_len += len;
    d->path[d->path_len] = '\0';
    return old;
}

size_t scrape_dec_push_key(scrape_dec *d, const char *key)
{
    size_t old = d->path_len;
    if (d->path_len > 0) {
        push(d, ".", 1);
    }
    size_t klen = strlen(key);
    push(d, key, klen > 64 ? 64 : klen);
    return old;
}

size_t scrape_dec_push_index(scrape_dec *d, size_t i)
{
    char buf[32];
    size_t n = 0;
    char digits[24];
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + i % 10);
        i /= 10;
    } while (i > 0);
    buf[n++] = '[';
    while (nd > 0) {
        buf[n++] = digits[--nd];
    }
    buf[n++] = ']';
    return push(d, buf, n);
}

void scrape_dec_pop(scrape_dec *d, size_t old_len)
{
    d->path_len = old_len;
    d->path[old_len] = '\0';
}

static const char *kind_name(const odin_yaml_node *n)
{
    switch (n->kind) {
    case ODIN_YAML_SEQ:
        return "a sequence";
    case ODIN_YAML_MAP:
        return "a mapping";
    case ODIN_YAML_NULL:
        return "null";
    default:
        return "a scalar";
    }
}

static int want_scalar(scrape_dec *d, const odin_yaml_node *n, const char *what)
{
    if (n->kind != ODIN_YAML_SCALAR) {
        return scrape_dec_fail(d, n, "expected %s, got %s", what, kind_name(n));
    }
    return 0;
}

int scrape_dec_string(scrape_dec *d, const odin_yaml_node *n, char **out)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    int rc = want_scalar(d, n, "a string");
    if (rc < 0) {
        return rc;
    }
    free(*out);
    *out = odin_strndup(n->s, n->len);
    return 0;
}

int scrape_dec_bool(scrape_dec *d, const odin_yaml_node *n, bool *out)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    int rc = want_scalar(d, n, "a boolean");
    if (rc < 0) {
        return rc;
    }
    /* YAML 1.1 spellings, as Go's yaml.v2 resolves them */
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
                                      "on",   "On",   "ON",   "y",   "Y"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO",
                                     "off",   "Off",   "OFF",   "n",  "N"};
    for (size_t i = 0; !n->quoted && i < ODIN_ARRAY_LEN(yes); i++) {
        if (strcmp(n->s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(n->s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return scrape_dec_fail(d, n, "expected a boolean, got \"%.64s\"", n->s);
}

int scrape_dec_u64(scrape_dec *d, const odin_yaml_node *n, uint64_t *out)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    int rc = want_scalar(d, n, "an unsigned integer");
    if (rc < 0) {
        return rc;
    }
    if (n->quoted || odin_parse_u64((odin_str){n->s, n->len}, out) < 0) {
        return scrape_dec_fail(d, n, "expected an unsigned integer, got \"%.64s\"", n->s);
    }
    return 0;
}

int scrape_dec_int(scrape_dec *d, const odin_yaml_node *n, int *out)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    int rc = want_scalar(d, n, "an integer");
    if (rc < 0) {
        return rc;
    }
    int64_t v;
    if (n->quoted || odin_parse_i64((odin_str){n->s, n->len}, &v) < 0 || v < -2147483647 - 1 ||
        v > 2147483647) {
        return scrape_dec_fail(d, n, "expected an integer, got \"%.64s\"", n->s);
    }
    *out = (int)v;
    return 0;
}

int scrape_dec_double(scrape_dec *d, const odin_yaml_node *n, double *out)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    int rc = want_scalar(d, n, "a number");
    if (rc < 0) {
        return rc;
    }
    if (n->quoted || odin_parse_double((odin_str){n->s, n->len}, out) < 0) {
        return scrape_dec_fail(d, n, "expected a number, got \"%.64s\"", n->s);
    }
    return 0;
}

int scrape_dec_duration(scrape_dec *d, const odin_yaml_node *n, int64_t *out_ms)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    int rc = want_scalar(d, n, "a duration");
    if (rc < 0) {
        return rc;
    }
    if (odin_parse_duration_ms((odin_str){n->s, n->len}, out_ms) < 0) {
        return scrape_dec_fail(d, n, "not a valid duration string: \"%.64s\"", n->s);
    }
    return 0;
}

/* Base2Bytes units: the current "KiB" spelling and the older "KB" one both mean 1024. */
static int size_unit(odin_str u, double *mult)
{
    static const char prefixes[] = "KMGTPE";
    if (odin_str_eq_c(u, "B")) {
        *mult = 1;
        return 0;
    }
    if (u.len < 2 || u.len > 3 || u.p[u.len - 1] != 'B' || (u.len == 3 && u.p[1] != 'i')) {
        return -ODIN_ERR_PARSE;
    }
    const char *at = memchr(prefixes, u.p[0], sizeof(prefixes) - 1);
    if (at == NULL) {
        return -ODIN_ERR_PARSE;
    }
    *mult = ldexp(1.0, 10 * (int)(at - prefixes + 1));
    return 0;
}

int scrape_parse_size(odin_str s, uint64_t *out_bytes)
{
    if (odin_str_eq_c(s, "0")) {
        *out_bytes = 0;
        return 0;
    }
    double total = 0;
    size_t i = 0;
    if (s.len == 0) {
        return -ODIN_ERR_PARSE;
    }
    while (i < s.len) {
        size_t start = i;
        double v = 0, scale = 1;
        bool digits = false;
        for (; i < s.len && s.p[i] >= '0' && s.p[i] <= '9'; i++) {
            v = v * 10 + (s.p[i] - '0');
            digits = true;
        }
        if (i < s.len && s.p[i] == '.') {
            for (i++; i < s.len && s.p[i] >= '0' && s.p[i] <= '9'; i++) {
                scale /= 10;
                v += (s.p[i] - '0') * scale;
                digits = true;
            }
        }
        if (!digits || i == start) {
            return -ODIN_ERR_PARSE;
        }
        size_t ustart = i;
        while (i < s.len && s.p[i] != '.' && !(s.p[i] >= '0' && s.p[i] <= '9')) {
            i++;
        }
        double mult;
        if (size_unit((odin_str){s.p + ustart, i - ustart}, &mult) < 0) {
            return -ODIN_ERR_PARSE;
        }
        total += v * mult;
    }
    if (!(total < 9.2e18)) {
        return -ODIN_ERR_PARSE;
    }
    *out_bytes = (uint64_t)total;
    return 0;
}

int scrape_dec_size(scrape_dec *d, const odin_yaml_node *n, uint64_t *out_bytes)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    int rc = want_scalar(d, n, "a size");
    if (rc < 0) {
        return rc;
    }
    if (scrape_parse_size((odin_str){n->s, n->len}, out_bytes) < 0) {
        return scrape_dec_fail(d, n, "not a valid size: \"%.64s\" (use B, KB, MB, GB, ...)", n->s);
    }
    return 0;
}

int scrape_dec_strings(scrape_dec *d, const odin_yaml_node *n, char ***out, size_t *nout)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (n->kind != ODIN_YAML_SEQ) {
        return scrape_dec_fail(d, n, "expected a list of strings, got %s", kind_name(n));
    }
    char **v = odin_calloc(n->n ? n->n : 1, sizeof(*v));
    size_t k = 0;
    for (; k < n->n; k++) {
        size_t old = scrape_dec_push_index(d, k);
        int rc = want_scalar(d, n->v[k], "a string");
        scrape_dec_pop(d, old);
        if (rc < 0) {
            for (size_t j = 0; j < k; j++) {
                free(v[j]);
            }
            free(v);
            return rc;
        }
        v[k] = odin_strndup(n->v[k]->s, n->v[k]->len);
    }
    for (size_t j = 0; j < *nout; j++) {
        free((*out)[j]);
    }
    free(*out);
    *out = v;
    *nout = k;
    return 0;
}

bool scrape_label_name_ok(odin_str s, bool legacy)
{
    if (legacy) {
        return odin_label_name_valid(s);
    }
    return s.len > 0 && odin_utf8_valid(s.p, s.len);
}

static void labels_free(odin_label *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)v[i].name.p);
        free((char *)v[i].value.p);
    }
    free(v);
}

int scrape_dec_labels(scrape_dec *d, const odin_yaml_node *n, bool check_names, odin_label **out,
                      size_t *nout)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (n->kind != ODIN_YAML_MAP) {
        return scrape_dec_fail(d, n, "expected a mapping of label names to values, got %s",
                               kind_name(n));
    }
    odin_label *v = odin_calloc(n->n ? n->n : 1, sizeof(*v));
    odin_map seen;
    odin_map_init(&seen);
    int rc = 0;
    size_t k = 0;
    for (; k < n->n && rc == 0; k++) {
        const odin_yaml_node *key = n->v[2 * k], *val = n->v[2 * k + 1];
        if (key->kind != ODIN_YAML_SCALAR) {
            rc = scrape_dec_fail(d, key, "label name must be a string");
            break;
        }
        size_t old = scrape_dec_push_key(d, key->s);
        odin_str name = {key->s, key->len};
        if (check_names && !scrape_label_name_ok(name, d->legacy_names)) {
            rc = scrape_dec_fail(d, key, "\"%.64s\" is not a valid label name", key->s);
        } else if (odin_map_put(&seen, key->s, key->len, (void *)key) != NULL) {
            rc = scrape_dec_fail(d, key, "label \"%.64s\" given twice", key->s);
        } else if (!odin_yaml_is_null(val) && val->kind != ODIN_YAML_SCALAR) {
            rc = scrape_dec_fail(d, val, "label value must be a string, got %s", kind_name(val));
        } else if (!odin_yaml_is_null(val) && !odin_utf8_valid(val->s, val->len)) {
            rc = scrape_dec_fail(d, val, "label value is not valid UTF-8");
        }
        scrape_dec_pop(d, old);
        if (rc == 0) {
            bool null = odin_yaml_is_null(val);
            v[k].name = (odin_str){odin_strndup(key->s, key->len), key->len};
            v[k].value = (odin_str){odin_strndup(null ? "" : val->s, null ? 0 : val->len),
                                    null ? 0 : val->len};
        }
    }
    odin_map_fini(&seen);
    if (rc < 0) {
        labels_free(v, k);
        return rc;
    }
    odin_labels_sort(v, k);
    labels_free(*out, *nout);
    *out = v;
    *nout = k;
    return 0;
}

static int dec_field(scrape_dec *d, const scrape_field *f, const odin_yaml_node *v, void *obj)
{
    char *base = obj;
    switch (f->kind) {
    case SCRAPE_F_STRING:
        return scrape_dec_string(d, v, (char **)(base + f->off));
    case SCRAPE_F_BOOL:
        return scrape_dec_bool(d, v, (bool *)(base + f->off));
    case SCRAPE_F_U64:
        return scrape_dec_u64(d, v, (uint64_t *)(base + f->off));
    case SCRAPE_F_INT:
        return scrape_dec_int(d, v, (int *)(base + f->off));
    case SCRAPE_F_DOUBLE:
        return scrape_dec_double(d, v, (double *)(base + f->off));
    case SCRAPE_F_DURATION:
        return scrape_dec_duration(d, v, (int64_t *)(base + f->off));
    case SCRAPE_F_SIZE:
        return scrape_dec_size(d, v, (uint64_t *)(base + f->off));
    case SCRAPE_F_STRINGS:
        return scrape_dec_strings(d, v, (char ***)(base + f->off), (size_t *)(base + f->off2));
    case SCRAPE_F_FN:
        return f->fn(d, v, obj);
    case SCRAPE_F_REJECT:
        return scrape_dec_fail(d, v, "not supported by Odin");
    }
    return scrape_dec_fail(d, v, "internal: unknown field kind");
}

static int dec_pair(scrape_dec *d, const odin_yaml_node *key, const odin_yaml_node *val,
                    const char *type, scrape_fieldset *sets, size_t nsets)
{
    for (size_t s = 0; s < nsets; s++) {
        for (size_t i = 0; i < sets[s].nfields; i++) {
            const scrape_field *f = &sets[s].fields[i];
            if (strcmp(f->key, key->s) != 0) {
                continue;
            }
            uint64_t bit = i < 64 ? (uint64_t)1 << i : 0;
            if (sets[s].seen & bit) {
                return scrape_dec_fail(d, key, "field given twice in %s", type);
            }
            sets[s].seen |= bit;
            return dec_field(d, f, val, sets[s].obj);
        }
    }
    return scrape_dec_fail(d, key, "unknown field in %s", type);
}

int scrape_dec_fields(scrape_dec *d, const odin_yaml_node *n, const char *type,
                      scrape_fieldset *sets, size_t nsets)
{
    if (odin_yaml_is_null(n)) {
        return 0;
    }
    if (n->kind != ODIN_YAML_MAP) {
        return scrape_dec_fail(d, n, "expected a mapping (%s), got %s", type, kind_name(n));
    }
    for (size_t k = 0; k < n->n; k++) {
        const odin_yaml_node *key = n->v[2 * k];
        if (key->kind != ODIN_YAML_SCALAR) {
            return scrape_dec_fail(d, key, "keys of %s must be strings", type);
        }
        if (memchr(key->s, '\0', key->len) != NULL) {
            return scrape_dec_fail(d, key, "unknown field in %s", type);
        }
        size_t old = scrape_dec_push_key(d, key->s);
        int rc = dec_pair(d, key, n->v[2 * k + 1], type, sets, nsets);
        scrape_dec_pop(d, old);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

bool scrape_fieldset_seen(const scrape_fieldset *s, const char *key)
{
    for (size_t i = 0; i < s->nfields && i < 64; i++) {
        if (strcmp(s->fields[i].key, key) == 0) {
            return (s->seen >> i) & 1;
        }
    }
    return false;
}
