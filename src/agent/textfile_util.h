/* Private to the textfile collector: turns one *.prom file into metric families the way
 * node_exporter's parser (prometheus/common expfmt.TextParser) groups them, plus Go's path
 * cleaning. The lexing is expfmt's pull parser; what this adds is TextParser's family model.
 *
 * Threads: called from collect() only (under the agent's scrape lock). Memory: everything returned
 * lives in the arena passed in and dies with the scrape. */
#ifndef ODIN_AGENT_TEXTFILE_UTIL_H
#define ODIN_AGENT_TEXTFILE_UTIL_H

#include "expfmt/expfmt.h"

/* One quantile (summary) or bucket (histogram): bound is the quantile or `le`. */
typedef struct {
    double bound;
    double value;
} agent_tf_point;

/* One dto.Metric: a plain sample, or a whole summary/histogram whose samples share labels. */
typedef struct {
    odin_label *labels; /* input order, without quantile/le for summaries/histograms */
    size_t nlabels;
    double value;           /* counter, gauge, untyped */
    agent_tf_point *points; /* summary quantiles or histogram buckets, input order */
    size_t npoints;
    size_t cap_points;
    double sum;
    double count;      /* summary/histogram sample count, already as Go's uint64 conversion */
    bool float_counts; /* histogram with a non-integral count: node_exporter exports zeros */
} agent_tf_metric;

/* One dto.MetricFamily of one file. help is meaningful only when has_help. */
typedef struct {
    odin_str name;
    odin_str help;
    bool has_help;
    bool has_type;
    expfmt_type type;
    agent_tf_metric *metrics;
    size_t len;
    size_t cap;
} agent_tf_family;

/* The families of one file in first-seen order (empty ones, HELP/TYPE without samples, dropped). */
typedef struct {
    agent_tf_family **v;
    size_t len;
    bool has_timestamps; /* some sample carried a client-side timestamp */
} agent_tf_file;

/* Parses text (0.0.4) into families. Returns 0, or -ODIN_ERR_PARSE / -ODIN_ERR_LIMIT with err
 * naming "<path>:<line>..." as TextParser would refuse the file. */
int agent_tf_parse(odin_arena *a, const char *path, odin_str text, agent_tf_file *out,
                   odin_err *err);

/* Go's path/filepath.Join(dir, name) on Unix, which also cleans the result (Clean). */
const char *agent_tf_join(odin_arena *a, const char *dir, const char *name);

#endif
