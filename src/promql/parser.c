/* The PromQL parser: recursive descent with precedence climbing over the lexer's tokens,
 * building the syntax tree of ast.h in the expression's arena. It reproduces the grammar of
 * Prometheus' generated parser (generated_parser.y) and its error texts. Tokens, nodes and
 * literals are in parser_tokens.c, ranges/offset/@ after a selector in parser_modifiers.c, type
 * checking in parser_check.c. Duration arithmetic, fill modifiers and anchored/smoothed
 * selectors are experimental in Prometheus 3.x and refused here with Prometheus' "not enabled"
 * messages. */
#include "promql/parser_int.h"

#include <stdlib.h>
#include <string.h>

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
        const char **v = promql_palloc(p, cap * sizeof(*v));
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
    const promql_token *t = promql_tok_peek(p);
    if (t->type != TOK_LPAREN) {
        promql_unexpected(p, t, "grouping opts", "\"(\"");
        return false;
    }
    promql_tok_next(p);
    if (promql_tok_peek(p)->type == TOK_RPAREN) {
        promql_tok_next(p);
        return !p->failed;
    }
    for (;;) {
        promql_token lt = *promql_tok_peek(p);
        const char *name;
        if (promql_is_label_token(lt.type)) {
            name = promql_pstrndup(p, p->in + lt.pos, lt.len);
        } else if (lt.type == TOK_STRING) {
            size_t n = 0;
            name = promql_unquote_token(p, &lt, &n);
            if (name && !valid_utf8_nonempty(name, n)) {
                odin_strbuf q;
                odin_strbuf_init(&q, 0);
                promql_quote(&q, name, n);
                promql_parser_error(p, lt.pos, "invalid label name for grouping: %s", q.p);
                odin_strbuf_fini(&q);
            }
        } else {
            promql_unexpected(p, &lt, "grouping opts", "label");
            return false;
        }
        promql_tok_next(p);
        if (!name || p->failed || !name_list_add(p, out, name)) {
            return false;
        }
        t = promql_tok_peek(p);
        if (t->type == TOK_COMMA) {
            promql_tok_next(p);
            if (promql_tok_peek(p)->type == TOK_RPAREN) {
                promql_tok_next(p);
                return !p->failed;
            }
            continue;
        }
        if (t->type == TOK_RPAREN) {
            promql_tok_next(p);
            return !p->failed;
        }
        promql_unexpected(p, t, "grouping opts", "\",\" or \")\"");
        return false;
    }
}

/* Arguments after "(" up to and including ")". */
static bool parse_call_args(promql_parser *p, ast_node *parent, ast_node ***args, size_t *nargs)
{
    size_t cap = 0;
    *args = NULL;
    *nargs = 0;
    if (promql_tok_peek(p)->type == TOK_RPAREN) {
        promql_tok_next(p);
        return !p->failed;
    }
    for (;;) {
        ast_node *a = parse_expr(p, 0);
        if (!a || !promql_adopt(p, parent, a)) {
            return false;
        }
        if (*nargs == cap) {
            cap = cap ? cap * 2 : 4;
            ast_node **v = promql_palloc(p, cap * sizeof(*v));
            if (!v) {
                return false;
            }
            if (*nargs) {
                memcpy(v, *args, *nargs * sizeof(*v));
            }
            *args = v;
        }
        (*args)[(*nargs)++] = a;
        promql_token t = *promql_tok_peek(p);
        if (t.type == TOK_RPAREN) {
            promql_tok_next(p);
            return !p->failed;
        }
        if (t.type != TOK_COMMA) {
            promql_unexpected(p, &t, NULL, NULL);
            return false;
        }
        promql_tok_next(p);
        if (promql_tok_peek(p)->type == TOK_RPAREN) {
            promql_parser_error(p, t.pos, "trailing commas not allowed in function call args");
            return false;
        }
    }
}

static ast_node *parse_call(promql_parser *p)
{
    promql_token name = promql_tok_next(p);
    promql_tok_next(p); /* ( */
    ast_node *n = promql_new_node(p, AST_CALL, name.pos);
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
    promql_token t = promql_tok_next(p);
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
    promql_token opt = promql_tok_next(p);
    ast_node *n = promql_new_node(p, AST_AGGREGATE, opt.pos);
    if (!n) {
        return NULL;
    }
    for (size_t i = 0; i < ODIN_ARRAY_LEN(agg_ops); i++) {
        if (agg_ops[i].tok == opt.type) {
            n->u.agg.op = agg_ops[i].op;
        }
    }
    bool modifier_first =
        promql_tok_peek(p)->type == TOK_BY || promql_tok_peek(p)->type == TOK_WITHOUT;
    if (modifier_first && !parse_agg_modifier(p, n)) {
        return NULL;
    }
    if (promql_tok_peek(p)->type != TOK_LPAREN) {
        promql_unexpected(p, promql_tok_peek(p), "aggregation", NULL);
        return NULL;
    }
    promql_tok_next(p);
    ast_node **args;
    size_t nargs;
    if (!parse_call_args(p, n, &args, &nargs)) {
        return NULL;
    }
    if (!modifier_first &&
        (promql_tok_peek(p)->type == TOK_BY || promql_tok_peek(p)->type == TOK_WITHOUT) &&
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
    promql_token t = *promql_tok_peek(p);
    if (t.type != TOK_IDENT && t.type != TOK_STRING) {
        promql_unexpected(p, &t, "label matching", "identifier or \"}\"");
        return false;
    }
    promql_tok_next(p);
    m->pos = t.pos;
    if (t.type == TOK_IDENT) {
        m->name = p->in + t.pos;
        m->name_len = t.len;
    } else if (!(m->name = promql_unquote_token(p, &t, &m->name_len))) {
        return false;
    }
    promql_token op = *promql_tok_peek(p);
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
        promql_unexpected(p, &op, "label matching", "label matching operator");
        return false;
    }
    promql_tok_next(p);
    promql_token v = *promql_tok_peek(p);
    if (v.type != TOK_STRING) {
        promql_unexpected(p, &v, "label matching", "string");
        return false;
    }
    promql_tok_next(p);
    return (m->value = promql_unquote_token(p, &v, &m->value_len)) != NULL;
}

/* Parses "{...}" (the brace is the next token) into raw matchers. */
static bool parse_matchers(promql_parser *p, raw_matcher **out, size_t *n)
{
    size_t cap = 0;
    promql_tok_next(p); /* { */
    for (;;) {
        const promql_token *t = promql_tok_peek(p);
        if (t->type == TOK_RBRACE) {
            promql_tok_next(p);
            return !p->failed;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            raw_matcher *v = promql_palloc(p, (cap + 1) * sizeof(*v));
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
        t = promql_tok_peek(p);
        if (t->type == TOK_COMMA) {
            promql_tok_next(p);
        } else if (t->type != TOK_RBRACE) {
            promql_unexpected(p, t, "label matching", "\",\" or \"}\"");
            return false;
        }
    }
}

static bool build_matchers(promql_parser *p, ast_selector *sel, raw_matcher *raw, size_t n)
{
    matcher_set *set = promql_palloc(p, sizeof(*set));
    tsdb_matcher *v = promql_palloc(p, (n ? n : 1) * sizeof(*v));
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
    const promql_token *t = promql_tok_peek(p);
    ast_node *n = promql_new_node(p, AST_VECTOR_SEL, t->pos);
    if (!n) {
        return NULL;
    }
    raw_matcher *raw = NULL;
    size_t nraw = 0;
    if (t->type != TOK_LBRACE) {
        promql_token name = promql_tok_next(p);
        n->u.sel.name = promql_pstrndup(p, p->in + name.pos, name.len);
        n->pos_end = name.pos + name.len;
    }
    if (promql_tok_peek(p)->type == TOK_LBRACE) {
        if (!parse_matchers(p, &raw, &nraw)) {
            return NULL;
        }
        n->pos_end = p->last_closing;
    }
    if (n->u.sel.name) {
        /* Prometheus appends the matcher for a name written outside the braces last. */
        raw_matcher *v = promql_palloc(p, (nraw + 1) * sizeof(*v));
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

/* ---- Primary, unary, binary ----------------------------------------------------------------- */

static ast_node *parse_paren(promql_parser *p)
{
    promql_token lp = promql_tok_next(p);
    ast_node *n = promql_new_node(p, AST_PAREN, lp.pos);
    ast_node *inner = n ? parse_expr(p, 0) : NULL;
    if (!inner || !promql_adopt(p, n, inner)) {
        return NULL;
    }
    if (promql_tok_peek(p)->type != TOK_RPAREN) {
        promql_unexpected(p, promql_tok_peek(p), NULL, NULL);
        return NULL;
    }
    promql_tok_next(p);
    n->u.inner = inner;
    n->pos_end = p->last_closing;
    return n;
}

static ast_node *parse_literal(promql_parser *p)
{
    promql_token t = promql_tok_next(p);
    ast_node *n = promql_new_node(p, t.type == TOK_STRING ? AST_STRING : AST_NUMBER, t.pos);
    if (!n) {
        return NULL;
    }
    n->pos_end = t.pos + t.len;
    if (t.type == TOK_STRING) {
        size_t len;
        n->u.string = promql_unquote_token(p, &t, &len);
        return n->u.string ? n : NULL;
    }
    n->number_is_duration = t.type == TOK_DURATION;
    return promql_literal_seconds(p, &t, &n->u.number) ? n : NULL;
}

static ast_node *parse_primary(promql_parser *p)
{
    const promql_token *t = promql_tok_peek(p);
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
    if (promql_tok_in(tt, TOK_AGGS_START, TOK_AGGS_END)) {
        promql_tok_type n2 = promql_tok_peek2(p)->type;
        if (n2 == TOK_LPAREN || n2 == TOK_BY || n2 == TOK_WITHOUT) {
            return parse_aggregate(p);
        }
        return parse_selector(p);
    }
    if ((tt == TOK_IDENT || (tt >= TOK_START && tt <= TOK_MIN_OF)) &&
        promql_tok_peek2(p)->type == TOK_LPAREN) {
        return parse_call(p);
    }
    if (promql_is_metric_token(tt)) {
        return parse_selector(p);
    }
    promql_unexpected(p, t, NULL, NULL);
    return NULL;
}

static ast_node *parse_unary(promql_parser *p)
{
    promql_token t = *promql_tok_peek(p);
    if (t.type != TOK_ADD && t.type != TOK_SUB) {
        return promql_parse_postfix(p, parse_primary(p));
    }
    promql_tok_next(p);
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
    ast_node *n = promql_new_node(p, AST_UNARY, t.pos);
    if (!n || !promql_adopt(p, n, operand)) {
        return NULL;
    }
    n->u.inner = operand;
    n->unary_minus = t.type == TOK_SUB;
    n->pos_end = operand->pos_end;
    return n;
}

static bool parse_bin_modifiers(promql_parser *p, ast_binary *b, uint32_t lhs_pos)
{
    if (promql_tok_peek(p)->type == TOK_BOOL) {
        promql_tok_next(p);
        b->return_bool = true;
    }
    promql_tok_type t = promql_tok_peek(p)->type;
    if (t == TOK_ON || t == TOK_IGNORING) {
        promql_tok_next(p);
        name_list l = {0};
        b->has_matching = true;
        b->on = t == TOK_ON;
        if (!parse_grouping(p, &l)) {
            return false;
        }
        b->labels = l.v;
        b->nlabels = l.n;
        t = promql_tok_peek(p)->type;
        if (t == TOK_GROUP_LEFT || t == TOK_GROUP_RIGHT) {
            promql_tok_next(p);
            b->card = t == TOK_GROUP_LEFT ? CARD_MANY_TO_ONE : CARD_ONE_TO_MANY;
            name_list inc = {0};
            if (promql_tok_peek(p)->type == TOK_LPAREN && !parse_grouping(p, &inc)) {
                return false;
            }
            b->include = inc.v;
            b->ninclude = inc.n;
        }
    }
    t = promql_tok_peek(p)->type;
    if (t == TOK_FILL || t == TOK_FILL_LEFT || t == TOK_FILL_RIGHT) {
        promql_parser_error(p, lhs_pos, "binop fill modifiers are experimental and not enabled");
        return false;
    }
    return !p->failed;
}

static ast_node *parse_expr(promql_parser *p, int min_prec)
{
    if (++p->nesting > PROMQL_MAX_DEPTH) {
        promql_parser_error(p, promql_tok_peek(p)->pos, "expression nests deeper than %d levels",
                            PROMQL_MAX_DEPTH);
        return NULL;
    }
    ast_node *lhs = parse_unary(p);
    while (lhs && !p->failed) {
        ast_binop op;
        int prec = binop_prec(promql_tok_peek(p)->type, &op);
        if (prec < 0 || prec < min_prec) {
            break;
        }
        promql_tok_next(p);
        ast_node *n = promql_new_node(p, AST_BINARY, lhs->pos_start);
        if (!n || !parse_bin_modifiers(p, &n->u.bin, lhs->pos_start)) {
            return NULL;
        }
        /* '^' is right-associative, every other operator left-associative */
        ast_node *rhs = parse_expr(p, op == OP_POW ? prec : prec + 1);
        if (!rhs || !promql_adopt(p, n, lhs) || !promql_adopt(p, n, rhs)) {
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
    if (promql_tok_peek(&p)->type == TOK_EOF) {
        promql_parser_error(&p, 0, "no expression found in input");
    } else {
        root = parse_expr(&p, 0);
        if (root && promql_tok_peek(&p)->type != TOK_EOF) {
            promql_unexpected(&p, promql_tok_peek(&p), NULL, NULL);
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
