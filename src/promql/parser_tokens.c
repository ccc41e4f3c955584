/* The parser's groundwork, shared by the grammar files: node allocation in the expression's
 * arena with a depth count, the token stream with two tokens of lookahead, Prometheus' error
 * texts, and the values of number, duration and string tokens. */
#include "promql/parser_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Every node carries its tree depth next to it; see promql_node_depth. */
typedef struct {
    ast_node node;
    uint32_t depth;
} pnode;

uint32_t promql_node_depth(const ast_node *n)
{
    return ((const pnode *)(const void *)n)->depth;
}

void promql_parser_error(promql_parser *p, uint32_t pos, const char *fmt, ...)
{
    if (p->failed) {
        return;
    }
    p->failed = true;
    odin_strbuf m;
    odin_strbuf_init(&m, 512);
    va_list ap;
    va_start(ap, fmt);
    odin_strbuf_vprintf(&m, fmt, ap);
    va_end(ap);
    if (p->len == 0) {
        odin_err_set(p->err, ODIN_ERR_PARSE, "unknown position: parse error: %s", m.p ? m.p : "");
    } else {
        unsigned line = 1;
        size_t line_start = 0;
        for (size_t i = 0; i < pos && i < p->len; i++) {
            if (p->in[i] == '\n') {
                line++;
                line_start = i + 1;
            }
        }
        odin_err_set(p->err, ODIN_ERR_PARSE, "%u:%zu: parse error: %s", line,
                     (size_t)pos - line_start + 1, m.p ? m.p : "");
    }
    odin_strbuf_fini(&m);
}

void *promql_palloc(promql_parser *p, size_t n)
{
    void *m = odin_arena_zalloc(&p->expr->arena, n);
    if (!m) {
        promql_parser_error(p, 0, "query too large");
        if (p->err && p->err->code == ODIN_ERR_PARSE) {
            p->err->code = ODIN_ERR_LIMIT;
        }
    }
    return m;
}

char *promql_pstrndup(promql_parser *p, const char *s, size_t n)
{
    char *d = promql_palloc(p, n + 1);
    if (d) {
        memcpy(d, s, n);
    }
    return d;
}

ast_node *promql_new_node(promql_parser *p, ast_kind kind, uint32_t start)
{
    pnode *pn = promql_palloc(p, sizeof(*pn));
    if (!pn) {
        return NULL;
    }
    pn->depth = 1;
    pn->node.kind = kind;
    pn->node.pos_start = start;
    pn->node.pos_end = start;
    return &pn->node;
}

/* Makes child a child of parent for the depth count; false (with an error) past the limit. */
bool promql_adopt(promql_parser *p, ast_node *parent, const ast_node *child)
{
    pnode *pp = (pnode *)(void *)parent;
    uint32_t d = promql_node_depth(child) + 1;
    if (d > pp->depth) {
        pp->depth = d;
    }
    if (pp->depth > PROMQL_MAX_DEPTH) {
        promql_parser_error(p, parent->pos_start, "expression nests deeper than %d levels",
                            PROMQL_MAX_DEPTH);
        return false;
    }
    return true;
}

/* ---- Tokens --------------------------------------------------------------------------------- */

static void fetch(promql_parser *p, promql_token *t)
{
    promql_lexer_next(&p->lex, t);
    if (t->type == TOK_ERROR) {
        promql_parser_error(p, (uint32_t)p->lex.err_pos, "%s", p->lex.msg.p ? p->lex.msg.p : "");
    }
}

const promql_token *promql_tok_peek(promql_parser *p)
{
    if (p->nla == 0) {
        fetch(p, &p->la[0]);
        p->nla = 1;
    }
    return &p->la[0];
}

const promql_token *promql_tok_peek2(promql_parser *p)
{
    promql_tok_peek(p);
    if (p->nla == 1) {
        fetch(p, &p->la[1]);
        p->nla = 2;
    }
    return &p->la[1];
}

promql_token promql_tok_next(promql_parser *p)
{
    promql_token t = *promql_tok_peek(p);
    p->la[0] = p->la[1];
    p->nla--;
    switch (t.type) {
    case TOK_RBRACE:
    case TOK_RPAREN:
    case TOK_RBRACKET:
    case TOK_DURATION:
    case TOK_NUMBER:
        p->last_closing = t.pos + t.len;
        break;
    default:
        break;
    }
    return t;
}

/* "unexpected <token>[ in <context>][, expected <what>]" at the token. */
void promql_unexpected(promql_parser *p, const promql_token *t, const char *context,
                       const char *expected)
{
    if (p->failed) {
        return;
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_puts(&b, "unexpected ");
    promql_token_desc(&b, p->in, t);
    if (context) {
        odin_strbuf_printf(&b, " in %s", context);
    }
    if (expected) {
        odin_strbuf_printf(&b, ", expected %s", expected);
    }
    promql_parser_error(p, t->pos, "%s", b.p);
    odin_strbuf_fini(&b);
}

bool promql_tok_in(promql_tok_type t, promql_tok_type lo, promql_tok_type hi)
{
    return t > lo && t < hi;
}

/* Tokens Prometheus accepts as a label name in grouping lists (maybe_label). */
bool promql_is_label_token(promql_tok_type t)
{
    return t == TOK_IDENT || t == TOK_METRIC_IDENT ||
           promql_tok_in(t, TOK_AGGS_START, TOK_AGGS_END) ||
           promql_tok_in(t, TOK_KEYWORDS_START, TOK_KEYWORDS_END) || t >= TOK_START ||
           t == TOK_LAND || t == TOK_LOR || t == TOK_LUNLESS || t == TOK_ATAN2;
}

/* Tokens that may name a metric (metric_identifier): keywords other than bool, on, ignoring,
 * group_left, group_right and atan2 count as plain names there. */
bool promql_is_metric_token(promql_tok_type t)
{
    return promql_is_label_token(t) && t != TOK_BOOL && t != TOK_ON && t != TOK_IGNORING &&
           t != TOK_GROUP_LEFT && t != TOK_GROUP_RIGHT && t != TOK_ATAN2;
}

/* ---- Literals ------------------------------------------------------------------------------- */

/* Removes Go digit-separator underscores; false when one is misplaced. */
static bool strip_underscores(const char *s, size_t n, char *out, size_t *outn)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '_') {
            out[k++] = s[i];
            continue;
        }
        bool prev_ok =
            i > 0 && s[i - 1] != '_' && s[i - 1] != '.' && s[i - 1] != 'e' && s[i - 1] != 'E';
        bool next_ok = i + 1 < n && s[i + 1] != '_' && s[i + 1] != '.';
        if (!prev_ok || !next_ok) {
            return false;
        }
    }
    out[k] = '\0';
    *outn = k;
    return true;
}

/* Integer forms first (strconv.ParseInt base 0: hex 0x, octal with a leading 0), then
 * strconv.ParseFloat, as Prometheus' parser.number. */
bool promql_number_text(promql_parser *p, const promql_token *t, double *out)
{
    const char *s = p->in + t->pos;
    char *buf = promql_palloc(p, t->len + 1);
    size_t n = 0;
    if (!buf) {
        return false;
    }
    bool syntax_ok = strip_underscores(s, t->len, buf, &n);
    bool hex = n > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X');
    bool octal = n > 1 && buf[0] == '0' && strspn(buf, "01234567") == n;
    if (syntax_ok && (hex || octal)) {
        uint64_t v = 0;
        unsigned base = hex ? 16 : 8;
        bool range_ok = true;
        for (size_t i = hex ? 2 : 1; i < n; i++) {
            char c = buf[i];
            unsigned d = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
            if (v > (UINT64_C(0x7FFFFFFFFFFFFFFF) - d) / base) {
                range_ok = false;
                break;
            }
            v = v * base + d;
        }
        if (range_ok) {
            *out = (double)v;
            return true;
        }
    }
    const char *why = "invalid syntax";
    if (syntax_ok && !hex) {
        char *end;
        errno = 0;
        double v = strtod(buf, &end);
        if (end == buf + n && n > 0) {
            if (!(errno == ERANGE && isinf(v))) {
                *out = v;
                return true;
            }
            why = "value out of range";
        }
    }
    odin_strbuf q;
    odin_strbuf_init(&q, 0);
    promql_quote(&q, s, t->len);
    promql_parser_error(p, t->pos, "error parsing number: strconv.ParseFloat: parsing %s: %s", q.p,
                        why);
    odin_strbuf_fini(&q);
    return false;
}

/* The value of a NUMBER (seconds when used as a duration) or DURATION token, in seconds. */
bool promql_literal_seconds(promql_parser *p, const promql_token *t, double *sec)
{
    if (t->type == TOK_NUMBER) {
        return promql_number_text(p, t, sec);
    }
    int64_t ms;
    odin_strbuf msg;
    odin_strbuf_init(&msg, 512);
    int rc = promql_parse_duration(p->in + t->pos, t->len, &ms, &msg);
    if (rc < 0) {
        promql_parser_error(p, t->pos, "%s", msg.p ? msg.p : "bad duration");
    }
    odin_strbuf_fini(&msg);
    *sec = (double)ms / 1000.0;
    return rc == 0;
}

char *promql_unquote_token(promql_parser *p, const promql_token *t, size_t *outlen)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    char *s = NULL;
    if (promql_unquote(p->in + t->pos, t->len, &b) < 0) {
        promql_parser_error(p, t->pos, "error unquoting string");
    } else {
        s = promql_pstrndup(p, b.p ? b.p : "", b.len);
        *outlen = b.len;
    }
    odin_strbuf_fini(&b);
    return s;
}
