/* libFuzzer target for the textfile collector's parser (src/agent/textfile_util.c): the input is
 * a *.prom file, grouped into families as node_exporter's TextParser groups them, and its first
 * line is also joined to the collector's directory as a file name (Go's filepath.Join). Checks
 * what the results claim: families hold samples and valid names, summaries and histograms keep
 * quantile and le out of their labels, no metric has __name__ or a label name twice, a refusal
 * names the file; a joined path is clean (rooted, no empty, "." or ".." elements). A broken
 * claim aborts, so the fuzzer reports it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/textfile_util.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(ok) fuzz_check_at((ok), "agent_textfile", __LINE__)

static const char dir[] = "/var/lib/node_exporter/textfile_collector";
static const char path[] = "/var/lib/node_exporter/textfile_collector/gpu.prom";

static void check_metric(const agent_tf_family *f, const agent_tf_metric *m)
{
    bool summary = f->type == EXPFMT_SUMMARY;
    bool histogram = f->type == EXPFMT_HISTOGRAM || f->type == EXPFMT_GAUGE_HISTOGRAM;
    for (size_t i = 0; i < m->nlabels; i++) {
        odin_str name = m->labels[i].name;
        check(!odin_str_eq_c(name, "__name__"));
        check(!(summary && odin_str_eq_c(name, "quantile")));
        check(!(histogram && odin_str_eq_c(name, "le")));
        for (size_t j = 0; j < i; j++) {
            check(!odin_str_eq(m->labels[j].name, name));
        }
    }
    check(m->npoints <= m->cap_points);
    check(m->npoints == 0 || summary || histogram);
    if (histogram && !m->float_counts) {
        for (size_t i = 0; i < m->npoints; i++) {
            check(m->points[i].value >= 0);
        }
        check(m->count >= 0 || m->count != m->count);
    }
}

static void check_file(const agent_tf_file *out)
{
    for (size_t i = 0; i < out->len; i++) {
        const agent_tf_family *f = out->v[i];
        check(f->len > 0 && f->len <= f->cap);
        check(f->has_type && odin_metric_name_valid(f->name));
        for (size_t j = 0; j < i; j++) {
            check(!odin_str_eq(out->v[j]->name, f->name));
        }
        for (size_t k = 0; k < f->len; k++) {
            check_metric(f, &f->metrics[k]);
        }
    }
}

/* Go's Clean of a rooted path: "/" alone, or "/a/b" with no empty, "." or ".." element. */
static void check_clean(const char *p)
{
    check(p[0] == '/');
    if (p[1] == '\0') {
        return;
    }
    for (const char *s = p; *s == '/';) {
        const char *e = strchr(s + 1, '/');
        size_t n = e ? (size_t)(e - s - 1) : strlen(s + 1);
        check(n > 0);
        check(!(n == 1 && s[1] == '.') && !(n == 2 && s[1] == '.' && s[2] == '.'));
        if (!e) {
            break;
        }
        s = e;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    odin_arena a;
    odin_arena_init(&a, 0);
    agent_tf_file out;
    odin_err err;
    odin_err_clear(&err);
    int rc = agent_tf_parse(&a, path, (odin_str){(const char *)data, size}, &out, &err);
    if (rc < 0) {
        check(rc == -ODIN_ERR_PARSE || rc == -ODIN_ERR_LIMIT);
        check(err.code == -rc);
        check(strncmp(err.msg, path, strlen(path)) == 0 && err.msg[strlen(path)] == ':');
    } else {
        check(rc == 0 && err.code == 0);
        check_file(&out);
    }
    const uint8_t *nl = memchr(data, '\n', size);
    size_t n = nl ? (size_t)(nl - data) : size;
    if (n > 0 && memchr(data, '\0', n) == NULL) {
        char *name = odin_arena_strndup(&a, (const char *)data, n);
        check_clean(agent_tf_join(&a, dir, name));
    }
    odin_arena_fini(&a);
    return 0;
}
