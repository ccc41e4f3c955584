/* What a scrape costs a machine before any of Odin's own work: the CPU of waking from an idle
 * wait, of one request and answer over loopback, and of touching memory right after such a
 * wait compared with the same touches in a busy loop. The server sleeps between scrapes (at 1M
 * series at 15 s a worker wakes every few tens of ms), so on a machine where waking is dear
 * these figures bound how low its CPU per sample can go; bench/RESULTS.md reads them next to
 * the server's.
 *
 * Usage: bench_wake_floor [--rounds 500] [--gap-ms 30] [--body 142400] [--lines 4000]
 *                         [--mib 512] [--huge 0]
 * Prints one JSON line, all figures in µs of this process's CPU (user + system) per round:
 *   wake_us        a poll(2) sleep of gap-ms and nothing else
 *   roundtrip_us   the same sleep, then a 300-byte request sent to a child process over
 *                  loopback TCP and its body-byte answer received (poll, recv until complete),
 *                  as the server's plain-HTTP client does; minus nothing
 *   touch_busy_us  `lines` random cache lines of a mib-MiB array read and written, back to back
 *   touch_idle_us  the same touches, each round after the gap-ms sleep, the sleep's own
 *                  wake_us taken off
 * --huge 1 asks for transparent huge pages on the array (madvise), as a test of how much of the
 * idle touches' cost is address translation. */
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_args.h"

enum { REQUEST_BYTES = 300 };

static double cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void sleep_ms(int ms)
{
    if (ms > 0) {
        poll(NULL, 0, ms);
    }
}

/* The child: answers every request it reads with `body` bytes, until the connection closes. */
static void answer_forever(int listener, size_t body)
{
    int c = accept(listener, NULL, NULL);
    char *b = malloc(body);
    if (c < 0 || b == NULL) {
        _exit(1);
    }
    memset(b, 'x', body);
    char req[REQUEST_BYTES];
    for (;;) {
        if (recv(c, req, sizeof req, 0) <= 0) {
            _exit(0);
        }
        for (size_t off = 0; off < body;) {
            ssize_t w = send(c, b + off, body - off, MSG_NOSIGNAL);
            if (w <= 0) {
                _exit(0);
            }
            off += (size_t)w;
        }
    }
}

/* A connected non-blocking client socket to a forked answering child; -1 on failure. */
static int start_peer(size_t body, pid_t *child)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1) < 0 ||
        getsockname(ls, (struct sockaddr *)&a, &alen) < 0) {
        return -1;
    }
    *child = fork();
    if (*child == 0) {
        answer_forever(ls, body);
    }
    close(ls);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        return -1;
    }
    return s;
}

/* One request and its whole answer, waiting in poll as the server's client does. */
static int round_trip(int s, char *buf, size_t body)
{
    char req[REQUEST_BYTES];
    memset(req, 'r', sizeof req);
    if (send(s, req, sizeof req, MSG_NOSIGNAL) != (ssize_t)sizeof req) {
        return -1;
    }
    size_t got = 0;
    while (got < body) {
        struct pollfd p = {.fd = s, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0) {
            return -1;
        }
        ssize_t n = recv(s, buf + got, body - got, MSG_DONTWAIT);
        if (n <= 0) {
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

static uint64_t touch(unsigned char *m, size_t lines_in_array, long lines, uint64_t *x)
{
    uint64_t sum = 0;
    for (long j = 0; j < lines; j++) {
        *x ^= *x << 13; /* xorshift: addresses the prefetchers cannot guess */
        *x ^= *x >> 7;
        *x ^= *x << 17;
        unsigned char *p = m + (*x % lines_in_array) * 64;
        sum += (*p)++;
    }
    return sum;
}

int main(int argc, char **argv)
{
    long rounds = arg_long(argc, argv, "--rounds", 500);
    int gap = (int)arg_long(argc, argv, "--gap-ms", 30);
    size_t body = (size_t)arg_long(argc, argv, "--body", 142400);
    long lines = arg_long(argc, argv, "--lines", 4000);
    size_t mib = (size_t)arg_long(argc, argv, "--mib", 512);
    bool huge = arg_long(argc, argv, "--huge", 0) != 0;
    if (rounds < 10 || gap < 0 || body == 0 || lines < 0 || mib == 0) {
        fprintf(stderr, "need --rounds >= 10, --gap-ms >= 0, --body > 0, --mib > 0\n");
        return 2;
    }
    long skip = rounds / 10; /* the first rounds warm up and are not counted */

    double t0 = 0;
    for (long i = 0; i < rounds; i++) {
        t0 = i == skip ? cpu_us() : t0;
        sleep_ms(gap);
    }
    double wake = (cpu_us() - t0) / (double)(rounds - skip);

    pid_t child = -1;
    int s = start_peer(body, &child);
    char *buf = malloc(body);
    if (s < 0 || buf == NULL) {
        perror("loopback peer");
        return 1;
    }
    for (long i = 0; i < rounds; i++) {
        t0 = i == skip ? cpu_us() : t0;
        sleep_ms(gap);
        if (round_trip(s, buf, body) < 0) {
            perror("round trip");
            return 1;
        }
    }
    double rt = (cpu_us() - t0) / (double)(rounds - skip);
    close(s);
    waitpid(child, NULL, 0);
    free(buf);

    size_t len = mib << 20;
    unsigned char *m = aligned_alloc((size_t)2 << 20, len);
    if (m == NULL) {
        perror("array");
        return 1;
    }
    if (huge) {
        madvise(m, len, MADV_HUGEPAGE);
    }
    memset(m, 1, len);
    uint64_t x = 88172645463325252ULL, sum = 0;
    for (long i = 0; i < rounds; i++) {
        t0 = i == skip ? cpu_us() : t0;
        sum += touch(m, len / 64, lines, &x);
    }
    double busy = (cpu_us() - t0) / (double)(rounds - skip);
    for (long i = 0; i < rounds; i++) {
        t0 = i == skip ? cpu_us() : t0;
        sleep_ms(gap);
        sum += touch(m, len / 64, lines, &x);
    }
    double idle = (cpu_us() - t0) / (double)(rounds - skip) - wake;
    free(m);
    printf("{\"rounds\": %ld, \"gap_ms\": %d, \"body\": %zu, \"lines\": %ld, \"mib\": %zu, "
           "\"huge\": %s, \"wake_us\": %.1f, \"roundtrip_us\": %.1f, \"touch_busy_us\": %.1f, "
           "\"touch_idle_us\": %.1f, \"check\": %llu}\n",
           rounds, gap, body, lines, mib, huge ? "true" : "false", wake, rt, busy, idle,
           (unsigned long long)(sum & 1));
    return 0;
}
