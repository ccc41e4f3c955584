/* Unit tests for src/agent/io.c: whole-file reads through the descriptor cache (with the sysfs
 * short-read end and the per-scrape memo) must return what a plain open+read-to-EOF returns, on
 * this machine's real /sys and /proc files and on a regular file larger than one read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>

#include "agent/core.h"
#include "agent/proc_util.h"
#include "agent/sysfs_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The reference: open, read until 0, close. Returns the length or -1; `max` bounds it. */
static long plain_read(const char *path, char *buf, size_t cap, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    size_t len = 0, lim = cap < max ? cap : max;
    for (;;) {
        ssize_t n = read(fd, buf + len, lim - len);
        if (n < 0) {
            close(fd);
            return -1;
        }
        len += (size_t)n;
        if (n == 0 || len == lim) {
            break;
        }
    }
    close(fd);
    return (long)len;
}

/* Attribute files whose contents do not change between two reads. */
static const char *const stable_files[] = {
    "/sys/devices/system/cpu/online",
    "/sys/devices/system/cpu/possible",
    "/sys/devices/system/cpu/cpu0/topology/core_id",
    "/sys/devices/system/cpu/cpu0/topology/physical_package_id",
    "/sys/devices/system/cpu/cpu0/topology/core_cpus_list",
    "/sys/devices/system/clocksource/clocksource0/available_clocksource",
    "/sys/kernel/mm/transparent_hugepage/enabled",
    "/proc/sys/kernel/ostype",
    "/proc/sys/kernel/osrelease",
    "/proc/sys/kernel/random/poolsize",
    "/proc/cmdline",
    "/proc/version",
};

static void check_same(agent_scrape *sc, const char *path, size_t max)
{
    static char ref[1 << 16];
    long n = plain_read(path, ref, sizeof ref, max);
    odin_str got;
    int rc = agent_read_raw(sc, path, max, &got);
    if (n < 0) {
        assert_true(rc < 0);
        return;
    }
    if (rc != 0 || got.len != (size_t)n || memcmp(got.p, ref, got.len) != 0) {
        fail_msg("%s: cached read (rc %d, %zu bytes) differs from a plain read (%ld bytes)", path,
                 rc, got.len, n);
    }
    assert_int_equal(got.p[got.len], '\0');
}

static void sysfs_net_files(const char ***out, size_t *n)
{
    static const char *names[] = {"address", "addr_len", "mtu",   "type",
                                  "ifindex", "iflink",   "flags", "uevent"};
    static char paths[64][256];
    *n = 0;
    DIR *d = opendir("/sys/class/net");
    if (!d) {
        return;
    }
    static const char *list[64];
    struct dirent *de;
    while ((de = readdir(d)) != NULL && *n + ODIN_ARRAY_LEN(names) <= ODIN_ARRAY_LEN(paths)) {
        if (de->d_name[0] == '.') {
            continue;
        }
        for (size_t i = 0; i < ODIN_ARRAY_LEN(names); i++) {
            int w =
                snprintf(paths[*n], sizeof paths[*n], "/sys/class/net/%s/%s", de->d_name, names[i]);
            if (w > 0 && (size_t)w < sizeof paths[*n]) {
                list[*n] = paths[*n];
                (*n)++;
            }
        }
    }
    closedir(d);
    *out = list;
}

static void test_kernel_files_match_plain_reads(void **state)
{
    (void)state;
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    const char **net;
    size_t nnet;
    sysfs_net_files(&net, &nnet);
    /* three scrapes: a fresh open, then cached descriptors, then the memo of a file read twice */
    for (int gen = 0; gen < 3; gen++) {
        agent_scrape_begin(&sc);
        for (size_t i = 0; i < ODIN_ARRAY_LEN(stable_files); i++) {
            check_same(&sc, stable_files[i], 16u << 20);
            check_same(&sc, stable_files[i], 16u << 20);
            check_same(&sc, stable_files[i], 4); /* bounded reads take the first bytes */
        }
        for (size_t i = 0; i < nnet; i++) {
            check_same(&sc, net[i], 128);
            check_same(&sc, net[i], 16u << 20);
        }
    }
    agent_scrape_fini(&sc);
}

static void test_memo_copies_are_private(void **state)
{
    (void)state;
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    const char *path = "/proc/sys/kernel/ostype";
    for (int gen = 0; gen < 3; gen++) {
        agent_scrape_begin(&sc);
        odin_str a, b;
        assert_int_equal(agent_read_raw(&sc, path, 16u << 20, &a), 0);
        assert_true(a.len > 0);
        ((char *)a.p)[0] = '#'; /* callers trim and edit their copy in place */
        assert_int_equal(agent_read_raw(&sc, path, 16u << 20, &b), 0);
        assert_true(b.p != a.p);
        assert_int_equal(b.p[0], 'L'); /* "Linux\n" */
    }
    agent_scrape_fini(&sc);
}

static void test_regular_file_larger_than_one_read(void **state)
{
    (void)state;
    char path[] = "/tmp/odin_io_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static char data[50000];
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (char)('a' + i % 26);
    }
    assert_int_equal(write(fd, data, sizeof data), (ssize_t)sizeof data);
    close(fd);
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    for (int gen = 0; gen < 2; gen++) {
        agent_scrape_begin(&sc);
        check_same(&sc, path, 16u << 20);
        check_same(&sc, path, 100);
    }
    agent_scrape_fini(&sc);
    unlink(path);
}

/* A second listing in one scrape comes from the first; it must equal a listing made afresh and
 * be the caller's own array. */
static void test_listing_twice_in_a_scrape(void **state)
{
    (void)state;
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    const char *dirs[] = {"/sys/devices/system/cpu", "/proc/self", "/tmp"};
    for (size_t d = 0; d < ODIN_ARRAY_LEN(dirs); d++) {
        odin_err err = {0};
        const char **a, **b, **c;
        size_t na, nb, nc;
        agent_scrape_begin(&sc);
        assert_int_equal(agent_list_dir(&sc, dirs[d], &a, &na, &err), 0);
        assert_true(na > 0);
        const char *first = a[0];
        a[0] = "changed by the first caller";
        assert_int_equal(agent_list_dir(&sc, dirs[d], &b, &nb, &err), 0);
        assert_true(b != a);
        assert_ptr_equal(b[0], first);
        agent_scrape_begin(&sc);
        assert_int_equal(agent_list_dir(&sc, dirs[d], &c, &nc, &err), 0);
        if (d == 0) { /* the others may change between two listings */
            assert_int_equal(nb, nc);
            for (size_t i = 0; i < nb; i++) {
                assert_string_equal(b[i], c[i]);
            }
        }
    }
    odin_err err = {0};
    const char **none;
    size_t nn;
    agent_scrape_begin(&sc);
    assert_int_equal(agent_list_dir(&sc, "/nonexistent-odin-dir", &none, &nn, &err),
                     -ODIN_ERR_NOTFOUND);
    assert_int_equal(agent_list_dir(&sc, "/nonexistent-odin-dir", &none, &nn, &err),
                     -ODIN_ERR_NOTFOUND);
    agent_scrape_fini(&sc);
}

/* The old formatting of agent_path and agent_sysfs_join, as the reference for the copies. */
static void reference_path(const char *base, const char *rel, char *out, size_t cap)
{
    size_t bl = strlen(base);
    while (bl > 1 && base[bl - 1] == '/') {
        bl--;
    }
    while (*rel == '/') {
        rel++;
    }
    if (bl == 1 && base[0] == '/') {
        snprintf(out, cap, "/%s", rel);
    } else {
        snprintf(out, cap, "%.*s/%s", (int)bl, base, rel);
    }
}

/* proc_fields is strings.Fields over ASCII whitespace: compared with a plain reference on short
 * lines, lines around the one-pass limit of 64 fields and a long /proc-like line. */
static size_t reference_fields(const char *s, size_t len, odin_str *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && strchr(" \t\n\v\f\r", s[i]) != NULL && s[i] != '\0') {
            i++;
        }
        size_t start = i;
        while (i < len && (s[i] == '\0' || strchr(" \t\n\v\f\r", s[i]) == NULL)) {
            i++;
        }
        if (i > start && n < max) {
            out[n++] = (odin_str){s + start, i - start};
        }
    }
    return n;
}

static void check_fields(agent_scrape *sc, const char *s, size_t len)
{
    odin_str want[512];
    size_t nw = reference_fields(s, len, want, ODIN_ARRAY_LEN(want));
    odin_str *got = NULL;
    size_t ng = proc_fields(sc, (odin_str){s, len}, &got);
    assert_int_equal(ng, nw);
    for (size_t i = 0; i < nw; i++) {
        assert_ptr_equal(got[i].p, want[i].p);
        assert_int_equal(got[i].len, want[i].len);
    }
}

static void test_proc_fields(void **state)
{
    (void)state;
    agent ag = {0};
    agent_scrape sc;
    agent_scrape_init(&sc, &ag);
    agent_scrape_begin(&sc);
    const char *cases[] = {"",
                           " ",
                           " \t\n\v\f\r",
                           "a",
                           " a ",
                           "MemTotal:  16384 kB",
                           "nr_free_pages 12345\n",
                           "a\tb\vc\fd\re\nf",
                           "x\x01y z\x80"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        check_fields(&sc, cases[i], strlen(cases[i]));
    }
    char line[4096];
    for (size_t nf = 60; nf <= 70; nf++) {
        size_t len = 0;
        for (size_t k = 0; k < nf; k++) {
            len +=
                (size_t)snprintf(line + len, sizeof line - len, k % 3 ? " %zu" : "  \t%zu", k * 97);
        }
        check_fields(&sc, line, len);
        line[len++] = ' ';
        check_fields(&sc, line, len);
    }
    size_t len = (size_t)snprintf(line, sizeof line, "IpExt:");
    for (size_t k = 0; len + 24 < sizeof line && k < 300; k++) {
        len += (size_t)snprintf(line + len, sizeof line - len, " %zu", k * 104729);
    }
    check_fields(&sc, line, len);
    agent_scrape_fini(&sc);
}

static void test_paths_match_formatting(void **state)
{
    (void)state;
    const char *bases[] = {"/", "//", "/proc", "/proc/", "/proc//", "fixtures/sys", "", "/r/"};
    const char *rels[] = {"stat", "/stat", "//net/dev", "", "a/b/c", "/"};
    agent ag = {0};
    agent_scrape sc;
    agent_scrape_init(&sc, &ag);
    agent_scrape_begin(&sc);
    char want[256];
    for (size_t b = 0; b < ODIN_ARRAY_LEN(bases); b++) {
        ag.procfs = ag.sysfs = ag.rootfs = ag.udev = bases[b];
        for (size_t r = 0; r < ODIN_ARRAY_LEN(rels); r++) {
            reference_path(bases[b], rels[r], want, sizeof want);
            assert_string_equal(agent_path(&sc, AGENT_PROC, "%s", rels[r]), want);
            assert_string_equal(agent_path(&sc, AGENT_SYS, "%s", rels[r]), want);
            snprintf(want, sizeof want, "%s/%s", bases[b], rels[r]);
            assert_string_equal(agent_sysfs_join(&sc, bases[b], rels[r]), want);
        }
    }
    agent_scrape_fini(&sc);
}

/* agent_path copies "%s" and "%.*s" itself and leaves other conversions to vprintf: both must
 * print what snprintf prints. */
static void test_path_conversions_match_snprintf(void **state)
{
    (void)state;
    agent ag = {.procfs = "/proc"};
    agent_scrape sc;
    agent_scrape_init(&sc, &ag);
    agent_scrape_begin(&sc);
    char want[1300], longer[600];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    snprintf(want, sizeof want, "/proc/net/%s/%.*s/%.*s", "dev", 2, "xyz", 9, "ab");
    assert_string_equal(agent_path(&sc, AGENT_PROC, "net/%s/%.*s/%.*s", "dev", 2, "xyz", 9, "ab"),
                        want);
    snprintf(want, sizeof want, "/proc/b%llu:%llu", 8ull, 0ull);
    assert_string_equal(agent_path(&sc, AGENT_PROC, "b%llu:%llu", 8ull, 0ull), want);
    snprintf(want, sizeof want, "/proc/%s/100%%/%s", "a", "b");
    assert_string_equal(agent_path(&sc, AGENT_PROC, "%s/100%%/%s", "a", "b"), want);
    snprintf(want, sizeof want, "/proc/%s/%s", longer, longer); /* past the first 256 bytes */
    assert_string_equal(agent_path(&sc, AGENT_PROC, "%s/%s", longer, longer), want);
    assert_string_equal(agent_path(&sc, AGENT_PROC, "%s", ""), "/proc/");
    agent_scrape_fini(&sc);
}

/* agent_read_seq skips the final read of a seq file only when the last read ended well short of
 * a page: /proc/net/udp with a few sockets (one short read) and with enough sockets to fill
 * several pages must both read back whole, fresh and through the kept descriptor. */
static void check_udp_same(agent_scrape *sc, int gen)
{
    static char want[1 << 16];
    long n = plain_read("/proc/self/net/udp", want, sizeof(want), sizeof(want));
    assert_true(n > 0);
    odin_str got;
    odin_err err = {0};
    assert_int_equal(agent_read_seq(sc, "/proc/self/net/udp", 512, &got, &err), 0);
    if ((long)got.len != n || memcmp(got.p, want, (size_t)n) != 0) {
        fail_msg("scrape %d: %zu bytes read, %ld by a plain read", gen, got.len, n);
    }
}

static void test_seq_read_short_of_a_page_is_whole(void **state)
{
    (void)state;
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    int fds[120];
    size_t nfd = 0;
    for (int gen = 0; gen < 4; gen++) {
        if (gen == 2) { /* ~15 KiB of sockets: several reads, the last one short */
            for (; nfd < ODIN_ARRAY_LEN(fds); nfd++) {
                fds[nfd] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                assert_true(fds[nfd] >= 0);
                struct sockaddr_in a = {.sin_family = AF_INET,
                                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                assert_int_equal(bind(fds[nfd], (struct sockaddr *)&a, sizeof(a)), 0);
            }
        }
        agent_scrape_begin(&sc);
        check_udp_same(&sc, gen);
    }
    for (size_t i = 0; i < nfd; i++) {
        close(fds[i]);
    }
    agent_scrape_fini(&sc);
}

/* A directory larger than one getdents64 buffer lists every name once, sorted, without . and ..;
 * an empty one lists nothing. */
static void test_listing_many_names(void **state)
{
    (void)state;
    char dir[] = "/tmp/odin-listing-XXXXXX";
    assert_non_null(mkdtemp(dir));
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    agent_scrape_begin(&sc);
    const char **names;
    size_t n;
    odin_err err = {0};
    assert_int_equal(agent_list_dir(&sc, dir, &names, &n, &err), 0);
    assert_int_equal(n, 0);
    char path[256];
    enum { NFILES = 400 }; /* ~40 bytes a record: about four buffers */
    for (int i = 0; i < NFILES; i++) {
        snprintf(path, sizeof path, "%s/file-with-a-longer-name-%04d", dir, i);
        int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
    }
    agent_scrape_begin(&sc); /* listings are kept per scrape */
    assert_int_equal(agent_list_dir(&sc, dir, &names, &n, &err), 0);
    assert_int_equal(n, NFILES);
    for (int i = 0; i < NFILES; i++) {
        snprintf(path, sizeof path, "file-with-a-longer-name-%04d", i);
        assert_string_equal(names[i], path);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    agent_scrape_fini(&sc);
}

/* agent_list_dir_inos gives each name its own inode number (as stat reports it) after sorting;
 * a renamed entry keeps its number under the new name, a new entry under an old name does not. */
static void check_inos(agent_scrape *sc, const char *dir, const char *const *want, size_t nwant)
{
    const char **names;
    const uint64_t *inos;
    size_t n;
    odin_err err = {0};
    agent_scrape_begin(sc);
    assert_int_equal(agent_list_dir_inos(sc, dir, &names, &inos, &n, &err), 0);
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(names[i], want[i]);
        char path[256];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        assert_int_equal(lstat(path, &st), 0);
        assert_true(inos[i] == (uint64_t)st.st_ino);
    }
}

static uint64_t listed_ino(agent_scrape *sc, const char *dir, const char *name)
{
    const char **names;
    const uint64_t *inos;
    size_t n;
    odin_err err = {0};
    assert_int_equal(agent_list_dir_inos(sc, dir, &names, &inos, &n, &err), 0);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            return inos[i];
        }
    }
    fail_msg("%s not listed in %s", name, dir);
    return 0;
}

static void test_listing_inode_numbers(void **state)
{
    (void)state;
    char dir[] = "/tmp/odin-inos-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], to[256];
    const char *made[] = {"eth1", "eth0", "lo", "bond0"}; /* out of order on purpose */
    for (size_t i = 0; i < ODIN_ARRAY_LEN(made); i++) {
        snprintf(path, sizeof path, "%s/%s", dir, made[i]);
        assert_int_equal(mkdir(path, 0700), 0);
    }
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    const char *sorted[] = {"bond0", "eth0", "eth1", "lo"};
    check_inos(&sc, dir, sorted, ODIN_ARRAY_LEN(sorted));
    uint64_t eth0 = listed_ino(&sc, dir, "eth0");
    /* eth0 -> old0, eth1 -> eth0: the name eth0 now lists the former eth1's number */
    uint64_t eth1 = listed_ino(&sc, dir, "eth1");
    snprintf(path, sizeof path, "%s/eth0", dir);
    snprintf(to, sizeof to, "%s/old0", dir);
    assert_int_equal(rename(path, to), 0);
    snprintf(path, sizeof path, "%s/eth1", dir);
    snprintf(to, sizeof to, "%s/eth0", dir);
    assert_int_equal(rename(path, to), 0);
    const char *after[] = {"bond0", "eth0", "lo", "old0"};
    check_inos(&sc, dir, after, ODIN_ARRAY_LEN(after));
    assert_true(listed_ino(&sc, dir, "old0") == eth0);
    assert_true(listed_ino(&sc, dir, "eth0") == eth1);
    assert_true(listed_ino(&sc, dir, "eth0") != eth0);
    agent_scrape_fini(&sc);
    for (size_t i = 0; i < ODIN_ARRAY_LEN(after); i++) {
        snprintf(path, sizeof path, "%s/%s", dir, after[i]);
        rmdir(path);
    }
    rmdir(dir);
}

/* Names of dir by readdir(3), sorted, joined by '\n' (the reference for kept listings). */
static void plain_listing(const char *dir, char *out, size_t cap)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    assert_true(n >= 0);
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *nm = ents[i]->d_name;
        if (strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0) {
            o += (size_t)snprintf(out + o, cap - o, "%s\n", nm);
        }
        free(ents[i]);
    }
    free(ents);
}

static void agent_listing(agent_scrape *sc, const char *dir, char *out, size_t cap)
{
    const char **names;
    size_t n, o = 0;
    odin_err err = {0};
    assert_int_equal(agent_list_dir(sc, dir, &names, &n, &err), 0);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        o += (size_t)snprintf(out + o, cap - o, "%s\n", names[i]);
    }
}

/* sysfs directories are listed again through a kept descriptor: each scrape's listing must equal
 * a fresh one; a directory elsewhere is opened every time, so a name added shows up. */
static void test_kept_directory_listings(void **state)
{
    (void)state;
    static char want[65536], got[65536];
    const char *dirs[] = {"/sys/devices/system/cpu", "/sys/class/net", "/sys/bus", "/sys/kernel"};
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    for (int gen = 0; gen < 3; gen++) {
        agent_scrape_begin(&sc);
        for (size_t d = 0; d < ODIN_ARRAY_LEN(dirs); d++) {
            plain_listing(dirs[d], want, sizeof want);
            agent_listing(&sc, dirs[d], got, sizeof got);
            assert_string_equal(got, want);
        }
    }
    char dir[] = "/tmp/odin-kept-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    for (int gen = 0; gen < 3; gen++) {
        snprintf(path, sizeof path, "%s/n%d", dir, gen);
        assert_int_equal(mkdir(path, 0700), 0);
        agent_scrape_begin(&sc);
        plain_listing(dir, want, sizeof want);
        agent_listing(&sc, dir, got, sizeof got);
        assert_string_equal(got, want);
    }
    for (int gen = 0; gen < 3; gen++) {
        snprintf(path, sizeof path, "%s/n%d", dir, gen);
        rmdir(path);
    }
    rmdir(dir);
    agent_scrape_fini(&sc);
}

/* agent_stat answers like stat(2) and remembers a missing path as agent_read does. */
static void test_stat_remembers_missing_paths(void **state)
{
    (void)state;
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    agent_scrape_begin(&sc);
    struct stat st;
    assert_int_equal(agent_stat(&sc, "/proc/self", &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(agent_stat(&sc, "/proc/self/no-such-entry", &st), -ENOENT);
    assert_int_equal(agent_stat(&sc, "/proc/self/stat/below-a-file", &st), -ENOTDIR);
    assert_int_equal(sc.absent.len, 2);
    agent_scrape_begin(&sc);
    assert_int_equal(agent_stat(&sc, "/proc/self/no-such-entry", &st), -ENOENT);
    assert_int_equal(agent_stat(&sc, "/proc/self", &st), 0);
    assert_int_equal(sc.absent.len, 2);
    agent_scrape_fini(&sc);
}

/* agent_files_forget closes the kept descriptors under a directory and no others. */
static void test_forget_files_under_a_directory(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/sys/devices/system/cpu/cpu0/topology/core_id",
        "/sys/devices/system/cpu/cpu0/topology/physical_package_id",
        "/sys/devices/system/cpu/online",
    };
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    agent_scrape_begin(&sc);
    for (size_t i = 0; i < ODIN_ARRAY_LEN(paths); i++) {
        odin_str s;
        assert_int_equal(agent_read_raw(&sc, paths[i], 128, &s), 0);
    }
    assert_int_equal(sc.files.len, 3);
    agent_files_forget(&sc, "/sys/devices/system/cpu/cpu0/topology/core"); /* not a directory */
    assert_int_equal(sc.files.len, 3);
    agent_files_forget(&sc, "/sys/devices/system/cpu/cpu0");
    assert_int_equal(sc.files.len, 1);
    assert_non_null(odin_map_get(&sc.files, paths[2], strlen(paths[2])));
    odin_str s;
    assert_int_equal(agent_read_raw(&sc, paths[0], 128, &s), 0); /* opened again */
    assert_int_equal(sc.files.len, 2);
    agent_scrape_fini(&sc);
}

/* A missing file or directory is answered from memory until AGENT_ABSENT_RECHECK_SCRAPES
 * scrapes after its last lookup; then it is looked up again and, once there, read for real. */
static void test_absent_paths_rechecked(void **state)
{
    (void)state;
    char dir[] = "/tmp/odin_absent_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[64], sub[64];
    snprintf(file, sizeof file, "%s/f", dir);
    snprintf(sub, sizeof sub, "%s/d", dir);
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    odin_str out;
    odin_err err = {0};
    const char **names;
    size_t n;
    agent_scrape_begin(&sc);
    assert_int_equal(agent_read_raw(&sc, file, 16u << 20, &out), -ENOENT);
    assert_int_equal(agent_list_dir(&sc, sub, &names, &n, &err), -ODIN_ERR_NOTFOUND);
    int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "v\n", 2), 2);
    close(fd);
    assert_int_equal(mkdir(sub, 0700), 0);
    for (int gen = 1; gen < AGENT_ABSENT_RECHECK_SCRAPES; gen++) {
        agent_scrape_begin(&sc);
        assert_int_equal(agent_read_raw(&sc, file, 16u << 20, &out), -ENOENT);
        assert_int_equal(agent_list_dir(&sc, sub, &names, &n, &err), -ODIN_ERR_NOTFOUND);
        agent_absent_sweep(&sc);
    }
    agent_scrape_begin(&sc);
    assert_int_equal(agent_read_raw(&sc, file, 16u << 20, &out), 0);
    assert_string_equal(out.p, "v\n");
    assert_int_equal(agent_list_dir(&sc, sub, &names, &n, &err), 0);
    assert_int_equal(n, 0);
    /* found again, it is forgotten: a removal shows at once */
    unlink(file);
    agent_scrape_begin(&sc);
    assert_int_equal(agent_read_raw(&sc, file, 16u << 20, &out), -ENOENT);
    /* paths nobody asks about are dropped by the sweep */
    for (int gen = 0; gen < 4; gen++) {
        agent_scrape_begin(&sc);
        agent_absent_sweep(&sc);
    }
    assert_int_equal(sc.absent.len, 0);
    agent_scrape_fini(&sc);
    rmdir(sub);
    rmdir(dir);
}

/* Whether this scrape's mount table names `dir` as a mount point. */
static bool mounts_name(agent_scrape *sc, const char *dir)
{
    odin_str text;
    odin_err err = {0};
    if (agent_read_mounts(sc, "/proc/self/mountinfo", &text, &err) < 0) {
        return false;
    }
    char needle[256];
    size_t n = strlen(dir);
    needle[0] = ' ';
    memcpy(needle + 1, dir, n);
    needle[n + 1] = ' ';
    needle[n + 2] = '\0';
    return strstr(text.p, needle) != NULL;
}

/* In a child with its own mount namespace: the kept mount table follows a mount and an umount.
 * Exit status 0 pass, 1 fail, 77 when a mount namespace cannot be made (not root). */
static int mounts_child(const char *dir)
{
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        return 77;
    }
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    int bad = 0;
    for (int gen = 0; gen < 2; gen++) { /* read, then kept */
        agent_scrape_begin(&sc);
        bad |= mounts_name(&sc, dir);
    }
    if (mount("tmpfs", dir, "tmpfs", 0, "size=64k") != 0) {
        return 77;
    }
    for (int gen = 0; gen < 2; gen++) { /* the change, then kept again */
        agent_scrape_begin(&sc);
        bad |= !mounts_name(&sc, dir);
    }
    umount(dir);
    agent_scrape_begin(&sc);
    bad |= mounts_name(&sc, dir);
    agent_scrape_fini(&sc);
    return bad;
}

static void test_mount_table_kept_until_changed(void **state)
{
    (void)state;
    char dir[] = "/tmp/odin-mounts-XXXXXX";
    assert_non_null(mkdtemp(dir));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(mounts_child(dir));
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    rmdir(dir);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        skip();
    }
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* A regular file (a test tree's mountinfo) has no change signal: it is read every time. */
static void test_mount_table_file_read_every_time(void **state)
{
    (void)state;
    char path[] = "/tmp/odin-mountinfo-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    agent_scrape sc;
    agent_scrape_init(&sc, NULL);
    const char *texts[] = {"1 0 8:1 / / rw - ext4 /dev/sda1 rw\n",
                           "1 0 8:1 / / ro - ext4 /dev/sda1 ro\n"};
    for (int gen = 0; gen < 2; gen++) {
        assert_int_equal(pwrite(fd, texts[gen], strlen(texts[gen]), 0),
                         (ssize_t)strlen(texts[gen]));
        agent_scrape_begin(&sc);
        odin_str text;
        odin_err err = {0};
        assert_int_equal(agent_read_mounts(&sc, path, &text, &err), 0);
        assert_string_equal(text.p, texts[gen]);
    }
    agent_scrape_fini(&sc);
    close(fd);
    unlink(path);
}

int agent_io_tests(void); /* called from main.c */

int agent_io_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_files_match_plain_reads),
        cmocka_unit_test(test_memo_copies_are_private),
        cmocka_unit_test(test_regular_file_larger_than_one_read),
        cmocka_unit_test(test_listing_twice_in_a_scrape),
        cmocka_unit_test(test_paths_match_formatting),
        cmocka_unit_test(test_proc_fields),
        cmocka_unit_test(test_path_conversions_match_snprintf),
        cmocka_unit_test(test_seq_read_short_of_a_page_is_whole),
        cmocka_unit_test(test_forget_files_under_a_directory),
        cmocka_unit_test(test_listing_many_names),
        cmocka_unit_test(test_listing_inode_numbers),
        cmocka_unit_test(test_kept_directory_listings),
        cmocka_unit_test(test_stat_remembers_missing_paths),
        cmocka_unit_test(test_absent_paths_rechecked),
        cmocka_unit_test(test_mount_table_kept_until_changed),
        cmocka_unit_test(test_mount_table_file_read_every_time),
    };
    return cmocka_run_group_tests_name("agent_io", tests, NULL, NULL);
}
