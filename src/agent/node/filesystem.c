/* filesystem: node_filesystem_* from the mount table (<procfs>/1/mountinfo, else self/mountinfo)
 * and statfs(2) on <rootfs>/<mountpoint>. A statfs that does not return within
 * --collector.filesystem.mount-timeout never holds up the scrape: the mount is reported with
 * device_error="mountpoint timeout" and skipped until its statfs comes back. */
#include "agent/agent_int.h"
#include "agent/storage_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>

/* matches node_exporter 1.12's defaults (1.5 lacks run/credentials, containers storage, erofs) */
static const char default_mp_exclude[] =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
static const char default_fs_exclude[] =
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"
    "iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|"
    "erofs|sysfs|tracefs)$";

static const agent_flag_def filesystem_flags[] = {
    {"collector.filesystem.mount-points-exclude", default_mp_exclude,
     "Regexp of mount points to exclude for filesystem collector. (mutually exclusive to "
     "mount-points-include)",
     false, false},
    {"collector.filesystem.ignored-mount-points", NULL,
     "Regexp of mount points to ignore for filesystem collector.", false, false},
    {"collector.filesystem.mount-points-include", NULL,
     "Regexp of mount points to include for filesystem collector. (mutually exclusive to "
     "mount-points-exclude)",
     false, false},
    {"collector.filesystem.fs-types-exclude", default_fs_exclude,
     "Regexp of filesystem types to exclude for filesystem collector. (mutually exclusive to "
     "fs-types-include)",
     false, false},
    {"collector.filesystem.ignored-fs-types", NULL,
     "Regexp of filesystem types to ignore for filesystem collector.", false, false},
    {"collector.filesystem.fs-types-include", NULL,
     "Regexp of filesystem types to include for filesystem collector. (mutually exclusive to "
     "fs-types-exclude)",
     false, false},
    {"collector.filesystem.mount-timeout", "5s",
     "how long to wait for a mount to respond before marking it as stale", false, false},
    {"collector.filesystem.stat-workers", "4", "how many stat calls to process simultaneously",
     false, false},
    {NULL, NULL, NULL, false, false},
};

#define FS_LABELS                                                                                  \
    {                                                                                              \
        "device", "mountpoint", "fstype", "device_error", NULL                                     \
    }
static const agent_desc d_size = {"node_filesystem_size_bytes", "Filesystem size in bytes.",
                                  EXPFMT_GAUGE, FS_LABELS};
static const agent_desc d_free = {"node_filesystem_free_bytes", "Filesystem free space in bytes.",
                                  EXPFMT_GAUGE, FS_LABELS};
static const agent_desc d_avail = {"node_filesystem_avail_bytes",
                                   "Filesystem space available to non-root users in bytes.",
                                   EXPFMT_GAUGE, FS_LABELS};
static const agent_desc d_files = {"node_filesystem_files", "Filesystem total file nodes.",
                                   EXPFMT_GAUGE, FS_LABELS};
static const agent_desc d_files_free = {
    "node_filesystem_files_free", "Filesystem total free file nodes.", EXPFMT_GAUGE, FS_LABELS};
static const agent_desc d_readonly = {"node_filesystem_readonly", "Filesystem read-only status.",
                                      EXPFMT_GAUGE, FS_LABELS};
static const agent_desc d_device_error = {
    "node_filesystem_device_error",
    "Whether an error occurred while getting statistics for the given device.", EXPFMT_GAUGE,
    FS_LABELS};
static const agent_desc d_mount_info = {"node_filesystem_mount_info",
                                        "Filesystem mount information.",
                                        EXPFMT_GAUGE,
                                        {"device", "major", "minor", "mountpoint", NULL}};

/* ---- statfs off the scrape thread ------------------------------------------------------------ */

typedef struct fs_shared fs_shared;

/* One statfs call on a helper thread. Heap-owned: freed by the collector once `done` is seen,
 * or, when the collector gave up (`abandoned`), by the helper thread as it finishes. */
typedef struct fs_job {
    /* fixed once queued */
    fs_shared *sh;
    char *path;       /* what statfs is called on */
    char *mountpoint; /* the key of the stuck set */
    int64_t deadline_ns;
    /* guarded by sh->lock */
    bool done, abandoned;
    int errnum; /* 0 on success */
    struct statfs buf;
    struct fs_job *next;  /* in sh->stuck while abandoned */
    struct fs_job *qnext; /* in sh->queue until a helper takes it */
} fs_job;

/* The collector's state. Shared with helper threads that may outlive a scrape (and the
 * collector itself), hence the reference count; freed by whoever drops the last reference. */
struct fs_shared {
    /* fixed after init */
    agent_filter mp_filter, fs_filter;
    int64_t timeout_ns;
    size_t workers;
    char *rootfs;
    pthread_mutex_t lock;
    /* guarded by lock */
    pthread_cond_t cond; /* signalled when a job finishes */
    int refs;            /* the collector plus one per helper thread */
    fs_job *stuck;       /* abandoned jobs: mounts whose statfs has not returned */
    /* Helper threads stay for the next scrape instead of one thread per call (a clone and an
     * exit per mount per scrape); at most `workers` wait idle, the rest exit. A job is queued
     * only for a helper already idle, or with a new helper, so it starts at once and its
     * deadline keeps meaning "statfs has not returned". */
    pthread_cond_t work; /* signalled when a job is queued or `closing` is set */
    fs_job *queue;       /* jobs not yet taken by a helper */
    size_t queued, idle; /* length of queue; helpers waiting on `work` */
    bool closing;        /* the collector is gone: idle helpers exit */
};

static void shared_unref_locked(fs_shared *sh, bool *freed)
{
    *freed = --sh->refs == 0;
}

static void shared_free(fs_shared *sh)
{
    agent_filter_fini(&sh->mp_filter);
    agent_filter_fini(&sh->fs_filter);
    pthread_cond_destroy(&sh->cond);
    pthread_cond_destroy(&sh->work);
    pthread_mutex_destroy(&sh->lock);
    free(sh->rootfs);
    free(sh);
}

static void job_free(fs_job *j)
{
    free(j->path);
    free(j->mountpoint);
    free(j);
}

/* Records the result of j's statfs; called by its helper with sh->lock held. */
static void finish_job_locked(fs_shared *sh, fs_job *j, int errnum, const struct statfs *buf)
{
    j->done = true;
    j->errnum = errnum;
    j->buf = *buf;
    if (j->abandoned) {
        /* the mount answered again: take it out of the stuck set */
        for (fs_job **p = &sh->stuck; *p; p = &(*p)->next) {
            if (*p == j) {
                *p = j->next;
                break;
            }
        }
        odin_log(ODIN_LOG_DEBUG, "agent", "Mount point has recovered, monitoring will resume",
                 "mountpoint", j->mountpoint, NULL);
        job_free(j);
    } else {
        pthread_cond_broadcast(&sh->cond);
    }
}

static void *statfs_thread(void *arg)
{
    fs_shared *sh = arg;
    pthread_mutex_lock(&sh->lock);
    for (;;) {
        while (sh->queue == NULL && !sh->closing) {
            sh->idle++;
            pthread_cond_wait(&sh->work, &sh->lock);
            sh->idle--;
        }
        fs_job *j = sh->queue;
        if (j == NULL) {
            break; /* closing */
        }
        sh->queue = j->qnext;
        sh->queued--;
        pthread_mutex_unlock(&sh->lock);
        struct statfs buf;
        memset(&buf, 0, sizeof(buf));
        int e = statfs(j->path, &buf) == 0 ? 0 : errno;
        pthread_mutex_lock(&sh->lock);
        finish_job_locked(sh, j, e, &buf);
        if (sh->idle >= sh->workers) {
            break;
        }
    }
    bool freed;
    shared_unref_locked(sh, &freed);
    pthread_mutex_unlock(&sh->lock);
    if (freed) {
        shared_free(sh);
    }
    return NULL;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- mount table ------------------------------------------------------------------------------
 */

typedef struct {
    const char *device, *mountpoint, *fstype, *major, *minor;
    odin_str options, super_options;
    const char *path; /* statfs target: <rootfs>/<mountpoint> */
    /* results */
    const char *device_error;
    double ro, size, free, avail, files, files_free, error;
    fs_job *job;
    bool skip;
} fs_mount;

/* Go's strings.ReplaceAll of the two escapes node_exporter undoes (fstab(5) \040 and \011). */
static odin_str unescape_mountpoint(agent_scrape *sc, odin_str s)
{
    char *out = odin_arena_alloc(agent_scrape_arena(sc), s.len + 1);
    if (!out) {
        odin_oom();
    }
    size_t o = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (i + 4 <= s.len && memcmp(s.p + i, "\\040", 4) == 0) {
            out[o++] = ' ';
            i += 3;
        } else if (i + 4 <= s.len && memcmp(s.p + i, "\\011", 4) == 0) {
            out[o++] = '\t';
            i += 3;
        } else {
            out[o++] = s.p[i];
        }
    }
    out[o] = '\0';
    return (odin_str){out, o};
}

/* node_exporter's rootfsStripPrefix: a plain string prefix cut, "/" when nothing is left. */
static odin_str strip_rootfs(odin_str mp, const char *rootfs)
{
    if (strcmp(rootfs, "/") == 0) {
        return mp;
    }
    size_t rl = strlen(rootfs);
    if (mp.len >= rl && memcmp(mp.p, rootfs, rl) == 0) {
        mp.p += rl;
        mp.len -= rl;
    }
    return mp.len ? mp : ODIN_STR("/");
}

/* "maj:min" as fmt.Sscanf("%d:%d") reads it: optional sign, digits; trailing text ignored. */
static bool parse_dev(odin_str s, int64_t *maj, int64_t *min)
{
    int64_t *dst[2] = {maj, min};
    size_t i = 0;
    for (int k = 0; k < 2; k++) {
        if (k == 1) {
            if (i >= s.len || s.p[i] != ':') {
                return false;
            }
            i++;
        }
        size_t start = i;
        if (i < s.len && (s.p[i] == '+' || s.p[i] == '-')) {
            i++;
        }
        size_t d = i;
        while (i < s.len && s.p[i] >= '0' && s.p[i] <= '9') {
            i++;
        }
        if (i == d || odin_parse_i64((odin_str){s.p + start, i - start}, dst[k]) < 0) {
            return false;
        }
    }
    return true;
}

/* One mountinfo line, split on single spaces as procfs does:
 * id parent maj:min root mountpoint options [optional...] - fstype source super_options */
static int parse_mount(agent_scrape *sc, const fs_shared *sh, odin_str line, fs_mount *m,
                       const char **why)
{
    enum { MAXF = 64 };
    odin_str f[MAXF];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= line.len; i++) {
        if (i < line.len && line.p[i] != ' ') {
            continue;
        }
        if (n == MAXF) {
            *why = "too many fields in mount string";
            return -1;
        }
        f[n++] = (odin_str){line.p + start, i - start};
        start = i + 1;
    }
    int64_t id, maj, min;
    if (n < 10) {
        *why = "too few fields in mount string";
        return -1;
    }
    if (!odin_str_eq_c(f[n - 4], "-")) {
        *why = "couldn't find separator in expected field";
        return -1;
    }
    if (odin_parse_i64(f[0], &id) < 0 || odin_parse_i64(f[1], &id) < 0) {
        *why = "bad mount ID";
        return -1;
    }
    if (!parse_dev(f[2], &maj, &min)) {
        *why = "malformed mount point MajorMinorVer";
        return -1;
    }
    odin_str mp = strip_rootfs(unescape_mountpoint(sc, f[4]), sh->rootfs);
    m->mountpoint = agent_valid_utf8(sc, mp);
    m->device = agent_valid_utf8(sc, f[n - 2]);
    m->fstype = agent_valid_utf8(sc, f[n - 3]);
    m->major = agent_fmt_i64(sc, maj);
    m->minor = agent_fmt_i64(sc, min);
    m->options = f[5];
    m->super_options = f[n - 1];
    m->path = agent_path(sc, AGENT_ROOT, "%.*s", (int)mp.len, mp.p);
    return 0;
}

static int read_mounts(agent_scrape *sc, const fs_shared *sh, fs_mount **out, size_t *nout,
                       odin_err *err)
{
    const char *path = agent_path(sc, AGENT_PROC, "1/mountinfo");
    odin_str text;
    int rc = agent_read_mounts(sc, path, &text, err);
    if (rc == -ODIN_ERR_NOTFOUND) {
        /* hidepid hides PID 1: fall back to our own mount namespace's table */
        odin_err_clear(err);
        path = agent_path(sc, AGENT_PROC, "self/mountinfo");
        rc = agent_read_mounts(sc, path, &text, err);
    }
    if (rc < 0) {
        return rc;
    }
    size_t cap = 1;
    for (size_t i = 0; i < text.len; i++) {
        cap += text.p[i] == '\n';
    }
    fs_mount *ms = odin_arena_zalloc(agent_scrape_arena(sc), cap * sizeof(*ms));
    if (!ms) {
        odin_oom();
    }
    size_t n = 0, lineno = 0;
    while (text.len) {
        odin_str line = odin_str_cut(&text, '\n');
        lineno++;
        const char *why = NULL;
        if (parse_mount(sc, sh, line, &ms[n], &why) < 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "%s:%zu: %s: \"%.64s\"", path, lineno, why,
                                agent_strdup(sc, line));
        }
        n++;
    }
    *out = ms;
    *nout = n;
    return 0;
}

/* An option list holds `name` as a whole entry (not "name=value"). */
static bool has_option(odin_str opts, const char *name)
{
    while (opts.len) {
        odin_str o = odin_str_cut(&opts, ',');
        if (odin_str_eq_c(o, name)) {
            return true;
        }
    }
    return false;
}

static bool is_readonly(const fs_mount *m)
{
    return has_option(m->options, "ro") || has_option(m->super_options, "ro") ||
           has_option(m->super_options, "emergency_ro");
}

/* ---- the collector -----------------------------------------------------------------------------
 */

/* node_exporter's flag rules: the old name stands in for an unset new one; an include given
 * without an explicit exclude drops the default exclude; both given is an error. */
static int make_filter(agent *ag, agent_filter *f, const char *exc_flag, const char *exc_default,
                       const char *old_flag, const char *inc_flag, const char *what, odin_err *err)
{
    const char *exclude = agent_flag(ag, exc_flag);
    const char *old = agent_flag(ag, old_flag);
    const char *include = agent_flag(ag, inc_flag);
    bool exclude_set = exclude != exc_default; /* a given flag is not the default's pointer */
    if (old && *old) {
        if (exclude_set) {
            return odin_err_set(err, ODIN_ERR_INVALID, "--%s and --%s are mutually exclusive",
                                old_flag, exc_flag);
        }
        odin_log(ODIN_LOG_WARN, "agent", "deprecated flag, use the new name", "flag", old_flag,
                 "use", exc_flag, NULL);
        exclude = old;
        exclude_set = true;
    }
    if (include && *include && !exclude_set) {
        exclude = NULL;
    }
    if (include && *include && exclude && *exclude) {
        return odin_err_set(err, ODIN_ERR_INVALID, "--%s and --%s are mutually exclusive", exc_flag,
                            inc_flag);
    }
    return agent_filter_init(f, include, exclude, what, err);
}

static int filesystem_init(agent *ag, void **state, odin_err *err)
{
    fs_shared *sh = odin_calloc(1, sizeof(*sh));
    int rc =
        make_filter(ag, &sh->mp_filter, "collector.filesystem.mount-points-exclude",
                    default_mp_exclude, "collector.filesystem.ignored-mount-points",
                    "collector.filesystem.mount-points-include", "filesystem mount points", err);
    if (rc == 0) {
        rc = make_filter(ag, &sh->fs_filter, "collector.filesystem.fs-types-exclude",
                         default_fs_exclude, "collector.filesystem.ignored-fs-types",
                         "collector.filesystem.fs-types-include", "filesystem fs types", err);
    }
    int64_t timeout_ms = 0, workers = 0;
    const char *t = agent_flag(ag, "collector.filesystem.mount-timeout");
    if (rc == 0 && (odin_parse_duration_ms(odin_str_c(t ? t : ""), &timeout_ms) < 0)) {
        rc = odin_err_set(err, ODIN_ERR_INVALID,
                          "--collector.filesystem.mount-timeout: not a duration: \"%.64s\"", t);
    }
    const char *w = agent_flag(ag, "collector.filesystem.stat-workers");
    if (rc == 0 && odin_parse_i64(odin_str_c(w ? w : ""), &workers) < 0) {
        rc = odin_err_set(err, ODIN_ERR_INVALID,
                          "--collector.filesystem.stat-workers: not an integer: \"%.64s\"", w);
    }
    if (rc < 0) {
        agent_filter_fini(&sh->mp_filter);
        agent_filter_fini(&sh->fs_filter);
        free(sh);
        return rc;
    }
    sh->timeout_ns = timeout_ms * 1000000;
    sh->workers = workers < 1 ? 1 : (size_t)workers;
    const char *root = agent_flag(ag, "path.rootfs");
    sh->rootfs = odin_strdup(root ? root : "/");
    pthread_mutex_init(&sh->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sh->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&sh->work, NULL);
    sh->refs = 1;
    *state = sh;
    return 0;
}

static void filesystem_fini(void *state)
{
    fs_shared *sh = state;
    if (!sh) {
        return;
    }
    pthread_mutex_lock(&sh->lock);
    sh->closing = true;
    pthread_cond_broadcast(&sh->work);
    bool freed;
    shared_unref_locked(sh, &freed);
    pthread_mutex_unlock(&sh->lock);
    if (freed) {
        shared_free(sh);
    }
}

static bool stuck_locked(const fs_shared *sh, const char *mountpoint)
{
    for (const fs_job *j = sh->stuck; j; j = j->next) {
        if (strcmp(j->mountpoint, mountpoint) == 0) {
            return true;
        }
    }
    return false;
}

static void set_result(agent_scrape *sc, fs_mount *m, int errnum, const struct statfs *b)
{
    if (errnum) {
        m->device_error = storage_errno_text(sc, errnum);
        m->error = 1;
        odin_log(ODIN_LOG_DEBUG, "agent", "Error on statfs() system call", "rootfs", m->path, "err",
                 m->device_error, NULL);
        return;
    }
    /* matches node_exporter: each count and the block size converted to double, then multiplied */
    double bsize = (double)b->f_bsize;
    m->size = (double)b->f_blocks * bsize;
    m->free = (double)b->f_bfree * bsize;
    m->avail = (double)b->f_bavail * bsize;
    m->files = (double)b->f_files;
    m->files_free = (double)b->f_ffree;
}

/* Hands statfs for m to an idle helper thread, or to a new one; runs it inline if no thread can
 * be made. */
static void start_job(agent_scrape *sc, fs_shared *sh, fs_mount *m)
{
    fs_job *j = odin_calloc(1, sizeof(*j));
    j->sh = sh;
    j->path = odin_strdup(m->path);
    j->mountpoint = odin_strdup(m->mountpoint);
    j->deadline_ns = mono_ns() + sh->timeout_ns;
    pthread_mutex_lock(&sh->lock);
    j->qnext = sh->queue;
    sh->queue = j;
    sh->queued++;
    if (sh->idle >= sh->queued) {
        pthread_cond_signal(&sh->work);
        pthread_mutex_unlock(&sh->lock);
        m->job = j;
        return;
    }
    sh->refs++;
    pthread_mutex_unlock(&sh->lock);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024); /* statfs needs next to no stack */
    pthread_t tid;
    int rc = pthread_create(&tid, &attr, statfs_thread, sh);
    pthread_attr_destroy(&attr);
    if (rc == 0) {
        m->job = j;
        return;
    }
    /* no thread: take j back and run it here, unless a helper that just finished took it */
    pthread_mutex_lock(&sh->lock);
    sh->refs--;
    bool taken = true;
    for (fs_job **p = &sh->queue; *p; p = &(*p)->qnext) {
        if (*p == j) {
            *p = j->qnext;
            sh->queued--;
            taken = false;
            break;
        }
    }
    pthread_mutex_unlock(&sh->lock);
    if (taken) {
        m->job = j;
        return;
    }
    struct statfs b;
    set_result(sc, m, statfs(j->path, &b) == 0 ? 0 : errno, &b);
    job_free(j);
}

/* Collects finished jobs and gives up on late ones; returns how many left the running set.
 * Called with sh->lock held. */
static size_t reap_locked(agent_scrape *sc, fs_shared *sh, fs_mount **running, size_t *nrun)
{
    size_t reaped = 0;
    int64_t now = mono_ns();
    for (size_t i = 0; i < *nrun;) {
        fs_mount *m = running[i];
        fs_job *j = m->job;
        if (j->done) {
            set_result(sc, m, j->errnum, &j->buf);
            job_free(j);
        } else if (now >= j->deadline_ns) {
            /* matches node_exporter's stuck-mount marking, without waiting for the call */
            j->abandoned = true;
            j->next = sh->stuck;
            sh->stuck = j;
            m->device_error = "mountpoint timeout";
            m->error = 1;
            m->ro = 0;
            odin_log(ODIN_LOG_DEBUG, "agent",
                     "Mount point timed out, it is being labeled as stuck and will not be "
                     "monitored",
                     "mountpoint", m->mountpoint, NULL);
        } else {
            i++;
            continue;
        }
        m->job = NULL;
        running[i] = running[--*nrun];
        reaped++;
    }
    return reaped;
}

/* Runs statfs for the mounts in todo with at most sh->workers calls in flight. */
static void stat_all(agent_scrape *sc, fs_shared *sh, fs_mount **todo, size_t n)
{
    fs_mount **running =
        odin_arena_alloc(agent_scrape_arena(sc), (sh->workers + 1) * sizeof(*running));
    if (!running) {
        odin_oom();
    }
    size_t next = 0, nrun = 0;
    while (next < n || nrun > 0) {
        while (next < n && nrun < sh->workers) {
            fs_mount *m = todo[next++];
            start_job(sc, sh, m);
            if (m->job) {
                running[nrun++] = m;
            }
        }
        if (nrun == 0) {
            continue;
        }
        pthread_mutex_lock(&sh->lock);
        while (reap_locked(sc, sh, running, &nrun) == 0) {
            int64_t first = running[0]->job->deadline_ns;
            for (size_t i = 1; i < nrun; i++) {
                if (running[i]->job->deadline_ns < first) {
                    first = running[i]->job->deadline_ns;
                }
            }
            struct timespec ts = {(time_t)(first / 1000000000), (long)(first % 1000000000)};
            pthread_cond_timedwait(&sh->cond, &sh->lock, &ts);
        }
        pthread_mutex_unlock(&sh->lock);
    }
}

static void emit_mount(agent_scrape *sc, const fs_mount *m)
{
    const char *v[] = {m->device, m->mountpoint, m->fstype, m->device_error};
    agent_emit(sc, &d_device_error, m->error, v);
    agent_emit(sc, &d_readonly, m->ro, v);
    if (m->error > 0) {
        return;
    }
    agent_emit(sc, &d_size, m->size, v);
    agent_emit(sc, &d_free, m->free, v);
    agent_emit(sc, &d_avail, m->avail, v);
    agent_emit(sc, &d_files, m->files, v);
    agent_emit(sc, &d_files_free, m->files_free, v);
    const char *iv[] = {m->device, m->major, m->minor, m->mountpoint};
    agent_emit(sc, &d_mount_info, 1.0, iv);
}

/* Emits each label set once, the first mount in table order winning, as node_exporter does for
 * a device mounted twice at one place. */
static void emit_all(agent_scrape *sc, fs_mount *ms, size_t n)
{
    odin_map seen;
    odin_map_init(&seen);
    for (size_t i = 0; i < n; i++) {
        fs_mount *m = &ms[i];
        if (m->skip) {
            continue;
        }
        const char *key = odin_arena_printf(agent_scrape_arena(sc), "%s%c%s%c%s%c%s%c%s%c%s",
                                            m->device, 0, m->mountpoint, 0, m->fstype, 0,
                                            m->device_error, 0, m->major, 0, m->minor);
        size_t klen = strlen(m->device) + strlen(m->mountpoint) + strlen(m->fstype) +
                      strlen(m->device_error) + strlen(m->major) + strlen(m->minor) + 5;
        if (odin_map_get(&seen, key, klen)) {
            continue;
        }
        odin_map_put(&seen, key, klen, m);
        emit_mount(sc, m);
    }
    odin_map_fini(&seen);
}

/* Filesystems whose statfs answers from memory (superblock counters), never from a device or a
 * peer: asked inline, without the hand-off to a helper thread that guards against a stuck
 * mount (two context switches per mount; Kubernetes nodes carry hundreds of tmpfs mounts).
 * Network filesystems, FUSE and anything not listed keep the helper and its timeout. */
static bool statfs_is_local(const char *fstype)
{
    static const char *const local[] = {"ext2", "ext3", "ext4", "xfs", "tmpfs", "ramfs", "vfat"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(local); i++) {
        if (strcmp(fstype, local[i]) == 0) {
            return true;
        }
    }
    return false;
}

static int filesystem_collect(agent_scrape *sc, void *state, odin_err *err)
{
    fs_shared *sh = state;
    fs_mount *ms = NULL;
    size_t n = 0;
    int rc = read_mounts(sc, sh, &ms, &n, err);
    if (rc < 0) {
        return rc;
    }
    fs_mount **todo = odin_arena_alloc(agent_scrape_arena(sc), (n ? n : 1) * sizeof(*todo));
    if (!todo) {
        odin_oom();
    }
    size_t ntodo = 0;
    for (size_t i = 0; i < n; i++) {
        fs_mount *m = &ms[i];
        m->device_error = "";
        if (agent_filter_ignored(&sh->mp_filter, m->mountpoint) ||
            agent_filter_ignored(&sh->fs_filter, m->fstype)) {
            m->skip = true;
            continue;
        }
        pthread_mutex_lock(&sh->lock);
        bool stuck = stuck_locked(sh, m->mountpoint);
        pthread_mutex_unlock(&sh->lock);
        if (stuck) {
            m->device_error = "mountpoint timeout";
            m->error = 1;
            continue;
        }
        m->ro = is_readonly(m) ? 1 : 0;
        if (statfs_is_local(m->fstype)) {
            struct statfs b;
            memset(&b, 0, sizeof(b));
            set_result(sc, m, statfs(m->path, &b) == 0 ? 0 : errno, &b);
            continue;
        }
        todo[ntodo++] = m;
    }
    stat_all(sc, sh, todo, ntodo);
    emit_all(sc, ms, n);
    return 0;
}

const agent_collector_def agent_collector_filesystem = {
    .name = "filesystem",
    .default_on = true,
    .flags = filesystem_flags,
    .init = filesystem_init,
    .collect = filesystem_collect,
    .fini = filesystem_fini,
};
