/* mdadm: md RAID state from <procfs>/mdstat (node_md_state, _disks, _disks_required, _blocks,
 * _blocks_synced) and <sysfs>/block/md* /md (node_md_raid_disks, node_md_degraded). Parsing
 * follows prometheus/procfs, including which malformed input fails the collector. */
#include "agent/agent_int.h"
#include "agent/storage_util.h"

#include <string.h>
#include <sys/stat.h>

static const agent_desc d_state = {
    "node_md_state", "Indicates the state of md-device.", EXPFMT_GAUGE, {"device", "state", NULL}};
static const agent_desc d_disks = {"node_md_disks",
                                   "Number of active/failed/spare disks of device.",
                                   EXPFMT_GAUGE,
                                   {"device", "state", NULL}};
static const agent_desc d_disks_required = {
    "node_md_disks_required", "Total number of disks of device.", EXPFMT_GAUGE, {"device", NULL}};
static const agent_desc d_blocks = {
    "node_md_blocks", "Total number of blocks on device.", EXPFMT_GAUGE, {"device", NULL}};
static const agent_desc d_blocks_synced = {
    "node_md_blocks_synced", "Number of blocks synced on device.", EXPFMT_GAUGE, {"device", NULL}};
static const agent_desc d_raid_disks = {
    "node_md_raid_disks", "Number of raid disks on device.", EXPFMT_GAUGE, {"device", NULL}};
static const agent_desc d_degraded = {
    "node_md_degraded", "Number of degraded disks on device.", EXPFMT_GAUGE, {"device", NULL}};

typedef struct {
    const char *name;
    const char *state; /* activity state: active, inactive, recovering, resyncing, ... */
    int64_t active, total, failed, spare, blocks, synced;
} md_stat;

/* ---- /proc/mdstat ---------------------------------------------------------------------------- */

static bool str_contains(odin_str s, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= s.len; i++) {
        if (memcmp(s.p + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

static int64_t str_count(odin_str s, const char *needle)
{
    size_t n = strlen(needle);
    int64_t c = 0;
    for (size_t i = 0; i + n <= s.len;) {
        if (memcmp(s.p + i, needle, n) == 0) {
            c++;
            i += n;
        } else {
            i++;
        }
    }
    return c;
}

/* Offset of the first `needle` in s at or after `from`, or -1. */
static long str_index(odin_str s, size_t from, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = from; i + n <= s.len; i++) {
        if (memcmp(s.p + i, needle, n) == 0) {
            return (long)i;
        }
    }
    return -1;
}

static size_t digits_at(odin_str s, size_t i)
{
    size_t n = 0;
    while (i + n < s.len && s.p[i + n] >= '0' && s.p[i + n] <= '9') {
        n++;
    }
    return n;
}

/* procfs' `(\d+) blocks .*\[(\d+)/(\d+)\] \[([U_]+)\]`: the greedy `.*` makes the last
 * "[n/m] [U_]" group after the first "<digits> blocks " the one that counts. */
static bool match_status(odin_str s, int64_t *total, int64_t *active, int64_t *down)
{
    long b = -1;
    for (long i = str_index(s, 0, " blocks "); i >= 0;
         i = str_index(s, (size_t)i + 1, " blocks ")) {
        if (i > 0 && s.p[i - 1] >= '0' && s.p[i - 1] <= '9') {
            b = i + 8;
            break;
        }
    }
    if (b < 0) {
        return false;
    }
    for (long i = (long)s.len - 1; i >= b; i--) {
        if (s.p[i] != '[') {
            continue;
        }
        size_t p = (size_t)i + 1, n1 = digits_at(s, p);
        if (n1 == 0 || p + n1 >= s.len || s.p[p + n1] != '/') {
            continue;
        }
        size_t q = p + n1 + 1, n2 = digits_at(s, q);
        size_t r = q + n2;
        if (n2 == 0 || r + 2 >= s.len || s.p[r] != ']' || s.p[r + 1] != ' ' || s.p[r + 2] != '[') {
            continue;
        }
        size_t u = r + 3, nu = 0;
        while (u + nu < s.len && (s.p[u + nu] == 'U' || s.p[u + nu] == '_')) {
            nu++;
        }
        if (nu == 0 || u + nu >= s.len || s.p[u + nu] != ']') {
            continue;
        }
        if (odin_parse_i64((odin_str){s.p + p, n1}, total) < 0 ||
            odin_parse_i64((odin_str){s.p + q, n2}, active) < 0) {
            return false;
        }
        *down = str_count((odin_str){s.p + u, nu}, "_");
        return true;
    }
    return false;
}

static int eval_status(odin_str dev, odin_str status, md_stat *md)
{
    odin_str rest = status;
    odin_str first = odin_str_field(&rest);
    if (first.len == 0 || odin_parse_i64(first, &md->blocks) < 0) {
        return -1;
    }
    if (str_contains(dev, "raid0") || str_contains(dev, "linear")) {
        md->total = md->active = str_count(dev, "[");
        return 0;
    }
    if (str_contains(dev, "inactive")) {
        md->total = md->active = 0;
        return 0;
    }
    int64_t down;
    return match_status(status, &md->total, &md->active, &down) ? 0 : -1;
}

/* The text after the first `start` up to the last `end` that leaves it non-empty, as the
 * greedy `start(.+)end` regexps of procfs capture it. */
static bool capture(odin_str s, const char *start, const char *end, odin_str *out)
{
    long a = str_index(s, 0, start);
    size_t el = strlen(end);
    while (a >= 0) {
        size_t from = (size_t)a + strlen(start);
        for (long i = (long)s.len - (long)el; i > (long)from; i--) {
            if (memcmp(s.p + i, end, el) == 0) {
                *out = (odin_str){s.p + from, (size_t)i - from};
                return true;
            }
        }
        a = str_index(s, (size_t)a + 1, start);
    }
    return false;
}

/* `speed=(.+)[A-Z]`: up to the last upper-case letter. */
static bool capture_speed(odin_str s, odin_str *out)
{
    long a = str_index(s, 0, "speed=");
    while (a >= 0) {
        size_t from = (size_t)a + 6;
        for (long i = (long)s.len - 1; i > (long)from; i--) {
            if (s.p[i] >= 'A' && s.p[i] <= 'Z') {
                *out = (odin_str){s.p + from, (size_t)i - from};
                return true;
            }
        }
        a = str_index(s, (size_t)a + 1, "speed=");
    }
    return false;
}

/* A recovery/resync line: "(synced/total)" gives the blocks; the percentage, finish time and
 * speed are not exported but must parse, as procfs fails the file otherwise. */
static int eval_recovery(odin_str line, md_stat *md)
{
    long i = -1;
    size_t n1 = 0, n2 = 0;
    for (long k = str_index(line, 0, "("); k >= 0; k = str_index(line, (size_t)k + 1, "(")) {
        n1 = digits_at(line, (size_t)k + 1);
        size_t q = (size_t)k + 1 + n1;
        if (n1 == 0 || q >= line.len || line.p[q] != '/') {
            continue;
        }
        n2 = digits_at(line, q + 1);
        if (n2 == 0 || q + 1 + n2 >= line.len || line.p[q + 1 + n2] != ')') {
            continue;
        }
        i = k;
        break;
    }
    int64_t to_sync;
    if (i < 0 || odin_parse_i64((odin_str){line.p + i + 1, n1}, &md->synced) < 0 ||
        odin_parse_i64((odin_str){line.p + i + 2 + n1, n2}, &to_sync) < 0) {
        return -1;
    }
    odin_str c;
    double v;
    if (!capture(line, "= ", "%", &c) || odin_parse_double(odin_str_trim(c), &v) < 0) {
        return -1;
    }
    if (!capture(line, "finish=", "min", &c) || odin_parse_double(c, &v) < 0) {
        return -1;
    }
    if (!capture_speed(line, &c) || odin_parse_double(c, &v) < 0) {
        return -1;
    }
    return 0;
}

static void eval_sync(odin_str sync, md_stat *md)
{
    bool recovering = str_contains(sync, "recovery");
    bool reshaping = str_contains(sync, "reshape");
    bool resyncing = str_contains(sync, "resync");
    bool checking = str_contains(sync, "check");
    if (recovering) {
        md->state = "recovering";
    } else if (reshaping) {
        md->state = "reshaping";
    } else if (checking) {
        md->state = "checking";
    } else if (resyncing) {
        md->state = "resyncing";
    }
}

/* One device starting at lines[i]; -1 with a reason when procfs would reject the file. */
static int parse_device(agent_scrape *sc, odin_str *lines, size_t nlines, size_t i, md_stat *md,
                        const char **why)
{
    odin_str line = lines[i], rest = line;
    odin_str f0 = odin_str_field(&rest);
    odin_str f1 = odin_str_field(&rest);
    odin_str f2 = odin_str_field(&rest);
    (void)f1;
    if (f2.len == 0) {
        *why = "expected 3+ fields";
        return -1;
    }
    memset(md, 0, sizeof(*md));
    md->name = agent_strdup(sc, f0);
    md->state = agent_strdup(sc, f2);
    if (nlines <= i + 3) {
        *why = "too few lines for md device";
        return -1;
    }
    md->failed = str_count(line, "(F)");
    md->spare = str_count(line, "(S)");
    if (eval_status(line, lines[i + 1], md) < 0) {
        *why = "cannot parse md device lines";
        return -1;
    }
    size_t sync_idx = i + 2;
    if (str_contains(lines[i + 2], "bitmap")) {
        sync_idx++;
    }
    odin_str sync = lines[sync_idx];
    md->synced = md->blocks;
    const char *before = md->state;
    eval_sync(sync, md);
    if (md->state == before) {
        return 0;
    }
    if (str_contains(sync, "PENDING") || str_contains(sync, "DELAYED")) {
        md->synced = 0;
        return 0;
    }
    if (eval_recovery(sync, md) < 0) {
        *why = "cannot parse sync line in md device";
        return -1;
    }
    return 0;
}

/* Splits text at '\n' as Go's strings.Split does (a trailing newline gives a last empty line). */
static odin_str *split_lines(agent_scrape *sc, odin_str text, size_t *n)
{
    size_t cnt = 1;
    for (size_t i = 0; i < text.len; i++) {
        cnt += text.p[i] == '\n';
    }
    odin_str *v = odin_arena_alloc(agent_scrape_arena(sc), cnt * sizeof(*v));
    if (!v) {
        odin_oom();
    }
    for (size_t k = 0; k < cnt; k++) {
        const char *nl = memchr(text.p, '\n', text.len);
        size_t l = nl ? (size_t)(nl - text.p) : text.len;
        v[k] = (odin_str){text.p, l};
        text.p += nl ? l + 1 : l;
        text.len -= nl ? l + 1 : l;
    }
    *n = cnt;
    return v;
}

static int parse_mdstat(agent_scrape *sc, odin_str text, const char *path, md_stat **out,
                        size_t *nout, odin_err *err)
{
    size_t n;
    odin_str *lines = split_lines(sc, text, &n);
    md_stat *mds = odin_arena_zalloc(agent_scrape_arena(sc), n * sizeof(*mds));
    if (!mds) {
        odin_oom();
    }
    size_t k = 0;
    bool have_personalities = false;
    for (size_t i = 0; i < n; i++) {
        odin_str line = lines[i];
        if (odin_str_trim(line).len == 0 || line.p[0] == ' ' ||
            odin_str_has_prefix(line, "unused")) {
            continue;
        }
        if (!have_personalities && odin_str_has_prefix(line, "Personalities : ")) {
            /* procfs only notes the known types, which decide where components start; the
             * exported values do not depend on them */
            odin_str rest = {line.p + 16, line.len - 16};
            have_personalities = odin_str_field(&rest).len > 0;
            continue;
        }
        const char *why = NULL;
        if (parse_device(sc, lines, n, i, &mds[k], &why) < 0) {
            return odin_err_set(err, ODIN_ERR_PARSE, "error parsing mdstatus: %s: line %zu: %s",
                                path, i + 1, why);
        }
        k++;
    }
    *out = mds;
    *nout = k;
    return 0;
}

static void emit_mdstat(agent_scrape *sc, const md_stat *md)
{
    const char *dv[] = {md->name};
    agent_emit(sc, &d_disks_required, (double)md->total, dv);
    static const char *const disk_states[] = {"active", "failed", "spare"};
    const int64_t disk_counts[] = {md->active, md->failed, md->spare};
    for (size_t i = 0; i < 3; i++) {
        const char *v[] = {md->name, disk_states[i]};
        agent_emit(sc, &d_disks, (double)disk_counts[i], v);
    }
    /* exported label, then the activity state that sets it to 1 */
    static const char *const states[][2] = {{"active", "active"},
                                            {"inactive", "inactive"},
                                            {"recovering", "recovering"},
                                            {"resync", "resyncing"},
                                            {"check", "checking"}};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(states); i++) {
        const char *v[] = {md->name, states[i][0]};
        agent_emit(sc, &d_state, strcmp(md->state, states[i][1]) == 0 ? 1.0 : 0.0, v);
    }
    agent_emit(sc, &d_blocks, (double)md->blocks, dv);
    agent_emit(sc, &d_blocks_synced, (double)md->synced, dv);
}

/* ---- /sys/block/md* /md -------------------------------------------------------------------- */

typedef struct {
    const char *device;
    bool has_disks;
    uint64_t disks;
    uint64_t degraded;
} md_raid;

static bool level_in(odin_str level, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (odin_str_eq_c(level, set[i])) {
            return true;
        }
    }
    return false;
}

static void parse_raid_disks(odin_str s, md_raid *r)
{
    s = odin_str_trim(s);
    if (s.len == 0) {
        return;
    }
    if (odin_parse_u64(s, &r->disks) == 0) {
        r->has_disks = true;
        return;
    }
    /* during a reshape: "current (previous)" */
    const char *sp = memchr(s.p, ' ', s.len);
    if (sp && sp > s.p && odin_parse_u64((odin_str){s.p, (size_t)(sp - s.p)}, &r->disks) == 0) {
        r->has_disks = true;
    }
}

/* "a / b" as fmt.Sscanf("%d / %d") reads it. */
static bool sync_completed_ok(odin_str s)
{
    odin_str a = odin_str_field(&s);
    odin_str slash = odin_str_field(&s);
    odin_str b = odin_str_field(&s);
    uint64_t x;
    return odin_parse_u64(a, &x) == 0 && odin_str_eq_c(slash, "/") && odin_parse_u64(b, &x) == 0;
}

/* Reads what procfs' Mdraids reads for one array (every file it requires must be there). */
static int read_mdraid(agent_scrape *sc, const char *dev, md_raid *r, odin_err *err)
{
    static const char *const plain[] = {"level", "array_state", "metadata_version"};
    odin_str level = {0}, s;
    for (size_t i = 0; i < ODIN_ARRAY_LEN(plain); i++) {
        int rc = storage_sys_read(sc, agent_path(sc, AGENT_SYS, "block/%s/md/%s", dev, plain[i]),
                                  &s, err);
        if (rc < 0) {
            return rc;
        }
        if (i == 0) {
            level = s;
        }
    }
    static const char *const no_disks[] = {"container", "imsm", "ddf", ""};
    if (!level_in(level, no_disks, ODIN_ARRAY_LEN(no_disks))) {
        int rc = agent_read(sc, agent_path(sc, AGENT_SYS, "block/%s/md/raid_disks", dev), &s, err);
        if (rc < 0) {
            odin_err_prefix(err, "reading raid_disks for %s: ", dev);
            return rc;
        }
        parse_raid_disks(s, r);
    }
    int rc = storage_sys_read(sc, agent_path(sc, AGENT_SYS, "block/%s/md/uuid", dev), &s, err);
    if (rc < 0) {
        return rc;
    }
    const char **comps;
    size_t nc = storage_glob(sc, agent_path(sc, AGENT_SYS, "block/%s/md", dev), "dev-*", &comps);
    for (size_t i = 0; i < nc; i++) {
        rc = storage_sys_read(sc, agent_path(sc, AGENT_SYS, "block/%s/md/%s/state", dev, comps[i]),
                              &s, err);
        if (rc < 0) {
            return rc;
        }
    }
    static const char *const chunked[] = {"raid0", "raid4", "raid5", "raid6", "raid10"};
    static const char *const redundant[] = {"raid1", "raid4", "raid5", "raid6", "raid10"};
    uint64_t v;
    if (level_in(level, chunked, 5)) {
        rc = storage_read_uint(sc, agent_path(sc, AGENT_SYS, "block/%s/md/chunk_size", dev), &v,
                               err);
        if (rc < 0) {
            return rc;
        }
    }
    if (!level_in(level, redundant, 5)) {
        return 0;
    }
    rc = storage_read_uint(sc, agent_path(sc, AGENT_SYS, "block/%s/md/degraded", dev), &r->degraded,
                           err);
    if (rc < 0) {
        return rc;
    }
    rc = storage_sys_read(sc, agent_path(sc, AGENT_SYS, "block/%s/md/sync_action", dev), &s, err);
    if (rc < 0) {
        return rc;
    }
    const char *sc_path = agent_path(sc, AGENT_SYS, "block/%s/md/sync_completed", dev);
    rc = storage_sys_read(sc, sc_path, &s, err);
    if (rc < 0) {
        return rc;
    }
    if (!odin_str_eq_c(s, "none") && !sync_completed_ok(s)) {
        return odin_err_set(err, ODIN_ERR_PARSE, "%s: expected \"<done> / <total>\"", sc_path);
    }
    return 0;
}

/* Every array is read before any is emitted: procfs returns no list when one fails. */
static int collect_mdraids(agent_scrape *sc, odin_err *err)
{
    const char **devs;
    size_t n = storage_glob(sc, agent_path(sc, AGENT_SYS, "block"), "md*", &devs);
    md_raid *raids = odin_arena_zalloc(agent_scrape_arena(sc), (n ? n : 1) * sizeof(*raids));
    if (!raids) {
        odin_oom();
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (lstat(agent_path(sc, AGENT_SYS, "block/%s/md", devs[i]), &sb) != 0) {
            continue;
        }
        raids[k].device = devs[i];
        int rc = read_mdraid(sc, devs[i], &raids[k], err);
        if (rc == -ODIN_ERR_NOTFOUND) {
            return -ODIN_ERR_UNAVAILABLE; /* node_exporter: ErrNoData on a missing file */
        }
        if (rc < 0) {
            odin_err_prefix(err, "error parsing mdraids: ");
            return rc;
        }
        k++;
    }
    for (size_t i = 0; i < k; i++) {
        const char *dv[] = {raids[i].device};
        if (raids[i].has_disks) {
            agent_emit(sc, &d_raid_disks, (double)raids[i].disks, dv);
        }
        agent_emit(sc, &d_degraded, (double)raids[i].degraded, dv);
    }
    return 0;
}

static int mdadm_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    const char *path = agent_path(sc, AGENT_PROC, "mdstat");
    odin_str text;
    int rc = agent_read(sc, path, &text, err);
    if (rc == -ODIN_ERR_NOTFOUND) {
        return -ODIN_ERR_UNAVAILABLE; /* no md driver loaded */
    }
    if (rc < 0) {
        return rc;
    }
    md_stat *mds = NULL;
    size_t n = 0;
    rc = parse_mdstat(sc, text, path, &mds, &n, err);
    if (rc < 0) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        emit_mdstat(sc, &mds[i]);
    }
    return collect_mdraids(sc, err);
}

const agent_collector_def agent_collector_mdadm = {
    .name = "mdadm",
    .default_on = true,
    .collect = mdadm_collect,
};
