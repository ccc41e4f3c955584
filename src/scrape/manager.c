/* The scrape manager: one pool per job, targets built from what discovery reports, loops kept
 * across reloads when their target is unchanged, loops spread over a few worker threads, and the
 * snapshot behind /api/v1/targets. Locking is described in loop_int.h. */
#include <curl/curl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "scrape/loop_int.h"

enum { MAX_WORKERS = 4 };

/* ---- Group copies -----------------------------------------------------------------------------
 * A pool keeps the last groups discovery reported (valid only during the callback) so a reload
 * can rebuild its targets. Everything below is heap-owned by the pool. */

static odin_label *labels_copy(const odin_label *v, size_t n)
{
    if (v == NULL || n == 0) {
        return NULL;
    }
    odin_label *out = odin_calloc(n, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        out[i].name = (odin_str){odin_strndup(v[i].name.p, v[i].name.len), v[i].name.len};
        out[i].value = (odin_str){odin_strndup(v[i].value.p, v[i].value.len), v[i].value.len};
    }
    return out;
}

static discovery_group *groups_copy(const discovery_group *src, size_t n)
{
    discovery_group *out = n > 0 ? odin_calloc(n, sizeof *out) : NULL;
    for (size_t g = 0; g < n; g++) {
        const discovery_group *s = &src[g];
        discovery_group *d = &out[g];
        d->ntargets = s->ntargets;
        d->targets = odin_calloc(s->ntargets + 1, sizeof *d->targets);
        d->target_labels = odin_calloc(s->ntargets + 1, sizeof *d->target_labels);
        d->ntarget_labels = odin_calloc(s->ntargets + 1, sizeof *d->ntarget_labels);
        for (size_t i = 0; i < s->ntargets; i++) {
            d->targets[i] = odin_strdup(s->targets[i] != NULL ? s->targets[i] : "");
            if (s->target_labels != NULL && s->ntarget_labels != NULL) {
                d->target_labels[i] = labels_copy(s->target_labels[i], s->ntarget_labels[i]);
                d->ntarget_labels[i] = d->target_labels[i] != NULL ? s->ntarget_labels[i] : 0;
            }
        }
        d->labels = labels_copy(s->labels, s->nlabels);
        d->nlabels = d->labels != NULL ? s->nlabels : 0;
        d->source = s->source != NULL ? odin_strdup(s->source) : NULL;
    }
    return out;
}

static void groups_release(discovery_group *gs, size_t n)
{
    for (size_t g = 0; g < n; g++) {
        discovery_group_fini(&gs[g]);
    }
    free(gs);
}

static scrape_pool *find_pool(scrape_manager *m, const char *name)
{
    for (size_t i = 0; i < m->npools; i++) {
        if (strcmp(m->pools[i]->name, name) == 0) {
            return m->pools[i];
        }
    }
    return NULL;
}

static void dropped_clear(scrape_pool *p)
{
    for (size_t i = 0; i < p->ndropped; i++) {
        free(p->dropped[i].labels.v);
        free(p->dropped[i].storage);
    }
    free(p->dropped);
    p->dropped = NULL;
    p->ndropped = 0;
}

/* Asks a loop to stop (stale markers follow unless shutdown); m->lock held. */
static void loop_stop_locked(scrape_loop *l, bool shutdown)
{
    l->pool = NULL;
    l->stop_requested = true;
    l->shutdown = l->shutdown || shutdown;
}

static void wake_all(scrape_manager *m)
{
    for (size_t i = 0; i < m->nworkers; i++) {
        scrape_worker_wake(&m->workers[i]);
    }
}

/* Rebuilds a pool's targets from its groups: loops whose target (labels and URL) is unchanged
 * keep running with their cache and schedule; new targets get loops, vanished ones are stopped.
 * cfg_lock (read or write) and m->lock held. */
static void pool_sync_locked(scrape_manager *m, scrape_pool *p)
{
    const scrape_job *job = p->job;
    odin_map old;
    odin_map_init(&old);
    for (size_t i = 0; i < p->nloops; i++) {
        odin_map_put(&old, &p->loops[i]->hash, sizeof p->loops[i]->hash, p->loops[i]);
    }
    size_t total = 0;
    for (size_t g = 0; g < p->ngroups; g++) {
        total += p->groups[g].ntargets;
    }
    p->discovered = total;
    scrape_loop **next = total > 0 ? odin_calloc(total, sizeof *next) : NULL;
    size_t nnext = 0;
    dropped_clear(p);
    odin_arena a;
    odin_arena_init(&a, 0);
    for (size_t g = 0; g < p->ngroups; g++) {
        for (size_t i = 0; i < p->groups[g].ntargets; i++) {
            odin_arena_reset(&a);
            scrape_target t;
            odin_err err;
            odin_err_clear(&err);
            int rc = scrape_target_build(job, &p->groups[g], i, &a, &t, &err);
            if (rc < 0) {
                odin_log(ODIN_LOG_WARN, "scrape", "Creating target failed", "scrape_pool", p->name,
                         "err", err.msg, NULL);
                continue;
            }
            if (rc == 0) {
                if (job->keep_dropped_targets > 0 && p->ndropped >= job->keep_dropped_targets) {
                    continue;
                }
                p->dropped = odin_realloc(p->dropped, (p->ndropped + 1) * sizeof *p->dropped);
                scrape_dropped *d = &p->dropped[p->ndropped++];
                d->labels = scrape_labels_dup(t.discovered, &d->storage);
                continue;
            }
            scrape_loop *l = odin_map_del(&old, &t.hash, sizeof t.hash);
            if (l == NULL) {
                bool dup = false;
                for (size_t k = 0; k < nnext && !dup; k++) {
                    dup = next[k]->hash == t.hash;
                }
                if (dup) {
                    continue;
                }
                l = scrape_loop_new(&t);
                l->pool = p;
                scrape_worker *w = &m->workers[t.hash % m->nworkers];
                l->worker = w;
                l->next = w->loops;
                w->loops = l;
            }
            next[nnext++] = l;
        }
    }
    odin_arena_fini(&a);
    size_t pos = 0;
    const void *k;
    size_t kl;
    void *v;
    while (odin_map_next(&old, &pos, &k, &kl, &v)) {
        loop_stop_locked(v, false);
    }
    odin_map_fini(&old);
    free(p->loops);
    p->loops = next;
    p->nloops = nnext;
    /* matches Prometheus: past target_limit every target of the job fails its scrapes */
    free(p->limit_error);
    p->limit_error = NULL;
    if (job->target_limit > 0 && nnext > job->target_limit) {
        atomic_fetch_add(&m->target_limit_hits, 1);
        odin_arena la;
        odin_arena_init(&la, 0);
        p->limit_error = odin_strdup(
            odin_arena_printf(&la, "target_limit exceeded (number of targets: %zu, limit: %llu)",
                              nnext, (unsigned long long)job->target_limit));
        odin_arena_fini(&la);
    }
}

static void pool_free_locked(scrape_pool *p, bool shutdown)
{
    for (size_t i = 0; i < p->nloops; i++) {
        loop_stop_locked(p->loops[i], shutdown);
    }
    free(p->loops);
    dropped_clear(p);
    groups_release(p->groups, p->ngroups);
    free(p->limit_error);
    free(p->name);
    free(p);
}

/* The discovery callback: runs on a discovery thread (or inside apply, with no lock held). */
static void on_groups(void *ctx, const char *set_name, const discovery_group *groups, size_t n)
{
    scrape_manager *m = ctx;
    discovery_group *copy = groups_copy(groups, n);
    pthread_rwlock_rdlock(&m->cfg_lock);
    pthread_mutex_lock(&m->lock);
    scrape_pool *p = find_pool(m, set_name);
    if (p != NULL) {
        discovery_group *old = p->groups;
        size_t nold = p->ngroups;
        p->groups = copy;
        p->ngroups = n;
        copy = old;
        n = nold;
        p->syncs++;
        pool_sync_locked(m, p);
    }
    pthread_mutex_unlock(&m->lock);
    pthread_rwlock_unlock(&m->cfg_lock);
    groups_release(copy, n);
    wake_all(m);
}

/* The CPUs this process may run on (a cpuset or taskset narrows them, as a container's CPU
 * pinning does), as Go's GOMAXPROCS counts them: more workers than that only take turns. */
static long usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
        return CPU_COUNT(&set);
    }
    return sysconf(_SC_NPROCESSORS_ONLN);
}

scrape_manager *scrape_manager_new(tsdb *db)
{
    scrape_manager *m = odin_calloc(1, sizeof *m);
    m->db = db;
    char host[256];
    if (gethostname(host, sizeof host) != 0) {
        host[0] = '\0';
    }
    host[sizeof host - 1] = '\0';
    m->offset_seed = odin_hash_stable(host, strlen(host), 0);
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    /* a reload must not wait behind a steady stream of scrapes holding the read side */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&m->cfg_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&m->lock, NULL);
    long ncpu = usable_cpus();
    m->nworkers = ncpu < 1 ? 1 : ncpu > MAX_WORKERS ? MAX_WORKERS : (size_t)ncpu;
    m->workers = odin_calloc(m->nworkers, sizeof *m->workers);
    for (size_t i = 0; i < m->nworkers; i++) {
        scrape_worker *w = &m->workers[i];
        w->m = m;
        w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->wake_fd < 0) {
            odin_oom(); /* out of descriptors at start-up, as good as out of memory */
        }
        if (pthread_create(&w->thread, NULL, scrape_worker_main, w) != 0) {
            odin_oom();
        }
    }
    m->disc = discovery_manager_new(on_groups, m);
    return m;
}

int scrape_manager_apply(scrape_manager *m, const scrape_config *c, odin_err *err)
{
    pthread_rwlock_wrlock(&m->cfg_lock);
    pthread_mutex_lock(&m->lock);
    scrape_pool **next = c->njobs > 0 ? odin_calloc(c->njobs, sizeof *next) : NULL;
    size_t nnext = 0;
    for (size_t i = 0; i < c->njobs; i++) {
        const scrape_job *job = &c->jobs[i];
        const char *name = job->job_name != NULL ? job->job_name : "";
        bool dup = false;
        for (size_t k = 0; k < nnext && !dup; k++) {
            dup = strcmp(next[k]->name, name) == 0;
        }
        if (dup) {
            continue;
        }
        scrape_pool *p = find_pool(m, name);
        if (p == NULL) {
            p = odin_calloc(1, sizeof *p);
            p->name = odin_strdup(name);
            m->pools_created++;
        }
        p->job = job;
        next[nnext++] = p;
    }
    for (size_t i = 0; i < m->npools; i++) {
        bool kept = false;
        for (size_t k = 0; k < nnext && !kept; k++) {
            kept = next[k] == m->pools[i];
        }
        if (!kept) {
            pool_free_locked(m->pools[i], false);
        }
    }
    free(m->pools);
    m->pools = next;
    m->npools = nnext;
    m->cfg = c;
    m->config_gen++;
    /* Kept pools re-evaluate their targets under the new relabeling and defaults. */
    for (size_t i = 0; i < m->npools; i++) {
        pool_sync_locked(m, m->pools[i]);
    }
    pthread_mutex_unlock(&m->lock);
    pthread_rwlock_unlock(&m->cfg_lock);
    wake_all(m);

    /* Discovery is told last and without our locks: it calls on_groups synchronously for new
     * and changed sets. */
    const char **names = nnext > 0 ? odin_calloc(nnext, sizeof *names) : NULL;
    const discovery_config **cfgs = nnext > 0 ? odin_calloc(nnext, sizeof *cfgs) : NULL;
    size_t n = 0;
    for (size_t i = 0; i < c->njobs; i++) {
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++) {
            dup = strcmp(names[k], c->jobs[i].job_name != NULL ? c->jobs[i].job_name : "") == 0;
        }
        if (!dup) {
            names[n] = c->jobs[i].job_name != NULL ? c->jobs[i].job_name : "";
            cfgs[n] = &c->jobs[i].sd;
            n++;
        }
    }
    int rc = discovery_manager_apply(m->disc, names, cfgs, n, err);
    free(names);
    free(cfgs);
    return rc;
}

static odin_labels snap_labels(odin_labels in, odin_arena *a)
{
    odin_label *v = odin_arena_alloc(a, (in.len + 1) * sizeof *v);
    if (v == NULL) {
        odin_oom();
    }
    for (size_t i = 0; i < in.len; i++) {
        v[i].name =
            (odin_str){odin_arena_strndup(a, in.v[i].name.p, in.v[i].name.len), in.v[i].name.len};
        v[i].value = (odin_str){odin_arena_strndup(a, in.v[i].value.p, in.v[i].value.len),
                                in.v[i].value.len};
    }
    return (odin_labels){v, in.len};
}

void scrape_manager_targets(scrape_manager *m, scrape_targets_snapshot *out)
{
    memset(out, 0, sizeof *out);
    odin_arena_init(&out->arena, 0);
    pthread_mutex_lock(&m->lock);
    size_t total = 0;
    for (size_t i = 0; i < m->npools; i++) {
        total += m->pools[i]->nloops + m->pools[i]->ndropped;
    }
    out->v = odin_arena_zalloc(&out->arena, (total + 1) * sizeof *out->v);
    if (out->v == NULL) {
        odin_oom();
    }
    odin_arena *a = &out->arena;
    for (size_t i = 0; i < m->npools; i++) {
        scrape_pool *p = m->pools[i];
        for (size_t k = 0; k < p->nloops; k++) {
            scrape_loop *l = p->loops[k];
            scrape_target_info *t = &out->v[out->len++];
            t->job = odin_arena_strdup(a, p->name);
            t->scrape_url = odin_arena_strdup(a, l->url);
            t->global_url = odin_arena_strdup(a, l->global_url);
            t->discovered = snap_labels(l->discovered, a);
            t->labels = snap_labels(l->pub, a);
            t->health = l->health;
            t->last_error = odin_arena_strdup(a, l->last_error != NULL ? l->last_error : "");
            t->last_scrape_ms = l->last_scrape_ms;
            t->last_duration_s = l->last_duration_s;
            t->interval_ms = l->interval_ms;
            t->timeout_ms = l->timeout_ms;
        }
        for (size_t k = 0; k < p->ndropped; k++) {
            scrape_target_info *t = &out->v[out->len++];
            t->job = odin_arena_strdup(a, p->name);
            t->discovered = snap_labels(p->dropped[k].labels, a);
            t->dropped = true;
            t->health = "unknown";
        }
    }
    pthread_mutex_unlock(&m->lock);
}

int scrape_manager_metadata(scrape_manager *m, odin_arena *a, scrape_metadata **out, size_t *n,
                            odin_err *err)
{
    scrape_metadata *v = NULL;
    size_t len = 0, cap = 0;
    bool ok = true;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->npools && ok; i++) {
        scrape_pool *p = m->pools[i];
        for (size_t k = 0; k < p->nloops && ok; k++) {
            scrape_loop *l = p->loops[k];
            odin_labels target = snap_labels(l->pub, a);
            ok = scrape_meta_collect(&l->meta, target, a, &v, &len, &cap);
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (!ok) {
        return odin_err_set(err, ODIN_ERR_LIMIT, "too much metadata for one answer");
    }
    *out = v;
    *n = len;
    return 0;
}

void scrape_targets_snapshot_fini(scrape_targets_snapshot *s)
{
    odin_arena_fini(&s->arena);
    memset(s, 0, sizeof *s);
}

odin_summary *scrape_interval_summary_locked(scrape_manager *m, int64_t interval_ms)
{
    for (size_t i = 0; i < m->nintervals; i++) {
        if (m->intervals[i].interval_ms == interval_ms) {
            return m->intervals[i].s;
        }
    }
    m->intervals = odin_realloc(m->intervals, (m->nintervals + 1) * sizeof(*m->intervals));
    /* client_golang's 10-minute window; 8192 observations hold it up to ~13 scrapes a second
     * at this interval, and past that the quantiles cover the newest 8192 */
    odin_summary *s = odin_summary_new(8192, 10 * 60 * 1000);
    m->intervals[m->nintervals++] = (scrape_interval_summary){interval_ms, s};
    return s;
}

/* Go's time.Duration.String of a whole number of milliseconds: 500ms, 15s, 1.5s, 1m0s, 1h0m0s. */
static const char *go_duration(int64_t ms, odin_arena *a)
{
    if (ms <= 0) {
        return "0s";
    }
    if (ms < 1000) {
        return odin_arena_printf(a, "%lldms", (long long)ms);
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    long long h = ms / 3600000, mi = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    if (h > 0) {
        odin_strbuf_printf(&b, "%lldh", h);
    }
    if (h > 0 || mi > 0) {
        odin_strbuf_printf(&b, "%lldm", mi);
    }
    odin_strbuf_printf(&b, "%lld", s);
    if (frac > 0) {
        char f[4] = {(char)('0' + frac / 100), (char)('0' + frac / 10 % 10),
                     (char)('0' + frac % 10), '\0'};
        size_t n = 3;
        while (f[n - 1] == '0') {
            f[--n] = '\0';
        }
        odin_strbuf_printf(&b, ".%s", f);
    }
    odin_strbuf_putc(&b, 's');
    const char *out = odin_arena_strndup(a, b.p, b.len);
    odin_strbuf_fini(&b);
    return out;
}

void scrape_manager_stats(scrape_manager *m, odin_arena *a, scrape_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->exceeded_sample_limit = atomic_load(&m->sample_limit_hits);
    out->exceeded_body_size_limit = atomic_load(&m->body_limit_hits);
    out->sample_out_of_order = atomic_load(&m->out_of_order);
    out->sample_duplicate_timestamp = atomic_load(&m->duplicates);
    out->sample_out_of_bounds = atomic_load(&m->out_of_bounds);
    out->exceeded_label_limits = atomic_load(&m->label_limit_hits);
    out->exceeded_target_limit = atomic_load(&m->target_limit_hits);
    pthread_mutex_lock(&m->lock);
    out->pools_created = m->pools_created;
    out->pools = odin_arena_alloc(a, (m->npools ? m->npools : 1) * sizeof(*out->pools));
    size_t ni = m->nintervals;
    int64_t *ivs = odin_arena_alloc(a, (ni ? ni : 1) * sizeof(*ivs));
    odin_summary **sums = odin_arena_alloc(a, (ni ? ni : 1) * sizeof(*sums));
    if (out->pools == NULL || ivs == NULL || sums == NULL) {
        odin_oom();
    }
    for (size_t i = 0; i < m->npools; i++) {
        const scrape_pool *p = m->pools[i];
        out->pools[i] =
            (scrape_pool_stats){odin_arena_strdup(a, p->name), p->nloops, p->syncs, p->discovered};
    }
    out->npools = m->npools;
    for (size_t i = 0; i < ni; i++) {
        ivs[i] = m->intervals[i].interval_ms;
        sums[i] = m->intervals[i].s; /* freed only with the manager */
    }
    pthread_mutex_unlock(&m->lock);
    static const double qs[5] = {0.01, 0.05, 0.5, 0.9, 0.99};
    out->intervals = odin_arena_alloc(a, (ni ? ni : 1) * sizeof(*out->intervals));
    if (out->intervals == NULL) {
        odin_oom();
    }
    for (size_t i = 0; i < ni; i++) {
        scrape_interval_stats *s = &out->intervals[i];
        s->interval = go_duration(ivs[i], a);
        odin_summary_read(sums[i], qs, 5, s->quantiles, &s->sum_s, &s->count);
    }
    out->nintervals = ni;
}

void scrape_manager_free(scrape_manager *m)
{
    if (m == NULL) {
        return;
    }
    /* Discovery first, so no update arrives while the pools go away. */
    discovery_manager_free(m->disc);
    pthread_rwlock_wrlock(&m->cfg_lock);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->npools; i++) {
        pool_free_locked(m->pools[i], true);
    }
    free(m->pools);
    m->pools = NULL;
    m->npools = 0;
    m->stopping = true;
    for (size_t i = 0; i < m->nworkers; i++) {
        for (scrape_loop *l = m->workers[i].loops; l != NULL; l = l->next) {
            l->shutdown = true;
        }
    }
    pthread_mutex_unlock(&m->lock);
    pthread_rwlock_unlock(&m->cfg_lock);
    for (size_t i = 0; i < m->nworkers; i++) {
        scrape_worker_wake(&m->workers[i]);
        pthread_join(m->workers[i].thread, NULL);
        if (m->workers[i].multi != NULL) {
            curl_multi_cleanup(m->workers[i].multi);
        }
        close(m->workers[i].wake_fd);
    }
    free(m->workers);
    for (size_t i = 0; i < m->nintervals; i++) {
        odin_summary_free(m->intervals[i].s);
    }
    free(m->intervals);
    pthread_mutex_destroy(&m->lock);
    pthread_rwlock_destroy(&m->cfg_lock);
    free(m);
}
