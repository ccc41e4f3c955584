/* Helpers shared by the storage collectors (diskstats, filesystem, mdadm, nvme, edac): sysfs reads
 * that behave as the prometheus/procfs library's, Go-style glob over one directory, and label
 * cleanup. Not a collector; everything returned lives in the scrape's arena. */
#ifndef ODIN_AGENT_STORAGE_UTIL_H
#define ODIN_AGENT_STORAGE_UTIL_H

#include "agent/agent_int.h"

/* procfs' SysReadFile: the first 128 bytes of the file with ASCII whitespace trimmed at both
 * ends. Errors as agent_read (-ODIN_ERR_NOTFOUND for a missing file). */
int storage_sys_read(agent_scrape *sc, const char *path, odin_str *out, odin_err *err);

/* procfs' ReadUintFromFile: whole file, whitespace trimmed, decimal uint64. */
int storage_read_uint(agent_scrape *sc, const char *path, uint64_t *out, odin_err *err);

/* Entries of dir whose names match the fnmatch(3) pattern, sorted bytewise, as Go's
 * filepath.Glob returns them for "<dir>/<pattern>". A missing or unreadable directory gives no
 * entries and no error (Glob ignores I/O errors). Returns the count; *names in scrape memory. */
size_t storage_glob(agent_scrape *sc, const char *dir, const char *pattern, const char ***names);


/* Go's text for an errno (syscall.Errno.Error()): libc's message with a lower-case first
 * letter, as Go's tables are generated. In scrape memory. */
const char *storage_errno_text(agent_scrape *sc, int errnum);

#endif
