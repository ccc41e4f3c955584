/* libFuzzer target for dcgm-exporter's counters CSV (src/agent/gpu/counters.c), the file behind
 * --collectors: parsed as the agent loads it. Checks what a parse claims: every field served is a
 * known DCGM field of the right kind (metric or label), listed once and marked wanted, the wanted
 * mask holds nothing else, skipped names come from the input, and a refusal names the file and,
 * for a malformed record, its line. A broken claim aborts, so the fuzzer reports it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/gpu/gpu_int.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(ok) fuzz_check_at((ok), "gpu_counters", __LINE__)

static const char source[] = "/etc/odin/counters.csv";

/* Each served field is known, of the kind its list says, and wanted; returns the fields' mask. */
static uint64_t check_list(const agent_gpu_counter *v, size_t n, bool labels)
{
    uint64_t seen = 0;
    for (size_t i = 0; i < n; i++) {
        int f = v[i].field;
        check(f >= 0 && (size_t)f < agent_gpu_nfields && f < AGENT_GPU_MAX_FIELDS);
        check(agent_gpu_fields[f].is_label == labels);
        check((seen & (1ull << f)) == 0);
        check(v[i].help != NULL && strchr(v[i].help, '\n') == NULL);
        seen |= 1ull << f;
    }
    return seen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    odin_str text = {(const char *)data, size};
    agent_gpu_counters c;
    char *skipped = NULL;
    odin_err err;
    odin_err_clear(&err);
    int rc = agent_gpu_counters_parse(text, source, &c, &skipped, &err);
    if (rc < 0) {
        check(rc == -ODIN_ERR_PARSE || rc == -ODIN_ERR_LIMIT);
        check(err.code == -rc);
        check(strncmp(err.msg, source, strlen(source)) == 0 && err.msg[strlen(source)] == ':');
        check(skipped == NULL);
        check(c.nmetrics == 0 && c.nlabels == 0 && c.metrics == NULL && c.labels == NULL);
        return 0;
    }
    check(rc == 0 && err.code == 0);
    uint64_t m = check_list(c.metrics, c.nmetrics, false);
    uint64_t l = check_list(c.labels, c.nlabels, true);
    check((m & l) == 0 && (m | l) == c.wanted);
    if (skipped != NULL) {
        /* names of lines, comma-separated: never a line break (a name may hold a NUL byte) */
        check(strchr(skipped, '\n') == NULL);
        free(skipped);
    }
    agent_gpu_counters_fini(&c);
    check(c.metrics == NULL && c.labels == NULL && c.wanted == 0);
    return 0;
}
