/* The PromQL parser: recursive descent with precedence climbing over the lexer's tokens,
 * building the syntax tree of ast.h in the expression's arena. It reproduces the grammar of
 * Prometheus' generated parser (generated_parser.y) and its error texts; type checking is in
 * parser_check.c. Duration arithmetic, fill modifiers and anchored/smoothed selectors are
 * experimental in Prometheus 3.x and refused here with Prometheus' "not enabled" messages. */
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

static void *palloc(promql_parser *p, size_t n)
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

static char *pstrndup(promql_parser *p, const char *s, size_t n)
{
    char *d = palloc(p, n + 1);
    if (d) {
        memcpy(d, s, n);
    }
    return d;
}

static ast_node *new_node(promql_parser *p, ast_kind kind, uint32_t start)
{
    pnode *pn = palloc(p, sizeof(*pn));
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
static bool adopt(promql_parser *p, ast_node *parent, const ast_node *child)
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

static const promql_token *peek(promql_parser *p)
{
    if (p->nla == 0) {
        fetch(p, &p->la[0]);
        p->nla = 1;
    }
    return &p->la[0];
}

static const promql_token *peek2(promql_parser *p)
{
    peek(p);
    if (p->nla == 1) {
        fetch(p, &p->la[1]);
        p->nla = 2;
    }
    return &p->la[1];
}

static promql_token next(promql_parser *p)
{
    promql_token t = *peek(p);
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
static void unexpected(promql_parser *p, const promql_token *t, const char *context,
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

static bool tok_in(promql_tok_type t, promql_tok_type lo, promql_tok_type hi)
{
    return t > lo && t < hi;
}

/* Tokens Prometheus accepts as a label name in grouping lists (maybe_label). */
static bool is_label_token(promql_tok_type t)
{
    return t == TOK_IDENT || t == TOK_METRIC_IDENT || tok_in(t, TOK_AGGS_START, TOK_AGGS_END) ||
           tok_in(t, TOK_KEYWORDS_START, TOK_KEYWORDS_END) || t >= TOK_START || t == TOK_LAND ||
           t == TOK_LOR || t == TOK_LUNLESS || t == TOK_ATAN2;
}

/* Tokens that may name a metric (metric_identifier): keywords other than bool, on, ignoring,
 * group_left, group_right and atan2 count as plain names there. */
static bool is_metric_token(promql_tok_type t)
{
    return is_label_token(t) && t != TOK_BOOL && t != TOK_ON && t != TOK_IGNORING &&
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
        bool prev_ok = i > 0 && s[i - 1] != '_' && s[i - 1] != '.' && s[i - 1] != 'e' &&
                       s[i - 1] != 'E';
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
static bool parse_number_text(promql_parser *p, const promql_token *t, double *out)
{
    const char *s = p->in + t->pos;
    char *buf = palloc(p, t->len + 1);
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
    promql_parser_error(p, t->pos, "error parsing number: strconv.ParseFloat: parsing %s: %s",
                        q.p, why);
    odin_strbuf_fini(&q);
    return false;
}

/* The value of a NUMBER (seconds when used as a duration) or DURATION token, in seconds. */
static bool literal_seconds(promql_parser *p, const promql_token *t, double *sec)
{
    if (t->type == TOK_NUMBER) {
        return parse_number_text(p, t, sec);
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

static char *unquote_token(promql_parser *p, const promql_token *t, size_t *outlen)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    char *s = NULL;
    if (promql_unquote(p->in + t->pos, t->len, &b) < 0) {
        promql_parser_error(p, t->pos, "error unquoting string");
    } else {
        s = pstrndup(p, b.p ? b.p : "", b.len);
        *outlen = b.len;
    }
    odin_strbuf_fini(&b);
    return s;
}

/* ---- Expressions ---------------------------------------------------------------------------- */

static ast_node *parse_expr(promql_parser *p, int min_prec);

enum { PREC_OR = 1, PREC_AND, PREC_CMP, PREC_ADD, PREC_MUL, PREC_POW };

static int binop_prec(promql_tok_type t, ast_binop *op)
{
    static const struct {
        promql_tok_type tok;
        ast_binop op;
        int prec;
    } ops[] = {
        {TOK_LOR, OP_OR, PREC_OR},     {TOK_LAND, OP_AND, PREC_AND},
        {TOK_LUNLESS, OP_UNLESS, PREC_AND}, {TOK_EQLC, OP_EQL, PREC_CMP},
        {TOK_NEQ, OP_NEQ, PREC_CMP},   {TOK_LTE, OP_LTE, PREC_CMP},
        {TOK_LSS, OP_LSS, PREC_CMP},   {TOK_GTE, OP_GTE, PREC_CMP},
        {TOK_GTR, OP_GTR, PREC_CMP},   {TOK_ADD, OP_ADD, PREC_ADD},
        {TOK_SUB, OP_SUB, PREC_ADD},   {TOK_MUL, OP_MUL, PREC_MUL},
        {TOK_DIV, OP_DIV, PREC_MUL},   {TOK_MOD, OP_MOD, PREC_MUL},
        {TOK_ATAN2, OP_ATAN2, PREC_MUL}, {TOK_POW, OP_POW, PREC_POW},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(ops); i++) {
        if (ops[i].tok == t) {
            *op = ops[i].op;
            return ops[i].prec;
        }
    }
    return -1;
}

/* A growable array of label names in the arena. */
typedef struct {
    const char **v;
    size_t n, cap;
} name_list;

static bool name_list_add(promql_parser *p, name_list *l, const char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        const char **v = palloc(p, cap * sizeof(*v));
        if (!v) {
            return false;
        }
        if (l->n) {
            memcpy(v, l->v, l->n * sizeof(*v));
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return true;
}

static bool valid_utf8_nonempty(const char *s, size_t n)
{
    if (n == 0) {
        return false;
    }
    odin_strbuf q;
    odin_strbuf_init(&q, 0);
    promql_quote(&q, s, n);
    /* promql_quote writes \x only for bytes that are not valid UTF-8 */
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        ok = s[i] != '\0';
    }
    size_t i = 0;
    for (; ok && q.p && i + 1 < q.len; i++) {
        if (q.p[i] == '\\') {
            ok = q.p[i + 1] != 'x';
            i++;
        }
    }
    odin_strbuf_fini(&q);
    return ok;
}

/* "(" [label {"," label} [","]] ")" after by, without, on, ignoring, group_left/right. */
static bool parse_grouping(promql_parser *p, name_list *out)
{
    const promql_token *t = peek(p);
    if (t->type != TOK_LPAREN) {
        unexpected(p, t, "grouping opts", "\"(\"");
        return false;
    }
    next(p);
    if (peek(p)->type == TOK_RPAREN) {
        next(p);
        return !p->failed;
    }
    for (;;) {
        promql_token lt = *peek(p);
        const char *name;
        if (is_label_token(lt.type)) {
            name = pstrndup(p, p->in + lt.pos, lt.len);
        } else if (lt.type == TOK_STRING) {
            size_t n = 0;
            name = unquote_token(p, &lt, &n);
            if (name && !valid_utf8_nonempty(name, n)) {
                odin_strbuf q;
                odin_strbuf_init(&q, 0);
                promql_quote(&q, name, n);
                promql_parser_error(p, lt.pos, "invalid label name for grouping: %s", q.p);
                odin_strbuf_fini(&q);
            }
        } else {
            unexpected(p, &lt, "grouping opts", "label");
            return false;
        }
        next(p);
        if (!name || p->failed || !name_list_add(p, out, name)) {
            return false;
        }
        t = peek(p);
        if (t->type == TOK_COMMA) {
            next(p);
            if (peek(p)->type == TOK_RPAREN) {
                next(p);
                return !p->failed;
            }
            continue;
        }
        if (t->type == TOK_RPAREN) {
            next(p);
            return !p->failed;
        }
        unexpected(p, t, "grouping opts", "\",\" or \")\"");
        return false;
    }
}

/* Arguments after "(" up to and including ")". */
static bool parse_call_args(promql_parser *p, ast_node *parent, ast_node ***args, size_t *nargs)
{
    size_t cap = 0;
    *args = NULL;
    *nargs = 0;
    if (peek(p)->type == TOK_RPAREN) {
        next(p);
        return !p->failed;
    }
    for (;;) {
        ast_node *a = parse_expr(p, 0);
        if (!a || !adopt(p, parent, a)) {
            return false;
        }
        if (*nargs == cap) {
            cap = cap ? cap * 2 : 4;
            ast_node **v = palloc(p, cap * sizeof(*v));
            if (!v) {
                return false;
            }
            if (*nargs) {
                memcpy(v, *args, *nargs * sizeof(*v));
            }
            *args = v;
        }
        (*args)[(*nargs)++] = a;
        promql_token t = *peek(p);
        if (t.type == TOK_RPAREN) {
            next(p);
            return !p->failed;
        }
        if (t.type != TOK_COMMA) {
            unexpected(p, &t, NULL, NULL);
            return false;
        }
        next(p);
        if (peek(p)->type == TOK_RPAREN) {
            promql_parser_error(p, t.pos, "trailing commas not allowed in function call args");
            return false;
        }
    }
}

static ast_node *parse_call(promql_parser *p)
{
    promql_token name = next(p);
    next(p); /* ( */
    ast_node *n = new_node(p, AST_CALL, name.pos);
    if (!n || !parse_call_args(p, n, &n->u.call.args, &n->u.call.nargs)) {
        return NULL;
    }
    n->pos_end = p->last_closing;
    const promql_function *fn = promql_function_lookup(p->in + name.pos, name.len);
    odin_strbuf q;
    odin_strbuf_init(&q, 0);
    promql_quote(&q, p->in + name.pos, name.len);
    if (!fn) {
        promql_parser_error(p, name.pos, "unknown function with name %s", q.p);
    } else if (fn->experimental && !p->opts.experimental_functions) {
        promql_parser_error(p, name.pos, "function %s is not enabled", q.p);
    }
    odin_strbuf_fini(&q);
    n->u.call.fn = fn;
    return p->failed ? NULL : n;
}

static const struct {
    promql_tok_type tok;
    ast_aggop op;
} agg_ops[] = {
    {TOK_SUM, AGG_SUM},         {TOK_AVG, AGG_AVG},
    {TOK_COUNT, AGG_COUNT},     {TOK_MIN, AGG_MIN},
    {TOK_MAX, AGG_MAX},         {TOK_GROUP, AGG_GROUP},
    {TOK_STDDEV, AGG_STDDEV},   {TOK_STDVAR, AGG_STDVAR},
    {TOK_TOPK, AGG_TOPK},       {TOK_BOTTOMK, AGG_BOTTOMK},
    {TOK_COUNT_VALUES, AGG_COUNT_VALUES}, {TOK_QUANTILE, AGG_QUANTILE},
    {TOK_LIMITK, AGG_LIMITK},   {TOK_LIMIT_RATIO, AGG_LIMIT_RATIO},
};

static bool agg_has_param(ast_aggop op)
{
    return op == AGG_TOPK || op == AGG_BOTTOMK || op == AGG_COUNT_VALUES || op == AGG_QUANTILE ||
           op == AGG_LIMITK || op == AGG_LIMIT_RATIO;
}

static bool parse_agg_modifier(promql_parser *p, ast_node *n)
{
    promql_token t = next(p);
    name_list l = {0};
    n->u.agg.without = t.type == TOK_WITHOUT;
    n->u.agg.has_grouping = true;
    if (!parse_grouping(p, &l)) {
        return false;
    }
    n->u.agg.grouping = l.v;
    n->u.agg.ngrouping = l.n;
    return true;
}

static ast_node *parse_aggregate(promql_parser *p)
{
    promql_token opt = next(p);
    ast_node *n = new_node(p, AST_AGGREGATE, opt.pos);
    if (!n) {
        return NULL;
    }
    for (size_t i = 0; i < ODIN_ARRAY_LEN(agg_ops); i++) {
        if (agg_ops[i].tok == opt.type) {
            n->u.agg.op = agg_ops[i].op;
        }
    }
    bool modifier_first = peek(p)->type == TOK_BY || peek(p)->type == TOK_WITHOUT;
    if (modifier_first && !parse_agg_modifier(p, n)) {
        return NULL;
    }
    if (peek(p)->type != TOK_LPAREN) {
        unexpected(p, peek(p), "aggregation", NULL);
        return NULL;
    }
    next(p);
    ast_node **args;
    size_t nargs;
    if (!parse_call_args(p, n, &args, &nargs)) {
        return NULL;
    }
    if (!modifier_first && (peek(p)->type == TOK_BY || peek(p)->type == TOK_WITHOUT) &&
        !parse_agg_modifier(p, n)) {
        return NULL;
    }
    n->pos_end = p->last_closing;
    ast_aggop op = n->u.agg.op;
    size_t want = agg_has_param(op) ? 2 : 1;
    if (nargs == 0) {
        promql_parser_error(p, n->pos_start, "no arguments for aggregate expression provided");
    } else if ((op == AGG_LIMITK || op == AGG_LIMIT_RATIO) && !p->opts.experimental_functions) {
        promql_parser_error(p, n->pos_start,
                            "%s() is experimental and must be enabled with "
                            "--enable-feature=promql-experimental-functions",
                            ast_aggop_name(op));
    } else if (nargs != want) {
        promql_parser_error(p, n->pos_start,
                            "wrong number of arguments for aggregate expression provided, "
                            "expected %zu, got %zu",
                            want, nargs);
    }
    if (p->failed) {
        return NULL;
    }
    n->u.agg.param = want == 2 ? args[0] : NULL;
    n->u.agg.expr = args[want - 1];
    return n;
}

/* ---- Selectors ------------------------------------------------------------------------------ */

typedef struct {
    tsdb_matcher *v;
    size_t n;
} matcher_set;

static void matchers_cleanup(void *arg)
{
    matcher_set *s = arg;
    for (size_t i = 0; i < s->n; i++) {
        tsdb_matcher_fini(&s->v[i]);
    }
}

typedef struct {
    tsdb_match_type type;
    const char *name, *value;
    size_t name_len, value_len;
    uint32_t pos;
} raw_matcher;

static bool parse_one_matcher(promql_parser *p, raw_matcher *m)
{
    promql_token t = *peek(p);
    if (t.type != TOK_IDENT && t.type != TOK_STRING) {
        unexpected(p, &t, "label matching", "identifier or \"}\"");
        return false;
    }
    next(p);
    m->pos = t.pos;
    if (t.type == TOK_IDENT) {
        m->name = p->in + t.pos;
        m->name_len = t.len;
    } else if (!(m->name = unquote_token(p, &t, &m->name_len))) {
        return false;
    }
    promql_token op = *peek(p);
    switch (op.type) {
    case TOK_EQL: m->type = TSDB_MATCH_EQ; break;
    case TOK_NEQ: m->type = TSDB_MATCH_NEQ; break;
    case TOK_EQL_REGEX: m->type = TSDB_MATCH_RE; break;
    case TOK_NEQ_REGEX: m->type = TSDB_MATCH_NRE; break;
    default:
        if (t.type == TOK_STRING) { /* {"metric"}: a quoted metric name */
            m->type = TSDB_MATCH_EQ;
            m->value = m->name;
            m->value_len = m->name_len;
            m->name = "__name__";
            m->name_len = 8;
            return true;
        }
        unexpected(p, &op, "label matching", "label matching operator");
        return false;
    }
    next(p);
    promql_token v = *peek(p);
    if (v.type != TOK_STRING) {
        unexpected(p, &v, "label matching", "string");
        return false;
    }
    next(p);
    return (m->value = unquote_token(p, &v, &m->value_len)) != NULL;
}

/* Parses "{...}" (the brace is the next token) into raw matchers. */
static bool parse_matchers(promql_parser *p, raw_matcher **out, size_t *n)
{
    size_t cap = 0;
    next(p); /* { */
    for (;;) {
        const promql_token *t = peek(p);
        if (t->type == TOK_RBRACE) {
            next(p);
            return !p->failed;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            raw_matcher *v = palloc(p, (cap + 1) * sizeof(*v));
            if (!v) {
                return false;
            }
            if (*n) {
                memcpy(v, *out, *n * sizeof(*v));
            }
            *out = v;
        }
        if (!parse_one_matcher(p, &(*out)[*n])) {
            return false;
        }
        (*n)++;
        t = peek(p);
        if (t->type == TOK_COMMA) {
            next(p);
        } else if (t->type != TOK_RBRACE) {
            unexpected(p, t, "label matching", "\",\" or \"}\"");
            return false;
        }
    }
}

static bool build_matchers(promql_parser *p, ast_selector *sel, raw_matcher *raw, size_t n)
{
    matcher_set *set = palloc(p, sizeof(*set));
    tsdb_matcher *v = palloc(p, (n ? n : 1) * sizeof(*v));
    if (!set || !v) {
        return false;
    }
    set->v = v;
    odin_arena_on_reset(&p->expr->arena, matchers_cleanup, set);
    for (size_t i = 0; i < n; i++) {
        odin_err e;
        odin_err_clear(&e);
        if (tsdb_matcher_init(&v[i], raw[i].type, (odin_str){raw[i].name, raw[i].name_len},
                              (odin_str){raw[i].value, raw[i].value_len}, &e) < 0) {
            promql_parser_error(p, raw[i].pos, "%s", e.msg);
            return false;
        }
        set->n = i + 1;
    }
    sel->matchers = v;
    sel->nmatchers = n;
    return true;
}

static ast_node *parse_selector(promql_parser *p)
{
    const promql_token *t = peek(p);
    ast_node *n = new_node(p, AST_VECTOR_SEL, t->pos);
    if (!n) {
        return NULL;
    }
    raw_matcher *raw = NULL;
    size_t nraw = 0;
    if (t->type != TOK_LBRACE) {
        promql_token name = next(p);
        n->u.sel.name = pstrndup(p, p->in + name.pos, name.len);
        n->pos_end = name.pos + name.len;
    }
    if (peek(p)->type == TOK_LBRACE) {
        if (!parse_matchers(p, &raw, &nraw)) {
            return NULL;
        }
        n->pos_end = p->last_closing;
    }
    if (n->u.sel.name) {
        /* Prometheus appends the matcher for a name written outside the braces last. */
        raw_matcher *v = palloc(p, (nraw + 1) * sizeof(*v));
        if (!v) {
            return NULL;
        }
        if (nraw) {
            memcpy(v, raw, nraw * sizeof(*v));
        }
        v[nraw] = (raw_matcher){TSDB_MATCH_EQ, "__name__", n->u.sel.name, 8,
                               strlen(n->u.sel.name), n->pos_start};
        raw = v;
        nraw++;
    }
    if (!build_matchers(p, &n->u.sel, raw, nraw)) {
        return NULL;
    }
    return n;
}

/* ---- Modifiers: ranges, subqueries, offset, @ ---------------------------------------------- */

static bool is_duration_arith(promql_tok_type t)
{
    return t == TOK_ADD || t == TOK_SUB || t == TOK_MUL || t == TOK_DIV || t == TOK_MOD ||
           t == TOK_POW;
}

/* A duration operand of a range, subquery step or offset: signs, then a number (seconds) or a
 * duration. In brackets, arithmetic after it is a duration expression (experimental). */
static bool parse_duration_operand(promql_parser *p, const char *ctx, const char *expected,
                                   bool positive, bool in_brackets, int64_t *ms)
{
    uint32_t start = peek(p)->pos;
    bool neg = false;
    while (peek(p)->type == TOK_ADD || peek(p)->type == TOK_SUB) {
        neg ^= next(p).type == TOK_SUB;
    }
    promql_token t = *peek(p);
    if (t.type >= TOK_STEP && t.type <= TOK_MIN_OF && peek2(p)->type != TOK_LPAREN) {
        unexpected(p, peek2(p), ctx, expected);
        return false;
    }
    if (t.type == TOK_LPAREN || t.type == TOK_STEP || t.type == TOK_RANGE ||
        t.type == TOK_MAX_OF || t.type == TOK_MIN_OF) {
        promql_parser_error(p, t.pos, "experimental duration expression is not enabled");
        return false;
    }
    if (t.type != TOK_NUMBER && t.type != TOK_DURATION) {
        unexpected(p, &t, ctx, expected);
        return false;
    }
    next(p);
    double sec;
    if (!literal_seconds(p, &t, &sec)) {
        return false;
    }
    sec = neg ? -sec : sec;
    if (isnan(sec) || sec > 9223372036.854775807 || sec < -9223372036.854775808) {
        promql_parser_error(p, start, "duration out of range");
        return false;
    }
    if (in_brackets && is_duration_arith(peek(p)->type)) {
        promql_parser_error(p, start, "experimental duration expression is not enabled");
        return false;
    }
    if (positive && sec <= 0) {
        promql_parser_error(p, start, "duration must be greater than 0");
        return false;
    }
    *ms = (int64_t)llround(sec * 1000.0);
    return true;
}

static ast_node *parse_range(promql_parser *p, ast_node *e)
{
    promql_token lb = next(p);
    int64_t range_ms, step_ms = 0;
    if (!parse_duration_operand(p, "subquery or range selector",
                                "number, duration, step(), or range()", true, true, &range_ms)) {
        return NULL;
    }
    promql_token t = next(p);
    if (t.type == TOK_RBRACKET) {
        const char *msg = NULL;
        if (e->kind != AST_VECTOR_SEL) {
            msg = "ranges only allowed for vector selectors";
        } else if (e->u.sel.offset_ms != 0) {
            msg = "no offset modifiers allowed before range";
        } else if (e->u.sel.at != AT_NONE) {
            msg = "no @ modifiers allowed before range";
        }
        if (msg) {
            promql_parser_error(p, lb.pos, "%s", msg);
            return NULL;
        }
        e->kind = AST_MATRIX_SEL;
        e->u.sel.range_ms = range_ms;
        e->pos_end = p->last_closing;
        return e;
    }
    if (t.type != TOK_COLON) {
        unexpected(p, &t, "subquery or range", "\":\" or \"]\"");
        return NULL;
    }
    if (peek(p)->type != TOK_RBRACKET) {
        if (!parse_duration_operand(p, "subquery selector",
                                    "number, duration, step(), range(), or \"]\"", true, true,
                                    &step_ms)) {
            return NULL;
        }
        if (peek(p)->type != TOK_RBRACKET) {
            unexpected(p, peek(p), "subquery selector", "\"]\"");
            return NULL;
        }
    }
    next(p);
    ast_node *s = new_node(p, AST_SUBQUERY, e->pos_start);
    if (!s || !adopt(p, s, e)) {
        return NULL;
    }
    s->u.sub.expr = e;
    s->u.sub.range_ms = range_ms;
    s->u.sub.step_ms = step_ms;
    s->pos_end = p->last_closing;
    return s;
}

static bool parse_offset(promql_parser *p, ast_node *e)
{
    next(p);
    int64_t ms;
    if (!parse_duration_operand(p, "offset", "number, duration, step(), or range()", false,
                                false, &ms)) {
        return false;
    }
    int64_t *slot;
    if (e->kind == AST_VECTOR_SEL || e->kind == AST_MATRIX_SEL) {
        slot = &e->u.sel.offset_ms;
    } else if (e->kind == AST_SUBQUERY) {
        slot = &e->u.sub.offset_ms;
    } else {
        promql_parser_error(p, e->pos_start,
                            "offset modifier must be preceded by an instant vector selector or "
                            "range vector selector or a subquery");
        return false;
    }
    if (*slot != 0) {
        promql_parser_error(p, e->pos_start, "offset may not be set multiple times");
        return false;
    }
    *slot = ms;
    e->pos_end = p->last_closing;
    return true;
}

/* Go's %f, which spells the special values +Inf, -Inf and NaN. */
static void put_go_f(odin_strbuf *b, double v)
{
    if (isnan(v)) {
        odin_strbuf_puts(b, "NaN");
    } else if (isinf(v)) {
        odin_strbuf_puts(b, v > 0 ? "+Inf" : "-Inf");
    } else {
        odin_strbuf_printf(b, "%f", v);
    }
}

static bool parse_at(promql_parser *p, ast_node *e)
{
    next(p);
    promql_token t = *peek(p);
    ast_at at = AT_TIME;
    int64_t at_ms = 0;
    if (t.type == TOK_START || t.type == TOK_END) {
        next(p);
        if (peek(p)->type != TOK_LPAREN || peek2(p)->type != TOK_RPAREN) {
            promql_token bad = peek(p)->type != TOK_LPAREN ? *peek(p) : *peek2(p);
            unexpected(p, &bad, "@", "timestamp");
            return false;
        }
        next(p);
        next(p);
        at = t.type == TOK_START ? AT_START : AT_END;
    } else {
        bool neg = false;
        if (t.type == TOK_ADD || t.type == TOK_SUB) {
            neg = next(p).type == TOK_SUB;
            t = *peek(p);
        }
        if (t.type != TOK_NUMBER && t.type != TOK_DURATION) {
            unexpected(p, &t, "@", "timestamp");
            return false;
        }
        next(p);
        double sec;
        if (!literal_seconds(p, &t, &sec)) {
            return false;
        }
        sec = neg ? -sec : sec;
        /* Prometheus bounds the seconds; the bound on milliseconds also keeps the
         * conversion below defined */
        if (isnan(sec) || isinf(sec) || sec >= 9223372036854775.0 ||
            sec <= -9223372036854775.0) {
            odin_strbuf b;
            odin_strbuf_init(&b, 0);
            put_go_f(&b, sec);
            promql_parser_error(p, e->pos_start, "timestamp out of bounds for @ modifier: %s",
                                b.p);
            odin_strbuf_fini(&b);
            return false;
        }
        at_ms = (int64_t)llround(sec * 1000.0);
    }
    ast_at *slot_at;
    int64_t *slot_ms;
    if (e->kind == AST_VECTOR_SEL || e->kind == AST_MATRIX_SEL) {
        slot_at = &e->u.sel.at, slot_ms = &e->u.sel.at_ms;
    } else if (e->kind == AST_SUBQUERY) {
        slot_at = &e->u.sub.at, slot_ms = &e->u.sub.at_ms;
    } else {
        promql_parser_error(p, e->pos_start,
                            "@ modifier must be preceded by an instant vector selector or range "
                            "vector selector or a subquery");
        return false;
    }
    if (*slot_at != AT_NONE) {
        promql_parser_error(p, e->pos_start, "@ <timestamp> may not be set multiple times");
        return false;
    }
    *slot_at = at;
    *slot_ms = at_ms;
    e->pos_end = p->last_closing;
    return true;
}

static ast_node *parse_postfix(promql_parser *p, ast_node *e)
{
    while (e && !p->failed) {
        promql_tok_type t = peek(p)->type;
        if (t == TOK_LBRACKET) {
            e = parse_range(p, e);
        } else if (t == TOK_OFFSET) {
            if (!parse_offset(p, e)) {
                return NULL;
            }
        } else if (t == TOK_AT) {
            if (!parse_at(p, e)) {
                return NULL;
            }
        } else if (t == TOK_ANCHORED || t == TOK_SMOOTHED) {
            promql_parser_error(p, e->pos_start, "%s modifier is experimental and not enabled",
                                t == TOK_ANCHORED ? "anchored" : "smoothed");
            return NULL;
        } else {
            return e;
        }
    }
    return p->failed ? NULL : e;
}

/* ---- Primary, unary, binary ----------------------------------------------------------------- */

static ast_node *parse_paren(promql_parser *p)
{
    promql_token lp = next(p);
    ast_node *n = new_node(p, AST_PAREN, lp.pos);
    ast_node *inner = n ? parse_expr(p, 0) : NULL;
    if (!inner || !adopt(p, n, inner)) {
        return NULL;
    }
    if (peek(p)->type != TOK_RPAREN) {
        unexpected(p, peek(p), NULL, NULL);
        return NULL;
    }
    next(p);
    n->u.inner = inner;
    n->pos_end = p->last_closing;
    return n;
}

static ast_node *parse_literal(promql_parser *p)
{
    promql_token t = next(p);
    ast_node *n = new_node(p, t.type == TOK_STRING ? AST_STRING : AST_NUMBER, t.pos);
    if (!n) {
        return NULL;
    }
    n->pos_end = t.pos + t.len;
    if (t.type == TOK_STRING) {
        size_t len;
        n->u.string = unquote_token(p, &t, &len);
        return n->u.string ? n : NULL;
    }
    n->number_is_duration = t.type == TOK_DURATION;
    return literal_seconds(p, &t, &n->u.number) ? n : NULL;
}

static ast_node *parse_primary(promql_parser *p)
{
    const promql_token *t = peek(p);
    if (p->failed) {
        return NULL;
    }
    promql_tok_type tt = t->type;
    switch (tt) {
    case TOK_NUMBER:
    case TOK_DURATION:
    case TOK_STRING:
        return parse_literal(p);
    case TOK_LPAREN:
        return parse_paren(p);
    case TOK_LBRACE:
        return parse_selector(p);
    default:
        break;
    }
    if (tok_in(tt, TOK_AGGS_START, TOK_AGGS_END)) {
        promql_tok_type n2 = peek2(p)->type;
        if (n2 == TOK_LPAREN || n2 == TOK_BY || n2 == TOK_WITHOUT) {
            return parse_aggregate(p);
        }
        return parse_selector(p);
    }
    if ((tt == TOK_IDENT || (tt >= TOK_START && tt <= TOK_MIN_OF)) &&
        peek2(p)->type == TOK_LPAREN) {
        return parse_call(p);
    }
    if (is_metric_token(tt)) {
        return parse_selector(p);
    }
    unexpected(p, t, NULL, NULL);
    return NULL;
}

static ast_node *parse_unary(promql_parser *p)
{
    promql_token t = *peek(p);
    if (t.type != TOK_ADD && t.type != TOK_SUB) {
        return parse_postfix(p, parse_primary(p));
    }
    next(p);
    /* Unary minus binds like '*' (Prometheus: %prec MUL): only '^' binds tighter. */
    ast_node *operand = parse_expr(p, PREC_POW);
    if (!operand) {
        return NULL;
    }
    if (operand->kind == AST_NUMBER) {
        /* matches Prometheus: a signed number literal is folded into the literal */
        if (t.type == TOK_SUB) {
            operand->u.number = -operand->u.number;
        }
        operand->pos_start = t.pos;
        return operand;
    }
    ast_node *n = new_node(p, AST_UNARY, t.pos);
    if (!n || !adopt(p, n, operand)) {
        return NULL;
    }
    n->u.inner = operand;
    n->unary_minus = t.type == TOK_SUB;
    n->pos_end = operand->pos_end;
    return n;
}

static bool parse_bin_modifiers(promql_parser *p, ast_binary *b, uint32_t lhs_pos)
{
    if (peek(p)->type == TOK_BOOL) {
        next(p);
        b->return_bool = true;
    }
    promql_tok_type t = peek(p)->type;
    if (t == TOK_ON || t == TOK_IGNORING) {
        next(p);
        name_list l = {0};
        b->has_matching = true;
        b->on = t == TOK_ON;
        if (!parse_grouping(p, &l)) {
            return false;
        }
        b->labels = l.v;
        b->nlabels = l.n;
        t = peek(p)->type;
        if (t == TOK_GROUP_LEFT || t == TOK_GROUP_RIGHT) {
            next(p);
            b->card = t == TOK_GROUP_LEFT ? CARD_MANY_TO_ONE : CARD_ONE_TO_MANY;
            name_list inc = {0};
            if (peek(p)->type == TOK_LPAREN && !parse_grouping(p, &inc)) {
                return false;
            }
            b->include = inc.v;
            b->ninclude = inc.n;
        }
    }
    t = peek(p)->type;
    if (t == TOK_FILL || t == TOK_FILL_LEFT || t == TOK_FILL_RIGHT) {
        promql_parser_error(p, lhs_pos, "binop fill modifiers are experimental and not enabled");
        return false;
    }
    return !p->failed;
}

static ast_node *parse_expr(promql_parser *p, int min_prec)
{
    if (++p->nesting > PROMQL_MAX_DEPTH) {
        promql_parser_error(p, peek(p)->pos, "expression nests deeper than %d levels",
                            PROMQL_MAX_DEPTH);
        return NULL;
    }
    ast_node *lhs = parse_unary(p);
    while (lhs && !p->failed) {
        ast_binop op;
        int prec = binop_prec(peek(p)->type, &op);
        if (prec < 0 || prec < min_prec) {
            break;
        }
        next(p);
        ast_node *n = new_node(p, AST_BINARY, lhs->pos_start);
        if (!n || !parse_bin_modifiers(p, &n->u.bin, lhs->pos_start)) {
            return NULL;
        }
        /* '^' is right-associative, every other operator left-associative */
        ast_node *rhs = parse_expr(p, op == OP_POW ? prec : prec + 1);
        if (!rhs || !adopt(p, n, lhs) || !adopt(p, n, rhs)) {
            return NULL;
        }
        n->u.bin.op = op;
        n->u.bin.lhs = lhs;
        n->u.bin.rhs = rhs;
        n->pos_end = rhs->pos_end;
        lhs = n;
    }
    p->nesting--;
    return p->failed ? NULL : lhs;
}

/* ---- Entry points --------------------------------------------------------------------------- */

promql_expr *promql_parse_ex(const char *query, size_t len, const promql_parse_opts *opts,
                             odin_err *err)
{
    if (len >= UINT32_MAX / 2) {
        odin_err_set(err, ODIN_ERR_LIMIT, "query too large: %zu bytes", len);
        return NULL;
    }
    promql_expr *e = odin_calloc(1, sizeof(*e));
    /* A node per token at most, each well under 512 bytes: the cap only stops runaway growth. */
    odin_arena_init(&e->arena, 65536 + len * 512);
    e->text = odin_arena_strndup(&e->arena, query, len);
    promql_parser p = {.in = e->text, .len = len, .expr = e, .err = err};
    if (opts) {
        p.opts = *opts;
    }
    promql_lexer_init(&p.lex, e->text, len);
    ast_node *root = NULL;
    if (peek(&p)->type == TOK_EOF) {
        promql_parser_error(&p, 0, "no expression found in input");
    } else {
        root = parse_expr(&p, 0);
        if (root && peek(&p)->type != TOK_EOF) {
            unexpected(&p, peek(&p), NULL, NULL);
        }
    }
    if (!p.failed) {
        promql_check(&p, root);
    }
    promql_lexer_fini(&p.lex);
    if (p.failed) {
        promql_expr_free(e);
        return NULL;
    }
    e->root = root;
    return e;
}

promql_expr *promql_parse(const char *query, size_t len, odin_err *err)
{
    return promql_parse_ex(query, len, NULL, err);
}

void promql_expr_free(promql_expr *e)
{
    if (!e) {
        return;
    }
    odin_arena_fini(&e->arena);
    free(e);
}

promql_type promql_expr_type(const promql_expr *e)
{
    return e && e->root ? e->root->type : PROMQL_TYPE_NONE;
}

const char *promql_type_name(promql_type t)
{
    switch (t) {
    case PROMQL_TYPE_SCALAR: return "scalar";
    case PROMQL_TYPE_VECTOR: return "vector";
    case PROMQL_TYPE_MATRIX: return "matrix";
    case PROMQL_TYPE_STRING: return "string";
    default: return "none";
    }
}

const char *promql_documented_type(promql_type t)
{
    switch (t) {
    case PROMQL_TYPE_VECTOR: return "instant vector";
    case PROMQL_TYPE_MATRIX: return "range vector";
    default: return promql_type_name(t);
    }
}
