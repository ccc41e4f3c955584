/* Tests for the PromQL parser (src/promql/parser.c, parser_check.c, lexer.c, format.c,
 * function_table.c): queries printed back as Prometheus' String() does, errors with
 * Prometheus' messages and positions, the tree the engine walks, and the depth limit. The
 * expectations were worked out from Prometheus' parser behaviour (parse_test.go, printer_test.go
 * at 3.x). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "promql/ast.h"

typedef struct {
    const char *in;
    const char *out; /* promql_expr_format */
} fmt_case;

typedef struct {
    const char *in;
    const char *msg; /* prefix of the error message: "LINE:COL: parse error: ..." */
} err_case;

static const fmt_case format_cases[] = {
    {"sum by() (task:errors:rate10s{job=\"s\"})", "sum(task:errors:rate10s{job=\"s\"})"},
    {"sum by(code) (task:errors:rate10s{job=\"s\"})", "sum by (code) (task:errors:rate10s{job=\"s\"})"},
    {"sum without() (task:errors:rate10s{job=\"s\"})", "sum without () (task:errors:rate10s{job=\"s\"})"},
    {"sum without(instance) (task:errors:rate10s{job=\"s\"})", "sum without (instance) (task:errors:rate10s{job=\"s\"})"},
    {"sum by(\"foo.bar\") (task:errors:rate10s{job=\"s\"})", "sum by (\"foo.bar\") (task:errors:rate10s{job=\"s\"})"},
    {"sum(x) by (a, b)", "sum by (a, b) (x)"},
    {"sum(x) without (a,)", "sum without (a) (x)"},
    {"SUM BY (a) (x)", "sum by (a) (x)"},
    {"topk(5, task:errors:rate10s{job=\"s\"})", "topk(5, task:errors:rate10s{job=\"s\"})"},
    {"count_values(\"value\", task:errors:rate10s{job=\"s\"})", "count_values(\"value\", task:errors:rate10s{job=\"s\"})"},
    {"quantile(0.9, rate(x[5m]))", "quantile(0.9, rate(x[5m]))"},
    {"bottomk by (a) (3, x)", "bottomk by (a) (3, x)"},
    {"avg(x)", "avg(x)"},
    {"count(x)", "count(x)"},
    {"min(x)", "min(x)"},
    {"max(x)", "max(x)"},
    {"group(x)", "group(x)"},
    {"stddev(x)", "stddev(x)"},
    {"stdvar(x)", "stdvar(x)"},
    {"a - on() c", "a - on () c"},
    {"a - on(b) c", "a - on (b) c"},
    {"a - on(b) group_left(x) c", "a - on (b) group_left (x) c"},
    {"a - on(b) group_left(x, y) c", "a - on (b) group_left (x, y) c"},
    {"a - on(b) group_left c", "a - on (b) group_left () c"},
    {"a - on(b) group_left() (c)", "a - on (b) group_left () (c)"},
    {"a - ignoring(b) c", "a - ignoring (b) c"},
    {"a - ignoring() c", "a - c"},
    {"a - ignoring() group_left(__metric__) c", "a - ignoring () group_left (__metric__) c"},
    {"a - ignoring() group_left c", "a - ignoring () group_left () c"},
    {"a * on(b) group_right(c) d", "a * on (b) group_right (c) d"},
    {"a and on(b) c", "a and on (b) c"},
    {"a or ignoring(b) c", "a or ignoring (b) c"},
    {"a unless c", "a unless c"},
    {"up > bool 0", "up > bool 0"},
    {"up == bool on(a) down", "up == bool on (a) down"},
    {"1 == bool 1", "1 == bool 1"},
    {"a offset 1m", "a offset 1m"},
    {"a offset -7m", "a offset -7m"},
    {"a{c=\"d\"}[5m] offset 1m", "a{c=\"d\"}[5m] offset 1m"},
    {"a[5m] offset 1m", "a[5m] offset 1m"},
    {"a[12m] offset -3m", "a[12m] offset -3m"},
    {"a[1h:5m] offset 1m", "a[1h:5m] offset 1m"},
    {"{__name__=\"a\"}", "{__name__=\"a\"}"},
    {"a{b!=\"c\"}[1m]", "a{b!=\"c\"}[1m]"},
    {"a{b=~\"c\"}[1m]", "a{b=~\"c\"}[1m]"},
    {"a{b!~\"c\"}[1m]", "a{b!~\"c\"}[1m]"},
    {"a @ 10", "a @ 10.000"},
    {"a[1m] @ 10", "a[1m] @ 10.000"},
    {"a @ start()", "a @ start()"},
    {"a @ end()", "a @ end()"},
    {"a[1m] @ start()", "a[1m] @ start()"},
    {"a[1m] @ end()", "a[1m] @ end()"},
    {"a @ 1.5", "a @ 1.500"},
    {"a @ -2.25", "a @ -2.250"},
    {"a @ -0.5", "a @ -0.500"},
    {"a @ 1m", "a @ 60.000"},
    {"a offset 5m @ 100", "a @ 100.000 offset 5m"},
    {"a @ 100 offset 5m", "a @ 100.000 offset 5m"},
    {"{__name__=\"\",a=\"x\"}", "{__name__=\"\",a=\"x\"}"},
    {"{\"a.b\"=\"c\"}", "{\"a.b\"=\"c\"}"},
    {"{\"0\"=\"1\"}", "{\"0\"=\"1\"}"},
    {"{\"_0\"=\"1\"}", "{_0=\"1\"}"},
    {"{\"\"=\"0\"}", "{\"\"=\"0\"}"},
    {"{``=\"0\"}", "{\"\"=\"0\"}"},
    {"{\"foo\"}", "{__name__=\"foo\"}"},
    {"{\"foo\", a=\"b\"}", "{__name__=\"foo\",a=\"b\"}"},
    {"1048576", "1048576"},
    {"1", "1"},
    {"-1", "-1"},
    {"+1", "1"},
    {"- -1", "1"},
    {"--1", "1"},
    {"1.5", "1.5"},
    {".5", "0.5"},
    {"5.", "5"},
    {"1e3", "1000"},
    {"1E3", "1000"},
    {"1e-3", "0.001"},
    {"1e21", "1000000000000000000000"},
    {"1e-7", "0.0000001"},
    {"0x1F", "31"},
    {"0X1f", "31"},
    {"0x_1F", "31"},
    {"010", "8"},
    {"08", "8"},
    {"1_000", "1000"},
    {"Inf", "+Inf"},
    {"-Inf", "-Inf"},
    {"+inf", "+Inf"},
    {"NaN", "NaN"},
    {"nAn", "NaN"},
    {"-1 + 2", "-1 + 2"},
    {"-(1)", "-(1)"},
    {"-(1 + 2)", "-(1 + 2)"},
    {"+(1)", "+(1)"},
    {"2 * -1", "2 * -1"},
    {"-a", "-a"},
    {"-a ^ 2", "-a ^ 2"},
    {"-1 ^ 2", "-1 ^ 2"},
    {"(-1) ^ 2", "(-1) ^ 2"},
    {"2 ^ 3 ^ 2", "2 ^ 3 ^ 2"},
    {"(2 ^ 3) ^ 2", "(2 ^ 3) ^ 2"},
    {"1 + 2 * 3", "1 + 2 * 3"},
    {"(1 + 2) * 3", "(1 + 2) * 3"},
    {"1 - 2 - 3", "1 - 2 - 3"},
    {"1 - (2 - 3)", "1 - (2 - 3)"},
    {"a + b * c / d % e", "a + b * c / d % e"},
    {"a atan2 b", "a atan2 b"},
    {"a ATAN2 b", "a atan2 b"},
    {"a or b and c", "a or b and c"},
    {"a and b unless c", "a and b unless c"},
    {"a > b + c", "a > b + c"},
    {"a == b", "a == b"},
    {"a != b", "a != b"},
    {"a < b", "a < b"},
    {"a <= b", "a <= b"},
    {"a >= b", "a >= b"},
    {"a > 1", "a > 1"},
    {"\"foo\"", "\"foo\""},
    {"'foo'", "\"foo\""},
    {"`foo`", "\"foo\""},
    {"\"a\\tb\\\\c\\\"d\"", "\"a\\tb\\\\c\\\"d\""},
    {"'a\"b'", "\"a\\\"b\""},
    {"'it\\'s'", "\"it's\""},
    {"\"\\x41\\101\\u00e9\"", "\"AA\303\251\""},
    {"\"\\u00a0\"", "\"\\u00a0\""},
    {"`\\n`", "\"\\\\n\""},
    {"\"\303\251\"", "\"\303\251\""},
    {"rate(x[5m])", "rate(x[5m])"},
    {"rate(x[1h30m])", "rate(x[1h30m])"},
    {"rate(x[90m])", "rate(x[1h30m])"},
    {"rate(x[300])", "rate(x[5m])"},
    {"rate(x[1.5])", "rate(x[1s500ms])"},
    {"rate(x[2d])", "rate(x[2d])"},
    {"rate(x[14d])", "rate(x[2w])"},
    {"rate(x[365d])", "rate(x[1y])"},
    {"rate(x[366d])", "rate(x[366d])"},
    {"rate(x[500ms])", "rate(x[500ms])"},
    {"rate(x[1m1ms])", "rate(x[1m1ms])"},
    {"rate(x[ 5m ])", "rate(x[5m])"},
    {"x[5m:]", "x[5m:]"},
    {"x[5m:1m]", "x[5m:1m]"},
    {"x[1h:] @ end()", "x[1h:] @ end()"},
    {"rate(x[5m])[30m:1m]", "rate(x[5m])[30m:1m]"},
    {"max_over_time(rate(x[5m])[1h:] offset 1d)", "max_over_time(rate(x[5m])[1h:] offset 1d)"},
    {"min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] offset 4m)[4m:3s]", "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] offset 4m)[4m:3s]"},
    {"(foo + bar{nm=\"val\"})[5m:] offset 10m", "(foo + bar{nm=\"val\"})[5m:] offset 10m"},
    {"histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))", "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))"},
    {"label_replace(up, \"dst\", \"$1\", \"src\", \"(.*)\")", "label_replace(up, \"dst\", \"$1\", \"src\", \"(.*)\")"},
    {"label_join(up, \"dst\", \",\", \"a\", \"b\", \"c\")", "label_join(up, \"dst\", \",\", \"a\", \"b\", \"c\")"},
    {"round(x)", "round(x)"},
    {"round(x, 5)", "round(x, 5)"},
    {"time()", "time()"},
    {"pi()", "pi()"},
    {"vector(1)", "vector(1)"},
    {"scalar(x)", "scalar(x)"},
    {"clamp(x, 0, 1)", "clamp(x, 0, 1)"},
    {"day_of_week()", "day_of_week()"},
    {"absent(nonexistent{job=\"x\"})", "absent(nonexistent{job=\"x\"})"},
    {"sort_desc(sum by (a) (x))", "sort_desc(sum by (a) (x))"},
    {"predict_linear(x[1h], 3600)", "predict_linear(x[1h], 3600)"},
    {"quantile_over_time(0.5, x[5m])", "quantile_over_time(0.5, x[5m])"},
    {"histogram_fraction(0, 0.1, x)", "histogram_fraction(0, 0.1, x)"},
    {"sum by (job) (rate(x[5m]))", "sum by (job) (rate(x[5m]))"},
    {"sum by (job)(rate(x[5m]))", "sum by (job) (rate(x[5m]))"},
    {"sum(rate(x[5m])) by (job)", "sum by (job) (rate(x[5m]))"},
    {"count by (a) (x) > 1", "count by (a) (x) > 1"},
    {"foo:bar:baz", "foo:bar:baz"},
    {"foo:bar{a=\"b\"}", "foo:bar{a=\"b\"}"},
    {"sum", "sum"},
    {"sum{a=\"b\"}", "sum{a=\"b\"}"},
    {"by", "by"},
    {"offset", "offset"},
    {"offset offset 5m", "offset offset 5m"},
    {"avg + 1", "avg + 1"},
    {"start", "start"},
    {"{on=\"x\"}", "{on=\"x\"}"},
    {"x{bool=\"x\",on=\"y\",group_left=\"z\"}", "x{bool=\"x\",group_left=\"z\",on=\"y\"}"},
    {"sum by (on, bool, group_left, offset) (x)", "sum by (on, bool, group_left, offset) (x)"},
    {"sum by (a:b) (x)", "sum by (\"a:b\") (x)"},
    {"foo{c=\"d\",a=\"b\"}", "foo{a=\"b\",c=\"d\"}"},
    {"foo{a=\"b\",a=\"c\"}", "foo{a=\"b\",a=\"c\"}"},
    {"foo{a=~\"x|y\",}", "foo{a=~\"x|y\"}"},
    {"foo{}", "foo"},
    {"foo # a comment", "foo"},
    {"foo{a=\"b\"} offset 0s", "foo{a=\"b\"}"},
    {"foo offset 1h30m", "foo offset 1h30m"},
    {"foo offset 90m", "foo offset 1h30m"},
    {"foo offset 3600", "foo offset 1h"},
    {"foo offset -1h", "foo offset -1h"},
    {"foo offset +5m", "foo offset 5m"},
    {"(a)", "(a)"},
    {"((a))", "((a))"},
    {"sum((a))", "sum((a))"},
    {"fill + fill_left", "fill + fill_left"},
    {"5m", "5m"},
    {"-5m", "-5m"},
    {"1h30m", "1h30m"},
    {"time() - 5m", "time() - 5m"},
    {"a\n+ b", "a + b"},
    {"# head\nfoo{a=\"b\" # inside\n}", "foo{a=\"b\"}"},
};

static const err_case error_cases[] = {
    {"", "unknown position: parse error: no expression found in input"},
    {"# just a comment", "1:1: parse error: no expression found in input"},
    {"1+", "1:3: parse error: unexpected end of input"},
    {".", "1:1: parse error: unexpected character: '.'"},
    {"2.5.", "1:1: parse error: bad number or duration syntax: \"2.5.\""},
    {"100..4", "1:1: parse error: bad number or duration syntax: \"100..\""},
    {"0deadbeef", "1:1: parse error: bad number or duration syntax: \"0de\""},
    {"1 /", "1:4: parse error: unexpected end of input"},
    {"*1", "1:1: parse error: unexpected <op:*>"},
    {"(1))", "1:5: parse error: unexpected right parenthesis ')'"},
    {"((1)", "1:5: parse error: unclosed left parenthesis"},
    {"(", "1:2: parse error: unclosed left parenthesis"},
    {"()", "1:2: parse error: unexpected \")\""},
    {"1 and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
    {"1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"},
    {"1 or 1", "1:1: parse error: set operator \"or\" not allowed in binary scalar expression"},
    {"1 unless 1", "1:1: parse error: set operator \"unless\" not allowed in binary scalar expression"},
    {"1 !~ 1", "1:3: parse error: unexpected character after '!': '~'"},
    {"1 =~ 1", "1:3: parse error: unexpected character after '=': '~'"},
    {"-\"string\"", "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"string\""},
    {"-test[5m]", "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\""},
    {"*test", "1:1: parse error: unexpected <op:*>"},
    {"@@", "1:1: parse error: unexpected <op:@>"},
    {"1 offset 1d", "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"},
    {"foo offset 1s offset 2s", "1:1: parse error: offset may not be set multiple times"},
    {"a - on(b) ignoring(c) d", "1:11: parse error: unexpected <ignoring>"},
    {"foo and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
    {"1 unless foo", "1:1: parse error: set operator \"unless\" not allowed in binary scalar expression"},
    {"1 or on(bar) foo", "1:1: parse error: vector matching only allowed between instant vectors"},
    {"foo == on(bar) 10", "1:1: parse error: vector matching only allowed between instant vectors"},
    {"foo + group_left(baz) bar", "1:7: parse error: unexpected <group_left>"},
    {"foo and on(bar) group_left(baz) bar", "1:1: parse error: no grouping allowed for \"and\" operation"},
    {"foo unless on(bar) group_right(baz) bar", "1:1: parse error: no grouping allowed for \"unless\" operation"},
    {"http_requests{group=\"production\"} + on(instance) group_left(job,instance) cpu_count{type=\"smp\"}", "1:35: parse error: label \"instance\" must not occur in ON and GROUP clause at once"},
    {"foo + bool bar", "1:5: parse error: bool modifier can only be used on comparison operators"},
    {"foo and bool 10", "1:5: parse error: bool modifier can only be used on comparison operators"},
    {"foo > on(a) bool b", "1:13: parse error: unexpected <bool>"},
    {"foo @ +Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"},
    {"foo @ -Inf", "1:1: parse error: timestamp out of bounds for @ modifier: -Inf"},
    {"foo @ NaN", "1:1: parse error: timestamp out of bounds for @ modifier: NaN"},
    {"foo @ 9223372036854775808", "1:1: parse error: timestamp out of bounds for @ modifier: 9223372036854775808.000000"},
    {"foo offset nan", "1:12: parse error: duration out of range"},
    {"foo[NaN]", "1:5: parse error: unexpected character in duration expression: 'N'"},
    {"foo[1m] offset -Inf", "1:16: parse error: duration out of range"},
    {"foo @ 1e16", "1:1: parse error: timestamp out of bounds for @ modifier: 10000000000000000.000000"},
    {"foo @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times"},
    {"foo @ start", "1:12: parse error: unexpected end of input in @, expected timestamp"},
    {"foo @ bar", "1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp"},
    {"{", "1:2: parse error: unexpected end of input inside braces"},
    {"}", "1:1: parse error: unexpected character: '}'"},
    {"some{", "1:6: parse error: unexpected end of input inside braces"},
    {"some}", "1:5: parse error: unexpected character: '}'"},
    {"some_metric{a=b}", "1:15: parse error: unexpected identifier \"b\" in label matching, expected string"},
    {"some_metric{a:b=\"b\"}", "1:14: parse error: unexpected character inside braces: ':'"},
    {"foo{a*\"b\"}", "1:6: parse error: unexpected character inside braces: '*'"},
    {"foo{a>=\"b\"}", "1:6: parse error: unexpected character inside braces: '>'"},
    {"foo{gibberish}", "1:14: parse error: unexpected \"}\" in label matching, expected label matching operator"},
    {"foo{1}", "1:5: parse error: unexpected character inside braces: '1'"},
    {"foo{a!b}", "1:6: parse error: unexpected character after '!' inside braces: 'b'"},
    {"foo{{", "1:5: parse error: unexpected left brace '{'"},
    {"{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x=\"\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x=~\".*\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x!~\".+\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x!=\"a\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"rate({x=\"\"}[5m])", "1:6: parse error: vector selector must contain at least one non-empty matcher"},
    {"foo{__name__=\"bar\"}", "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
    {"foo{__name__= =}", "1:15: parse error: unexpected \"=\" in label matching, expected string"},
    {"foo{,}", "1:5: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
    {"foo{__name__ == \"bar\"}", "1:15: parse error: unexpected \"=\" in label matching, expected string"},
    {"foo{__name__=\"bar\" lol}", "1:20: parse error: unexpected identifier \"lol\" in label matching, expected \",\" or \"}\""},
    {"foo{\"a\"=}", "1:9: parse error: unexpected \"}\" in label matching, expected string"},
    {"foo{a=~\"(\"}", "1:5: parse error: invalid regular expression"},
    {"foo[5mm]", "1:5: parse error: bad number or duration syntax: \"5mm\""},
    {"foo[5m1]", "1:5: parse error: bad number or duration syntax: \"5m1\""},
    {"foo[5m:1m1]", "1:8: parse error: bad number or duration syntax: \"1m1\""},
    {"foo[5y1hs]", "1:5: parse error: unknown unit \"hs\" in duration \"5y1hs\""},
    {"foo[5m1h]", "1:5: parse error: not a valid duration string: \"5m1h\""},
    {"foo[5m1m]", "1:5: parse error: not a valid duration string: \"5m1m\""},
    {"foo[0m]", "1:5: parse error: duration must be greater than 0"},
    {"foo[5m:0s]", "1:8: parse error: duration must be greater than 0"},
    {"foo[\"5m\"]", "1:5: parse error: unexpected character in duration expression: '\"'"},
    {"foo[]", "1:5: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()"},
    {"foo[-1]", "1:5: parse error: duration must be greater than 0"},
    {"foo[5m", "1:7: parse error: unclosed left bracket"},
    {"foo[5m:1m", "1:10: parse error: unclosed left bracket"},
    {"foo[5m x]", "1:8: parse error: unexpected character: 'x', expected ':'"},
    {"foo[5m::]", "1:8: parse error: unexpected colon ':'"},
    {"foo[5m]]", "1:8: parse error: unexpected right bracket ']'"},
    {"foo[5m][5m]", "1:8: parse error: ranges only allowed for vector selectors"},
    {"foo[5m+1m]", "1:5: parse error: experimental duration expression is not enabled"},
    {"foo[step()]", "1:5: parse error: experimental duration expression is not enabled"},
    {"foo[step]", "1:9: parse error: unexpected \"]\" in subquery or range selector, expected number, duration, step(), or range()"},
    {"foo offset (5m)", "1:12: parse error: experimental duration expression is not enabled"},
    {"some_metric[5m] OFFSET 1mm", "1:24: parse error: bad number or duration syntax: \"1mm\""},
    {"some_metric[5m] OFFSET", "1:23: parse error: unexpected end of input in offset, expected number, duration, step(), or range()"},
    {"some_metric OFFSET 1m[5m]", "1:22: parse error: no offset modifiers allowed before range"},
    {"some_metric[5m] @", "1:18: parse error: unexpected end of input in @, expected timestamp"},
    {"some_metric @ 1234 [5m]", "1:20: parse error: no @ modifiers allowed before range"},
    {"some_metric @ start() [5m]", "1:23: parse error: no @ modifiers allowed before range"},
    {"some_metric @ end()[5m]", "1:20: parse error: no @ modifiers allowed before range"},
    {"(foo + bar)[5m]", "1:12: parse error: ranges only allowed for vector selectors"},
    {"foo offset 9.5e10", "1:12: parse error: duration out of range"},
    {"foo[9.5e10]", "1:5: parse error: duration out of range"},
    {"sum by (\"foo)(some_metric{})", "1:9: parse error: unterminated quoted string"},
    {"sum without(==)(some_metric)", "1:13: parse error: unexpected <op:==> in grouping opts, expected label"},
    {"sum without(,)(some_metric)", "1:13: parse error: unexpected \",\" in grouping opts, expected label"},
    {"sum without(foo,,)(some_metric)", "1:17: parse error: unexpected \",\" in grouping opts, expected label"},
    {"sum by (a b) (x)", "1:11: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" or \")\""},
    {"sum by (\"\") (x)", "1:9: parse error: invalid label name for grouping: \"\""},
    {"sum some_metric by (test)", "1:5: parse error: unexpected identifier \"some_metric\""},
    {"sum (some_metric) by test", "1:22: parse error: unexpected identifier \"test\" in grouping opts, expected \"(\""},
    {"sum () by (test)", "1:1: parse error: no arguments for aggregate expression provided"},
    {"MIN keep_common (some_metric)", "1:5: parse error: unexpected identifier \"keep_common\""},
    {"MIN (some_metric) keep_common", "1:19: parse error: unexpected identifier \"keep_common\""},
    {"sum (some_metric) without (test) by (test)", "1:34: parse error: unexpected <by>"},
    {"sum without (test) (some_metric) by (test)", "1:34: parse error: unexpected <by>"},
    {"sum by (a) x", "1:12: parse error: unexpected identifier \"x\" in aggregation"},
    {"sum(a, b)", "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2"},
    {"topk(some_metric)", "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1"},
    {"topk(some_metric,)", "1:17: parse error: trailing commas not allowed in function call args"},
    {"topk(some_metric, other_metric)", "1:6: parse error: expected type scalar in aggregation parameter, got instant vector"},
    {"count_values(5, other_metric)", "1:14: parse error: expected type string in aggregation parameter, got scalar"},
    {"sum(rate(x[5m])[5m:] )", "1:5: parse error: expected type instant vector in aggregation expression, got range vector"},
    {"limitk(1, x)", "1:1: parse error: limitk() is experimental and must be enabled with --enable-feature=promql-experimental-functions"},
    {"limit_ratio(0.5, x)", "1:1: parse error: limit_ratio() is experimental and must be enabled with --enable-feature=promql-experimental-functions"},
    {"sort_by_label(x, \"a\")", "1:1: parse error: function \"sort_by_label\" is not enabled"},
    {"rate(some_metric[5m]) @ 1234", "1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery"},
    {"floor()", "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 0"},
    {"floor(some_metric, other_metric)", "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 2"},
    {"floor(1)", "1:7: parse error: expected type instant vector in call to function \"floor\", got scalar"},
    {"hour(some_metric, some_metric, some_metric)", "1:1: parse error: expected at most 1 argument(s) in call to \"hour\", got 3"},
    {"label_join(x, \"a\")", "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 2"},
    {"label_join(x, \"a\", \",\", 1)", "1:25: parse error: expected type string in call to function \"label_join\", got scalar"},
    {"time(some_metric)", "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1"},
    {"non_existent_function_far_bar()", "1:1: parse error: unknown function with name \"non_existent_function_far_bar\""},
    {"rate(some_metric)", "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"},
    {"rate(x y)", "1:8: parse error: unexpected identifier \"y\""},
    {"-=", "1:2: parse error: unexpected \"=\""},
    {"++-++-+-+-<", "1:11: parse error: unexpected <op:<>"},
    {"e-+=/(0)", "1:4: parse error: unexpected \"=\""},
    {"a>b()", "1:3: parse error: unknown function with name \"b\""},
    {"rate(avg)", "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"},
    {"`\\``", "1:4: parse error: unterminated raw string"},
    {"\"\\", "1:1: parse error: escape sequence not terminated"},
    {"\"\\c\"", "1:1: parse error: unknown escape sequence U+0063 'c'"},
    {"\"\\x.\"", "1:1: parse error: illegal character U+002E '.' in escape sequence"},
    {"\"\\ud800\"", "1:1: parse error: escape sequence is an invalid Unicode code point"},
    {"\"abc", "1:1: parse error: unterminated quoted string"},
    {"'abc", "1:1: parse error: unterminated quoted string"},
    {"foo{bar=\"baz\"}[", "1:16: parse error: unexpected end of input in duration expression"},
    {"test[5d] OFFSET 10s [10m:5s]", "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
    {"(foo + bar{nm=\"val\"})[5m:][10m:5s]", "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
    {"rate(food[1m])[1h] offset 1h", "1:15: parse error: ranges only allowed for vector selectors"},
    {"sum(", "1:5: parse error: unclosed left parenthesis"},
    {"sum(rate(", "1:10: parse error: unclosed left parenthesis"},
    {"foo[5s x 5s]", "1:8: parse error: unexpected character: 'x', expected ':'"},
    {"1[5m] smoothed", "1:2: parse error: ranges only allowed for vector selectors"},
    {"foo anchored", "1:1: parse error: anchored modifier is experimental and not enabled"},
    {"a + fill(0) b", "1:1: parse error: binop fill modifiers are experimental and not enabled"},
    {"x[5m] + 1", "1:1: parse error: binary expression must contain only scalar and instant vector types"},
    {"1 + \"a\"", "1:5: parse error: binary expression must contain only scalar and instant vector types"},
    {"foo bar", "1:5: parse error: unexpected identifier \"bar\""},
    {"foo 1", "1:5: parse error: unexpected number \"1\""},
    {"foo \"long string here\"", "1:5: parse error: unexpected string \"\\\"long stri\"..."},
    {"a </ b", "1:3: parse error: unexpected <op:</>"},
    {"a + b)", "1:7: parse error: unexpected right parenthesis ')'"},
    {"$", "1:1: parse error: unexpected character: '$'"},
    {"a\n+ *b", "2:3: parse error: unexpected <op:*>"},
    {"1e400", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e400\": value out of range"},
    {"0xFFFFFFFFFFFFFFFFFF", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"0xFFFFFFFFFFFFFFFFFF\": invalid syntax"},
    {"max_over_time(rate(x[5m])[1h:]) offset 1d", "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"},
    {"on{a=\"b\"}", "1:1: parse error: unexpected <on>"},
    {"bool{x=\"y\"}", "1:1: parse error: unexpected <bool>"},
    {"a\n  + b(", "2:7: parse error: unclosed left parenthesis"},
};

static promql_expr *parse(const char *q, odin_err *err)
{
    odin_err_clear(err);
    return promql_parse(q, strlen(q), err);
}

static void test_format(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < ODIN_ARRAY_LEN(format_cases); i++) {
        const fmt_case *c = &format_cases[i];
        odin_err err;
        promql_expr *e = parse(c->in, &err);
        if (!e) {
            print_error("case %zu %s: parse error %s\n", i, c->in, err.msg);
            failed++;
            continue;
        }
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        promql_expr_format(&b, e);
        if (strcmp(b.p ? b.p : "", c->out) != 0) {
            print_error("case %zu %s: got %s want %s\n", i, c->in, b.p, c->out);
            failed++;
        }
        /* the printed text parses again to the same text */
        promql_expr *e2 = parse(b.p ? b.p : "", &err);
        odin_strbuf b2;
        odin_strbuf_init(&b2, 0);
        if (e2) {
            promql_expr_format(&b2, e2);
        }
        if (!e2 || strcmp(b.p ? b.p : "", b2.p ? b2.p : "") != 0) {
            print_error("case %zu %s: reprint %s gave %s\n", i, c->in, b.p, e2 ? b2.p : err.msg);
            failed++;
        }
        odin_strbuf_fini(&b2);
        odin_strbuf_fini(&b);
        promql_expr_free(e2);
        promql_expr_free(e);
    }
    assert_int_equal(failed, 0);
}

static void test_errors(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < ODIN_ARRAY_LEN(error_cases); i++) {
        const err_case *c = &error_cases[i];
        odin_err err;
        promql_expr *e = parse(c->in, &err);
        if (e) {
            print_error("case %zu %s: parsed, want error %s\n", i, c->in, c->msg);
            promql_expr_free(e);
            failed++;
            continue;
        }
        if (err.code != ODIN_ERR_PARSE || strncmp(err.msg, c->msg, strlen(c->msg)) != 0) {
            print_error("case %zu %s: got [%d] %s\n  want %s\n", i, c->in, err.code, err.msg,
                        c->msg);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/* The query as bytes without a terminator: the parser must not read past len. */
static void test_not_terminated(void **state)
{
    (void)state;
    const char *q = "sum(rate(x[5m]))";
    size_t n = strlen(q);
    char *buf = malloc(n);
    assert_non_null(buf);
    memcpy(buf, q, n);
    odin_err err;
    odin_err_clear(&err);
    promql_expr *e = promql_parse(buf, n, &err);
    assert_non_null(e);
    promql_expr_free(e);
    odin_err_clear(&err);
    assert_null(promql_parse(buf, n - 1, &err)); /* "sum(rate(x[5m])" */
    assert_string_equal(err.msg, "1:16: parse error: unclosed left parenthesis");
    free(buf);
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++) {
        memcpy(s + hl + i * ul, unit, ul);
    }
    memcpy(s + hl + ul * n, tail, tl + 1);
    return s;
}

static void expect_too_deep(char *q)
{
    odin_err err;
    promql_expr *e = parse(q, &err);
    assert_null(e);
    assert_int_equal(err.code, ODIN_ERR_PARSE);
    assert_non_null(strstr(err.msg, "expression nests deeper than 1000 levels"));
    free(q);
}

static void test_depth_limit(void **state)
{
    (void)state;
    char *open = repeat("", "(", 5000, "1");
    char *q = repeat(open, ")", 5000, "");
    free(open);
    expect_too_deep(q);
    expect_too_deep(repeat("", "-", 5000, "a"));
    expect_too_deep(repeat("a", " + a", 3000, ""));
    expect_too_deep(repeat("a", " ^ a", 3000, ""));
    expect_too_deep(repeat("", "abs(", 3000, "a"));
    expect_too_deep(repeat("a", "[1m:]", 3000, ""));
    /* a few hundred levels are fine */
    char *o2 = repeat("", "(", 300, "1");
    char *ok = repeat(o2, ")", 300, "");
    odin_err err;
    promql_expr *e = parse(ok, &err);
    assert_non_null(e);
    promql_expr_free(e);
    free(o2);
    free(ok);
}

static void test_tree(void **state)
{
    (void)state;
    odin_err err;
    promql_expr *e = parse("sum by (job) (rate(foo{a=~\"x.*\"}[5m] offset -1m @ 10.5)) "
                           "/ on (job) group_left (env) bar",
                           &err);
    assert_non_null(e);
    assert_int_equal(promql_expr_type(e), PROMQL_TYPE_VECTOR);
    const ast_node *r = e->root;
    assert_int_equal(r->kind, AST_BINARY);
    assert_int_equal(r->u.bin.op, OP_DIV);
    assert_true(r->u.bin.on && r->u.bin.has_matching);
    assert_int_equal(r->u.bin.card, CARD_MANY_TO_ONE);
    assert_int_equal(r->u.bin.nlabels, 1);
    assert_string_equal(r->u.bin.labels[0], "job");
    assert_int_equal(r->u.bin.ninclude, 1);
    assert_string_equal(r->u.bin.include[0], "env");
    const ast_node *agg = r->u.bin.lhs;
    assert_int_equal(agg->kind, AST_AGGREGATE);
    assert_int_equal(agg->u.agg.op, AGG_SUM);
    assert_true(agg->u.agg.has_grouping && !agg->u.agg.without);
    const ast_node *call = agg->u.agg.expr;
    assert_int_equal(call->kind, AST_CALL);
    assert_string_equal(call->u.call.fn->name, "rate");
    const ast_node *m = call->u.call.args[0];
    assert_int_equal(m->kind, AST_MATRIX_SEL);
    assert_int_equal(m->type, PROMQL_TYPE_MATRIX);
    assert_int_equal(m->u.sel.range_ms, 300000);
    assert_int_equal(m->u.sel.offset_ms, -60000);
    assert_int_equal(m->u.sel.at, AT_TIME);
    assert_int_equal(m->u.sel.at_ms, 10500);
    assert_string_equal(m->u.sel.name, "foo");
    assert_int_equal(m->u.sel.nmatchers, 2);
    assert_int_equal(m->u.sel.matchers[0].type, TSDB_MATCH_RE);
    assert_string_equal(m->u.sel.matchers[1].name, "__name__");
    assert_string_equal(m->u.sel.matchers[1].value, "foo");
    assert_true(tsdb_matcher_matches(&m->u.sel.matchers[0], (odin_str){"xyz", 3}));
    assert_false(tsdb_matcher_matches(&m->u.sel.matchers[0], (odin_str){"yx", 2}));
    promql_expr_free(e);

    e = parse("a and b", &err);
    assert_non_null(e);
    assert_int_equal(e->root->u.bin.card, CARD_MANY_TO_MANY);
    promql_expr_free(e);

    e = parse("x[1h:5m] @ end()", &err);
    assert_non_null(e);
    assert_int_equal(e->root->kind, AST_SUBQUERY);
    assert_int_equal(e->root->u.sub.range_ms, 3600000);
    assert_int_equal(e->root->u.sub.step_ms, 300000);
    assert_int_equal(e->root->u.sub.at, AT_END);
    promql_expr_free(e);

    e = parse("-(1) + scalar(x) * -2", &err);
    assert_non_null(e);
    assert_int_equal(promql_expr_type(e), PROMQL_TYPE_SCALAR);
    assert_int_equal(e->root->u.bin.lhs->kind, AST_UNARY);
    assert_true(e->root->u.bin.lhs->unary_minus);
    assert_int_equal(e->root->u.bin.rhs->u.bin.rhs->kind, AST_NUMBER);
    assert_true(e->root->u.bin.rhs->u.bin.rhs->u.number == -2.0);
    promql_expr_free(e);

    e = parse("\"s\"", &err);
    assert_int_equal(promql_expr_type(e), PROMQL_TYPE_STRING);
    promql_expr_free(e);
    /* scalar operands drop the matching clause, as Prometheus */
    e = parse("foo + on () 1", &err);
    assert_non_null(e);
    assert_false(e->root->u.bin.has_matching);
    promql_expr_free(e);
    promql_expr_free(NULL);
}

static void test_options(void **state)
{
    (void)state;
    promql_parse_opts opts = {.experimental_functions = true};
    const char *qs[] = {"limitk(2, x)", "limit_ratio(0.5, x)", "sort_by_label(x, \"a\", \"b\")",
                        "mad_over_time(x[5m])"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(qs); i++) {
        odin_err err;
        odin_err_clear(&err);
        promql_expr *e = promql_parse_ex(qs[i], strlen(qs[i]), &opts, &err);
        assert_non_null(e);
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        promql_expr_format(&b, e);
        assert_string_equal(b.p, qs[i]);
        odin_strbuf_fini(&b);
        promql_expr_free(e);
        odin_err_clear(&err);
        assert_null(promql_parse(qs[i], strlen(qs[i]), &err));
    }
}

static void test_function_table(void **state)
{
    (void)state;
    const promql_function *f = promql_function_lookup("label_join", 10);
    assert_non_null(f);
    assert_int_equal(f->nargs, 3);
    assert_int_equal(f->variadic, -1);
    assert_int_equal(f->arg_types[3], PROMQL_TYPE_STRING);
    f = promql_function_lookup("round", 5);
    assert_non_null(f);
    assert_int_equal(f->nargs, 1);
    assert_int_equal(f->variadic, 1);
    assert_int_equal(f->arg_types[1], PROMQL_TYPE_SCALAR);
    f = promql_function_lookup("histogram_quantile", 18);
    assert_int_equal(f->arg_types[0], PROMQL_TYPE_SCALAR);
    assert_int_equal(f->return_type, PROMQL_TYPE_VECTOR);
    assert_null(promql_function_lookup("rat", 3));
    assert_null(promql_function_lookup("ratex", 5));
    assert_non_null(promql_function_lookup("rate(", 4));
    assert_string_equal(ast_binop_name(OP_UNLESS), "unless");
    assert_string_equal(ast_aggop_name(AGG_COUNT_VALUES), "count_values");
    assert_string_equal(promql_type_name(PROMQL_TYPE_MATRIX), "matrix");
}

int promql_parser_tests(void);
int promql_parser_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),         cmocka_unit_test(test_errors),
        cmocka_unit_test(test_not_terminated), cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_tree),           cmocka_unit_test(test_options),
        cmocka_unit_test(test_function_table),
    };
    return cmocka_run_group_tests_name("promql_parser", tests, NULL, NULL);
}
