/* promql_expr_format: the canonical text of a syntax tree, as Prometheus' String() methods
 * (printer.go) write it; /api/v1/format_query returns it and the test runner re-parses it.
 * Recursion follows the tree, whose depth the parser bounds. */
#include "promql/lexer.h"
#include "promql/parser_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Deeper trees than the parser builds can only come from the engine's rewrites; stop there. */
#define FORMAT_MAX_DEPTH (PROMQL_MAX_DEPTH + 64)

static void fmt_node(odin_strbuf *b, const ast_node *n, int depth);

/* Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest digits that round-trip, written
 * without an exponent. */
static void put_float_f(odin_strbuf *b, double v)
{
    if (isnan(v)) {
        odin_strbuf_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        odin_strbuf_puts(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char g[64];
    size_t n = odin_format_double(v, g);
    size_t i = 0;
    if (i < n && g[i] == '-') {
        odin_strbuf_putc(b, '-');
        i++;
    }
    char digits[40];
    size_t nd = 0;
    long dp = 0; /* digits before the decimal point */
    bool seen_dot = false;
    for (; i < n && g[i] != 'e' && g[i] != 'E'; i++) {
        if (g[i] == '.') {
            seen_dot = true;
            continue;
        }
        if (nd < sizeof(digits)) {
            digits[nd++] = g[i];
        }
        if (!seen_dot) {
            dp++;
        }
    }
    if (i < n) {
        dp += strtol(g + i + 1, NULL, 10);
    }
    size_t lead = 0; /* drop leading zeros ("0.001" -> digits "1", point moves) */
    while (lead + 1 < nd && digits[lead] == '0') {
        lead++;
        dp--;
    }
    const char *d = digits + lead;
    nd -= lead;
    while (nd > 1 && d[nd - 1] == '0' && (long)nd > dp) {
        nd--;
    }
    if (nd == 1 && d[0] == '0') {
        odin_strbuf_putc(b, '0');
        return;
    }
    if (dp <= 0) {
        odin_strbuf_puts(b, "0.");
        for (long k = 0; k < -dp; k++) {
            odin_strbuf_putc(b, '0');
        }
        odin_strbuf_put(b, d, nd);
    } else if ((size_t)dp >= nd) {
        odin_strbuf_put(b, d, nd);
        for (long k = 0; k < dp - (long)nd; k++) {
            odin_strbuf_putc(b, '0');
        }
    } else {
        odin_strbuf_put(b, d, (size_t)dp);
        odin_strbuf_putc(b, '.');
        odin_strbuf_put(b, d + dp, nd - (size_t)dp);
    }
}

/* Prometheus' model.Duration.String: y and w only when exact, then d h m s ms; "0s" for 0. */
static void put_duration(odin_strbuf *b, int64_t ms)
{
    static const struct {
        const char *unit;
        int64_t mult;
        bool exact;
    } units[] = {
        {"y", 365LL * 24 * 3600 * 1000, true}, {"w", 7LL * 24 * 3600 * 1000, true},
        {"d", 24LL * 3600 * 1000, false},      {"h", 3600LL * 1000, false},
        {"m", 60LL * 1000, false},             {"s", 1000, false},
        {"ms", 1, false},
    };
    if (ms == 0) {
        odin_strbuf_puts(b, "0s");
        return;
    }
    for (size_t i = 0; i < ODIN_ARRAY_LEN(units); i++) {
        if (units[i].exact && ms % units[i].mult != 0) {
            continue;
        }
        int64_t v = ms / units[i].mult;
        if (v > 0) {
            odin_strbuf_put_i64(b, v);
            odin_strbuf_puts(b, units[i].unit);
            ms -= v * units[i].mult;
        }
    }
}

static void put_offset(odin_strbuf *b, int64_t ms)
{
    if (ms > 0) {
        odin_strbuf_puts(b, " offset ");
        put_duration(b, ms);
    } else if (ms < 0) {
        odin_strbuf_puts(b, " offset -");
        put_duration(b, -ms);
    }
}

/* " @ 10.000" (Go's %.3f of the seconds), " @ start()", " @ end()". */
static void put_at(odin_strbuf *b, ast_at at, int64_t at_ms)
{
    if (at == AT_START) {
        odin_strbuf_puts(b, " @ start()");
    } else if (at == AT_END) {
        odin_strbuf_puts(b, " @ end()");
    } else if (at == AT_TIME) {
        odin_strbuf_puts(b, " @ ");
        uint64_t a = at_ms < 0 ? (uint64_t)0 - (uint64_t)at_ms : (uint64_t)at_ms;
        if (at_ms < 0) {
            odin_strbuf_putc(b, '-');
        }
        odin_strbuf_put_u64(b, a / 1000);
        char frac[5] = {'.', (char)('0' + a % 1000 / 100), (char)('0' + a % 100 / 10),
                        (char)('0' + a % 10), '\0'};
        odin_strbuf_puts(b, frac);
    }
}

/* Label names that are not legacy identifiers are quoted (Prometheus 3.x UTF-8 names). */
static bool legacy_label_name(const char *s)
{
    if (!*s) {
        return false;
    }
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (i > 0 && c >= '0' && c <= '9');
        if (!ok) {
            return false;
        }
    }
    return true;
}

static void put_label_name(odin_strbuf *b, const char *s)
{
    if (legacy_label_name(s)) {
        odin_strbuf_puts(b, s);
    } else {
        promql_quote(b, s, strlen(s));
    }
}

static void put_label_list(odin_strbuf *b, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            odin_strbuf_puts(b, ", ");
        }
        put_label_name(b, v[i]);
    }
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* name{matchers sorted as text}, leaving out the __name__ matcher of a name written outside. */
static void put_selector_base(odin_strbuf *b, const ast_selector *s)
{
    static const char *const ops[] = {"=", "!=", "=~", "!~"};
    if (s->name) {
        odin_strbuf_puts(b, s->name);
    }
    char **strs = odin_calloc(s->nmatchers ? s->nmatchers : 1, sizeof(*strs));
    size_t n = 0;
    for (size_t i = 0; i < s->nmatchers; i++) {
        const tsdb_matcher *m = &s->matchers[i];
        if (s->name && m->type == TSDB_MATCH_EQ && strcmp(m->name, "__name__") == 0 &&
            strcmp(m->value, s->name) == 0 && m->value[0] != '\0') {
            continue;
        }
        odin_strbuf t;
        odin_strbuf_init(&t, 0);
        put_label_name(&t, m->name);
        odin_strbuf_puts(&t, ops[m->type]);
        promql_quote(&t, m->value, strlen(m->value));
        strs[n++] = odin_strbuf_take(&t, NULL);
        odin_strbuf_fini(&t);
    }
    if (n > 0) {
        qsort(strs, n, sizeof(*strs), cmp_cstr);
        odin_strbuf_putc(b, '{');
        for (size_t i = 0; i < n; i++) {
            if (i > 0) {
                odin_strbuf_putc(b, ',');
            }
            odin_strbuf_puts(b, strs[i]);
            free(strs[i]);
        }
        odin_strbuf_putc(b, '}');
    }
    free(strs);
}

static void fmt_binary(odin_strbuf *b, const ast_binary *bin, int depth)
{
    fmt_node(b, bin->lhs, depth + 1);
    odin_strbuf_putc(b, ' ');
    odin_strbuf_puts(b, ast_binop_name(bin->op));
    if (bin->return_bool) {
        odin_strbuf_puts(b, " bool");
    }
    bool grouped = bin->card == CARD_MANY_TO_ONE || bin->card == CARD_ONE_TO_MANY;
    if (bin->nlabels > 0 || bin->on || grouped) {
        odin_strbuf_puts(b, bin->on ? " on (" : " ignoring (");
        put_label_list(b, bin->labels, bin->nlabels);
        odin_strbuf_putc(b, ')');
    }
    if (grouped) {
        odin_strbuf_puts(b, bin->card == CARD_MANY_TO_ONE ? " group_left (" : " group_right (");
        put_label_list(b, bin->include, bin->ninclude);
        odin_strbuf_putc(b, ')');
    }
    odin_strbuf_putc(b, ' ');
    fmt_node(b, bin->rhs, depth + 1);
}

static void fmt_aggregate(odin_strbuf *b, const ast_aggregate *a, int depth)
{
    odin_strbuf_puts(b, ast_aggop_name(a->op));
    if (a->without) {
        odin_strbuf_puts(b, " without (");
        put_label_list(b, a->grouping, a->ngrouping);
        odin_strbuf_puts(b, ") ");
    } else if (a->ngrouping > 0) {
        odin_strbuf_puts(b, " by (");
        put_label_list(b, a->grouping, a->ngrouping);
        odin_strbuf_puts(b, ") ");
    }
    odin_strbuf_putc(b, '(');
    if (a->param) {
        fmt_node(b, a->param, depth + 1);
        odin_strbuf_puts(b, ", ");
    }
    fmt_node(b, a->expr, depth + 1);
    odin_strbuf_putc(b, ')');
}

static void fmt_number(odin_strbuf *b, const ast_node *n)
{
    double v = n->u.number;
    if (!n->number_is_duration || isnan(v) || isinf(v)) {
        put_float_f(b, v);
        return;
    }
    if (v < 0) {
        odin_strbuf_putc(b, '-');
        v = -v;
    }
    put_duration(b, llround(v * 1000.0));
}

static void fmt_node(odin_strbuf *b, const ast_node *n, int depth)
{
    if (depth > FORMAT_MAX_DEPTH) {
        odin_strbuf_puts(b, "...");
        return;
    }
    switch (n->kind) {
    case AST_NUMBER:
        fmt_number(b, n);
        break;
    case AST_STRING:
        promql_quote(b, n->u.string, strlen(n->u.string));
        break;
    case AST_VECTOR_SEL:
        put_selector_base(b, &n->u.sel);
        put_at(b, n->u.sel.at, n->u.sel.at_ms);
        put_offset(b, n->u.sel.offset_ms);
        break;
    case AST_MATRIX_SEL:
        put_selector_base(b, &n->u.sel);
        odin_strbuf_putc(b, '[');
        put_duration(b, n->u.sel.range_ms);
        odin_strbuf_putc(b, ']');
        put_at(b, n->u.sel.at, n->u.sel.at_ms);
        put_offset(b, n->u.sel.offset_ms);
        break;
    case AST_SUBQUERY:
        fmt_node(b, n->u.sub.expr, depth + 1);
        odin_strbuf_putc(b, '[');
        put_duration(b, n->u.sub.range_ms);
        odin_strbuf_putc(b, ':');
        if (n->u.sub.step_ms != 0) {
            put_duration(b, n->u.sub.step_ms);
        }
        odin_strbuf_putc(b, ']');
        put_at(b, n->u.sub.at, n->u.sub.at_ms);
        put_offset(b, n->u.sub.offset_ms);
        break;
    case AST_PAREN:
        odin_strbuf_putc(b, '(');
        fmt_node(b, n->u.inner, depth + 1);
        odin_strbuf_putc(b, ')');
        break;
    case AST_UNARY:
        odin_strbuf_putc(b, n->unary_minus ? '-' : '+');
        fmt_node(b, n->u.inner, depth + 1);
        break;
    case AST_BINARY:
        fmt_binary(b, &n->u.bin, depth);
        break;
    case AST_AGGREGATE:
        fmt_aggregate(b, &n->u.agg, depth);
        break;
    case AST_CALL:
        odin_strbuf_puts(b, n->u.call.fn->name);
        odin_strbuf_putc(b, '(');
        for (size_t i = 0; i < n->u.call.nargs; i++) {
            if (i > 0) {
                odin_strbuf_puts(b, ", ");
            }
            fmt_node(b, n->u.call.args[i], depth + 1);
        }
        odin_strbuf_putc(b, ')');
        break;
    case AST_STEP_INVARIANT:
        fmt_node(b, n->u.inner, depth + 1);
        break;
    }
}

void promql_expr_format(odin_strbuf *out, const promql_expr *e)
{
    if (e && e->root) {
        fmt_node(out, e->root, 0);
    }
}
