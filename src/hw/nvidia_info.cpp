// DetectNvidia(): asks the driver through NVML, loaded at run time so the program builds and
// runs on machines without an NVIDIA driver. No NVML header is installed here, so the few
// types and entry points used are declared below with the signatures of nvml.h.

#include <dlfcn.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "ipfs_accel/hw/hardware.h"

namespace ipfs_accel::hw {
namespace {

using nvmlReturn_t = int;  // NVML_SUCCESS == 0
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

// Buffer sizes from nvml.h (the *_V2_* ones, which are the larger).
constexpr unsigned kDriverVersionSize = 80;
constexpr unsigned kNameSize = 96;
constexpr unsigned kUuidSize = 96;

struct Nvml {
  nvmlReturn_t (*Init)();
  nvmlReturn_t (*Shutdown)();
  nvmlReturn_t (*SystemGetDriverVersion)(char*, unsigned);
  nvmlReturn_t (*SystemGetCudaDriverVersion)(int*);
  nvmlReturn_t (*DeviceGetCount)(unsigned*);
  nvmlReturn_t (*DeviceGetHandleByIndex)(unsigned, nvmlDevice_t*);
  nvmlReturn_t (*DeviceGetName)(nvmlDevice_t, char*, unsigned);
  nvmlReturn_t (*DeviceGetUUID)(nvmlDevice_t, char*, unsigned);
  nvmlReturn_t (*DeviceGetMemoryInfo)(nvmlDevice_t, nvmlMemory_t*);
  nvmlReturn_t (*DeviceGetCudaComputeCapability)(nvmlDevice_t, int*, int*);
  const char* (*ErrorString)(nvmlReturn_t);  // optional: only improves messages
  // Optional: per-process memory (nvmlProcessInfo_v2_t layout below).
  nvmlReturn_t (*DeviceGetComputeRunningProcesses)(nvmlDevice_t, unsigned*, void*);
  // Optional (newer drivers): what the peak figures are derived from.
  nvmlReturn_t (*DeviceGetMaxClockInfo)(nvmlDevice_t, int, unsigned*);
  nvmlReturn_t (*DeviceGetNumGpuCores)(nvmlDevice_t, unsigned*);
  nvmlReturn_t (*DeviceGetMemoryBusWidth)(nvmlDevice_t, unsigned*);
};

constexpr int kClockSm = 1, kClockMem = 2;  // nvmlClockType_t

struct DlCloser {
  void operator()(void* handle) const { dlclose(handle); }
};
using Library = std::unique_ptr<void, DlCloser>;

template <typename Fn>
bool Resolve(void* lib, const char* symbol, Fn& fn, std::string& missing) {
  fn = reinterpret_cast<Fn>(dlsym(lib, symbol));
  if (fn == nullptr && missing.empty()) missing = symbol;
  return fn != nullptr;
}

std::string ErrorText(const Nvml& nvml, nvmlReturn_t code) {
  std::string text = "NVML error " + std::to_string(code);
  const char* name = nvml.ErrorString ? nvml.ErrorString(code) : nullptr;
  if (name != nullptr && *name != '\0') text += std::string(" (") + name + ")";
  return text;
}

// 13000 -> "13.0", 12040 -> "12.4" (NVML encodes 1000 * major + 10 * minor).
std::string CudaVersionString(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

// The device's peaks (PeakFp32Gflops: a fused multiply-add, 2 FLOPs, per CUDA core per clock at
// the maximum SM clock; PeakMemoryGbPerS: the bus width times the maximum memory clock, twice per
// clock), from what the driver reports; 0 where it reports nothing.
void ReadPeaks(const Nvml& nvml, nvmlDevice_t device, NvidiaGpu& gpu) {
  unsigned sm_mhz = 0, mem_mhz = 0, cores = 0, bus_bits = 0;
  if (nvml.DeviceGetMaxClockInfo && nvml.DeviceGetMaxClockInfo(device, kClockSm, &sm_mhz) == 0)
    gpu.max_sm_clock_mhz = static_cast<int>(sm_mhz);
  if (nvml.DeviceGetMaxClockInfo && nvml.DeviceGetMaxClockInfo(device, kClockMem, &mem_mhz) == 0)
    gpu.max_memory_clock_mhz = static_cast<int>(mem_mhz);
  if (nvml.DeviceGetNumGpuCores && nvml.DeviceGetNumGpuCores(device, &cores) == 0)
    gpu.cuda_cores = static_cast<int>(cores);
  if (nvml.DeviceGetMemoryBusWidth && nvml.DeviceGetMemoryBusWidth(device, &bus_bits) == 0)
    gpu.memory_bus_width_bits = static_cast<int>(bus_bits);
  gpu.peak_fp32_gflops = PeakFp32Gflops(gpu.cuda_cores, gpu.max_sm_clock_mhz);
  gpu.peak_memory_gb_per_s = PeakMemoryGbPerS(gpu.memory_bus_width_bits, gpu.max_memory_clock_mhz);
}

NvidiaGpu ReadGpu(const Nvml& nvml, unsigned index) {
  NvidiaGpu gpu;
  gpu.index = static_cast<int>(index);
  nvmlDevice_t device = nullptr;
  // A GPU we may not query (permissions, fallen off the bus) still exists: keep it, unfilled.
  if (nvml.DeviceGetHandleByIndex(index, &device) != 0) return gpu;
  char buffer[kNameSize > kUuidSize ? kNameSize : kUuidSize] = {};
  if (nvml.DeviceGetName(device, buffer, kNameSize) == 0) gpu.name = buffer;
  buffer[0] = '\0';
  if (nvml.DeviceGetUUID(device, buffer, kUuidSize) == 0) gpu.uuid = buffer;
  nvmlMemory_t memory{};
  if (nvml.DeviceGetMemoryInfo(device, &memory) == 0) {
    gpu.memory_total_bytes = static_cast<int64_t>(memory.total);
  }
  int major = 0, minor = 0;
  if (nvml.DeviceGetCudaComputeCapability(device, &major, &minor) == 0) {
    gpu.compute_capability_major = major;
    gpu.compute_capability_minor = minor;
  }
  ReadPeaks(nvml, device, gpu);
  return gpu;
}

void Query(const Nvml& nvml, NvidiaInfo& info) {
  char version[kDriverVersionSize] = {};
  if (nvml.SystemGetDriverVersion(version, kDriverVersionSize) == 0) {
    info.driver_version = version;
  }
  int cuda = 0;
  if (nvml.SystemGetCudaDriverVersion(&cuda) == 0 && cuda > 0) {
    info.cuda_driver_version = CudaVersionString(cuda);
  }
  unsigned count = 0;
  if (nvmlReturn_t rc = nvml.DeviceGetCount(&count); rc != 0) {
    info.unavailable_reason = "NVML could not count GPUs: " + ErrorText(nvml, rc);
    return;
  }
  for (unsigned i = 0; i < count; ++i) info.gpus.push_back(ReadGpu(nvml, i));
  if (info.gpus.empty()) info.unavailable_reason = "no NVIDIA GPU found by the driver";
}

}  // namespace

double PeakFp32Gflops(int cuda_cores, int max_sm_clock_mhz) {
  return 2.0 * cuda_cores * max_sm_clock_mhz / 1e3;
}

double PeakMemoryGbPerS(int memory_bus_width_bits, int max_memory_clock_mhz) {
  return memory_bus_width_bits / 8.0 * max_memory_clock_mhz * 2 / 1e3;
}

NvidiaInfo DetectNvidia() {
  NvidiaInfo info;
  // RTLD_LOCAL: NVML's symbols must not leak into, or clash with, the rest of the process.
  Library lib(dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL));
  if (!lib) {
    info.unavailable_reason = "no NVIDIA driver (libnvidia-ml.so.1 not found)";
    return info;
  }
  Nvml nvml{};
  std::string missing;
  void* h = lib.get();
  bool ok = Resolve(h, "nvmlInit_v2", nvml.Init, missing);
  ok &= Resolve(h, "nvmlShutdown", nvml.Shutdown, missing);
  ok &= Resolve(h, "nvmlSystemGetDriverVersion", nvml.SystemGetDriverVersion, missing);
  ok &= Resolve(h, "nvmlSystemGetCudaDriverVersion_v2", nvml.SystemGetCudaDriverVersion, missing);
  ok &= Resolve(h, "nvmlDeviceGetCount_v2", nvml.DeviceGetCount, missing);
  ok &= Resolve(h, "nvmlDeviceGetHandleByIndex_v2", nvml.DeviceGetHandleByIndex, missing);
  ok &= Resolve(h, "nvmlDeviceGetName", nvml.DeviceGetName, missing);
  ok &= Resolve(h, "nvmlDeviceGetUUID", nvml.DeviceGetUUID, missing);
  ok &= Resolve(h, "nvmlDeviceGetMemoryInfo", nvml.DeviceGetMemoryInfo, missing);
  ok &= Resolve(h, "nvmlDeviceGetCudaComputeCapability", nvml.DeviceGetCudaComputeCapability,
                missing);
  if (!ok) {
    info.unavailable_reason =
        "NVIDIA driver too old: libnvidia-ml.so.1 lacks " + missing + " (update the driver)";
    return info;
  }
  std::string unused;
  Resolve(h, "nvmlErrorString", nvml.ErrorString, unused);
  Resolve(h, "nvmlDeviceGetMaxClockInfo", nvml.DeviceGetMaxClockInfo, unused);
  Resolve(h, "nvmlDeviceGetNumGpuCores", nvml.DeviceGetNumGpuCores, unused);
  Resolve(h, "nvmlDeviceGetMemoryBusWidth", nvml.DeviceGetMemoryBusWidth, unused);

  if (nvmlReturn_t rc = nvml.Init(); rc != 0) {
    info.unavailable_reason =
        "NVIDIA driver present but NVML did not start: " + ErrorText(nvml, rc);
    return info;
  }
  Query(nvml, info);
  nvml.Shutdown();
  return info;
}

namespace {

struct ProcessInfo {  // nvmlProcessInfo_v2_t, as nvmlDeviceGetComputeRunningProcesses_v3 fills
  unsigned pid;
  unsigned long long used_gpu_memory;
  unsigned gpu_instance_id;
  unsigned compute_instance_id;
};

}  // namespace

NvidiaMemorySample SampleNvidiaMemory(unsigned device_index) {
  NvidiaMemorySample out;
  Library lib(dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL));
  if (!lib) {
    out.reason = "no NVIDIA driver (libnvidia-ml.so.1 not found)";
    return out;
  }
  Nvml nvml{};
  std::string missing;
  void* h = lib.get();
  bool ok = Resolve(h, "nvmlInit_v2", nvml.Init, missing);
  ok &= Resolve(h, "nvmlShutdown", nvml.Shutdown, missing);
  ok &= Resolve(h, "nvmlDeviceGetHandleByIndex_v2", nvml.DeviceGetHandleByIndex, missing);
  ok &= Resolve(h, "nvmlDeviceGetMemoryInfo", nvml.DeviceGetMemoryInfo, missing);
  if (!ok) {
    out.reason = "libnvidia-ml.so.1 lacks " + missing;
    return out;
  }
  std::string unused;
  Resolve(h, "nvmlErrorString", nvml.ErrorString, unused);
  Resolve(h, "nvmlDeviceGetMaxClockInfo", nvml.DeviceGetMaxClockInfo, unused);
  Resolve(h, "nvmlDeviceGetNumGpuCores", nvml.DeviceGetNumGpuCores, unused);
  Resolve(h, "nvmlDeviceGetMemoryBusWidth", nvml.DeviceGetMemoryBusWidth, unused);
  const bool per_process = Resolve(h, "nvmlDeviceGetComputeRunningProcesses_v3",
                                   nvml.DeviceGetComputeRunningProcesses, unused);
  if (nvmlReturn_t rc = nvml.Init(); rc != 0) {
    out.reason = "NVML did not start: " + ErrorText(nvml, rc);
    return out;
  }
  nvmlDevice_t device = nullptr;
  nvmlMemory_t memory{};
  if (nvmlReturn_t rc = nvml.DeviceGetHandleByIndex(device_index, &device); rc != 0) {
    out.reason = "NVML has no GPU " + std::to_string(device_index) + ": " + ErrorText(nvml, rc);
  } else if (rc = nvml.DeviceGetMemoryInfo(device, &memory); rc != 0) {
    out.reason = "NVML could not read GPU memory: " + ErrorText(nvml, rc);
  } else {
    out.gpu_used_bytes = static_cast<int64_t>(memory.used);
    out.gpu_total_bytes = static_cast<int64_t>(memory.total);
    out.process_reason = "this driver's NVML has no per-process memory query";
    if (per_process) {
      std::vector<ProcessInfo> procs(64);
      unsigned count = static_cast<unsigned>(procs.size());
      rc = nvml.DeviceGetComputeRunningProcesses(device, &count, procs.data());
      if (rc != 0) {
        out.process_reason = "NVML could not list GPU processes: " + ErrorText(nvml, rc);
      } else {
        out.process_reason = "NVML does not list this process (pid " + std::to_string(getpid()) +
                             ") among the GPU's processes (a sandbox's pid namespace?)";
        for (unsigned i = 0; i < count && i < procs.size(); ++i)
          if (procs[i].pid == static_cast<unsigned>(getpid())) {
            out.process_bytes = static_cast<int64_t>(procs[i].used_gpu_memory);
            out.process_reason.clear();
          }
      }
    }
  }
  nvml.Shutdown();
  return out;
}

}  // namespace ipfs_accel::hw
