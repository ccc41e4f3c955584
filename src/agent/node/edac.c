/* edac: memory-controller error counters from <sysfs>/devices/system/edac/mc/mc*: per
 * controller, per csrow and per channel (with the DIMM label). */
#include "agent/agent_int.h"
#include "agent/storage_util.h"

#include <string.h>

static const agent_desc d_ce = {"node_edac_correctable_errors_total",
                                "Total correctable memory errors.",
                                EXPFMT_COUNTER,
                                {"controller", NULL}};
static const agent_desc d_ue = {"node_edac_uncorrectable_errors_total",
                                "Total uncorrectable memory errors.",
                                EXPFMT_COUNTER,
                                {"controller", NULL}};
static const agent_desc d_csrow_ce = {"node_edac_csrow_correctable_errors_total",
                                      "Total correctable memory errors for this csrow.",
                                      EXPFMT_COUNTER,
                                      {"controller", "csrow", NULL}};
static const agent_desc d_csrow_ue = {"node_edac_csrow_uncorrectable_errors_total",
                                      "Total uncorrectable memory errors for this csrow.",
                                      EXPFMT_COUNTER,
                                      {"controller", "csrow", NULL}};
static const agent_desc d_ch_ce = {"node_edac_channel_correctable_errors_total",
                                   "Total correctable memory errors for this channel.",
                                   EXPFMT_COUNTER,
                                   {"controller", "csrow", "channel", "dimm_label", NULL}};
static const agent_desc d_ch_ue = {"node_edac_channel_uncorrectable_errors_total",
                                   "Total uncorrectable memory errors for this channel.",
                                   EXPFMT_COUNTER,
                                   {"controller", "csrow", "channel", "dimm_label", NULL}};

/* The run of digits right after `prefix` at the start of name ("mc12x" -> "12"), as
 * node_exporter's `mc([0-9]*)` captures; may be empty. */
static const char *digits_after(agent_scrape *sc, const char *name, size_t prefix_len)
{
    const char *p = name + prefix_len;
    size_t n = 0;
    while (p[n] >= '0' && p[n] <= '9') {
        n++;
    }
    return agent_strdup(sc, (odin_str){p, n});
}

/* Go's strings.ReplaceAll into scrape memory. */
static odin_str replace_all(agent_scrape *sc, odin_str s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    for (size_t i = 0; i < s.len;) {
        if (i + fl <= s.len && memcmp(s.p + i, from, fl) == 0) {
            odin_strbuf_put(&b, to, tl);
            i += fl;
        } else {
            odin_strbuf_putc(&b, s.p[i]);
            i++;
        }
    }
    const char *out = agent_strdup(sc, (odin_str){b.p ? b.p : "", b.len});
    size_t len = b.len;
    odin_strbuf_fini(&b);
    return (odin_str){out, len};
}

/* ch<N>_dimm_label with '#' removed and "csrow"/"channel" prefixed by '_'; "unknown" when the
 * file cannot be read. */
static const char *dimm_label(agent_scrape *sc, const char *csrow, const char *channel)
{
    odin_str s;
    odin_err e = {0};
    if (agent_read(sc, agent_path(sc, AGENT_SYS, "%s/ch%s_dimm_label", csrow, channel), &s, &e) <
        0) {
        return "unknown";
    }
    s = odin_str_trim(s);
    s = replace_all(sc, s, "#", "");
    s = replace_all(sc, s, "csrow", "_csrow");
    s = replace_all(sc, s, "channel", "_channel");
    return s.p;
}

static int read_count(agent_scrape *sc, const char *dir, const char *file, uint64_t *v,
                      odin_err *err)
{
    return storage_read_uint(sc, agent_path(sc, AGENT_SYS, "%s/%s", dir, file), v, err);
}

static int collect_channels(agent_scrape *sc, const char *ctl, const char *csrow,
                            const char *csrow_num, odin_err *err)
{
    const char **chs;
    size_t nch = storage_glob(sc, agent_path(sc, AGENT_SYS, "%s", csrow), "ch*_ce_count", &chs);
    for (size_t k = 0; k < nch; k++) {
        /* `ch([0-9]+)_ce_count`: digits then the suffix, right after "ch" */
        const char *p = chs[k] + 2;
        size_t nd = 0;
        while (p[nd] >= '0' && p[nd] <= '9') {
            nd++;
        }
        if (nd == 0 || strcmp(p + nd, "_ce_count") != 0) {
            continue;
        }
        const char *ch = agent_strdup(sc, (odin_str){p, nd});
        const char *label = dimm_label(sc, csrow, ch);
        uint64_t v;
        if (read_count(sc, csrow, chs[k], &v, err) < 0) {
            odin_err_prefix(err,
                            "couldn't get ce_count for controller/csrow/channel %s/%s/%s: ", ctl,
                            csrow_num, ch);
            return -ODIN_ERR_IO;
        }
        const char *lv[] = {ctl, csrow_num, ch, label};
        agent_emit(sc, &d_ch_ce, (double)v, lv);
        odin_err ue_err = {0};
        const char *ue = odin_arena_printf(agent_scrape_arena(sc), "ch%s_ue_count", ch);
        if (read_count(sc, csrow, ue, &v, &ue_err) == 0) {
            agent_emit(sc, &d_ch_ue, (double)v, lv);
        }
    }
    return 0;
}

static int collect_controller(agent_scrape *sc, const char *mc_dir, const char *ctl, odin_err *err)
{
    static const struct {
        const char *file;
        const agent_desc *d;
        bool csrow_unknown;
    } counts[] = {
        {"ce_count", &d_ce, false},
        {"ce_noinfo_count", &d_csrow_ce, true},
        {"ue_count", &d_ue, false},
        {"ue_noinfo_count", &d_csrow_ue, true},
    };
    for (size_t i = 0; i < ODIN_ARRAY_LEN(counts); i++) {
        uint64_t v;
        if (read_count(sc, mc_dir, counts[i].file, &v, err) < 0) {
            odin_err_prefix(err, "couldn't get %s for controller %s: ", counts[i].file, ctl);
            return -ODIN_ERR_IO;
        }
        const char *lv[] = {ctl, "unknown"};
        agent_emit(sc, counts[i].d, (double)v, lv);
    }
    const char **rows;
    size_t nrows = storage_glob(sc, agent_path(sc, AGENT_SYS, "%s", mc_dir), "csrow[0-9]*", &rows);
    for (size_t r = 0; r < nrows; r++) {
        const char *csrow = odin_arena_printf(agent_scrape_arena(sc), "%s/%s", mc_dir, rows[r]);
        const char *num = digits_after(sc, rows[r], 5);
        uint64_t v;
        if (read_count(sc, csrow, "ce_count", &v, err) < 0) {
            odin_err_prefix(err, "couldn't get ce_count for controller/csrow %s/%s: ", ctl, num);
            return -ODIN_ERR_IO;
        }
        const char *lv[] = {ctl, num};
        agent_emit(sc, &d_csrow_ce, (double)v, lv);
        if (read_count(sc, csrow, "ue_count", &v, err) < 0) {
            odin_err_prefix(err, "couldn't get ue_count for controller/csrow %s/%s: ", ctl, num);
            return -ODIN_ERR_IO;
        }
        agent_emit(sc, &d_csrow_ue, (double)v, lv);
        if (collect_channels(sc, ctl, csrow, num, err) < 0) {
            return -ODIN_ERR_IO;
        }
    }
    return 0;
}

static int edac_collect(agent_scrape *sc, void *state, odin_err *err)
{
    (void)state;
    const char **mcs;
    size_t n =
        storage_glob(sc, agent_path(sc, AGENT_SYS, "devices/system/edac/mc"), "mc[0-9]*", &mcs);
    for (size_t i = 0; i < n; i++) {
        const char *dir =
            odin_arena_printf(agent_scrape_arena(sc), "devices/system/edac/mc/%s", mcs[i]);
        int rc = collect_controller(sc, dir, digits_after(sc, mcs[i], 2), err);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

const agent_collector_def agent_collector_edac = {
    .name = "edac",
    .default_on = true,
    .collect = edac_collect,
};
