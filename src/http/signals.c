/* Process signals for every role: block the shutdown and reload signals in all threads, and let
 * one thread (main) wait for them with sigwait, so no handler ever runs in signal context. */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "http/http.h"

void http_signals_block(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    /* A peer closing a socket mid-write must become EPIPE on that write, not kill the process. */
    sigaddset(&set, SIGPIPE);
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc != 0) {
        char buf[128];
        const char *msg = strerror_r(rc, buf, sizeof buf);
        odin_log(ODIN_LOG_ERROR, "http", "blocking signals failed", "err", msg, NULL);
    }
}

int http_signals_wait(bool want_hup)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* SIGHUP is always waited for, even when the caller has no use for it: a blocked, pending
     * SIGHUP would otherwise stay queued, and it must not terminate the process either. */
    sigaddset(&set, SIGHUP);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) {
            continue;
        }
        if (sig == SIGHUP && !want_hup) {
            odin_log(ODIN_LOG_INFO, "http", "ignoring SIGHUP: this role has nothing to reload",
                     NULL);
            continue;
        }
        return sig;
    }
}
