/* Our own declarations of the part of NVML (libnvidia-ml.so.1) the gpu collector uses, and a loader
 * that opens the library at run time. No NVIDIA header or library is needed to build Odin.
 *
 * Facts come from ../shared/reference/dcgm.md §3 (NVML 13.3 header as published in go-nvml):
 * return codes, enums and struct layouts for x86-64 and aarch64 (LP64). Sizes are checked below
 * with static asserts so a typo in a layout fails the build rather than corrupting memory.
 *
 * Threads: nvml_open/nvml_close run on one thread; the call wrappers may run on any thread (NVML
 * itself is thread-safe). Memory: nvml_lib is owned by its caller (init/fini pair). */
#ifndef ODIN_AGENT_GPU_NVML_H
#define ODIN_AGENT_GPU_NVML_H

#include "base/base.h"

/* ---- Return codes (nvmlReturn_t, a C enum: 32-bit int) --------------------------------------- */

typedef int nvml_return;
enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_ALREADY_INITIALIZED = 5,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_INSUFFICIENT_POWER = 8,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,
    NVML_ERROR_IRQ_ISSUE = 11,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,
    NVML_ERROR_CORRUPTED_INFOROM = 14,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_RESET_REQUIRED = 16,
    NVML_ERROR_OPERATING_SYSTEM = 17,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
    NVML_ERROR_IN_USE = 19,
    NVML_ERROR_MEMORY = 20,
    NVML_ERROR_NO_DATA = 21,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_DEPRECATED = 26,
    NVML_ERROR_NOT_READY = 27,
    NVML_ERROR_GPU_NOT_FOUND = 28,
    NVML_ERROR_INVALID_STATE = 29,
    NVML_ERROR_UNKNOWN = 999,
};

/* ---- Handles (opaque pointers; NVML 12+ wraps them in a one-pointer struct, same ABI) -------- */

typedef struct nvml_device_st *nvml_device;
typedef struct nvml_event_set_st *nvml_event_set;
typedef struct nvml_gpm_sample_st *nvml_gpm_sample;

/* ---- Enums and constants ----------------------------------------------------------------------- */

enum { NVML_CLOCK_GRAPHICS = 0, NVML_CLOCK_SM = 1, NVML_CLOCK_MEM = 2, NVML_CLOCK_VIDEO = 3 };
enum { NVML_TEMPERATURE_GPU = 0 };
enum { NVML_DEVICE_MIG_DISABLE = 0, NVML_DEVICE_MIG_ENABLE = 1 };
enum { NVML_GRID_LICENSE_FEATURE_CODE_VGPU = 1 };
enum { NVML_INFOROM_OEM = 0, NVML_INFOROM_ECC = 1, NVML_INFOROM_POWER = 2 };
#define NVML_EVENT_TYPE_XID_CRITICAL_ERROR 0x8ULL

/* Buffer sizes (the _V2 sizes are the larger ones; a larger buffer is always accepted). */
enum {
    NVML_UUID_BUFFER_SIZE = 96,
    NVML_NAME_BUFFER_SIZE = 96,
    NVML_SERIAL_BUFFER_SIZE = 30,
    NVML_VBIOS_BUFFER_SIZE = 32,
    NVML_INFOROM_BUFFER_SIZE = 16,
    NVML_VERSION_BUFFER_SIZE = 80,
};

/* Field ids for nvmlDeviceGetFieldValues (NVML_FI_DEV_*). */
enum {
    NVML_FI_DEV_ECC_SBE_VOL_TOTAL = 3,
    NVML_FI_DEV_ECC_DBE_VOL_TOTAL = 4,
    NVML_FI_DEV_ECC_SBE_AGG_TOTAL = 5,
    NVML_FI_DEV_ECC_DBE_AGG_TOTAL = 6,
    NVML_FI_DEV_RETIRED_SBE = 29,
    NVML_FI_DEV_RETIRED_DBE = 30,
    NVML_FI_DEV_RETIRED_PENDING = 31,
    NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL = 38,
    NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL = 45,
    NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL = 52,
    NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL = 59,
    NVML_FI_DEV_PERF_POLICY_POWER = 74,
    NVML_FI_DEV_PERF_POLICY_THERMAL = 75,
    NVML_FI_DEV_PERF_POLICY_SYNC_BOOST = 76,
    NVML_FI_DEV_PERF_POLICY_BOARD_LIMIT = 77,
    NVML_FI_DEV_PERF_POLICY_LOW_UTILIZATION = 78,
    NVML_FI_DEV_PERF_POLICY_RELIABILITY = 79,
    NVML_FI_DEV_MEMORY_TEMP = 82,
    NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION = 83,
    NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX = 138,
    NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX = 139,
};

/* nvmlValueType_t */
enum {
    NVML_VALUE_TYPE_DOUBLE = 0,
    NVML_VALUE_TYPE_UNSIGNED_INT = 1,
    NVML_VALUE_TYPE_UNSIGNED_LONG = 2,
    NVML_VALUE_TYPE_UNSIGNED_LONG_LONG = 3,
    NVML_VALUE_TYPE_SIGNED_LONG_LONG = 4,
    NVML_VALUE_TYPE_SIGNED_INT = 5,
    NVML_VALUE_TYPE_UNSIGNED_SHORT = 6,
};

/* GPM metric ids (nvmlGpmMetricId_t); utilisations are percent, PCIe rates MiB/s. */
enum {
    NVML_GPM_METRIC_GRAPHICS_UTIL = 1,
    NVML_GPM_METRIC_SM_UTIL = 2,
    NVML_GPM_METRIC_SM_OCCUPANCY = 3,
    NVML_GPM_METRIC_ANY_TENSOR_UTIL = 5,
    NVML_GPM_METRIC_DRAM_BW_UTIL = 10,
    NVML_GPM_METRIC_FP64_UTIL = 11,
    NVML_GPM_METRIC_FP32_UTIL = 12,
    NVML_GPM_METRIC_FP16_UTIL = 13,
    NVML_GPM_METRIC_PCIE_TX_PER_SEC = 20,
    NVML_GPM_METRIC_PCIE_RX_PER_SEC = 21,
};
/* NVML_GPM_METRIC_MAX grew 98 -> 210 -> 333 with version still 1; we size for the largest. */
enum { NVML_GPM_METRIC_MAX = 333, NVML_GPM_METRICS_GET_VERSION = 1, NVML_GPM_SUPPORT_VERSION = 1 };

/* Struct-versioned arguments: sizeof(struct) | (version << 24). */
#define NVML_MEMORY_V2_VERSION 0x02000028u

/* ---- Structs (x86-64 offsets in comments, dcgm.md §3.5) ---------------------------------------- */

typedef struct {
    char bus_id_legacy[16]; /* @0 */
    unsigned domain;        /* @16 */
    unsigned bus;           /* @20 */
    unsigned device;        /* @24 */
    unsigned pci_device_id; /* @28 */
    unsigned pci_subsystem_id; /* @32 */
    char bus_id[32];        /* @36 "00000000:3B:00.0" */
} nvml_pci_info;            /* 68 bytes */

typedef struct {
    unsigned long long total, free, used; /* bytes; used includes reserved */
} nvml_memory;

typedef struct {
    unsigned version;            /* NVML_MEMORY_V2_VERSION */
    unsigned long long total;    /* @8 */
    unsigned long long reserved; /* @16 */
    unsigned long long free;     /* @24 */
    unsigned long long used;     /* @32, excludes reserved */
} nvml_memory_v2;

typedef struct {
    unsigned gpu;    /* percent of the sample period a kernel ran */
    unsigned memory; /* percent the memory controller was busy */
} nvml_utilization;

typedef union {
    double d;
    int si;
    unsigned ui;
    unsigned long ul;
    unsigned long long ull;
    long long sll;
    unsigned short us;
} nvml_value;

typedef struct {
    unsigned field_id;   /* @0 in: NVML_FI_DEV_* */
    unsigned scope_id;   /* @4 in: link or UINT_MAX for all */
    long long timestamp; /* @8 out: microseconds */
    long long latency_usec; /* @16 */
    int value_type;      /* @24 NVML_VALUE_TYPE_* */
    nvml_return ret;     /* @28 per-field result */
    nvml_value value;    /* @32 */
} nvml_field_value;      /* 40 bytes */

typedef struct {
    nvml_device device;          /* @0 */
    unsigned long long event_type; /* @8 */
    unsigned long long event_data; /* @16: the XID number for XID events */
    unsigned gpu_instance_id;    /* @24: 0xFFFFFFFF when not MIG */
    unsigned compute_instance_id; /* @28 */
} nvml_event_data;               /* 32 bytes */

typedef struct {
    unsigned multiprocessor_count;
    unsigned shared_copy_engine_count;
    unsigned shared_decoder_count;
    unsigned shared_encoder_count;
    unsigned shared_jpeg_count;
    unsigned shared_ofa_count;
    unsigned gpu_instance_slice_count; /* the "1" of MIG profile "1g.10gb" */
    unsigned compute_instance_slice_count;
    unsigned long long memory_size_mb; /* @32 */
} nvml_device_attributes;              /* 40 bytes */

typedef struct {
    unsigned pid;
    unsigned long long used_gpu_memory; /* @8 bytes; NVML_VALUE_NOT_AVAILABLE when unknown */
    unsigned gpu_instance_id;           /* @16 */
    unsigned compute_instance_id;       /* @20 */
} nvml_process_info;                    /* 24 bytes (the _v3 calls) */

/* NVML_VALUE_NOT_AVAILABLE: used_gpu_memory when the driver cannot say (e.g. under WDDM, or
 * without the privileges to see another container's process). */
#define NVML_VALUE_NOT_AVAILABLE 0xffffffffffffffffULL

typedef struct {
    unsigned pid;
    unsigned long long time_stamp; /* @8 microseconds, CPU clock */
    unsigned sm_util;              /* @16 percent */
    unsigned mem_util;             /* @20 */
    unsigned enc_util;             /* @24 */
    unsigned dec_util;             /* @28 */
} nvml_process_utilization_sample; /* 32 bytes (nvmlProcessUtilizationSample_t) */

typedef struct {
    unsigned version; /* NVML_GPM_SUPPORT_VERSION */
    unsigned is_supported_device;
} nvml_gpm_support;

typedef struct {
    unsigned metric_id;
    nvml_return ret;
    double value;
    struct {
        char *short_name, *long_name, *unit;
    } info;
} nvml_gpm_metric; /* 40 bytes */

typedef struct {
    unsigned version; /* NVML_GPM_METRICS_GET_VERSION */
    unsigned num_metrics;
    nvml_gpm_sample sample1, sample2;
    nvml_gpm_metric metrics[NVML_GPM_METRIC_MAX];
} nvml_gpm_metrics_get; /* 24 + 40 * MAX bytes */

typedef struct {
    int feature_code;  /* NVML_GRID_LICENSE_FEATURE_CODE_* */
    unsigned feature_state;
    char license_info[128];
    char product_name[128];
    unsigned feature_enabled;
    struct {
        unsigned year;
        unsigned short month, day, hour, min, sec;
        unsigned char status;
    } license_expiry;
} nvml_grid_licensable_feature; /* 284 bytes */

typedef struct {
    int is_grid_license_supported;
    unsigned licensable_features_count;
    nvml_grid_licensable_feature features[3];
} nvml_grid_licensable_features; /* 860 bytes */

_Static_assert(sizeof(nvml_pci_info) == 68, "nvmlPciInfo_t layout");
_Static_assert(sizeof(nvml_memory_v2) == 40, "nvmlMemory_v2_t layout");
_Static_assert(sizeof(nvml_field_value) == 40, "nvmlFieldValue_t layout");
_Static_assert(sizeof(nvml_event_data) == 32, "nvmlEventData_t layout");
_Static_assert(sizeof(nvml_device_attributes) == 40, "nvmlDeviceAttributes_t layout");
_Static_assert(sizeof(nvml_process_info) == 24, "nvmlProcessInfo_t layout");
_Static_assert(sizeof(nvml_process_utilization_sample) == 32,
               "nvmlProcessUtilizationSample_t layout");
_Static_assert(sizeof(nvml_gpm_metric) == 40, "nvmlGpmMetric_t layout");
_Static_assert(sizeof(nvml_gpm_metrics_get) == 24 + 40 * NVML_GPM_METRIC_MAX,
               "nvmlGpmMetricsGet_t layout");
_Static_assert(sizeof(nvml_grid_licensable_feature) == 284, "nvmlGridLicensableFeature_t");
_Static_assert(sizeof(nvml_grid_licensable_features) == 860, "nvmlGridLicensableFeatures_t");

/* ---- The loaded library ------------------------------------------------------------------------ */

/* One resolved entry point per NVML symbol we call. A symbol an older driver lacks stays NULL and
 * its wrapper returns NVML_ERROR_FUNCTION_NOT_FOUND, so one binary runs on R470 through R580+.
 * Owned by the caller; filled by nvml_open, emptied by nvml_close. Fixed after nvml_open. */
typedef struct nvml_lib nvml_lib;
struct nvml_lib {
    void *dl;
    bool initialized; /* nvmlInit_v2 succeeded; nvmlShutdown is owed */
    nvml_return (*init_v2)(void);
    nvml_return (*shutdown)(void);
    const char *(*error_string)(nvml_return);
    nvml_return (*system_get_driver_version)(char *, unsigned);
    nvml_return (*system_get_nvml_version)(char *, unsigned);
    nvml_return (*device_get_count_v2)(unsigned *);
    nvml_return (*device_get_handle_by_index_v2)(unsigned, nvml_device *);
    nvml_return (*device_get_uuid)(nvml_device, char *, unsigned);
    nvml_return (*device_get_name)(nvml_device, char *, unsigned);
    nvml_return (*device_get_pci_info_v3)(nvml_device, nvml_pci_info *);
    nvml_return (*device_get_serial)(nvml_device, char *, unsigned);
    nvml_return (*device_get_vbios_version)(nvml_device, char *, unsigned);
    nvml_return (*device_get_inforom_version)(nvml_device, int, char *, unsigned);
    nvml_return (*device_get_inforom_image_version)(nvml_device, char *, unsigned);
    nvml_return (*device_get_clock_info)(nvml_device, int, unsigned *);
    nvml_return (*device_get_temperature)(nvml_device, int, unsigned *);
    nvml_return (*device_get_power_usage)(nvml_device, unsigned *);
    nvml_return (*device_get_total_energy_consumption)(nvml_device, unsigned long long *);
    nvml_return (*device_get_pcie_replay_counter)(nvml_device, unsigned *);
    nvml_return (*device_get_utilization_rates)(nvml_device, nvml_utilization *);
    nvml_return (*device_get_encoder_utilization)(nvml_device, unsigned *, unsigned *);
    nvml_return (*device_get_decoder_utilization)(nvml_device, unsigned *, unsigned *);
    nvml_return (*device_get_memory_info)(nvml_device, nvml_memory *);
    nvml_return (*device_get_memory_info_v2)(nvml_device, nvml_memory_v2 *);
    nvml_return (*device_get_field_values)(nvml_device, int, nvml_field_value *);
    nvml_return (*device_get_grid_licensable_features_v4)(nvml_device,
                                                          nvml_grid_licensable_features *);
    nvml_return (*device_get_remapped_rows)(nvml_device, unsigned *, unsigned *, unsigned *,
                                            unsigned *);
    nvml_return (*event_set_create)(nvml_event_set *);
    nvml_return (*device_get_supported_event_types)(nvml_device, unsigned long long *);
    nvml_return (*device_register_events)(nvml_device, unsigned long long, nvml_event_set);
    nvml_return (*event_set_wait_v2)(nvml_event_set, nvml_event_data *, unsigned);
    nvml_return (*event_set_free)(nvml_event_set);
    nvml_return (*device_get_mig_mode)(nvml_device, unsigned *, unsigned *);
    nvml_return (*device_get_max_mig_device_count)(nvml_device, unsigned *);
    nvml_return (*device_get_mig_device_handle_by_index)(nvml_device, unsigned, nvml_device *);
    nvml_return (*device_get_gpu_instance_id)(nvml_device, unsigned *);
    nvml_return (*device_get_attributes_v2)(nvml_device, nvml_device_attributes *);
    nvml_return (*device_get_compute_running_processes_v3)(nvml_device, unsigned *,
                                                           nvml_process_info *);
    nvml_return (*device_get_graphics_running_processes_v3)(nvml_device, unsigned *,
                                                            nvml_process_info *);
    nvml_return (*device_get_process_utilization)(nvml_device, nvml_process_utilization_sample *,
                                                  unsigned *, unsigned long long);
    nvml_return (*gpm_query_device_support)(nvml_device, nvml_gpm_support *);
    nvml_return (*gpm_sample_alloc)(nvml_gpm_sample *);
    nvml_return (*gpm_sample_free)(nvml_gpm_sample);
    nvml_return (*gpm_sample_get)(nvml_device, nvml_gpm_sample);
    nvml_return (*gpm_mig_sample_get)(nvml_device, unsigned, nvml_gpm_sample);
    nvml_return (*gpm_metrics_get)(nvml_gpm_metrics_get *);
};

/* Opens the library (path NULL or "": "libnvidia-ml.so.1" through the normal search path, so
 * LD_LIBRARY_PATH applies), resolves every symbol it has and calls nvmlInit_v2. Returns 0;
 * -ODIN_ERR_UNAVAILABLE with err saying why (dlopen's text, a missing nvmlInit_v2, or NVML's
 * error string such as "Driver Not Loaded"). After a failed nvmlInit_v2 the library stays open
 * (lib->dl set, lib->initialized false) so the caller may retry with nvml_init. */
int nvml_open(nvml_lib *lib, const char *path, odin_err *err);
/* Retries nvmlInit_v2 on an opened library; same errors as nvml_open. */
int nvml_init(nvml_lib *lib, odin_err *err);
/* nvmlShutdown when initialized, then dlclose. Accepts a zeroed lib. */
void nvml_close(nvml_lib *lib);
/* NVML's own text for a code when the library has nvmlErrorString, else our name for it. The
 * returned string is static. */
const char *nvml_error_string(const nvml_lib *lib, nvml_return rc);

/* True for the codes that mean "this field will never work on this device" (the verdict is cached
 * so a sample does not retry it every tick). */
bool nvml_is_permanent(nvml_return rc);

#endif
