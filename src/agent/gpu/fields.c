/* The DCGM fields the gpu collector serves from NVML, each with the NVML call, unit conversion and
 * MIG level DCGM itself uses (../shared/reference/dcgm.md §3.3, §3.4). */
#include "agent/gpu/gpu_int.h"
#include "agent/gpu/nvml.h"

/* Divisors: NVML gives power in mW (W = mW / 1000), memory in bytes (MiB, truncated as DCGM does),
 * GPM utilisations in percent (DCGM's PROF fields are ratios 0..1) and PCIe rates in MiB/s (DCGM
 * publishes bytes/s: divided by 2^-20, which is exact). Everything else is exported as read.
 * Division rather than multiplication by a reciprocal keeps 123456 mW at exactly 123.456. */
#define MIB (1024.0 * 1024.0)

const agent_gpu_field agent_gpu_fields[] = {
    {"DCGM_FI_DEV_SM_CLOCK", AGENT_GPU_SRC_CLOCK, NVML_CLOCK_SM, 1, false, false},
    {"DCGM_FI_DEV_MEM_CLOCK", AGENT_GPU_SRC_CLOCK, NVML_CLOCK_MEM, 1, false, false},
    {"DCGM_FI_DEV_VIDEO_CLOCK", AGENT_GPU_SRC_CLOCK, NVML_CLOCK_VIDEO, 1, false, false},
    {"DCGM_FI_DEV_MEMORY_TEMP", AGENT_GPU_SRC_FV, NVML_FI_DEV_MEMORY_TEMP, 1, false, false},
    {"DCGM_FI_DEV_GPU_TEMP", AGENT_GPU_SRC_TEMP, 0, 1, false, false},
    {"DCGM_FI_DEV_POWER_USAGE", AGENT_GPU_SRC_POWER, 0, 1000, false, false},
    {"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", AGENT_GPU_SRC_ENERGY, 0, 1, false, false},
    {"DCGM_FI_DEV_PCIE_REPLAY_COUNTER", AGENT_GPU_SRC_PCIE_REPLAY, 0, 1, false, false},
    {"DCGM_FI_DEV_GPU_UTIL", AGENT_GPU_SRC_UTIL_GPU, 0, 1, false, false},
    {"DCGM_FI_DEV_MEM_COPY_UTIL", AGENT_GPU_SRC_UTIL_MEM, 0, 1, false, false},
    {"DCGM_FI_DEV_ENC_UTIL", AGENT_GPU_SRC_ENC, 0, 1, false, false},
    {"DCGM_FI_DEV_DEC_UTIL", AGENT_GPU_SRC_DEC, 0, 1, false, false},
    {"DCGM_FI_DEV_XID_ERRORS", AGENT_GPU_SRC_XID, 0, 1, false, false},
    {"DCGM_FI_DEV_POWER_VIOLATION", AGENT_GPU_SRC_FV, NVML_FI_DEV_PERF_POLICY_POWER, 1, false,
     false},
    {"DCGM_FI_DEV_THERMAL_VIOLATION", AGENT_GPU_SRC_FV, NVML_FI_DEV_PERF_POLICY_THERMAL, 1, false,
     false},
    {"DCGM_FI_DEV_SYNC_BOOST_VIOLATION", AGENT_GPU_SRC_FV, NVML_FI_DEV_PERF_POLICY_SYNC_BOOST, 1,
     false, false},
    {"DCGM_FI_DEV_BOARD_LIMIT_VIOLATION", AGENT_GPU_SRC_FV, NVML_FI_DEV_PERF_POLICY_BOARD_LIMIT,
     1, false, false},
    {"DCGM_FI_DEV_LOW_UTIL_VIOLATION", AGENT_GPU_SRC_FV,
     NVML_FI_DEV_PERF_POLICY_LOW_UTILIZATION, 1, false, false},
    {"DCGM_FI_DEV_RELIABILITY_VIOLATION", AGENT_GPU_SRC_FV, NVML_FI_DEV_PERF_POLICY_RELIABILITY,
     1, false, false},
    {"DCGM_FI_DEV_FB_FREE", AGENT_GPU_SRC_FB_FREE, 0, MIB, true, false},
    {"DCGM_FI_DEV_FB_USED", AGENT_GPU_SRC_FB_USED, 0, MIB, true, false},
    {"DCGM_FI_DEV_FB_RESERVED", AGENT_GPU_SRC_FB_RESERVED, 0, MIB, true, false},
    {"DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", AGENT_GPU_SRC_FV, NVML_FI_DEV_ECC_SBE_VOL_TOTAL, 1, false,
     false},
    {"DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", AGENT_GPU_SRC_FV, NVML_FI_DEV_ECC_DBE_VOL_TOTAL, 1, false,
     false},
    {"DCGM_FI_DEV_ECC_SBE_AGG_TOTAL", AGENT_GPU_SRC_FV, NVML_FI_DEV_ECC_SBE_AGG_TOTAL, 1, false,
     false},
    {"DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", AGENT_GPU_SRC_FV, NVML_FI_DEV_ECC_DBE_AGG_TOTAL, 1, false,
     false},
    {"DCGM_FI_DEV_RETIRED_SBE", AGENT_GPU_SRC_FV, NVML_FI_DEV_RETIRED_SBE, 1, false, false},
    {"DCGM_FI_DEV_RETIRED_DBE", AGENT_GPU_SRC_FV, NVML_FI_DEV_RETIRED_DBE, 1, false, false},
    {"DCGM_FI_DEV_RETIRED_PENDING", AGENT_GPU_SRC_FV, NVML_FI_DEV_RETIRED_PENDING, 1, false,
     false},
    {"DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL", AGENT_GPU_SRC_FV,
     NVML_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL, 1, false, false},
    {"DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL", AGENT_GPU_SRC_FV,
     NVML_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL, 1, false, false},
    {"DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL", AGENT_GPU_SRC_FV,
     NVML_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL, 1, false, false},
    {"DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL", AGENT_GPU_SRC_FV,
     NVML_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL, 1, false, false},
    {"DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", AGENT_GPU_SRC_NVLINK_BW, 0, 1, false, false},
    {"DCGM_FI_DEV_VGPU_LICENSE_STATUS", AGENT_GPU_SRC_VGPU_LICENSE, 0, 1, false, false},
    {"DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", AGENT_GPU_SRC_REMAP_UNC, 0, 1, false, false},
    {"DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", AGENT_GPU_SRC_REMAP_COR, 0, 1, false, false},
    {"DCGM_FI_DEV_ROW_REMAP_FAILURE", AGENT_GPU_SRC_REMAP_FAILURE, 0, 1, false, false},
    {"DCGM_FI_PROF_GR_ENGINE_ACTIVE", AGENT_GPU_SRC_GPM, NVML_GPM_METRIC_GRAPHICS_UTIL, 100, true,
     false},
    {"DCGM_FI_PROF_SM_ACTIVE", AGENT_GPU_SRC_GPM, NVML_GPM_METRIC_SM_UTIL, 100, true, false},
    {"DCGM_FI_PROF_SM_OCCUPANCY", AGENT_GPU_SRC_GPM, NVML_GPM_METRIC_SM_OCCUPANCY, 100, true,
     false},
    {"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", AGENT_GPU_SRC_GPM, NVML_GPM_METRIC_ANY_TENSOR_UTIL, 100,
     true, false},
    {"DCGM_FI_PROF_DRAM_ACTIVE", AGENT_GPU_SRC_GPM, NVML_GPM_METRIC_DRAM_BW_UTIL, 100, true,
     false},
    {"DCGM_FI_PROF_PIPE_FP64_ACTIVE", AGENT_GPU_SRC_GPM, NVML_GPM_METRIC_FP64_UTIL, 100, true,
     false},
    {"DCGM_FI_PROF_PIPE_FP32_ACTIVE", AGENT_GPU_SRC_GPM, NVML_GPM_METRIC_FP32_UTIL, 100, true,
     false},
    {"DCGM_FI_PROF_PIPE_FP16_ACTIVE", AGENT_GPU_SRC_GPM, NVML_GPM_METRIC_FP16_UTIL, 100, true,
     false},
    {"DCGM_FI_PROF_PCIE_TX_BYTES", AGENT_GPU_SRC_GPM, NVML_GPM_METRIC_PCIE_TX_PER_SEC, 1 / MIB, true,
     false},
    {"DCGM_FI_PROF_PCIE_RX_BYTES", AGENT_GPU_SRC_GPM, NVML_GPM_METRIC_PCIE_RX_PER_SEC, 1 / MIB, true,
     false},
    {"DCGM_FI_DRIVER_VERSION", AGENT_GPU_SRC_LABEL_DRIVER, 0, 1, false, true},
    {"DCGM_FI_NVML_VERSION", AGENT_GPU_SRC_LABEL_NVML, 0, 1, false, true},
    {"DCGM_FI_DEV_SERIAL", AGENT_GPU_SRC_LABEL_SERIAL, 0, 1, false, true},
    {"DCGM_FI_DEV_VBIOS_VERSION", AGENT_GPU_SRC_LABEL_VBIOS, 0, 1, false, true},
    {"DCGM_FI_DEV_OEM_INFOROM_VER", AGENT_GPU_SRC_LABEL_INFOROM, NVML_INFOROM_OEM, 1, false, true},
    {"DCGM_FI_DEV_ECC_INFOROM_VER", AGENT_GPU_SRC_LABEL_INFOROM, NVML_INFOROM_ECC, 1, false, true},
    {"DCGM_FI_DEV_POWER_INFOROM_VER", AGENT_GPU_SRC_LABEL_INFOROM, NVML_INFOROM_POWER, 1, false,
     true},
    {"DCGM_FI_DEV_INFOROM_IMAGE_VER", AGENT_GPU_SRC_LABEL_INFOROM_IMAGE, 0, 1, false, true},
};

const size_t agent_gpu_nfields = ODIN_ARRAY_LEN(agent_gpu_fields);
_Static_assert(ODIN_ARRAY_LEN(agent_gpu_fields) <= AGENT_GPU_MAX_FIELDS,
               "field bitmasks are 64 bits wide");

int agent_gpu_field_find(odin_str name)
{
    for (size_t i = 0; i < agent_gpu_nfields; i++) {
        if (odin_str_eq_c(name, agent_gpu_fields[i].name)) {
            return (int)i;
        }
    }
    return -1;
}
