/* Clocks, RFC 3339 formatting and Prometheus duration parsing. */
#include "base/base.h"

#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

int64_t odin_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double odin_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t odin_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double odin_cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void odin_format_rfc3339(int64_t t_ms, char *out)
{
    time_t s = (time_t)(t_ms >= 0 ? t_ms / 1000 : (t_ms - 999) / 1000);
    int ms = (int)(t_ms - (int64_t)s * 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    /* the year is clamped so the text always fits 32 bytes */
    int year = tm.tm_year + 1900;
    year = year < 0 ? 0 : year > 9999 ? 9999 : year;
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, (tm.tm_mon + 1) % 13,
             tm.tm_mday % 32, tm.tm_hour % 24, tm.tm_min % 60, tm.tm_sec % 61, ms % 1000);
}

/* Units in the order Prometheus requires them to appear (model.ParseDuration). */
static const struct {
    const char *unit;
    int64_t ms;
} duration_units[] = {
    {"y", 365LL * 24 * 3600 * 1000}, {"w", 7LL * 24 * 3600 * 1000}, {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},            {"m", 60LL * 1000},            {"s", 1000},
    {"ms", 1},
};

int odin_parse_duration_ms(odin_str s, int64_t *out_ms)
{
    if (s.len == 0) {
        return -ODIN_ERR_PARSE;
    }
    if (s.len == 1 && s.p[0] == '0') {
        *out_ms = 0;
        return 0;
    }
    int64_t total = 0;
    size_t i = 0;
    size_t next_unit = 0;
    while (i < s.len) {
        size_t start = i;
        while (i < s.len && s.p[i] >= '0' && s.p[i] <= '9') {
            i++;
        }
        if (i == start) {
            return -ODIN_ERR_PARSE;
        }
        uint64_t n;
        if (odin_parse_u64((odin_str){s.p + start, i - start}, &n) < 0) {
            return -ODIN_ERR_LIMIT;
        }
        size_t ustart = i;
        while (i < s.len && ((s.p[i] >= 'a' && s.p[i] <= 'z'))) {
            i++;
        }
        odin_str unit = {s.p + ustart, i - ustart};
        size_t u = next_unit;
        while (u < ODIN_ARRAY_LEN(duration_units) && !odin_str_eq_c(unit, duration_units[u].unit)) {
            u++;
        }
        if (u == ODIN_ARRAY_LEN(duration_units)) {
            return -ODIN_ERR_PARSE;
        }
        next_unit = u + 1;
        if (n > (uint64_t)(INT64_MAX - total) / (uint64_t)duration_units[u].ms) {
            return -ODIN_ERR_LIMIT;
        }
        total += (int64_t)n * duration_units[u].ms;
    }
    *out_ms = total;
    return 0;
}
