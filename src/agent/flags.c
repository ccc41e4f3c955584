/* node_exporter's command line: --name=value or --name value, boolean --name / --no-name, and
 * --collector.<name> / --no-collector.<name> for every collector. Unknown flags are errors that
 * name the flag, as kingpin reports them. */
#include "agent/core.h"

#include <stdlib.h>
#include <string.h>

static const agent_flag_def global_flags[] = {
    {"web.listen-address", ":9100", "Address on which to expose metrics and web interface.", false,
     true},
    {"web.telemetry-path", "/metrics", "Path under which to expose metrics.", false, false},
    {"web.disable-exporter-metrics", "false",
     "Exclude metrics about the exporter itself (process_*).", true, false},
    {"web.max-requests", "40", "Maximum number of parallel scrape requests (0 = no limit).", false,
     false},
    {"web.config.file", NULL, "Path to a web configuration file (TLS and basic auth).", false,
     false},
    {"path.procfs", "/proc", "procfs mountpoint.", false, false},
    {"path.sysfs", "/sys", "sysfs mountpoint.", false, false},
    {"path.rootfs", "/", "rootfs mountpoint.", false, false},
    {"path.udev.data", "/run/udev/data", "udev data path.", false, false},
    {"collector.disable-defaults", "false", "Set all collectors to disabled by default.", true,
     false},
    {"log.level", "info", "Only log messages with the given severity or above: debug, info, warn, error.",
     false, false},
    {"log.format", "logfmt", "Output format of log messages: logfmt.", false, false},
    {NULL, NULL, NULL, false, false},
};

static size_t count_defs(const agent_flag_def *d)
{
    size_t n = 0;
    while (d && d[n].name) {
        n++;
    }
    return n;
}

static void flags_add_defs(agent *ag, const agent_flag_def *defs, size_t *i)
{
    for (size_t k = 0; defs && defs[k].name; k++) {
        ag->flags[(*i)++] = (agent_flag_value){&defs[k], NULL, 0};
    }
}

static agent_flag_value *flag_find(const agent *ag, const char *name, size_t len)
{
    for (size_t i = 0; i < ag->nflags; i++) {
        const char *n = ag->flags[i].def->name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) {
            return &ag->flags[i];
        }
    }
    return NULL;
}

static agent_collector *collector_find(agent *ag, const char *name)
{
    for (size_t i = 0; i < ag->ncollectors; i++) {
        if (strcmp(ag->collectors[i].def->name, name) == 0) {
            return &ag->collectors[i];
        }
    }
    return NULL;
}

static void flag_push(agent_flag_value *f, const char *v)
{
    if (!f->def->repeatable) {
        f->len = 0;
    }
    f->values = odin_realloc(f->values, (f->len + 1) * sizeof(*f->values));
    f->values[f->len++] = v;
}

static int parse_bool(const char *v, bool *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = false;
        return 0;
    }
    return -ODIN_ERR_INVALID;
}

/* Collector switches: --collector.X, --no-collector.X, --collector.X=true|false. The on/off
 * decision is applied after all flags so that --collector.disable-defaults may come anywhere. */
static int collector_switch(agent *ag, const char *name, size_t len, const char *value, bool neg,
                            signed char *want, odin_err *err)
{
    char buf[128];
    if (len >= sizeof(buf)) {
        return 1;
    }
    memcpy(buf, name, len);
    buf[len] = '\0';
    agent_collector *c = collector_find(ag, buf);
    if (!c) {
        return 1;
    }
    bool on = !neg;
    if (value) {
        bool b;
        if (parse_bool(value, &b) < 0) {
            return odin_err_set(err, ODIN_ERR_INVALID,
                                "--collector.%s: expected true or false, got \"%.64s\"", buf, value);
        }
        on = neg ? !b : b;
    }
    want[c - ag->collectors] = on ? 1 : 0;
    return 0;
}

static int parse_one(agent *ag, int argc, char **argv, int *i, signed char *want, odin_err *err)
{
    const char *arg = argv[*i];
    if (strncmp(arg, "--", 2) != 0) {
        return odin_err_set(err, ODIN_ERR_INVALID, "unexpected argument \"%.64s\"", arg);
    }
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const char *value = eq ? eq + 1 : NULL;
    bool neg = false;
    if (len > 3 && strncmp(name, "no-", 3) == 0) {
        neg = true;
        name += 3;
        len -= 3;
    }
    if (len > 10 && strncmp(name, "collector.", 10) == 0 && !memchr(name + 10, '.', len - 10)) {
        int rc = collector_switch(ag, name + 10, len - 10, value, neg, want, err);
        if (rc <= 0) {
            return rc;
        }
    }
    agent_flag_value *f = flag_find(ag, name, len);
    if (!f || (neg && !f->def->is_bool)) {
        return odin_err_set(err, ODIN_ERR_INVALID, "unknown long flag '%.80s', try --help", arg);
    }
    if (f->def->is_bool) {
        bool b = true;
        if (value && parse_bool(value, &b) < 0) {
            return odin_err_set(err, ODIN_ERR_INVALID, "--%s: expected true or false, got \"%.64s\"",
                                f->def->name, value);
        }
        flag_push(f, (neg ? !b : b) ? "true" : "false");
        return 0;
    }
    if (!value) {
        if (*i + 1 >= argc) {
            return odin_err_set(err, ODIN_ERR_INVALID, "expected argument for flag '--%s'",
                                f->def->name);
        }
        value = argv[++*i];
    }
    flag_push(f, value);
    return 0;
}

int agent_flags_parse(agent *ag, int argc, char **argv, odin_err *err)
{
    size_t n = count_defs(global_flags);
    for (size_t c = 0; c < ag->ncollectors; c++) {
        n += count_defs(ag->collectors[c].def->flags);
    }
    ag->flags = odin_calloc(n, sizeof(*ag->flags));
    size_t i = 0;
    flags_add_defs(ag, global_flags, &i);
    for (size_t c = 0; c < ag->ncollectors; c++) {
        flags_add_defs(ag, ag->collectors[c].def->flags, &i);
    }
    ag->nflags = i;
    signed char *want = odin_malloc(ag->ncollectors + 1);
    memset(want, -1, ag->ncollectors + 1);
    int rc = 0;
    for (int a = 1; a < argc && rc == 0; a++) {
        rc = parse_one(ag, argc, argv, &a, want, err);
    }
    bool defaults = !agent_flag_bool(ag, "collector.disable-defaults");
    for (size_t c = 0; c < ag->ncollectors; c++) {
        ag->collectors[c].enabled =
            want[c] >= 0 ? want[c] == 1 : (defaults && ag->collectors[c].def->default_on);
    }
    free(want);
    return rc;
}

void agent_flags_free(agent *ag)
{
    for (size_t i = 0; i < ag->nflags; i++) {
        free(ag->flags[i].values);
    }
    free(ag->flags);
    ag->flags = NULL;
    ag->nflags = 0;
}

const char *agent_flag(const agent *ag, const char *name)
{
    const agent_flag_value *f = flag_find(ag, name, strlen(name));
    if (!f) {
        return NULL;
    }
    return f->len ? f->values[f->len - 1] : f->def->def;
}

bool agent_flag_bool(const agent *ag, const char *name)
{
    const char *v = agent_flag(ag, name);
    return v && strcmp(v, "true") == 0;
}

size_t agent_flag_all(const agent *ag, const char *name, const char *const **out)
{
    const agent_flag_value *f = flag_find(ag, name, strlen(name));
    if (!f) {
        *out = NULL;
        return 0;
    }
    if (f->len) {
        *out = f->values;
        return f->len;
    }
    *out = &f->def->def;
    return f->def->def ? 1 : 0;
}

static void usage_flag(odin_strbuf *out, const agent_flag_def *d)
{
    odin_strbuf_printf(out, "  --%s%s%s\n      %s", d->is_bool ? "[no-]" : "", d->name,
                       d->is_bool ? "" : "=VALUE", d->help);
    if (d->def && !d->is_bool) {
        odin_strbuf_printf(out, " (default: \"%s\")", d->def);
    }
    odin_strbuf_putc(out, '\n');
}

void agent_flags_usage(odin_strbuf *out)
{
    odin_strbuf_puts(out, "usage: odin agent [flags]\n\nflags:\n");
    for (size_t i = 0; global_flags[i].name; i++) {
        usage_flag(out, &global_flags[i]);
    }
    for (size_t c = 0; agent_collectors[c]; c++) {
        const agent_collector_def *d = agent_collectors[c];
        odin_strbuf_printf(out, "  --[no-]collector.%s\n      Enable the %s collector (default: %s).\n",
                           d->name, d->name, d->default_on ? "enabled" : "disabled");
        for (size_t k = 0; d->flags && d->flags[k].name; k++) {
            usage_flag(out, &d->flags[k]);
        }
    }
}
