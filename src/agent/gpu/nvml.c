/* Loads libnvidia-ml.so.1 with dlopen and resolves each symbol on its own, so a symbol an older
 * driver lacks disables only the fields that need it. */
#include "agent/gpu/nvml.h"

#include <dlfcn.h>
#include <string.h>

typedef struct {
    const char *symbol;
    size_t offset; /* of the function pointer inside nvml_lib */
} nvml_symbol;

#define NVML_SYM(field, name) {name, offsetof(nvml_lib, field)}

static const nvml_symbol nvml_symbols[] = {
    NVML_SYM(init_v2, "nvmlInit_v2"),
    NVML_SYM(shutdown, "nvmlShutdown"),
    NVML_SYM(error_string, "nvmlErrorString"),
    NVML_SYM(system_get_driver_version, "nvmlSystemGetDriverVersion"),
    NVML_SYM(system_get_nvml_version, "nvmlSystemGetNVMLVersion"),
    NVML_SYM(device_get_count_v2, "nvmlDeviceGetCount_v2"),
    NVML_SYM(device_get_handle_by_index_v2, "nvmlDeviceGetHandleByIndex_v2"),
    NVML_SYM(device_get_uuid, "nvmlDeviceGetUUID"),
    NVML_SYM(device_get_name, "nvmlDeviceGetName"),
    NVML_SYM(device_get_pci_info_v3, "nvmlDeviceGetPciInfo_v3"),
    NVML_SYM(device_get_serial, "nvmlDeviceGetSerial"),
    NVML_SYM(device_get_vbios_version, "nvmlDeviceGetVbiosVersion"),
    NVML_SYM(device_get_inforom_version, "nvmlDeviceGetInforomVersion"),
    NVML_SYM(device_get_inforom_image_version, "nvmlDeviceGetInforomImageVersion"),
    NVML_SYM(device_get_clock_info, "nvmlDeviceGetClockInfo"),
    NVML_SYM(device_get_temperature, "nvmlDeviceGetTemperature"),
    NVML_SYM(device_get_power_usage, "nvmlDeviceGetPowerUsage"),
    NVML_SYM(device_get_total_energy_consumption, "nvmlDeviceGetTotalEnergyConsumption"),
    NVML_SYM(device_get_pcie_replay_counter, "nvmlDeviceGetPcieReplayCounter"),
    NVML_SYM(device_get_utilization_rates, "nvmlDeviceGetUtilizationRates"),
    NVML_SYM(device_get_encoder_utilization, "nvmlDeviceGetEncoderUtilization"),
    NVML_SYM(device_get_decoder_utilization, "nvmlDeviceGetDecoderUtilization"),
    NVML_SYM(device_get_memory_info, "nvmlDeviceGetMemoryInfo"),
    NVML_SYM(device_get_memory_info_v2, "nvmlDeviceGetMemoryInfo_v2"),
    NVML_SYM(device_get_field_values, "nvmlDeviceGetFieldValues"),
    NVML_SYM(device_get_grid_licensable_features_v4, "nvmlDeviceGetGridLicensableFeatures_v4"),
    NVML_SYM(device_get_remapped_rows, "nvmlDeviceGetRemappedRows"),
    NVML_SYM(event_set_create, "nvmlEventSetCreate"),
    NVML_SYM(device_get_supported_event_types, "nvmlDeviceGetSupportedEventTypes"),
    NVML_SYM(device_register_events, "nvmlDeviceRegisterEvents"),
    NVML_SYM(event_set_wait_v2, "nvmlEventSetWait_v2"),
    NVML_SYM(event_set_free, "nvmlEventSetFree"),
    NVML_SYM(device_get_mig_mode, "nvmlDeviceGetMigMode"),
    NVML_SYM(device_get_max_mig_device_count, "nvmlDeviceGetMaxMigDeviceCount"),
    NVML_SYM(device_get_mig_device_handle_by_index, "nvmlDeviceGetMigDeviceHandleByIndex"),
    NVML_SYM(device_get_gpu_instance_id, "nvmlDeviceGetGpuInstanceId"),
    NVML_SYM(device_get_attributes_v2, "nvmlDeviceGetAttributes_v2"),
    NVML_SYM(device_get_compute_running_processes_v3, "nvmlDeviceGetComputeRunningProcesses_v3"),
    NVML_SYM(device_get_graphics_running_processes_v3,
             "nvmlDeviceGetGraphicsRunningProcesses_v3"),
    NVML_SYM(device_get_process_utilization, "nvmlDeviceGetProcessUtilization"),
    NVML_SYM(gpm_query_device_support, "nvmlGpmQueryDeviceSupport"),
    NVML_SYM(gpm_sample_alloc, "nvmlGpmSampleAlloc"),
    NVML_SYM(gpm_sample_free, "nvmlGpmSampleFree"),
    NVML_SYM(gpm_sample_get, "nvmlGpmSampleGet"),
    NVML_SYM(gpm_mig_sample_get, "nvmlGpmMigSampleGet"),
    NVML_SYM(gpm_metrics_get, "nvmlGpmMetricsGet"),
};

#undef NVML_SYM

static const char *const nvml_code_names[] = {
    [NVML_SUCCESS] = "Success",
    [NVML_ERROR_UNINITIALIZED] = "Uninitialized",
    [NVML_ERROR_INVALID_ARGUMENT] = "Invalid Argument",
    [NVML_ERROR_NOT_SUPPORTED] = "Not Supported",
    [NVML_ERROR_NO_PERMISSION] = "Insufficient Permissions",
    [NVML_ERROR_ALREADY_INITIALIZED] = "Already Initialized",
    [NVML_ERROR_NOT_FOUND] = "Not Found",
    [NVML_ERROR_INSUFFICIENT_SIZE] = "Insufficient Size",
    [NVML_ERROR_INSUFFICIENT_POWER] = "Insufficient External Power",
    [NVML_ERROR_DRIVER_NOT_LOADED] = "Driver Not Loaded",
    [NVML_ERROR_TIMEOUT] = "Timeout",
    [NVML_ERROR_IRQ_ISSUE] = "Interrupt Request Issue",
    [NVML_ERROR_LIBRARY_NOT_FOUND] = "NVML Shared Library Not Found",
    [NVML_ERROR_FUNCTION_NOT_FOUND] = "Function Not Found",
    [NVML_ERROR_CORRUPTED_INFOROM] = "Corrupted infoROM",
    [NVML_ERROR_GPU_IS_LOST] = "GPU is lost",
    [NVML_ERROR_RESET_REQUIRED] = "GPU requires restart",
    [NVML_ERROR_OPERATING_SYSTEM] = "The operating system has blocked the request",
    [NVML_ERROR_LIB_RM_VERSION_MISMATCH] = "RM has detected an NVML/RM version mismatch",
    [NVML_ERROR_IN_USE] = "In use by another client",
    [NVML_ERROR_MEMORY] = "Insufficient Memory",
    [NVML_ERROR_NO_DATA] = "No data",
    [NVML_ERROR_ARGUMENT_VERSION_MISMATCH] = "Argument version mismatch",
    [NVML_ERROR_DEPRECATED] = "Deprecated",
    [NVML_ERROR_NOT_READY] = "Not ready",
    [NVML_ERROR_GPU_NOT_FOUND] = "GPU not found",
    [NVML_ERROR_INVALID_STATE] = "Invalid state",
};

const char *nvml_error_string(const nvml_lib *lib, nvml_return rc)
{
    if (lib && lib->error_string) {
        const char *s = lib->error_string(rc);
        if (s) {
            return s;
        }
    }
    if (rc >= 0 && (size_t)rc < ODIN_ARRAY_LEN(nvml_code_names) && nvml_code_names[rc]) {
        return nvml_code_names[rc];
    }
    return "Unknown Error";
}

bool nvml_is_permanent(nvml_return rc)
{
    return rc == NVML_ERROR_NOT_SUPPORTED || rc == NVML_ERROR_NO_PERMISSION ||
           rc == NVML_ERROR_FUNCTION_NOT_FOUND || rc == NVML_ERROR_INVALID_ARGUMENT;
}

/* dlsym returns a void *; POSIX guarantees it converts to a function pointer, which ISO C does
 * not, so the bytes are copied instead of cast. */
static void resolve(nvml_lib *lib)
{
    for (size_t i = 0; i < ODIN_ARRAY_LEN(nvml_symbols); i++) {
        void *p = dlsym(lib->dl, nvml_symbols[i].symbol);
        memcpy((char *)lib + nvml_symbols[i].offset, &p, sizeof(p));
    }
}

int nvml_init(nvml_lib *lib, odin_err *err)
{
    if (!lib->init_v2) {
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "NVML library has no nvmlInit_v2");
    }
    nvml_return rc = lib->init_v2();
    if (rc != NVML_SUCCESS) {
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "nvmlInit_v2: %s (code %d)",
                            nvml_error_string(lib, rc), rc);
    }
    lib->initialized = true;
    return 0;
}

int nvml_open(nvml_lib *lib, const char *path, odin_err *err)
{
    memset(lib, 0, sizeof(*lib));
    const char *name = path && path[0] ? path : "libnvidia-ml.so.1";
    /* RTLD_LOCAL: NVML's symbols stay out of the global namespace (we resolve them by dlsym). */
    lib->dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!lib->dl) {
        const char *why = dlerror();
        return odin_err_set(err, ODIN_ERR_UNAVAILABLE, "cannot load %s: %.180s", name,
                            why ? why : "unknown dlopen error");
    }
    resolve(lib);
    return nvml_init(lib, err);
}

void nvml_close(nvml_lib *lib)
{
    if (lib->initialized && lib->shutdown) {
        lib->shutdown();
    }
    if (lib->dl) {
        dlclose(lib->dl);
    }
    memset(lib, 0, sizeof(*lib));
}
