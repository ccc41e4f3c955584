/* Private to the sysfs-class collectors (netclass, netdev, infiniband, hwmon, thermal_zone,
 * powersupplyclass, rapl): the small readers and parsers that prometheus/procfs applies to sysfs
 * attributes, reproduced so that their edge cases (128-byte reads, base-0 integers) match. */
#ifndef ODIN_AGENT_SYSFS_UTIL_H
#define ODIN_AGENT_SYSFS_UTIL_H

#include "agent/agent_int.h"

/* Reads a sysfs attribute with one read(2) of at most 128 bytes and strips ASCII whitespace at
 * both ends (procfs' SysReadFile). On failure returns -1 and stores the errno in *errnum (never
 * 0); the text is in scrape memory. */
int agent_sysfs_read(agent_scrape *sc, const char *path, odin_str *out, int *errnum);
/* Reads a whole file (as os.ReadFile) without trimming; -1 and *errnum on failure. */
int agent_sysfs_read_all(agent_scrape *sc, const char *path, odin_str *out, int *errnum);
/* True for the errors procfs skips silently when reading an attribute: ENOENT, EACCES, EPERM,
 * EOPNOTSUPP, EINVAL. */
bool agent_sysfs_ignorable(int errnum);

/* Go's strconv.ParseInt(s, 0, 64) / ParseUint(s, 0, 64): optional sign (signed only), then
 * 0x, 0o, 0b or a leading 0 for octal, underscores allowed between digits. 0 or -ODIN_ERR_PARSE
 * / -ODIN_ERR_LIMIT. */
int agent_sysfs_parse_i64(odin_str s, int64_t *out);
int agent_sysfs_parse_u64(odin_str s, uint64_t *out);

typedef enum {
    AGENT_FT_NONE, /* lstat failed */
    AGENT_FT_REG,
    AGENT_FT_DIR,
    AGENT_FT_LINK,
    AGENT_FT_OTHER,
} agent_ftype;

/* Type of the entry itself (lstat), as os.ReadDir's DirEntry.Type() reports it. */
agent_ftype agent_sysfs_lstat_type(const char *path);
/* True when path exists and, following links, is a directory (os.Stat(..).IsDir()). */
bool agent_sysfs_is_dir(const char *path);
/* True when path exists, following links (os.Stat succeeds). */
bool agent_sysfs_exists(const char *path);

/* A class directory of sysfs (class/net, class/hwmon, ...) as listed for one scrape. */
typedef struct {
    const char *base;     /* <sysfs>/<class> */
    const char **names;   /* its entries, sorted as os.ReadDir sorts them */
    const uint64_t *inos; /* inode number of each entry (agent_list_dir_inos) */
    size_t n;
} agent_sysfs_class;

/* Lists <sysfs>/<cls> into *out (scrape memory). -ODIN_ERR_UNAVAILABLE when the class directory
 * does not exist (the collector has nothing to report), other failures as agent_list_dir. */
int agent_sysfs_class_list(agent_scrape *sc, const char *cls, agent_sysfs_class *out,
                           odin_err *err);
/* One zeroed element of `size` bytes per entry of c, plus one, in scrape memory. */
void *agent_sysfs_class_items(agent_scrape *sc, const agent_sysfs_class *c, size_t size);

/* "<dir>/<name>" in scrape memory. */
const char *agent_sysfs_join(agent_scrape *sc, const char *dir, const char *name);
/* Go's filepath.Clean of path, in scrape memory. */
const char *agent_sysfs_clean_path(agent_scrape *sc, const char *path);

#endif
