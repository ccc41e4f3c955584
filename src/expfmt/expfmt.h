/* The Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text: a family model with a
 * writer (what the agent serves) and a pull parser (what the server scrapes and the textfile
 * collector reads). Pure functions over caller memory: no locks, no globals. */
#ifndef ODIN_EXPFMT_EXPFMT_H
#define ODIN_EXPFMT_EXPFMT_H

#include "base/base.h"

typedef enum {
    EXPFMT_UNTYPED = 0, /* "untyped" in 0.0.4, "unknown" in OpenMetrics */
    EXPFMT_COUNTER,
    EXPFMT_GAUGE,
    EXPFMT_HISTOGRAM,
    EXPFMT_SUMMARY,
    EXPFMT_GAUGE_HISTOGRAM, /* OpenMetrics only */
    EXPFMT_INFO,            /* OpenMetrics only */
    EXPFMT_STATESET,        /* OpenMetrics only */
} expfmt_type;

const char *expfmt_type_name(expfmt_type t);                   /* 0.0.4 spelling */
int expfmt_type_parse(odin_str s, bool openmetrics, expfmt_type *out); /* 0 or -ODIN_ERR_PARSE */

/* ---- Writer (writer.c) ----------------------------------------------------------------------- */

/* One sample of a family being written. Labels are sorted by name (odin_labels_sort) and exclude
 * the histogram/summary `le`/`quantile` label, which goes in `extra` and is printed last, as
 * client_golang does. `suffix` is "" or "_bucket", "_sum", "_count", "_total", ... */
typedef struct {
    odin_labels labels;
    odin_label extra;   /* name.len == 0 when absent */
    const char *suffix;
    double value;
    int64_t t_ms;
    bool has_t;
} expfmt_sample;

/* A family: the unit of HELP/TYPE. Memory for everything reachable from it belongs to whoever
 * built it (the agent builds them in a per-scrape arena). */
typedef struct {
    odin_str name;
    odin_str help;  /* unescaped; len 0 with has_help false prints no HELP line */
    bool has_help;
    expfmt_type type;
    expfmt_sample *samples;
    size_t len;
} expfmt_family;

/* Sorts samples by label values in label-name order, keeping the order of samples whose labels
 * are equal (buckets stay before _sum and _count), as client_golang's gatherer does. */
void expfmt_sort_samples(expfmt_family *f);
/* Appends the family in text format 0.0.4: "# HELP", "# TYPE", then one line per sample. */
void expfmt_write_family(odin_strbuf *out, const expfmt_family *f);
/* Appends `# HELP name text` with the 0.0.4 escapes (backslash and newline). */
void expfmt_write_help(odin_strbuf *out, odin_str name, odin_str help);

/* ---- Parser (parser.c) ----------------------------------------------------------------------- */

typedef enum {
    EXPFMT_ENTRY_EOF = 0,
    EXPFMT_ENTRY_HELP,    /* name, text */
    EXPFMT_ENTRY_TYPE,    /* name, type */
    EXPFMT_ENTRY_UNIT,    /* name, text (OpenMetrics) */
    EXPFMT_ENTRY_SAMPLE,  /* name, labels, value, t_ms/has_t */
    EXPFMT_ENTRY_COMMENT, /* a plain comment line (0.0.4) */
} expfmt_entry_kind;

/* What one call to expfmt_parser_next found. All odin_str point into the input buffer or into the
 * parser's scratch space and stay valid until the next call. Label values with escapes are
 * unescaped into scratch space. Exemplars (OpenMetrics) are read, validated and dropped. */
typedef struct {
    expfmt_entry_kind kind;
    odin_str name;
    odin_str text;         /* HELP or UNIT text, unescaped */
    expfmt_type type;
    odin_label *labels;    /* in input order, not sorted */
    size_t nlabels;
    /* The sample's series exactly as written: name through the closing '}' (or the name alone).
     * Byte-identical text parses to identical labels, so it can stand for them as a cache key. */
    odin_str series;
    /* Lazy mode: the label block was only skipped; labels/nlabels are empty until
     * expfmt_parser_labels parses (and validates) it. */
    bool labels_deferred;
    /* Lazy mode: `series` is the text given to expfmt_parser_expect for this call, taken by
     * comparing bytes instead of scanning them. */
    bool series_expected;
    double value;
    int64_t t_ms;
    bool has_t;
    size_t line;           /* 1-based line of this entry */
} expfmt_entry;

/* Pull parser over one complete payload. Borrowed input must outlive the parser.
 * Limits: label count per sample and line length, as given in the options (0 = defaults of
 * 256 labels and 1 MiB per line); past them expfmt_parser_next fails with ODIN_ERR_LIMIT. */
typedef struct expfmt_parser expfmt_parser;

typedef struct {
    bool openmetrics;      /* parse as OpenMetrics 1.0 (requires "# EOF") instead of 0.0.4 */
    size_t max_labels;
    size_t max_line_bytes;
    /* Skip sample label blocks instead of parsing them (the scrape loop, which mostly needs only
     * `series`). The rest of each line is checked as in eager mode, and any line that fails is
     * parsed again eagerly, so errors (text, line, column) are those of eager mode. */
    bool lazy_labels;
} expfmt_parser_opts;

expfmt_parser *expfmt_parser_new(const char *buf, size_t len, const expfmt_parser_opts *opts);
void expfmt_parser_free(expfmt_parser *p);
/* Starts p over on new input with new options, as expfmt_parser_new would, but keeps the scratch
 * it grew (label array, unescape buffer, duplicate set), so a parser kept across scrapes of the
 * same target allocates nothing once warm. Clears any error or end state. */
void expfmt_parser_reset(expfmt_parser *p, const char *buf, size_t len,
                         const expfmt_parser_opts *opts);
/* Returns 1 with *e filled, 0 at the end of input, or a negative odin code with err naming
 * line and column ("3:17: expected '=' after label name"). After an error the parser is done. */
int expfmt_parser_next(expfmt_parser *p, expfmt_entry *e, odin_err *err);
/* Parses the deferred labels of the sample `e` that the last expfmt_parser_next returned (no-op
 * unless e->labels_deferred). Returns 1, or the negative code and error eager mode would have
 * given for that line; after an error the parser is done. */
int expfmt_parser_labels(expfmt_parser *p, expfmt_entry *e, odin_err *err);
/* Lazy mode, 0.0.4: the caller expects the next line to be a sample of the series spelled
 * series[0..len), its metric name being the first name_len bytes (typically what the same line
 * said in the last scrape). If the next line starts with exactly that text and it is the line's
 * whole series, the parser takes it with one comparison instead of scanning it, and says so in
 * e->series_expected; otherwise it reads the line as always. The text must be the `series` of a
 * sample that a parser in the same format returned before, so that the same bytes are known to
 * read the same way. Applies to the next expfmt_parser_next call only; len 0 expects nothing. */
void expfmt_parser_expect(expfmt_parser *p, const char *series, size_t len, size_t name_len);
/* Picks the format from a Content-Type header value (application/openmetrics-text => true). */
bool expfmt_is_openmetrics(const char *content_type);

#endif
