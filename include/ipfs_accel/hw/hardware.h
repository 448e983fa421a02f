#pragma once
// What hardware this machine has, read from the operating system and drivers.
// Nothing here is configured or assumed: a field that could not be read is left
// empty/zero and the reason is given where it matters (e.g. nvml_status).
// Detect() is thread-compatible and has no side effects beyond reading /proc,
// /sys, cpuid, and dlopen()ing NVML.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ipfs_accel::hw {

// Main-memory bandwidth as STREAM measures it (memory_bandwidth.h).
struct MemoryBandwidth {
  double copy_gb_per_s = 0;  // 1e9 bytes per second
  double triad_gb_per_s = 0;
  int64_t array_bytes = 0;  // each of the three arrays
  int threads = 0;
  int repetitions = 0;
};

struct CpuInfo {
  std::string model_name;                 // "Intel(R) Xeon(R) Platinum 8480+"
  std::string vendor;                     // "GenuineIntel", "AuthenticAMD", "ARM"
  std::string architecture;               // "x86_64", "aarch64"
  std::vector<std::string> isa_features;  // "sse4_2", "avx2", "avx512f", "amx_tile", "neon", ...
  int physical_cores = 0;
  int logical_cores = 0;
  int sockets = 0;
  int64_t l1d_cache_bytes = 0;  // per core
  int64_t l2_cache_bytes = 0;   // per core (or per cluster, as the OS reports it)
  int64_t l3_cache_bytes = 0;   // as the OS reports it for cpu0 (per socket, or per CCX on AMD)
  int64_t memory_total_bytes = 0;
  int64_t memory_available_bytes = 0;
  // Measured only when asked for (MeasureMemoryBandwidth: it takes a moment), else unset.
  std::optional<MemoryBandwidth> memory_bandwidth;

  bool HasFeature(const std::string& feature) const;
};

struct NvidiaGpu {
  int index = 0;
  std::string name;
  std::string uuid;
  int64_t memory_total_bytes = 0;
  int compute_capability_major = 0;
  int compute_capability_minor = 0;
  // From NVML where the driver reports them (0: not reported). The peaks are derived as the
  // datasheets derive them: 2 FLOPs per CUDA core per clock at the maximum SM clock; bus width
  // x maximum memory clock x 2 (double data rate).
  int max_sm_clock_mhz = 0;
  int max_memory_clock_mhz = 0;
  int cuda_cores = 0;
  int memory_bus_width_bits = 0;
  double peak_fp32_gflops = 0;
  double peak_memory_gb_per_s = 0;
};

struct NvidiaInfo {
  // Empty when usable; else why not, e.g. "no NVIDIA driver (libnvidia-ml.so.1 not found)".
  std::string unavailable_reason;
  std::string driver_version;
  std::string cuda_driver_version;  // "13.0"
  std::vector<NvidiaGpu> gpus;
};

struct BrowserInfo {
  std::string name;     // "chromium"
  std::string path;     // the real binary, /usr/lib/chromium/chromium
  std::string version;  // "156.0.8078.108"
};

struct HostInfo {
  std::string hostname;
  std::string os;      // "Debian GNU/Linux 12 (bookworm)"
  std::string kernel;  // uname -r
};

struct HardwareReport {
  HostInfo host;
  CpuInfo cpu;
  NvidiaInfo nvidia;
  std::optional<BrowserInfo> chromium;  // nullopt: not installed or not runnable
  std::string chromium_missing_reason;  // why chromium is nullopt
  std::optional<BrowserInfo> firefox;   // the second browser for wasm
  std::string firefox_missing_reason;
};

// The peaks as NVIDIA's datasheets derive them (what NvidiaGpu's peak fields hold).
double PeakFp32Gflops(int cuda_cores, int max_sm_clock_mhz);
double PeakMemoryGbPerS(int memory_bus_width_bits, int max_memory_clock_mhz);

CpuInfo DetectCpu();
NvidiaInfo DetectNvidia();

// Device memory now, as NVML sees it: the whole GPU's use, and this process's where the
// driver can say (it cannot inside some sandboxes). -1 where unknown, with the reason.
struct NvidiaMemorySample {
  int64_t gpu_used_bytes = -1, gpu_total_bytes = -1;
  int64_t process_bytes = -1;
  std::string reason;          // why gpu_used_bytes is unknown
  std::string process_reason;  // why process_bytes is unknown
};
NvidiaMemorySample SampleNvidiaMemory(unsigned device_index);
std::optional<BrowserInfo> DetectChromium(std::string* missing_reason);
// Debian's Firefox ESR, the second browser for wasm (its WebGPU finds no adapter here).
std::optional<BrowserInfo> DetectFirefox(std::string* missing_reason);
HostInfo DetectHost();
// Memory the kernel says can be allocated now without swapping (MemAvailable in
// /proc/meminfo), in bytes; 0 where it cannot be read. Cheap: reads one file.
int64_t AvailableHostMemoryBytes();
HardwareReport Detect();

void to_json(nlohmann::json& j, const MemoryBandwidth& v);
void from_json(const nlohmann::json& j, MemoryBandwidth& v);
void to_json(nlohmann::json& j, const CpuInfo& v);
void to_json(nlohmann::json& j, const NvidiaGpu& v);
void to_json(nlohmann::json& j, const NvidiaInfo& v);
void to_json(nlohmann::json& j, const BrowserInfo& v);
void to_json(nlohmann::json& j, const HostInfo& v);
void to_json(nlohmann::json& j, const HardwareReport& v);

}  // namespace ipfs_accel::hw
