/* The scrape path's in-process part, without sockets: for N targets of S series (the text
 * bench_scrape_targets serves), each tick renders every target's body and hands it to
 * scrape_loop_append, as a scrape worker does once the answer is in: parse, series cache, tsdb
 * append, WAL record and head commit. What it leaves out of bench/scrape_bench.py is the network
 * (request, wake-ups, the receive copy) and the scheduling, so its figure is steadier and shows
 * what a change to that code path is worth.
 *
 * Usage: bench_scrape_append [--targets 50] [--series 2000] [--ticks 60] [--warmup 20]
 *                            [--dir DIR] [--gap-kib 0] [--wal-compression 1]
 * Prints one JSON line: CPU per sample (process user and system time, background threads of the
 * tsdb included) over the ticks after the warm-up, and the RSS at the end. --gap-kib K walks K KiB
 * of unrelated memory between two scrapes, as the kernel's receive copy and the other targets'
 * traffic do between a worker's scrapes. Without --dir the data goes to a fresh directory under
 * /tmp, removed at the end. --wal-compression 0 writes the WAL uncompressed (the server's
 * --storage.tsdb.wal-compression=false); wal_bytes_per_sample is the WAL's size over every
 * sample appended, warm-up included. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_args.h"
#include "scrape/loop_int.h"
#include "scrape_corpus.h"
#include "tsdb/tsdb.h"

static void cpu_split(double *user, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) {
            rss = 0;
        }
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Bytes in the regular files of dir/wal (segments; checkpoints are directories, not counted). */
static uint64_t wal_bytes(const char *dir)
{
    odin_strbuf path;
    odin_strbuf_init(&path, 0);
    odin_strbuf_printf(&path, "%s/wal", dir);
    size_t base = path.len;
    uint64_t sum = 0;
    DIR *d = opendir(path.p);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        struct stat st;
        path.len = base;
        odin_strbuf_printf(&path, "/%s", e->d_name);
        if (stat(path.p, &st) == 0 && S_ISREG(st.st_mode)) {
            sum += (uint64_t)st.st_size;
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    odin_strbuf_fini(&path);
    return sum;
}

int main(int argc, char **argv)
{
    long ntargets = arg_long(argc, argv, "--targets", 50);
    long nseries = arg_long(argc, argv, "--series", 2000);
    long ticks = arg_long(argc, argv, "--ticks", 60);
    long warmup = arg_long(argc, argv, "--warmup", 20);
    long gap_kib = arg_long(argc, argv, "--gap-kib", 0);
    bool wal_compression = arg_long(argc, argv, "--wal-compression", 1) != 0;
    const char *dir = arg_str(argc, argv, "--dir");
    char tmp[] = "/tmp/odin-scrape-append-XXXXXX";
    if (dir == NULL) {
        dir = mkdtemp(tmp);
        if (dir == NULL) {
            perror("mkdtemp");
            return 1;
        }
    }
    if (ntargets <= 0 || nseries <= 0 || ticks <= warmup || warmup < 1) {
        fprintf(stderr, "need --targets, --series > 0 and --ticks > --warmup >= 1\n");
        return 2;
    }
    catalog cat = {0};
    build_catalog(&cat, (size_t)nseries);
    odin_err err;
    odin_err_clear(&err);
    tsdb_opts o = {.dir = dir, .wal_fsync_ms = 1000, .wal_compression = wal_compression};
    tsdb *db = tsdb_open(&o, &err);
    if (db == NULL) {
        fprintf(stderr, "open %s: %s\n", dir, err.msg);
        return 1;
    }
    scrape_loop **loops = odin_calloc((size_t)ntargets, sizeof *loops);
    char **instance = odin_calloc((size_t)ntargets, sizeof *instance);
    odin_label(*pub)[2] = odin_calloc((size_t)ntargets, sizeof *pub);
    for (long i = 0; i < ntargets; i++) {
        odin_strbuf b;
        odin_strbuf_init(&b, 0);
        odin_strbuf_printf(&b, "127.0.0.1:%ld", 20000 + i);
        instance[i] = odin_strdup(b.p);
        odin_strbuf_reset(&b);
        odin_strbuf_printf(&b, "http://%s/metrics", instance[i]);
        pub[i][0] = (odin_label){ODIN_STR("instance"), odin_str_c(instance[i])};
        pub[i][1] = (odin_label){ODIN_STR("job"), ODIN_STR("bench")};
        scrape_target t = {.url = b.p, .interval_ms = 1000, .pub = {pub[i], 2}};
        loops[i] = scrape_loop_new(&t);
        odin_strbuf_fini(&b);
    }
    scrape_job job = {.honor_timestamps = true};
    size_t gap_len = (size_t)gap_kib * 1024;
    volatile unsigned char *gap = gap_len ? odin_calloc(gap_len, 1) : NULL;
    odin_strbuf body;
    odin_strbuf_init(&body, 0);
    double cpu_user = 0, cpu_sys = 0;
    uint64_t samples = 0, all_samples = 0;
    int64_t t0 = 1700000000000;
    for (long k = 0; k < ticks; k++) {
        for (long i = 0; i < ntargets; i++) {
            render(&cat, (unsigned)i, (uint64_t)k, &body);
            for (size_t g = 0; g < gap_len; g += 64) {
                gap[g]++;
            }
            scrape_fetch f = {.ok = true, .body = body.p, .len = body.len};
            double u0, s0, u1, s1, dur;
            cpu_split(&u0, &s0);
            const char *e = scrape_loop_append(loops[i], db, &job, &f, t0 + k * 1000, 0, &dur);
            cpu_split(&u1, &s1);
            if (e != NULL) {
                fprintf(stderr, "scrape of target %ld failed: %s\n", i, e);
                return 1;
            }
            scrape_loop_release_arena(loops[i]); /* e was in it */
            all_samples += (uint64_t)nseries + 5;
            if (k >= warmup) {
                cpu_user += u1 - u0;
                cpu_sys += s1 - s0;
                samples += (uint64_t)nseries + 5;
            }
        }
    }
    long rss = rss_kib();
    printf("{\"targets\": %ld, \"series\": %ld, \"ticks\": %ld, \"warmup\": %ld, "
           "\"gap_kib\": %ld, \"wal_compression\": %s, \"samples\": %llu, "
           "\"ns_per_sample\": %.1f, \"user_ns_per_sample\": %.1f, \"sys_ns_per_sample\": %.1f, "
           "\"rss_kib\": %ld, \"wal_bytes_per_sample\": %.2f}\n",
           ntargets, nseries, ticks, warmup, gap_kib, wal_compression ? "true" : "false",
           (unsigned long long)samples, (cpu_user + cpu_sys) * 1e9 / (double)samples,
           cpu_user * 1e9 / (double)samples, cpu_sys * 1e9 / (double)samples, rss,
           (double)wal_bytes(dir) / (double)all_samples);
    for (long i = 0; i < ntargets; i++) {
        scrape_loop_free(loops[i]);
        free(instance[i]);
    }
    free(loops);
    free(instance);
    free(pub);
    free((void *)gap);
    odin_strbuf_fini(&body);
    tsdb_close(db);
    if (dir == tmp && odin_remove_tree(tmp) < 0) {
        fprintf(stderr, "could not remove %s\n", tmp);
    }
    return 0;
}
