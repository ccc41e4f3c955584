/* Snapshots (Prometheus' /api/v1/admin/tsdb/snapshot): every block's files hard-linked into
 * <data>/snapshots/<name>/, plus, unless skipped, the head written there as one more block. The
 * data directory's files are only linked, never copied or changed. */
#include "tsdb/block_int.h"
#include "tsdb/db_int.h"
#include "tsdb/tombstones.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* matches Prometheus 2.42: "20060102T150405Z0700" in UTC, a dash, 16 hex digits of randomness */
static void snapshot_name(odin_strbuf *out)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char ts[32];
    size_t n = strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
    ts[n] = '\0';
    uint64_t r = (uint64_t)odin_mono_ns() * 0x9E3779B97F4A7C15ULL;
    uint64_t rnd;
    if (getrandom(&rnd, sizeof(rnd), 0) == (ssize_t)sizeof(rnd)) {
        r = rnd;
    }
    r &= INT64_MAX; /* Prometheus prints rand.Int63() */
    static const char hex[] = "0123456789abcdef";
    char h[17];
    for (int i = 0; i < 16; i++) {
        h[i] = hex[(r >> (60 - 4 * i)) & 15];
    }
    h[16] = '\0';
    odin_strbuf_printf(out, "%s-%s", ts, h);
}

/* Links the regular files of src into dst (created), and recurses once into chunks/. */
static int link_dir(const char *src, const char *dst, int depth, odin_err *err)
{
    if (mkdir(dst, 0755) < 0 && errno != EEXIST) {
        return odin_err_errno(err, errno, "create %s", dst);
    }
    DIR *d = opendir(src);
    if (!d) {
        return odin_err_errno(err, errno, "open %s", src);
    }
    odin_strbuf from, to;
    odin_strbuf_init(&from, 0);
    odin_strbuf_init(&to, 0);
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        odin_strbuf_reset(&from);
        odin_strbuf_reset(&to);
        odin_strbuf_printf(&from, "%s/%s", src, de->d_name);
        odin_strbuf_printf(&to, "%s/%s", dst, de->d_name);
        struct stat st;
        if (lstat(from.p, &st) < 0) {
            rc = odin_err_errno(err, errno, "stat %s", from.p);
        } else if (S_ISDIR(st.st_mode) && depth == 0) {
            rc = link_dir(from.p, to.p, depth + 1, err);
        } else if (S_ISREG(st.st_mode) && link(from.p, to.p) < 0) {
            rc = odin_err_errno(err, errno, "link %s to %s", from.p, to.p);
        }
    }
    closedir(d);
    odin_strbuf_fini(&from);
    odin_strbuf_fini(&to);
    return rc;
}

/* ---- The head as a block ---------------------------------------------------------------------- */

typedef struct {
    tsdb *db;
    head_series **series;
    size_t n, pos;
    int64_t mint, maxt; /* [mint, maxt] inclusive: the head's range when the snapshot began */
    odin_arena a;       /* chunks cut at maxt */
    head_chunk *cur; /* copies, released on the next call */
    size_t ncur;
    block_chunk *out;
    size_t cap;
    head_labels_buf lbuf; /* the current series' labels */
} snap_source;

static int snap_next(void *ctx, odin_labels *labels, const block_chunk **chunks, size_t *n,
                     odin_err *err)
{
    snap_source *ss = ctx;
    const tsdb_tombstone outside[2] = {{0, INT64_MIN, ss->mint - 1}, {0, ss->maxt + 1, INT64_MAX}};
    while (ss->pos < ss->n) {
        head_chunks_release(ss->cur, ss->ncur);
        odin_arena_reset(&ss->a);
        head_series *s = ss->series[ss->pos++];
        /* copies, the open chunk too: the head keeps appending while the block is written */
        ss->ncur = head_series_chunks_since(&ss->db->head, s, ss->mint, &ss->cur);
        if (ss->ncur == 0) {
            continue;
        }
        if (ss->ncur > ss->cap) {
            ss->cap = ss->ncur;
            ss->out = odin_realloc(ss->out, ss->cap * sizeof(*ss->out));
        }
        size_t k = 0;
        for (size_t i = 0; i < ss->ncur; i++) {
            const head_chunk *c = &ss->cur[i];
            block_chunk bc = {c->mint, head_chunk_maxt(c), c->b, head_chunk_len(c)};
            if (c->mint > ss->maxt) {
                break;
            }
            /* samples appended since the snapshot began, or already in blocks, stay out, so the
             * block holds only what its range says */
            bool cut = bc.maxt > ss->maxt || c->mint < ss->mint;
            int rc = cut ? tombstones_apply_chunk(&bc, outside, 2, &ss->a, &bc, err) : 1;
            if (rc < 0) {
                return rc;
            }
            ss->out[k] = bc;
            k += rc == 1;
        }
        if (k == 0) {
            continue;
        }
        *labels = head_series_labels(&ss->db->head, s, &ss->lbuf);
        *chunks = ss->out;
        *n = k;
        return 1;
    }
    return 0;
}

static int write_head(tsdb *db, const char *dir, odin_err *err)
{
    int64_t hmin = atomic_load(&db->head.min_t), hmax = atomic_load(&db->head.max_t);
    int64_t valid = atomic_load(&db->min_valid_t);
    if (hmin == INT64_MAX) {
        return 0;
    }
    snap_source ss = {.db = db, .mint = hmin > valid ? hmin : valid, .maxt = hmax};
    if (ss.mint > ss.maxt) {
        return 0;
    }
    odin_arena_init(&ss.a, 0);
    ss.series = head_sorted_series(&db->head, &ss.n);
    /* matches Prometheus 2.42: the head block spans [head min, head max + 1) */
    block_write_opts wo = {.parent_dir = dir, .mint = ss.mint, .maxt = ss.maxt + 1,
                           .compaction_level = 1};
    block_source src = {&ss, snap_next};
    char ulid[27];
    int rc = block_write(&wo, &src, ulid, err);
    head_chunks_release(ss.cur, ss.ncur);
    odin_arena_fini(&ss.a);
    free(ss.out);
    head_labels_buf_fini(&ss.lbuf);
    free(ss.series);
    return rc;
}

int tsdb_snapshot(tsdb *db, bool with_head, odin_strbuf *name_out, odin_err *err)
{
    if (!db->dir) {
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "snapshot: database is in memory only");
    }
    odin_strbuf name, dir, from, to;
    odin_strbuf_init(&name, 0);
    odin_strbuf_init(&dir, 0);
    odin_strbuf_init(&from, 0);
    odin_strbuf_init(&to, 0);
    snapshot_name(&name);
    odin_strbuf_printf(&dir, "%s/snapshots", db->dir);
    int rc = 0;
    if (mkdir(dir.p, 0755) < 0 && errno != EEXIST) {
        rc = odin_err_errno(err, errno, "create %s", dir.p);
    }
    odin_strbuf_printf(&dir, "/%s", name.p);
    if (rc == 0 && mkdir(dir.p, 0755) < 0) {
        rc = odin_err_errno(err, errno, "create %s", dir.p);
    }
    /* compact_lock: no block is merged, dropped or rewritten while its files are linked */
    pthread_mutex_lock(&db->compact_lock);
    pthread_rwlock_rdlock(&db->blocks_lock);
    size_t nb = db->nblocks;
    tsdb_block **bs = odin_malloc((nb ? nb : 1) * sizeof(*bs));
    if (nb > 0) { /* db->blocks is NULL before the first block */
        memcpy(bs, db->blocks, nb * sizeof(*bs));
    }
    pthread_rwlock_unlock(&db->blocks_lock);
    for (size_t i = 0; i < nb && rc == 0; i++) {
        odin_strbuf_reset(&to);
        odin_strbuf_printf(&to, "%s/%s", dir.p, block_get_meta(bs[i])->ulid);
        rc = link_dir(block_path(bs[i]), to.p, 0, err);
    }
    free(bs);
    if (rc == 0 && with_head) {
        rc = write_head(db, dir.p, err);
    }
    pthread_mutex_unlock(&db->compact_lock);
    if (rc == 0) {
        rc = block_fsync_dir(dir.p, err);
    }
    if (rc == 0) {
        odin_strbuf_putstr(name_out, (odin_str){name.p, name.len});
        odin_log(ODIN_LOG_INFO, "tsdb", "snapshot created", "dir", dir.p, NULL);
    } else if (dir.len > 0) {
        odin_remove_tree(dir.p); /* only links and the head block: the data stays */
    }
    odin_strbuf_fini(&name);
    odin_strbuf_fini(&dir);
    odin_strbuf_fini(&from);
    odin_strbuf_fini(&to);
    return rc;
}
