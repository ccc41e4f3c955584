/* The counters file: dcgm-exporter's CSV ("FIELD, prom-type, help"), which picks the fields served
 * and their types and HELP text. dcgm-exporter's default-counters.csv is built in. */
#include "agent/gpu/gpu_int.h"

#include <stdlib.h>
#include <string.h>

/* The enabled lines of dcgm-exporter 4.5.3-4.8.2 etc/default-counters.csv (identical to
 * dcp-metrics-included.csv), so the default output matches dcgm-exporter's. */
static const char default_counters[] =
    "DCGM_FI_DEV_SM_CLOCK,  gauge, SM clock frequency (in MHz).\n"
    "DCGM_FI_DEV_MEM_CLOCK, gauge, Memory clock frequency (in MHz).\n"
    "DCGM_FI_DEV_MEMORY_TEMP, gauge, Memory temperature (in C).\n"
    "DCGM_FI_DEV_GPU_TEMP,    gauge, GPU temperature (in C).\n"
    "DCGM_FI_DEV_POWER_USAGE,              gauge, Power draw (in W).\n"
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, counter, Total energy consumption since boot (in mJ).\n"
    "DCGM_FI_DEV_PCIE_REPLAY_COUNTER, counter, Total number of PCIe retries.\n"
    "DCGM_FI_DEV_GPU_UTIL,      gauge, GPU utilization (in %).\n"
    "DCGM_FI_DEV_MEM_COPY_UTIL, gauge, Memory utilization (in %).\n"
    "DCGM_FI_DEV_ENC_UTIL,      gauge, Encoder utilization (in %).\n"
    "DCGM_FI_DEV_DEC_UTIL ,     gauge, Decoder utilization (in %).\n"
    "DCGM_FI_DEV_XID_ERRORS,              gauge,   Value of the last XID error encountered.\n"
    "DCGM_FI_DEV_FB_FREE, gauge, Framebuffer memory free (in MiB).\n"
    "DCGM_FI_DEV_FB_USED, gauge, Framebuffer memory used (in MiB).\n"
    "DCGM_FI_DEV_FB_RESERVED, gauge, Framebuffer memory reserved (in MiB).\n"
    "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL,            counter, Total number of NVLink bandwidth "
    "counters for all lanes.\n"
    "DCGM_FI_DEV_VGPU_LICENSE_STATUS, gauge, vGPU License status\n"
    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS, counter, Number of remapped rows for uncorrectable "
    "errors\n"
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS,   counter, Number of remapped rows for correctable "
    "errors\n"
    "DCGM_FI_DEV_ROW_REMAP_FAILURE,           gauge,   Whether remapping of rows has failed\n"
    "DCGM_FI_DRIVER_VERSION,        label, Driver Version\n"
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE,   gauge, Ratio of time the graphics engine is active.\n"
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, gauge, Ratio of cycles the tensor (HMMA) pipe is active.\n"
    "DCGM_FI_PROF_DRAM_ACTIVE,        gauge, Ratio of cycles the device memory interface is "
    "active sending or receiving data.\n"
    "DCGM_FI_PROF_PCIE_TX_BYTES,      gauge, The rate of data transmitted over the PCIe bus - "
    "including both protocol headers and data payloads - in bytes per second.\n"
    "DCGM_FI_PROF_PCIE_RX_BYTES,      gauge, The rate of data received over the PCIe bus - "
    "including both protocol headers and data payloads - in bytes per second.\n";

/* The most lines a counters file may have: every DCGM field is well under this. */
enum { COUNTERS_MAX_LINES = 4096 };

static int parse_type(odin_str t, expfmt_type *type, bool *is_label)
{
    *is_label = false;
    if (odin_str_eq_c(t, "gauge")) {
        *type = EXPFMT_GAUGE;
    } else if (odin_str_eq_c(t, "counter")) {
        *type = EXPFMT_COUNTER;
    } else if (odin_str_eq_c(t, "histogram")) {
        *type = EXPFMT_HISTOGRAM;
    } else if (odin_str_eq_c(t, "summary")) {
        *type = EXPFMT_SUMMARY;
    } else if (odin_str_eq_c(t, "label")) {
        *type = EXPFMT_UNTYPED;
        *is_label = true;
    } else {
        return -1;
    }
    return 0;
}

static void counter_add(agent_gpu_counter **v, size_t *n, int field, expfmt_type type,
                        odin_str help)
{
    *v = odin_realloc(*v, (*n + 1) * sizeof(**v));
    (*v)[*n] = (agent_gpu_counter){field, type, odin_strndup(help.p, help.len)};
    (*n)++;
}

static void note_skipped(odin_strbuf *skipped, odin_str name)
{
    if (skipped->len) {
        odin_strbuf_putc(skipped, ',');
    }
    odin_strbuf_putstr(skipped, name);
}

/* One record; 0, or -ODIN_ERR_PARSE with err naming source and line. A field given twice keeps
 * its first line, as dcgm-exporter dedupes watched fields. */
static int parse_line(odin_str line, const char *source, size_t lineno, agent_gpu_counters *out,
                      odin_strbuf *skipped, odin_err *err)
{
    size_t commas = 0;
    for (size_t i = 0; i < line.len; i++) {
        commas += line.p[i] == ',';
    }
    odin_str name = odin_str_trim(odin_str_cut(&line, ','));
    odin_str type_s = odin_str_trim(odin_str_cut(&line, ','));
    odin_str help = odin_str_trim(line);
    if (commas != 2 || !name.len || !type_s.len) {
        return odin_err_set(err, ODIN_ERR_PARSE,
                            "%s:%zu: expected 3 fields \"FIELD, type, help\"", source, lineno);
    }
    expfmt_type type;
    bool is_label;
    if (parse_type(type_s, &type, &is_label) < 0) {
        return odin_err_set(err, ODIN_ERR_PARSE,
                            "%s:%zu: %.*s: unknown metric type \"%.*s\" (gauge, counter, "
                            "histogram, summary or label)",
                            source, lineno, (int)(name.len > 64 ? 64 : name.len), name.p,
                            (int)(type_s.len > 64 ? 64 : type_s.len), type_s.p);
    }
    int f = agent_gpu_field_find(name);
    if (f < 0 || agent_gpu_fields[f].is_label != is_label) {
        note_skipped(skipped, name);
        return 0;
    }
    if (out->wanted & (1ull << f)) {
        return 0;
    }
    out->wanted |= 1ull << f;
    if (is_label) {
        counter_add(&out->labels, &out->nlabels, f, type, help);
    } else {
        counter_add(&out->metrics, &out->nmetrics, f, type, help);
    }
    return 0;
}

int agent_gpu_counters_parse(odin_str text, const char *source, agent_gpu_counters *out,
                             char **skipped, odin_err *err)
{
    memset(out, 0, sizeof(*out));
    *skipped = NULL;
    odin_strbuf sk;
    odin_strbuf_init(&sk, 4096);
    size_t lineno = 0;
    int rc = 0;
    while (text.len && rc == 0) {
        odin_str line = odin_str_trim(odin_str_cut(&text, '\n'));
        if (++lineno > COUNTERS_MAX_LINES) {
            rc = odin_err_set(err, ODIN_ERR_LIMIT, "%s: more than %d lines", source,
                              COUNTERS_MAX_LINES);
            break;
        }
        if (!line.len || line.p[0] == '#') {
            continue;
        }
        rc = parse_line(line, source, lineno, out, &sk, err);
    }
    if (rc == 0 && sk.len) {
        *skipped = odin_strbuf_take(&sk, NULL);
    }
    odin_strbuf_fini(&sk);
    if (rc < 0) {
        agent_gpu_counters_fini(out);
    }
    return rc;
}

int agent_gpu_counters_load(const char *path, agent_gpu_counters *out, char **skipped,
                            odin_err *err)
{
    if (!path || !path[0]) {
        return agent_gpu_counters_parse(ODIN_STR(default_counters), "default-counters.csv", out,
                                        skipped, err);
    }
    odin_strbuf buf;
    odin_strbuf_init(&buf, 1u << 20);
    int rc = odin_read_file(path, &buf, 1u << 20, err);
    if (rc == 0) {
        rc = agent_gpu_counters_parse((odin_str){buf.p, buf.len}, path, out, skipped, err);
    }
    odin_strbuf_fini(&buf);
    return rc;
}

void agent_gpu_counters_fini(agent_gpu_counters *c)
{
    for (size_t i = 0; i < c->nmetrics; i++) {
        free(c->metrics[i].help);
    }
    for (size_t i = 0; i < c->nlabels; i++) {
        free(c->labels[i].help);
    }
    free(c->metrics);
    free(c->labels);
    memset(c, 0, sizeof(*c));
}
