/* libFuzzer target for file_sd target files (src/discovery/json.c, file.c): parses the input as
 * JSON and as YAML and checks what every returned group claims. A broken claim aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discovery/provider.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

static void run(const uint8_t *data, size_t size, bool yaml)
{
    discovery_group *g = NULL;
    size_t n = 0;
    odin_err err;
    odin_err_clear(&err);
    int rc = discovery_file_parse((const char *)data, size, yaml, "f", &g, &n, &err);
    if (rc < 0) {
        check(err.code != 0 && err.msg[0] != '\0' && g == NULL && n == 0);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        check(g[i].source != NULL);
        check(g[i].ntargets == 0 || g[i].targets != NULL);
        bool fp = false;
        for (size_t k = 0; k < g[i].nlabels; k++) {
            check(odin_label_name_valid(g[i].labels[k].name));
            fp = fp || odin_str_eq_c(g[i].labels[k].name, "__meta_filepath");
        }
        check(fp);
        for (size_t k = 0; k < g[i].ntargets; k++) {
            check(g[i].targets[k] != NULL);
        }
    }
    discovery_groups_free(g, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size, false);
    run(data, size, true);
    return 0;
}
