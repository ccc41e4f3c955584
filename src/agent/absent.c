/* Paths found missing (ENOENT, ENOTDIR) are not looked up again for a few scrapes: a scrape here
 * asked for 14 that do not exist (thermal_throttle of every CPU, class/infiniband, /proc/mdstat,
 * pressure/irq, ...), each a failed path walk, and on a many-CPU node the per-CPU ones add up.
 * The price: a file that appears is seen up to AGENT_ABSENT_RECHECK_SCRAPES scrapes late. */
#include "agent/core.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Owned by sc->absent; freed when found again, swept, or at agent_absent_free_all. */
typedef struct {
    char *path; /* owned; the map's key */
    int errnum;
    uint64_t checked; /* generation of the last real lookup */
    uint64_t asked;   /* generation of the last question */
} agent_absent_path;

enum { ABSENT_MAX = 1024, ABSENT_UNASKED_SCRAPES = 3 };

int agent_absent_check(agent_scrape *sc, const char *path, size_t plen)
{
    agent_absent_path *a = odin_map_get(&sc->absent, path, plen);
    if (!a) {
        return 0;
    }
    a->asked = sc->generation;
    if (sc->generation - a->checked >= AGENT_ABSENT_RECHECK_SCRAPES) {
        return 0; /* due: the caller looks it up and reports back */
    }
    return a->errnum;
}

static void forget(agent_scrape *sc, agent_absent_path *a)
{
    odin_map_del(&sc->absent, a->path, strlen(a->path));
    free(a->path);
    free(a);
}

void agent_absent_note(agent_scrape *sc, const char *path, size_t plen, int errnum)
{
    agent_absent_path *a = odin_map_get(&sc->absent, path, plen);
    if (errnum != ENOENT && errnum != ENOTDIR) {
        if (a) {
            forget(sc, a);
        }
        return;
    }
    if (!a) {
        if (sc->absent.len >= ABSENT_MAX) {
            return;
        }
        a = odin_malloc(sizeof(*a));
        a->path = odin_strndup(path, plen);
        odin_map_put(&sc->absent, a->path, plen, a);
    }
    a->errnum = errnum;
    a->checked = a->asked = sc->generation;
}

void agent_absent_sweep(agent_scrape *sc)
{
    agent_absent_path *stale[64];
    size_t n;
    do {
        size_t pos = 0, kl;
        const void *k;
        void *v;
        n = 0;
        while (n < ODIN_ARRAY_LEN(stale) && odin_map_next(&sc->absent, &pos, &k, &kl, &v)) {
            agent_absent_path *a = v;
            if (sc->generation - a->asked >= ABSENT_UNASKED_SCRAPES) {
                stale[n++] = a;
            }
        }
        for (size_t i = 0; i < n; i++) {
            forget(sc, stale[i]);
        }
    } while (n == ODIN_ARRAY_LEN(stale));
}

void agent_absent_free_all(agent_scrape *sc)
{
    size_t pos = 0, kl;
    const void *k;
    void *v;
    while (odin_map_next(&sc->absent, &pos, &k, &kl, &v)) {
        agent_absent_path *a = v;
        free(a->path);
        free(a);
    }
    odin_map_fini(&sc->absent);
}
