/* Prometheus' command line, as kingpin reads it: --name=value or --name value, --name / --no-name
 * for booleans. Flags Odin accepts only for compatibility (console templates) are parsed and kept
 * for /api/v1/status/flags. */
#include "server/server_int.h"

#include <stdlib.h>
#include <string.h>

static const server_flag_def flag_defs[] = {
    {"config.file", "prometheus.yml", "Prometheus configuration file path.", false},
    {"web.listen-address", "0.0.0.0:9090", "Address to listen on for UI, API, and telemetry.",
     false},
    {"web.config.file", "", "[EXPERIMENTAL] Path to configuration file that can enable TLS or authentication.", false},
    {"web.enable-lifecycle", "false", "Enable shutdown and reload via HTTP request.", true},
    {"web.enable-admin-api", "false", "Enable API endpoints for admin control actions.", true},
    {"web.external-url", "", "The URL under which Odin is externally reachable.", false},
    {"web.route-prefix", "", "Prefix for the internal routes of web endpoints.", false},
    {"web.console.templates", "consoles", "Path to the console template directory (accepted, unused).", false},
    {"web.console.libraries", "console_libraries", "Path to the console library directory (accepted, unused).", false},
    {"web.max-connections", "512", "Maximum number of simultaneous connections.", false},
    {"web.read-timeout", "5m", "Maximum duration before timing out read of the request.", false},
    {"storage.tsdb.path", "data/", "Base path for metrics storage.", false},
    {"storage.tsdb.retention.time", "", "How long to retain samples in storage (default 15d when no size limit is set).", false},
    {"storage.tsdb.retention.size", "0B", "Maximum number of bytes that can be stored for blocks (B, KB, MB, GB, TB, PB, EB).", false},
    {"storage.tsdb.retention", "", "[DEPRECATED] Use storage.tsdb.retention.time.", false},
    {"storage.tsdb.min-block-duration", "2h", "Minimum duration of a data block before being persisted.", false},
    {"storage.tsdb.max-block-duration", "", "Maximum duration compacted blocks may span (default 10% of the retention period, at most 31d).", false},
    {"storage.tsdb.wal-compression", "true", "Compress the tsdb WAL (snappy, as Prometheus; either kind is read).", true},
    {"storage.tsdb.no-lockfile", "false", "Do not create lockfile in data directory.", true},
    {"storage.tsdb.chunk-encoding", "xor", "Chunk encoding of new blocks: xor (Prometheus', read by promtool, Thanos and Prometheus) or odin (denser, read only by Odin).", false},
    {"storage.tsdb.wal-fsync-interval", "1s", "How often the WAL is fsynced: what a power cut can lose at most (0s: every commit).", false},
    {"scrape.adjust-timestamps", "true", "Give a scrape that starts at most scrape.timestamp-tolerance after its tick the tick's time, so timestamps stay an interval apart and compress better.", true},
    {"scrape.timestamp-tolerance", "2ms", "How late a scrape may start and still get its tick's time (at most 1% of the scrape interval).", false},
    {"query.lookback-delta", "5m", "The maximum lookback duration for retrieving metrics during expression evaluations.", false},
    {"query.timeout", "2m", "Maximum time a query may take before being aborted.", false},
    {"query.max-concurrency", "20", "Maximum number of queries executed concurrently.", false},
    {"query.max-samples", "50000000", "Maximum number of samples a single query can load into memory.", false},
    {"log.level", "info", "Only log messages with the given severity or above: debug, info, warn, error.", false},
    {"log.format", "logfmt", "Output format of log messages: logfmt.", false},
    {NULL, NULL, NULL, false},
};

const server_flag_def *server_flag_defs(void)
{
    return flag_defs;
}

static size_t def_index(const char *name, size_t len)
{
    for (size_t i = 0; flag_defs[i].name; i++) {
        if (strlen(flag_defs[i].name) == len && memcmp(flag_defs[i].name, name, len) == 0) {
            return i;
        }
    }
    return SIZE_MAX;
}

int server_flags_parse(server_flags *f, int argc, char **argv, odin_err *err)
{
    size_t n = 0;
    while (flag_defs[n].name) {
        n++;
    }
    f->n = n;
    f->values = odin_calloc(n, sizeof(*f->values));
    f->given = odin_calloc(n, sizeof(*f->given));
    for (size_t i = 0; i < n; i++) {
        f->values[i] = flag_defs[i].def;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strncmp(arg, "--", 2) != 0) {
            return odin_err_set(err, ODIN_ERR_INVALID, "unexpected argument \"%.64s\"", arg);
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        bool neg = false;
        size_t i = def_index(name, len);
        if (i == SIZE_MAX && len > 3 && strncmp(name, "no-", 3) == 0) {
            i = def_index(name + 3, len - 3);
            neg = true;
        }
        if (i == SIZE_MAX || (neg && !flag_defs[i].is_bool)) {
            return odin_err_set(err, ODIN_ERR_INVALID, "unknown long flag '%.80s'", arg);
        }
        const char *v = eq ? eq + 1 : NULL;
        if (flag_defs[i].is_bool) {
            bool b = !v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
            if (v && !b && strcmp(v, "false") != 0 && strcmp(v, "0") != 0) {
                return odin_err_set(err, ODIN_ERR_INVALID,
                                    "--%s: expected true or false, got \"%.64s\"",
                                    flag_defs[i].name, v);
            }
            f->values[i] = (b != neg) ? "true" : "false";
        } else {
            if (!v) {
                if (a + 1 >= argc) {
                    return odin_err_set(err, ODIN_ERR_INVALID, "expected argument for flag '--%s'",
                                        flag_defs[i].name);
                }
                v = argv[++a];
            }
            f->values[i] = v;
        }
        f->given[i] = true;
    }
    return 0;
}

void server_flags_fini(server_flags *f)
{
    free(f->values);
    free(f->given);
    f->values = NULL;
    f->given = NULL;
}

const char *server_flag(const server_flags *f, const char *name)
{
    size_t i = def_index(name, strlen(name));
    ODIN_ASSERT(i != SIZE_MAX);
    return f->values[i];
}

bool server_flag_bool(const server_flags *f, const char *name)
{
    return strcmp(server_flag(f, name), "true") == 0;
}

bool server_flag_given(const server_flags *f, const char *name)
{
    size_t i = def_index(name, strlen(name));
    return i != SIZE_MAX && f->given[i];
}

void server_flags_usage(odin_strbuf *out, const char *role)
{
    odin_strbuf_printf(out, "usage: odin %s [flags]\n\nflags:\n", role);
    for (size_t i = 0; flag_defs[i].name; i++) {
        const server_flag_def *d = &flag_defs[i];
        odin_strbuf_printf(out, "  --%s%s%s\n      %s", d->is_bool ? "[no-]" : "", d->name,
                           d->is_bool ? "" : "=VALUE", d->help);
        if (!d->is_bool && d->def && *d->def) {
            odin_strbuf_printf(out, " (default: \"%s\")", d->def);
        }
        odin_strbuf_putc(out, '\n');
    }
}

/* Prometheus' byte sizes: a number with B, KB, MB, GB, TB, PB or EB (powers of 1024). */
int server_parse_bytes(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {{"EB", 1ULL << 60}, {"PB", 1ULL << 50}, {"TB", 1ULL << 40}, {"GB", 1ULL << 30},
                 {"MB", 1ULL << 20}, {"KB", 1ULL << 10}, {"B", 1}};
    size_t len = strlen(s);
    for (size_t i = 0; i < ODIN_ARRAY_LEN(units); i++) {
        size_t ul = strlen(units[i].unit);
        if (len > ul && strcmp(s + len - ul, units[i].unit) == 0) {
            uint64_t n;
            if (odin_parse_u64((odin_str){s, len - ul}, &n) < 0 || n > UINT64_MAX / units[i].mult) {
                return -ODIN_ERR_INVALID;
            }
            *out = n * units[i].mult;
            return 0;
        }
    }
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return 0;
    }
    return -ODIN_ERR_INVALID;
}
