/* Drops the agent's unused library and binary pages from its page tables once it is serving. The
 * kernel maps file pages 64 KiB around each fault ("fault-around"), so most of libc's, libm's,
 * libpcre2's and odin's own code counts in the agent's RSS though it never runs. */
#include "agent/agent_int.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

typedef struct {
    uint64_t start, end;
    bool candidate; /* read-only, private, file-backed, not a device */
} file_mapping;

/* "start-end perms offset dev inode path": whether it is a read-only private mapping of a file.
 * Device mappings (/dev/nvidia*) are never touched: their pages need not come from a file. */
static bool parse_header(const char *line, file_mapping *m)
{
    odin_str rest = odin_str_c(line);
    odin_str range = odin_str_field(&rest);
    odin_str perms = odin_str_field(&rest);
    odin_str lo = odin_str_cut(&range, '-');
    if (perms.len < 4 || odin_parse_hex_u64(lo, &m->start) < 0 ||
        odin_parse_hex_u64(range, &m->end) < 0) {
        return false;
    }
    for (int i = 0; i < 3; i++) {
        (void)odin_str_field(&rest); /* offset, dev, inode */
    }
    odin_str path = odin_str_trim(rest);
    m->candidate = perms.p[1] != 'w' && perms.p[3] == 'p' && path.len > 0 && path.p[0] == '/' &&
                   strncmp(path.p, "/dev/", 5) != 0;
    return true;
}

/* Only a mapping with no private (copied-on-write) pages is dropped: its every page can be read
 * back from the file. Relocated read-only data (RELRO) has such pages and is left alone, as is
 * anything writable. A read-only mapping cannot gain private pages, so the check cannot go stale.
 * MADV_RANDOM stops read-ahead for the mapping, so fewer pages around those that run come back
 * (measured: ~60 KiB less than without it; page-cache folios may still map several pages). The
 * agent unloads no library while it runs, so no other mapping can take the range meanwhile. */
static void drop_mapping(const file_mapping *m)
{
    void *p = (void *)(uintptr_t)m->start;
    size_t len = (size_t)(m->end - m->start);
    if (madvise(p, len, MADV_RANDOM) == 0) {
        (void)madvise(p, len, MADV_DONTNEED);
    }
}

void agent_drop_unused_file_pages(void)
{
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f) {
        return; /* an optimisation only */
    }
    char line[4096];
    file_mapping m = {0};
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "Anonymous:", 10) == 0) {
            odin_str v = odin_str_c(line + 10);
            odin_str kb = odin_str_field(&v);
            uint64_t n = 1;
            if (m.candidate && odin_parse_u64(kb, &n) == 0 && n == 0) {
                drop_mapping(&m);
            }
            m.candidate = false;
            continue;
        }
        /* field lines start "Name:", mapping headers "start-end" */
        odin_str rest = odin_str_c(line);
        odin_str first = odin_str_field(&rest);
        file_mapping next;
        if (first.len > 0 && first.p[first.len - 1] != ':' && parse_header(line, &next)) {
            m = next;
        }
    }
    fclose(f);
}
