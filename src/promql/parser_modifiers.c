/* What may follow a selector or a parenthesised expression: a range `[5m]`, a subquery
 * `[1h:1m]`, `offset` and `@`, in any order Prometheus' grammar allows. Duration arithmetic in
 * brackets is experimental in Prometheus 3.x and refused with its "not enabled" message. */
#include "promql/parser_int.h"

#include <math.h>

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
    uint32_t start = promql_tok_peek(p)->pos;
    bool neg = false;
    while (promql_tok_peek(p)->type == TOK_ADD || promql_tok_peek(p)->type == TOK_SUB) {
        neg ^= promql_tok_next(p).type == TOK_SUB;
    }
    promql_token t = *promql_tok_peek(p);
    if (t.type >= TOK_STEP && t.type <= TOK_MIN_OF && promql_tok_peek2(p)->type != TOK_LPAREN) {
        promql_unexpected(p, promql_tok_peek2(p), ctx, expected);
        return false;
    }
    if (t.type == TOK_LPAREN || t.type == TOK_STEP || t.type == TOK_RANGE || t.type == TOK_MAX_OF ||
        t.type == TOK_MIN_OF) {
        promql_parser_error(p, t.pos, "experimental duration expression is not enabled");
        return false;
    }
    if (t.type != TOK_NUMBER && t.type != TOK_DURATION) {
        promql_unexpected(p, &t, ctx, expected);
        return false;
    }
    promql_tok_next(p);
    double sec;
    if (!promql_literal_seconds(p, &t, &sec)) {
        return false;
    }
    sec = neg ? -sec : sec;
    if (isnan(sec) || sec > 9223372036.854775807 || sec < -9223372036.854775808) {
        promql_parser_error(p, start, "duration out of range");
        return false;
    }
    if (in_brackets && is_duration_arith(promql_tok_peek(p)->type)) {
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
    promql_token lb = promql_tok_next(p);
    int64_t range_ms, step_ms = 0;
    if (!parse_duration_operand(p, "subquery or range selector",
                                "number, duration, step(), or range()", true, true, &range_ms)) {
        return NULL;
    }
    promql_token t = promql_tok_next(p);
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
        promql_unexpected(p, &t, "subquery or range", "\":\" or \"]\"");
        return NULL;
    }
    if (promql_tok_peek(p)->type != TOK_RBRACKET) {
        if (!parse_duration_operand(p, "subquery selector",
                                    "number, duration, step(), range(), or \"]\"", true, true,
                                    &step_ms)) {
            return NULL;
        }
        if (promql_tok_peek(p)->type != TOK_RBRACKET) {
            promql_unexpected(p, promql_tok_peek(p), "subquery selector", "\"]\"");
            return NULL;
        }
    }
    promql_tok_next(p);
    ast_node *s = promql_new_node(p, AST_SUBQUERY, e->pos_start);
    if (!s || !promql_adopt(p, s, e)) {
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
    promql_tok_next(p);
    int64_t ms;
    if (!parse_duration_operand(p, "offset", "number, duration, step(), or range()", false, false,
                                &ms)) {
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
    promql_tok_next(p);
    promql_token t = *promql_tok_peek(p);
    ast_at at = AT_TIME;
    int64_t at_ms = 0;
    if (t.type == TOK_START || t.type == TOK_END) {
        promql_tok_next(p);
        if (promql_tok_peek(p)->type != TOK_LPAREN || promql_tok_peek2(p)->type != TOK_RPAREN) {
            promql_token bad =
                promql_tok_peek(p)->type != TOK_LPAREN ? *promql_tok_peek(p) : *promql_tok_peek2(p);
            promql_unexpected(p, &bad, "@", "timestamp");
            return false;
        }
        promql_tok_next(p);
        promql_tok_next(p);
        at = t.type == TOK_START ? AT_START : AT_END;
    } else {
        bool neg = false;
        if (t.type == TOK_ADD || t.type == TOK_SUB) {
            neg = promql_tok_next(p).type == TOK_SUB;
            t = *promql_tok_peek(p);
        }
        if (t.type != TOK_NUMBER && t.type != TOK_DURATION) {
            promql_unexpected(p, &t, "@", "timestamp");
            return false;
        }
        promql_tok_next(p);
        double sec;
        if (!promql_literal_seconds(p, &t, &sec)) {
            return false;
        }
        sec = neg ? -sec : sec;
        /* Prometheus bounds the seconds; the bound on milliseconds also keeps the
         * conversion below defined */
        if (isnan(sec) || isinf(sec) || sec >= 9223372036854775.0 || sec <= -9223372036854775.0) {
            odin_strbuf b;
            odin_strbuf_init(&b, 0);
            put_go_f(&b, sec);
            promql_parser_error(p, e->pos_start, "timestamp out of bounds for @ modifier: %s", b.p);
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

ast_node *promql_parse_postfix(promql_parser *p, ast_node *e)
{
    while (e && !p->failed) {
        promql_tok_type t = promql_tok_peek(p)->type;
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
