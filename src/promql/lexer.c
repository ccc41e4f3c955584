/* The PromQL tokenizer: Prometheus' lexer states (statements, inside braces, duration
 * expressions in brackets) re-stated in C, with its error messages, and duration parsing.
 * String quoting and unquoting are in quote.c. */
#include "promql/lexer.h"

#include <string.h>

#define EOF_RUNE PROMQL_EOF_RUNE
#define RUNE_ERROR PROMQL_RUNE_ERROR

typedef struct {
    const char *word;
    promql_tok_type type;
} keyword;

/* Prometheus' keyword map (lex.go `key`), compared case-insensitively. */
static const keyword keywords[] = {
    {"and", TOK_LAND},
    {"or", TOK_LOR},
    {"unless", TOK_LUNLESS},
    {"atan2", TOK_ATAN2},
    {"sum", TOK_SUM},
    {"avg", TOK_AVG},
    {"count", TOK_COUNT},
    {"min", TOK_MIN},
    {"max", TOK_MAX},
    {"group", TOK_GROUP},
    {"stddev", TOK_STDDEV},
    {"stdvar", TOK_STDVAR},
    {"topk", TOK_TOPK},
    {"bottomk", TOK_BOTTOMK},
    {"count_values", TOK_COUNT_VALUES},
    {"quantile", TOK_QUANTILE},
    {"limitk", TOK_LIMITK},
    {"limit_ratio", TOK_LIMIT_RATIO},
    {"offset", TOK_OFFSET},
    {"smoothed", TOK_SMOOTHED},
    {"anchored", TOK_ANCHORED},
    {"by", TOK_BY},
    {"without", TOK_WITHOUT},
    {"on", TOK_ON},
    {"ignoring", TOK_IGNORING},
    {"group_left", TOK_GROUP_LEFT},
    {"group_right", TOK_GROUP_RIGHT},
    {"fill", TOK_FILL},
    {"fill_left", TOK_FILL_LEFT},
    {"fill_right", TOK_FILL_RIGHT},
    {"bool", TOK_BOOL},
    {"start", TOK_START},
    {"end", TOK_END},
    {"step", TOK_STEP},
    {"range", TOK_RANGE},
    {"max_of", TOK_MAX_OF},
    {"min_of", TOK_MIN_OF},
    {"inf", TOK_NUMBER},
    {"nan", TOK_NUMBER},
};

static bool ieq(const char *a, size_t n, const char *word)
{
    size_t i = 0;
    for (; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (word[i] == '\0' || c != word[i]) {
            return false;
        }
    }
    return word[i] == '\0';
}

static bool lookup_keyword(const char *w, size_t n, promql_tok_type *out)
{
    for (size_t i = 0; i < ODIN_ARRAY_LEN(keywords); i++) {
        if (ieq(w, n, keywords[i].word)) {
            *out = keywords[i].type;
            return true;
        }
    }
    return false;
}

/* ---- Lexer primitives ----------------------------------------------------------------------- */

static uint32_t lx_next(promql_lexer *l)
{
    if (l->pos >= l->len) {
        l->width = 0;
        return EOF_RUNE;
    }
    uint32_t r =
        promql_utf8_decode((const unsigned char *)l->in + l->pos, l->len - l->pos, &l->width);
    l->pos += l->width;
    return r;
}

static void lx_backup(promql_lexer *l)
{
    l->pos -= l->width;
}

static uint32_t lx_peek(promql_lexer *l)
{
    uint32_t r = lx_next(l);
    lx_backup(l);
    return r;
}

static bool in_set(uint32_t r, const char *set)
{
    return r != 0 && r < 0x80 && strchr(set, (int)r) != NULL;
}

static bool lx_accept(promql_lexer *l, const char *set)
{
    if (in_set(lx_next(l), set)) {
        return true;
    }
    lx_backup(l);
    return false;
}

static bool lx_is(promql_lexer *l, const char *set)
{
    return in_set(lx_peek(l), set);
}

static void lx_accept_run(promql_lexer *l, const char *set)
{
    while (in_set(lx_next(l), set)) {
    }
    lx_backup(l);
}

static bool is_space(uint32_t r)
{
    return r == ' ' || r == '\t' || r == '\n' || r == '\r';
}

static bool is_digit(uint32_t r)
{
    return r >= '0' && r <= '9';
}

static bool is_alpha(uint32_t r)
{
    return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
}

static bool is_alnum(uint32_t r)
{
    return is_alpha(r) || is_digit(r);
}

static void lx_emit(promql_lexer *l, promql_token *t, promql_tok_type type)
{
    t->type = type;
    t->pos = (uint32_t)l->start;
    t->len = (uint32_t)(l->pos - l->start);
    l->start = l->pos;
}

/* Sets the error message and turns t into TOK_ERROR; the lexer stops. */
static void lx_error(promql_lexer *l, promql_token *t, const char *fmt, ...) ODIN_PRINTF(3, 4);
static void lx_error(promql_lexer *l, promql_token *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    odin_strbuf_reset(&l->msg);
    odin_strbuf_vprintf(&l->msg, fmt, ap);
    va_end(ap);
    l->err_pos = l->start;
    t->type = TOK_ERROR;
    t->pos = (uint32_t)l->start;
    t->len = (uint32_t)(l->pos > l->start ? l->pos - l->start : 0);
    l->state = LEX_DONE;
}

/* "unexpected character: 'x'" style messages carry a Go-quoted rune. */
static void lx_error_rune(promql_lexer *l, promql_token *t, const char *prefix, uint32_t r,
                          const char *suffix)
{
    odin_strbuf q;
    odin_strbuf_init(&q, 64);
    promql_quote_rune(&q, r == EOF_RUNE ? RUNE_ERROR : r);
    lx_error(l, t, "%s%s%s", prefix, q.p ? q.p : "", suffix);
    odin_strbuf_fini(&q);
}

void promql_lexer_init(promql_lexer *l, const char *in, size_t len)
{
    memset(l, 0, sizeof(*l));
    l->in = in;
    l->len = len;
    l->state = LEX_STATEMENTS;
    odin_strbuf_init(&l->msg, 1024);
}

void promql_lexer_fini(promql_lexer *l)
{
    odin_strbuf_fini(&l->msg);
}

/* ---- Scanners ------------------------------------------------------------------------------- */

/* Go's scanNumber: decimal, hex (0x), exponents, underscores between digits. The text is not
 * necessarily a valid number; the parser converts it and reports that. */
static bool scan_number(promql_lexer *l)
{
    size_t initial = l->pos;
    const char *digits = "0123456789";
    if (lx_accept(l, "0") && lx_accept(l, "xX")) {
        lx_accept(l, "_");
        digits = "0123456789abcdefABCDEF";
    }
    bool hex = strlen(digits) > 10;
    lx_accept(l, ".");
    lx_accept(l, digits);
    bool dot = false, exp = false;
    char set[40];
    size_t dl = strlen(digits);
    memcpy(set, digits, dl);
    memcpy(set + dl, "._eE", 5);
    while (lx_is(l, set)) {
        if (lx_is(l, ".") && dot) {
            lx_accept(l, ".");
            return false;
        }
        if (lx_is(l, "eE") && exp) {
            lx_accept(l, "eE");
            return false;
        }
        if (lx_accept(l, ".")) {
            dot = true;
            if (lx_accept(l, "_.") || hex) {
                return false;
            }
            continue;
        }
        if (lx_accept(l, "eE")) {
            exp = true;
            lx_accept(l, "+-");
            if (lx_accept(l, "._eE") || lx_peek(l) == EOF_RUNE) {
                return false;
            }
            continue;
        }
        if (lx_accept(l, "_")) {
            if (lx_accept(l, "._eE") || lx_peek(l) == EOF_RUNE) {
                return false;
            }
            continue;
        }
        lx_accept_run(l, digits);
    }
    if (l->pos == initial) {
        return false;
    }
    return !is_alnum(lx_peek(l));
}

static bool accept_remaining_duration(promql_lexer *l)
{
    if (!lx_accept(l, "smhdwy")) {
        return false;
    }
    lx_accept(l, "s");
    while (lx_accept(l, "0123456789")) {
        lx_accept_run(l, "0123456789");
        if (!lx_accept(l, "smhdw")) {
            return false;
        }
        lx_accept(l, "s");
    }
    return !is_alnum(lx_next(l));
}

static void lex_number_or_duration(promql_lexer *l, promql_token *t)
{
    if (scan_number(l)) {
        lx_emit(l, t, TOK_NUMBER);
        return;
    }
    if (accept_remaining_duration(l)) {
        lx_backup(l);
        lx_emit(l, t, TOK_DURATION);
        return;
    }
    odin_strbuf q;
    odin_strbuf_init(&q, 0);
    promql_quote(&q, l->in + l->start, l->pos - l->start);
    lx_error(l, t, "bad number or duration syntax: %s", q.p);
    odin_strbuf_fini(&q);
}

/* Checks one escape after the backslash (Go's scanner rules); false with an error set. */
static bool lex_escape(promql_lexer *l, promql_token *t)
{
    uint32_t ch = lx_next(l);
    int n;
    uint32_t base, max;
    if (in_set(ch, "abfnrtv\\") || ch == (uint32_t)(unsigned char)l->string_open) {
        return true;
    }
    if (ch >= '0' && ch <= '7') {
        n = 3, base = 8, max = 255;
    } else if (ch == 'x') {
        ch = lx_next(l), n = 2, base = 16, max = 255;
    } else if (ch == 'u') {
        ch = lx_next(l), n = 4, base = 16, max = 0x10FFFF;
    } else if (ch == 'U') {
        ch = lx_next(l), n = 8, base = 16, max = 0x10FFFF;
    } else if (ch == EOF_RUNE) {
        lx_error(l, t, "escape sequence not terminated");
        return false;
    } else {
        odin_strbuf q;
        odin_strbuf_init(&q, 64);
        promql_quote_rune(&q, ch);
        lx_error(l, t, "unknown escape sequence U+%04X %s", (unsigned)ch, q.p);
        odin_strbuf_fini(&q);
        return false;
    }
    uint32_t x = 0;
    while (n > 0) {
        uint32_t d = 16;
        if (ch >= '0' && ch <= '9') {
            d = ch - '0';
        } else if (ch >= 'a' && ch <= 'f') {
            d = ch - 'a' + 10;
        } else if (ch >= 'A' && ch <= 'F') {
            d = ch - 'A' + 10;
        }
        if (d >= base) {
            if (ch == EOF_RUNE) {
                lx_error(l, t, "escape sequence not terminated");
                return false;
            }
            odin_strbuf q;
            odin_strbuf_init(&q, 64);
            promql_quote_rune(&q, ch);
            lx_error(l, t, "illegal character U+%04X %s in escape sequence", (unsigned)ch, q.p);
            odin_strbuf_fini(&q);
            return false;
        }
        x = x * base + d;
        if (--n > 0) {
            ch = lx_next(l);
        }
    }
    if (x > max || (x >= 0xD800 && x < 0xE000)) {
        lx_error(l, t, "escape sequence is an invalid Unicode code point");
        return false;
    }
    return true;
}

static void lex_string(promql_lexer *l, promql_token *t)
{
    for (;;) {
        uint32_t r = lx_next(l);
        if (r == '\\') {
            if (!lex_escape(l, t)) {
                return;
            }
        } else if (r == RUNE_ERROR) {
            lx_error(l, t, "invalid UTF-8 rune");
            return;
        } else if (r == EOF_RUNE || r == '\n') {
            lx_error(l, t, "unterminated quoted string");
            return;
        } else if (r == (uint32_t)(unsigned char)l->string_open) {
            break;
        }
    }
    lx_emit(l, t, TOK_STRING);
}

static void lex_raw_string(promql_lexer *l, promql_token *t)
{
    for (;;) {
        uint32_t r = lx_next(l);
        if (r == RUNE_ERROR) {
            lx_error(l, t, "invalid UTF-8 rune");
            return;
        }
        if (r == EOF_RUNE) {
            lx_error(l, t, "unterminated raw string");
            return;
        }
        if (r == '`') {
            break;
        }
    }
    lx_emit(l, t, TOK_STRING);
}

static void skip_spaces(promql_lexer *l)
{
    while (is_space(lx_peek(l))) {
        lx_next(l);
    }
    l->start = l->pos;
}

/* A comment runs to the end of the line; Prometheus drops it before the parser sees it. */
static bool skip_comment(promql_lexer *l)
{
    if (l->pos >= l->len || l->in[l->pos] != '#') {
        return false;
    }
    while (l->pos < l->len && l->in[l->pos] != '\n' && l->in[l->pos] != '\r') {
        l->pos++;
    }
    l->start = l->pos;
    return true;
}

/* fill, fill_left and fill_right are keywords only before '(' (Prometheus 3.x). */
static bool followed_by_lparen(const promql_lexer *l)
{
    for (size_t i = l->pos; i < l->len; i++) {
        if (!is_space((unsigned char)l->in[i])) {
            return l->in[i] == '(';
        }
    }
    return false;
}

static void lex_keyword_or_identifier(promql_lexer *l, promql_token *t)
{
    uint32_t r;
    do {
        r = lx_next(l);
    } while (is_alnum(r) || r == ':');
    lx_backup(l);
    const char *w = l->in + l->start;
    size_t n = l->pos - l->start;
    promql_tok_type kw;
    if (lookup_keyword(w, n, &kw)) {
        if ((kw == TOK_FILL || kw == TOK_FILL_LEFT || kw == TOK_FILL_RIGHT) &&
            !followed_by_lparen(l)) {
            kw = TOK_IDENT;
        }
        lx_emit(l, t, kw);
        return;
    }
    lx_emit(l, t, memchr(w, ':', n) ? TOK_METRIC_IDENT : TOK_IDENT);
}

/* step/range/max_of/min_of inside brackets. */
static bool scan_duration_keyword(promql_lexer *l, promql_token *t)
{
    while (is_alpha(lx_next(l))) {
    }
    lx_backup(l);
    const char *w = l->in + l->start;
    size_t n = l->pos - l->start;
    static const keyword dkw[] = {
        {"step", TOK_STEP}, {"range", TOK_RANGE}, {"max_of", TOK_MAX_OF}, {"min_of", TOK_MIN_OF}};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(dkw); i++) {
        if (ieq(w, n, dkw[i].word)) {
            lx_emit(l, t, dkw[i].type);
            return true;
        }
    }
    return false;
}

static bool is_duration_keyword_start(uint32_t r)
{
    return in_set(r, "srmSRM");
}

static void lex_inside_braces(promql_lexer *l, promql_token *t)
{
    for (;;) {
        if (skip_comment(l)) {
            continue;
        }
        uint32_t r = lx_next(l);
        if (r == EOF_RUNE) {
            lx_error(l, t, "unexpected end of input inside braces");
            return;
        }
        if (is_space(r)) {
            skip_spaces(l);
            continue;
        }
        if (is_alpha(r)) {
            while (is_alnum(lx_next(l))) {
            }
            lx_backup(l);
            lx_emit(l, t, TOK_IDENT);
            return;
        }
        switch (r) {
        case ',':
            lx_emit(l, t, TOK_COMMA);
            return;
        case '"':
        case '\'':
            l->string_open = (char)r;
            lex_string(l, t);
            return;
        case '`':
            l->string_open = '`';
            lex_raw_string(l, t);
            return;
        case '=':
            if (lx_next(l) == '~') {
                lx_emit(l, t, TOK_EQL_REGEX);
                return;
            }
            lx_backup(l);
            lx_emit(l, t, TOK_EQL);
            return;
        case '!': {
            uint32_t nr = lx_next(l);
            if (nr == '~') {
                lx_emit(l, t, TOK_NEQ_REGEX);
            } else if (nr == '=') {
                lx_emit(l, t, TOK_NEQ);
            } else {
                lx_error_rune(l, t, "unexpected character after '!' inside braces: ", nr, "");
            }
            return;
        }
        case '{':
            lx_error_rune(l, t, "unexpected left brace ", r, "");
            return;
        case '}':
            lx_emit(l, t, TOK_RBRACE);
            l->state = LEX_STATEMENTS;
            return;
        default:
            lx_error_rune(l, t, "unexpected character inside braces: ", r, "");
            return;
        }
    }
}

/* Right after '[' (and after operators inside it): durations and duration arithmetic. */
static void lex_duration_expr(promql_lexer *l, promql_token *t)
{
    for (;;) {
        uint32_t r = lx_next(l);
        if (is_space(r)) {
            skip_spaces(l);
            continue;
        }
        static const char ops[] = "+-*/%^,";
        static const promql_tok_type op_types[] = {TOK_ADD, TOK_SUB, TOK_MUL, TOK_DIV,
                                                   TOK_MOD, TOK_POW, TOK_COMMA};
        if (in_set(r, ops)) {
            lx_emit(l, t, op_types[strchr(ops, (int)r) - ops]);
            return;
        }
        switch (r) {
        case EOF_RUNE:
            lx_error(l, t, "unexpected end of input in duration expression");
            return;
        case ']':
            lx_emit(l, t, TOK_RBRACKET);
            l->bracket_open = false;
            l->got_colon = false;
            l->state = LEX_STATEMENTS;
            return;
        case ':':
            lx_emit(l, t, TOK_COLON);
            if (!l->got_duration) {
                lx_error(l, t, "unexpected colon before duration in duration expression");
            } else if (l->got_colon) {
                lx_error(l, t, "unexpected repeated colon in duration expression");
            }
            l->got_colon = true;
            return;
        case '(':
            lx_emit(l, t, TOK_LPAREN);
            l->paren_depth++;
            return;
        case ')':
            lx_emit(l, t, TOK_RPAREN);
            if (--l->paren_depth < 0) {
                lx_error_rune(l, t, "unexpected right parenthesis ", r, "");
            }
            return;
        default:
            break;
        }
        if (is_duration_keyword_start(r) && scan_duration_keyword(l, t)) {
            return;
        }
        if (is_digit(r) || (r == '.' && is_digit(lx_peek(l)))) {
            lx_backup(l);
            l->got_duration = true;
            l->state = LEX_STATEMENTS;
            lex_number_or_duration(l, t);
            return;
        }
        lx_error_rune(l, t, "unexpected character in duration expression: ", r, "");
        return;
    }
}

/* Operators and punctuation of the statements state; false when r is none of them. */
static bool lex_operator(promql_lexer *l, promql_token *t, uint32_t r)
{
    static const char simple[] = ",*/%+-^@";
    static const promql_tok_type simple_types[] = {TOK_COMMA, TOK_MUL, TOK_DIV, TOK_MOD,
                                                   TOK_ADD,   TOK_SUB, TOK_POW, TOK_AT};
    if (in_set(r, simple)) {
        lx_emit(l, t, simple_types[strchr(simple, (int)r) - simple]);
        return true;
    }
    uint32_t nx;
    switch (r) {
    case '=':
        nx = lx_peek(l);
        if (nx == '=') {
            lx_next(l);
            lx_emit(l, t, TOK_EQLC);
        } else if (nx == '~') {
            lx_error_rune(l, t, "unexpected character after '=': ", nx, "");
        } else {
            lx_emit(l, t, TOK_EQL);
        }
        return true;
    case '!':
        nx = lx_next(l);
        if (nx != '=') {
            lx_error_rune(l, t, "unexpected character after '!': ", nx, "");
        } else {
            lx_emit(l, t, TOK_NEQ);
        }
        return true;
    case '<':
    case '>':
        nx = lx_peek(l);
        if (nx == '=' || nx == '/') {
            lx_next(l);
        }
        if (r == '<') {
            lx_emit(l, t, nx == '=' ? TOK_LTE : nx == '/' ? TOK_TRIM_UPPER : TOK_LSS);
        } else {
            lx_emit(l, t, nx == '=' ? TOK_GTE : nx == '/' ? TOK_TRIM_LOWER : TOK_GTR);
        }
        return true;
    default:
        return false;
    }
}

/* Letters or ':' inside brackets after the first duration: only ':' and keywords. */
static void lex_in_bracket_word(promql_lexer *l, promql_token *t, uint32_t r)
{
    if (r == ':') {
        if (l->got_colon) {
            lx_error_rune(l, t, "unexpected colon ", r, "");
            return;
        }
        lx_emit(l, t, TOK_COLON);
        l->got_colon = true;
        return;
    }
    if (is_duration_keyword_start(r) && scan_duration_keyword(l, t)) {
        return;
    }
    lx_error_rune(l, t, "unexpected character: ", r, ", expected ':'");
}

/* The statements state: a flat dispatch on the next rune, kept in one function like
 * Prometheus' lexStatements so the two can be compared line by line. */
static void lex_statements(promql_lexer *l, promql_token *t)
{
    for (;;) {
        if (skip_comment(l)) {
            continue;
        }
        uint32_t r = lx_next(l);
        if (r == EOF_RUNE) {
            if (l->paren_depth != 0) {
                lx_error(l, t, "unclosed left parenthesis");
            } else if (l->bracket_open) {
                lx_error(l, t, "unclosed left bracket");
            } else {
                lx_emit(l, t, TOK_EOF);
                l->state = LEX_DONE;
            }
            return;
        }
        if (is_space(r)) {
            skip_spaces(l);
            continue;
        }
        if (lex_operator(l, t, r)) {
            return;
        }
        if (is_digit(r) || (r == '.' && is_digit(lx_peek(l)))) {
            lx_backup(l);
            lex_number_or_duration(l, t);
            return;
        }
        if (r == '"' || r == '\'' || r == '`') {
            l->string_open = (char)r;
            if (r == '`') {
                lex_raw_string(l, t);
            } else {
                lex_string(l, t);
            }
            return;
        }
        if (is_alpha(r) || r == ':') {
            if (l->bracket_open) {
                lex_in_bracket_word(l, t, r);
                return;
            }
            lx_backup(l);
            lex_keyword_or_identifier(l, t);
            return;
        }
        switch (r) {
        case '(':
            lx_emit(l, t, TOK_LPAREN);
            l->paren_depth++;
            return;
        case ')':
            lx_emit(l, t, TOK_RPAREN);
            if (--l->paren_depth < 0) {
                lx_error_rune(l, t, "unexpected right parenthesis ", r, "");
            }
            return;
        case '{':
            lx_emit(l, t, TOK_LBRACE);
            l->state = LEX_INSIDE_BRACES;
            return;
        case '[':
            if (l->bracket_open) {
                lx_error_rune(l, t, "unexpected left bracket ", r, "");
                return;
            }
            l->got_colon = false;
            l->got_duration = false;
            lx_emit(l, t, TOK_LBRACKET);
            skip_spaces(l);
            l->bracket_open = true;
            l->state = LEX_DURATION_EXPR;
            return;
        case ']':
            if (!l->bracket_open) {
                lx_error_rune(l, t, "unexpected right bracket ", r, "");
                return;
            }
            lx_emit(l, t, TOK_RBRACKET);
            l->bracket_open = false;
            return;
        default:
            lx_error_rune(l, t, "unexpected character: ", r, "");
            return;
        }
    }
}

void promql_lexer_next(promql_lexer *l, promql_token *t)
{
    switch (l->state) {
    case LEX_STATEMENTS:
        lex_statements(l, t);
        break;
    case LEX_INSIDE_BRACES:
        lex_inside_braces(l, t);
        break;
    case LEX_DURATION_EXPR:
        lex_duration_expr(l, t);
        break;
    case LEX_DONE:
        t->type = TOK_EOF;
        t->pos = (uint32_t)l->len;
        t->len = 0;
        break;
    }
}

/* ---- Token descriptions -------------------------------------------------------------------- */

static const char *const punct_text[] = {
    [TOK_LPAREN] = "(",   [TOK_RPAREN] = ")", [TOK_LBRACE] = "{", [TOK_RBRACE] = "}",
    [TOK_LBRACKET] = "[", [TOK_RBRACKET] = "]", [TOK_COMMA] = ",", [TOK_EQL] = "=",
    [TOK_COLON] = ":",
};

/* Go's fmt "%.10q": the first 10 runes, quoted. */
static void quote_prefix10(odin_strbuf *b, const char *s, size_t n)
{
    size_t i = 0;
    for (int runes = 0; i < n && runes < 10; runes++) {
        size_t w;
        promql_utf8_decode((const unsigned char *)s + i, n - i, &w);
        i += w;
    }
    promql_quote(b, s, i);
}

void promql_token_desc(odin_strbuf *b, const char *in, const promql_token *t)
{
    const char *v = in + t->pos;
    size_t n = t->len;
    switch (t->type) {
    case TOK_EOF:
        odin_strbuf_puts(b, "end of input");
        return;
    case TOK_IDENT:
    case TOK_METRIC_IDENT:
    case TOK_NUMBER:
    case TOK_DURATION:
    case TOK_STRING:
        odin_strbuf_puts(b, t->type == TOK_IDENT          ? "identifier "
                            : t->type == TOK_METRIC_IDENT ? "metric identifier "
                            : t->type == TOK_NUMBER       ? "number "
                            : t->type == TOK_DURATION     ? "duration "
                                                          : "string ");
        if (t->type != TOK_IDENT && t->type != TOK_METRIC_IDENT && n > 10) {
            quote_prefix10(b, v, n);
            odin_strbuf_puts(b, "...");
        } else {
            promql_quote(b, v, n);
        }
        return;
    default:
        break;
    }
    if (t->type > TOK_OPS_START && t->type < TOK_OPS_END) {
        odin_strbuf_puts(b, "<op:");
    } else if (t->type > TOK_AGGS_START && t->type < TOK_AGGS_END) {
        odin_strbuf_puts(b, "<aggr:");
    } else if ((t->type > TOK_KEYWORDS_START && t->type < TOK_KEYWORDS_END) ||
               t->type >= TOK_START) {
        odin_strbuf_puts(b, "<");
    } else {
        const char *p = (size_t)t->type < ODIN_ARRAY_LEN(punct_text) ? punct_text[t->type] : NULL;
        promql_quote(b, p ? p : v, p ? strlen(p) : n);
        return;
    }
    odin_strbuf_put(b, v, n);
    odin_strbuf_putc(b, '>');
}

/* ---- Durations ------------------------------------------------------------------------------ */

int promql_parse_duration(const char *s, size_t n, int64_t *ms, odin_strbuf *msg)
{
    static const char *const units[] = {"y", "w", "d", "h", "m", "s", "ms"};
    odin_strbuf q;
    odin_strbuf_init(&q, 0);
    promql_quote(&q, s, n);
    size_t i = 0;
    size_t next = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        size_t us = i;
        while (i < n && s[i] >= 'a' && s[i] <= 'z') {
            i++;
        }
        size_t u = 0;
        while (u < ODIN_ARRAY_LEN(units) && !(strlen(units[u]) == i - us &&
                                               memcmp(units[u], s + us, i - us) == 0)) {
            u++;
        }
        if (u == ODIN_ARRAY_LEN(units)) {
            odin_strbuf uq;
            odin_strbuf_init(&uq, 0);
            promql_quote(&uq, s + us, i - us);
            odin_strbuf_printf(msg, "unknown unit %s in duration %s", uq.p, q.p);
            odin_strbuf_fini(&uq);
            rc = -1;
        } else if (u < next) {
            rc = -2;
        }
        next = u + 1;
    }
    if (rc == 0 && odin_parse_duration_ms((odin_str){s, n}, ms) < 0) {
        rc = -2;
    }
    if (rc == -2) {
        odin_strbuf_printf(msg, "not a valid duration string: %s", q.p);
    }
    odin_strbuf_fini(&q);
    return rc < 0 ? -1 : 0;
}
