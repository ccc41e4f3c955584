/* libFuzzer target for the prometheus.yml loader (src/scrape/config*.c): any input either loads
 * (and then frees cleanly, with every job's relabel rules runnable) or fails with a code and a
 * "name:line:col: ..." message. A broken claim aborts, so the fuzzer reports it. */
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

/* "fuzz.yml:LINE:COL: " with both numbers at least 1, or the read/limit forms without place. */
static bool message_has_place(const char *msg)
{
    static const char prefix[] = "fuzz.yml:";
    if (strncmp(msg, prefix, sizeof(prefix) - 1) != 0) {
        return false;
    }
    size_t i = sizeof(prefix) - 1;
    if (msg[i] == ' ') {
        return true; /* whole-document limits name no line */
    }
    for (int part = 0; part < 2; part++) {
        if (msg[i] < '1' || msg[i] > '9') {
            return false;
        }
        while (msg[i] >= '0' && msg[i] <= '9') {
            i++;
        }
        if (msg[i++] != ':') {
            return false;
        }
    }
    return msg[i] == ' ';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    check(buf != NULL);
    memcpy(buf, data, size);
    odin_err err;
    odin_err_clear(&err);
    scrape_config *c = scrape_config_parse(buf, size, "fuzz.yml", &err);
    if (c == NULL) {
        check(err.code != 0 && message_has_place(err.msg));
    } else {
        check(err.code == 0);
        check(c->scrape_timeout_ms <= c->scrape_interval_ms);
        odin_label l[] = {{ODIN_STR("__address__"), ODIN_STR("host:9100")},
                          {ODIN_STR("job"), ODIN_STR("j")}};
        odin_arena a;
        odin_arena_init(&a, 1 << 20);
        for (size_t i = 0; i < c->njobs; i++) {
            const scrape_job *j = &c->jobs[i];
            check(j->job_name != NULL && j->scrape_timeout_ms <= j->scrape_interval_ms);
            odin_labels out;
            relabel_process(j->relabel, j->nrelabel, (odin_labels){l, 2}, &a, &out);
            odin_arena_reset(&a);
        }
        odin_arena_fini(&a);
        scrape_config_free(c);
    }
    free(buf);
    return 0;
}
