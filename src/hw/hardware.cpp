// Detect() and the JSON form of the report (field names equal the struct's).

#include "ipfs_accel/hw/hardware.h"

#include <nlohmann/json.hpp>

namespace ipfs_accel::hw {

HardwareReport Detect() {
  HardwareReport report;
  report.host = DetectHost();
  report.cpu = DetectCpu();
  report.nvidia = DetectNvidia();
  report.chromium = DetectChromium(&report.chromium_missing_reason);
  report.firefox = DetectFirefox(&report.firefox_missing_reason);
  return report;
}

void to_json(nlohmann::json& j, const CpuInfo& v) {
  j = nlohmann::json{
      {"model_name", v.model_name},
      {"vendor", v.vendor},
      {"architecture", v.architecture},
      {"isa_features", v.isa_features},
      {"physical_cores", v.physical_cores},
      {"logical_cores", v.logical_cores},
      {"sockets", v.sockets},
      {"l1d_cache_bytes", v.l1d_cache_bytes},
      {"l2_cache_bytes", v.l2_cache_bytes},
      {"l3_cache_bytes", v.l3_cache_bytes},
      {"memory_total_bytes", v.memory_total_bytes},
      {"memory_available_bytes", v.memory_available_bytes},
  };
  if (v.memory_bandwidth) j["memory_bandwidth"] = *v.memory_bandwidth;
}

void to_json(nlohmann::json& j, const MemoryBandwidth& v) {
  j = {{"method", "stream"},
       {"copy_gb_per_s", v.copy_gb_per_s},
       {"triad_gb_per_s", v.triad_gb_per_s},
       {"array_bytes", v.array_bytes},
       {"threads", v.threads},
       {"repetitions", v.repetitions}};
}

void from_json(const nlohmann::json& j, MemoryBandwidth& v) {
  v.copy_gb_per_s = j.at("copy_gb_per_s");
  v.triad_gb_per_s = j.at("triad_gb_per_s");
  v.array_bytes = j.value("array_bytes", int64_t{0});
  v.threads = j.value("threads", 0);
  v.repetitions = j.value("repetitions", 0);
}

void to_json(nlohmann::json& j, const NvidiaGpu& v) {
  j = nlohmann::json{
      {"index", v.index},
      {"name", v.name},
      {"uuid", v.uuid},
      {"memory_total_bytes", v.memory_total_bytes},
      {"compute_capability_major", v.compute_capability_major},
      {"compute_capability_minor", v.compute_capability_minor},
  };
  // Peaks only where the driver reported what they are derived from.
  if (v.peak_fp32_gflops > 0) {
    j["cuda_cores"] = v.cuda_cores;
    j["max_sm_clock_mhz"] = v.max_sm_clock_mhz;
    j["peak_fp32_gflops"] = v.peak_fp32_gflops;
  }
  if (v.peak_memory_gb_per_s > 0) {
    j["memory_bus_width_bits"] = v.memory_bus_width_bits;
    j["max_memory_clock_mhz"] = v.max_memory_clock_mhz;
    j["peak_memory_gb_per_s"] = v.peak_memory_gb_per_s;
  }
}

void to_json(nlohmann::json& j, const NvidiaInfo& v) {
  j = nlohmann::json{
      {"unavailable_reason", v.unavailable_reason},
      {"driver_version", v.driver_version},
      {"cuda_driver_version", v.cuda_driver_version},
      {"gpus", v.gpus},
  };
}

void to_json(nlohmann::json& j, const BrowserInfo& v) {
  j = nlohmann::json{{"name", v.name}, {"path", v.path}, {"version", v.version}};
}

void to_json(nlohmann::json& j, const HostInfo& v) {
  j = nlohmann::json{{"hostname", v.hostname}, {"os", v.os}, {"kernel", v.kernel}};
}

void to_json(nlohmann::json& j, const HardwareReport& v) {
  j = nlohmann::json{
      {"host", v.host},
      {"cpu", v.cpu},
      {"nvidia", v.nvidia},
      {"chromium", v.chromium ? nlohmann::json(*v.chromium) : nlohmann::json(nullptr)},
      {"chromium_missing_reason", v.chromium_missing_reason},
      {"firefox", v.firefox ? nlohmann::json(*v.firefox) : nlohmann::json(nullptr)},
      {"firefox_missing_reason", v.firefox_missing_reason},
  };
}

}  // namespace ipfs_accel::hw
