/* `odin check config FILE...`: validates prometheus.yml files and reports the way promtool's
 * `check config` does, so scripts and people used to it read the same lines. Rule files are
 * counted (globs expanded against the config's directory), not parsed. */
#include "scrape/scrape.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out(odin_strbuf *b)
{
    /* the command's result goes to stdout, like promtool's; logging stays on stderr */
    if (b->len) {
        fwrite(b->p, 1, b->len, stdout);
    }
    odin_strbuf_reset(b);
}

/* Joins a relative pattern to the config file's directory, as Prometheus' SetDirectory does. */
static char *join_dir(const char *config_path, const char *pattern)
{
    if (pattern[0] == '/') {
        return odin_strdup(pattern);
    }
    const char *slash = strrchr(config_path, '/');
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    if (slash) {
        odin_strbuf_put(&b, config_path, (size_t)(slash - config_path) + 1);
    }
    odin_strbuf_puts(&b, pattern);
    return odin_strbuf_take(&b, NULL);
}

/* Counts the files the rule globs name; a pattern without matches counts nothing, like promtool. */
static size_t count_rule_files(const scrape_config *c, const char *path)
{
    size_t n = 0;
    for (size_t i = 0; i < c->nrule_files; i++) {
        char *pat = join_dir(path, c->rule_files[i]);
        glob_t g;
        if (glob(pat, 0, NULL, &g) == 0) {
            n += g.gl_pathc;
        }
        globfree(&g);
        free(pat);
    }
    return n;
}

static int check_one(const char *path, odin_strbuf *b)
{
    odin_strbuf_printf(b, "Checking %s\n", path);
    odin_err err;
    odin_err_clear(&err);
    scrape_config *c = scrape_config_load(path, &err);
    if (c == NULL) {
        odin_strbuf_printf(b, "  FAILED: %s\n\n", err.msg);
        out(b);
        return 1;
    }
    size_t n = count_rule_files(c, path);
    odin_strbuf_printf(b, "  SUCCESS: %zu rule files found\n", n);
    if (c->njobs == 0) {
        odin_strbuf_puts(b, "  WARNING: no scrape_configs\n");
    }
    odin_strbuf_puts(b, "\n");
    out(b);
    scrape_config_free(c);
    return 0;
}

int scrape_check_config_main(int argc, char **argv)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    int status = 0;
    int files = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            odin_strbuf_puts(&b, "usage: odin check config FILE...\n"
                                 "Validates Prometheus configuration files.\n");
            out(&b);
            odin_strbuf_fini(&b);
            return 0;
        }
        files++;
        status |= check_one(argv[i], &b);
    }
    if (files == 0) {
        odin_strbuf_puts(&b, "usage: odin check config FILE...\n");
        out(&b);
        status = 1;
    }
    odin_strbuf_fini(&b);
    return status;
}
