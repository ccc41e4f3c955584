/* Type checking of a parsed PromQL tree, in the order and with the messages of Prometheus'
 * checkAST (parse.go), so the first error reported is the one Prometheus reports. Recursion is
 * bounded by the parser's tree depth limit. */
#include "promql/parser_int.h"

#include <string.h>

static promql_type check(promql_parser *p, ast_node *n);

static bool is_comparison(ast_binop op)
{
    return op == OP_EQL || op == OP_NEQ || op == OP_GTR || op == OP_LSS || op == OP_GTE ||
           op == OP_LTE;
}

static bool is_set_op(ast_binop op)
{
    return op == OP_AND || op == OP_OR || op == OP_UNLESS;
}

static void expect_type(promql_parser *p, ast_node *n, promql_type want, const char *context)
{
    promql_type t = check(p, n);
    if (t != want) {
        promql_parser_error(p, n->pos_start, "expected type %s in %s, got %s",
                            promql_documented_type(want), context, promql_documented_type(t));
    }
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Start of the operator between lhs and rhs (Prometheus' opRange: skips spaces only). */
static uint32_t op_pos(const promql_parser *p, const ast_node *n)
{
    uint32_t s = n->u.bin.lhs->pos_end;
    while (s < p->len && is_space(p->in[s])) {
        s++;
    }
    return s;
}

static void check_selector(promql_parser *p, ast_node *n)
{
    const ast_selector *s = &n->u.sel;
    if (s->name) {
        /* the last matcher is the one for the name written outside the braces */
        for (size_t i = 0; i + 1 < s->nmatchers; i++) {
            if (strcmp(s->matchers[i].name, "__name__") == 0) {
                odin_strbuf a;
                odin_strbuf_init(&a, 0);
                promql_quote(&a, s->name, strlen(s->name));
                odin_strbuf_puts(&a, " or ");
                promql_quote(&a, s->matchers[i].value, strlen(s->matchers[i].value));
                promql_parser_error(p, n->pos_start, "metric name must not be set twice: %s",
                                    a.p);
                odin_strbuf_fini(&a);
            }
        }
        return;
    }
    for (size_t i = 0; i < s->nmatchers; i++) {
        if (!tsdb_matcher_matches(&s->matchers[i], (odin_str){"", 0})) {
            return;
        }
    }
    promql_parser_error(p, n->pos_start,
                        "vector selector must contain at least one non-empty matcher");
}

static void clear_matching(ast_binary *b)
{
    b->has_matching = false;
    b->on = false;
    b->labels = NULL;
    b->nlabels = 0;
    b->card = CARD_ONE_TO_ONE;
    b->include = NULL;
    b->ninclude = 0;
}

static promql_type check_binary(promql_parser *p, ast_node *n)
{
    ast_binary *b = &n->u.bin;
    promql_type lt = check(p, b->lhs);
    promql_type rt = check(p, b->rhs);
    const char *opname = ast_binop_name(b->op);
    if (b->return_bool && !is_comparison(b->op)) {
        promql_parser_error(p, op_pos(p, n), "bool modifier can only be used on comparison operators");
    }
    if (is_comparison(b->op) && !b->return_bool && lt == PROMQL_TYPE_SCALAR &&
        rt == PROMQL_TYPE_SCALAR) {
        promql_parser_error(p, op_pos(p, n), "comparisons between scalars must use BOOL modifier");
    }
    if (is_set_op(b->op) && b->card == CARD_ONE_TO_ONE) {
        b->card = CARD_MANY_TO_MANY;
    }
    for (size_t i = 0; b->on && i < b->nlabels; i++) {
        for (size_t j = 0; j < b->ninclude; j++) {
            if (strcmp(b->labels[i], b->include[j]) == 0) {
                odin_strbuf q;
                odin_strbuf_init(&q, 0);
                promql_quote(&q, b->labels[i], strlen(b->labels[i]));
                promql_parser_error(p, op_pos(p, n),
                                    "label %s must not occur in ON and GROUP clause at once", q.p);
                odin_strbuf_fini(&q);
            }
        }
    }
    if (lt != PROMQL_TYPE_SCALAR && lt != PROMQL_TYPE_VECTOR) {
        promql_parser_error(p, b->lhs->pos_start,
                            "binary expression must contain only scalar and instant vector types");
    }
    if (rt != PROMQL_TYPE_SCALAR && rt != PROMQL_TYPE_VECTOR) {
        promql_parser_error(p, b->rhs->pos_start,
                            "binary expression must contain only scalar and instant vector types");
    }
    if (lt != PROMQL_TYPE_VECTOR || rt != PROMQL_TYPE_VECTOR) {
        if (b->nlabels > 0) {
            promql_parser_error(p, n->pos_start,
                                "vector matching only allowed between instant vectors");
        }
        /* matches Prometheus: matching clauses on scalar operands are dropped */
        clear_matching(b);
    } else if (is_set_op(b->op)) {
        if (b->card == CARD_ONE_TO_MANY || b->card == CARD_MANY_TO_ONE) {
            promql_parser_error(p, n->pos_start, "no grouping allowed for \"%s\" operation",
                                opname);
        }
    }
    if ((lt == PROMQL_TYPE_SCALAR || rt == PROMQL_TYPE_SCALAR) && is_set_op(b->op)) {
        promql_parser_error(p, n->pos_start,
                            "set operator \"%s\" not allowed in binary scalar expression", opname);
    }
    return lt == PROMQL_TYPE_SCALAR && rt == PROMQL_TYPE_SCALAR ? PROMQL_TYPE_SCALAR
                                                                 : PROMQL_TYPE_VECTOR;
}

static void check_call(promql_parser *p, ast_node *n)
{
    const promql_function *fn = n->u.call.fn;
    size_t got = n->u.call.nargs;
    if (fn->variadic == 0) {
        if (got != fn->nargs) {
            promql_parser_error(p, n->pos_start, "expected %zu argument(s) in call to \"%s\", got %zu",
                                fn->nargs, fn->name, got);
        }
    } else if (got < fn->nargs) {
        promql_parser_error(p, n->pos_start,
                            "expected at least %zu argument(s) in call to \"%s\", got %zu",
                            fn->nargs, fn->name, got);
    } else if (fn->variadic > 0 && got > fn->nargs + (size_t)fn->variadic) {
        promql_parser_error(p, n->pos_start,
                            "expected at most %zu argument(s) in call to \"%s\", got %zu",
                            fn->nargs + (size_t)fn->variadic, fn->name, got);
    }
    size_t ntypes = fn->nargs + (fn->variadic != 0 ? 1 : 0);
    for (size_t i = 0; i < got; i++) {
        size_t ti = i;
        if (i >= ntypes) {
            if (fn->variadic == 0) {
                break;
            }
            ti = ntypes - 1;
        }
        promql_type t = check(p, n->u.call.args[i]);
        if (t != fn->arg_types[ti]) {
            promql_parser_error(p, n->u.call.args[i]->pos_start,
                                "expected type %s in call to function \"%s\", got %s",
                                promql_documented_type(fn->arg_types[ti]), fn->name,
                                promql_documented_type(t));
        }
    }
}

static promql_type check(promql_parser *p, ast_node *n)
{
    promql_type t = PROMQL_TYPE_NONE;
    switch (n->kind) {
    case AST_NUMBER:
        t = PROMQL_TYPE_SCALAR;
        break;
    case AST_STRING:
        t = PROMQL_TYPE_STRING;
        break;
    case AST_VECTOR_SEL:
    case AST_MATRIX_SEL:
        check_selector(p, n);
        t = n->kind == AST_VECTOR_SEL ? PROMQL_TYPE_VECTOR : PROMQL_TYPE_MATRIX;
        break;
    case AST_SUBQUERY: {
        promql_type it = check(p, n->u.sub.expr);
        if (it != PROMQL_TYPE_VECTOR) {
            promql_parser_error(p, n->pos_start,
                                "subquery is only allowed on instant vector, got %s instead",
                                promql_type_name(it));
        }
        t = PROMQL_TYPE_MATRIX;
        break;
    }
    case AST_PAREN:
    case AST_STEP_INVARIANT:
        t = check(p, n->u.inner);
        break;
    case AST_UNARY:
        t = check(p, n->u.inner);
        if (t != PROMQL_TYPE_SCALAR && t != PROMQL_TYPE_VECTOR) {
            promql_parser_error(p, n->pos_start,
                                "unary expression only allowed on expressions of type scalar or "
                                "instant vector, got \"%s\"",
                                promql_documented_type(t));
        }
        break;
    case AST_BINARY:
        t = check_binary(p, n);
        break;
    case AST_AGGREGATE: {
        ast_aggop op = n->u.agg.op;
        expect_type(p, n->u.agg.expr, PROMQL_TYPE_VECTOR, "aggregation expression");
        if (op == AGG_COUNT_VALUES) {
            expect_type(p, n->u.agg.param, PROMQL_TYPE_STRING, "aggregation parameter");
        } else if (n->u.agg.param) {
            expect_type(p, n->u.agg.param, PROMQL_TYPE_SCALAR, "aggregation parameter");
        }
        t = PROMQL_TYPE_VECTOR;
        break;
    }
    case AST_CALL:
        check_call(p, n);
        t = n->u.call.fn->return_type;
        break;
    }
    n->type = t;
    return t;
}

void promql_check(promql_parser *p, ast_node *root)
{
    if (root) {
        check(p, root);
    }
}
