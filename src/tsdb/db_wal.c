/* The database's use of the WAL: every commit is logged before its samples become visible, and
 * opening replays the log into the head. A torn or corrupt tail is cut at the last good record and
 * logged, so the server always starts. */
#include "tsdb/db_int.h"
#include "tsdb/migrate.h"
#include "tsdb/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int ensure_dir(const char *path, odin_err *err)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        return 0;
    }
    return odin_err_errno(err, errno, "mkdir %s", path);
}

/* Segment seg holds a sample at maxt (with wal_lock, or in replay before any commit). Segments
 * are counted from db->wal_seg_base; those below it are not tracked. */
static void note_segment_maxt_at(tsdb *db, int seg, int64_t maxt)
{
    if (seg < db->wal_seg_base) {
        return;
    }
    size_t i = (size_t)(seg - db->wal_seg_base);
    if (i >= db->wal_nseg) {
        db->wal_seg_maxt = odin_realloc(db->wal_seg_maxt, (i + 1) * sizeof(*db->wal_seg_maxt));
        for (size_t k = db->wal_nseg; k <= i; k++) {
            db->wal_seg_maxt[k] = INT64_MIN;
        }
        db->wal_nseg = i + 1;
    }
    if (maxt > db->wal_seg_maxt[i]) {
        db->wal_seg_maxt[i] = maxt;
    }
}

/* WAL refs are the writer's own (ours, or Prometheus' when migrating). Replay gives a new series
 * the ref its record uses where it can, and maps refs to head series as their Series records
 * arrive; a later record for the same ref redefines it. */
typedef struct {
    tsdb *db;
    odin_map refs; /* 8-byte wal ref -> head_series */
    odin_arena arena;
    uint64_t series, samples, skipped;
    /* Prometheus records Odin does not keep (exemplars, metadata, native histograms and record
     * types newer than this reader): counted and logged, never a reason to stop. */
    uint64_t exemplars, metadata, other_records;
    wal_tombstone *tombstones; /* applied once every sample is in (heap array) */
    size_t ntombstones, cap_tombstones;
    wal_reader *rd;
    /* a series did not get the ref the log uses (its labels came under two refs, or the ref was
     * taken), or the checkpoint holds samples (Prometheus'): the segments cannot be dropped
     * by time alone, and the first checkpoint relogs instead (db->wal_foreign) */
    bool remapped, checkpoint_samples;
} replay;

static void replay_series(replay *r, const uint8_t *rec, size_t len, odin_err *err)
{
    wal_series *s;
    size_t n;
    if (wal_decode_series(rec, len, &r->arena, &s, &n, err) < 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        odin_labels_sort(s[i].labels.v, s[i].labels.len);
        bool created;
        head_series *hs = head_get_or_create_ref(&r->db->head, s[i].labels, s[i].ref, &created);
        if (hs == NULL) {
            r->skipped++; /* refs ran out (HEAD_MAX_REFS): its samples are skipped too */
            continue;
        }
        r->remapped = r->remapped || hs->ref != s[i].ref;
        uint64_t *key = odin_arena_alloc(&r->arena, sizeof(*key));
        if (!key) {
            odin_oom();
        }
        *key = s[i].ref;
        odin_map_put(&r->refs, key, sizeof(*key), hs);
        r->series++;
    }
}

static void replay_samples(replay *r, const uint8_t *rec, size_t len, odin_err *err)
{
    wal_sample *s;
    size_t n;
    if (wal_decode_samples(rec, len, &r->arena, &s, &n, err) < 0) {
        return;
    }
    int64_t maxt = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        maxt = s[i].t > maxt ? s[i].t : maxt;
    }
    if (wal_reader_in_checkpoint(r->rd)) {
        r->checkpoint_samples = r->checkpoint_samples || n > 0;
    } else if (n > 0) {
        int seg;
        uint64_t off;
        wal_reader_position(r->rd, &seg, &off);
        note_segment_maxt_at(r->db, seg, maxt);
    }
    for (size_t i = 0; i < n; i++) {
        head_series *hs = odin_map_get(&r->refs, &s[i].ref, sizeof(s[i].ref));
        int kind;
        if (s[i].t < atomic_load(&r->db->min_valid_t)) {
            continue; /* already in a block */
        }
        if (!hs || head_series_append(&r->db->head, hs, s[i].t, s[i].v, &kind) < 0) {
            r->skipped++;
            continue;
        }
        r->samples++;
    }
}

static void replay_tombstones(replay *r, const uint8_t *rec, size_t len, odin_err *err)
{
    wal_tombstone *t;
    size_t n;
    if (wal_decode_tombstones(rec, len, &r->arena, &t, &n, err) < 0) {
        return;
    }
    if (r->ntombstones + n > r->cap_tombstones) {
        r->cap_tombstones = (r->ntombstones + n) * 2;
        r->tombstones = odin_realloc(r->tombstones, r->cap_tombstones * sizeof(*t));
    }
    memcpy(r->tombstones + r->ntombstones, t, n * sizeof(*t));
    r->ntombstones += n;
}

/* Counts what Odin reads but does not keep; a record that fails its own checks is reported like
 * any undecodable record. */
static void replay_count(replay *r, const uint8_t *rec, size_t len, odin_err *err)
{
    if (rec[0] == WAL_REC_EXEMPLARS) {
        size_t n;
        if (wal_count_exemplars(rec, len, &n, err) == 0) {
            r->exemplars += n;
        }
    } else if (rec[0] == WAL_REC_METADATA) {
        wal_metadata *m;
        size_t n;
        if (wal_decode_metadata(rec, len, &r->arena, &m, &n, err) >= 0) {
            r->metadata += n;
        }
    } else {
        r->other_records++;
    }
}

/* Prometheus applies a WAL tombstone to the series' head samples in its range; applying them after
 * the last sample differs only for samples appended into a deleted range later, which scrapes
 * (always newer than the head) do not produce. */
static void apply_tombstones(replay *r)
{
    for (size_t i = 0; i < r->ntombstones; i++) {
        const wal_tombstone *t = &r->tombstones[i];
        head_series *hs = odin_map_get(&r->refs, &t->ref, sizeof(t->ref));
        if (hs) {
            pthread_mutex_lock(&r->db->compact_lock);
            tsdb_head_delete_locked(r->db, &hs, 1, t->mint, t->maxt);
            pthread_mutex_unlock(&r->db->compact_lock);
        }
    }
}

static void u64_text(uint64_t v, char out[24])
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_put_u64(&b, v);
    memcpy(out, b.p, b.len + 1);
    odin_strbuf_fini(&b);
}

static void log_replay(const replay *r)
{
    char v[7][24];
    u64_text(r->series, v[0]);
    u64_text(r->samples, v[1]);
    u64_text(r->skipped, v[2]);
    u64_text(r->ntombstones, v[3]);
    u64_text(r->exemplars, v[4]);
    u64_text(r->metadata, v[5]);
    u64_text(r->other_records, v[6]);
    odin_log(ODIN_LOG_INFO, "tsdb", "WAL replay completed", "series", v[0], "samples", v[1],
             "skipped", v[2], "tombstones", v[3], "exemplars_skipped", v[4], "metadata_skipped",
             v[5], "other_records_skipped", v[6], NULL);
}

/* After the records: WAL tombstones, then Prometheus' m-mapped head chunks checked against the
 * head the WAL rebuilt (migrate.c). */
static int replay_finish(replay *r, odin_err *err)
{
    apply_tombstones(r);
    log_replay(r);
    migrate_chunks_stats st;
    return tsdb_migrate_head_chunks(r->db, &r->refs, &st, err);
}

static int replay_wal(tsdb *db, const char *dir, odin_err *err)
{
    odin_err rerr = {0};
    wal_reader *rd = wal_reader_open(dir, &rerr);
    if (!rd) {
        if (rerr.code == ODIN_ERR_NOTFOUND) {
            /* no WAL: head chunks, if any, cannot be covered and are refused */
            odin_map none;
            odin_map_init(&none);
            migrate_chunks_stats st;
            int rc = tsdb_migrate_head_chunks(db, &none, &st, err);
            odin_map_fini(&none);
            return rc;
        }
        odin_err_set(err, rerr.code, "%s", rerr.msg);
        return -rerr.code;
    }
    replay r = {.db = db, .rd = rd};
    odin_map_init(&r.refs);
    odin_arena_init(&r.arena, 0);
    const uint8_t *rec;
    size_t len;
    int rc;
    while ((rc = wal_reader_next(rd, &rec, &len, &rerr)) > 0) {
        odin_err derr = {0};
        if (len && rec[0] == WAL_REC_SERIES) {
            replay_series(&r, rec, len, &derr);
        } else if (len && rec[0] == WAL_REC_SAMPLES) {
            replay_samples(&r, rec, len, &derr);
        } else if (len && rec[0] == WAL_REC_TOMBSTONES) {
            replay_tombstones(&r, rec, len, &derr);
        } else if (len) {
            replay_count(&r, rec, len, &derr);
        }
        if (derr.code) {
            odin_log(ODIN_LOG_WARN, "tsdb", "skipping undecodable WAL record", "err", derr.msg,
                     NULL);
        }
    }
    int result = 0;
    if (rc == -ODIN_ERR_CORRUPT) {
        int seg;
        uint64_t off;
        wal_reader_position(rd, &seg, &off);
        odin_log(ODIN_LOG_WARN, "tsdb", "WAL corruption: cutting at the last good record", "err",
                 rerr.msg, NULL);
        atomic_fetch_add(&db->wal_corruptions, 1);
        odin_err rep = {0};
        /* the damage may be inside a checkpoint: repair where the reader was reading */
        if (!db->opts.read_only && wal_repair(wal_reader_dir(rd), seg, off, &rep) < 0) {
            odin_log(ODIN_LOG_ERROR, "tsdb", "WAL repair failed", "err", rep.msg, NULL);
        }
    } else if (rc < 0) {
        /* unreadable but not damaged (zstd, I/O): refuse to start rather than cut history */
        odin_err_set(err, -rc, "%s", rerr.msg);
        result = rc;
    }
    wal_reader_close(rd);
    if (result == 0) {
        result = replay_finish(&r, err);
    }
    db->wal_foreign = r.remapped || r.checkpoint_samples;
    free(r.tombstones);
    odin_map_fini(&r.refs);
    odin_arena_fini(&r.arena);
    return result;
}

static int add_missing_marker(tsdb *db, const char *wdir, odin_err *err);

/* Every live series under its head ref, into w: after replay (so the WAL from there on never
 * depends on refs of an earlier writer), at the start of a relog, and as a checkpoint. */
static int log_all_series(tsdb *db, tsdb_wal *w, odin_err *err)
{
    head *h = &db->head;
    odin_strbuf rec;
    odin_strbuf_init(&rec, 0);
    int rc = 0;
    enum { BATCH = 1000 };
    wal_series batch[BATCH];
    size_t nb = 0;
    odin_arena la; /* the batch's labels */
    odin_arena_init(&la, 0);
    /* the read lock: appenders add series (and grow the array) without wal_lock */
    pthread_rwlock_rdlock(&h->map_lock);
    for (size_t i = 0; i < h->nseries && rc == 0; i++) {
        const head_series *s = head_slot_locked(h, i);
        if (s != NULL) {
            odin_labels ls = head_series_labels_arena(h, s, &la);
            if (ls.v == NULL) {
                odin_oom();
            }
            batch[nb++] = (wal_series){s->ref, ls};
        }
        if (nb > 0 && (nb == BATCH || i + 1 == h->nseries)) {
            odin_strbuf_reset(&rec);
            wal_encode_series(&rec, batch, nb);
            rc = wal_log(w, (const uint8_t *)rec.p, rec.len, err);
            nb = 0;
            odin_arena_reset(&la);
        }
    }
    pthread_rwlock_unlock(&h->map_lock);
    odin_arena_fini(&la);
    odin_strbuf_fini(&rec);
    return rc;
}

int tsdb_wal_start(tsdb *db, odin_err *err)
{
    if (!db->dir) {
        return 0;
    }
    if (ensure_dir(db->dir, err) < 0) {
        return -ODIN_ERR_IO;
    }
    char *wdir = odin_malloc(strlen(db->dir) + 5);
    memcpy(wdir, db->dir, strlen(db->dir));
    memcpy(wdir + strlen(db->dir), "/wal", 5);
    /* segments are tracked from the oldest on disk: replay notes their newest sample times */
    int first, last;
    wal_segment_range(wdir, &first, &last);
    db->wal_seg_base = first >= 0 ? first : 0;
    db->wal_nseg = 0;
    int rc = replay_wal(db, wdir, err);
    if (rc == 0) {
        /* a checkpoint keeps the segments that straddle the last block's end, and with them the
         * records of series whose samples are all in blocks now: made again by the replay, they
         * hold nothing and go, as the head truncation that followed the block removed them */
        head_gc(&db->head);
    }
    if (rc == 0 && !db->opts.read_only) {
        rc = add_missing_marker(db, wdir, err);
    }
    if (rc == 0 && !db->opts.read_only) {
        wal_opts wo = {.segment_bytes = db->opts.wal_segment_bytes,
                       .fsync_ms = db->opts.wal_fsync_ms,
                       .compress = db->opts.wal_compression};
        db->wal = wal_open(wdir, &wo, err);
        if (db->wal && first < 0) {
            db->wal_seg_base = wal_segment(db->wal);
            db->wal_nseg = 0;
        }
        rc = db->wal ? log_all_series(db, db->wal, err) : -ODIN_ERR_IO;
    }
    free(wdir);
    return rc;
}

void tsdb_wal_stop(tsdb *db)
{
    if (db->wal) {
        wal_close(db->wal);
        db->wal = NULL;
    }
}

/* With wal_lock: the segment the last record went to holds a sample at maxt. */
static void note_segment_maxt(tsdb *db, int64_t maxt)
{
    note_segment_maxt_at(db, wal_segment(db->wal), maxt);
}

/* With wal_lock: forgets the segments below seg (deleted). */
static void forget_segments_below(tsdb *db, int seg)
{
    size_t drop = seg > db->wal_seg_base ? (size_t)(seg - db->wal_seg_base) : 0;
    drop = drop < db->wal_nseg ? drop : db->wal_nseg;
    memmove(db->wal_seg_maxt, db->wal_seg_maxt + drop,
            (db->wal_nseg - drop) * sizeof(*db->wal_seg_maxt));
    db->wal_nseg -= drop;
    db->wal_seg_base = seg > db->wal_seg_base ? seg : db->wal_seg_base;
}

int tsdb_wal_log_commit_locked(tsdb *db, head_series *const *created, size_t ncreated,
                               const tsdb_pending_sample *samples, size_t n, odin_err *err)
{
    if (!db->wal || (n == 0 && ncreated == 0)) {
        return 0;
    }
    odin_strbuf *rec = &db->wal_rec; /* reused: wal_lock is held */
    odin_strbuf_reset(rec);
    int rc = 0;
    if (ncreated) {
        wal_series *ws = odin_malloc(ncreated * sizeof(*ws));
        odin_arena la; /* the records' labels */
        odin_arena_init(&la, 0);
        for (size_t i = 0; i < ncreated; i++) {
            odin_labels ls = head_series_labels_arena(&db->head, created[i], &la);
            if (ls.v == NULL) {
                odin_oom();
            }
            ws[i] = (wal_series){created[i]->ref, ls};
        }
        wal_encode_series(rec, ws, ncreated);
        odin_arena_fini(&la);
        free(ws);
        rc = wal_log(db->wal, (const uint8_t *)rec->p, rec->len, err);
    }
    if (rc == 0 && n) {
        if (n > db->wal_scratch.cap) {
            db->wal_scratch.v = odin_realloc(db->wal_scratch.v, n * sizeof(wal_sample));
            db->wal_scratch.cap = n;
        }
        wal_sample *ss = db->wal_scratch.v;
        int64_t maxt = INT64_MIN;
        for (size_t i = 0; i < n; i++) {
            ss[i] = (wal_sample){samples[i].ref, samples[i].t, samples[i].v};
            maxt = samples[i].t > maxt ? samples[i].t : maxt;
        }
        odin_strbuf_reset(rec);
        wal_encode_samples(rec, ss, n);
        rc = wal_log(db->wal, (const uint8_t *)rec->p, rec->len, err);
        if (rc == 0) {
            note_segment_maxt(db, maxt);
        }
    }
    if (rec->alloc > (1u << 20)) {
        odin_strbuf_fini(rec); /* a huge commit's record is not kept */
        odin_strbuf_init(rec, 0);
    }
    if (db->wal_scratch.cap > 65536) {
        free(db->wal_scratch.v);
        db->wal_scratch.v = NULL;
        db->wal_scratch.cap = 0;
    }
    return rc;
}

/* Deletes WAL segments numbered below seg, and checkpoint directories other than
 * checkpoint.(seg-1): what they held is in blocks, in that checkpoint (the live series), or in
 * the segments from seg on (the head's samples, kept or relogged there). */
static void wal_delete_before(const char *data_dir, int seg)
{
    odin_strbuf path;
    odin_strbuf_init(&path, 0);
    odin_strbuf_printf(&path, "%s/wal", data_dir);
    DIR *d = opendir(path.p);
    if (!d) {
        odin_strbuf_fini(&path);
        return;
    }
    struct dirent *de;
    size_t base = path.len;
    while ((de = readdir(d)) != NULL) {
        int64_t n;
        bool segment = odin_parse_i64(odin_str_c(de->d_name), &n) == 0 && n < seg;
        bool checkpoint = strncmp(de->d_name, "checkpoint.", 11) == 0 &&
                          !(odin_parse_i64(odin_str_c(de->d_name + 11), &n) == 0 && n == seg - 1);
        if (!segment && !checkpoint) {
            continue;
        }
        path.len = base;
        odin_strbuf_printf(&path, "/%s", de->d_name);
        if (segment) {
            unlink(path.p);
        } else {
            odin_remove_tree(path.p);
        }
    }
    closedir(d);
    odin_strbuf_fini(&path);
}

/* Prometheus (2.x and 3.x) reads a WAL from segment 0, or from the newest checkpoint.N and then
 * segments N+1 on; a first segment above 0 without a checkpoint fails its replay ("open WAL
 * segment: 0"). Odin's checkpoint is a relog into segment seg, so an empty checkpoint.(seg-1)
 * (one empty segment, written as .tmp and renamed as Prometheus does) says where reading starts. */
static int write_checkpoint_marker(const char *data_dir, int seg, odin_err *err)
{
    if (seg <= 0) {
        return 0;
    }
    odin_strbuf tmp, dst;
    odin_strbuf_init(&tmp, 0);
    odin_strbuf_init(&dst, 0);
    odin_strbuf_printf(&dst, "%s/wal/checkpoint.%08d", data_dir, seg - 1);
    odin_strbuf_printf(&tmp, "%s.tmp", dst.p);
    int rc = 0;
    struct stat sb;
    if (stat(dst.p, &sb) == 0) {
        goto out;
    }
    odin_remove_tree(tmp.p);
    if (mkdir(tmp.p, 0777) != 0) {
        rc = odin_err_errno(err, errno, "mkdir %s", tmp.p);
        goto out;
    }
    size_t base = tmp.len;
    odin_strbuf_puts(&tmp, "/00000000");
    FILE *f = fopen(tmp.p, "wb");
    if (!f || fsync(fileno(f)) != 0) {
        rc = odin_err_errno(err, errno, "create %s", tmp.p);
    }
    if (f) {
        fclose(f);
    }
    tmp.len = base;
    tmp.p[base] = '\0';
    if (rc == 0 && rename(tmp.p, dst.p) != 0) {
        rc = odin_err_errno(err, errno, "rename %s", tmp.p);
    }
out:
    odin_strbuf_fini(&tmp);
    odin_strbuf_fini(&dst);
    return rc;
}

/* A WAL that an earlier Odin truncated without the marker gets one, so Prometheus can open it. */
static int add_missing_marker(tsdb *db, const char *wdir, odin_err *err)
{
    int first, last;
    wal_segment_range(wdir, &first, &last);
    if (first <= 0 || wal_last_checkpoint(wdir) >= 0) {
        return 0;
    }
    return write_checkpoint_marker(db->dir, first, err);
}

uint64_t tsdb_wal_size(tsdb *db)
{
    if (!db->dir) {
        return 0;
    }
    odin_strbuf path;
    odin_strbuf_init(&path, 0);
    odin_strbuf_printf(&path, "%s/wal", db->dir);
    uint64_t total = odin_tree_size(path.p);
    odin_strbuf_fini(&path);
    return total;
}

/* Relogs the head from t on into a fresh segment, then drops the older segments: what a
 * Prometheus checkpoint keeps, written as ordinary records. Called with wal_lock, which it
 * releases: commits wait meanwhile, so no sample can be logged to an old segment and miss the
 * relog. */
static int relog_locked(tsdb *db, int64_t t, odin_err *err)
{
    int seg;
    int rc = wal_next_segment(db->wal, &seg, err);
    if (rc == 0) {
        /* the relog's segments are the first under the head's refs, and what it copies is old */
        db->wal_seg_base = seg;
        db->wal_nseg = 0;
        db->wal_foreign = true; /* until it is complete */
        rc = log_all_series(db, db->wal, err);
    }
    odin_strbuf rec;
    odin_strbuf_init(&rec, 0);
    size_t n;
    head_series **all = head_sorted_series(&db->head, &n);
    enum { BATCH = 4096 };
    wal_sample *batch = odin_malloc(BATCH * sizeof(*batch));
    size_t nb = 0;
    int64_t maxt = INT64_MIN;
    for (size_t i = 0; i < n && rc == 0; i++) {
        head_chunk *cs;
        size_t nc = head_series_chunks_since(&db->head, all[i], t, &cs);
        for (size_t c = 0; c < nc && rc == 0; c++) {
            xor_iter it;
            xor_iter_init(&it, cs[c].b, head_chunk_len(&cs[c]));
            int64_t st;
            double sv;
            while (rc == 0 && xor_iter_next(&it, &st, &sv)) {
                if (st < t) {
                    continue;
                }
                batch[nb++] = (wal_sample){all[i]->ref, st, sv};
                maxt = st > maxt ? st : maxt;
                if (nb == BATCH) {
                    odin_strbuf_reset(&rec);
                    wal_encode_samples(&rec, batch, nb);
                    rc = wal_log(db->wal, (const uint8_t *)rec.p, rec.len, err);
                    if (rc == 0) {
                        note_segment_maxt(db, maxt);
                    }
                    nb = 0;
                    maxt = INT64_MIN;
                }
            }
        }
        head_chunks_release(cs, nc);
    }
    if (rc == 0 && nb) {
        odin_strbuf_reset(&rec);
        wal_encode_samples(&rec, batch, nb);
        rc = wal_log(db->wal, (const uint8_t *)rec.p, rec.len, err);
        if (rc == 0) {
            note_segment_maxt(db, maxt);
        }
    }
    if (rc == 0) {
        rc = wal_sync(db->wal, err);
    }
    pthread_mutex_unlock(&db->wal_lock);
    free(batch);
    free(all);
    odin_strbuf_fini(&rec);
    if (rc == 0) {
        rc = write_checkpoint_marker(db->dir, seg, err);
    }
    if (rc == 0) {
        wal_delete_before(db->dir, seg);
        pthread_mutex_lock(&db->wal_lock);
        forget_segments_below(db, seg);
        db->wal_foreign = false;
        pthread_mutex_unlock(&db->wal_lock);
    }
    return rc;
}

int tsdb_wal_log_tombstones(tsdb *db, const wal_tombstone *v, size_t n, odin_err *err)
{
    if (!db->wal || n == 0) {
        return 0;
    }
    pthread_mutex_lock(&db->wal_lock);
    if (db->wal_foreign) {
        /* a tombstone names head refs, which the older segments may use for other series */
        int rc = relog_locked(db, atomic_load(&db->min_valid_t), err);
        atomic_fetch_add(rc == 0 ? &db->checkpoints : &db->checkpoints_failed, 1);
        return rc;
    }
    odin_strbuf rec;
    odin_strbuf_init(&rec, 0);
    wal_encode_tombstones(&rec, v, n);
    int rc = wal_log(db->wal, (const uint8_t *)rec.p, rec.len, err);
    if (rc == 0) {
        /* Commits log and apply under wal_lock, so every deleted sample sits in this segment or
         * an earlier one, and checkpoints drop segments oldest first: the tombstone goes only
         * with all it deletes. Counting the segment as holding the newest deleted time keeps
         * that true should the order of either ever change. */
        int64_t maxt = INT64_MIN;
        for (size_t i = 0; i < n; i++) {
            maxt = v[i].maxt > maxt ? v[i].maxt : maxt;
        }
        note_segment_maxt(db, maxt);
        rc = wal_sync(db->wal, err);
    }
    pthread_mutex_unlock(&db->wal_lock);
    odin_strbuf_fini(&rec);
    return rc;
}

/* Writes every live series into <data>/wal/checkpoint.N (as .tmp, then renamed, as Prometheus
 * does), so the segments up to N can go. Commits go on meanwhile: a series made now is logged
 * in a later segment anyway. */
static int write_checkpoint(tsdb *db, int n, odin_err *err)
{
    odin_strbuf tmp, dst;
    odin_strbuf_init(&tmp, 0);
    odin_strbuf_init(&dst, 0);
    odin_strbuf_printf(&dst, "%s/wal/checkpoint.%08d", db->dir, n);
    odin_strbuf_printf(&tmp, "%s.tmp", dst.p);
    odin_remove_tree(tmp.p);
    /* synced once, when closed */
    wal_opts wo = {.segment_bytes = db->opts.wal_segment_bytes,
                   .fsync_ms = 3600 * 1000,
                   .compress = db->opts.wal_compression};
    tsdb_wal *w = wal_open(tmp.p, &wo, err);
    int rc = w ? log_all_series(db, w, err) : -ODIN_ERR_IO;
    wal_close(w);
    if (rc == 0) {
        odin_remove_tree(dst.p); /* an earlier attempt's, renamed before its segments went */
        if (rename(tmp.p, dst.p) != 0) {
            rc = odin_err_errno(err, errno, "rename %s", tmp.p);
        }
    }
    if (rc == 0) {
        odin_strbuf_reset(&tmp);
        odin_strbuf_printf(&tmp, "%s/wal", db->dir);
        int dfd = open(tmp.p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd); /* the rename, before the segments it replaces are deleted */
            close(dfd);
        }
    } else {
        odin_remove_tree(tmp.p);
    }
    odin_strbuf_fini(&tmp);
    odin_strbuf_fini(&dst);
    return rc;
}

/* Prometheus' checkpoint, cheaper: each segment's newest sample time is known, so the segments
 * whose samples are all before t (in blocks now) are replaced by a checkpoint of the live series
 * alone, and nothing is relogged; the samples from t on stay in the later segments, and replay
 * skips what is older than the blocks. A new segment is started first, as Prometheus does, so
 * that the next checkpoint can drop the one being written now. Where replay could not keep the
 * refs the segments use, the checkpoint could not define them: the head is relogged instead. */
int tsdb_wal_checkpoint(tsdb *db, int64_t t, odin_err *err)
{
    if (!db->wal) {
        return 0;
    }
    pthread_mutex_lock(&db->wal_lock);
    if (db->wal_foreign) {
        return relog_locked(db, t, err);
    }
    int cur;
    int rc = wal_next_segment(db->wal, &cur, err);
    int first = db->wal_seg_base, last = first - 1; /* the oldest and newest segments to drop */
    for (int seg = first; rc == 0 && seg < cur; seg++) {
        size_t i = (size_t)(seg - first);
        if (i < db->wal_nseg && db->wal_seg_maxt[i] >= t) {
            break;
        }
        last = seg; /* every sample in it is before t, or it has none */
    }
    pthread_mutex_unlock(&db->wal_lock);
    if (rc < 0 || last < first) {
        return rc;
    }
    rc = write_checkpoint(db, last, err);
    if (rc == 0) {
        wal_delete_before(db->dir, last + 1);
        pthread_mutex_lock(&db->wal_lock);
        forget_segments_below(db, last + 1);
        pthread_mutex_unlock(&db->wal_lock);
    }
    return rc;
}
