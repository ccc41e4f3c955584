/* static_configs as a provider: the configured groups are reported once, during start, so the
 * manager delivers them with the set's first update. No thread. */
#include <stdlib.h>

#include "discovery/provider.h"

static discovery_provider *static_start(const void *cfg, discovery_sink *sink, odin_err *err)
{
    (void)err;
    const discovery_config *c = cfg;
    discovery_provider *p = odin_calloc(1, sizeof *p);
    p->ops = &discovery_static_ops;
    discovery_sink_update(sink, c->static_groups, c->nstatic);
    return p;
}

static void static_stop(discovery_provider *p)
{
    free(p);
}

const discovery_provider_ops discovery_static_ops = {
    .name = "static",
    .start = static_start,
    .stop = static_stop,
};
