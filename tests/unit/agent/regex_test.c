/* Unit tests for src/agent/regex.c: the memoised match must give PCRE2's own answer, on the first
 * (remembered) and later (from the memo) matches, for node_exporter's default filters over names
 * from this machine's /proc and /sys and over random names, also past the memo's bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>

#include "agent/agent_int.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const patterns[] = {
    "^(oom_kill|pgpg|pswp|pg.*fault).*",
    "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|"
    "TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|"
    "Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|"
    "Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$",
    "^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$",
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)",
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"
    "iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|"
    "erofs|sysfs|tracefs)$",
    "^$",
    "lo|veth.*",
    "x",
};

static void put_name(char *dst, const char *src)
{
    size_t n = strnlen(src, 63);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Names from this machine (the keys of /proc/vmstat, /sys/class/net and /sys/block entries)
 * plus fixed ones that hit each pattern's branches. */
static size_t real_names(char names[][64], size_t max)
{
    static const char *const fixed[] = {
        "",          "oom_kill",        "pgpgin",       "pgmajfault", "nr_free_pages",
        "Tcp_InSegs", "TcpExt_ListenDrops", "Udp6_NoPorts", "Ip6_InOctets", "IpExt_OutOctets",
        "Icmp_InErrors", "sda1",        "nvme0n1p2",    "zram0",      "xvda3",
        "/dev",      "/dev/shm",        "/proc/sys",    "/var/lib/docker/overlay2/x", "/home",
        "cgroup2",   "tmpfs",           "ext4",         "lo",         "veth12ab",
        "eth0",      "x",               "ab\xc3\xa9",
    };
    size_t n = 0;
    for (size_t i = 0; i < ODIN_ARRAY_LEN(fixed) && n < max; i++) {
        put_name(names[n++], fixed[i]);
    }
    FILE *f = fopen("/proc/vmstat", "r");
    char line[256];
    while (f && n < max && fgets(line, sizeof(line), f)) {
        size_t k = strcspn(line, " \n");
        line[k] = '\0';
        put_name(names[n++], line);
    }
    if (f) {
        fclose(f);
    }
    const char *const dirs[] = {"/sys/class/net", "/sys/block"};
    for (size_t d = 0; d < ODIN_ARRAY_LEN(dirs); d++) {
        DIR *dir = opendir(dirs[d]);
        struct dirent *de;
        while (dir && n < max && (de = readdir(dir)) != NULL) {
            put_name(names[n++], de->d_name);
        }
        if (dir) {
            closedir(dir);
        }
    }
    return n;
}

static void check_all(agent_regex *re, const char *pattern, char names[][64], size_t n)
{
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < n; i++) {
            bool want = agent_regex_match_direct(re, names[i], strlen(names[i]));
            bool got = agent_regex_match(re, names[i], strlen(names[i]));
            if (want != got) {
                fail_msg("pattern %s name \"%s\" round %d: memo %d, pcre2 %d", pattern, names[i],
                         round, got, want);
            }
        }
    }
}

static void test_real_names_match_pcre2(void **state)
{
    (void)state;
    static char names[4096][64];
    size_t n = real_names(names, ODIN_ARRAY_LEN(names));
    for (size_t p = 0; p < ODIN_ARRAY_LEN(patterns); p++) {
        odin_err err = {0};
        agent_regex *re = agent_regex_new(patterns[p], false, &err);
        assert_non_null(re);
        check_all(re, patterns[p], names, n);
        agent_regex_free(re);
    }
}

/* Random names from an alphabet of the patterns' own pieces, more of them than the memo keeps,
 * so answers are also checked across the memo starting over. */
static void test_random_names_match_pcre2(void **state)
{
    (void)state;
    static const char *const pieces[] = {"Tcp", "Ext", "_", "In", "Errs", "Segs", "6", "pg",
                                         "fault", "sd", "a", "1", "/", "dev", "loop", "veth",
                                         "lo", "x", "nvme0", "n1", "p"};
    static char names[5000][64];
    unsigned seed = 12345;
    for (size_t i = 0; i < ODIN_ARRAY_LEN(names); i++) {
        size_t len = 0;
        size_t k = (seed = seed * 1103515245u + 12345u) >> 16 & 7;
        for (size_t j = 0; j < k; j++) {
            const char *pc = pieces[((seed = seed * 1103515245u + 12345u) >> 16) %
                                    ODIN_ARRAY_LEN(pieces)];
            size_t pl = strlen(pc);
            if (len + pl >= 64) {
                break;
            }
            memcpy(names[i] + len, pc, pl);
            len += pl;
        }
        names[i][len] = '\0';
    }
    for (size_t p = 0; p < ODIN_ARRAY_LEN(patterns); p++) {
        odin_err err = {0};
        agent_regex *re = agent_regex_new(patterns[p], p % 2 == 0, &err);
        assert_non_null(re);
        check_all(re, patterns[p], names, ODIN_ARRAY_LEN(names));
        agent_regex_free(re);
    }
}

int agent_regex_tests(void); /* called from main.c */

int agent_regex_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_names_match_pcre2),
        cmocka_unit_test(test_random_names_match_pcre2),
    };
    return cmocka_run_group_tests_name("agent_regex", tests, NULL, NULL);
}
