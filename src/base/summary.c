/* A Prometheus summary: quantiles over the recent observations, sum and count over all of them.
 * client_golang estimates its quantiles (CKMS, within the objective's error) over a sliding
 * 10-minute window; this keeps the window's observations themselves (up to a fixed number, the
 * oldest dropped first) and reads exact nearest-rank quantiles from them: the same figures,
 * without the estimation error, and a window that is shorter only past `cap` observations. */
#include "base/base.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct odin_summary {
    pthread_mutex_t mu;
    double *v; /* a ring of the window's observations, oldest at `first` */
    int64_t *t_ms;
    size_t cap, first, n;
    int64_t max_age_ms;
    double sum;
    uint64_t count;
};

odin_summary *odin_summary_new(size_t cap, int64_t max_age_ms)
{
    odin_summary *s = odin_calloc(1, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->cap = cap ? cap : 1;
    s->max_age_ms = max_age_ms;
    s->v = odin_malloc(s->cap * sizeof(*s->v));
    s->t_ms = odin_malloc(s->cap * sizeof(*s->t_ms));
    return s;
}

void odin_summary_free(odin_summary *s)
{
    if (s == NULL) {
        return;
    }
    free(s->v);
    free(s->t_ms);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void odin_summary_observe(odin_summary *s, double v)
{
    int64_t now = odin_now_ms();
    pthread_mutex_lock(&s->mu);
    size_t at = (s->first + s->n) % s->cap;
    if (s->n == s->cap) {
        s->first = (s->first + 1) % s->cap; /* full: the oldest goes */
    } else {
        s->n++;
    }
    s->v[at] = v;
    s->t_ms[at] = now;
    s->sum += v;
    s->count++;
    pthread_mutex_unlock(&s->mu);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void odin_summary_read(odin_summary *s, const double *qs, size_t nq, double *out, double *sum,
                       uint64_t *count)
{
    int64_t oldest = odin_now_ms() - s->max_age_ms;
    pthread_mutex_lock(&s->mu);
    while (s->n > 0 && s->t_ms[s->first] < oldest) { /* observed in time order */
        s->first = (s->first + 1) % s->cap;
        s->n--;
    }
    size_t n = s->n;
    double *w = odin_malloc((n ? n : 1) * sizeof(*w));
    for (size_t i = 0; i < n; i++) {
        w[i] = s->v[(s->first + i) % s->cap];
    }
    *sum = s->sum;
    *count = s->count;
    pthread_mutex_unlock(&s->mu);
    qsort(w, n, sizeof(*w), cmp_double);
    for (size_t i = 0; i < nq; i++) {
        if (n == 0) {
            out[i] = NAN; /* as client_golang prints a quantile with no observations */
            continue;
        }
        double rank = ceil(qs[i] * (double)n);
        size_t k = rank < 1 ? 0 : (size_t)rank - 1;
        out[i] = w[k < n ? k : n - 1];
    }
    free(w);
}
