/* libFuzzer target for relabeling (src/scrape/relabel.c): the input is a YAML list of relabel
 * rules, optionally followed by "\n%%\n" and label values. Rules that load are applied to label
 * sets built from the values; the result must be sorted, unique and free of empty values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scrape/scrape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

static void check_result(odin_labels out)
{
    for (size_t i = 0; i < out.len; i++) {
        check(out.v[i].name.len > 0 && out.v[i].value.len > 0);
        if (i > 0) {
            check(odin_str_cmp(out.v[i - 1].name, out.v[i].name) < 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t rules_len = size;
    const char *vals = "";
    size_t vals_len = 0;
    for (size_t i = 0; i + 4 <= size; i++) {
        if (memcmp(text + i, "\n%%\n", 4) == 0) {
            rules_len = i;
            vals = text + i + 4;
            vals_len = size - i - 4;
            break;
        }
    }
    odin_strbuf y;
    odin_strbuf_init(&y, 0);
    odin_strbuf_puts(&y, "scrape_configs:\n- job_name: f\n  relabel_configs:\n");
    odin_strbuf_put(&y, text, rules_len);
    odin_err err;
    odin_err_clear(&err);
    scrape_config *c = scrape_config_parse(y.p, y.len, "fuzz.yml", &err);
    odin_strbuf_fini(&y);
    if (c == NULL) {
        check(err.code != 0);
        return 0;
    }
    /* label values: the tail split in up to four pieces at '|' */
    odin_label l[4] = {{ODIN_STR("__address__"), ODIN_STR("")},
                       {ODIN_STR("a"), ODIN_STR("")},
                       {ODIN_STR("b"), ODIN_STR("")},
                       {ODIN_STR("job"), ODIN_STR("")}};
    odin_str rest = {vals, vals_len};
    for (size_t i = 0; i < 4; i++) {
        l[i].value = odin_str_cut(&rest, '|');
    }
    /* empty values are absent labels: keep only the others, still sorted */
    odin_label in[4];
    size_t n = 0;
    for (size_t i = 0; i < 4; i++) {
        if (l[i].value.len) {
            in[n++] = l[i];
        }
    }
    odin_arena a;
    odin_arena_init(&a, 1 << 20);
    for (size_t i = 0; i < c->njobs; i++) {
        odin_labels out;
        if (relabel_process(c->jobs[i].relabel, c->jobs[i].nrelabel, (odin_labels){in, n}, &a,
                            &out)) {
            check(out.len > 0);
            check_result(out);
        }
    }
    odin_arena_fini(&a);
    scrape_config_free(c);
    return 0;
}
