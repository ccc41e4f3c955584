/* Scrape loops and the worker threads that run them: each worker drives its loops' HTTP requests
 * through one curl multi handle, ticks every loop on its own schedule (offset inside the interval
 * by the target's hash, timestamps aligned to the ideal tick as Prometheus does), appends what
 * came back, and writes end-of-run stale markers for targets that went away. */
#include <curl/curl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scrape/loop_int.h"

/* --scrape.adjust-timestamps and --scrape.timestamp-tolerance, as Prometheus 2.45+ names them
 * (defaults: on, 2ms, Prometheus 2.42's fixed values). Set before any loop runs. */
static bool align_timestamps = true;
static int64_t timestamp_tolerance_ms = 2;

void scrape_set_timestamp_alignment(bool adjust, int64_t tolerance_ms)
{
    align_timestamps = adjust;
    timestamp_tolerance_ms = tolerance_ms < 0 ? 0 : tolerance_ms;
}
/* Longest poll, so a worker notices a stop even if a wakeup were lost. */
enum { MAX_POLL_MS = 1000 };

static int64_t mono_ms(void)
{
    return odin_mono_ns() / 1000000;
}

scrape_loop *scrape_loop_new(const scrape_target *t)
{
    scrape_loop *l = odin_calloc(1, sizeof *l);
    l->hash = t->hash;
    l->url = odin_strdup(t->url);
    odin_arena tmp;
    odin_arena_init(&tmp, 0);
    l->global_url = odin_strdup(scrape_target_global_url(t->url, &tmp));
    odin_arena_fini(&tmp);
    l->pub = scrape_labels_dup(t->pub, &l->storage[0]);
    l->discovered = scrape_labels_dup(t->discovered, &l->storage[1]);
    l->all = scrape_labels_dup(t->all, &l->storage[2]);
    l->interval_ms = t->interval_ms;
    l->timeout_ms = t->timeout_ms;
    l->health = "unknown";
    l->state = SCRAPE_LOOP_RUNNING;
    odin_strbuf_init(&l->body, 0);
    scrape_fast_init(&l->fast);
    scrape_cache_init(&l->cache);
    scrape_meta_init(&l->meta);
    odin_arena_init(&l->arena, 0);
    return l;
}

void scrape_loop_free(scrape_loop *l)
{
    if (l == NULL) {
        return;
    }
    scrape_http_cleanup(l);
    scrape_fast_fini(&l->fast);
    for (size_t i = 0; i < ODIN_ARRAY_LEN(l->storage); i++) {
        free(l->storage[i]);
    }
    free(l->pub.v);
    free(l->discovered.v);
    free(l->all.v);
    free(l->url);
    free(l->global_url);
    free(l->last_error);
    odin_strbuf_fini(&l->body);
    scrape_cache_fini(&l->cache);
    expfmt_parser_free(l->parser);
    scrape_meta_fini(&l->meta);
    odin_arena_fini(&l->arena);
    free(l);
}

void scrape_loop_release_arena(scrape_loop *l)
{
    if (l->arena.held_bytes > 0) {
        odin_arena_fini(&l->arena);
        odin_arena_init(&l->arena, 0);
    }
}

void scrape_worker_take_buffer(scrape_worker *w, odin_strbuf *b)
{
    if (w == NULL || w->nspare == 0 || b->p != NULL) {
        return;
    }
    size_t cap = b->cap_bytes;
    *b = w->spare[--w->nspare];
    b->cap_bytes = cap;
    odin_strbuf_reset(b);
}

void scrape_worker_give_buffer(scrape_worker *w, odin_strbuf *b)
{
    if (b->p == NULL) {
        return;
    }
    if (w == NULL || w->nspare == SCRAPE_SPARE_BUFFERS) {
        odin_strbuf_fini(b);
        return;
    }
    w->spare[w->nspare++] = *b;
    b->p = NULL;
    b->len = b->alloc = 0;
}

void scrape_worker_wake(scrape_worker *w)
{
    atomic_store(&w->dirty, true);
    uint64_t one = 1;
    if (write(w->wake_fd, &one, sizeof one) < 0) {
        /* only when the counter is full: a wake-up is pending anyway */
    }
}

/* Records the outcome for /api/v1/targets and logs a change of health once. */
static void report_health(scrape_manager *m, scrape_loop *l, const char *err, int64_t ts,
                          double dur)
{
    pthread_mutex_lock(&m->lock);
    const char *before = l->health;
    l->health = err == NULL ? "up" : "down";
    bool same_err = (err == NULL && l->last_error == NULL) ||
                    (err != NULL && l->last_error != NULL && strcmp(err, l->last_error) == 0);
    if (!same_err) {
        free(l->last_error);
        l->last_error = err != NULL ? odin_strdup(err) : NULL;
    }
    l->last_scrape_ms = ts;
    l->last_duration_s = dur;
    pthread_mutex_unlock(&m->lock);
    if (err != NULL && strcmp(before, "down") != 0) {
        odin_log(ODIN_LOG_WARN, "scrape", "Target is down", "target", l->url, "err", err, NULL);
    } else if (err == NULL && strcmp(before, "down") == 0) {
        odin_log(ODIN_LOG_INFO, "scrape", "Target is up again", "target", l->url, NULL);
    }
}

/* The job a running loop scrapes for; NULL when the loop was stopped. cfg_lock read-held. */
static const scrape_job *loop_job(scrape_manager *m, scrape_loop *l)
{
    pthread_mutex_lock(&m->lock);
    const scrape_job *job = l->pool != NULL && !l->stop_requested ? l->pool->job : NULL;
    pthread_mutex_unlock(&m->lock);
    return job;
}

static void log_dropped(const scrape_loop *l, const char *msg, uint32_t n)
{
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_put_u64(&b, n);
    odin_log(ODIN_LOG_WARN, "scrape", msg, "target", l->url, "num_dropped", b.p, NULL);
    odin_strbuf_fini(&b);
}

/* Adds what the pass refused to the manager's counters and logs it as Prometheus does. */
static void count_faults(scrape_manager *m, const scrape_loop *l, const scrape_fetch *f)
{
    const scrape_faults *x = &l->faults;
    if (x->out_of_order) {
        atomic_fetch_add(&m->out_of_order, x->out_of_order);
        log_dropped(l, "Error on ingesting out-of-order samples", x->out_of_order);
    }
    if (x->duplicate) {
        atomic_fetch_add(&m->duplicates, x->duplicate);
        log_dropped(l, "Error on ingesting samples with different value but same timestamp",
                    x->duplicate);
    }
    if (x->out_of_bounds) {
        atomic_fetch_add(&m->out_of_bounds, x->out_of_bounds);
        log_dropped(l, "Error on ingesting samples that are too old or are too far into the future",
                    x->out_of_bounds);
    }
    if (x->sample_limit) {
        atomic_fetch_add(&m->sample_limit_hits, 1);
    }
    if (x->label_limit) {
        atomic_fetch_add(&m->label_limit_hits, 1);
    }
    if (!f->ok && f->err != NULL && strcmp(f->err, scrape_err_body_limit) == 0) {
        atomic_fetch_add(&m->body_limit_hits, 1);
    }
}

/* Appends a finished (or failed-to-start) scrape. cfg_lock read-held. */
static void loop_complete(scrape_worker *w, scrape_loop *l, const scrape_fetch *f)
{
    scrape_manager *m = w->m;
    const scrape_job *job = loop_job(m, l);
    if (job == NULL) {
        return;
    }
    double dur = 0;
    const char *err = scrape_loop_append(l, m->db, job, f, l->scrape_ts, l->start_mono_ns, &dur);
    /* the body is appended: its buffers go back to the worker for the next scrape */
    scrape_worker_give_buffer(w, &l->fast.raw);
    scrape_worker_give_buffer(w, &l->body);
    count_faults(m, l, f);
    l->scraped_once = true;
    l->last_ts = l->scrape_ts;
    report_health(m, l, err, l->scrape_ts, dur);
    scrape_loop_release_arena(l); /* err was in it: report_health keeps a copy */
}

int64_t scrape_loop_tick_ts(scrape_loop *l, int64_t now, int64_t ideal)
{
    /* The grid starts at the time the first tick was due, not at when its scrape started: a
     * first start that happened late put every later, less late, start before the grid, where
     * the rule below never aligns (Go's ticker, which Prometheus relies on, never fires early
     * against its first tick; ours are scheduled in whole milliseconds and woken by poll). */
    if (!l->started || now < l->aligned_ms) {
        l->started = true; /* the wall clock stepping back starts a new grid */
        l->aligned_ms = ideal <= now ? ideal : now;
    }
    if (!align_timestamps) {
        return now;
    }
    int64_t tolerance = l->interval_ms / 100 < timestamp_tolerance_ms ? l->interval_ms / 100
                                                                      : timestamp_tolerance_ms;
    while (now - l->aligned_ms >= l->interval_ms) {
        l->aligned_ms += l->interval_ms;
    }
    return now - l->aligned_ms <= tolerance ? l->aligned_ms : now;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* libcurl keeps idle connections in the multi handle's cache, by default four per handle added
 * at that moment. Scrapes are spread over the interval, so few are added at once and each scrape
 * opened a new TCP connection (connect, handshake and teardown: about a tenth of the server's CPU
 * at 50 targets). One idle connection per target is kept instead, as Prometheus' per-target HTTP
 * client keeps its keep-alive connection. */
static void size_connection_cache(scrape_worker *w, size_t nloops)
{
    if (w->multi != NULL && nloops != w->nloops) {
        curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)(nloops + 4));
    }
    w->nloops = nloops; /* a multi handle made later is sized from it */
}

/* The worker's multi handle, made (and libcurl loaded) when the first scrape needs it: plain
 * HTTP goes through loop_fast.c, and a server with only such targets never maps libcurl and the
 * TLS and Kerberos libraries it pulls in (~4 MB resident). */
static CURLM *worker_multi(scrape_worker *w)
{
    if (w->multi == NULL) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        w->multi = curl_multi_init();
        if (w->multi == NULL) {
            odin_oom();
        }
        curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)(w->nloops + 4));
    }
    return w->multi;
}

/* Hands the scrape under way to libcurl. The loop's easy handle is made and set up here, on
 * first use: most loops scrape plain HTTP through loop_fast.c and never need one (~5 KiB of
 * libcurl's memory each). cfg_lock read-held. */
static void curl_start(scrape_worker *w, scrape_loop *l, const scrape_job *job, uint64_t gen)
{
    const char *msg = NULL;
    if (scrape_http_prepare(l, job, gen, &msg) < 0) {
        l->in_flight = false;
        scrape_fetch f = {.ok = false, .err = msg};
        loop_complete(w, l, &f);
        return;
    }
    curl_multi_add_handle(worker_multi(w), l->easy);
    l->in_flight = true;
}

/* Starts the scrape of the tick that was due at due_mono_ms. */
static void loop_start_scrape(scrape_worker *w, scrape_loop *l, int64_t due_mono_ms)
{
    const scrape_job *job = loop_job(w->m, l);
    if (job == NULL) {
        return;
    }
    scrape_loop_release_arena(l); /* what a stale-marker pass may have left */
    int64_t wall = wall_ns();
    int64_t prev_start = l->start_mono_ns;
    l->start_mono_ns = odin_mono_ns();
    int64_t late_ns = l->start_mono_ns - due_mono_ms * 1000000;
    if (late_ns < 0) {
        late_ns = 0;
    }
    l->scrape_ts = scrape_loop_tick_ts(l, wall / 1000000, (wall - late_ns) / 1000000);
    const char *msg = NULL;
    pthread_mutex_lock(&w->m->lock);
    if (l->pool != NULL && l->pool->limit_error != NULL) {
        msg = odin_arena_strdup(&l->arena, l->pool->limit_error);
    }
    uint64_t gen = w->m->config_gen;
    /* as Prometheus: the time since the loop's previous scrape started, from the second on */
    odin_summary *iv =
        prev_start != 0 ? scrape_interval_summary_locked(w->m, l->interval_ms) : NULL;
    pthread_mutex_unlock(&w->m->lock);
    if (iv != NULL) {
        odin_summary_observe(iv, (double)(l->start_mono_ns - prev_start) / 1e9);
    }
    if (msg != NULL) {
        scrape_fetch f = {.ok = false, .err = msg};
        loop_complete(w, l, &f);
        return;
    }
    scrape_http_begin(l, job);
    if (l->fast_gen != gen || gen == 0) {
        scrape_fast_configure(l, job, scrape_http_accept(job, &l->arena));
        l->fast_gen = gen;
    }
    if (l->fast.usable) {
        scrape_fetch f;
        int r = scrape_fast_start(l, l->start_mono_ns, &f);
        if (r == 0) {
            l->in_flight = true;
            l->fast_in_flight = true;
            if (w->ninflight == w->inflight_cap) {
                w->inflight_cap = w->inflight_cap ? w->inflight_cap * 2 : 16;
                w->inflight = odin_realloc(w->inflight, w->inflight_cap * sizeof *w->inflight);
            }
            w->inflight[w->ninflight++] = l;
            return;
        }
        if (r == 1) {
            loop_complete(w, l, &f);
            return;
        }
        /* a redirect: libcurl makes this scrape and the loop's next ones */
    }
    curl_start(w, l, job, gen);
}

/* Clears l's fast_in_flight and takes it out of the worker's in-flight list. */
static void fast_landed(scrape_worker *w, scrape_loop *l)
{
    l->fast_in_flight = false;
    for (size_t i = 0; i < w->ninflight; i++) {
        if (w->inflight[i] == l) {
            w->inflight[i] = w->inflight[--w->ninflight];
            return;
        }
    }
}

static void loop_abort(scrape_worker *w, scrape_loop *l)
{
    if (l->fast_in_flight) {
        scrape_fast_abort(l);
        fast_landed(w, l);
        l->in_flight = false;
    }
    if (l->in_flight) {
        curl_multi_remove_handle(w->multi, l->easy);
        l->in_flight = false;
    }
}

/* Moves the loop along its states; returns the next time (mono ms) it needs attention. */
static int64_t loop_step(scrape_worker *w, scrape_loop *l, int64_t now)
{
    scrape_manager *m = w->m;
    if (l->state == SCRAPE_LOOP_RUNNING) {
        pthread_mutex_lock(&m->lock);
        bool stop = l->stop_requested, shutdown = l->shutdown;
        pthread_mutex_unlock(&m->lock);
        if (stop) {
            loop_abort(w, l);
            if (shutdown || !l->scraped_once) {
                l->state = SCRAPE_LOOP_DEAD;
                return now;
            }
            /* Prometheus waits for two more ticks and 10% before marking the series stale, in
             * case the target comes back (a reload); the markers carry the next tick's time. */
            l->state = SCRAPE_LOOP_ENDING;
            int64_t next_tick = l->next_mono_ms > now ? l->next_mono_ms : now;
            l->last_ts = odin_now_ms() + (next_tick - now);
            l->stale_due_mono_ms = next_tick + l->interval_ms + l->interval_ms / 10;
            return l->stale_due_mono_ms;
        }
    }
    if (l->state == SCRAPE_LOOP_ENDING) {
        pthread_mutex_lock(&m->lock);
        bool shutdown = l->shutdown;
        pthread_mutex_unlock(&m->lock);
        if (shutdown) {
            l->state = SCRAPE_LOOP_DEAD;
            return now;
        }
        if (now < l->stale_due_mono_ms) {
            return l->stale_due_mono_ms;
        }
        scrape_loop_write_stale(l, m->db, l->last_ts);
        l->state = SCRAPE_LOOP_DEAD;
        return now;
    }
    if (l->state != SCRAPE_LOOP_RUNNING) {
        return now;
    }
    if (l->next_mono_ms == 0) {
        l->next_mono_ms =
            now + scrape_target_offset_ms(l->hash, m->offset_seed, l->interval_ms, odin_now_ms());
    }
    if (now < l->next_mono_ms) {
        return l->next_mono_ms;
    }
    if (!l->in_flight) {
        loop_start_scrape(w, l, l->next_mono_ms);
    }
    /* a tick missed while busy is skipped, as a Go ticker drops ticks */
    while (l->next_mono_ms <= now) {
        l->next_mono_ms += l->interval_ms;
    }
    return l->next_mono_ms;
}

static void drain_done(scrape_worker *w)
{
    for (;;) {
        int left;
        CURLMsg *msg = curl_multi_info_read(w->multi, &left);
        if (msg == NULL) {
            break;
        }
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        CURL *e = msg->easy_handle;
        int code = (int)msg->data.result;
        scrape_loop *l = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&l);
        curl_multi_remove_handle(w->multi, e);
        if (l == NULL) {
            continue;
        }
        l->in_flight = false;
        scrape_fetch f;
        scrape_http_finish(l, code, &f);
        loop_complete(w, l, &f);
    }
}

/* Moves libcurl's transfers along and completes those that finished; nothing before the first
 * scrape that needs libcurl. cfg_lock read-held. */
static void perform(scrape_worker *w)
{
    if (w->multi != NULL) {
        int running = 0;
        curl_multi_perform(w->multi, &running);
        drain_done(w);
    }
}

/* Moves the plain-HTTP transfers given to the last poll along; completes those that finished.
 * cfg_lock read-held. */
static void fast_progress(scrape_worker *w)
{
    const struct pollfd *p = w->pollfds;
    int64_t now = odin_mono_ns();
    for (size_t i = 0; i < w->nwaiting; i++) {
        scrape_loop *l = w->waiting[i];
        if (!l->fast_in_flight) {
            continue;
        }
        /* an error or hang-up as the event the transfer waited for: its read or write sees it */
        short re = p[i].revents & (POLLERR | POLLHUP) ? p[i].events
                                                      : (short)(p[i].revents & (POLLIN | POLLOUT));
        scrape_fetch f;
        int r = scrape_fast_step(l, re, now, &f);
        if (r == 0) {
            continue;
        }
        fast_landed(w, l);
        if (r < 0) { /* a redirect: libcurl takes over */
            const scrape_job *job = loop_job(w->m, l);
            l->in_flight = false;
            if (job != NULL) {
                pthread_mutex_lock(&w->m->lock);
                uint64_t gen = w->m->config_gen;
                pthread_mutex_unlock(&w->m->lock);
                curl_start(w, l, job, gen);
            }
            continue;
        }
        l->in_flight = false;
        loop_complete(w, l, &f);
    }
    w->nwaiting = 0;
}

/* Room for one more transfer in the poll arrays (which keep one entry more, for wake_fd;
 * waitfds is libcurl's form of pollfds). */
static void grow_waiting(scrape_worker *w)
{
    w->waiting_cap = w->waiting_cap ? w->waiting_cap * 2 : 16;
    w->waiting = odin_realloc(w->waiting, w->waiting_cap * sizeof *w->waiting);
    w->waitfds = odin_realloc(w->waitfds, (w->waiting_cap + 1) * sizeof(struct curl_waitfd));
    w->pollfds = odin_realloc(w->pollfds, (w->waiting_cap + 1) * sizeof *w->pollfds);
}

/* The descriptors of the plain-HTTP transfers in flight, for the next poll, which must end by
 * the first one's deadline (*wake_ms lowered to it). */
static void fast_collect(scrape_worker *w, int64_t *wake_ms)
{
    w->nwaiting = 0;
    for (size_t i = 0; i < w->ninflight; i++) {
        scrape_loop *l = w->inflight[i];
        if (w->nwaiting == w->waiting_cap) {
            grow_waiting(w);
        }
        if (l->fast.deadline_ns / 1000000 + 1 < *wake_ms) {
            *wake_ms = l->fast.deadline_ns / 1000000 + 1;
        }
        w->pollfds[w->nwaiting] =
            (struct pollfd){.fd = l->fast.fd, .events = scrape_fast_events(l)};
        w->waiting[w->nwaiting++] = l;
    }
}

/* Sleeps until a collected transfer's descriptor is ready, the worker is woken, or timeout_ms
 * pass: with poll(2), or through libcurl once the worker has a multi handle (its transfers need
 * the same wait), which takes the descriptors in its own form and reports only in, out and pri. */
static void worker_wait(scrape_worker *w, int timeout_ms)
{
    if (w->waiting_cap == 0) {
        grow_waiting(w);
    }
    struct pollfd *p = w->pollfds;
    size_t n = w->nwaiting;
    p[n] = (struct pollfd){.fd = w->wake_fd, .events = POLLIN};
    if (w->multi != NULL) {
        struct curl_waitfd *fds = w->waitfds;
        for (size_t i = 0; i <= n; i++) {
            fds[i] = (struct curl_waitfd){
                .fd = p[i].fd,
                .events = (short)(p[i].events == POLLIN ? CURL_WAIT_POLLIN : CURL_WAIT_POLLOUT)};
        }
        curl_multi_poll(w->multi, fds, (unsigned)n + 1, timeout_ms, NULL);
        for (size_t i = 0; i <= n; i++) {
            p[i].revents = (short)(((fds[i].revents & CURL_WAIT_POLLIN) ? POLLIN : 0) |
                                   ((fds[i].revents & CURL_WAIT_POLLOUT) ? POLLOUT : 0));
        }
    } else if (poll(p, (nfds_t)n + 1, timeout_ms) < 0) {
        for (size_t i = 0; i <= n; i++) {
            p[i].revents = 0; /* EINTR: nothing is known ready */
        }
    }
    if (p[n].revents & POLLIN) {
        uint64_t v;
        if (read(w->wake_fd, &v, sizeof v) < 0) {
            /* EAGAIN: another wait already took the count */
        }
    }
}

/* Unlinks and frees loops that finished; the manager never touches a DEAD loop. */
static void reap(scrape_worker *w)
{
    scrape_manager *m = w->m;
    scrape_loop *dead = NULL;
    pthread_mutex_lock(&m->lock);
    scrape_loop **pp = &w->loops;
    while (*pp != NULL) {
        scrape_loop *l = *pp;
        if (l->state == SCRAPE_LOOP_DEAD) {
            *pp = l->next;
            l->next = dead;
            dead = l;
        } else {
            pp = &l->next;
        }
    }
    pthread_mutex_unlock(&m->lock);
    while (dead != NULL) {
        scrape_loop *n = dead->next;
        scrape_loop_free(dead);
        dead = n;
    }
}

static void heap_push(scrape_worker *w, int64_t due_ms, scrape_loop *l)
{
    if (w->nheap == w->heap_cap) {
        w->heap_cap = w->heap_cap ? w->heap_cap * 2 : 64;
        w->heap = odin_realloc(w->heap, w->heap_cap * sizeof *w->heap);
    }
    size_t i = w->nheap++;
    while (i > 0 && w->heap[(i - 1) / 2].due_ms > due_ms) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = (struct scrape_due){due_ms, l};
}

static scrape_loop *heap_pop(scrape_worker *w)
{
    scrape_loop *top = w->heap[0].l;
    struct scrape_due last = w->heap[--w->nheap];
    size_t i = 0, n = w->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) {
            break;
        }
        if (c + 1 < n && w->heap[c + 1].due_ms < w->heap[c].due_ms) {
            c++;
        }
        if (w->heap[c].due_ms >= last.due_ms) {
            break;
        }
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n > 0) {
        w->heap[i] = last;
    }
    return top;
}

/* Steps l and files it under the time it next needs attention (a scrape in flight is watched
 * by its deadline in fast_collect instead); false when it died (the caller reaps). */
static bool step_and_file(scrape_worker *w, scrape_loop *l, int64_t now)
{
    int64_t due = loop_step(w, l, now);
    if (l->state == SCRAPE_LOOP_DEAD) {
        return false;
    }
    heap_push(w, due > now ? due : now + 1, l);
    return true;
}

void *scrape_worker_main(void *arg)
{
    scrape_worker *w = arg;
    scrape_manager *m = w->m;
    for (;;) {
        pthread_mutex_lock(&m->lock);
        bool stopping = m->stopping;
        scrape_loop *head = w->loops;
        pthread_mutex_unlock(&m->lock);
        if (stopping) {
            break;
        }
        int64_t now = mono_ms();
        bool all = atomic_exchange(&w->dirty, false) || w->heap == NULL;
        pthread_rwlock_rdlock(&m->cfg_lock);
        perform(w);
        fast_progress(w);
        bool died = false;
        if (all) {
            /* New loops are pushed at the head, so the list from `head` on is stable. */
            w->nheap = 0;
            size_t nloops = 0;
            for (scrape_loop *l = head; l != NULL; l = l->next) {
                died |= !step_and_file(w, l, now);
                nloops++;
            }
            size_connection_cache(w, nloops);
        } else {
            while (w->nheap > 0 && w->heap[0].due_ms <= now) {
                died |= !step_and_file(w, heap_pop(w), now);
            }
        }
        int64_t wake = now + MAX_POLL_MS;
        if (w->nheap > 0 && w->heap[0].due_ms < wake) {
            wake = w->heap[0].due_ms;
        }
        perform(w);
        pthread_rwlock_unlock(&m->cfg_lock);
        if (died) {
            reap(w); /* loops die only when stepped, and leave the heap then */
        }
        fast_collect(w, &wake);
        int64_t wait = wake - mono_ms();
        if (wait < 0) {
            wait = 0;
        }
        worker_wait(w, (int)(wait > MAX_POLL_MS ? MAX_POLL_MS : wait));
    }
    /* Shutdown: abort transfers, no stale markers (a restart continues the series). */
    pthread_mutex_lock(&m->lock);
    scrape_loop *l = w->loops;
    w->loops = NULL;
    pthread_mutex_unlock(&m->lock);
    while (l != NULL) {
        scrape_loop *n = l->next;
        loop_abort(w, l);
        scrape_loop_free(l);
        l = n;
    }
    while (w->nspare > 0) {
        odin_strbuf_fini(&w->spare[--w->nspare]);
    }
    free(w->heap);
    w->heap = NULL;
    w->nheap = w->heap_cap = 0;
    free(w->inflight);
    w->inflight = NULL;
    w->ninflight = w->inflight_cap = 0;
    free(w->waiting);
    free(w->waitfds);
    free(w->pollfds);
    w->pollfds = NULL;
    w->waiting = NULL;
    w->waitfds = NULL;
    w->nwaiting = w->waiting_cap = 0;
    return NULL;
}
