/* Float text for query results: the shortest digits that read back as the same double (from
 * base's formatter), laid out in fixed notation, or in exponent form where Prometheus' JSON
 * encoder switches to it (|v| < 1e-6 or |v| >= 1e21). */
#include "promql/engine_int.h"

#include <limits.h>
#include <string.h>

size_t promql_format_value_f(double v, char *out)
{
    if (v == 0) {
        memcpy(out, "0", 2);
        return 1;
    }
    return odin_format_double_exp(v, INT_MIN, INT_MAX, out);
}

size_t promql_format_value(double v, char *out)
{
    return odin_format_double_exp(v, -6, 21, out);
}
