/* diskstats: node_disk_* I/O counters from <procfs>/diskstats, node_disk_info with udev
 * properties (<udev>/b<major>:<minor>) and /sys/block/<dev>/queue/rotational, and the udev-derived
 * node_disk_filesystem_info, node_disk_device_mapper_info and node_disk_ata_* gauges. */
#include "agent/agent_int.h"
#include "agent/storage_util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* matches node_exporter 1.12: z?ram, loop, fd, partitions of (h|s|v|xv)d and nvme */
static const char default_exclude[] = "^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$";

static const agent_flag_def diskstats_flags[] = {
    {"collector.diskstats.device-exclude", default_exclude,
     "Regexp of diskstats devices to exclude (mutually exclusive to device-include).", false,
     false},
    {"collector.diskstats.ignored-devices", NULL,
     "DEPRECATED: Use collector.diskstats.device-exclude", false, false},
    {"collector.diskstats.device-include", NULL,
     "Regexp of diskstats devices to include (mutually exclusive to device-exclude).", false,
     false},
    {NULL, NULL, NULL, false, false},
};

/* The 17 statistics after major, minor and name, in /proc/diskstats order; how many a line has
 * depends on the kernel (11 before 4.18, 15 before 5.5, 17 since). */
enum { DISK_NSTATS = 17, DISK_MIN_FIELDS = 14, DISK_MAX_FIELDS = 3 + DISK_NSTATS };

typedef enum { SCALE_NONE, SCALE_SECTORS, SCALE_MS } disk_scale;

static const struct {
    agent_desc d;
    disk_scale scale;
} stat_descs[DISK_NSTATS] = {
    {{"node_disk_reads_completed_total",
      "The total number of reads completed successfully.",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_NONE},
    {{"node_disk_reads_merged_total",
      "The total number of reads merged.",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_NONE},
    {{"node_disk_read_bytes_total",
      "The total number of bytes read successfully.",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_SECTORS},
    {{"node_disk_read_time_seconds_total",
      "The total number of seconds spent by all reads.",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_MS},
    {{"node_disk_writes_completed_total",
      "The total number of writes completed successfully.",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_NONE},
    {{"node_disk_writes_merged_total",
      "The number of writes merged.",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_NONE},
    {{"node_disk_written_bytes_total",
      "The total number of bytes written successfully.",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_SECTORS},
    {{"node_disk_write_time_seconds_total",
      "This is the total number of seconds spent by all writes.",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_MS},
    {{"node_disk_io_now",
      "The number of I/Os currently in progress.",
      EXPFMT_GAUGE,
      {"device", NULL}},
     SCALE_NONE},
    {{"node_disk_io_time_seconds_total",
      "Total seconds spent doing I/Os.",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_MS},
    {{"node_disk_io_time_weighted_seconds_total",
      "The weighted # of seconds spent doing I/Os.",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_MS},
    {{"node_disk_discards_completed_total",
      "The total number of discards completed successfully.",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_NONE},
    {{"node_disk_discards_merged_total",
      "The total number of discards merged.",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_NONE},
    /* matches node_exporter 1.12: discarded sectors are exported as sectors, not bytes */
    {{"node_disk_discarded_sectors_total",
      "The total number of sectors discarded successfully.",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_NONE},
    {{"node_disk_discard_time_seconds_total",
      "This is the total number of seconds spent by all discards.",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_MS},
    {{"node_disk_flush_requests_total",
      "The total number of flush requests completed successfully",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_NONE},
    {{"node_disk_flush_requests_time_seconds_total",
      "This is the total number of seconds spent by all flush requests.",
      EXPFMT_COUNTER,
      {"device", NULL}},
     SCALE_MS},
};

static const agent_desc d_info = {
    "node_disk_info",
    "Info of /sys/block/<block_device>.",
    EXPFMT_GAUGE,
    {"device", "major", "minor", "path", "wwn", "model", "serial", "revision", "rotational", NULL},
};
static const agent_desc d_fs_info = {
    "node_disk_filesystem_info",
    "Info about disk filesystem.",
    EXPFMT_GAUGE,
    {"device", "type", "usage", "uuid", "version", NULL},
};
static const agent_desc d_dm_info = {
    "node_disk_device_mapper_info",
    "Info about disk device mapper.",
    EXPFMT_GAUGE,
    {"device", "name", "uuid", "vg_name", "lv_name", "lv_layer", NULL},
};

/* The udev properties we use; an index into udev_info.value. */
typedef enum {
    U_DM_LV_LAYER,
    U_DM_LV_NAME,
    U_DM_NAME,
    U_DM_UUID,
    U_DM_VG_NAME,
    U_ID_ATA,
    U_ID_ATA_ROTATION_RATE_RPM,
    U_ID_ATA_WRITE_CACHE,
    U_ID_ATA_WRITE_CACHE_ENABLED,
    U_ID_FS_TYPE,
    U_ID_FS_USAGE,
    U_ID_FS_UUID,
    U_ID_FS_VERSION,
    U_ID_MODEL,
    U_ID_PATH,
    U_ID_REVISION,
    U_ID_SERIAL,
    U_ID_SERIAL_SHORT,
    U_ID_WWN,
    U_SCSI_IDENT_SERIAL,
    U_COUNT
} udev_key;

static const char *const udev_names[U_COUNT] = {
    "DM_LV_LAYER",
    "DM_LV_NAME",
    "DM_NAME",
    "DM_UUID",
    "DM_VG_NAME",
    "ID_ATA",
    "ID_ATA_ROTATION_RATE_RPM",
    "ID_ATA_WRITE_CACHE",
    "ID_ATA_WRITE_CACHE_ENABLED",
    "ID_FS_TYPE",
    "ID_FS_USAGE",
    "ID_FS_UUID",
    "ID_FS_VERSION",
    "ID_MODEL",
    "ID_PATH",
    "ID_REVISION",
    "ID_SERIAL",
    "ID_SERIAL_SHORT",
    "ID_WWN",
    "SCSI_IDENT_SERIAL",
};

/* Properties of one device; present[] tells an empty value from an absent key, which the ATA
 * gauges distinguish (an absent key is skipped, an empty one fails to parse). */
typedef struct {
    const char *value[U_COUNT];
    bool present[U_COUNT];
} udev_info;

/* The ATA gauges, in the order node_exporter's map happens to hold them (output is sorted). */
static const struct {
    udev_key key;
    agent_desc d;
} ata_descs[] = {
    {U_ID_ATA_WRITE_CACHE,
     {"node_disk_ata_write_cache", "ATA disk has a write cache.", EXPFMT_GAUGE, {"device", NULL}}},
    {U_ID_ATA_WRITE_CACHE_ENABLED,
     {"node_disk_ata_write_cache_enabled",
      "ATA disk has its write cache enabled.",
      EXPFMT_GAUGE,
      {"device", NULL}}},
    {U_ID_ATA_ROTATION_RATE_RPM,
     {"node_disk_ata_rotation_rate_rpm",
      "ATA disk rotation rate in RPMs (0 for SSDs).",
      EXPFMT_GAUGE,
      {"device", NULL}}},
};

typedef struct {
    agent_filter filter;
    bool udev; /* --path.udev.data is a readable directory */
} diskstats_state;

/* One parsed line of /proc/diskstats. */
typedef struct {
    uint64_t major, minor;
    const char *name;
    uint64_t v[DISK_NSTATS];
    int nfields; /* fields scanned, counting major, minor and name (fmt.Sscanf's count) */
} disk_line;

static int diskstats_init(agent *ag, void **state, odin_err *err)
{
    const char *exclude = agent_flag(ag, "collector.diskstats.device-exclude");
    const char *old = agent_flag(ag, "collector.diskstats.ignored-devices");
    const char *include = agent_flag(ag, "collector.diskstats.device-include");
    /* node_exporter tells a given flag from its default; our flags keep the default's pointer */
    bool exclude_set = exclude != default_exclude;
    if (old && *old) {
        if (exclude_set) {
            return odin_err_set(err, ODIN_ERR_INVALID,
                                "--collector.diskstats.ignored-devices and "
                                "--collector.diskstats.device-exclude are mutually exclusive");
        }
        odin_log(ODIN_LOG_WARN, "agent",
                 "--collector.diskstats.ignored-devices is DEPRECATED and will be removed in "
                 "2.0.0, use --collector.diskstats.device-exclude",
                 NULL);
        exclude = old;
        exclude_set = true;
    }
    if (include && *include) {
        if (exclude_set && exclude && *exclude) {
            return odin_err_set(err, ODIN_ERR_INVALID,
                                "diskstats: device-exclude & device-include are mutually "
                                "exclusive");
        }
        exclude = NULL;
    }
    diskstats_state *st = odin_calloc(1, sizeof(*st));
    if (agent_filter_init(&st->filter, include, exclude, "diskstats", err) < 0) {
        free(st);
        return -ODIN_ERR_INVALID;
    }
    const char *udev = agent_flag(ag, "path.udev.data");
    struct stat sb;
    st->udev = udev && stat(udev, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (!st->udev) {
        odin_log(ODIN_LOG_ERROR, "agent",
                 "Failed to open directory, disabling udev device properties", "collector",
                 "diskstats", "path", udev ? udev : "", NULL);
    }
    *state = st;
    return 0;
}

static void diskstats_fini(void *state)
{
    diskstats_state *st = state;
    if (!st) {
        return;
    }
    agent_filter_fini(&st->filter);
    free(st);
}

/* Scans one line as procfs does with fmt.Sscanf("%d %d %s %d ..."): counts the fields read
 * before the first missing one. A field that is not a number is an error. */
static int parse_line(agent_scrape *sc, odin_str line, disk_line *d, const char *path,
                      odin_err *err)
{
    memset(d, 0, sizeof(*d));
    for (int i = 0; i < DISK_MAX_FIELDS; i++) {
        odin_str f = odin_str_field(&line);
        if (f.len == 0) {
            break;
        }
        if (i == 2) {
            d->name = agent_strdup(sc, f);
        } else {
            uint64_t v;
            if (odin_parse_u64(f, &v) < 0) {
                return odin_err_set(err, ODIN_ERR_PARSE,
                                    "couldn't get diskstats: %s: field %d: not a number: "
                                    "\"%.*s\"",
                                    path, i + 1, (int)(f.len > 64 ? 64 : f.len), f.p);
            }
            if (i == 0) {
                d->major = v;
            } else if (i == 1) {
                d->minor = v;
            } else {
                d->v[i - 3] = v;
            }
        }
        d->nfields = i + 1;
    }
    return 0;
}

/* Reads <udev>/b<major>:<minor>; only "E:KEY=VALUE" lines matter. A missing file leaves info
 * empty, as node_exporter logs it at debug and goes on. */
static void read_udev(agent_scrape *sc, const disk_line *d, udev_info *info)
{
    memset(info, 0, sizeof(*info));
    const char *path = agent_path(sc, AGENT_UDEV, "b%llu:%llu", (unsigned long long)d->major,
                                  (unsigned long long)d->minor);
    odin_str text;
    odin_err e = {0};
    if (agent_read(sc, path, &text, &e) < 0) {
        if (odin_log_enabled(ODIN_LOG_DEBUG)) {
            odin_log(ODIN_LOG_DEBUG, "agent", "Failed to parse udev info", "collector", "diskstats",
                     "err", e.msg, NULL);
        }
        return;
    }
    while (text.len) {
        odin_str line = odin_str_cut(&text, '\n');
        if (line.len && line.p[line.len - 1] == '\r') {
            line.len--; /* bufio.ScanLines drops a trailing CR */
        }
        if (!odin_str_has_prefix(line, "E:")) {
            continue;
        }
        line.p += 2;
        line.len -= 2;
        const char *eq = memchr(line.p, '=', line.len);
        if (!eq) {
            continue;
        }
        odin_str key = {line.p, (size_t)(eq - line.p)};
        odin_str val = {eq + 1, line.len - key.len - 1};
        for (int k = 0; k < U_COUNT; k++) {
            if (odin_str_eq_c(key, udev_names[k])) {
                info->value[k] = agent_strdup(sc, val);
                info->present[k] = true;
                break;
            }
        }
    }
}

static const char *udev_get(const udev_info *info, udev_key k)
{
    return info->value[k] ? info->value[k] : "";
}

/* "1" for a rotational device, "0" otherwise or when the attribute cannot be read. */
static const char *rotational(agent_scrape *sc, const char *dev)
{
    uint64_t v;
    odin_err e = {0};
    const char *path = agent_path(sc, AGENT_SYS, "block/%s/queue/rotational", dev);
    if (storage_read_uint(sc, path, &v, &e) < 0) {
        return "0";
    }
    return v == 1 ? "1" : "0";
}

static void emit_udev_families(agent_scrape *sc, const char *dev, const udev_info *info)
{
    const char *fstype = udev_get(info, U_ID_FS_TYPE);
    if (*fstype) {
        const char *v[] = {dev, fstype, udev_get(info, U_ID_FS_USAGE), udev_get(info, U_ID_FS_UUID),
                           udev_get(info, U_ID_FS_VERSION)};
        agent_emit(sc, &d_fs_info, 1.0, v);
    }
    const char *dm = udev_get(info, U_DM_NAME);
    if (*dm) {
        const char *v[] = {dev,
                           dm,
                           udev_get(info, U_DM_UUID),
                           udev_get(info, U_DM_VG_NAME),
                           udev_get(info, U_DM_LV_NAME),
                           udev_get(info, U_DM_LV_LAYER)};
        agent_emit(sc, &d_dm_info, 1.0, v);
    }
    if (!*udev_get(info, U_ID_ATA)) {
        return;
    }
    for (size_t i = 0; i < ODIN_ARRAY_LEN(ata_descs); i++) {
        udev_key k = ata_descs[i].key;
        if (!info->present[k]) {
            continue;
        }
        double value;
        if (odin_parse_double(odin_str_c(info->value[k]), &value) < 0) {
            odin_log(ODIN_LOG_ERROR, "agent", "Failed to parse ATA value", "collector", "diskstats",
                     "attribute", udev_names[k], "value", info->value[k], NULL);
            continue;
        }
        const char *v[] = {dev};
        agent_emit(sc, &ata_descs[i].d, value, v);
    }
}

static void emit_disk(agent_scrape *sc, const diskstats_state *st, const disk_line *d)
{
    udev_info info;
    if (st->udev) {
        read_udev(sc, d, &info);
    } else {
        memset(&info, 0, sizeof(info));
    }
    /* the serial printed on the label first, then the short and the virtio forms */
    const char *serial = udev_get(&info, U_SCSI_IDENT_SERIAL);
    if (!*serial) {
        serial = udev_get(&info, U_ID_SERIAL_SHORT);
    }
    if (!*serial) {
        serial = udev_get(&info, U_ID_SERIAL);
    }
    const char *iv[] = {d->name,
                        agent_fmt_i64(sc, (int64_t)d->major),
                        agent_fmt_i64(sc, (int64_t)d->minor),
                        udev_get(&info, U_ID_PATH),
                        udev_get(&info, U_ID_WWN),
                        udev_get(&info, U_ID_MODEL),
                        serial,
                        udev_get(&info, U_ID_REVISION),
                        rotational(sc, d->name)};
    agent_emit(sc, &d_info, 1.0, iv);

    const char *dv[] = {d->name};
    int nstats = d->nfields - 3;
    for (int i = 0; i < nstats && i < DISK_NSTATS; i++) {
        double v = (double)d->v[i];
        if (stat_descs[i].scale == SCALE_SECTORS) {
            v = v * 512.0; /* kernel sectors are always 512 bytes */
        } else if (stat_descs[i].scale == SCALE_MS) {
            v = v * (1.0 / 1000.0); /* matches node_exporter: a multiplication, not / 1000 */
        }
        agent_emit(sc, &stat_descs[i].d, v, dv);
    }
    emit_udev_families(sc, d->name, &info);
}

static int diskstats_collect(agent_scrape *sc, void *state, odin_err *err)
{
    diskstats_state *st = state;
    const char *path = agent_path(sc, AGENT_PROC, "diskstats");
    odin_str text;
    int rc = agent_read(sc, path, &text, err);
    if (rc < 0) {
        odin_err_prefix(err, "couldn't get diskstats: ");
        return rc;
    }
    /* parse everything first: a bad line fails the collector before anything is emitted */
    size_t cap = 64, n = 0;
    disk_line *lines = odin_arena_alloc(agent_scrape_arena(sc), cap * sizeof(*lines));
    while (text.len) {
        odin_str line = odin_str_cut(&text, '\n');
        if (n == cap) {
            disk_line *nl = odin_arena_alloc(agent_scrape_arena(sc), cap * 2 * sizeof(*nl));
            if (!nl) {
                odin_oom();
            }
            memcpy(nl, lines, n * sizeof(*lines));
            lines = nl;
            cap *= 2;
        }
        if (!lines) {
            odin_oom();
        }
        rc = parse_line(sc, line, &lines[n], path, err);
        if (rc < 0) {
            return rc;
        }
        if (lines[n].nfields >= DISK_MIN_FIELDS) {
            n++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (agent_filter_ignored(&st->filter, lines[i].name)) {
            continue;
        }
        emit_disk(sc, st, &lines[i]);
    }
    return 0;
}

const agent_collector_def agent_collector_diskstats = {
    .name = "diskstats",
    .default_on = true,
    .flags = diskstats_flags,
    .init = diskstats_init,
    .collect = diskstats_collect,
    .fini = diskstats_fini,
};
